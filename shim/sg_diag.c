/*
 * sg_diag.c - the diagnosis of a shmget that failed on an IPC limit
 * (see sg_diag.h).
 */
#define _GNU_SOURCE
#include "sg_diag.h"
#include "sg_out.h"
#include "sg_pidns.h"
#include "sg_analysis.h"
#include "sg_callsite.h"
#include "sg_kernel.h"
#include "sg_ksem.h"
#include "sg_log.h"
#include "sg_proc.h"
#include "sg_real.h"
#include "sg_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <time.h>

#define DIAG_BURST 5            /* messages at once, across processes */
#define DIAG_REFILL_S 10        /* one more message every 10 s */
#define AN_BURST 8              /* EEXIST analyses at once, across processes */
#define AN_REFILL_S 1           /* one more every second */
#define MAX_HOLDERS 3

/* "shmget(key=0x..., size=N, flags=...) failed with ENOSPC (...)", or the
 * same for semget (nsems) when sem. */
static void describe_call(struct sg_out *o, int sem, key_t key, long long size, int flg, int err)
{
    char flags[128] = "";
    size_t f = 0;
    static const struct { int bit; const char *name; } names[] = {
        { IPC_CREAT, "IPC_CREAT" }, { IPC_EXCL, "IPC_EXCL" },
        { SHM_HUGETLB, "SHM_HUGETLB" }, { SHM_NORESERVE, "SHM_NORESERVE" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((flg & names[i].bit) && (!sem || i < 2))
            f += (size_t)snprintf(flags + f, sizeof flags - f, "%s|", names[i].name);
    snprintf(flags + f, sizeof flags - f, "0%o", flg & 0777);
    char k[32];
    if (key == IPC_PRIVATE)
        snprintf(k, sizeof k, "IPC_PRIVATE");
    else
        snprintf(k, sizeof k, "0x%08x", (unsigned)key);
    char n[32];
    if (sem)
        snprintf(n, sizeof n, "nsems=%lld", size);
    else
        snprintf(n, sizeof n, "size=%llu", (unsigned long long)size);
    sg_out_say(o, "%s(key=%s, %s, flags=%s) failed with %s (\"%s\")", sem ? "semget" : "shmget", k, n,
        flags,
        err == ENOSPC ? "ENOSPC" : err == EINVAL ? "EINVAL" : err == EEXIST ? "EEXIST"
        : err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == ENOMEM ? "ENOMEM" : "error",
        strerror(err));
}

static void holders(struct sg_out *o, const struct sg_view *v)
{
    struct sg_holder h[MAX_HOLDERS];
    size_t n = sg_view_holders(v, h, MAX_HOLDERS);
    if (!n)
        return;
    sg_out_say(o, "\n  Largest holders:");
    for (size_t i = 0; i < n; i++) {
        char b[32];
        sg_fmt_bytes(b, sizeof b, h[i].t.bytes);
        sg_out_say(o, "%s %s (uid %u%s) %zu segment%s, %s", i ? ";" : "", h[i].comm[0] ? h[i].comm : "?",
            (unsigned)h[i].uid, h[i].comm[0] ? "" : ", creator unknown", h[i].t.count,
            h[i].t.count == 1 ? "" : "s", b);
    }
    sg_out_say(o, ".");
}

static void orphans(struct sg_out *o, const struct sg_view *v)
{
    struct sg_tally t[5];
    sg_view_tally(v, t);
    const struct sg_tally *orph = &t[SG_ST_ORPHANED];
    if (orph->count) {
        char b[32];
        sg_fmt_bytes(b, sizeof b, orph->bytes);
        sg_out_say(o, "\n  Orphaned: %zu segment%s, %s (nobody attached, creator dead).", orph->count,
            orph->count == 1 ? "" : "s", b);
        sg_out_say(o, "\n  Free them safely: shmguard gc --dry-run, then shmguard gc");
    } else
        sg_out_say(o, "\n  No orphans: every segment is attached or its creator may be alive.");
    if (t[SG_ST_PENDING].count)
        sg_out_say(o, "\n  Pending removals (done at their last detach): %zu.", t[SG_ST_PENDING].count);
}

static void enospc(struct sg_out *o, const struct sg_view *v, size_t size)
{
    const struct sg_limits *l = &v->lim;
    uint64_t need = (size + l->page_size - 1) / l->page_size;
    char used[32], lim[32], needb[32];
    if (l->shm_tot + need > l->shmall) {
        sg_fmt_bytes(used, sizeof used, l->shm_tot * l->page_size);
        sg_fmt_bytes(lim, sizeof lim, l->shmall * l->page_size);
        sg_fmt_bytes(needb, sizeof needb, need * l->page_size);
        sg_out_say(o, "\n  This is not a full disk: the System V shared memory limit kernel.shmall is "
               "exhausted: %" PRIu64 " of %" PRIu64 " pages in use (%s of %s); this call needs %" PRIu64
               " more (%s).",
            l->shm_tot, l->shmall, used, lim, need, needb);
        holders(o, v);
        orphans(o, v);
        sg_out_say(o, "\n  Or raise the limit: sysctl -w kernel.shmall=%" PRIu64, l->shm_tot + need > l->shmall * 2
                                                                              ? l->shm_tot + need
                                                                              : l->shmall * 2);
    } else if (l->used_ids >= l->shmmni) {
        sg_out_say(o, "\n  This is not a full disk: the System V shared memory limit kernel.shmmni is "
               "exhausted: %" PRIu64 " of %" PRIu64 " segments in use.",
            l->used_ids, l->shmmni);
        holders(o, v);
        orphans(o, v);
        uint64_t ceil, want = sg_ipcmni_raise(l->shmmni, l->used_ids, &ceil);
        if (want)
            sg_out_say(o, "\n  Or raise the limit: sysctl -w kernel.shmmni=%" PRIu64, want);
        else
            sg_out_say(o, "\n  kernel.shmmni is at the kernel's ceiling (%" PRIu64 "): only removing "
                   "segments helps.", ceil);
    } else {
        sg_out_say(o, "\n  This is not a full disk: a System V shared memory limit was exhausted at the "
               "time of the call (now kernel.shmmni %" PRIu64 "/%" PRIu64 " segments, kernel.shmall %" PRIu64
               "/%" PRIu64 " pages).",
            l->used_ids, l->shmmni, l->shm_tot, l->shmall);
        holders(o, v);
        orphans(o, v);
    }
}

/* Segment s's creator: "pid 1234 (cmd, uid 0, created 2026-11-23
 * 13:40:01, 5 min ago)". */
static void creator(struct sg_out *o, const struct sg_seginfo *s)
{
    int known = s->rec && (s->rec->flags & SG_SEG_CREATOR);
    int pid = known ? s->rec->cr_pid : s->k.cpid;
    time_t t = known ? (time_t)(s->rec->cr_time_ns / 1000000000u) : (time_t)s->k.ctime;
    struct tm tm;
    char when[64];
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    long age = (long)(time(NULL) - t);
    char ago[32];
    if (age < 120)
        snprintf(ago, sizeof ago, "%ld s ago", age < 0 ? 0 : age);
    else if (age < 7200)
        snprintf(ago, sizeof ago, "%ld min ago", age / 60);
    else
        snprintf(ago, sizeof ago, "%ld h ago", age / 3600);
    sg_out_say(o, "pid %d (%s, uid %u, created %s, %s)", pid, s->comm[0] ? s->comm : "?",
        (unsigned)s->k.cuid, when, ago);
}

static const char *alive_word(const struct sg_seginfo *s)
{
    return s->creator_alive == 1 ? "alive" : s->creator_alive == 0 ? "dead"
           : s->creator_alive == SG_ALIVE_HIDDEN ? "not visible from this pid namespace"
                                                 : "maybe alive";
}

int sg_diag_compose(char *buf, size_t n, key_t key, size_t size, int flg, int err,
                    const struct sg_ledger *own, int debug)
{
    struct sg_out o = { buf, n, 0 };
    buf[0] = '\0';
    if (err != ENOSPC && err != EINVAL && err != EEXIST) {
        if (debug < 1)
            return 0;
        describe_call(&o, 0, key, (long long)size, flg, err);
        return 1;
    }
    struct sg_view v;
    if (sg_view_build(&v, NULL, own) != 0 || !v.have_limits) {
        if (v.seg)
            sg_view_free(&v);
        if (err != ENOSPC && debug < 1)
            return 0;
        describe_call(&o, 0, key, (long long)size, flg, err);
        if (err == ENOSPC)
            sg_out_say(&o, "\n  This is not a full disk: a System V IPC limit (kernel.shmmni or "
                    "kernel.shmall) is exhausted; see: shmguard doctor");
        return 1;
    }
    int said = 1;
    const struct sg_limits *l = &v.lim;
    /* The existing segment of the key, if any (a lookup has no effect). */
    const struct sg_seginfo *held = NULL;
    if (key != IPC_PRIVATE && (err == EINVAL || err == EEXIST)) {
        int id = real_shmget(key, 0, 0);
        if (id >= 0)
            held = sg_view_find(&v, id);
    }
    describe_call(&o, 0, key, (long long)size, flg, err);
    if (err == ENOSPC) {
        enospc(&o, &v, size);
    } else if (err == EINVAL && held && held->k.size < size) {
        char have[32], want[32];
        sg_fmt_bytes(have, sizeof have, held->k.size);
        sg_fmt_bytes(want, sizeof want, size);
        sg_out_say(&o, "\n  Key 0x%08x already names segment %d of %" PRIu64 " bytes (%s), smaller than "
                "the %zu bytes (%s) asked; its creator: ",
            (unsigned)key, held->k.id, held->k.size, have, size, want);
        creator(&o, held);
        if (held->state == SG_ST_PENDING)
            sg_out_say(&o, ", %s. Its removal is pending until its last detach (the key still resolves "
                    "meanwhile): ask for at most %" PRIu64 " bytes, or create with IPC_CREAT, "
                    "which carries the removal out and makes a new segment.",
                alive_word(held), held->k.size);
        else
            sg_out_say(&o, ", %s. Ask for at most %" PRIu64 " bytes, or remove the old segment first%s.",
                alive_word(held), held->k.size,
                held->state == SG_ST_ORPHANED ? " (it is an orphan: shmguard gc --dry-run)" : "");
    } else if (err == EINVAL && !held && (size > l->shmmax || size < l->shmmin)) {
        char want[32], lim[32];
        sg_fmt_bytes(want, sizeof want, size);
        if (size > l->shmmax) {
            sg_fmt_bytes(lim, sizeof lim, l->shmmax);
            sg_out_say(&o, "\n  The size asked, %zu bytes (%s), is above the System V shared memory limit "
                    "kernel.shmmax, %" PRIu64 " bytes (%s).",
                size, want, l->shmmax, lim);
            sg_out_say(&o, "\n  Raise the limit: sysctl -w kernel.shmmax=%zu", size);
        } else
            sg_out_say(&o, "\n  The size asked, %zu bytes, is below the smallest segment the kernel makes "
                    "(SHMMIN, %" PRIu64 " byte%s).",
                size, l->shmmin, l->shmmin == 1 ? "" : "s");
    } else if (err == EEXIST && held && held->state == SG_ST_ORPHANED) {
        char b[32];
        sg_fmt_bytes(b, sizeof b, held->k.size);
        sg_out_say(&o, "\n  Key 0x%08x is held by segment %d (%s), an orphan: nobody is attached and its "
                "creator, ",
            (unsigned)key, held->k.id, b);
        creator(&o, held);
        sg_out_say(&o, ", is dead.\n  Free it safely: shmguard gc --dry-run, then shmguard gc");
    } else if (debug >= 1) {
        if (held) {
            sg_out_say(&o, "\n  Key 0x%08x names segment %d (%s, nattch %" PRIu64 "); its creator: ",
                (unsigned)key, held->k.id, sg_segstate_name(held->state), held->k.nattch);
            creator(&o, held);
            sg_out_say(&o, ", %s.", alive_word(held));
        }
    } else
        said = 0;
    sg_view_free(&v);
    return said;
}

/* The shared token bucket in the ledger header (lock held).  Returns 1 if
 * a message may go out, storing the count of those suppressed since. */
/* A token bucket kept in two header fields: burst tokens at once, one
 * more every period seconds.  1 and a token taken, or 0. */
static int bucket_take(uint64_t *refill_s, uint32_t *tokens, uint32_t burst, uint64_t period)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now = (uint64_t)ts.tv_sec;
    if (*refill_s == 0 || now < *refill_s) {
        *refill_s = now;
        *tokens = burst;
    } else if (now - *refill_s >= period) {
        uint64_t add = (now - *refill_s) / period;
        *tokens = (uint32_t)(*tokens + add > burst ? burst : *tokens + add);
        *refill_s += add * period;
    }
    if (*tokens == 0)
        return 0;
    (*tokens)--;
    return 1;
}

static int diag_token(struct sg_hdr *h, uint32_t *suppressed)
{
    if (!bucket_take(&h->diag_refill_s, &h->diag_tokens, DIAG_BURST, DIAG_REFILL_S)) {
        h->diag_suppressed++;
        return 0;
    }
    *suppressed = h->diag_suppressed;
    h->diag_suppressed = 0;
    return 1;
}

/* Without a usable ledger: the same bucket, per process, behind a
 * try-lock (see sg_locks.h: never waited on, so never a hang). */
static struct sg_hdr local_hdr;
static int local_lock;

static int local_token(uint32_t *suppressed)
{
    if (__atomic_exchange_n(&local_lock, 1, __ATOMIC_ACQUIRE))
        return 0;
    int ok = diag_token(&local_hdr, suppressed);
    __atomic_store_n(&local_lock, 0, __ATOMIC_RELEASE);
    return ok;
}

int sg_diag_classify(key_t key, size_t size, int err, uint64_t *used, uint64_t *max)
{
    *used = *max = 0;
    if (err == ENOSPC) {
        struct sg_limits l;
        if (sg_limits_read(&l) != 0)
            return SG_LIM_OTHER;
        uint64_t need = (size + l.page_size - 1) / l.page_size;
        if (l.shm_tot + need > l.shmall) {
            *used = l.shm_tot;
            *max = l.shmall;
            return SG_LIM_SHMALL;
        }
        if (l.used_ids >= l.shmmni) {
            *used = l.used_ids;
            *max = l.shmmni;
            return SG_LIM_SHMMNI;
        }
        return SG_LIM_OTHER;
    }
    if (err != EINVAL)
        return -1;
    struct shmid_ds ds;
    int id = key == IPC_PRIVATE ? -1 : real_shmget(key, 0, 0);
    if (id >= 0 && sg_kernel_stat(id, &ds) == 0) {
        if (ds.shm_segsz >= size)
            return -1;
        *used = ds.shm_segsz;
        *max = ds.shm_segsz;
        return SG_LIM_SMALLER;
    }
    struct shminfo info;
    if (real_shmctl(0, IPC_INFO, (struct shmid_ds *)&info) < 0)
        return -1;
    *used = size;
    if (size > info.shmmax) {
        *max = info.shmmax;
        return SG_LIM_SHMMAX;
    }
    if (size < info.shmmin) {
        *max = info.shmmin;
        return SG_LIM_SHMMIN;
    }
    return -1;
}

/* Whether a failure may deserve a message at debug 0, decided with a
 * syscall or two, so that routine failures (EEXIST from a create-or-open
 * pattern with a live holder) cost no analysis and no rate-limit token.
 * lim: the class from sg_diag_classify. */
static int worth_analysis(key_t key, int err, int lim)
{
    if (err == ENOSPC || err == EINVAL)
        return lim >= 0;
    if (err != EEXIST)
        return 0;
    /* EEXIST: only an unattached holder can be an orphan; whether its
     * creator is dead is for the analysis to prove. */
    struct shmid_ds ds;
    int id = key == IPC_PRIVATE ? -1 : real_shmget(key, 0, 0);
    return id >= 0 && sg_kernel_stat(id, &ds) == 0 && ds.shm_nattch == 0;
}

/* Keep a limit failure in the ledger's event ring, where `shmguard check`
 * and `doctor` find it.  Takes the loader's lock (dladdr) before the
 * ledger's, never both. */
static void record_event(uint32_t kind, key_t key, size_t size, int flg, int err, int lim,
                         uint64_t used, uint64_t max, const void *caller)
{
    struct sg_callsite cs;
    sg_callsite_resolve(caller, &cs);
    struct sg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.err = err;
    ev.limit = (uint32_t)lim;
    ev.pid = sg_st.self.pid;
    ev.uid = sg_st.self.euid;
    ev.start = sg_st.self.start;
    ev.time_ns = sg_now_ns();
    ev.key = key;
    ev.flags = flg;
    ev.size = size;
    ev.used = used;
    ev.max = max;
    ev.site_off = cs.off;
    memcpy(ev.site_obj, cs.obj, sizeof ev.site_obj);
    memcpy(ev.site_sym, cs.sym, sizeof ev.site_sym - 1); /* ev is zeroed: terminated */
    if (sg_state_take()) {
        sg_proc_self_names(&sg_st.self); /* once, under the ledger lock */
        memcpy(ev.comm, sg_st.self.comm, sizeof ev.comm);
        sg_event_add(&sg_st.L, &ev);
        sg_state_give();
    }
}

/* A failed call, for the composing functions. */
struct call {
    uint32_t kind;              /* SG_KIND_SHM, _SEM or _MSG: which get */
    key_t key;
    size_t size;                /* bytes, or semaphores */
    int flg, err;
};

/* Whether one more EEXIST may be analysed: a second bucket in the same
 * ledger header (AN_BURST, then one a second), so that neither a loop in
 * one process nor a crash loop of short-lived ones pays for an analysis
 * per call; without a ledger, this process's own.  Caller holds emit's
 * composing flag (which guards local_hdr's an_* fields). */
static int analysis_budget(void)
{
    if (sg_st.active && sg_state_take()) {
        struct sg_hdr *h = sg_st.L.hdr;
        int ok = bucket_take(&h->an_refill_s, &h->an_tokens, AN_BURST, AN_REFILL_S);
        sg_state_give();
        return ok;
    }
    return bucket_take(&local_hdr.an_refill_s, &local_hdr.an_tokens, AN_BURST, AN_REFILL_S);
}

/* A token from the shared bucket, or the per-process one without a
 * ledger; 0 (and the failure counted as suppressed) when there is none. */
static int take_token(uint32_t *suppressed)
{
    int ok;
    if (sg_st.active && sg_state_take()) {
        ok = diag_token(sg_st.L.hdr, suppressed);
        sg_state_give();
    } else
        ok = local_token(suppressed);
    return ok;
}

/* Count a message that will not go out, in the bucket diag_token uses. */
static void count_suppressed(void)
{
    if (sg_st.active && sg_state_take()) {
        sg_st.L.hdr->diag_suppressed++;
        sg_state_give();
        return;
    }
    if (__atomic_exchange_n(&local_lock, 1, __ATOMIC_ACQUIRE))
        return;
    local_hdr.diag_suppressed++;
    __atomic_store_n(&local_lock, 0, __ATOMIC_RELEASE);
}

static int busy; /* one composition at a time, in buf (a try-lock) */

int sg_diag_enter(void) { return !__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE); }
void sg_diag_leave(void) { __atomic_store_n(&busy, 0, __ATOMIC_RELEASE); }

