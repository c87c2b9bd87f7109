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
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Find libshmguard.so for the running binary.  0 with its absolute path in
 * lib; -1 with the places looked at in tried. */
static int run_find_lib(char *lib, size_t n, char *tried, size_t tn)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(tried, tn, "(cannot read /proc/self/exe: %s)", strerror(errno));
        return -1;
    }
    exe[len] = '\0';
    char *dir = dirname(exe);
    const char *rel[] = { "libshmguard.so", "../lib/libshmguard.so" };
    size_t used = 0;
    tried[0] = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX + 64], real[PATH_MAX];
        struct stat st;
        snprintf(cand, sizeof cand, "%s/%s", dir, rel[i]);
        if (used < tn)
            used += (size_t)snprintf(tried + used, tn - used, "%s%s", i ? " or " : "", cand);
        if (realpath(cand, real) && stat(real, &st) == 0 && S_ISREG(st.st_mode) &&
            access(real, R_OK) == 0 && strlen(real) < n) {
            snprintf(lib, n, "%s", real);
            return 0;
        }
    }
    return -1;
}

/* 1 if the LD_PRELOAD list (separated by spaces or colons) holds lib. */
static int run_preload_has(const char *list, const char *lib)
{
    size_t l = strlen(lib);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " :");
        if (k == l && !strncmp(p, lib, l))
            return 1;
        p += k;
        p += strspn(p, " :");
    }
    return 0;
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

    char lib[PATH_MAX], tried[2 * PATH_MAX + 128];
    if (run_find_lib(lib, sizeof lib, tried, sizeof tried) != 0) {
        fprintf(stderr, "%s: run: cannot find libshmguard.so: looked for %s\n", sg_prog, tried);
        return SG_EXIT_FAILURE;
    }
    if (strpbrk(lib, " :")) {
        fprintf(stderr, "%s: run: the library's path '%s' holds a space or a colon, which LD_PRELOAD "
                        "cannot express\n", sg_prog, lib);
        return SG_EXIT_FAILURE;
    }
    /* The library insists on an absolute ledger directory. */
    char abs_ledger[PATH_MAX];
    if (ledger && ledger[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) ||
            snprintf(abs_ledger, sizeof abs_ledger, "%s/%s", cwd, ledger) >= (int)sizeof abs_ledger) {
            fprintf(stderr, "%s: run: cannot make '%s' an absolute path\n", sg_prog, ledger);
            return SG_EXIT_FAILURE;
        }
        ledger = abs_ledger;
    }
    if (ledger && strlen(ledger) >= PATH_MAX - 64) {
        fprintf(stderr, "%s: run: ledger directory too long: %s\n", sg_prog, ledger);
        return SG_EXIT_FAILURE;
    }

    const char *old = getenv("LD_PRELOAD");
    int ok = 1;
    if (!old || !old[strspn(old, " :")])
        ok = setenv("LD_PRELOAD", lib, 1) == 0;
    else if (!run_preload_has(old, lib)) {
        size_t len = strlen(old) + 1 + strlen(lib) + 1;
        char *v = malloc(len);
        ok = v != NULL;
        if (v) {
            snprintf(v, len, "%s %s", old, lib);
            ok = setenv("LD_PRELOAD", v, 1) == 0;
            free(v);
        }
    }
    if (ok && mode)
        ok = setenv("SHMGUARD_MODE", mode, 1) == 0;
    if (ok && ledger)
        ok = setenv("SHMGUARD_LEDGER", ledger, 1) == 0;
    if (!ok) {
        fprintf(stderr, "%s: run: cannot set the environment: %s\n", sg_prog, strerror(errno));
        return SG_EXIT_FAILURE;
    }
    fflush(NULL);
    execvp(argv[optind], argv + optind);
    int e = errno;
    fprintf(stderr, "%s: run: failed to execute '%s': %s\n", sg_prog, argv[optind], strerror(e));
    return e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}
