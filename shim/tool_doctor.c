/*
 * tool_doctor.c - `shmguard doctor`: usage against every limit, what would fail next, orphans.
 */
#define _GNU_SOURCE
#include "tool.h"

int cmd_doctor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "%s: doctor: not implemented yet\n", sg_prog);
    return SG_EXIT_FAILURE;
}
