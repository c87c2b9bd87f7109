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
#include <sys/stat.h>
#include <fcntl.h>
#include <elf.h>
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

/* The file execvp would run for cmd (PATH searched when cmd has no
 * slash) into buf; 0, or -1 when none is found. */
static int resolve(const char *cmd, char *buf, size_t n)
{
    if (strchr(cmd, '/'))
        return snprintf(buf, n, "%s", cmd) < (int)n ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t l = strcspn(path, ":");
        if (snprintf(buf, n, "%.*s/%s", (int)l, l ? path : ".", cmd) < (int)n &&
            access(buf, X_OK) == 0)
            return 0;
        path += l + (path[l] == ':');
    }
    return -1;
}

/* Say so when the library cannot be loaded into cmd: a statically linked
 * program (no dynamic linker reads LD_PRELOAD), or a set-user-ID or
 * set-group-ID one of another owner (secure execution ignores preload
 * paths with a slash). */
static void warn_unobservable(const char *cmd)
{
    char path[PATH_MAX];
    int fd = resolve(cmd, path, sizeof path) == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return;
    struct stat st;
    Elf64_Ehdr eh;
    int dynamic = 0;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
        !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
        eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
        for (unsigned i = 0; i < eh.e_phnum && !dynamic; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
                break;
            dynamic = ph.p_type == PT_INTERP;
        }
        if (!dynamic)
            fprintf(stderr, "%s: run: note: %s is statically linked: the library cannot be loaded "
                            "into it, and nothing it does will be recorded\n",
                    sg_prog, path);
    } else
        dynamic = 1; /* a script, or another format: its interpreter decides */
    if (dynamic && (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
                    ((st.st_mode & S_ISGID) && st.st_gid != getegid())))
        fprintf(stderr, "%s: run: note: %s is set-user-ID or set-group-ID: it runs in secure "
                        "execution, which ignores the library's path; nothing it does will be "
                        "recorded\n",
                sg_prog, path);
    close(fd);
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
    warn_unobservable(argv[optind]);
    fflush(NULL);
    execvp(argv[optind], argv + optind);
    int e = errno;
    fprintf(stderr, "%s: run: failed to execute '%s': %s\n", sg_prog, argv[optind], strerror(e));
    return e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}
