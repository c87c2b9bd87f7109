/*
 * sg_state.c - the process's state (sg_st), its first-call setup, and the
 * gate to the ledger: the lock with its back-off, room for records when a
 * table is full.  Every other file of the library reaches the ledger
 * through here; nothing here calls up into them.
 */
#define _GNU_SOURCE
#include "sg_state.h"
#include "sg_compiler.h"
#include "sg_kernel.h"
#include "sg_log.h"
#include "sg_pidns.h"
#include "sg_real.h"
#include "sg_reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct sg_state sg_st __attribute__((aligned(64)));
__thread int sg_in_hook __attribute__((tls_model("initial-exec")));

static int said_unusable, said_config;

#define LOCK_BACKOFF_NS (5ull * 1000000000ull)

/* Put this process's pid namespace, with its ancestors, in the ledger's
 * table (sg_pidns.h) unless it is there: readers in an ancestor
 * namespace need the chain to prove one of its processes dead. */
SG_COLD void sg_state_note_pidns(void)
{
    uint32_t ns = sg_st.self.pidns;
    for (uint32_t i = 0; ns && i < SG_PIDNS_CAP; i++)
        if (__atomic_load_n(&sg_st.L.pidns[i].state, __ATOMIC_ACQUIRE) == SG_REC_LIVE &&
            sg_st.L.pidns[i].ino == ns)
            return;
    uint32_t anc[SG_PIDNS_ANC];
    int n = sg_pidns_ancestors(anc, SG_PIDNS_ANC);
    if (ns && sg_ledger_lock(&sg_st.L) == 0) {
        sg_pidns_note(&sg_st.L, ns, anc, (uint32_t)n);
        sg_ledger_unlock(&sg_st.L);
    }
}

SG_COLD void sg_state_init(void)
{
    const struct sg_config *cfg = sg_config_get();
    sg_log_use(cfg);
    if (cfg->problems[0])
        sg_log_once(&said_config, "configuration: %s", cfg->problems);
    /* Off: sg_st is not written (its cfg stays NULL, which reads as off),
     * so that its page is never copied. */
    if (cfg->mode == SG_MODE_OFF)
        return;
    sg_st.cfg = cfg;
    sg_proc_self(&sg_st.self);
    sg_st.self.pidns = sg_pidns_self_as(sg_st.self.pid);
    char err[PATH_MAX + 200];
    uint64_t ns = sg_ipcns_ino();
    if (!ns) {
        /* Every namespace's ledger would be named alike: none is used. */
        sg_log_once(&said_unusable, "cannot tell this process's IPC namespace (/proc/self/ns/ipc "
                                    "unreadable); passing every call through unchanged");
        return;
    }
    /* A ledger is shared memory backed by a file: only in memory. */
    int rc = sg_ledger_open_own_mem(&sg_st.L, sg_st.cfg->ledger_dir, ns, err, sizeof err);
    if (rc == -3) {
        sg_log_once(&said_unusable,
                    "ledger directory %s is on %s, not tmpfs: every process would write its "
                    "ledger through to disk (milliseconds per process); set SHMGUARD_LEDGER to a "
                    "directory on tmpfs, such as the default " SG_LEDGER_DIR_DEFAULT
                    "; passing every call through unchanged",
                    sg_st.cfg->ledger_dir, err);
        return;
    }
    if (rc != 0) {
        sg_log_once(&said_unusable, "%s; passing every call through unchanged", err);
        return;
    }
    sg_local_init(&sg_st.local, sg_st.local_first);
    sg_ledger_claim_ns(sg_st.self.pidns);
    sg_state_note_pidns();
    sg_st.defer = sg_st.cfg->mode == SG_MODE_DEFER;
    sg_st.under_root = sg_st.defer && sg_st.L.owner != 0;
    __atomic_store_n(&sg_st.active, 1, __ATOMIC_RELEASE);
    if (cfg->debug >= 2) /* not even a call otherwise: its page is elsewhere */
        sg_log(2, "ledger %s, mode %s", sg_st.L.path, sg_mode_name(sg_st.cfg->mode));
}

