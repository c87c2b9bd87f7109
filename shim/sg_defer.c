/*
 * sg_defer.c - deferred IPC_RMID (see sg_defer.h).
 *
 * Why it is safe: every carrier holds the ledger lock across its real
 * shmget of a keyed segment and records an intent there; the real
 * IPC_RMID is issued under the same lock only when the kernel's nattch is
 * 0 and no intent is live.  So a carrier either looked the key up before
 * the decision (its intent holds the removal back until its shmat raises
 * nattch) or after it (the key is gone, as with a bare removal of an
 * unused segment).  An intent expires after SG_INTENT_TTL_NS, or when its
 * process is gone, so a process that looks a key up and never attaches
 * cannot hold a removal back for longer than that.
 */
#define _GNU_SOURCE
#include "sg_defer.h"
#include "sg_kernel.h"
#include "sg_locks.h"
#include "sg_log.h"
#include "sg_real.h"
#include "sg_rootview.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SWEEP_INTERVAL_NS (10ull * 1000000ull)

/* 1 if rec still describes the kernel's segment (ids are reused).  The
 * kernel gives cpid in the caller's pid namespace: a record made in
 * another is compared by key and size instead (a pending removal must not
 * be dropped for a difference a pid namespace explains). */
static int same_segment(const struct sg_seg *rec, const struct shmid_ds *ds)
{
    if (rec->kcuid != ds->shm_perm.cuid)
        return 0;
    if (!rec->kc_pidns || rec->kc_pidns == sg_st.self.pidns)
        return rec->kcpid == ds->shm_cpid;
    return rec->key == ds->shm_perm.__key && rec->size == ds->shm_segsz;
}

/* 1 if uid may remove a segment with these permissions: the check applied
 * to the trust domain (the ledger file's owner) that recorded a removal. */
static int uid_may_remove(uid_t uid, const struct ipc_perm *p)
{
    return uid == 0 || uid == p->uid || uid == p->cuid;
}

static void clear_pending(struct sg_seg *rec)
{
    sg_pend_del(&sg_st.L, rec->kind, rec->id);
    rec->flags &= ~SG_SEG_PENDING;
}

/* After a real IPC_RMID (lock held): the record goes at once, also while
 * the segment is still attached (SHM_DEST, its key private): nothing can
 * look it up any more, nor may gc remove it; a record kept until the last
 * detach would keep every carrier off the lock-free paths meanwhile. */
static void removed(struct sg_seg *rec) { sg_seg_del(&sg_st.L, rec); }

void sg_defer_removed(int id)
{
    struct shmid_ds ds;
    int there = sg_kernel_stat(id, &ds) == 0;
    if (!sg_state_take())
        return;
    struct sg_seg *s = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
    if (s && (!there || same_segment(s, &ds)))
        removed(s);
    sg_state_give();
}

/* This process's attachments of id (any thread): they do not hold a
 * removal back.  sg_local_lock held. */
static int own_attachments(int id) { return sg_local_count(&sg_st.local, id); }

