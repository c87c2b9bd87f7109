/*
 * sg_kmsg.c - kernel facts about message queues (see sg_kmsg.h).
 */
#define _GNU_SOURCE
#include "sg_kmsg.h"
#include "sg_pidns.h"
#include "sg_kipc.h"
#include "sg_proc.h"
#include "sg_real.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

_Static_assert(offsetof(struct sg_kmsg, key) == offsetof(struct sg_kipc_head, key) &&
                   offsetof(struct sg_kmsg, id) == offsetof(struct sg_kipc_head, id),
               "an entry begins with the key and the id (sg_kipc.h)");

static int msg_info_max(uint64_t *used)
{
    struct msginfo info;
    memset(&info, 0, sizeof info);
    int max = real_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&info);
    *used = (uint64_t)info.msgpool; /* MSG_INFO: queues in use */
    return max;
}

static int msg_stat_any(int idx, void *ds) { return real_msgctl(idx, MSG_STAT_ANY, ds); }

static int msg_stat(int id, void *ds) { return real_msgctl(id, IPC_STAT, ds); }

static void msg_from_ds(void *entry, int id, const void *p)
{
    const struct msqid_ds *ds = p;
    *(struct sg_kmsg *)entry = (struct sg_kmsg){
        .key = ds->msg_perm.__key, .id = id, .mode = ds->msg_perm.mode & 0777,
        .uid = ds->msg_perm.uid, .gid = ds->msg_perm.gid, .cuid = ds->msg_perm.cuid,
        .cgid = ds->msg_perm.cgid, .cbytes = ds->__msg_cbytes, .qnum = ds->msg_qnum,
        .qbytes = ds->msg_qbytes, .lspid = ds->msg_lspid, .lrpid = ds->msg_lrpid,
        .stime = ds->msg_stime, .rtime = ds->msg_rtime, .ctime = ds->msg_ctime,
    };
}

/* key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime
 * ctime (no byte limit: qbytes stays 0) */
static void msg_from_proc(void *entry, const long long *v, int n)
{
    (void)n;
    *(struct sg_kmsg *)entry = (struct sg_kmsg){
        .key = (int32_t)v[0], .id = (int32_t)v[1], .mode = (uint32_t)v[2] & 0777,
        .cbytes = (uint64_t)v[3], .qnum = (uint64_t)v[4], .lspid = (int32_t)v[5],
        .lrpid = (int32_t)v[6], .uid = (uint32_t)v[7], .gid = (uint32_t)v[8],
        .cuid = (uint32_t)v[9], .cgid = (uint32_t)v[10], .stime = v[11], .rtime = v[12],
        .ctime = v[13],
    };
}

const struct sg_kipc_kind sg_kipc_msg = {
    sizeof(struct sg_kmsg), msg_info_max, msg_stat_any, msg_stat, msg_from_ds,
    "/proc/sysvipc/msg", 14, 14, msg_from_proc,
};

int sg_kmsgsnap_read(struct sg_kmsgsnap *s)
{
    void *v;
    int rc = sg_kipc_read(&sg_kipc_msg, &v, &s->n);
    s->v = v;
    return rc;
}

const struct sg_kmsg *sg_kmsgsnap_find(const struct sg_kmsgsnap *s, int id)
{
    return sg_kipc_find(s->v, s->n, sizeof *s->v, id);
}

int sg_kmsg_stat(int id, struct sg_kmsg *k) { return sg_kipc_stat(&sg_kipc_msg, id, k); }

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
