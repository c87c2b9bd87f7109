/*
 * sg_sem.c - semget/semctl/semop: record who creates and who uses each
 * semaphore set (see sg_sem.h).  No deferral, no changed result.
 */
#define _GNU_SOURCE
#include "sg_sem.h"
#include "sg_callsite.h"
#include "sg_diag.h"
#include "sg_ksem.h"
#include "sg_locks.h"
#include "sg_log.h"
#include "sg_pidns.h"
#include "sg_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- this process's sets ----------------------------------------------- */

/* Set when a set could not be added to the full list (past the kernel's
 * 32,768 sets, or out of memory): that set's use by id is then recorded
 * on every call instead (see note_use_by_id), never silently dropped. */
static int local_full;

static int local_has(int id)
{
    uint32_t n = __atomic_load_n(&sg_st.n_semids, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        if (__atomic_load_n(sg_sem_slot(i), __ATOMIC_RELAXED) == id)
            return 1;
    return 0;
}

/* sg_local_lock held.  0, or -1 when the list cannot grow. */
static int local_add(int id)
{
    uint32_t n = sg_st.n_semids;
    for (uint32_t i = 0; i < n; i++)
        if (*sg_sem_slot(i) == id)
            return 0;
    for (uint32_t i = 0; i < n; i++)
        if (*sg_sem_slot(i) < 0) {
            __atomic_store_n(sg_sem_slot(i), id, __ATOMIC_RELEASE);
            return 0;
        }
    if (n >= SG_LOCAL_SEMS && n % SG_LOCAL_SEMS == 0) {
        uint32_t c = n / SG_LOCAL_SEMS - 1;
        int32_t *chunk = c < SG_SEM_CHUNKS ? malloc(SG_LOCAL_SEMS * sizeof *chunk) : NULL;
        if (!chunk) {
            if (!__atomic_exchange_n(&local_full, 1, __ATOMIC_RELAXED))
                sg_log(0, "%u semaphore sets in use by this process: no room to list more; "
                          "the use of the others is recorded at each call",
                       n);
            return -1;
        }
        __atomic_store_n(&sg_st.sem_more[c], chunk, __ATOMIC_RELEASE);
    }
    __atomic_store_n(sg_sem_slot(n), id, __ATOMIC_RELAXED);
    __atomic_store_n(&sg_st.n_semids, n + 1, __ATOMIC_RELEASE);
    return 0;
}

/* sg_local_lock held. */
static void local_del(int id)
{
    for (uint32_t i = 0; i < sg_st.n_semids; i++)
        if (*sg_sem_slot(i) == id)
            __atomic_store_n(sg_sem_slot(i), -1, __ATOMIC_RELEASE);
}

/* ---- records ------------------------------------------------------------ */

/* A record of set k from kernel facts only (creator unknown). */
static void kernel_rec(struct sg_seg *n, const struct sg_ksem *k)
{
    memset(n, 0, sizeof *n);
    n->kind = SG_KIND_SEM;
    n->id = k->id;
    n->key = k->key;
    n->mode = k->mode;
    n->nsems = k->nsems;
    n->kcuid = k->cuid;
    n->cr_uid = k->cuid;
    if (k->key == IPC_PRIVATE)
        n->flags |= SG_SEG_PRIVATE;
}

/* The ledger's record of set k, replacing one of an older set that had
 * the same id (its users go with it).  Ledger lock held.  NULL if full. */
static struct sg_seg *rec_for(const struct sg_ksem *k)
{
    struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SEM, k->id);
    if (r && sg_ksem_is(k, r))
        return r;
    if (r)
        sg_seg_del(&sg_st.L, r);
    sg_semuser_del_set(&sg_st.L, k->id);
    struct sg_seg n;
    kernel_rec(&n, k);
    return sg_state_put_seg(&n);
}

/* 1 if this process created the set of record r: its pid, and its start
 * time (read once, here or at a creation, under the ledger lock: an
 * image after exec made its set before its start mark). */
