/*
 * sg_ledger_dir.c - choose and order the ledger files a reader reads (see
 * sg_ledger_dir.h).
 */
#define _GNU_SOURCE
#include "sg_ledger_dir.h"
#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"
#include "sg_layout.h"
#include "sg_ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The uid a ledger name gives ("ipc-NS.uid-U.ledger" or
 * "ipc-NS.uid-U.A.ledger", A 1..3, as sg_ledger_name makes them); -1 if
 * it is no such name. */
static long name_uid(const char *name, uint64_t ns)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ipc-%" PRIu64 ".uid-", ns);
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return -1;
    const char *p = name + pl;
    char *end;
    errno = 0;
    unsigned long u = strtoul(p, &end, 10);
    if (end == p || *p == '-' || *p == '+' || errno || u > UINT32_MAX)
        return -1;
    if (*end == '.' && end[1] >= '1' && end[1] <= '3')
        end += 2;
    return strcmp(end, ".ledger") == 0 ? (long)u : -1;
}

static int wanted(uid_t u, const uid_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (want[i] == u)
            return 1;
    return 0;
}

struct cand {
    struct sg_ledger_file f;
};

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->f.rank != y->f.rank)
        return x->f.rank - y->f.rank;
    if (x->f.uid != y->f.uid)
        return x->f.uid < y->f.uid ? -1 : 1;
    return strcmp(x->f.path, y->f.path);
}

int sg_ledger_files_list(struct sg_ledger_files *f, const char *dir, uint64_t ns,
                         const uid_t *want, size_t n_want)
{
    memset(f, 0, sizeof *f);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -1;
    }
    uint64_t biggest = sg_layout_file_size(SG_SEG_CAP_DEFAULT, SG_ATT_CAP_DEFAULT,
                                           SG_INTENT_CAP_DEFAULT, SG_PEND_CAP_DEFAULT);
    uid_t me = geteuid();
    struct cand *c = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long u = name_uid(de->d_name, ns);
        if (u < 0)
            continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (!S_ISREG(st.st_mode) || st.st_uid != (uid_t)u) {
            f->foreign++;
            continue;
        }
        if ((uint64_t)st.st_size > biggest) {
            f->too_large++;
            continue;
        }
        int rank = (uid_t)u == me ? 0 : wanted((uid_t)u, want, n_want) ? 1 : 2;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct cand *nc = realloc(c, cap * sizeof *c);
            if (!nc)
                break;
            c = nc;
        }
        snprintf(c[n].f.path, sizeof c[n].f.path, "%s/%s", dir, de->d_name);
        c[n].f.uid = (uid_t)u;
        c[n].f.rank = rank;
        n++;
    }
    closedir(d);
    if (n)
        qsort(c, n, sizeof *c, cmp_cand);
    f->v = calloc(n ? n : 1, sizeof *f->v);
    if (!f->v) {
        free(c);
        errno = ENOMEM;
        return -1;
    }
    size_t kept_others = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].f.rank == 2 && kept_others++ >= SG_LEDGER_OTHERS_MAX) {
            f->over_cap++;
            continue;
        }
        f->v[f->n++] = c[i].f;
    }
    free(c);
    return 0;
}

void sg_ledger_files_free(struct sg_ledger_files *f)
{
    free(f->v);
    memset(f, 0, sizeof *f);
}

int sg_ledger_files_note(const struct sg_ledger_files *f, const char *dir, char *buf, size_t n)
{
    buf[0] = '\0';
    if (!f->foreign && !f->too_large && !f->over_cap)
        return 0;
    snprintf(buf, n,
             "%s: not read: %zu file%s not owned by the uid its name gives, %zu larger than "
             "any ledger this build makes, %zu beyond the %d of uids that own no IPC object here",
             dir, f->foreign, f->foreign == 1 ? "" : "s", f->too_large, f->over_cap,
             SG_LEDGER_OTHERS_MAX);
    return 1;
}

