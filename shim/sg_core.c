/*
 * sg_core.c - what the hooks do: record ownership, forward to libc.
 *
 * Every function here preserves the exact result of the real call: the
 * return value and, on failure, errno come from libc; on success errno is
 * restored to what the caller had.  Ledger work happens only while
 * sg_st.active, and any failure to take the ledger lock turns the call
 * into a plain pass-through.
 */
#define _GNU_SOURCE
#include "sg_core.h"
#include "sg_callsite.h"
#include "sg_defer.h"
#include "sg_rootview.h"
#include "sg_diag.h"
#include "sg_kernel.h"
#include "sg_locks.h"
#include "sg_log.h"
#include "sg_pidns.h"
#include "sg_real.h"
#include "sg_use.h"
#include "sg_sys.h"
#include "sg_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- local attachment list ------------------------------------------- */

/* The ledger record of this process's attachment at addr: the library
 * writes one only for a listed attachment, and notes where (records do
 * not move); NULL when there is none. */
static struct sg_att *att_of(const struct sg_local *loc, uint64_t addr)
{
    if (!loc || !loc->att_slot)
        return NULL;
    return sg_att_at(&sg_st.L, loc->att_slot - 1, sg_st.self.pid, addr);
}

SG_HOT static struct sg_att *claim_att(uint64_t addr);

/* Record this process's attachment (sg_local_lock held): claimed, filled
 * in place and published, without the ledger lock. */
SG_HOT static void att_record(struct sg_local *loc, uint64_t time_ns)
{
    loc->att_slot = 0;
    struct sg_att *r = claim_att(loc->addr);
    if (!r)
        return;
    r->shmid = loc->shmid;
    r->pid = sg_st.self.pid;
    r->pidns = sg_st.self.pidns;
    r->flags = loc->flags;
    r->start = sg_st.self.start;
    r->addr = loc->addr;
    r->time_ns = time_ns;
    memset(r->pad, 0, sizeof r->pad);
    sg_att_publish(&sg_st.L, r);
    loc->att_slot = sg_att_slot(&sg_st.L, r) + 1;
}

static int local_count(int shmid) { return sg_local_count(&sg_st.local, shmid); }

/* Attachment records are written without the lock (sg_att_claim); only
 * a full table takes it, to reconcile.  Lock not held by the caller. */
SG_HOT static struct sg_att *claim_att(uint64_t addr)
{
    struct sg_att *r = sg_att_claim(&sg_st.L, sg_st.self.pid, addr);
    if (!r) {
        if (sg_state_take()) {
            if (sg_state_reclaim())
                r = sg_att_claim(&sg_st.L, sg_st.self.pid, addr);
            sg_state_give();
        }
        if (!r) {
            sg_ledger_dropped(&sg_st.L);
            sg_state_note_full("attachment");
        }
    }
    return r;
}

/* ---- this process's intents ---------------------------------------- */

/* Note that this process's shmget left an intent for id (see
 * sg_state.intent_ids); past SG_INTENT_IDS ids, every shmat checks. */