static int is_creator(const struct sg_seg *r)
{
    if (!(r->flags & SG_SEG_CREATOR) || r->cr_pid != sg_st.self.pid)
        return 0;
    return r->cr_start == sg_st.self.start || r->cr_start == sg_proc_self_creator(&sg_st.self);
}

#define PRUNE_INTERVAL_NS (10ull * 1000000000ull)

/* A full user table: drop the records of processes that are gone (a
 * dead user never keeps a set alive, so nothing is lost); after a pass
 * that found none, not again for 10 s in this process.  Ledger lock
 * held.  Returns the number dropped. */
static unsigned prune_dead_users(void)
{
    static uint64_t next;
    uint64_t now = sg_coarse_mono_ns();
    if (now < next)
        return 0;
    unsigned n = 0;
    struct sg_ledger *L = &sg_st.L;
    sg_pidns_learn(L->pidns, SG_PIDNS_CAP, L->owner);
    for (uint32_t i = 0; i < L->semuser_cap; i++) {
        struct sg_semuser *u = &L->semuser[i];
        while (u->state == SG_REC_LIVE && sg_proc_alive_ns(u->pid, u->start, u->pidns) == 0) {
            sg_semuser_del(L, u);
            n++;
        }
    }
    sg_log(1, "ledger full: dropped %u records of semaphore users that are gone", n);
    /* Again at once while that finds room; not for 10 s after it found none. */
    next = n ? 0 : now + PRUNE_INTERVAL_NS;
    return n;
}

static struct sg_semuser *put_user(const struct sg_semuser *u)
{
    struct sg_semuser *r = sg_semuser_put(&sg_st.L, u);
    if (!r && prune_dead_users())
        r = sg_semuser_put(&sg_st.L, u);
    if (!r) {
        sg_ledger_dropped(&sg_st.L);
        sg_log(1, "ledger full: pid %d's use of semaphore set %d is not recorded", (int)u->pid,
               u->semid);
        sg_state_note_full("semaphore user");
    }
    return r;
}

/* Record this process as a user of set k.  Ledger lock held. */
static void add_user(const struct sg_ksem *k, uint32_t how)
{
    struct sg_seg *r = rec_for(k);
    if (r && is_creator(r))
        return;
    if (sg_semuser_find(&sg_st.L, k->id, sg_st.self.pid))
        return;
    struct sg_semuser u;
    memset(&u, 0, sizeof u);
    u.semid = k->id;
    u.pid = sg_st.self.pid;
    u.pidns = sg_st.self.pidns;
    u.start = sg_st.self.start;
    u.flags = how;
    u.time_ns = sg_coarse_now_ns();
    put_user(&u);
}

/* Record a set this call created.  Ledger lock held. */
static void add_created(key_t key, int nsems, int flg, int id)
{
    struct sg_seg *old = sg_seg_find(&sg_st.L, SG_KIND_SEM, id);
    if (old)
        sg_seg_del(&sg_st.L, old);
    sg_semuser_del_set(&sg_st.L, id);
    struct sg_seg n;
    memset(&n, 0, sizeof n);
    n.kind = SG_KIND_SEM;
    n.id = id;
    n.key = key;
    n.mode = (uint32_t)flg & 0777;
    n.nsems = (uint32_t)nsems;
    n.kcuid = sg_st.self.euid;
    n.flags = SG_SEG_CREATOR | (key == IPC_PRIVATE ? SG_SEG_PRIVATE : 0);
    n.cr_pid = sg_st.self.pid;
    n.cr_pidns = sg_st.self.pidns;
    n.cr_uid = sg_st.self.euid;
    n.cr_start = sg_proc_self_creator(&sg_st.self); /* once, under the ledger lock */
    n.cr_time_ns = sg_now_ns();
    memcpy(n.cr_comm, sg_st.self.comm, sizeof n.cr_comm);
    memcpy(n.cr_exe, sg_st.self.exe, sizeof n.cr_exe);
    sg_state_put_seg(&n);
}

