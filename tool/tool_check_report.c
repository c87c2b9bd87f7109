/*
 * tool_check_report.c - what a `shmguard check` run left behind, and the
 * report that says so (see tool_check.c for how the run is made).
 *
 * A leak is a segment, a semaphore set or a message queue that the run
 * created and that still exists when the command has ended.  "The run created it" means a creation record in the
 * run's own ledger directory whose kernel identity (id, creator pid and
 * uid) still matches; under --isolate also any segment of the private
 * namespace, even one made without the library.  A segment whose removal
 * the run asked for, deferred by the library, is not a leak: the removal
 * is completed here when it is due (nobody attached, nobody about to
 * attach), as the library's next call in the namespace would, and is
 * reported as such.
 *
 * The report goes to stderr (or --report FILE), each line prefixed with
 * "==PID==" like valgrind's, or as one JSON object.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "tool_check.h"
#include "sg_proc.h"
#include "sg_real.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int check_before(struct check_run *r)
{
    if (sg_ksnap_read(&r->before) != 0) {
        fprintf(stderr, "%s: check: cannot read the kernel's list of segments: %s\n", sg_prog,
                strerror(errno));
        return -1;
    }
    if (sg_ksemsnap_read(&r->sems_before) != 0) {
        fprintf(stderr, "%s: check: cannot read the kernel's list of semaphore sets: %s\n",
                sg_prog, strerror(errno));
        sg_ksnap_free(&r->before);
        return -1;
    }
    /* Queues are reported when their list can be read; a run is not
     * refused for them. */
    r->msgs_unread = sg_kmsgsnap_read(&r->msgs_before) != 0;
    return 0;
}

/* The queues that exist now and did not before (id, key and creator uid
 * are their identity): the run's when its ledger recorded their creation
 * (or, isolated, any); the others counted apart. */
static int collect_queues(struct check_run *r, const struct sg_view *v)
{
    if (r->msgs_unread || !v->have_msgs)
        return 0; /* reported as none: the kernel's list could not be read */
    for (size_t i = 0; i < v->n_msg; i++) {
        const struct sg_msginfo *m = &v->msg[i];
        const struct sg_kmsg *b = sg_kmsgsnap_find(&r->msgs_before, m->k.id);
        if (b && b->key == m->k.key && b->cuid == m->k.cuid)
            continue;
        int ours = m->rec && (m->rec->flags & SG_SEG_CREATOR);
        if (!ours && !r->isolated) {
            r->n_other_msgs++;
            continue;
        }
        struct check_msg *nv = realloc(r->qleak, (r->n_qleaks + 1) * sizeof *nv);
        if (!nv)
            return -1;
        r->qleak = nv;
        struct check_msg *c = &nv[r->n_qleaks++];
        memset(c, 0, sizeof *c);
        c->k = m->k;
        c->has_rec = ours;
        if (ours)
            c->rec = *m->rec;
        c->creator_alive = m->creator_alive;
        c->state = m->state;
        memcpy(c->comm, m->comm, sizeof c->comm);
        c->last_alive = sg_kmsg_last_alive(&m->k);
    }
    return 0;
}

/* The same for a set: id, key, creator uid and size are its identity. */
static int set_existed_before(const struct check_run *r, const struct sg_ksem *k)
{
    const struct sg_ksem *b = sg_ksemsnap_find(&r->sems_before, k->id);
    return b && b->key == k->key && b->cuid == k->cuid && b->nsems == k->nsems;
}

static int collect_sets(struct check_run *r, const struct sg_view *v)
{
    for (size_t i = 0; i < v->n_sem; i++) {
        const struct sg_seminfo *s = &v->sem[i];
        if (set_existed_before(r, &s->k))
            continue;
        int ours = s->rec && (s->rec->flags & SG_SEG_CREATOR);
        if (!ours && !r->isolated) {
            r->n_other_sems++;
            continue;
        }
        struct check_sem *nv = realloc(r->sleak, (r->n_sleaks + 1) * sizeof *nv);
        if (!nv)
            return -1;
        r->sleak = nv;
        struct check_sem *c = &nv[r->n_sleaks++];
        memset(c, 0, sizeof *c);
        c->k = s->k;
        c->has_rec = ours;
        if (ours)
            c->rec = *s->rec;
        c->creator_alive = s->creator_alive;
        c->state = s->state;
        memcpy(c->comm, s->comm, sizeof c->comm);
    }
    return 0;
}

/* 1 if k existed before the run: the same id with the same creator pid
 * and uid (ctime is no identity: IPC_SET changes it). */
static int existed_before(const struct check_run *r, const struct sg_kseg *k)
{
    const struct sg_kseg *b = sg_ksnap_find(&r->before, k->id);
    return b && b->cpid == k->cpid && b->cuid == k->cuid;
}

static int push(struct check_seg **v, size_t *n, const struct check_seg *s)
{
    struct check_seg *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv)
        return -1;
    *v = nv;
    nv[(*n)++] = *s;
    return 0;
}

