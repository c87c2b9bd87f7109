/*
 * sg_ksem.c - kernel facts about semaphore sets (see sg_ksem.h).
 */
#define _GNU_SOURCE
#include "sg_ksem.h"
#include "sg_pidns.h"
#include "sg_kipc.h"
#include "sg_proc.h"
#include "sg_real.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(offsetof(struct sg_ksem, key) == offsetof(struct sg_kipc_head, key) &&
                   offsetof(struct sg_ksem, id) == offsetof(struct sg_kipc_head, id),
               "an entry begins with the key and the id (sg_kipc.h)");

static int sem_info_max(uint64_t *used)
{
    struct seminfo info;
    memset(&info, 0, sizeof info);
    union sg_semun a = { .__buf = &info };
    int max = real_semctl(0, 0, SEM_INFO, a);
    *used = (uint64_t)info.semusz; /* SEM_INFO: sets in use */
    return max;
}

static int sem_stat_any(int idx, void *ds)
{
    union sg_semun a = { .buf = ds };
    return real_semctl(idx, 0, SEM_STAT_ANY, a);
}

static int sem_stat(int id, void *ds)
{
    union sg_semun a = { .buf = ds };
    return real_semctl(id, 0, IPC_STAT, a);
}

static void sem_from_ds(void *entry, int id, const void *p)
{
    const struct semid_ds *ds = p;
    *(struct sg_ksem *)entry = (struct sg_ksem){
        .key = ds->sem_perm.__key, .id = id, .mode = ds->sem_perm.mode & 0777,
        .nsems = (uint32_t)ds->sem_nsems, .uid = ds->sem_perm.uid, .gid = ds->sem_perm.gid,
        .cuid = ds->sem_perm.cuid, .cgid = ds->sem_perm.cgid, .otime = ds->sem_otime,
        .ctime = ds->sem_ctime,
    };
}

/* key semid perms nsems uid gid cuid cgid otime ctime */
static void sem_from_proc(void *entry, const long long *v, int n)
{
    (void)n;
    *(struct sg_ksem *)entry = (struct sg_ksem){
        .key = (int32_t)v[0], .id = (int32_t)v[1], .mode = (uint32_t)v[2] & 0777,
        .nsems = (uint32_t)v[3], .uid = (uint32_t)v[4], .gid = (uint32_t)v[5],
        .cuid = (uint32_t)v[6], .cgid = (uint32_t)v[7], .otime = v[8], .ctime = v[9],
    };
}

const struct sg_kipc_kind sg_kipc_sem = {
    sizeof(struct sg_ksem), sem_info_max, sem_stat_any, sem_stat, sem_from_ds,
    "/proc/sysvipc/sem", 10, 10, sem_from_proc,
};

int sg_ksemsnap_read(struct sg_ksemsnap *s)
{
    void *v;
    int rc = sg_kipc_read(&sg_kipc_sem, &v, &s->n);
    s->v = v;
    return rc;
}

void sg_ksemsnap_free(struct sg_ksemsnap *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

const struct sg_ksem *sg_ksemsnap_find(const struct sg_ksemsnap *s, int id)
{
    return sg_kipc_find(s->v, s->n, sizeof *s->v, id);
}

int sg_ksem_stat(int id, struct sg_ksem *k) { return sg_kipc_stat(&sg_kipc_sem, id, k); }

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