/* Compose the call's diagnosis and log it, within the rate limit.  A
 * limit failure (and, at debug >= 1, any failure but EEXIST) always has
 * a message: it takes a token from the shared bucket first and is counted
 * as suppressed without one, which also bounds what a crash loop costs.
 * An EEXIST has a message only when the analysis finds an orphan: it is
 * analysed within a budget of its own (analysis_budget) and takes a
 * token only then, so a create-or-open loop cannot use up the burst that
 * a later limit failure needs.  While another thread composes, a failure
 * is skipped rather than waited for.  errno is the caller's to save. */
static void emit(const struct call *c, int debug)
{
    static char buf[8192];
    int eexist = c->err == EEXIST;
    if (!sg_diag_enter()) {
        if (!eexist)
            count_suppressed();
        return;
    }
    uint32_t suppressed = 0;
    if (eexist ? !analysis_budget() : !take_token(&suppressed))
        goto out;
    /* The analysis reads the own ledger under its lock: records are then
     * consistent, and /proc reads take no other lock. */
    int held = sg_st.active && sg_state_take();
    const struct sg_ledger *own = held ? &sg_st.L : NULL;
    int worth;
    if (c->kind == SG_KIND_MSG)
        worth = sg_diag_compose_msg(buf, sizeof buf, c->key, c->flg, c->err, own, debug);
    else if (c->kind == SG_KIND_SEM)
        worth = sg_diag_compose_sem(buf, sizeof buf, c->key, (int)c->size, c->flg, c->err, own,
                                    debug);
    else
        worth = sg_diag_compose(buf, sizeof buf, c->key, c->size, c->flg, c->err, own, debug);
    if (held)
        sg_state_give();
    if (worth && (!eexist || take_token(&suppressed))) {
        if (suppressed)
            sg_log(0, "%s\n  (%u similar message%s suppressed before this one.)", buf, suppressed,
                   suppressed == 1 ? "" : "s");
        else
            sg_log(0, "%s", buf);
    }
out:
    sg_diag_leave();
}