static void add_uid(struct sg_ipc_objs *o, size_t *cap, uid_t u)
{
    for (size_t i = 0; i < o->n_uid; i++)
        if (o->uid[i] == u)
            return;
    if (o->n_uid == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        uid_t *nv = realloc(o->uid, nc * sizeof *nv);
        if (!nv)
            return;
        o->uid = nv;
        *cap = nc;
    }
    o->uid[o->n_uid++] = u;
}

static void add_obj(struct sg_ipc_objs *o, size_t *cap, size_t *ucap, uint32_t kind, int32_t id,
                    uid_t uid, uid_t cuid)
{
    if (o->n_ref == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        struct sg_objref *nv = realloc(o->ref, nc * sizeof *nv);
        if (!nv)
            return;
        o->ref = nv;
        *cap = nc;
    }
    o->ref[o->n_ref++] = (struct sg_objref){ kind, id };
    add_uid(o, ucap, uid);
    add_uid(o, ucap, cuid);
}

void sg_ipc_objs_read(struct sg_ipc_objs *o)
{
    memset(o, 0, sizeof *o);
    size_t cap = 0, ucap = 0;
    struct sg_ksnap ks;
    if (sg_ksnap_read(&ks) == 0) {
        for (size_t i = 0; i < ks.n; i++)
            add_obj(o, &cap, &ucap, SG_KIND_SHM, ks.v[i].id, ks.v[i].uid, ks.v[i].cuid);
        sg_ksnap_free(&ks);
    }
    struct sg_ksemsnap ss;
    if (sg_ksemsnap_read(&ss) == 0) {
        for (size_t i = 0; i < ss.n; i++)
            add_obj(o, &cap, &ucap, SG_KIND_SEM, ss.v[i].id, ss.v[i].uid, ss.v[i].cuid);
        sg_ksemsnap_free(&ss);
    }
    struct sg_kmsgsnap ms;
    if (sg_kmsgsnap_read(&ms) == 0) {
        for (size_t i = 0; i < ms.n; i++)
            add_obj(o, &cap, &ucap, SG_KIND_MSG, ms.v[i].id, ms.v[i].uid, ms.v[i].cuid);
        sg_kmsgsnap_free(&ms);
    }
}

void sg_ipc_objs_free(struct sg_ipc_objs *o)
{
    free(o->ref);
    free(o->uid);
    memset(o, 0, sizeof *o);
}

int sg_ledgers_load(const char *dir, uint64_t ns, const char *skip, int whole,
                    struct sg_ledger **v, size_t *n, void (*note)(void *ctx, const char *text),
                    void *ctx)
{
    struct sg_ipc_objs objs;
    sg_ipc_objs_read(&objs);
    struct sg_ledger_files files;
    if (sg_ledger_files_list(&files, dir, ns, objs.uid, objs.n_uid) != 0) {
        int e = errno;
        sg_ipc_objs_free(&objs);
        errno = e;
        return -1;
    }
    char text[600];
    if (sg_ledger_files_note(&files, dir, text, sizeof text))
        note(ctx, text);
    for (size_t i = 0; i < files.n; i++) {
        const char *path = files.v[i].path;
        if (skip && !strcmp(path, skip))
            continue;
        char err[512];
        struct sg_ledger L;
        int rc = whole || files.v[i].rank == 0
                     ? sg_ledger_load(&L, path, ns, err, sizeof err)
                     : sg_ledger_load_objects(&L, path, ns, objs.ref, objs.n_ref, err, sizeof err);
        if (rc != 0) {
            note(ctx, err);
            continue;
        }
        struct sg_ledger *nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv) {
            sg_ledger_close(&L);
            break;
        }
        *v = nv;
        (*v)[(*n)++] = L;
    }
    sg_ledger_files_free(&files);
    sg_ipc_objs_free(&objs);
    return 0;
}
