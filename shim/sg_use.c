/*
 * sg_use.c - creators and users of semaphore sets and message queues,
 * in this process's lists and in the ledger (see sg_use.h).  No
 * deferral, no changed result: nothing here changes what a call returns.
 */
#define _GNU_SOURCE
#include "sg_use.h"
#include "sg_callsite.h"
#include "sg_diag.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"
#include "sg_locks.h"
#include "sg_log.h"
#include "sg_pidns.h"
#include "sg_real.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

static const char *kind_name(uint32_t kind)
{
    return kind == SG_KIND_MSG ? "message queue" : "semaphore set";
}

/* ---- the kernel's side -------------------------------------------------- */

/* IPC_STAT of object id of kind: 0, or -1 with errno (EINVAL/EIDRM: no
 * such object). */
static int kobj_stat(uint32_t kind, int id, struct sg_kobj *k)
{
    memset(k, 0, sizeof *k);
    if (kind == SG_KIND_MSG) {
        struct sg_kmsg q;
        if (sg_kmsg_stat(id, &q) != 0)
            return -1;
        *k = (struct sg_kobj){ q.key, q.id, q.mode, q.cuid, 0 };
        return 0;
    }
    struct sg_ksem s;
    if (sg_ksem_stat(id, &s) != 0)
        return -1;
    *k = (struct sg_kobj){ s.key, s.id, s.mode, s.cuid, s.nsems };
    return 0;
}

/* 1 if rec describes the kernel's object k (see sg_ksem_is, sg_kmsg_is). */
static int kobj_is(uint32_t kind, const struct sg_kobj *k, const struct sg_seg *rec)
{
    return rec && rec->kind == kind && rec->key == k->key && rec->kcuid == k->cuid &&
           (kind != SG_KIND_SEM || rec->nsems == k->nsems);
}

/* The call through libc, telling whether it created the object: only
 * the kernel knows, and it keeps no creator pid.  For a key with
 * IPC_CREAT and without IPC_EXCL, a lookup first (the kernel checks an
 * existing key alike with or without IPC_CREAT), then the creation made
 * exclusive, which creates exactly when the plain call would.  libc's
 * result with libc's errno. */
static int get(uint32_t kind, key_t key, int nsems, int flg, int *created)
{
    int id;
    *created = 0;
    if (key != IPC_PRIVATE && (flg & IPC_CREAT) && !(flg & IPC_EXCL)) {
        /* Whether the call creates: a lookup first (the kernel checks an
         * existing key alike with or without IPC_CREAT), then, when there
         * is none, the creation made exclusive, and a lookup again when
         * another process made it meanwhile.  Lookups, by far the most
         * frequent (a client's msgget(key, IPC_CREAT) at every start),
         * make one call. */
        int look = flg & ~IPC_CREAT;
        id = kind == SG_KIND_MSG ? real_msgget(key, look) : real_semget(key, nsems, look);
        if (id < 0 && errno == ENOENT) {
            id = kind == SG_KIND_MSG ? real_msgget(key, flg | IPC_EXCL)
                                     : real_semget(key, nsems, flg | IPC_EXCL);
            if (id >= 0)
                *created = 1;
            else if (errno == EEXIST)
                id = kind == SG_KIND_MSG ? real_msgget(key, flg) : real_semget(key, nsems, flg);
        }
    } else {
        id = kind == SG_KIND_MSG ? real_msgget(key, flg) : real_semget(key, nsems, flg);
        *created = id >= 0 && (key == IPC_PRIVATE || (flg & IPC_CREAT));
    }
    return id;
}

/* ---- this process's lists ----------------------------------------------- */

/* Add id to the list of kind (sg_local_lock held): 0, or -1 when it
 * cannot grow (see local_add). */
