/*
 * sg_ledger_dir.h - which ledger files of a directory a reader reads, and
 * in which order.
 *
 * The ledger directory is shared and world-writable (sticky): any local
 * user may fill it with files.  A reader (the tool, the library's
 * diagnosis) must neither be stalled by them nor have them hide a ledger
 * that matters.  So a file is read only when it is a regular file owned
 * by the uid its name gives (a uid can create files only as itself, so
 * one user contributes at most its own four names), and no larger than
 * any ledger this build creates (the work per file is bounded whatever
 * its header declares).  The files come best first: the reader's own
 * uid's, then those of the uids that own or created System V objects in
 * the namespace, then the others, at most SG_LEDGER_OTHERS_MAX of those.
 */
#ifndef SG_LEDGER_DIR_H
#define SG_LEDGER_DIR_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sg_ledger.h"

#define SG_LEDGER_OTHERS_MAX 64

struct sg_ledger_file {
    char path[PATH_MAX];
    uid_t uid;
    int rank;                   /* 0 the reader's uid, 1 an owner or creator
                                 * of IPC objects here, 2 another uid */
};

struct sg_ledger_files {
    struct sg_ledger_file *v;   /* best first */
    size_t n;
    size_t foreign;             /* not a regular file of the uid its name gives */
    size_t too_large;           /* larger than any ledger this build creates */
    size_t over_cap;            /* beyond SG_LEDGER_OTHERS_MAX files of other uids */
};

/* List the ledger files of namespace ns in dir (see above); want holds
 * the uids that own or created IPC objects (n_want of them).  0 on
 * success; -1 with errno when dir cannot be opened (ENOENT: it does not
 * exist).  Free with sg_ledger_files_free. */
int sg_ledger_files_list(struct sg_ledger_files *f, const char *dir, uint64_t ns,
                         const uid_t *want, size_t n_want);
void sg_ledger_files_free(struct sg_ledger_files *f);

/* One line saying what was passed over and why, into buf; 0 when nothing
 * was (buf then ""). */
int sg_ledger_files_note(const struct sg_ledger_files *f, const char *dir, char *buf, size_t n);

/* The System V objects of this IPC namespace, segments and semaphore
 * sets, as a reader looks their records up (sg_ledger_load_objects), and
 * the uids that own or created one. */
struct sg_ipc_objs {
    struct sg_objref *ref;
    size_t n_ref;
    uid_t *uid;
    size_t n_uid;
};
/* Fill *o from the kernel's lists (empty when unreadable; never fails
 * but for memory, when what fit is kept). */
void sg_ipc_objs_read(struct sg_ipc_objs *o);
void sg_ipc_objs_free(struct sg_ipc_objs *o);

/* Load the ledgers of namespace ns in dir that a reader reads
 * (sg_ledger_files_list: which, best first): all in full when whole;
 * otherwise the reader's own uid's in full and the others by lookup of
 * the objects that exist (sg_ledger_load_objects: bounded work for files
 * anyone may plant).  skip: a path not to load (already mapped by the
 * caller), or NULL.  Appends to *v, *n (grown with realloc; the caller
 * closes each with sg_ledger_close and frees *v); calls note(ctx, text)
 * once for what the listing passed over and once per file that could
 * not be read.  0 on success, also when some files were unreadable; -1
 * with errno when dir cannot be listed (ENOENT: it does not exist).  The
 * one loader of the ledger set, for the analysis (sg_view_build) and the
 * tool's `ledger` command. */
int sg_ledgers_load(const char *dir, uint64_t ns, const char *skip, int whole,
                    struct sg_ledger **v, size_t *n, void (*note)(void *ctx, const char *text),
                    void *ctx);

#endif