/* Complete a deferred removal the run left: due (the same checks as
 * gc's), it is carried out; still held (an outside process attached, or
 * about to attach), it is handed to the kernel as it would have been
 * without the library (SHM_DEST: gone at the last detach) - the run's
 * ledger, which held it back, is about to be deleted, and nobody else
 * would ever carry it out. */
static void complete_pending(struct check_seg *c, const struct sg_seginfo *s, const char *dir)
{
    struct gc_item it;
    memset(&it, 0, sizeof it);
    it.k = s->k;
    it.kind = GC_PENDING;
    it.has_rec = 1;
    it.rec_domain = s->rec_domain;
    char why[256];
    int ok = gc_recheck(&it, NULL, dir, why, sizeof why);
    if (ok < 0) {
        c->removed = 1;
        snprintf(c->note, sizeof c->note, "%s", why);
    } else if (ok == 0) {
        /* Only a hold is handed on: an id that names another segment now,
         * one already marked, or one that cannot be checked is left alone
         * (gc_recheck keeps those too). */
        struct shmid_ds ds;
        if (sg_kernel_stat(s->k.id, &ds) != 0 || ds.shm_cpid != s->k.cpid ||
            ds.shm_perm.cuid != s->k.cuid || ds.shm_segsz != s->k.size ||
            (ds.shm_perm.mode & SHM_DEST))
            snprintf(c->note, sizeof c->note, "left pending: %s", why);
        else if (real_shmctl(s->k.id, IPC_RMID, NULL) == 0) {
            c->removed = 1;
            snprintf(c->note, sizeof c->note,
                     "handed to the kernel by shmguard check (%.200s): it goes at the last "
                     "detach, as without the library",
                     why);
        } else
            snprintf(c->note, sizeof c->note, "left pending: %s; IPC_RMID failed: %s", why,
                     strerror(errno));
    } else if (real_shmctl(s->k.id, IPC_RMID, NULL) == 0) {
        c->removed = 1;
        snprintf(c->note, sizeof c->note, "completed now by shmguard check");
    } else
        snprintf(c->note, sizeof c->note, "left pending: IPC_RMID failed: %s", strerror(errno));
}

