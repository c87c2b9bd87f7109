/*
 * tool_ls.c - `shmguard ls`: every segment with its owner, attachers and state.
 */
#define _GNU_SOURCE
#include "tool.h"

int cmd_ls(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "%s: ls: not implemented yet\n", sg_prog);
    return SG_EXIT_FAILURE;
}
