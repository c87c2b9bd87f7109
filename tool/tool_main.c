/*
 * tool_main.c - the shmguard command: subcommand dispatch, --help and
 * --version.  Everything the subcommands share is in tool_util.c, so that
 * tests and the fuzz target can link the subcommands without this main().
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_real.h"

#include <string.h>

#ifndef SG_VERSION
#define SG_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s <command> [options]\n"
            "\n"
            "See and manage System V shared memory with its owners.\n"
            "\n"
            "Commands:\n"
            " ls          list every segment with its owner, attachers and state\n"
            " doctor      usage against every limit, what fails next, orphans\n"
            " gc          remove segments that are provably unused\n"
            " run         run a command with the library preloaded\n"
            " check       run a command (a test suite) and report the segments it leaked\n"
            " ledger      print what the ledger recorded (creators, attachers, pending removals)\n"
            " enable      preload the library into a systemd service, and free its own\n"
            "             orphans before each start (a drop-in)\n"
            " disable     remove that drop-in\n"            "\n"
            "Options:\n"
            " -h, --help     display this help\n"
            " -V, --version  display version\n"
            "\n"
            "Run '%s <command> --help' for the options of a command.\n"
            "For more details see shmguard(1).\n",
            sg_prog, sg_prog);
}

int main(int argc, char **argv)
{
    sg_real_bind();
    if (argc < 2) {
        tool_usage_error("no command given");
        return SG_EXIT_FAILURE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return SG_EXIT_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("%s from shmguard %s\n", sg_prog, SG_VERSION);
        return SG_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "ls", cmd_ls }, { "doctor", cmd_doctor }, { "gc", cmd_gc },
        { "run", cmd_run }, { "check", cmd_check }, { "ledger", cmd_ledger },
        { "enable", cmd_enable }, { "disable", cmd_enable },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    tool_usage_error("unknown command '%s'", cmd);
    return SG_EXIT_FAILURE;
}
