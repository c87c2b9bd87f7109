/*
 * tool_main.c - the shmguard command: subcommand dispatch, --help,
 * --version, and helpers shared by the subcommands.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_config.h"
#include "sg_real.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef SG_VERSION
#define SG_VERSION "unknown"
#endif

const char *sg_prog = "shmguard";

void tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", sg_prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", sg_prog);
    va_end(ap);
}

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
            "\n"
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
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    tool_usage_error("unknown command '%s'", cmd);
    return SG_EXIT_FAILURE;
}

/* ---- ledger set -------------------------------------------------------- */

int ledger_set_load(struct ledger_set *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir ? dir : sg_config_get()->ledger_dir);
    s->ns = sg_ipcns_ino();
    DIR *d = opendir(s->dir);
    if (!d)
        return errno == ENOENT ? 0 : -1; /* no directory: nothing recorded */
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!sg_ledger_name_matches(de->d_name, s->ns))
            continue;
        char path[8192], err[512];
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        struct sg_ledger L;
        if (sg_ledger_load(&L, path, s->ns, err, sizeof err) != 0) {
            if (s->n_unreadable < 8)
                snprintf(s->unreadable[s->n_unreadable++], sizeof s->unreadable[0], "%s", err);
            continue;
        }
        struct sg_ledger *nv = realloc(s->v, (s->n + 1) * sizeof *nv);
        if (!nv) {
            sg_ledger_close(&L);
            break;
        }
        s->v = nv;
        s->v[s->n++] = L;
    }
    closedir(d);
    return 0;
}

void ledger_set_free(struct ledger_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        sg_ledger_close(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void json_str(FILE *f, const char *s, size_t maxlen)
{
    fputc('"', f);
    for (size_t i = 0; i < maxlen && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}