static int local_put(uint32_t kind, int id)
{
    struct sg_idlist *l = sg_use_list(kind);
    uint32_t n = l->n;
    for (uint32_t i = 0; i < n; i++)
        if (*sg_idlist_slot(l, i) == id)
            return 0;
    for (uint32_t i = 0; i < n; i++)
        if (*sg_idlist_slot(l, i) < 0) {
            __atomic_store_n(sg_idlist_slot(l, i), id, __ATOMIC_RELEASE);
            return 0;
        }
    if (n >= SG_LOCAL_IDS && n % SG_LOCAL_IDS == 0) {
        uint32_t c = n / SG_LOCAL_IDS - 1;
        int32_t *chunk = c < SG_ID_CHUNKS ? malloc(SG_LOCAL_IDS * sizeof *chunk) : NULL;
        if (!chunk) {
            if (!__atomic_exchange_n(&l->said_full, 1, __ATOMIC_RELAXED))
                sg_log(0, "%u %ss in use by this process: no room to list more; "
                          "the use of the others is recorded at each call",
                       n, kind_name(kind));
            return -1;
        }
        __atomic_store_n(&l->more[c], chunk, __ATOMIC_RELEASE);
    }
    __atomic_store_n(sg_idlist_slot(l, n), id, __ATOMIC_RELAXED);
    __atomic_store_n(&l->n, n + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&sg_st.uses_listed, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Put id in index ix (sg_local_lock held), unless it is there: into the
 * first removed or empty slot of its probe. */
static void index_put(uint32_t *ix, int id)
{
    if (sg_idindex_find(ix, id) < SG_ID_INDEX)
        return;
    uint32_t i = sg_idindex_home(id);
    for (uint32_t k = 0; k < SG_ID_INDEX && ix[i] && ix[i] != SG_ID_GONE; k++)
        i = (i + 1) & (SG_ID_INDEX - 1);
    __atomic_store_n(&ix[i], (uint32_t)id + 1, __ATOMIC_RELEASE);
}

/* Put every listed id in index ix (sg_local_lock held). */
static void index_fill(const struct sg_idlist *l, uint32_t *ix)
{
    for (uint32_t i = 0; i < l->n; i++) {
        int32_t id = *sg_idlist_slot((struct sg_idlist *)l, i);
        if (id >= 0)
            index_put(ix, id);
    }
}

/* The list's index, made when the list outgrows its first SG_LOCAL_IDS
 * entries (sg_local_lock held); NULL without memory (the scan serves). */
static void index_build(struct sg_idlist *l)
{
    uint32_t *ix = calloc(SG_ID_INDEX, sizeof *ix);
    if (!ix)
        return;
    index_fill(l, ix);
    l->gone = 0;
    __atomic_store_n(&l->index, ix, __ATOMIC_RELEASE);
}

/* The index made again in place, without its removed ids (sg_local_lock
 * held).  A lock-free reader meanwhile may find an id missing, which
 * sends it to the locked check (sg_use_by_id); never one that is not
 * listed. */
static void index_rebuild(struct sg_idlist *l)
{
    for (uint32_t i = 0; i < SG_ID_INDEX; i++)
        __atomic_store_n(&l->index[i], 0, __ATOMIC_RELAXED);
    index_fill(l, l->index);
    l->gone = 0;
}

/* sg_local_lock held.  0, or -1 when the list cannot grow (past the
 * kernel's 32,768 objects, or out of memory): that object's use by id is
 * then recorded on every call instead, never silently dropped. */
static int local_add(uint32_t kind, int id)
{
    int r = local_put(kind, id);
    struct sg_idlist *l = sg_use_list(kind);
    if (r == 0 && l->index)
        index_put(l->index, id);
    else if (r == 0 && !l->index && l->n > SG_LOCAL_IDS)
        index_build(l);
    return r;
}

/* sg_local_lock held. */
static void local_del(uint32_t kind, int id)
{
    struct sg_idlist *l = sg_use_list(kind);
    for (uint32_t i = 0; i < l->n; i++)
        if (*sg_idlist_slot(l, i) == id)
            __atomic_store_n(sg_idlist_slot(l, i), -1, __ATOMIC_RELEASE);
    uint32_t at = l->index ? sg_idindex_find(l->index, id) : SG_ID_INDEX;
    if (at < SG_ID_INDEX) {
        __atomic_store_n(&l->index[at], SG_ID_GONE, __ATOMIC_RELEASE);
        if (++l->gone > SG_ID_INDEX / 4)
            index_rebuild(l);
    }
}

/* ---- records ------------------------------------------------------------ */

/* A record of object k from kernel facts only (creator unknown). */
static void kernel_rec(struct sg_seg *n, uint32_t kind, const struct sg_kobj *k)
{
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->id = k->id;
    n->key = k->key;
    n->mode = k->mode;
    n->nsems = k->nsems;
    n->kcuid = k->cuid;
    n->cr_uid = k->cuid;
    if (k->key == IPC_PRIVATE)
        n->flags |= SG_SEG_PRIVATE;
}

/* The ledger's record of object k, replacing one of an older object that
 * had the same id (its users go with it).  Ledger lock held.  NULL if
 * full. */
static struct sg_seg *rec_for(uint32_t kind, const struct sg_kobj *k)
{
    struct sg_seg *r = sg_seg_find(&sg_st.L, kind, k->id);
    if (r && kobj_is(kind, k, r))
        return r;
    if (r)
        sg_seg_del(&sg_st.L, r);
    sg_user_del_obj(&sg_st.L, kind, k->id);
    struct sg_seg n;
    kernel_rec(&n, kind, k);
    return sg_state_put_seg(&n);
}

/* 1 if this process created the object of record r: its pid, and its
 * start time (read once, here or at a creation, under the ledger lock:
 * an image after exec made its object before its start mark). */
static int is_creator(const struct sg_seg *r)
{
    if (!(r->flags & SG_SEG_CREATOR) || r->cr_pid != sg_st.self.pid ||
        r->cr_pidns != sg_st.self.pidns)
        return 0;
    return r->cr_start == sg_st.self.start || r->cr_start == sg_proc_self_creator(&sg_st.self);
}

#define PRUNE_INTERVAL_NS (10ull * 1000000000ull)

/* A full user table: drop the records of processes that are gone (a
 * dead user never keeps an object alive, so nothing is lost); after a
 * pass that found none, not again for 10 s in this process.  Ledger lock
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
    for (uint32_t i = 0; i < L->user_cap; i++) {
        struct sg_user *u = &L->users[i];
        while (u->state == SG_REC_LIVE && sg_proc_alive_ns(u->pid, u->start, u->pidns) == 0) {
            sg_user_del(L, u);
            n++;
        }
    }
    sg_log(1, "ledger full: dropped %u records of users of sets and queues that are gone", n);
    /* Again at once while that finds room; not for 10 s after it found none. */
    next = n ? 0 : now + PRUNE_INTERVAL_NS;
    return n;
}

/* A user record of this process for object id, its flags how.  Ledger
 * lock held.  0, or -1 when the table had no room. */
static int put_user(uint32_t kind, int id, uint32_t how, uint64_t now)
{
    struct sg_user u;
    memset(&u, 0, sizeof u);
    u.kind = kind;
    u.id = id;
    u.pid = sg_st.self.pid;
    u.pidns = sg_st.self.pidns;
    u.start = sg_st.self.start;
    u.flags = how;
    u.time_ns = now;
    struct sg_user *r = sg_user_put(&sg_st.L, &u);
    if (!r && prune_dead_users())
        r = sg_user_put(&sg_st.L, &u);
    if (!r) {
        sg_ledger_dropped(&sg_st.L);
        sg_log(1, "ledger full: pid %d's use of %s %d is not recorded", (int)u.pid,
               kind_name(kind), id);
        sg_state_note_full("user");
        return -1;
    }
    return 0;
}

/* Record this process as a user of object k.  Ledger lock held. */
static void add_user(uint32_t kind, const struct sg_kobj *k, uint32_t how)
{
    struct sg_seg *r = rec_for(kind, k);
    if (r && is_creator(r))
        return;
    if (sg_user_find(&sg_st.L, kind, k->id, sg_st.self.pid, sg_st.self.pidns))
        return;
    /* A use not recorded would let the object look orphaned while this
     * process lives: its record says so, and nobody proves it orphaned. */
    if (put_user(kind, k->id, how, sg_coarse_now_ns()) != 0 && r)
        r->flags |= SG_SEG_USERS_LOST;
}

/* Record an object this call created.  Ledger lock held. */
static void add_created(uint32_t kind, key_t key, int nsems, int flg, int id,
                        const struct sg_callsite *cs)
{
    struct sg_seg *old = sg_seg_find(&sg_st.L, kind, id);
    if (old)
        sg_seg_del(&sg_st.L, old);
    sg_user_del_obj(&sg_st.L, kind, id);
    struct sg_seg n;
    memset(&n, 0, sizeof n);
    n.kind = kind;
    n.id = id;
    n.key = key;
    n.mode = (uint32_t)flg & 0777;
    n.nsems = kind == SG_KIND_SEM ? (uint32_t)nsems : 0;
    n.kcuid = sg_st.self.euid;
    n.flags = SG_SEG_CREATOR | (key == IPC_PRIVATE ? SG_SEG_PRIVATE : 0);
    n.cr_pid = sg_st.self.pid;
    n.cr_pidns = sg_st.self.pidns;
    n.cr_uid = sg_st.self.euid;
    n.cr_start = sg_proc_self_creator(&sg_st.self); /* once, under the ledger lock */
    n.cr_time_ns = sg_now_ns();
    memcpy(n.cr_comm, sg_st.self.comm, sizeof n.cr_comm);
    memcpy(n.cr_exe, sg_st.self.exe, sizeof n.cr_exe);
    struct sg_seg *r = sg_state_put_seg(&n);
    if (r)
        sg_callsite_store(cs, r);
}

/* After a get that returned id: record the object as created by this
 * process (created; caller: the call site) or as used (looked up), in
 * the ledger and in this process's list.  Nothing for an object this
 * process already lists and did not create now (no lock taken then).
 * Preserves errno. */
static void got(uint32_t kind, key_t key, int nsems, int flg, int id, int created,
                const void *caller)
{
    /* An object this process already uses is recorded: the lookup of a
     * known one writes nothing and takes no lock. */
    if (!created && sg_use_has(kind, id))
        return;
    int e0 = errno;
    struct sg_callsite cs;
    if (created) /* dladdr: never under the ledger lock */
        sg_callsite_resolve(caller, &cs);
    int held = sg_local_take();
    struct sg_kobj k;
    int have = created || kobj_stat(kind, id, &k) == 0;
    if (have && sg_state_take()) {
        if (created)
            add_created(kind, key, nsems, flg, id, &cs);
        else
            add_user(kind, &k, SG_USE_LOOKUP);
        sg_state_give();
    }
    if (have)
        local_add(kind, id);
    sg_local_give(held);
    errno = e0;
}

void sg_use_by_id(uint32_t kind, int id)
{
    int e0 = errno, was = sg_in_hook;
    sg_in_hook = 1;
    struct sg_kobj k;
    int held = sg_local_take();
    /* (With the list full, every use comes here: add_user finds the record.) */
    if (!sg_use_has(kind, id)) {
        if (kobj_stat(kind, id, &k) == 0) {
            if (sg_state_take()) {
                add_user(kind, &k, SG_USE_BYID);
                sg_state_give();
            }
            local_add(kind, id);
        } else if (errno == EACCES) {
            /* There, but this process may not read it (no MSG_STAT_ANY:
             * before Linux 4.17, or an LSM's refusal): its use cannot be
             * recorded, so its record, if any, says who uses it cannot be
             * told (never orphaned while this process lives); not tried
             * again on every call. */
            if (sg_state_take()) {
                struct sg_seg *r = sg_seg_find(&sg_st.L, kind, id);
                if (r)
                    r->flags |= SG_SEG_USERS_LOST;
                sg_state_give();
            }
            local_add(kind, id);
        }
    }
    sg_local_give(held);
    sg_in_hook = was;
    errno = e0;
}

void sg_use_forget(uint32_t kind, int id)
{
    int held = sg_local_take();
    struct sg_kobj k;
    /* Only when the kernel confirms it gone: EINVAL also answers a bad
     * semaphore number of a set that is there, which stays listed. */
    if (kobj_stat(kind, id, &k) != 0 && (errno == EINVAL || errno == EIDRM)) {
        local_del(kind, id);
        if (sg_state_take()) {
            struct sg_seg *r = sg_seg_find(&sg_st.L, kind, id);
            if (r)
                sg_seg_del(&sg_st.L, r);
            sg_user_del_obj(&sg_st.L, kind, id);
            sg_state_give();
        }
    }
    sg_local_give(held);
}

/* ---- fork, exit, a change of ledger ------------------------------------- */

static const uint32_t kinds[2] = { SG_KIND_SEM, SG_KIND_MSG };

void sg_use_after_fork_child(void)
{
    uint64_t now = sg_coarse_now_ns();
    for (int t = 0; t < 2; t++) {
        struct sg_idlist *l = sg_use_list(kinds[t]);
        for (uint32_t i = 0; i < l->n; i++) {
            int id = *sg_idlist_slot(l, i);
            struct sg_seg *r = id >= 0 ? sg_seg_find(&sg_st.L, kinds[t], id) : NULL;
            if (r && put_user(kinds[t], id, SG_USE_INHERITED, now) != 0)
                r->flags |= SG_SEG_USERS_LOST;
        }
    }
}

void sg_use_exit(void)
{
    for (int t = 0; t < 2; t++) {
        struct sg_idlist *l = sg_use_list(kinds[t]);
        for (uint32_t i = 0; i < l->n; i++) {
            int id = *sg_idlist_slot(l, i);
            if (id < 0)
                continue;
            struct sg_user *u = sg_user_find(&sg_st.L, kinds[t], id, sg_st.self.pid, sg_st.self.pidns);
            if (u && u->start == sg_st.self.start)
                sg_user_del(&sg_st.L, u);
        }
    }
}

void sg_use_leave(uint32_t *flags)
{
    uint32_t f = 0;
    for (int t = 0; t < 2; t++) {
        struct sg_idlist *l = sg_use_list(kinds[t]);
        for (uint32_t i = 0; i < l->n; i++, f++) {
            flags[f] = SG_USE_INHERITED;
            int id = *sg_idlist_slot(l, i);
            if (id < 0)
                continue;
            struct sg_user *u = sg_user_find(&sg_st.L, kinds[t], id, sg_st.self.pid, sg_st.self.pidns);
            if (!u || u->start != sg_st.self.start)
                continue;
            flags[f] = u->flags;
            sg_user_del(&sg_st.L, u);
        }
    }
}

void sg_use_arrive(const uint32_t *flags)
{
    uint64_t now = sg_coarse_now_ns();
    uint32_t f = 0;
    for (int t = 0; t < 2; t++) {
        struct sg_idlist *l = sg_use_list(kinds[t]);
        for (uint32_t i = 0; i < l->n; i++, f++) {
            int id = *sg_idlist_slot(l, i);
            struct sg_kobj k;
            if (id < 0 || kobj_stat(kinds[t], id, &k) != 0)
                continue;
            struct sg_seg *r = rec_for(kinds[t], &k);
            if (!r || sg_user_find(&sg_st.L, kinds[t], k.id, sg_st.self.pid, sg_st.self.pidns))
                continue;
            if (put_user(kinds[t], k.id, flags && flags[f] ? flags[f] : SG_USE_INHERITED, now) != 0)
                r->flags |= SG_SEG_USERS_LOST;
        }
    }
}

static void diag(uint32_t kind, key_t key, int nsems, int flg, int err, const void *caller)
{
    if (kind == SG_KIND_MSG)
        sg_diag_msgget(key, flg, err, caller);
    else
        sg_diag_semget(key, nsems, flg, err, caller);
}

int sg_use_getcall(uint32_t kind, key_t key, int nsems, int flg, const void *caller)
{
    if (!sg_st.active) {
        int r = kind == SG_KIND_MSG ? real_msgget(key, flg) : real_semget(key, nsems, flg);
        if (r < 0 && sg_st.cfg && sg_st.cfg->mode != SG_MODE_OFF)
            diag(kind, key, nsems, flg, errno, caller); /* preserves errno */
        return r;
    }
    int e0 = errno, created;
    int id = get(kind, key, nsems, flg, &created);
    if (id < 0) {
        diag(kind, key, nsems, flg, errno, caller);
        return id;
    }
    got(kind, key, nsems, flg, id, created, caller);
    errno = e0;
    return id;
}
