/*
 * tool_run.c - `shmguard run`: run a command with the library preloaded.
 */
#define _GNU_SOURCE
#include "tool.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "%s: run: not implemented yet\n", sg_prog);
    return SG_EXIT_FAILURE;
}