static void intent_note(int id)
{
    int32_t *v = sg_st.intent_ids;
    for (int i = 0; i < SG_INTENT_IDS; i++)
        if (__atomic_load_n(&v[i], __ATOMIC_RELAXED) == id + 1)
            return;
    for (int i = 0; i < SG_INTENT_IDS; i++) {
        int32_t free_ = 0;
        if (__atomic_compare_exchange_n(&v[i], &free_, id + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return;
    }
    __atomic_store_n(&sg_st.intents_many, 1, __ATOMIC_RELAXED);
}

/* 1 if this process may hold an intent for id. */
SG_HOT static int intent_listed(int id)
{
    if (__atomic_load_n(&sg_st.intents_many, __ATOMIC_RELAXED))
        return 1;
    for (int i = 0; i < SG_INTENT_IDS; i++)
        if (__atomic_load_n(&sg_st.intent_ids[i], __ATOMIC_RELAXED) == id + 1)
            return 1;
    return 0;
}

/* After clearing this process's intent for id (ledger lock held). */
static void intent_unlist(int id)
{
    for (int i = 0; i < SG_INTENT_IDS; i++) {
        int32_t want = id + 1;
        __atomic_compare_exchange_n(&sg_st.intent_ids[i], &want, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    if (!sg_st.L.hdr->intents) /* none left in the ledger, so none of ours */
        __atomic_store_n(&sg_st.intents_many, 0, __ATOMIC_RELAXED);
}

/* ---- shmget ------------------------------------------------------------ */

static void fill_creator(struct sg_seg *r)
{
    r->flags |= SG_SEG_CREATOR;
    r->cr_pid = sg_st.self.pid;
    r->cr_pidns = sg_st.self.pidns;
    r->cr_uid = sg_st.self.euid;
    r->cr_start = sg_proc_self_creator(&sg_st.self); /* once, under the ledger lock */
    r->cr_time_ns = sg_now_ns();
    memcpy(r->cr_comm, sg_st.self.comm, sizeof r->cr_comm);
    memcpy(r->cr_exe, sg_st.self.exe, sizeof r->cr_exe);
}

/* Record the outcome of a successful shmget (lock held).  Returns 1 when
 * this call created the segment. */
static int record_get(key_t key, size_t size, int flg, int id)
{
    struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
    if (key != IPC_PRIVATE && r && r->key == key)
        return 0; /* known segment: the hot path writes nothing */
    struct sg_seg n;
    memset(&n, 0, sizeof n);
    n.kind = SG_KIND_SHM;
    n.id = id;
    n.key = key;
    int created;
    if (key == IPC_PRIVATE) {
        created = 1;
        n.size = size;
        n.mode = (uint32_t)flg & 0777;
        n.kcpid = sg_st.self.pid;
        n.kc_pidns = sg_st.self.pidns;
        n.kcuid = sg_st.self.euid;
        n.flags |= SG_SEG_PRIVATE;
    } else {
        struct shmid_ds ds;
        if (sg_kernel_stat(id, &ds) != 0)
            return 0;
        /* The lock is held around every carrier's shmget, so a segment
         * that we did not know, whose creator is this process and that
         * nobody attached yet, was created by this call. */
        created = (flg & IPC_CREAT) && ds.shm_cpid == sg_st.self.pid && ds.shm_nattch == 0;
        n.size = ds.shm_segsz;
        n.mode = ds.shm_perm.mode & 0777;
        n.kcpid = ds.shm_cpid;
        n.kc_pidns = sg_st.self.pidns;
        n.kcuid = ds.shm_perm.cuid;
        if (!created) {
            n.cr_pid = ds.shm_cpid;
            n.cr_pidns = sg_st.self.pidns;
            n.cr_uid = ds.shm_perm.cuid;
        }
    }
    if (created)
        fill_creator(&n);
    sg_state_put_seg(&n);
    return created;
}

/* ---- segments this process removed and looked up again ------------- */

/* Note id in sg_st.selfrm_ids (ledger lock held); 0 when the list is full
 * (the lookup's intent then outlives the detach: at most 5 s). */
static int selfrm_note(int id)
{
    int32_t *v = sg_st.selfrm_ids;
    for (int i = 0; i < SG_SELFRM_IDS; i++)
        if (__atomic_load_n(&v[i], __ATOMIC_RELAXED) == id + 1)
            return 1;
    for (int i = 0; i < SG_SELFRM_IDS; i++)
        if (!__atomic_load_n(&v[i], __ATOMIC_RELAXED)) {
            __atomic_store_n(&v[i], id + 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&sg_st.selfrm_n, 1, __ATOMIC_RELEASE);
            return 1;
        }
    return 0;
}

/* 1 if id is in sg_st.selfrm_ids (any thread, no lock). */
static int selfrm_listed(int id)
{
    if (!__atomic_load_n(&sg_st.selfrm_n, __ATOMIC_ACQUIRE))
        return 0;
    for (int i = 0; i < SG_SELFRM_IDS; i++)
        if (__atomic_load_n(&sg_st.selfrm_ids[i], __ATOMIC_RELAXED) == id + 1)
            return 1;
    return 0;
}

/* Take id off sg_st.selfrm_ids (ledger lock held). */
static void selfrm_unlist(int id)
{
    for (int i = 0; i < SG_SELFRM_IDS; i++)
        if (__atomic_load_n(&sg_st.selfrm_ids[i], __ATOMIC_RELAXED) == id + 1) {
            __atomic_store_n(&sg_st.selfrm_ids[i], 0, __ATOMIC_RELAXED);
            __atomic_sub_fetch(&sg_st.selfrm_n, 1, __ATOMIC_RELEASE);
        }
}

/* ---- shmget of a key this thread resolved before: no lock -----------
 *
 * A program that looks a key up again (per request, per worker) finds a
 * segment the ledger knows, and in defer mode its own intent (the mark
 * that keeps a deferred removal from completing before its shmat) is
 * still in place: the locked path would write nothing but the intent's
 * time.  The hints below remember where those two records were; inside a
 * ledger read window (sg_ledger_read_begin) both records are checked and
 * the intent is stamped, and if no writer took the lock meanwhile, the
 * call is made and, if the key still names the hinted segment, that is
 * the whole call.  Anything else (no hint, a pending removal anywhere, a
 * moved record, a writer in the window) goes through the locked path;
 * another id does too, with the call already made.
 *
 * The hints are per thread, so they need no lock; a forked child's are
 * its parent's and fail the pid check once, then refill. */
struct get_hint {
    int32_t key; /* IPC_PRIVATE (0): empty */
    int32_t id;
    int32_t pid;
    uint32_t seg_slot;
    uint32_t intent_slot; /* unused in observe mode */
    uint64_t gen;         /* ledger generation when filled */
    uint32_t epoch;       /* sg_st.epoch when filled (which ledger) */
};
#define GET_HINTS 8
static __thread struct get_hint get_hints[GET_HINTS] __attribute__((tls_model("initial-exec")));

static struct get_hint *hint_of(key_t key)
{
    return &get_hints[((uint32_t)key * 0x9E3779B1u) >> 29];
}

/* 1: done, *id is the result; 0: nothing done; -1: the call was made
 * (*id, *err) but its records need the locked path.
 *
 * Everything is checked before the call, and the read window closed
 * before it too: once the intent is stamped in a clean window it holds
 * any removal back (only its expiry, 5 s away, or this process's death
 * would release it), so all that is left to see afterwards is whether the
 * key still named the hinted segment.  After a system call the caller's
 * TLB and caches are cold (the kernel's shm paths touch much memory), and
 * each page touched then costs tens of nanoseconds: the fast path touches
 * none but its stack. */
static int shmget_fast(key_t key, size_t size, int flg, int *id, int *err)
{
    const struct get_hint *h = hint_of(key);
    if (key == IPC_PRIVATE || h->key != key || h->pid != sg_st.self.pid ||
        h->epoch != __atomic_load_n(&sg_st.epoch, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&sg_st.degraded_until, __ATOMIC_RELAXED))
        return 0;
    uint64_t gen = sg_ledger_read_begin(&sg_st.L);
    if (gen == SG_GEN_BUSY || __atomic_load_n(&sg_st.L.hdr->pending, __ATOMIC_RELAXED))
        return 0; /* a due removal must be completed before the lookup */
    int want = h->id;
    /* No locked write since the hint was filled: the record is there. */
    if (gen != h->gen && !sg_seg_at_is(&sg_st.L, h->seg_slot, SG_KIND_SHM, want, key))
        return 0;
    /* A live intent of ours was put by a locked shmget, which listed its
     * id (intent_note), and is unlisted only by the shmat that clears it
     * under the lock: touching it needs no note. */
    if (sg_st.defer && !sg_intent_touch(&sg_st.L, h->intent_slot, sg_st.self.pid, sg_st.self.pidns,
                                        sg_st.self.start,
                                        want, sg_coarse_mono_ns()))
        return 0;
    if (!sg_ledger_read_valid(&sg_st.L, gen))
        return 0;
    *id = real_shmget(key, size, flg);
    if (*id == want)
        return 1;
    *err = errno;
    return -1;
}

/* Remember where key's records are (lock held, after a successful call). */
static void hint_fill(key_t key, int id, const struct sg_intent *in)
{
    struct get_hint *h = hint_of(key);
    const struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
    if (key == IPC_PRIVATE || !r || r->key != key || (sg_st.defer && !in)) {
        h->key = IPC_PRIVATE;
        return;
    }
    h->key = key;
    h->id = id;
    h->pid = sg_st.self.pid;
    h->epoch = sg_st.epoch;
    h->seg_slot = sg_seg_slot(&sg_st.L, r);
    h->intent_slot = in ? sg_intent_slot(&sg_st.L, in) : 0;
    /* The generation this lock cycle will leave behind (sg_ledger_unlock). */
    h->gen = (sg_st.L.hdr->generation | 1) + 1;
}

/* 1 if this process asked for the pending removal of id (lock held). */
static int removed_by_self(int id)
{
    if (!sg_st.L.hdr->pending)
        return 0;
    const struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
    return r && (r->flags & SG_SEG_PENDING) && r->rm_pid == sg_st.self.pid &&
           r->rm_start == sg_st.self.start;
}

/* The locked path of shmget, with the call already made when called is
 * set (id, e).  errno on entry is still the caller's: nothing before has
 * changed it but a failed call, after which it is not restored.  Kept
 * out of line: its large frame would otherwise be set up on every call. */
__attribute__((noinline, cold)) static int shmget_locked(key_t key, size_t size, int flg,
                                                        const void *caller, int called, int id,
                                                        int e)
{
    int e0 = errno;
    int held = sg_state_take(), created = 0;
    if (!called) {
        if (held && sg_st.defer) {
            sg_defer_sweep_maybe(0);
            sg_defer_make_way(key, size, flg);
        }
        id = real_shmget(key, size, flg);
        e = errno;
    }
    /* After a call made in the fast path (outside the lock), record_get's
     * creation test can only confuse this call with another thread's of
     * the same process: both are this process's, only the call site could
     * be the other thread's. */
    if (held) {
        if (id >= 0) {
            created = record_get(key, size, flg, id);
            struct sg_intent *in = NULL;
            /* The remover's own lookup too: it may attach next, and an
             * attach not announced by an intent can land between a
             * carrier's nattch check and its real IPC_RMID (it would then
             * hold the removed segment while later lookups make a new
             * one).  Its detach of id ends that intent (shmdt_body). */
            if (sg_st.defer && key != IPC_PRIVATE &&
                (in = sg_intent_put(&sg_st.L, sg_st.self.pid, sg_st.self.pidns, sg_st.self.start,
                                   id))) {
                intent_note(id);
                if (removed_by_self(id))
                    selfrm_note(id);
            }
            hint_fill(key, id, in);
        }
        sg_state_give();
    }
    if (created) {
        /* dladdr takes the loader's lock: never under the ledger lock. */
        struct sg_callsite cs;
        sg_callsite_resolve(caller, &cs);
        if (sg_state_take()) {
            struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
            if (r && r->cr_pid == sg_st.self.pid)
                sg_callsite_store(&cs, r);
            sg_state_give();
        }
    }
    if (id < 0)
        sg_diag_shmget(key, size, flg, e, caller);
    errno = id >= 0 ? e0 : e;
    return id;
}

__attribute__((noinline, cold)) static int shmget_inactive(key_t key, size_t size, int flg,
                                                          const void *caller)
{
    int r = real_shmget(key, size, flg);
    if (r < 0 && sg_st.cfg && sg_st.cfg->mode != SG_MODE_OFF)
        sg_diag_shmget(key, size, flg, errno, caller); /* kernel facts only */
    return r;
}

SG_BODY int shmget_body(key_t key, size_t size, int flg, const void *caller)
{
    if (!sg_st.active)
        return shmget_inactive(key, size, flg, caller);
    /* errno is not read here: the fast path leaves it alone (a successful
     * call does not set it). */
    int id = -1, e = 0;
    int fast = shmget_fast(key, size, flg, &id, &e);
    if (fast == 1)
        return id;
    return shmget_locked(key, size, flg, caller, fast != 0, id, e);
}

SG_HOT int sg_shmget(key_t key, size_t size, int flg, const void *caller)
{
    sg_in_hook = 1;
    int r = shmget_body(key, size, flg, caller);
    sg_in_hook = 0;
    return r;
}

/* ---- shmat / shmdt ---------------------------------------------------- */

SG_BODY void *shmat_body(int id, const void *addr, int flg)
{
    if (!sg_st.active)
        return real_shmat(id, addr, flg);
    int *ep = &errno; /* one look-up of the thread's errno */
    int e0 = *ep;
    /* sg_local_lock spans the attach and its records, so that a fork
     * (whose prepare handler takes it) never sees a mapping that the
     * local list does not have yet.  The kernel serialises a process's
     * shmat/shmdt on its mmap lock anyway.  The ledger lock is taken only
     * when there is an intent to clear or a removal pending. */
    int held = sg_local_take();
    /* A segment this process removed and looked up again: attached under
     * the ledger lock (see sg_state.selfrm_ids). */
    int locked = sg_st.defer && selfrm_listed(id) && sg_state_take();
    void *p = real_shmat(id, addr, flg);
    int e = *ep;
    if (p != (void *)-1) {
        uint32_t flags = (flg & SHM_RDONLY) ? SG_ATT_RDONLY : 0;
        struct sg_local *loc = sg_local_add(&sg_st.local, (uint64_t)(uintptr_t)p, id, flags);
        if (loc)
            att_record(loc, sg_coarse_now_ns());
        /* The ledger's header is read only when this process left an
         * intent for id, or when the throttled sweep is due: a line of
         * shared memory touched right after the kernel call costs a
         * percent of the pair. */
        int intent = sg_st.defer && intent_listed(id);
        int sweep = sg_st.defer && sg_defer_sweep_due();
        if ((intent || sweep || locked) && (locked || sg_state_take())) {
            if (intent) {
                sg_intent_clear(&sg_st.L, sg_st.self.pid, sg_st.self.pidns, id);
                intent_unlist(id);
            }
            if (sweep)
                sg_defer_sweep(NULL);
            locked = 1;
        }
    }
    if (locked) {
        selfrm_unlist(id);
        sg_state_give();
    }
    sg_local_give(held);
    *ep = p != (void *)-1 ? e0 : e;
    return p;
}

SG_HOT void *sg_shmat(int id, const void *addr, int flg)
{
    sg_in_hook = 1;
    void *r = shmat_body(id, addr, flg);
    sg_in_hook = 0;
    return r;
}

SG_BODY int shmdt_body(const void *addr)
{
    if (!sg_st.active)
        return real_shmdt(addr);
    int *ep = &errno; /* one look-up of the thread's errno */
    int e0 = *ep;
    uint64_t a = (uint64_t)(uintptr_t)addr;
    /* Held across the detach: the local list must match the mappings
     * whenever a fork's prepare handler gets the lock. */
    int held = sg_local_take();
    struct sg_local *loc = sg_local_find(&sg_st.local, a);
    int shmid = loc ? loc->shmid : -1;
    /* The record goes first, while the mapping still exists: as long as
     * it does, nobody else may judge the record stale, so its slot is
     * still ours (see sg_reconcile). */
    struct sg_att *rec = att_of(loc, a);
    if (rec)
        sg_att_del(&sg_st.L, rec);
    /* The entry goes before the call too: if the call fails, nothing was
     * attached at addr (EINVAL), so the entry was stale anyway. */
    if (loc)
        sg_local_del(&sg_st.local, loc);
    int r = real_shmdt(addr);
    int e = *ep;
    if (r == 0) {
        if (sg_st.defer && shmid >= 0 && __atomic_load_n(&sg_st.L.hdr->pending, __ATOMIC_RELAXED) &&
            sg_state_take()) {
            struct sg_seg *s = sg_seg_find(&sg_st.L, SG_KIND_SHM, shmid);
            /* A remover that looked its key up and then detaches is most
             * often not about to attach: its lookup holds nothing back any
             * more, and should it attach after all, it does so under the
             * lock (shmat_body), so that it cannot land between a
             * carrier's nattch check and its real IPC_RMID. */
            if (intent_listed(shmid) && selfrm_listed(shmid) && removed_by_self(shmid)) {
                sg_intent_clear(&sg_st.L, sg_st.self.pid, sg_st.self.pidns, shmid);
                intent_unlist(shmid);
            }
            if (s && (s->flags & SG_SEG_PENDING))
                sg_defer_try(s, 0);
            sg_defer_sweep_maybe(1);
            sg_state_give();
        }
        /* A removal asked by root, this process being of another uid:
         * at its detach of its last mapping of the segment. */
        if (sg_st.under_root && shmid >= 0 && sg_local_count(&sg_st.local, shmid) == 0 &&
            sg_rootview_pending() && sg_rootview_lists(shmid))
            sg_defer_for_root(shmid);
    }
    sg_local_give(held);
    *ep = r == 0 ? e0 : e;
    return r;
}

SG_HOT int sg_shmdt(const void *addr)
{
    sg_in_hook = 1;
    int r = shmdt_body(addr);
    sg_in_hook = 0;
    return r;
}

/* ---- shmctl ----------------------------------------------------------- */

SG_BODY int shmctl_body(int id, int cmd, struct shmid_ds *buf)
{
    if (!sg_st.active)
        return real_shmctl(id, cmd, buf);
    int e0 = errno;
    if (cmd == IPC_RMID) {
        if (sg_st.defer)
            return sg_defer_rmid(id, buf);
        int r = real_shmctl(id, cmd, buf);
        int e = errno;
        if (r == 0)
            sg_defer_removed(id);
        errno = r == 0 ? e0 : e;
        return r;
    }
    /* The pending count is read once, before the call: afterwards the
     * caller's caches are cold (see shmget_fast).  A removal asked for
     * during the call is as if asked for just after it. */
    uint32_t pending = sg_st.defer ? __atomic_load_n(&sg_st.L.hdr->pending, __ATOMIC_ACQUIRE) : 0;
    if (pending && sg_state_take()) {
        sg_defer_sweep_maybe(0);
        sg_state_give();
    }
    int r = real_shmctl(id, cmd, buf);
    if (!pending)
        return r; /* errno: untouched on success, libc's on failure */
    int e = errno;
    if (r >= 0 && buf && (cmd == IPC_STAT || cmd == SHM_STAT || cmd == SHM_STAT_ANY)) {
        /* SHM_STAT(_ANY) take an index and return the id. */
        int sid = cmd == IPC_STAT ? id : r;
        if (sg_defer_is_pending(sid))
            buf->shm_perm.mode |= SHM_DEST;
    }
    errno = r >= 0 ? e0 : e;
    return r;
}

SG_HOT int sg_shmctl(int id, int cmd, struct shmid_ds *buf)
{
    sg_in_hook = 1;
    int r = shmctl_body(id, cmd, buf);
    sg_in_hook = 0;
    return r;
}

/* ---- exit and fork ---------------------------------------------------- */

/* 1 if this process's exit has work under the ledger lock: an intent it
 * may hold, a removal pending (defer mode), a set or queue it uses.  A
 * short process has none after its detach, and its exit then takes no
 * lock and touches no line of the ledger's header. */
/* 1 in a child that no fork handler renewed (glibc's _Fork, a raw
 * clone): it still carries its parent's identity, and every record it
 * would edit as its own is its parent's. */
static int copied_identity(void) { return sg_sys_getpid() != sg_st.self.pid; }

static int exit_has_work(void)
{
    if (__atomic_load_n(&sg_st.intents_many, __ATOMIC_RELAXED))
        return 1;
    for (int i = 0; i < SG_INTENT_IDS; i++)
        if (__atomic_load_n(&sg_st.intent_ids[i], __ATOMIC_RELAXED))
            return 1;
    return (sg_st.defer && __atomic_load_n(&sg_st.L.hdr->pending, __ATOMIC_RELAXED)) ||
           (__atomic_load_n(&sg_st.uses_listed, __ATOMIC_RELAXED) && sg_use_count());
}

void sg_core_exit(void)
{
    if (!sg_st.active)
        return;
    int saved = errno;
    /* A child that no fork handler renewed (glibc's _Fork, a raw clone)
     * still carries its parent's identity: what it would delete here are
     * its parent's records (a live user of a queue or set made invisible,
     * and the object then removable by gc).  It deletes nothing; records
     * of its own, made under that identity, go when the parent's do. */
    if (copied_identity()) {
        errno = saved;
        return;
    }
    int held = sg_local_take();
    SG_LOCAL_FOREACH(&sg_st.local, e) {
        struct sg_att *rec = att_of(e, e->addr);
        if (rec)
            sg_att_del(&sg_st.L, rec);
        e->att_slot = 0;
    }
    if (exit_has_work() && sg_state_take()) {
        if (sg_st.L.hdr->intents)
            sg_intent_clear_pid(&sg_st.L, sg_st.self.pid, sg_st.self.pidns);
        if (sg_st.defer && sg_st.L.hdr->pending)
            sg_defer_sweep(local_count);
        sg_use_exit();
        sg_state_give();
    }
    sg_local_give(held);
    errno = saved;
}

void sg_core_after_fork_child(void)
{
    int saved = errno;
    if (!sg_st.active) {
        errno = saved;
        return;
    }
    sg_st.self.pid = getpid();
    sg_st.self.start = sg_proc_self_mark();
    sg_st.self.start_exact = 0; /* read again if the child creates */
    sg_st.self.names = 0;
    uint32_t parent_ns = sg_st.self.pidns;
    sg_st.self.pidns = sg_pidns_self_as(sg_st.self.pid);
    sg_st.degraded_until = 0;
    sg_st.next_sweep = 0;
    /* The parent's intents are not the child's, nor its removals. */
    sg_st.intents_many = 0;
    memset(sg_st.intent_ids, 0, sizeof sg_st.intent_ids);
    memset(sg_st.selfrm_ids, 0, sizeof sg_st.selfrm_ids);
    sg_st.selfrm_n = 0;
    if (sg_st.self.pidns != parent_ns) { /* forked after unshare(CLONE_NEWPID) */
        sg_ledger_claim_ns(sg_st.self.pidns);
        sg_state_note_pidns();
    }
    uint64_t now = sg_now_ns();
    SG_LOCAL_FOREACH(&sg_st.local, e) {
        e->flags |= SG_ATT_INHERITED;
        att_record(e, now);
    }
    if (sg_use_count() && sg_state_take()) {
        sg_use_after_fork_child();
        sg_state_give();
    }
    errno = saved;
}

/* ---- a privilege boundary is a ledger boundary ------------------------ */

/* Replace the mapping at L->base, in place, by private zero pages: a
 * thread still holding a pointer into it reads zeros instead of faulting,
 * and the process holds nothing of the file any more. */
static void retire_mapping(struct sg_ledger *L)
{
    if (mmap(L->base, L->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) == MAP_FAILED)
        munmap(L->base, L->len);
}

void sg_core_rehome(void)
{
    static int said;
    int saved = errno;
    if (!__atomic_load_n(&sg_st.active, __ATOMIC_ACQUIRE)) {
        errno = saved;
        return;
    }
    /* A child with its parent's identity (see copied_identity) that
     * changed credentials: it still leaves the ledger (a privilege
     * boundary is a ledger boundary), but edits none of the records,
     * which are its parent's, allocates nothing (malloc's locks were not
     * renewed in such a child) and opens no other ledger. */
    if (copied_identity()) {
        __atomic_store_n(&sg_st.active, 0, __ATOMIC_RELEASE);
        sg_st.defer = 0;
        retire_mapping(&sg_st.L);
        errno = saved;
        return;
    }
    int held = sg_local_take();
    int drained = sg_state_gate_close();
    struct sg_ledger *L = &sg_st.L;
    uid_t old_owner = L->owner;

    /* Open the new uid's ledger first (at another address). */
    struct sg_ledger N;
    char err[2 * PATH_MAX + 200];
    int ok = sg_ledger_open_own(&N, sg_st.cfg->ledger_dir, sg_ipcns_ino(), NULL, err,
                                sizeof err) == 0;
    if (ok && (N.len != L->len || N.seg_cap != L->seg_cap || N.att_cap != L->att_cap ||
               N.intent_cap != L->intent_cap || N.pend_cap != L->pend_cap)) {
        snprintf(err, sizeof err, "ledger %s has other table sizes than %s", N.path, L->path);
        sg_ledger_close(&N);
        ok = 0;
    }
    if (ok && !drained) {
        /* A thread still holds the old ledger's lock: swapping the file
         * under it would let it edit, and unlock, the new one. */
        snprintf(err, sizeof err, "another thread held the ledger lock of %s for over 3 s",
                 L->path);
        sg_ledger_close(&N);
        ok = 0;
    }

    /* Leave the old one: this process's records go with it. */
    uint32_t nuse = sg_use_count();
    uint32_t *useflags = calloc(nuse ? nuse : 1, sizeof *useflags);
    SG_LOCAL_FOREACH(&sg_st.local, e) {
        struct sg_att *rec = att_of(e, e->addr);
        if (rec)
            sg_att_del(L, rec);
        e->att_slot = 0;
    }
    if (useflags && sg_ledger_lock(L) == 0) {
        if (L->hdr->intents)
            sg_intent_clear_pid(L, sg_st.self.pid, sg_st.self.pidns);
        sg_use_leave(useflags);
        sg_ledger_unlock(L);
    }
    memset(sg_st.intent_ids, 0, sizeof sg_st.intent_ids);
    sg_st.intents_many = 0;
    memset(sg_st.selfrm_ids, 0, sizeof sg_st.selfrm_ids);
    __atomic_store_n(&sg_st.selfrm_n, 0, __ATOMIC_RELAXED);

    /* The new ledger takes the old one's place, at the same address with
     * the same table sizes: one mremap swaps what every pointer reaches,
     * as a concurrent writer would change it (the lock-free readers
     * validate what they read).  Otherwise, pass calls through. */
    if (ok && mremap(N.base, N.len, N.len, MREMAP_MAYMOVE | MREMAP_FIXED, L->base) == MAP_FAILED) {
        snprintf(err, sizeof err, "cannot move ledger %s into place: %s", N.path, strerror(errno));
        sg_ledger_close(&N);
        ok = 0;
    }
    if (!ok) {
        __atomic_store_n(&sg_st.active, 0, __ATOMIC_RELEASE);
        sg_st.defer = 0;
        retire_mapping(L);
        sg_log_once(&said,
                    "credentials changed (uid %u can no longer write the ledger of uid %u): "
                    "left it; %s; passing every call through unchanged",
                    (unsigned)geteuid(), (unsigned)old_owner, err);
    } else {
        L->fd = N.fd;
        L->owner = N.owner;
        sg_st.under_root = sg_st.defer && N.owner != 0;
        memcpy(L->path, N.path, sizeof L->path);
        sg_st.self.euid = geteuid();
        __atomic_add_fetch(&sg_st.epoch, 1, __ATOMIC_RELEASE);
        /* Record there what this process holds. */
        uint64_t now = sg_now_ns();
        SG_LOCAL_FOREACH(&sg_st.local, e) att_record(e, now);
        sg_state_note_pidns();
        if (sg_ledger_lock(L) == 0) {
            sg_use_arrive(useflags);
            sg_ledger_unlock(L);
        }
        free(useflags);
        useflags = NULL;
        sg_log(2, "credentials changed: ledger of uid %u left for %s", (unsigned)old_owner,
               L->path);
    }
    free(useflags);
    sg_state_gate_open();
    sg_local_give(held);
    errno = saved;
}