void sg_diag_after_fork_child(void)
{
    __atomic_store_n(&busy, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&local_lock, 0, __ATOMIC_RELAXED);
}

void sg_diag_shmget(key_t key, size_t size, int flg, int err, const void *caller)
{
    int saved = errno;
    int debug = sg_st.cfg ? sg_st.cfg->debug : 0;
    uint64_t used, max;
    int lim = sg_diag_classify(key, size, err, &used, &max);
    if (lim >= 0 && sg_st.active)
        record_event(SG_KIND_SHM, key, size, flg, err, lim, used, max, caller);
    if (debug >= 1 || worth_analysis(key, err, lim)) {
        struct call c = { SG_KIND_SHM, key, size, flg, err };
        emit(&c, debug);
    }
    errno = saved;
}

/* ---- semget ------------------------------------------------------------- */

int sg_diag_classify_sem(key_t key, int nsems, int err, uint64_t *used, uint64_t *max)
{
    *used = *max = 0;
    struct sg_semlimits l;
    if (err == ENOSPC) {
        if (sg_semlimits_read(&l) != 0)
            return SG_LIM_OTHER;
        /* The kernel checks the semaphore total first, then the sets. */
        if (nsems > 0 && l.used_sems + (uint64_t)nsems > l.semmns) {
            *used = l.used_sems;
            *max = l.semmns;
            return SG_LIM_SEMMNS;
        }
        if (l.used_sets >= l.semmni) {
            *used = l.used_sets;
            *max = l.semmni;
            return SG_LIM_SEMMNI;
        }
        return SG_LIM_OTHER;
    }
    if (err != EINVAL || nsems < 0)
        return -1;
    struct sg_ksem k;
    int id = key == IPC_PRIVATE ? -1 : real_semget(key, 0, 0);
    if (id >= 0 && sg_ksem_stat(id, &k) == 0) {
        if (k.nsems >= (uint32_t)nsems)
            return -1;
        *used = k.nsems;
        *max = k.nsems;
        return SG_LIM_SMALLER;
    }
    if (sg_semlimits_read(&l) != 0 || (uint64_t)nsems <= l.semmsl)
        return -1;
    *used = (uint64_t)nsems;
    *max = l.semmsl;
    return SG_LIM_SEMMSL;
}

