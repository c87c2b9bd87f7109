/*
 * sg_kmsg.c - kernel facts about message queues (see sg_kmsg.h).
 */
#define _GNU_SOURCE
#include "sg_kmsg.h"
#include "sg_pidns.h"
#include "sg_kernel.h"
#include "sg_proc.h"
#include "sg_real.h"
#include "sg_vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

static int cmp_id(const void *a, const void *b)
{
    const struct sg_kmsg *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int push(struct sg_kmsgsnap *s, size_t *cap, const struct sg_kmsg *k)
{
    void *v = s->v;
    if (sg_grow(&v, cap, s->n, sizeof *k, 32) != 0)
        return -1;
    s->v = v;
    s->v[s->n++] = *k;
    return 0;
}

static void from_ds(struct sg_kmsg *k, int id, const struct msqid_ds *ds)
{
    *k = (struct sg_kmsg){
        .key = ds->msg_perm.__key, .id = id, .mode = ds->msg_perm.mode & 0777,
        .uid = ds->msg_perm.uid, .gid = ds->msg_perm.gid, .cuid = ds->msg_perm.cuid,
        .cgid = ds->msg_perm.cgid, .cbytes = ds->__msg_cbytes, .qnum = ds->msg_qnum,
        .qbytes = ds->msg_qbytes, .lspid = ds->msg_lspid, .lrpid = ds->msg_lrpid,
        .stime = ds->msg_stime, .rtime = ds->msg_rtime, .ctime = ds->msg_ctime,
    };
}

/* Through MSG_STAT_ANY, one call per used index.  1 done, 0 unsupported
 * (before Linux 4.17 every index answers EINVAL: a list that comes out
 * empty while MSG_INFO counts queues is that). */
static int snap_stat_any(struct sg_kmsgsnap *s)
{
    struct msginfo info;
    memset(&info, 0, sizeof info);
    int max = real_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&info);
    if (max < 0)
        return 0;
    size_t cap = 0;
    for (int idx = 0; idx <= max; idx++) {
        struct msqid_ds ds;
        memset(&ds, 0, sizeof ds);
        int id = real_msgctl(idx, MSG_STAT_ANY, &ds);
        if (id < 0) {
            if (errno == EINVAL || errno == EIDRM)
                continue;
            sg_kmsgsnap_free(s);
            return 0;
        }
        struct sg_kmsg k;
        from_ds(&k, id, &ds);
        if (push(s, &cap, &k) != 0) {
            sg_kmsgsnap_free(s);
            return 0;
        }
    }
    return s->n > 0 || info.msgpool == 0;
}

static int snap_proc(struct sg_kmsgsnap *s)
{
    FILE *f = fopen("/proc/sysvipc/msg", "re");
    if (!f)
        return -1;
    size_t cap = 0;
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        long long key, id, cbytes, qnum, lspid, lrpid, uid, gid, cuid, cgid, st, rt, ct;
        unsigned perms;
        if (sscanf(line, "%lld %lld %o %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
                   &key, &id, &perms, &cbytes, &qnum, &lspid, &lrpid, &uid, &gid, &cuid, &cgid,
                   &st, &rt, &ct) != 14)
            continue;
        struct sg_kmsg k = {
            .key = (int32_t)key, .id = (int32_t)id, .mode = perms & 0777,
            .uid = (uint32_t)uid, .gid = (uint32_t)gid, .cuid = (uint32_t)cuid,
            .cgid = (uint32_t)cgid, .cbytes = (uint64_t)cbytes, .qnum = (uint64_t)qnum,
            .lspid = (int32_t)lspid, .lrpid = (int32_t)lrpid, .stime = st, .rtime = rt, .ctime = ct,
        };
        if (push(s, &cap, &k) != 0) {
            fclose(f);
            sg_kmsgsnap_free(s);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int sg_kmsgsnap_read(struct sg_kmsgsnap *s)
{
    s->v = NULL;
    s->n = 0;
    if (!snap_stat_any(s) && snap_proc(s) != 0)
        return -1;
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_id);
    return 0;
}

const struct sg_kmsg *sg_kmsgsnap_find(const struct sg_kmsgsnap *s, int id)
{
    struct sg_kmsg key = { .id = id };
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, cmp_id) : NULL;
}

static int msg_stat_any(int idx, void *ds) { return real_msgctl(idx, MSG_STAT_ANY, ds); }

int sg_kmsg_stat(int id, struct sg_kmsg *k)
{
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (real_msgctl(id, IPC_STAT, &ds) == 0) {
        from_ds(k, id, &ds);
        return 0;
    }
    if (errno != EACCES)
        return -1;
    if (sg_ipc_stat_any(id, msg_stat_any, &ds) != 0) {
        errno = EACCES; /* there, but not readable here */
        return -1;
    }
    from_ds(k, id, &ds);
    return 0;
}

void sg_kmsgsnap_free(struct sg_kmsgsnap *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int sg_msglimits_read(struct sg_msglimits *l)
{
    memset(l, 0, sizeof *l);
    struct msginfo info, use;
    memset(&info, 0, sizeof info);
    memset(&use, 0, sizeof use);
    if (real_msgctl(0, IPC_INFO, (struct msqid_ds *)(void *)&info) < 0 ||
        real_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&use) < 0)
        return -1;
    l->msgmni = (uint64_t)info.msgmni;
    l->msgmax = (uint64_t)info.msgmax;
    l->msgmnb = (uint64_t)info.msgmnb;
    l->used_queues = (uint64_t)use.msgpool; /* MSG_INFO: queues in use */
    l->used_msgs = (uint64_t)use.msgmap;    /* MSG_INFO: messages */
    l->used_bytes = (uint64_t)use.msgtql;   /* MSG_INFO: bytes */
    return 0;
}

/* Seconds of slack between a start time (boot time plus ticks, both
 * rounded) and a send or receive time: a live process is never taken for
 * a newer one on its reused pid; a newer one may be taken for it (alive,
 * the safe side). */
#define START_SLACK_S 2

/* pid, if it is alive and started no later than t (seconds), else 0;
 * -1 when that cannot be told. */
static int alive_since(int pid, int64_t t)
{
    if (pid <= 0)
        return 0;
    uint64_t start = sg_proc_start_time(pid);
    if (start == 0)
        return 0; /* gone (or a zombie) */
    int64_t s = sg_proc_start_epoch(start);
    if (s == 0)
        return -1;
    return s <= t + START_SLACK_S ? pid : 0;
}

int sg_kmsg_last_alive(const struct sg_kmsg *k)
{
    if (!sg_pidns_proc_own())
        return -1;
    /* A send or receive whose pid reads 0: made by a process this pid
     * namespace cannot see (a pod's other namespace, an ancestor). */
    if ((k->stime && k->lspid <= 0) || (k->rtime && k->lrpid <= 0))
        return -1;
    int a = alive_since(k->lspid, k->stime ? k->stime : k->ctime);
    if (a)
        return a;
    return alive_since(k->lrpid, k->rtime ? k->rtime : k->ctime);
}
