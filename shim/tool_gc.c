/*
 * tool_gc.c - `shmguard gc`: remove segments that are provably unused.
 */
#define _GNU_SOURCE
#include "tool.h"

int cmd_gc(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "%s: gc: not implemented yet\n", sg_prog);
    return SG_EXIT_FAILURE;
}
