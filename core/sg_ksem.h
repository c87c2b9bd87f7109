/*
 * sg_ksem.h - what the kernel says about System V semaphore sets.
 *
 * The counterpart of sg_kernel.h for semget/semctl.  A set has no attach
 * count and the kernel keeps no creator pid for it: what it does keep is
 * the key, owner and creator uids, the number of semaphores, the time of
 * the last semop (otime) and of the last change (ctime), and per semaphore
 * the pid of the last process that changed it (GETPID).  Everything here
 * calls real_* functions or reads /proc/sysvipc/sem.
 */
#ifndef SG_KSEM_H
#define SG_KSEM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include "sg_layout.h"
#include "sg_kipc.h"

/* One semaphore set. */
struct sg_ksem {
    int32_t key;
    int32_t id;
    uint32_t mode;          /* permission bits */
    uint32_t nsems;
    uint32_t uid, gid, cuid, cgid;
    int64_t otime, ctime;   /* seconds; otime 0: no semop yet */
};

struct sg_ksemsnap {
    struct sg_ksem *v;      /* sorted by id */
    size_t n;
};

/* How the kernel's table of semaphore sets is read (sg_kipc.h); tests read it
 * both ways with it. */
extern const struct sg_kipc_kind sg_kipc_sem;

/* Read the kernel's list of sets (SEM_STAT_ANY, else /proc/sysvipc/sem).
 * 0 on success, -1 with errno.  Free with sg_ksemsnap_free(). */
int sg_ksemsnap_read(struct sg_ksemsnap *s);
void sg_ksemsnap_free(struct sg_ksemsnap *s);
const struct sg_ksem *sg_ksemsnap_find(const struct sg_ksemsnap *s, int id);

/* 1 if the ledger record rec describes the kernel's set k (NULL: 0).
 * Set ids are reused and the kernel keeps no creator pid: the key, the
 * creator uid and the number of semaphores, fixed for a set's life,
 * must all match. */
static inline int sg_ksem_is(const struct sg_ksem *k, const struct sg_seg *rec)
{
    return k && rec && rec->kind == SG_KIND_SEM && k->key == rec->key &&
           k->cuid == rec->kcuid && k->nsems == rec->nsems;
}

/* IPC_STAT of set id into *k, falling back to SEM_STAT_ANY without read
 * permission.  0 on success; -1 with errno (EINVAL/EIDRM: no such set). */
int sg_ksem_stat(int id, struct sg_ksem *k);

/* Semaphore limits (kernel.sem) and usage of this IPC namespace. */
struct sg_semlimits {
    uint64_t semmsl;        /* semaphores per set */
    uint64_t semmns;        /* semaphores in all sets */
    uint64_t semopm;        /* operations per semop */
    uint64_t semmni;        /* sets */
    uint64_t used_sets;
    uint64_t used_sems;
};
/* 0 on success, -1 with errno. */
int sg_semlimits_read(struct sg_semlimits *l);

/* Could a process still alive be using set k, as far as the kernel can
 * tell?  For each semaphore, GETPID names the last process that changed
 * it; such a process that is alive and started no later than the set's
 * last change (otime or ctime) may be a user the ledger never saw.
 * Returns that pid, 0 if none, -1 if it cannot be told (no read
 * permission, no /proc). */
int sg_ksem_lastop_alive(const struct sg_ksem *k);

#endif