/* "kernel.sem" as written back by sysctl, with one field changed. */
static void sem_sysctl(struct sg_out *o, const struct sg_semlimits *l, uint64_t msl, uint64_t mns,
                       uint64_t mni)
{
    sg_out_say(o, "\n  Or raise the limit: sysctl -w kernel.sem=\"%" PRIu64 " %" PRIu64 " %" PRIu64
           " %" PRIu64 "\"",
        msl, mns, l->semopm, mni);
}

static void sem_holders(struct sg_out *o, const struct sg_view *v)
{
    struct sg_semholder h[MAX_HOLDERS];
    size_t n = sg_view_semholders(v, h, MAX_HOLDERS);
    if (!n)
        return;
    sg_out_say(o, "\n  Holders:");
    for (size_t i = 0; i < n; i++)
        sg_out_say(o, "%s %s (uid %u%s) %zu set%s, %zu semaphore%s%s", i ? ";" : "",
            h[i].comm[0] ? h[i].comm : "?", (unsigned)h[i].uid,
            h[i].comm[0] ? "" : ", creator unknown", h[i].sets, h[i].sets == 1 ? "" : "s",
            h[i].sems, h[i].sems == 1 ? "" : "s",
            h[i].orphaned ? (h[i].orphaned == h[i].sets ? ", all orphaned" : ", some orphaned")
                          : "");
    sg_out_say(o, ".");
}

