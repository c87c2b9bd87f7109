/*
 * sg_use.h - who creates and who uses the System V objects that have no
 * attach count: semaphore sets (sg_sem.c) and message queues (sg_msg.c).
 *
 * The kernel keeps no creator pid and no list of users for either, so
 * the ledger records the creator of each (pid, start time, command, uid,
 * call site) and every process that uses it: looked it up by key,
 * inherited it through fork, or operated on it by id.  That is what lets
 * the tool tell a live set or queue from the orphan of a crashed server.
 * The two kinds differ only in how the kernel is asked about an object
 * (IPC_STAT) and in what identifies it (key and creator uid, and for a
 * set its number of semaphores); everything else is here, once.
 *
 * Each process also keeps a list of the objects of each kind it uses
 * (sg_state.h), so that the check on every semop, msgsnd and msgrcv is a
 * short scan without a lock, and a forked child can be credited with
 * them.  Functions that touch the ledger take sg_local_lock and then the
 * ledger lock themselves (sg_locks.h), unless their comment says the
 * ledger lock is held on entry.
 */
#ifndef SG_USE_H
#define SG_USE_H

#include <stdint.h>
#include <sys/types.h>

#include "sg_layout.h"
#include "sg_state.h"

/* What identifies a set or a queue, from IPC_STAT. */
struct sg_kobj {
    int32_t key, id;
    uint32_t mode, cuid;
    uint32_t nsems;             /* sets only; 0 for a queue */
};

/* The list of kind (SG_KIND_SEM or SG_KIND_MSG). */
static inline struct sg_idlist *sg_use_list(uint32_t kind)
{
    return &sg_st.uses[kind == SG_KIND_MSG];
}

/* The first slot of id in an index (sg_state.h, struct sg_idlist). */
static inline uint32_t sg_idindex_home(int id)
{
    return ((uint32_t)id * 0x9e3779b1u) >> 16; /* SG_ID_INDEX is 2^16 */
}

/* The slot of index ix that holds id, or SG_ID_INDEX if none: its probe
 * from its home to the first empty slot (removed ids do not end it).
 * Lock-free readers see what the lock holder stored with release. */
static inline uint32_t sg_idindex_find(const uint32_t *ix, int id)
{
    uint32_t want = (uint32_t)id + 1, i = sg_idindex_home(id);
    for (uint32_t k = 0; k < SG_ID_INDEX; k++, i = (i + 1) & (SG_ID_INDEX - 1)) {
        uint32_t v = __atomic_load_n(&ix[i], __ATOMIC_ACQUIRE);
        if (v == want)
            return i;
        if (!v)
            break;
    }
    return SG_ID_INDEX;
}

/* 1 if this process's list of kind holds id.  No lock: a short scan of
 * what sg_use_* stored with release order, or past SG_LOCAL_IDS entries
 * a probe of the index. */
static inline int sg_use_has(uint32_t kind, int id)
{
    const struct sg_idlist *l = sg_use_list(kind);
    const uint32_t *ix = __atomic_load_n(&l->index, __ATOMIC_ACQUIRE);
    if (ix)
        return sg_idindex_find(ix, id) < SG_ID_INDEX;
    uint32_t n = __atomic_load_n(&l->n, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        if (__atomic_load_n(sg_idlist_slot((struct sg_idlist *)l, i), __ATOMIC_RELAXED) == id)
            return 1;
    return 0;
}

/* semget or msgget(key, flg) (nsems: semget's) for the hook of kind:
 * through libc, recorded, and a failure diagnosed (sg_diag.h); caller is
 * the call site.  Without a usable ledger, libc's call alone (and its
 * diagnosis unless the mode is off).  Returns libc's result, with libc's
 * errno on failure and the caller's on success. */
int sg_use_getcall(uint32_t kind, key_t key, int nsems, int flg, const void *caller);

/* The first use of object id by this process through an id (semop,
 * msgsnd, ...): record it, before the operation, which may block for
 * long.  Sets sg_in_hook around its work (and puts back what it was);
 * preserves errno.  Called only after sg_use_has said no. */
void sg_use_by_id(uint32_t kind, int id);

/* After IPC_RMID, or an operation by id that failed with EINVAL or
 * EIDRM: when the kernel confirms the object is gone, take id off the
 * list and drop its ledger record and its users. */
void sg_use_forget(uint32_t kind, int id);

/* Objects in this process's lists, both kinds (entries, free ones too). */
static inline uint32_t sg_use_count(void) { return sg_st.uses[0].n + sg_st.uses[1].n; }

/* Fork child (ledger lock held): credit the parent's objects to the child. */
void sg_use_after_fork_child(void);
/* Exit (ledger lock held): this process no longer uses its objects. */
void sg_use_exit(void);

/* Leaving a ledger (sg_core_rehome; its lock held): delete this
 * process's user records, keeping in flags[i] (room for sg_use_count(),
 * the sets' entries first) how it came to use each object. */
void sg_use_leave(uint32_t *flags);
/* Arriving in a ledger (its lock held): record this process as a user of
 * every object of its lists, with the flags sg_use_leave kept (NULL: as
 * inherited).  An object this process created is recorded as used: its
 * creation stays in the ledger of the uid that created it. */
void sg_use_arrive(const uint32_t *flags);

#endif