int sg_defer_rmid(int id, struct shmid_ds *buf)
{
    int e0 = errno;
    /* Zeroed: the compiler may test the key before the stat's result,
     * which memcheck reports as a jump on an uninitialised value when the
     * stat fails (a second IPC_RMID). */
    struct shmid_ds ds = { 0 };
    /* Anything we would not defer goes to the kernel, which then gives
     * exactly its own answer (EINVAL, EIDRM, EPERM, ...). */
    if (sg_kernel_stat(id, &ds) != 0 || ds.shm_perm.__key == IPC_PRIVATE ||
        (ds.shm_perm.mode & SHM_DEST) || !sg_kernel_may_remove(&ds.shm_perm))
        goto passthrough;
    /* sg_local_lock before the ledger lock: this process's own
     * attachments, counted under it, do not hold its removal back. */
    int held = sg_local_take();
    if (!sg_state_take()) {
        sg_local_give(held);
        goto passthrough;
    }
    int own = own_attachments(id);
    struct sg_seg *rec = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
    if (rec && !same_segment(rec, &ds)) {
        sg_seg_del(&sg_st.L, rec); /* an older segment that had this id */
        rec = NULL;
    }
    /* A process that removes a segment is not about to attach it: its own
     * lookup must not hold its own removal back (nor, asked again, its
     * lookup since the first time). */
    if (sg_st.L.hdr->intents)
        sg_intent_clear(&sg_st.L, sg_st.self.pid, sg_st.self.pidns, id);
    if (rec && (rec->flags & SG_SEG_PENDING)) {
        /* A second IPC_RMID: the kernel accepts it on a SHM_DEST segment. */
        sg_state_give();
        sg_local_give(held);
        errno = e0;
        return 0;
    }
    /* Decide on fresh facts, under the lock that orders us against every
     * carrier's lookup: deferred only while another process is attached,
     * or looked the key up before this removal and has not attached yet. */
    if (sg_kernel_stat(id, &ds) != 0 ||
        (ds.shm_nattch <= (unsigned long)own &&
         !sg_intent_holding(&sg_st.L, id, sg_coarse_mono_ns()))) {
        int r = real_shmctl(id, IPC_RMID, buf);
        int e = errno;
        if (r == 0 && rec)
            removed(rec);
        sg_state_give();
        sg_local_give(held);
        errno = r == 0 ? e0 : e;
        return r;
    }
    if (!rec) {
        struct sg_seg n;
        memset(&n, 0, sizeof n);
        n.kind = SG_KIND_SHM;
        n.id = id;
        n.key = ds.shm_perm.__key;
        n.size = ds.shm_segsz;
        n.mode = ds.shm_perm.mode & 0777;
        n.kcpid = ds.shm_cpid;
        n.kc_pidns = sg_st.self.pidns;
        n.kcuid = ds.shm_perm.cuid;
        n.cr_pid = ds.shm_cpid;
        n.cr_pidns = sg_st.self.pidns;
        n.cr_uid = ds.shm_perm.cuid;
        rec = sg_state_put_seg(&n);
    }
    if (!rec || sg_pend_add(&sg_st.L, SG_KIND_SHM, id) != 0) {
        /* No room to remember it: behave as bare. */
        sg_state_give();
        sg_local_give(held);
        sg_log(0, "cannot record the deferred removal of shmid %d (ledger full); "
                  "removing it now as the kernel would",
               id);
        goto passthrough;
    }
    rec->rm_pid = sg_st.self.pid;
    rec->rm_pidns = sg_st.self.pidns;
    rec->rm_uid = geteuid();
    rec->rm_start = sg_st.self.start;
    rec->rm_time_ns = sg_now_ns();
    rec->idle_ns = 0;
    __atomic_or_fetch(&rec->flags, SG_SEG_PENDING, __ATOMIC_RELEASE);
    sg_state_give();
    sg_local_give(held);
    sg_log(2, "IPC_RMID of shmid %d (key 0x%08x, nattch %lu) deferred until the last detach",
           id, (unsigned)ds.shm_perm.__key, (unsigned long)ds.shm_nattch);
    errno = e0;
    return 0;

passthrough:;
    int r = real_shmctl(id, IPC_RMID, buf);
    int e = errno;
    if (r == 0)
        sg_defer_removed(id); /* its record (IPC_PRIVATE too) */
    errno = r == 0 ? e0 : e;
    return r;
}

void sg_defer_try(struct sg_seg *rec, int own)
{
    if (!(rec->flags & SG_SEG_PENDING))
        return;
    int saved = errno;
    struct shmid_ds ds;
    if (sg_kernel_stat(rec->id, &ds) != 0) {
        if (errno == EINVAL || errno == EIDRM)
            sg_seg_del(&sg_st.L, rec); /* gone: removed, or behind our back */
        goto out;
    }
    if (!same_segment(rec, &ds)) {
        sg_seg_del(&sg_st.L, rec);
        goto out;
    }
    if (ds.shm_perm.mode & SHM_DEST) {
        removed(rec); /* someone issued the real IPC_RMID */
        goto out;
    }
    if (ds.shm_nattch > (unsigned long)own) {
        rec->idle_ns = 0;
        goto out;
    }
    /* Nobody attached: lookups made before the last detach hold it back,
     * for at most SG_INTENT_TTL_NS from then, whatever lookups follow. */
    uint64_t now = sg_coarse_mono_ns();
    if (sg_intent_holding(&sg_st.L, rec->id, now)) {
        if (!rec->idle_ns)
            rec->idle_ns = now;
        if (now - rec->idle_ns < SG_INTENT_TTL_NS)
            goto out;
    }
    if (!uid_may_remove(sg_st.L.owner, &ds.shm_perm)) {
        clear_pending(rec); /* not this domain's to remove */
        goto out;
    }
    if (real_shmctl(rec->id, IPC_RMID, NULL) != 0) {
        sg_log(1, "pending removal of shmid %d not done here: %s", rec->id, strerror(errno));
        goto out;
    }
    sg_log(2, "deferred IPC_RMID of shmid %d done", rec->id);
    removed(rec);
out:
    errno = saved;
}

