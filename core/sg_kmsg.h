/*
 * sg_kmsg.h - what the kernel says about System V message queues.
 *
 * The counterpart of sg_ksem.h for msgget/msgctl.  A queue has no attach
 * count and the kernel keeps no creator pid for it: what it keeps is the
 * key, owner and creator uids, the messages and bytes it holds, its byte
 * limit (msg_qbytes), and the pids and times of the last msgsnd and the
 * last msgrcv.  Read by the tool, and by the library (its records of
 * queues, sg_msg.c, and its diagnosis of a failed msgget, sg_diag_msg.c);
 * every call goes through real_msgctl.
 */
#ifndef SG_KMSG_H
#define SG_KMSG_H

#include <stddef.h>
#include <stdint.h>

#include "sg_layout.h"
#include "sg_kipc.h"

/* One message queue. */
struct sg_kmsg {
    int32_t key;
    int32_t id;
    uint32_t mode;          /* permission bits */
    uint32_t uid, gid, cuid, cgid;
    uint64_t cbytes;        /* bytes in the queue now */
    uint64_t qnum;          /* messages in the queue now */
    uint64_t qbytes;        /* its byte limit (0: unknown, from /proc) */
    int32_t lspid, lrpid;   /* last msgsnd, last msgrcv (0: none yet) */
    int64_t stime, rtime, ctime; /* seconds; 0: never */
};

struct sg_kmsgsnap {
    struct sg_kmsg *v;      /* sorted by id */
    size_t n;
};

/* How the kernel's table of message queues is read (sg_kipc.h); tests read it
 * both ways with it. */
extern const struct sg_kipc_kind sg_kipc_msg;

/* Read the kernel's list of queues (MSG_STAT_ANY, Linux 4.17, else
 * /proc/sysvipc/msg).  0 on success, -1 with errno.  Free with
 * sg_kmsgsnap_free(). */
int sg_kmsgsnap_read(struct sg_kmsgsnap *s);
void sg_kmsgsnap_free(struct sg_kmsgsnap *s);
const struct sg_kmsg *sg_kmsgsnap_find(const struct sg_kmsgsnap *s, int id);

/* 1 if the ledger record rec describes the kernel's queue k (NULL: 0).
 * Queue ids are reused and the kernel keeps no creator pid: the key and
 * the creator uid, fixed for a queue's life, must match. */
static inline int sg_kmsg_is(const struct sg_kmsg *k, const struct sg_seg *rec)
{
    return k && rec && rec->kind == SG_KIND_MSG && k->key == rec->key && k->cuid == rec->kcuid;
}

/* IPC_STAT of queue id into *k, falling back to MSG_STAT_ANY without read
 * permission.  0 on success; -1 with errno (EINVAL/EIDRM: no such queue). */
int sg_kmsg_stat(int id, struct sg_kmsg *k);

/* Message queue limits (kernel.msgmni, msgmax, msgmnb) and usage of this
 * IPC namespace. */
struct sg_msglimits {
    uint64_t msgmni;        /* queues */
    uint64_t msgmax;        /* bytes in one message */
    uint64_t msgmnb;        /* default byte limit of a new queue */
    uint64_t used_queues;
    uint64_t used_msgs;     /* messages in all queues */
    uint64_t used_bytes;    /* bytes in all queues */
};
/* 0 on success, -1 with errno. */
int sg_msglimits_read(struct sg_msglimits *l);

/* The pid of a live process that sent to or received from queue k last
 * (started before that send or receive, give or take 2 s of rounding: a
 * reused pid does not count); 0 if none; -1 if that cannot be told: no
 * /proc, a /proc of another pid namespace, or a sender or receiver the
 * kernel names 0 (in a pid namespace not visible from this one). */
int sg_kmsg_last_alive(const struct sg_kmsg *k);

#endif
