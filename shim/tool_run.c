/*
 * tool_run.c - `shmguard run`: run a command with the library preloaded.
 *
 * The library is looked for next to the shmguard binary (a build
 * directory) and then in ../lib relative to it (PREFIX/bin and PREFIX/lib
 * after `make install`).  It is appended to whatever LD_PRELOAD the user
 * already has, and the command replaces this process (execvp), so its
 * exit status, signals and pid are the command's own.
 */
#define _GNU_SOURCE
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_EXIT_CANNOT_EXEC 126   /* the command was found but could not run */
#define RUN_EXIT_NOT_FOUND 127     /* the command was not found */

static void run_usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s run [options] [--] <command> [<argument>...]\n"
            "\n"
            "Run a command with libshmguard.so preloaded (added to LD_PRELOAD, after\n"
            "any library already there).  The command replaces shmguard: its exit\n"
            "status is the command's own.\n"
            "\n"
            "Options:\n"
            "     --mode <mode>      off, observe or defer (sets SHMGUARD_MODE; default: defer)\n"
            "     --ledger <dir>     ledger directory (sets SHMGUARD_LEDGER)\n"
            "\n"
            " -h, --help             display this help\n"
            " -V, --version          display version\n"
            "\n"
            "The library is looked for next to the shmguard program, then in ../lib\n"
            "relative to it (the installed layout, PREFIX/bin and PREFIX/lib).\n"
            "\n"
            "Exit status:\n"
            " the command's exit status, or\n"
            " 1    bad usage, or the library was not found\n"
            " 126  the command was found but could not be run\n"
            " 127  the command was not found\n"
            "\n"
            "For more details see shmguard(1).\n",
            sg_prog);
}

int cmd_run(int argc, char **argv)
{
    enum { OPT_MODE = 256, OPT_LEDGER };
    static const struct option opts[] = {
        { "mode", required_argument, NULL, OPT_MODE }, { "ledger", required_argument, NULL, OPT_LEDGER },
        { "help", no_argument, NULL, 'h' },           { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *mode = NULL, *ledger = NULL;
    int c;
    optind = 1;
    opterr = 0;
    /* "+": options end at the command, whose own options are its own. */
    while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
        switch (c) {
        case OPT_MODE:
            if (strcmp(optarg, "off") && strcmp(optarg, "observe") && strcmp(optarg, "defer")) {
                tool_cmd_usage_error("run", "invalid --mode '%s': use off, observe or defer", optarg);
                return SG_EXIT_FAILURE;
            }
            mode = optarg;
            break;
        case OPT_LEDGER:
            if (!optarg[0]) {
                tool_cmd_usage_error("run", "empty ledger directory");
                return SG_EXIT_FAILURE;
            }
            ledger = optarg;
            break;
        case 'h': run_usage(stdout); return SG_EXIT_OK;
        case 'V': tool_print_version(); return SG_EXIT_OK;
        default: tool_getopt_error("run", c, argv); return SG_EXIT_FAILURE;
        }
    }
    if (optind >= argc) {
        tool_cmd_usage_error("run", "no command given");
        return SG_EXIT_FAILURE;
    }

    if (tool_preload_env("run", 1, mode, ledger) != 0)
        return SG_EXIT_FAILURE;
    fflush(NULL);
    execvp(argv[optind], argv + optind);
    int e = errno;
    fprintf(stderr, "%s: run: failed to execute '%s': %s\n", sg_prog, argv[optind], strerror(e));
    return e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}