/* The events of one ledger's ring, oldest first. */
static int collect_events(struct check_run *r, const struct sg_ledger *L)
{
    uint32_t total = L->hdr->ev_total;
    r->ev_total += total;
    uint32_t first = total > SG_EV_CAP ? total - SG_EV_CAP : 0;
    for (uint32_t k = first; k < total; k++) {
        const struct sg_event *e = &L->ev[k % SG_EV_CAP];
        if (e->state != SG_REC_LIVE || e->time_ns < r->start_ns)
            continue;
        struct sg_event *nv = realloc(r->ev, (r->n_ev + 1) * sizeof *nv);
        if (!nv)
            return -1;
        r->ev = nv;
        nv[r->n_ev++] = *e;
    }
    return 0;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct sg_event *x = a, *y = b;
    return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

int check_collect(struct check_run *r)
{
    struct sg_view v;
    if (sg_view_build(&v, r->dir, NULL) != 0) {
        fprintf(stderr, "%s: check: cannot read the kernel's list of segments: %s\n", sg_prog,
                strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < v.n; i++) {
        const struct sg_seginfo *s = &v.seg[i];
        /* A segment from before the run counts only if the run asked for
         * its removal (deferred in the run's ledger). */
        if (existed_before(r, &s->k) && s->state != SG_ST_PENDING)
            continue;
        int ours = s->rec && (s->rec->flags & SG_SEG_CREATOR);
        if (!ours && !r->isolated && s->state != SG_ST_PENDING) {
            r->n_other++;
            continue;
        }
        struct check_seg c;
        memset(&c, 0, sizeof c);
        c.k = s->k;
        c.has_rec = ours;
        if (ours)
            c.rec = *s->rec;
        c.creator_alive = s->creator_alive;
        c.state = s->state;
        memcpy(c.comm, s->comm, sizeof c.comm);
        int rc;
        if (s->state == SG_ST_PENDING) {
            complete_pending(&c, s, r->dir);
            rc = push(&r->pend, &r->n_pend, &c);
        } else
            rc = push(&r->leak, &r->n_leaks, &c);
        if (rc != 0) {
            sg_view_free(&v);
            fprintf(stderr, "%s: check: out of memory\n", sg_prog);
            return -1;
        }
    }
    if (collect_sets(r, &v) != 0 || collect_queues(r, &v) != 0) {
        sg_view_free(&v);
        fprintf(stderr, "%s: check: out of memory\n", sg_prog);
        return -1;
    }
    for (size_t i = 0; i < v.n_ledgers; i++)
        if (collect_events(r, &v.ledgers[i]) != 0) {
            sg_view_free(&v);
            fprintf(stderr, "%s: check: out of memory\n", sg_prog);
            return -1;
        }
    if (r->n_ev > 1)
        qsort(r->ev, r->n_ev, sizeof *r->ev, ev_cmp);
    sg_view_free(&v);
    return 0;
}

void check_cleanup(struct check_run *r)
{
    for (size_t i = 0; i < r->n_leaks; i++) {
        struct check_seg *c = &r->leak[i];
        struct shmid_ds ds;
        if (sg_kernel_stat(c->k.id, &ds) != 0) {
            snprintf(c->note, sizeof c->note, "gone before --cleanup reached it");
            continue;
        }
        if (ds.shm_cpid != c->k.cpid || ds.shm_perm.cuid != c->k.cuid || ds.shm_segsz != c->k.size) {
            snprintf(c->note, sizeof c->note, "not removed: its id names another segment now");
            continue;
        }
        /* --cleanup removes only what nobody uses (a daemon of the run
         * that still runs may be attached). */
        if (ds.shm_nattch) {
            snprintf(c->note, sizeof c->note,
                     "not removed by --cleanup: still attached by %lu process%s",
                     (unsigned long)ds.shm_nattch, ds.shm_nattch == 1 ? "" : "es");
            continue;
        }
        if (real_shmctl(c->k.id, IPC_RMID, NULL) != 0) {
            snprintf(c->note, sizeof c->note, "not removed: IPC_RMID failed: %s", strerror(errno));
            continue;
        }
        c->removed = 1;
        snprintf(c->note, sizeof c->note, "removed (--cleanup)");
    }
    for (size_t i = 0; i < r->n_sleaks; i++) {
        struct check_sem *c = &r->sleak[i];
        struct sg_ksem k;
        union sg_semun none = { .val = 0 };
        if (sg_ksem_stat(c->k.id, &k) != 0)
            snprintf(c->note, sizeof c->note, "gone before --cleanup reached it");
        else if (k.key != c->k.key || k.cuid != c->k.cuid || k.nsems != c->k.nsems)
            snprintf(c->note, sizeof c->note, "not removed: its id names another set now");
        else if (c->state == SG_SEM_IN_USE)
            snprintf(c->note, sizeof c->note,
                     "not removed by --cleanup: in use (its creator or a recorded user runs)");
        else if (c->state == SG_SEM_UNKNOWN && r->n_running)
            snprintf(c->note, sizeof c->note,
                     "not removed by --cleanup: a process of the run still runs, and who uses "
                     "this set cannot be told");
        else if (real_semctl(c->k.id, 0, IPC_RMID, none) != 0)
            snprintf(c->note, sizeof c->note, "not removed: IPC_RMID failed: %s", strerror(errno));
        else {
            c->removed = 1;
            snprintf(c->note, sizeof c->note, "removed (--cleanup)");
        }
    }
    for (size_t i = 0; i < r->n_qleaks; i++) {
        struct check_msg *c = &r->qleak[i];
        struct sg_kmsg k;
        if (sg_kmsg_stat(c->k.id, &k) != 0)
            snprintf(c->note, sizeof c->note, "gone before --cleanup reached it");
        else if (k.key != c->k.key || k.cuid != c->k.cuid)
            snprintf(c->note, sizeof c->note, "not removed: its id names another queue now");
        else if (c->last_alive < 0)
            snprintf(c->note, sizeof c->note,
                     "not removed by --cleanup: whether its last sender or receiver runs cannot "
                     "be told (no /proc)");
        else if (c->last_alive > 0 || r->n_running)
            snprintf(c->note, sizeof c->note,
                     "not removed by --cleanup: a process of the run still runs%s",
                     c->last_alive > 0 ? " (its last sender or receiver)" : "");
        else if (c->state == SG_MSG_IN_USE)
            snprintf(c->note, sizeof c->note,
                     "not removed by --cleanup: in use (its creator or a recorded user runs)");
        else if (real_msgctl(c->k.id, IPC_RMID, NULL) != 0)
            snprintf(c->note, sizeof c->note, "not removed: IPC_RMID failed: %s", strerror(errno));
        else {
            c->removed = 1;
            snprintf(c->note, sizeof c->note, "removed (--cleanup)");
        }
    }
}

void check_free(struct check_run *r)
{
    sg_ksnap_free(&r->before);
    sg_ksemsnap_free(&r->sems_before);
    sg_kmsgsnap_free(&r->msgs_before);
    free(r->qleak);
    r->qleak = NULL;
    free(r->sleak);
    r->sleak = NULL;
    free(r->leak);
    free(r->pend);
    free(r->ev);
    r->leak = r->pend = NULL;
    r->ev = NULL;
}

/* ---- words ------------------------------------------------------------- */

static const char *limit_name(uint32_t lim)
{
    switch (lim) {
    case SG_LIM_SHMMNI: return "kernel.shmmni";
    case SG_LIM_SHMALL: return "kernel.shmall";
    case SG_LIM_SHMMAX: return "kernel.shmmax";
    case SG_LIM_SHMMIN: return "SHMMIN";
    case SG_LIM_SMALLER: return "existing-segment-size";
    case SG_LIM_SEMMNI: return "kernel.sem:SEMMNI";
    case SG_LIM_SEMMNS: return "kernel.sem:SEMMNS";
    case SG_LIM_SEMMSL: return "kernel.sem:SEMMSL";
    case SG_LIM_MSGMNI: return "kernel.msgmni";
    default: return "ipc-limit";
    }
}

static void limit_words(char *buf, size_t n, const struct sg_event *e)
{
    switch (e->limit) {
    case SG_LIM_SHMMNI:
        snprintf(buf, n, "kernel.shmmni exhausted (%" PRIu64 " of %" PRIu64 " segments)", e->used, e->max);
        break;
    case SG_LIM_SHMALL:
        snprintf(buf, n, "kernel.shmall exhausted (%" PRIu64 " of %" PRIu64 " pages in use)", e->used,
                 e->max);
        break;
    case SG_LIM_SHMMAX:
        snprintf(buf, n, "size above kernel.shmmax (%" PRIu64 " bytes)", e->max);
        break;
    case SG_LIM_SHMMIN:
        snprintf(buf, n, "size below SHMMIN (%" PRIu64 " bytes)", e->max);
        break;
    case SG_LIM_SMALLER:
        if (e->kind == SG_KIND_SEM)
            snprintf(buf, n, "the key's existing set has fewer semaphores (%" PRIu64 ")", e->max);
        else
            snprintf(buf, n, "the key's existing segment is smaller (%" PRIu64 " bytes)", e->max);
        break;
    case SG_LIM_SEMMNI:
        snprintf(buf, n, "kernel.sem SEMMNI exhausted (%" PRIu64 " of %" PRIu64 " sets)", e->used,
                 e->max);
        break;
    case SG_LIM_SEMMNS:
        snprintf(buf, n, "kernel.sem SEMMNS exhausted (%" PRIu64 " of %" PRIu64 " semaphores in use)",
                 e->used, e->max);
        break;
    case SG_LIM_SEMMSL:
        snprintf(buf, n, "more semaphores than kernel.sem SEMMSL (%" PRIu64 ") in one set", e->max);
        break;
    case SG_LIM_MSGMNI:
        snprintf(buf, n, "kernel.msgmni exhausted (%" PRIu64 " of %" PRIu64 " queues)", e->used,
                 e->max);
        break;
    default:
        snprintf(buf, n, "a System V IPC limit");
    }
}

static const char *err_name(int e)
{
    const char *s = strerrorname_np(e);
    return s ? s : "error";
}

static void fmt_key(char *buf, size_t n, int32_t key)
{
    if (key == 0)
        snprintf(buf, n, "IPC_PRIVATE");
    else
        snprintf(buf, n, "0x%08x", (unsigned)key);
}

static void fmt_status(char *buf, size_t n, int st)
{
    if (WIFEXITED(st))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) {
        const char *a = sigabbrev_np(WTERMSIG(st));
        snprintf(buf, n, "was killed by signal %d (SIG%s)%s", WTERMSIG(st), a ? a : "?",
                 WCOREDUMP(st) ? ", core dumped" : "");
    } else
        snprintf(buf, n, "ended with wait status 0x%x", (unsigned)st);
}

/* ---- text -------------------------------------------------------------- */

/* The creator of a recorded segment or set: who, when, where. */
static void creator_text(FILE *f, const char *pfx, const struct sg_seg *rec, const char *alive,
                         int64_t start_s)
{
    char site[600];
    int64_t t = (int64_t)(rec->cr_time_ns / 1000000000u) - start_s;
    fprintf(f, "%s    created by pid %d (%.*s, uid %u), %s now, %" PRId64 " s into the run\n", pfx,
            rec->cr_pid, SG_COMM_LEN, rec->cr_comm, (unsigned)rec->cr_uid, alive, t < 0 ? 0 : t);
    tool_fmt_site(site, sizeof site, rec);
    if (site[0])
        fprintf(f, "%s    at %s\n", pfx, site);
    fprintf(f, "%s    in %.*s\n", pfx, SG_PATH_LEN, rec->cr_exe);
}

/* One segment: a first line "PFX LABEL segment ...", then indented lines. */
static void seg_text(FILE *f, const char *pfx, const char *label, const struct check_seg *c,
                     int64_t start_s)
{
    char key[16], size[32];
    fmt_key(key, sizeof key, c->k.key);
    sg_fmt_bytes(size, sizeof size, c->k.size);
    if (c->k.nattch)
        fprintf(f, "%s %s segment %d: key %s, %s (%" PRIu64 " bytes), %s, attached by %" PRIu64 "\n", pfx,
                label, c->k.id, key, size, c->k.size, sg_segstate_name(c->state), c->k.nattch);
    else
        fprintf(f, "%s %s segment %d: key %s, %s (%" PRIu64 " bytes), %s, nobody attached\n", pfx, label,
                c->k.id, key, size, c->k.size, sg_segstate_name(c->state));
    const char *alive = c->creator_alive == 1 ? "alive" : c->creator_alive == 0 ? "dead"
                        : c->creator_alive == SG_ALIVE_HIDDEN ? "not visible from this pid namespace"
                                                              : "alive?";
    if (c->has_rec)
        creator_text(f, pfx, &c->rec, alive, start_s);
    else
        fprintf(f, "%s    created by pid %d (%s, uid %u), %s now, without the library: no call site\n",
                pfx, c->k.cpid, c->comm[0] ? c->comm : "?", (unsigned)c->k.cuid, alive);
    if (c->note[0])
        fprintf(f, "%s    %s\n", pfx, c->note);
}

/* The creator of a set or a queue (which the kernel does not keep): the
 * record's, or that there is none; then the note. */
static void owner_text(FILE *f, const char *pfx, int has_rec, const struct sg_seg *rec,
                       int creator_alive, uint32_t cuid, const char *note, int64_t start_s)
{
    const char *alive = creator_alive == 1 ? "alive" : creator_alive == 0 ? "dead"
                        : creator_alive == SG_ALIVE_HIDDEN ? "not visible from this pid namespace"
                                                           : "alive?";
    if (has_rec)
        creator_text(f, pfx, rec, alive, start_s);
    else
        fprintf(f, "%s    created by a process without the library (uid %u): no creator, no call "
                   "site\n", pfx, (unsigned)cuid);
    if (note[0])
        fprintf(f, "%s    %s\n", pfx, note);
}

/* One leaked set, as seg_text does for segments. */
static void sem_text(FILE *f, const char *pfx, const struct check_sem *c, int64_t start_s)
{
    char key[16];
    fmt_key(key, sizeof key, c->k.key);
    fprintf(f, "%s Leaked semaphore set %d: key %s, %u semaphore%s, %s\n", pfx, c->k.id, key,
            c->k.nsems, c->k.nsems == 1 ? "" : "s", sg_semstate_name(c->state));
    owner_text(f, pfx, c->has_rec, &c->rec, c->creator_alive, c->k.cuid, c->note, start_s);
}

/* One leaked queue: what it holds, its last sender, its creator. */
static void msg_text(FILE *f, const char *pfx, const struct check_msg *c, int64_t start_s)
{
    char key[16];
    fmt_key(key, sizeof key, c->k.key);
    fprintf(f, "%s Leaked message queue %d: key %s, %s, %" PRIu64 " message%s (%" PRIu64
               " bytes) in it\n",
            pfx, c->k.id, key, sg_msgstate_name(c->state), c->k.qnum, c->k.qnum == 1 ? "" : "s",
            c->k.cbytes);
    if (c->k.lspid > 0)
        fprintf(f, "%s    last sent by pid %d (%s)\n", pfx, c->k.lspid,
                c->last_alive == c->k.lspid ? "alive"
                : c->last_alive < 0       ? "alive or not: no /proc"
                                          : "not running now");
    else
        fprintf(f, "%s    nothing ever sent\n", pfx);
    owner_text(f, pfx, c->has_rec, &c->rec, c->creator_alive, c->k.cuid, c->note, start_s);
}

static void event_site(char *buf, size_t n, const struct sg_event *e)
{
    tool_site_format(buf, n, e->site_obj, e->site_off, e->site_sym, sizeof e->site_sym,
                     (int64_t)(e->time_ns / 1000000000u));
}

static void report_text(FILE *f, const struct check_run *r, const struct check_opts *o)
{
    char pfx[32], st[96], size[32];
    snprintf(pfx, sizeof pfx, "==%d==", (int)getpid());
    int64_t start_s = (int64_t)(r->start_ns / 1000000000u);
    fmt_status(st, sizeof st, r->status);
    fprintf(f, "%s shmguard check: ", pfx);
    for (int i = 0; i < r->argc; i++) {
        const char *a = r->argv[i];
        int q = !a[0] || a[strcspn(a, " \t\n'\"\\$`;&|<>()*?")];
        fprintf(f, q ? "%s'%s'" : "%s%s", i ? " " : "", a);
    }
    fprintf(f, " (pid %d) %s after %.1f s, library in %s mode%s\n", r->pid, st, r->secs, r->mode,
            r->isolated ? ", in a private IPC namespace" : "");
    uint64_t bytes = 0;
    if (r->n_leaks)
        fprintf(f, "%s\n", pfx);
    for (size_t i = 0; i < r->n_leaks; i++) {
        const struct check_seg *c = &r->leak[i];
        bytes += c->k.size;
        seg_text(f, pfx, "Leaked", c, start_s);
    }
    for (size_t i = 0; i < r->n_sleaks; i++) {
        fprintf(f, "%s\n", pfx);
        sem_text(f, pfx, &r->sleak[i], start_s);
    }
    for (size_t i = 0; i < r->n_qleaks; i++) {
        fprintf(f, "%s\n", pfx);
        msg_text(f, pfx, &r->qleak[i], start_s);
    }
    for (size_t i = 0; i < r->n_pend; i++) {
        const struct check_seg *c = &r->pend[i];
        fprintf(f, "%s\n", pfx);
        seg_text(f, pfx, "Deferred removal never completed:", c, start_s);
        if (c->has_rec && c->rec.rm_pid)
            fprintf(f, "%s    IPC_RMID asked by pid %d (uid %u)\n", pfx, c->rec.rm_pid,
                    (unsigned)c->rec.rm_uid);
    }
    for (size_t i = 0; i < r->n_ev; i++) {
        const struct sg_event *e = &r->ev[i];
        char key[16], lim[160], site[600];
        fmt_key(key, sizeof key, e->key);
        limit_words(lim, sizeof lim, e);
        event_site(site, sizeof site, e);
        if (e->kind == SG_KIND_MSG)
            fprintf(f, "%s\n%s Limit error: msgget(key=%s) failed with %s: %s\n", pfx, pfx, key,
                    err_name(e->err), lim);
        else
            fprintf(f, "%s\n%s Limit error: %s(key=%s, %s=%" PRIu64 ") failed with %s: %s\n", pfx,
                    pfx, e->kind == SG_KIND_SEM ? "semget" : "shmget", key,
                    e->kind == SG_KIND_SEM ? "nsems" : "size", e->size, err_name(e->err), lim);
        fprintf(f, "%s    by pid %d (%.*s, uid %u)%s%s\n", pfx, e->pid, SG_COMM_LEN, e->comm,
                (unsigned)e->uid, site[0] ? " at " : "", site);
    }
    if (r->ev_total > r->n_ev)
        fprintf(f, "%s (%" PRIu64 " limit errors in all; the ledger keeps the last %u of each process "
                   "group)\n", pfx, r->ev_total, SG_EV_CAP);
    if (r->n_running) {
        fprintf(f, "%s\n%s Still running, started by the run:", pfx, pfx);
        for (size_t i = 0; i < r->n_running; i++)
            fprintf(f, "%s pid %d (%s)", i ? "," : "", r->running[i].pid,
                    r->running[i].comm[0] ? r->running[i].comm : "?");
        fprintf(f, "\n");
    }
    if (r->n_other)
        fprintf(f, "%s\n%s Not counted: %zu other segment%s appeared meanwhile, made by processes "
                   "without the run's ledger (other programs, or programs of the run that do not load "
                   "the library); --isolate tells them apart.\n",
                pfx, pfx, r->n_other, r->n_other == 1 ? "" : "s");
    if (r->n_other_sems)
        fprintf(f, "%s\n%s Not counted: %zu other semaphore set%s appeared meanwhile, made by "
                   "processes without the run's ledger; --isolate tells them apart.\n",
                pfx, pfx, r->n_other_sems, r->n_other_sems == 1 ? "" : "s");
    if (r->n_other_msgs)
        fprintf(f, "%s\n%s Not counted: %zu other message queue%s appeared meanwhile, made by "
                   "processes outside the run's ledger; --isolate counts every new queue as the "
                   "run's.\n",
                pfx, pfx, r->n_other_msgs, r->n_other_msgs == 1 ? "" : "s");
    sg_fmt_bytes(size, sizeof size, bytes);
    char sets[128] = "";
    if (r->n_sleaks)
        snprintf(sets, sizeof sets, "; %zu semaphore set%s leaked", r->n_sleaks,
                 r->n_sleaks == 1 ? "" : "s");
    if (r->n_qleaks) {
        size_t l = strlen(sets);
        snprintf(sets + l, sizeof sets - l, "; %zu message queue%s leaked", r->n_qleaks,
                 r->n_qleaks == 1 ? "" : "s");
    }
    fprintf(f, "%s\n%s LEAK SUMMARY: %zu segment%s leaked (%s)%s; %zu deferred removal%s left by the "
               "run; %" PRIu64 " limit error%s.\n",
            pfx, pfx, r->n_leaks, r->n_leaks == 1 ? "" : "s", size, sets, r->n_pend,
            r->n_pend == 1 ? "" : "s", r->ev_total, r->ev_total == 1 ? "" : "s");
    if ((r->n_leaks || r->n_sleaks || r->n_qleaks) && !o->cleanup) {
        if (r->isolated)
            fprintf(f, "%s They go away with the private IPC namespace; --cleanup removes them "
                       "explicitly.\n", pfx);
        else {
            /* Segments gc can judge from the kernel's facts alone; sets
             * and queues only from records, and the run's ledger, which
             * holds theirs, goes with the run: the run proved them its
             * own, ipcrm removes them. */
            if (r->n_leaks) {
                fprintf(f, "%s Free them: shmguard gc", pfx);
                for (size_t i = 0; i < r->n_leaks && i < 16; i++)
                    fprintf(f, " --id %d", r->leak[i].k.id);
                fprintf(f, "%s (or run check with --cleanup)\n", r->n_leaks > 16 ? " ..." : "");
            }
            if (r->n_sleaks || r->n_qleaks) {
                fprintf(f, "%s Remove the run's %s: ipcrm", pfx,
                        r->n_sleaks && r->n_qleaks ? "sets and queues"
                        : r->n_sleaks              ? "semaphore sets"
                                                   : "message queues");
                for (size_t i = 0; i < r->n_sleaks && i < 16; i++)
                    fprintf(f, " -s %d", r->sleak[i].k.id);
                for (size_t i = 0; i < r->n_qleaks && i < 16; i++)
                    fprintf(f, " -q %d", r->qleak[i].k.id);
                fprintf(f, "%s (or run check with --cleanup)\n",
                        r->n_sleaks > 16 || r->n_qleaks > 16 ? " ..." : "");
            }
        }
    }
}

/* ---- JSON -------------------------------------------------------------- */

static void site_json(FILE *f, const char *obj, uint64_t off, const char *sym, size_t symlen,
                      int64_t since)
{
    if (!obj[0]) {
        fprintf(f, "null");
        return;
    }
    struct tool_site s;
    tool_site_resolve(obj, off, since, &s);
    fprintf(f, "{\"object\":");
    json_str(f, obj, SG_PATH_LEN);
    fprintf(f, ",\"offset\":%" PRIu64 ",\"symbol\":", off);
    if (sym[0])
        json_str(f, sym, symlen);
    else
        fprintf(f, "null");
    fprintf(f, ",\"function\":");
    if (s.func[0])
        json_str(f, s.func, sizeof s.func);
    else
        fprintf(f, "null");
    fprintf(f, ",\"file\":");
    if (s.line) {
        json_str(f, s.file, sizeof s.file);
        fprintf(f, ",\"line\":%d", s.line);
    } else
        fprintf(f, "null,\"line\":null");
    fprintf(f, ",\"object_changed\":%s}", s.changed ? "true" : "false");
}

/* "creator":{...}|null,"site":...,"recorded":...,"removed":...,"note":"..."} of a
 * set or a queue (closes its object). */
static void owner_json(FILE *f, int has_rec, const struct sg_seg *rec, int creator_alive,
                       int removed, const char *note, size_t note_len)
{
    fprintf(f, "\"creator\":");
    if (has_rec) {
        fprintf(f, "{\"pid\":%d,\"command\":", rec->cr_pid);
        json_str(f, rec->cr_comm, SG_COMM_LEN);
        fprintf(f, ",\"uid\":%u,\"alive\":%s,\"executable\":", (unsigned)rec->cr_uid,
                creator_alive == 1 ? "true" : creator_alive == 0 ? "false" : "null");
        json_str(f, rec->cr_exe, SG_PATH_LEN);
        fprintf(f, ",\"time_ns\":%" PRIu64 "},\"site\":", rec->cr_time_ns);
        site_json(f, rec->site_obj, rec->site_off, rec->site_sym, SG_SYM_LEN,
                  (int64_t)(rec->cr_time_ns / 1000000000u));
    } else
        fprintf(f, "null,\"site\":null");
    fprintf(f, ",\"recorded\":%s,\"removed\":%s,\"note\":", has_rec ? "true" : "false",
            removed ? "true" : "false");
    json_str(f, note, note_len);
    fprintf(f, "}");
}

static void seg_json(FILE *f, const struct check_seg *c)
{
    fprintf(f, "{\"id\":%d,\"key\":%d,\"size\":%" PRIu64 ",\"state\":\"%s\",\"nattch\":%" PRIu64, c->k.id,
            c->k.key, c->k.size, sg_segstate_name(c->state), c->k.nattch);
    fprintf(f, ",\"creator\":{\"pid\":%d,\"command\":", c->has_rec ? c->rec.cr_pid : c->k.cpid);
    json_str(f, c->has_rec ? c->rec.cr_comm : c->comm, SG_COMM_LEN);
    fprintf(f, ",\"uid\":%u,\"alive\":%s", c->has_rec ? (unsigned)c->rec.cr_uid : (unsigned)c->k.cuid,
            c->creator_alive == 1 ? "true" : c->creator_alive == 0 ? "false" : "null");
    if (c->has_rec) {
        fprintf(f, ",\"executable\":");
        json_str(f, c->rec.cr_exe, SG_PATH_LEN);
        fprintf(f, ",\"time_ns\":%" PRIu64, c->rec.cr_time_ns);
    }
    fprintf(f, "},\"recorded\":%s,\"site\":", c->has_rec ? "true" : "false");
    if (c->has_rec)
        site_json(f, c->rec.site_obj, c->rec.site_off, c->rec.site_sym, SG_SYM_LEN,
                  (int64_t)(c->rec.cr_time_ns / 1000000000u));
    else
        fprintf(f, "null");
    if (c->has_rec && c->rec.rm_pid)
        fprintf(f, ",\"rmid_by\":{\"pid\":%d,\"uid\":%u}", c->rec.rm_pid, (unsigned)c->rec.rm_uid);
    fprintf(f, ",\"removed\":%s,\"note\":", c->removed ? "true" : "false");
    json_str(f, c->note, sizeof c->note);
    fprintf(f, "}");
}

static void report_json(FILE *f, const struct check_run *r)
{
    fprintf(f, "{\"command\":[");
    for (int i = 0; i < r->argc; i++) {
        fprintf(f, "%s", i ? "," : "");
        json_str(f, r->argv[i], 65536);
    }
    fprintf(f, "],\"pid\":%d,\"mode\":\"%s\",\"isolated\":%s,\"seconds\":%.3f,", r->pid, r->mode,
            r->isolated ? "true" : "false", r->secs);
    if (WIFEXITED(r->status))
        fprintf(f, "\"exit\":{\"code\":%d,\"signal\":null}", WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status)) {
        const char *a = sigabbrev_np(WTERMSIG(r->status));
        fprintf(f, "\"exit\":{\"code\":null,\"signal\":%d,\"signame\":\"SIG%s\"}", WTERMSIG(r->status),
                a ? a : "?");
    } else
        fprintf(f, "\"exit\":{\"code\":null,\"signal\":null}");
    uint64_t bytes = 0;
    fprintf(f, ",\"leaks\":[");
    for (size_t i = 0; i < r->n_leaks; i++) {
        fprintf(f, "%s", i ? "," : "");
        seg_json(f, &r->leak[i]);
        bytes += r->leak[i].k.size;
    }
    fprintf(f, "],\"pending\":[");
    for (size_t i = 0; i < r->n_pend; i++) {
        fprintf(f, "%s", i ? "," : "");
        seg_json(f, &r->pend[i]);
    }
    fprintf(f, "],\"semaphore_leaks\":[");
    for (size_t i = 0; i < r->n_sleaks; i++) {
        const struct check_sem *c = &r->sleak[i];
        fprintf(f, "%s{\"semid\":%d,\"key\":%d,\"nsems\":%u,\"state\":\"%s\",",
                i ? "," : "", c->k.id, c->k.key, c->k.nsems, sg_semstate_name(c->state));
        owner_json(f, c->has_rec, &c->rec, c->creator_alive, c->removed, c->note, sizeof c->note);
    }
    fprintf(f, "],\"queue_leaks\":[");
    for (size_t i = 0; i < r->n_qleaks; i++) {
        const struct check_msg *c = &r->qleak[i];
        fprintf(f, "%s{\"msqid\":%d,\"key\":%d,\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
                   ",\"lspid\":%d,\"lrpid\":%d,\"state\":\"%s\",",
                i ? "," : "", c->k.id, c->k.key, c->k.qnum, c->k.cbytes, c->k.lspid, c->k.lrpid,
                sg_msgstate_name(c->state));
        owner_json(f, c->has_rec, &c->rec, c->creator_alive, c->removed, c->note, sizeof c->note);
    }
    fprintf(f, "],\"limit_errors\":[");
    for (size_t i = 0; i < r->n_ev; i++) {
        const struct sg_event *e = &r->ev[i];
        int sem = e->kind == SG_KIND_SEM, msg = e->kind == SG_KIND_MSG;
        fprintf(f, "%s{\"call\":\"%s\",\"key\":%d,\"%s\":%" PRIu64 ",\"flags\":%d,\"errno\":\"%s\","
                   "\"limit\":\"%s\",\"used\":%" PRIu64 ",\"max\":%" PRIu64 ",\"pid\":%d,\"uid\":%u,"
                   "\"time_ns\":%" PRIu64 ",\"command\":",
                i ? "," : "", msg ? "msgget" : sem ? "semget" : "shmget", e->key,
                sem ? "nsems" : "size", e->size,
                e->flags, err_name(e->err), limit_name(e->limit), e->used, e->max, e->pid,
                (unsigned)e->uid, e->time_ns);
        json_str(f, e->comm, SG_COMM_LEN);
        fprintf(f, ",\"site\":");
        site_json(f, e->site_obj, e->site_off, e->site_sym, sizeof e->site_sym,
                  (int64_t)(e->time_ns / 1000000000u));
        fprintf(f, "}");
    }
    fprintf(f, "],\"still_running\":[");
    for (size_t i = 0; i < r->n_running; i++) {
        fprintf(f, "%s{\"pid\":%d,\"command\":", i ? "," : "", r->running[i].pid);
        json_str(f, r->running[i].comm, SG_COMM_LEN);
        fprintf(f, "}");
    }
    fprintf(f, "],\"not_counted\":%zu,\"not_counted_sets\":%zu,\"not_counted_queues\":%zu,"
               "\"summary\":{\"leaked\":%zu,\"bytes\":%" PRIu64 ",\"leaked_sets\":%zu,"
               "\"leaked_queues\":%zu,\"pending\":%zu,\"limit_errors\":%" PRIu64 "}}\n",
            r->n_other, r->n_other_sems, r->n_other_msgs, r->n_leaks, bytes, r->n_sleaks,
            r->n_qleaks, r->n_pend, r->ev_total);
}

void check_report(FILE *f, const struct check_run *r, const struct check_opts *o)
{
    if (o->quiet && !r->n_leaks && !r->n_sleaks && !r->n_qleaks && !r->n_pend && !r->ev_total)
        return;
    if (o->json)
        report_json(f, r);
    else
        report_text(f, r, o);
    fflush(f);
}