static void sem_orphans(struct sg_out *o, const struct sg_view *v)
{
    size_t sets[3], sems[3];
    sg_view_semtally(v, sets, sems);
    if (!sets[SG_SEM_ORPHANED]) {
        if (sets[SG_SEM_UNKNOWN])
            sg_out_say(o, "\n  No provably orphaned sets; %zu set%s cannot be judged (made without the "
                   "library, or liveness unknown).",
                sets[SG_SEM_UNKNOWN], sets[SG_SEM_UNKNOWN] == 1 ? "" : "s");
        else
            sg_out_say(o, "\n  No orphaned sets: each has a live creator or user.");
        return;
    }
    sg_out_say(o, "\n  Orphaned: %zu set%s (%zu semaphore%s) whose creator and every process that used "
           "them are dead:",
        sets[SG_SEM_ORPHANED], sets[SG_SEM_ORPHANED] == 1 ? "" : "s", sems[SG_SEM_ORPHANED],
        sems[SG_SEM_ORPHANED] == 1 ? "" : "s");
    size_t shown = 0;
    for (size_t i = 0; i < v->n_sem && shown < 8; i++) {
        const struct sg_seminfo *s = &v->sem[i];
        if (s->state != SG_SEM_ORPHANED)
            continue;
        sg_out_say(o, "%s id %d by pid %d (%s)", shown ? "," : "", s->k.id, s->rec->cr_pid,
            s->comm[0] ? s->comm : "?");
        shown++;
    }
    if (sets[SG_SEM_ORPHANED] > shown)
        sg_out_say(o, ", ...");
    sg_out_say(o, ".\n  Free them safely: shmguard gc --dry-run, then shmguard gc");
}