void sg_defer_for_root(int id)
{
    struct shmid_ds ds;
    int saved = errno;
    if (sg_kernel_stat(id, &ds) != 0 || ds.shm_nattch > 0 ||
        (ds.shm_perm.mode & SHM_DEST) || !sg_kernel_may_remove(&ds.shm_perm))
        goto out;
    struct sg_ledger R;
    if (sg_rootview_load(id, &R) != 0)
        goto out;
    uint64_t now = sg_coarse_mono_ns();
    const struct sg_seg *rr = sg_seg_find(&R, SG_KIND_SHM, id);
    int due = rr && (rr->flags & SG_SEG_PENDING) && same_segment(rr, &ds) &&
              !sg_intent_holding(&R, id, now);
    sg_ledger_close(&R);
    if (!due || !sg_state_take())
        goto out;
    /* Under this domain's lock, on fresh facts: its own lookups hold the
     * removal back as they would in root's domain. */
    if (sg_kernel_stat(id, &ds) == 0 && ds.shm_nattch == 0 &&
        !(ds.shm_perm.mode & SHM_DEST) && !sg_intent_holding(&sg_st.L, id, now)) {
        if (real_shmctl(id, IPC_RMID, NULL) == 0) {
            sg_log(2, "removal of shmid %d asked by uid 0 done at this uid's last detach", id);
            struct sg_seg *s = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
            if (s)
                removed(s);
        } else
            sg_log(1, "removal of shmid %d asked by uid 0 not done here: %s", id, strerror(errno));
    }
    sg_state_give();
out:
    errno = saved;
}

void sg_defer_sweep(int (*own_count)(int shmid))
{
    struct sg_ledger *L = &sg_st.L;
    for (uint32_t i = 0; i < L->pend_cap && L->hdr->pending; i++) {
        struct sg_pend p = L->pend[i];
        if (p.id < 0)
            continue;
        struct sg_seg *rec = sg_seg_find(L, p.kind, p.id);
        if (!rec || !(rec->flags & SG_SEG_PENDING)) {
            sg_pend_del(L, p.kind, p.id); /* index out of step: mend */
            continue;
        }
        sg_defer_try(rec, own_count ? own_count(p.id) : 0);
    }
}

int sg_defer_sweep_due(void)
{
    uint64_t now = sg_coarse_mono_ns();
    if (now < sg_st.next_sweep)
        return 0;
    sg_st.next_sweep = now + SWEEP_INTERVAL_NS;
    return __atomic_load_n(&sg_st.L.hdr->pending, __ATOMIC_RELAXED) != 0;
}

void sg_defer_sweep_maybe(int throttled)
{
    if (throttled ? !sg_defer_sweep_due() : !sg_st.L.hdr->pending)
        return;
    sg_defer_sweep(NULL);
}

void sg_defer_make_way(key_t key, size_t size, int flg)
{
    if (key == IPC_PRIVATE || !(flg & IPC_CREAT) || !sg_st.L.hdr->pending)
        return;
    int saved = errno;
    int id = real_shmget(key, 0, 0);
    struct sg_seg *rec = id >= 0 ? sg_seg_find(&sg_st.L, SG_KIND_SHM, id) : NULL;
    struct shmid_ds ds;
    if (rec && (rec->flags & SG_SEG_PENDING) && sg_kernel_stat(id, &ds) == 0 &&
        same_segment(rec, &ds) && ((flg & IPC_EXCL) || size > ds.shm_segsz) &&
        uid_may_remove(sg_st.L.owner, &ds.shm_perm) && real_shmctl(id, IPC_RMID, NULL) == 0) {
        sg_log(2, "pending removal of shmid %d carried out for a new segment of key 0x%08x", id,
               (unsigned)key);
        removed(rec);
    }
    errno = saved;
}

int sg_defer_is_pending(int id)
{
    int pending = 0;
    if (!sg_state_take())
        return 0;
    struct sg_seg *rec = sg_seg_find(&sg_st.L, SG_KIND_SHM, id);
    pending = rec && (rec->flags & SG_SEG_PENDING);
    sg_state_give();
    return pending;
}
