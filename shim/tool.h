/*
 * tool.h - shared pieces of the shmguard command-line tool.
 */
#ifndef SG_TOOL_H
#define SG_TOOL_H

#include <stdio.h>

#include "sg_kernel.h"
#include "sg_ledger.h"

#define SG_EXIT_OK 0
#define SG_EXIT_FAILURE 1   /* error, or bad usage */

extern const char *sg_prog;

/* Print "shmguard: msg" to stderr, plus a pointer to --help. */
void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* All ledgers of this IPC namespace in one directory. */
struct ledger_set {
    struct sg_ledger *v;
    size_t n;
    char unreadable[8][600];    /* files that could not be read, and why */
    size_t n_unreadable;
    char dir[4096];
    uint64_t ns;
};

/* Load every readable ledger of this namespace from dir (NULL: the
 * configured one).  0 on success, even when some files were unreadable
 * (listed in the set); -1 if the directory itself cannot be read. */
int ledger_set_load(struct ledger_set *s, const char *dir);
void ledger_set_free(struct ledger_set *s);

/* JSON string output with escaping. */
void json_str(FILE *f, const char *s, size_t maxlen);

/* Subcommands: argv[0] is the subcommand's name; return the exit status. */
int cmd_ledger(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