/* Threads between sg_state_take and sg_state_give, and whether the
 * ledger is being exchanged (sg_core_rehome): while it is, every take
 * fails (the call passes through), and the exchange waits until no thread
 * is inside the ledger.  Only the locked paths count themselves (the hot
 * paths that read the ledger without the lock are excluded by
 * sg_local_lock, or validate what they read; see sg_core_rehome). */
SG_FIRST_DATA static uint32_t take_users, rehoming;

int sg_state_gate_close(void)
{
    __atomic_store_n(&rehoming, 1, __ATOMIC_SEQ_CST);
    /* Every ledger lock wait ends within 2 s. */
    for (int i = 0; __atomic_load_n(&take_users, __ATOMIC_SEQ_CST) && i < 3000; i++) {
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return __atomic_load_n(&take_users, __ATOMIC_SEQ_CST) == 0;
}

void sg_state_gate_open(void) { __atomic_store_n(&rehoming, 0, __ATOMIC_SEQ_CST); }

void sg_state_after_fork_child(void)
{
    /* Only the forking thread goes on: the others' takes never end. */
    __atomic_store_n(&take_users, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&rehoming, 0, __ATOMIC_RELAXED);
}

/* Take the ledger lock for this call; 0 means pass the call through. */
int sg_state_take(void)
{
    if (!__atomic_load_n(&sg_st.active, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t until = __atomic_load_n(&sg_st.degraded_until, __ATOMIC_RELAXED);
    if (until) {
        if (sg_mono_ns() < until)
            return 0;
        __atomic_store_n(&sg_st.degraded_until, 0, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&take_users, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rehoming, __ATOMIC_SEQ_CST) || !sg_st.active) {
        __atomic_sub_fetch(&take_users, 1, __ATOMIC_RELEASE);
        return 0;
    }
    if (sg_ledger_lock(&sg_st.L) == 0)
        return 1;
    __atomic_sub_fetch(&take_users, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&sg_st.degraded_until, sg_mono_ns() + LOCK_BACKOFF_NS, __ATOMIC_RELAXED);
    sg_log_once(&sg_st.said_lock,
                "ledger lock of %s not available within 2 s (holder stopped or ledger "
                "damaged); passing calls through for 5 s at a time",
                sg_st.L.path);
    return 0;
}

void sg_state_give(void)
{
    sg_ledger_unlock(&sg_st.L);
    __atomic_sub_fetch(&take_users, 1, __ATOMIC_RELEASE);
}

/* ---- records, with reconciliation when a table is full ----------------- */

#define RECONCILE_INTERVAL_NS (10ull * 1000000000ull)

/* A full table is most often full of records the kernel has forgotten
 * (exec, SIGKILL, ipcrm): drop those before giving a record up.  Again at
 * once while that finds room; after a pass that found none (a table full
 * of live records), not for 10 s in this process, so that each call does
 * not pay a pass over the tables.  Ledger lock held. */
int sg_state_reclaim(void)
{
    static uint64_t next;
    uint64_t now = sg_coarse_mono_ns();
    if (now < next)
        return 0;
    struct sg_reconcile_stats st;
    if (sg_reconcile(&sg_st.L, &st) != 0)
        return 0;
    sg_log(1, "ledger full: dropped %u stale segment and %u stale attachment records",
           st.segs_dropped, st.atts_dropped);
    int room = st.segs_dropped + st.atts_dropped + st.sems_dropped > 0;
    next = room ? 0 : now + RECONCILE_INTERVAL_NS;
    return room;
}

void sg_state_note_full(const char *table)
{
    static int once;
    sg_log_once(&once,
                "the ledger %s is full (its %s table): calls go on unchanged, but what they do "
                "is no longer all recorded; `shmguard ledger --check` tells how many records were "
                "not stored",
                sg_st.L.path, table);
}

struct sg_seg *sg_state_put_seg(const struct sg_seg *rec)
{
    struct sg_seg *r = sg_seg_put(&sg_st.L, rec);
    if (!r && sg_state_reclaim())
        r = sg_seg_put(&sg_st.L, rec);
    if (!r) {
        sg_ledger_dropped(&sg_st.L);
        sg_state_note_full("segment and semaphore set");
    }
    return r;
}