/* First use of set id by this process through an id (not semget):
 * record it before the operation, which may block for long.  (With the
 * list full, every use is recorded: add_user finds the record there.) */
static void note_use_by_id(int id)
{
    struct sg_ksem k;
    int held = sg_local_take();
    if (!local_has(id) && sg_ksem_stat(id, &k) == 0) {
        if (sg_state_take()) {
            add_user(&k, SG_USE_BYID);
            sg_state_give();
        }
        local_add(id);
    }
    sg_local_give(held);
}

/* After IPC_RMID, or an operation that found no such set. */
static void forget_set(int id)
{
    int held = sg_local_take();
    local_del(id);
    struct sg_ksem k;
    if (sg_ksem_stat(id, &k) != 0 && (errno == EINVAL || errno == EIDRM) && sg_state_take()) {
        struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SEM, id);
        if (r)
            sg_seg_del(&sg_st.L, r);
        sg_semuser_del_set(&sg_st.L, id);
        sg_state_give();
    }
    sg_local_give(held);
}

/* ---- semget ------------------------------------------------------------- */

SG_BODY int semget_body(key_t key, int nsems, int flg, const void *caller)
{
    if (!sg_st.active) {
        int r = real_semget(key, nsems, flg);
        if (r < 0 && sg_st.cfg && sg_st.cfg->mode != SG_MODE_OFF)
            sg_diag_semget(key, nsems, flg, errno, caller);
        return r;
    }
    int e0 = errno, created = 0, id;
    if (key != IPC_PRIVATE && (flg & IPC_CREAT) && !(flg & IPC_EXCL)) {
        /* Whether this call creates the set: only the kernel knows, and
         * it keeps no creator pid.  The exclusive attempt creates it
         * exactly when the plain call would; when the key exists it fails
         * with EEXIST before any other check and changes nothing. */
        id = real_semget(key, nsems, flg | IPC_EXCL);
        if (id >= 0)
            created = 1;
        else if (errno == EEXIST)
            id = real_semget(key, nsems, flg);
    } else {
        id = real_semget(key, nsems, flg);
        created = id >= 0 && (key == IPC_PRIVATE || (flg & IPC_CREAT));
    }
    int e = errno;
    if (id < 0) {
        sg_diag_semget(key, nsems, flg, e, caller);
        errno = e;
        return id;
    }
    /* A set this process already uses is recorded: the lookup of a known
     * set writes nothing and takes no lock. */
    if (!created && local_has(id)) {
        errno = e0;
        return id;
    }
    struct sg_callsite cs;
    if (created) /* dladdr: never under the ledger lock */
        sg_callsite_resolve(caller, &cs);
    int held = sg_local_take();
    struct sg_ksem k;
    int have = created || sg_ksem_stat(id, &k) == 0;
    if (have && sg_state_take()) {
        if (created) {
            add_created(key, nsems, flg, id);
            struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SEM, id);
            if (r)
                sg_callsite_store(&cs, r);
        } else
            add_user(&k, SG_USE_LOOKUP);
        sg_state_give();
    }
    if (have)
        local_add(id);
    sg_local_give(held);
    errno = e0;
    return id;
}

int sg_semget(key_t key, int nsems, int flg, const void *caller)
{
    sg_in_hook = 1;
    int r = semget_body(key, nsems, flg, caller);
    sg_in_hook = 0;
    return r;
}

/* ---- semctl ------------------------------------------------------------- */

int sg_semctl_has_arg(int cmd)
{
    switch (cmd & ~0x100 /* IPC_64 */) {
    case SETVAL: case GETALL: case SETALL: case IPC_STAT: case IPC_SET:
    case IPC_INFO: case SEM_INFO: case SEM_STAT: case SEM_STAT_ANY:
        return 1;
    default:
        return 0;
    }
}