/* EEXIST: only a set whose creation this ledger recorded and whose
 * creator is dead can be an orphan (the analysis proves the rest), so
 * routine create-exclusive failures cost two syscalls, no analysis and no
 * rate-limit token. */
static int sem_holder_may_be_orphan(key_t key)
{
    int id = key == IPC_PRIVATE || !sg_st.active ? -1 : real_semget(key, 0, 0);
    if (id < 0 || !sg_state_take())
        return 0;
    const struct sg_seg *r = sg_seg_find(&sg_st.L, SG_KIND_SEM, id);
    int known = r && (r->flags & SG_SEG_CREATOR) && r->key == key;
    int32_t pid = known ? r->cr_pid : 0;
    uint64_t start = known ? r->cr_start : 0;
    uint32_t ns = known ? r->cr_pidns : 0;
    sg_pidns_learn(sg_st.L.pidns, SG_PIDNS_CAP, sg_st.L.owner);
    sg_state_give();
    return known && sg_proc_alive_ns(pid, start, ns) == 0;
}

int sg_diag_compose_sem(char *buf, size_t n, key_t key, int nsems, int flg, int err,
                        const struct sg_ledger *own, int debug)
{
    struct sg_out o = { buf, n, 0 };
    buf[0] = '\0';
    if (err != ENOSPC && err != EINVAL && err != EEXIST) {
        if (debug < 1)
            return 0;
        describe_call(&o, 1, key, nsems, flg, err);
        return 1;
    }
    struct sg_view v;
    int built = sg_view_build(&v, NULL, own) == 0;
    if (!built || !v.have_semlimits || !v.have_sems) {
        if (built)
            sg_view_free(&v);
        if (err != ENOSPC && debug < 1)
            return 0;
        describe_call(&o, 1, key, nsems, flg, err);
        if (err == ENOSPC)
            sg_out_say(&o, "\n  This is not a full disk: a System V semaphore limit (kernel.sem: "
                    "SEMMNI sets or SEMMNS semaphores) is exhausted; see: shmguard doctor");
        return 1;
    }
    const struct sg_semlimits *l = &v.slim;
    const struct sg_seminfo *held = NULL;
    if (key != IPC_PRIVATE && (err == EINVAL || err == EEXIST)) {
        int id = real_semget(key, 0, 0);
        if (id >= 0)
            held = sg_view_find_sem(&v, id);
    }
    int said = 1;
    describe_call(&o, 1, key, nsems, flg, err);
    if (err == ENOSPC) {
        if (nsems > 0 && l->used_sems + (uint64_t)nsems > l->semmns) {
            sg_out_say(&o, "\n  This is not a full disk: the System V semaphore limit kernel.sem SEMMNS "
                    "(semaphores in all sets, 2nd field) is exhausted: %" PRIu64 " of %" PRIu64
                    " in use, this call needs %d more (%" PRIu64 " of %" PRIu64 " sets in use).",
                l->used_sems, l->semmns, nsems, l->used_sets, l->semmni);
            sem_holders(&o, &v);
            sem_orphans(&o, &v);
            sem_sysctl(&o, l, l->semmsl, l->semmns * 2 > l->used_sems + (uint64_t)nsems
                                            ? l->semmns * 2 : l->used_sems + (uint64_t)nsems,
                       l->semmni);
        } else {
            sg_out_say(&o, "\n  This is not a full disk: the System V semaphore limit kernel.sem SEMMNI "
                    "(sets, 4th field) is exhausted: %" PRIu64 " of %" PRIu64 " sets in use (%"
                    PRIu64 " of %" PRIu64 " semaphores).",
                l->used_sets, l->semmni, l->used_sems, l->semmns);
            sem_holders(&o, &v);
            sem_orphans(&o, &v);
            uint64_t ceil, want = sg_ipcmni_raise(l->semmni, l->used_sets, &ceil);
            if (want)
                sem_sysctl(&o, l, l->semmsl, l->semmns, want);
            else
                sg_out_say(&o, "\n  SEMMNI is at the kernel's ceiling (%" PRIu64 "): only removing sets "
                        "helps.", ceil);
        }
    } else if (err == EINVAL && held && held->k.nsems < (uint32_t)nsems) {
        sg_out_say(&o, "\n  Key 0x%08x already names semaphore set %d of %u semaphore%s, fewer than the "
                "%d asked; created by %s (uid %u), %s.",
            (unsigned)key, held->k.id, held->k.nsems, held->k.nsems == 1 ? "" : "s", nsems,
            held->comm[0] ? held->comm : "a process not known to the ledger",
            (unsigned)held->k.cuid, sg_semstate_name(held->state));
        if (held->state == SG_SEM_ORPHANED)
            sg_out_say(&o, "\n  It is an orphan: shmguard gc --dry-run, then shmguard gc");
    } else if (err == EINVAL && !held && nsems > 0 && (uint64_t)nsems > l->semmsl) {
        sg_out_say(&o, "\n  %d semaphores in one set is above the System V limit kernel.sem SEMMSL "
                "(1st field), %" PRIu64 ".",
            nsems, l->semmsl);
        sem_sysctl(&o, l, (uint64_t)nsems, l->semmns, l->semmni);
    } else if (err == EEXIST && held && held->state == SG_SEM_ORPHANED) {
        sg_out_say(&o, "\n  Key 0x%08x is held by semaphore set %d, an orphan: its creator, pid %d (%s, "
                "uid %u), and every process that used it are dead.",
            (unsigned)key, held->k.id, held->rec->cr_pid, held->comm[0] ? held->comm : "?",
            (unsigned)held->k.cuid);
        sg_out_say(&o, "\n  Free it safely: shmguard gc --dry-run, then shmguard gc");
    } else if (debug >= 1 && held) {
        sg_out_say(&o, "\n  Key 0x%08x names semaphore set %d (%s).", (unsigned)key, held->k.id,
            sg_semstate_name(held->state));
    } else if (debug < 1)
        said = 0;
    sg_view_free(&v);
    return said;
}

