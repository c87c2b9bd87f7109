/*
 * sg_kernel.h - what the kernel says about System V shared memory.
 *
 * The kernel is the truth; the ledger adds only what the kernel forgets.
 * Everything here calls real_* functions (never the hooks) or reads
 * /proc/sysvipc/shm and /proc/sys/kernel.
 */
#ifndef SG_KERNEL_H
#define SG_KERNEL_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "sg_layout.h"
#include "sg_kipc.h"
#include "sg_pidns.h"

/* One line of /proc/sysvipc/shm. */
struct sg_kseg {
    int32_t key;
    int32_t id;
    uint32_t mode;          /* perms incl. SHM_DEST (01000), SHM_LOCKED */
    uint64_t size;
    int32_t cpid, lpid;
    uint64_t nattch;
    uint32_t uid, gid, cuid, cgid;
    int64_t atime, dtime, ctime;
    uint64_t rss, swap;
};

struct sg_ksnap {
    struct sg_kseg *v;      /* sorted by id */
    size_t n;
};

/* How the kernel's table of segments is read (sg_kipc.h); tests read it
 * both ways with it. */
extern const struct sg_kipc_kind sg_kipc_shm;

/* Read the kernel's list of segments: through SHM_STAT_ANY where the
 * kernel has it (no read permission needed, like /proc), else from
 * /proc/sysvipc/shm (rss and swap are only filled from /proc).  0 on
 * success, -1 with errno on failure.  Free with sg_ksnap_free(). */
int sg_ksnap_read(struct sg_ksnap *s);
void sg_ksnap_free(struct sg_ksnap *s);
/* The entry for id, or NULL. */
const struct sg_kseg *sg_ksnap_find(const struct sg_ksnap *s, int id);

/* 1 if the ledger record rec describes the kernel's segment k (NULL: 0).
 * Ids are reused: the kernel's creator uid must match too, and its
 * creator pid, which the kernel gives in the reader's own pid namespace:
 * comparable only with one read in the same (else key and size). */
static inline int sg_kseg_is(const struct sg_kseg *k, const struct sg_seg *rec)
{
    if (!k || !rec || k->cuid != rec->kcuid)
        return 0;
    if (!rec->kc_pidns || rec->kc_pidns == sg_pidns_self())
        return k->cpid == rec->kcpid;
    return k->key == rec->key && k->size == rec->size;
}

/* IPC_STAT of id, falling back to SHM_STAT_ANY when the caller lacks read
 * permission.  0 on success; -1 with errno EINVAL/EIDRM when the id does
 * not name a segment (any more). */
int sg_kernel_stat(int id, struct shmid_ds *ds);

/* 1 if the calling process would be allowed IPC_RMID/IPC_SET on a segment
 * with these permissions (euid is uid or cuid, or CAP_SYS_ADMIN), else 0. */
int sg_kernel_may_remove(const struct ipc_perm *perm);

/* Inode number of this process's IPC namespace, 0 if unknown. */
uint64_t sg_ipcns_ino(void);

/* The value to suggest for an id-count limit (kernel.shmmni, SEMMNI)
 * that is exhausted: twice the larger of the limit and what is in use, at
 * least 16, at most the kernel's ceiling (IPCMNI, 32768, or 2^24 when
 * booted with ipcmni_extend).  0 when the limit is at the ceiling already:
 * only removing objects helps.  *ceiling gets the ceiling (may be NULL). */
uint64_t sg_ipcmni_raise(uint64_t limit, uint64_t used, uint64_t *ceiling);

#endif