SG_BODY int semctl_body(int id, int num, int cmd, union sg_semun arg)
{
    if (!sg_st.active)
        return real_semctl(id, num, cmd, arg);
    int e0 = errno;
    int c = cmd & ~0x100;
    /* Setting values is what a user does (observers only read). */
    if ((c == SETVAL || c == SETALL) && !local_has(id))
        note_use_by_id(id);
    int r = real_semctl(id, num, cmd, arg);
    int e = errno;
    if ((c == IPC_RMID && r == 0) || (r < 0 && (e == EINVAL || e == EIDRM) &&
                                      c != IPC_INFO && c != SEM_INFO && c != SEM_STAT &&
                                      c != SEM_STAT_ANY && local_has(id)))
        forget_set(id);
    errno = r >= 0 ? e0 : e;
    return r;
}

int sg_semctl(int id, int num, int cmd, union sg_semun arg)
{
    sg_in_hook = 1;
    int r = semctl_body(id, num, cmd, arg);
    sg_in_hook = 0;
    return r;
}

/* ---- semop / semtimedop ------------------------------------------------- */

SG_BODY int semop_body(int id, struct sembuf *ops, size_t n, const struct timespec *timeout,
                       int timed)
{
    if (sg_st.active && !local_has(id)) {
        int e0 = errno;
        note_use_by_id(id);
        errno = e0;
    }
    return timed ? real_semtimedop(id, ops, n, timeout) : real_semop(id, ops, n);
}

int sg_semop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout, int timed)
{
    sg_in_hook = 1;
    int r = semop_body(id, ops, n, timeout, timed);
    sg_in_hook = 0;
    return r;
}

/* ---- fork and exit ------------------------------------------------------ */

void sg_sem_after_fork_child(void)
{
    uint64_t now = sg_coarse_now_ns();
    for (uint32_t i = 0; i < sg_st.n_semids; i++) {
        int id = *sg_sem_slot(i);
        if (id < 0)
            continue;
        struct sg_semuser u;
        memset(&u, 0, sizeof u);
        u.semid = id;
        u.pid = sg_st.self.pid;
        u.pidns = sg_st.self.pidns;
        u.start = sg_st.self.start;
        u.flags = SG_USE_INHERITED;
        u.time_ns = now;
        if (sg_seg_find(&sg_st.L, SG_KIND_SEM, id))
            put_user(&u);
    }
}

void sg_sem_exit(void)
{
    for (uint32_t i = 0; i < sg_st.n_semids; i++) {
        if (*sg_sem_slot(i) < 0)
            continue;
        struct sg_semuser *u = sg_semuser_find(&sg_st.L, *sg_sem_slot(i), sg_st.self.pid);
        if (u && u->start == sg_st.self.start)
            sg_semuser_del(&sg_st.L, u);
    }
}

void sg_sem_leave(uint32_t *flags)
{
    for (uint32_t i = 0; i < sg_st.n_semids; i++) {
        flags[i] = SG_USE_INHERITED;
        if (*sg_sem_slot(i) < 0)
            continue;
        struct sg_semuser *u = sg_semuser_find(&sg_st.L, *sg_sem_slot(i), sg_st.self.pid);
        if (!u || u->start != sg_st.self.start)
            continue;
        flags[i] = u->flags;
        sg_semuser_del(&sg_st.L, u);
    }
}

void sg_sem_arrive(const uint32_t *flags)
{
    uint64_t now = sg_coarse_now_ns();
    for (uint32_t i = 0; i < sg_st.n_semids; i++) {
        if (*sg_sem_slot(i) < 0)
            continue;
        struct sg_ksem k;
        if (sg_ksem_stat(*sg_sem_slot(i), &k) != 0)
            continue;
        struct sg_seg *r = rec_for(&k);
        if (!r || sg_semuser_find(&sg_st.L, k.id, sg_st.self.pid))
            continue;
        struct sg_semuser u;
        memset(&u, 0, sizeof u);
        u.semid = k.id;
        u.pid = sg_st.self.pid;
        u.pidns = sg_st.self.pidns;
        u.start = sg_st.self.start;
        u.flags = flags && flags[i] ? flags[i] : SG_USE_INHERITED;
        u.time_ns = now;
        put_user(&u);
    }
}