void sg_diag_semget(key_t key, int nsems, int flg, int err, const void *caller)
{
    int saved = errno;
    int debug = sg_st.cfg ? sg_st.cfg->debug : 0;
    uint64_t used, max;
    int lim = sg_diag_classify_sem(key, nsems, err, &used, &max);
    if (lim >= 0 && sg_st.active)
        record_event(SG_KIND_SEM, key, nsems < 0 ? 0 : (size_t)nsems, flg, err, lim, used, max,
                     caller);
    int worth = lim >= 0 || (err == EEXIST && sem_holder_may_be_orphan(key));
    if (debug >= 1 || worth) {
        struct call c = { SG_KIND_SEM, key, nsems < 0 ? 0 : (size_t)nsems, flg, err };
        emit(&c, debug);
    }
    errno = saved;
}

/* ---- msgget ------------------------------------------------------------- */

void sg_diag_msgget(key_t key, int flg, int err, const void *caller)
{
    int saved = errno;
    int debug = sg_st.cfg ? sg_st.cfg->debug : 0;
    uint64_t used, max;
    int lim = sg_diag_classify_msg(err, &used, &max);
    if (lim >= 0 && sg_st.active)
        record_event(SG_KIND_MSG, key, 0, flg, err, lim, used, max, caller);
    if (debug >= 1 || lim >= 0) {
        struct call c = { SG_KIND_MSG, key, 0, flg, err };
        emit(&c, debug);
    }
    errno = saved;
}
