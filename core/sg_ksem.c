/*
 * sg_ksem.c - kernel facts about semaphore sets (see sg_ksem.h).
 */
#define _GNU_SOURCE
#include "sg_ksem.h"
#include "sg_pidns.h"
#include "sg_kernel.h"
#include "sg_proc.h"
#include "sg_real.h"
#include "sg_vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_id(const void *a, const void *b)
{
    const struct sg_ksem *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int push(struct sg_ksemsnap *s, size_t *cap, const struct sg_ksem *k)
{
    void *v = s->v;
    if (sg_grow(&v, cap, s->n, sizeof *k, 32) != 0)
        return -1;
    s->v = v;
    s->v[s->n++] = *k;
    return 0;
}

static void from_ds(struct sg_ksem *k, int id, const struct semid_ds *ds)
{
    memset(k, 0, sizeof *k);
    k->key = ds->sem_perm.__key;
    k->id = id;
    k->mode = ds->sem_perm.mode & 0777;
    k->nsems = (uint32_t)ds->sem_nsems;
    k->uid = ds->sem_perm.uid;
    k->gid = ds->sem_perm.gid;
    k->cuid = ds->sem_perm.cuid;
    k->cgid = ds->sem_perm.cgid;
    k->otime = ds->sem_otime;
    k->ctime = ds->sem_ctime;
}

/* Through SEM_STAT_ANY, one call per used index.  1 done, 0 unsupported. */
static int snap_stat_any(struct sg_ksemsnap *s)
{
    struct seminfo info;
    memset(&info, 0, sizeof info);
    union sg_semun a = { .__buf = &info };
    int max = real_semctl(0, 0, SEM_INFO, a);
    if (max < 0)
        return 0;
    size_t cap = 0;
    for (int idx = 0; idx <= max; idx++) {
        struct semid_ds ds;
        memset(&ds, 0, sizeof ds);
        union sg_semun b = { .buf = &ds };
        int id = real_semctl(idx, 0, SEM_STAT_ANY, b);
        if (id < 0) {
            if (errno == EINVAL || errno == EIDRM)
                continue;
            sg_ksemsnap_free(s);
            return 0;
        }
        struct sg_ksem k;
        from_ds(&k, id, &ds);
        if (push(s, &cap, &k) != 0) {
            sg_ksemsnap_free(s);
            return 0;
        }
    }
    return 1;
}

static int snap_proc(struct sg_ksemsnap *s)
{
    FILE *f = fopen("/proc/sysvipc/sem", "re");
    if (!f)
        return -1;
    size_t cap = 0;
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        long long key, id, nsems, uid, gid, cuid, cgid, otime, ctime;
        unsigned perms;
        if (sscanf(line, "%lld %lld %o %lld %lld %lld %lld %lld %lld %lld", &key, &id, &perms,
                   &nsems, &uid, &gid, &cuid, &cgid, &otime, &ctime) != 10)
            continue;
        struct sg_ksem k = {
            .key = (int32_t)key, .id = (int32_t)id, .mode = perms & 0777,
            .nsems = (uint32_t)nsems, .uid = (uint32_t)uid, .gid = (uint32_t)gid,
            .cuid = (uint32_t)cuid, .cgid = (uint32_t)cgid, .otime = otime, .ctime = ctime,
        };
        if (push(s, &cap, &k) != 0) {
            fclose(f);
            sg_ksemsnap_free(s);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int sg_ksemsnap_read(struct sg_ksemsnap *s)
{
    s->v = NULL;
    s->n = 0;
    if (!snap_stat_any(s) && snap_proc(s) != 0)
        return -1;
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_id);
    return 0;
}

void sg_ksemsnap_free(struct sg_ksemsnap *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

const struct sg_ksem *sg_ksemsnap_find(const struct sg_ksemsnap *s, int id)
{
    struct sg_ksem key = { .id = id };
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, cmp_id) : NULL;
}

static int sem_stat_any(int idx, void *ds)
{
    union sg_semun a = { .buf = ds };
    return real_semctl(idx, 0, SEM_STAT_ANY, a);
}

int sg_ksem_stat(int id, struct sg_ksem *k)
{
    struct semid_ds ds;
    memset(&ds, 0, sizeof ds);
    union sg_semun a = { .buf = &ds };
    if (real_semctl(id, 0, IPC_STAT, a) == 0) {
        from_ds(k, id, &ds);
        return 0;
    }
    if (errno != EACCES)
        return -1;
    if (sg_ipc_stat_any(id, sem_stat_any, &ds) != 0) {
        errno = EACCES; /* there, but not readable here */
        return -1;
    }
    from_ds(k, id, &ds);
    return 0;
}

int sg_semlimits_read(struct sg_semlimits *l)
{
    memset(l, 0, sizeof *l);
    struct seminfo info, use;
    memset(&info, 0, sizeof info);
    memset(&use, 0, sizeof use);
    union sg_semun a = { .__buf = &info }, b = { .__buf = &use };
    if (real_semctl(0, 0, IPC_INFO, a) < 0 || real_semctl(0, 0, SEM_INFO, b) < 0)
        return -1;
    l->semmsl = (uint64_t)info.semmsl;
    l->semmns = (uint64_t)info.semmns;
    l->semopm = (uint64_t)info.semopm;
    l->semmni = (uint64_t)info.semmni;
    l->used_sets = (uint64_t)use.semusz; /* SEM_INFO: sets in use */
    l->used_sems = (uint64_t)use.semaem; /* SEM_INFO: semaphores in use */
    return 0;
}

int sg_ksem_lastop_alive(const struct sg_ksem *k)
{
    if (!sg_pidns_proc_own())
        return -1;
    int64_t last = k->otime > k->ctime ? k->otime : k->ctime;
    union sg_semun none = { .val = 0 };
    int seen = 0;
    for (uint32_t i = 0; i < k->nsems; i++) {
        int pid = real_semctl(k->id, (int)i, GETPID, none);
        if (pid < 0)
            return -1;
        if (pid == 0)
            continue;
        seen = 1;
        uint64_t start = sg_proc_start_time(pid);
        if (start == 0)
            continue; /* gone (or a zombie) */
        int64_t t = sg_proc_start_epoch(start);
        if (t == 0)
            return -1;
        /* Started after the set's last change: a new process on a
         * reused pid, not the one that changed the semaphore. */
        if (t <= last + 2) /* 2 s: start times are rounded (sg_kmsg.c) */
            return pid;
    }
    /* Operated on, yet no semaphore names a pid: the processes that did
     * are in a pid namespace this one cannot see. */
    if (!seen && k->otime)
        return -1;
    return 0;
}
