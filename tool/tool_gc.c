/*
 * tool_gc.c - `shmguard gc`: remove the segments that are provably unused
 * (and, through tool_gc_sem.c, tool_gc_msg.c and tool_gc_obj.c, the
 * semaphore sets and message queues; all ask tool_dead.c whether a
 * recorded process is dead).
 *
 * A segment is removed only when nobody is attached (kernel nattch 0 and
 * no process maps it) and either its creator is provably dead, or it has a
 * pending (deferred) removal that is now due.  "Provably dead" means: the
 * ledger recorded the creator's pid and start time and no process has both
 * now (so a reused pid cannot make it look alive, nor a dead one look
 * alive), or, without a record, no process has the creator's pid at all.
 * A ledger record counts only when its ledger's owner could itself remove
 * the segment, so a user cannot make gc remove somebody else's segment by
 * writing into their own ledger.  A segment whose creator is alive is
 * removed only with --force and --id.
 *
 * Each decision is checked again just before the removal (gc_recheck: a
 * fresh IPC_STAT, the creator, the pending record, carriers' intents),
 * under this user's ledger lock when it has a ledger, which orders the
 * removal against every carrier of the same trust domain exactly as the
 * library's own deferred removals are.  A process without the library can
 * still look the key up in the instant between the re-check and IPC_RMID;
 * the kernel offers no way to close that window (ipcrm has it too).
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_ledger_dir.h"
#include "sg_pidns.h"
#include "sg_analysis.h"
#include "sg_config.h"
#include "sg_proc.h"
#include "sg_real.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void gc_usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s gc [options]\n"
            "\n"
            "Remove the System V shared memory segments of this IPC namespace that are\n"
            "provably unused: nobody is attached (kernel nattch 0 and no process maps it)\n"
            "and either the creator is dead (pid and start time checked against the\n"
            "ledger, so pid reuse cannot fool it) or a pending removal is due.  Each\n"
            "removal is checked again just before it is made.  One line per segment\n"
            "says what was done and why.\n"
            "\n"
            "Semaphore sets too: a set is removed only when the ledger recorded its\n"
            "creator and the creator and every process recorded as using it are dead\n"
            "(pid and start time), and no live process changed it last.  A set made\n"
            "without the library is never removed (there is no --force for sets).\n"
            "\n"
            "Message queues the same way, and only when the kernel's last sender and last\n"
            "receiver are gone too.  A queue that still holds messages is kept and said\n"
            "to hold them, unless it is named with --msqid and --force is given.\n"
            "\n"
            "Options:\n"
            " -n, --dry-run          show the decisions, remove nothing\n"
            "     --min-age <time>   keep segments younger than this: 90, 30s, 10m, 2h, 1d, 1h30m\n"
            "                        (age: since creation or the last IPC_SET, kernel ctime)\n"
            "     --id <id>          consider only this segment (may be repeated)\n"
            "     --force            with --id: also remove a segment whose creator is alive or\n"
            "                        unknown, if nobody is attached; with --msqid: also an\n"
            "                        orphaned queue that still holds messages\n"
            "     --semid <id>       consider only this semaphore set (may be repeated)\n"
            "     --msqid <id>       consider only this message queue (may be repeated; with\n"
            "                        --force: also when it still holds messages).  Naming\n"
            "                        objects of some kinds leaves the other kinds alone\n"
            "     --user <user>      consider only what this user (name or uid) owns or created\n"
            "     --command <name>   consider only what the ledger says a process of this\n"
            "                        command created (its name as ps shows it, 15 bytes at\n"
            "                        most); what the ledger has no creator for is left alone.\n"
            "                        With --user: one service's own orphans, as the systemd\n"
            "                        drop-in of 'shmguard enable' runs before it starts\n"
            "     --dir <dir>        ledger directory, absolute and existing\n"
            "                        (default: $SHMGUARD_LEDGER or %s)\n"
            "\n"
            " -h, --help             display this help\n"
            " -V, --version          display version\n"
            "\n"
            "Exit status:\n"
            " 0  nothing to remove, or every segment still removable at its re-check was removed\n"
            " 1  error, bad usage, or an --id that names no segment\n"
            " 2  some segments that should go could not be removed (not permitted, or the\n"
            "    removal failed; with --dry-run: would not be permitted)\n"
            "\n"
            "For more details see shmguard(1).\n",
            sg_prog, SG_LEDGER_DIR_DEFAULT);
}

/* ---- facts ----------------------------------------------------------------- */

/* A live intent for shmid in a ledger image (read-only: nothing is
 * dropped): the pid of a carrier that looked it up and has not attached
 * yet, -1 when the intent table overflowed (every removal waits), 0 when
 * none. */
static int gc_intent_in(const struct sg_hdr *h, const struct sg_intent *intent, uint32_t cap,
                        int32_t shmid, uint64_t mono)
{
    if (mono < h->intent_overflow_until_ns)
        return -1;
    for (uint32_t i = 0; i < cap; i++) {
        const struct sg_intent *x = &intent[i];
        if (x->state != SG_REC_LIVE || x->shmid != shmid)
            continue;
        if (x->time_ns < mono && mono - x->time_ns > SG_INTENT_TTL_NS)
            continue;
        if (sg_proc_alive_ns(x->pid, x->start, x->pidns) == 0)
            continue;
        return x->pid > 0 ? x->pid : -1;
    }
    return 0;
}

/* The same for every ledger in dir except the file at skip, read straight
 * from the files (header and intent table only: cheap enough to do just
 * before each removal). */
static int gc_intent_in_files(const char *dir, const char *skip, int32_t shmid)
{
    uint64_t ns = sg_ipcns_ino(), mono = sg_coarse_mono_ns();
    /* The files a reader reads (sg_ledger_dir.h): planted ones cost a
     * stat each, not a read. */
    struct sg_ipc_objs objs;
    sg_ipc_objs_read(&objs);
    struct sg_ledger_files files;
    int rc = dir ? sg_ledger_files_list(&files, dir, ns, objs.uid, objs.n_uid) : -1;
    sg_ipc_objs_free(&objs);
    if (rc != 0)
        return 0;
    int found = 0;
    for (size_t i = 0; i < files.n && !found; i++) {
        const char *path = files.v[i].path;
        if (skip && !strcmp(path, skip))
            continue;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
            continue;
        struct stat st;
        struct sg_hdr h;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
            !memcmp(h.magic, SG_LEDGER_MAGIC, 8) && h.version == SG_LEDGER_VERSION &&
            h.ipcns_ino == ns && h.intent_cap > 0 && h.intent_cap <= 65536 &&
            h.intent_off >= sizeof h &&
            h.intent_off + (uint64_t)h.intent_cap * sizeof(struct sg_intent) <= (uint64_t)st.st_size) {
            size_t len = (size_t)h.intent_cap * sizeof(struct sg_intent);
            struct sg_intent *v = malloc(len);
            if (v && pread(fd, v, len, (off_t)h.intent_off) == (ssize_t)len)
                found = gc_intent_in(&h, v, h.intent_cap, shmid, mono);
            free(v);
        }
        close(fd);
    }
    sg_ledger_files_free(&files);
    return found;
}

/* ---- decisions ------------------------------------------------------------- */

static int gc_named(const struct gc_opts *o, int id)
{
    for (size_t i = 0; i < o->n_ids; i++)
        if (o->ids[i] == id)
            return 1;
    return 0;
}

/* "1234(httpd),1240(httpd)" into buf. */
static void gc_fmt_attachers(char *buf, size_t n, const struct proc_scan *ps,
                             const struct scan_map *m, size_t nm)
{
    size_t len = 0;
    int prev = -1;
    buf[0] = '\0';
    for (size_t i = 0; i < nm && len < n; i++) {
        if (m[i].pid == prev)
            continue;
        prev = m[i].pid;
        int w = snprintf(buf + len, n - len, "%s%d(%s)", len ? "," : "", m[i].pid,
                         proc_scan_comm(ps, m[i].pid));
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len >= n && n > 4)
        memcpy(buf + n - 4, "...", 4);
}

static void gc_judge(const struct sg_view *v, const struct sg_seginfo *s,
                     const struct proc_scan *ps, const struct gc_opts *o, int64_t now,
                     struct gc_item *it)
{
    memset(it, 0, sizeof *it);
    it->k = s->k;
    it->kind = GC_KEEP;
    const struct sg_kseg *k = &s->k;
    const struct sg_seg *rec = s->rec;
    /* The analysis gives s a ledger record only from a ledger whose owner
     * may remove the segment itself (sg_analysis.c, find_rec). */
    int trusted = rec != NULL;
    int pending = rec && (rec->flags & SG_SEG_PENDING);
    if (trusted) {
        it->has_rec = 1;
        it->rec_domain = s->rec_domain;
    }

    const struct scan_map *maps;
    size_t nmaps = proc_scan_find(ps, k->id, &maps);
    char who[256];
    gc_fmt_attachers(who, sizeof who, ps, maps, nmaps);
    if (k->mode & SHM_DEST) {
        snprintf(it->why, sizeof it->why,
                 "marked: the kernel removes it at its last detach (nattch %" PRIu64 "%s%s)", k->nattch,
                 who[0] ? ": " : "", who);
        return;
    }
    if (k->nattch > 0) {
        snprintf(it->why, sizeof it->why, "in use: attached%s%s (nattch %" PRIu64 ")%s",
                 who[0] ? " by " : "", who, k->nattch,
                 pending && trusted ? "; its pending removal waits for the last detach" : "");
        return;
    }
    if (nmaps > 0) {
        snprintf(it->why, sizeof it->why, "mapped by %s although the kernel counts no attachment", who);
        return;
    }
    int64_t age = now - k->ctime;
    if (o->min_age && (age < 0 || (uint64_t)age < o->min_age)) {
        char a[32], m[32];
        tool_fmt_age(a, sizeof a, age);
        tool_fmt_age(m, sizeof m, (int64_t)o->min_age);
        snprintf(it->why, sizeof it->why, "young: %s old, --min-age is %s", a, m);
        return;
    }
    uint64_t mono = sg_coarse_mono_ns();
    int holder = 0;
    for (size_t i = 0; i < v->n_ledgers && !holder; i++)
        holder = gc_intent_in(v->ledgers[i].hdr, v->ledgers[i].intent, v->ledgers[i].intent_cap,
                              k->id, mono);
    char held[128] = "";
    if (holder > 0)
        snprintf(held, sizeof held, "pid %d has just looked it up and is about to attach", holder);
    else if (holder < 0)
        snprintf(held, sizeof held, "a ledger's intent table overflowed: removals wait a few seconds");

    if (pending && trusted) {
        if (holder) {
            snprintf(it->why, sizeof it->why, "pending removal not due yet: %s", held);
            return;
        }
        char a[32];
        tool_fmt_age(a, sizeof a, now - (int64_t)(rec->rm_time_ns / 1000000000u));
        it->kind = GC_PENDING;
        snprintf(it->why, sizeof it->why,
                 "pending removal is due: IPC_RMID asked by pid %d (uid %u) %s ago, nobody attached",
                 rec->rm_pid, rec->rm_uid, a);
    } else {
        int32_t pid = k->cpid;
        uint64_t start = 0;
        uint32_t pidns = sg_pidns_self(); /* the kernel's cpid */
        int have_start = trusted && (rec->flags & SG_SEG_CREATOR) && rec->cr_start;
        if (have_start) {
            pid = rec->cr_pid;
            start = rec->cr_start;
            pidns = rec->cr_pidns;
        }
        char comm[SG_COMM_LEN + 8] = "";
        if (s->comm[0])
            snprintf(comm, sizeof comm, " (%.*s)", SG_COMM_LEN - 1, s->comm);
        const char *how;
        int dead = gc_dead(pid, start, pidns, &how);
        if (dead == 1) {
            if (holder) {
                snprintf(it->why, sizeof it->why, "orphaned, but %s", held);
                return;
            }
            it->kind = GC_ORPHAN;
            it->cr_pid = pid;
            it->cr_start = start;
            it->cr_pidns = pidns;
            if (have_start)
                snprintf(it->why, sizeof it->why,
                         "orphaned: nobody attached, its creator pid %d%s is dead: %s", pid, comm, how);
            else
                snprintf(it->why, sizeof it->why,
                         "orphaned: nobody attached, its creator pid %d is dead: %s (%s)", pid, how,
                         trusted && (rec->flags & SG_SEG_CREATOR) ? "its ledger record has no start time"
                                                                  : "no ledger record: kernel facts only");
        } else {
            if (pid <= 0)
                snprintf(it->why, sizeof it->why,
                         "idle: nobody attached, its creator is not visible from this pid namespace");
            else if (dead < 0 && pidns && (pidns != sg_pidns_self() || sg_pidns_view() != pidns))
                snprintf(it->why, sizeof it->why,
                         "idle: nobody attached, its creator pid %d%s is not visible from this pid "
                         "namespace (%s)",
                         pid, comm, how);
            else if (dead < 0)
                snprintf(it->why, sizeof it->why,
                         "idle: nobody attached, cannot tell whether its creator pid %d is alive "
                         "(/proc/%d is not readable)",
                         pid, pid);
            else if (have_start)
                snprintf(it->why, sizeof it->why, "idle: nobody attached, its creator pid %d%s is alive",
                         pid, comm);
            else
                snprintf(it->why, sizeof it->why,
                         "idle: nobody attached, pid %d%s is in use and without a ledger record "
                         "it may be the creator",
                         pid, comm);
            if (o->force && gc_named(o, k->id)) {
                if (holder) {
                    size_t l = strlen(it->why);
                    snprintf(it->why + l, sizeof it->why - l, "; not forced: %s", held);
                    return;
                }
                it->kind = GC_FORCED;
                size_t l = strlen(it->why);
                snprintf(it->why + l, sizeof it->why - l, "; removed anyway: --force");
            }
        }
    }
    struct ipc_perm perm;
    memset(&perm, 0, sizeof perm);
    perm.uid = k->uid;
    perm.cuid = k->cuid;
    it->not_permitted = !sg_kernel_may_remove(&perm);
}

size_t gc_decide(const struct sg_view *v, const struct proc_scan *ps, const struct gc_opts *o,
                 int64_t now, struct gc_item *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (o->n_ids && !gc_named(o, v->seg[i].k.id))
            continue;
        if (!gc_filter_takes(o, v->seg[i].k.uid, v->seg[i].k.cuid, v->seg[i].rec))
            continue;
        gc_judge(v, &v->seg[i], ps, o, now, &out[n++]);
    }
    return n;
}

int gc_recheck(const struct gc_item *it, struct sg_ledger *own, const char *dir, char *why,
               size_t n)
{
    const struct sg_kseg *k = &it->k;
    struct shmid_ds ds;
    if (sg_kernel_stat(k->id, &ds) != 0) {
        int e = errno;
        if (e == EINVAL || e == EIDRM) {
            snprintf(why, n, "gone: removed by someone else meanwhile");
            return -1;
        }
        snprintf(why, n, "cannot check it again: %s", strerror(e));
        return 0;
    }
    if (ds.shm_cpid != k->cpid || ds.shm_perm.cuid != k->cuid || ds.shm_segsz != k->size) {
        snprintf(why, n, "its id names another segment now (creator pid %d, uid %u)", (int)ds.shm_cpid,
                 (unsigned)ds.shm_perm.cuid);
        return 0;
    }
    if (ds.shm_perm.mode & SHM_DEST) {
        snprintf(why, n, "marked for destruction by someone else meanwhile");
        return 0;
    }
    if (ds.shm_nattch != 0) {
        snprintf(why, n, "attached meanwhile (nattch %lu)", (unsigned long)ds.shm_nattch);
        return 0;
    }
    if (it->kind == GC_ORPHAN) {
        int dead = gc_dead(it->cr_pid, it->cr_start, it->cr_pidns, NULL);
        if (dead != 1) {
            if (dead < 0)
                snprintf(why, n, "cannot tell any more whether its creator pid %d is alive", it->cr_pid);
            else if (it->cr_start)
                snprintf(why, n, "its creator pid %d is alive after all", it->cr_pid);
            else
                snprintf(why, n, "pid %d is in use now, so its creator may be alive", it->cr_pid);
            return 0;
        }
    }
    if (it->kind == GC_PENDING && own && it->has_rec && it->rec_domain == own->owner) {
        const struct sg_seg *rec = sg_seg_find(own, SG_KIND_SHM, k->id);
        if (!rec || !(rec->flags & SG_SEG_PENDING) || !sg_kseg_is(k, rec)) {
            snprintf(why, n, "its pending removal was cancelled or taken over meanwhile");
            return 0;
        }
    }
    int holder = 0;
    if (own && sg_intent_holding(own, k->id, sg_coarse_mono_ns()) > 0)
        holder = -1;
    if (!holder)
        holder = gc_intent_in_files(dir, own ? own->path : NULL, k->id);
    if (holder) {
        snprintf(why, n, "a process has just looked it up and is about to attach");
        return 0;
    }
    return 1;
}

/* ---- removal ------------------------------------------------------------- */

enum gc_outcome { GC_REMOVED, GC_KEPT, GC_GONE, GC_FAILED };

/* Re-check and remove one candidate, under own's lock when own is open.
 * own's record of the segment goes with it. */
static enum gc_outcome gc_remove_one(const struct gc_item *it, struct sg_ledger *own,
                                     const char *dir, char *why, size_t n)
{
    if (own && sg_ledger_lock(own) != 0) {
        snprintf(why, n, "the lock of %s was not available within 2 seconds; try again", own->path);
        return GC_FAILED;
    }
    enum gc_outcome out;
    int ok = gc_recheck(it, own, dir, why, n);
    if (ok < 0)
        out = GC_GONE;
    else if (ok == 0)
        out = GC_KEPT;
    else if (real_shmctl(it->k.id, IPC_RMID, NULL) != 0) {
        int e = errno;
        if (e == EINVAL || e == EIDRM) {
            snprintf(why, n, "gone: removed by someone else meanwhile");
            out = GC_GONE;
        } else {
            if (e == EPERM)
                snprintf(why, n, "not permitted (EPERM): owner uid %u, creator uid %u; run as one of "
                                 "them or as root", it->k.uid, it->k.cuid);
            else
                snprintf(why, n, "IPC_RMID failed: %s", strerror(e));
            out = GC_FAILED;
        }
    } else {
        out = GC_REMOVED;
        if (own) {
            struct sg_seg *rec = sg_seg_find(own, SG_KIND_SHM, it->k.id);
            if (sg_kseg_is(&it->k, rec))
                sg_seg_del(own, rec);
        }
    }
    if (own)
        sg_ledger_unlock(own);
    return out;
}

/* "Removed N WHAT, kept K." (or what a dry run would do). */
static void gc_summary(const char *what, const struct gc_obj_totals *t, int dry_run)
{
    if (dry_run)
        printf("Would remove %zu %s, keep %zu%s.\n", t->removed, what, t->kept,
               t->failed ? ", and fail to remove the others" : "");
    else
        printf("Removed %zu %s, kept %zu%s.\n", t->removed, what, t->kept,
               t->failed ? ", failed to remove the others" : "");
}

static void gc_line(const char *action, const struct gc_item *it, const char *why)
{
    char size[32];
    tool_fmt_size(size, sizeof size, it->k.size);
    printf("%-12s shmid %d (key 0x%08x, %s, owner %s): %s\n", action, it->k.id,
           (uint32_t)it->k.key, size, tool_user_name(it->k.uid), why);
}

/* This euid's own ledger, opened only when the view shows it exists (gc
 * never creates one).  0 when open, -1 when there is none or it cannot
 * be used (said on stderr). */
static int gc_open_own(const struct sg_view *v, const char *dir, struct sg_ledger *own)
{
    int exists = 0;
    for (size_t i = 0; i < v->n_ledgers; i++)
        exists |= v->ledgers[i].owner == geteuid();
    if (!exists)
        return -1;
    char err[PATH_MAX + 256];
    if (sg_ledger_open_own(own, dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s: gc: warning: cannot open this user's ledger (%s): removals are not "
                        "ordered against its carrier processes\n", sg_prog, err);
        return -1;
    }
    return 0;
}

int cmd_gc(int argc, char **argv)
{
    enum { OPT_MINAGE = 256, OPT_ID, OPT_FORCE, OPT_DIR, OPT_SEMID, OPT_MSQID, OPT_USER,
           OPT_COMMAND };
    static const struct option opts[] = {
        { "dry-run", no_argument, NULL, 'n' }, { "min-age", required_argument, NULL, OPT_MINAGE },
        { "id", required_argument, NULL, OPT_ID }, { "force", no_argument, NULL, OPT_FORCE },
        { "semid", required_argument, NULL, OPT_SEMID },
        { "msqid", required_argument, NULL, OPT_MSQID },
        { "user", required_argument, NULL, OPT_USER },
        { "command", required_argument, NULL, OPT_COMMAND },
        { "dir", required_argument, NULL, OPT_DIR }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },     { NULL, 0, NULL, 0 },
    };
    struct gc_opts o;
    memset(&o, 0, sizeof o);
    const char *dir = NULL;
    long *ids = NULL, *semids = NULL, *msqids = NULL;
    size_t n_ids = 0, n_semids = 0, n_msqids = 0;
    int c, rc = SG_EXIT_OK;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":nhV", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.dry_run = 1; break;
        case OPT_FORCE: o.force = 1; break;
        case OPT_MINAGE:
            if (tool_parse_duration(optarg, &o.min_age) != 0) {
                tool_cmd_usage_error("gc", "invalid --min-age '%s': use a number of seconds, or one "
                                           "with s, m, h or d (30s, 10m, 2h, 1d, 1h30m)", optarg);
                free(ids);
                free(semids);
                free(msqids);
                return SG_EXIT_FAILURE;
            }
            break;
        case OPT_ID:
        case OPT_SEMID:
        case OPT_MSQID: {
            long id;
            long **list = c == OPT_ID ? &ids : c == OPT_SEMID ? &semids : &msqids;
            size_t *count = c == OPT_ID ? &n_ids : c == OPT_SEMID ? &n_semids : &n_msqids;
            long *nv;
            if (tool_parse_long(optarg, 0, INT32_MAX, &id) != 0) {
                tool_cmd_usage_error("gc", "invalid %s '%s': %s id is a number from 0 to %d",
                                     c == OPT_ID ? "--id" : c == OPT_SEMID ? "--semid" : "--msqid",
                                     optarg,
                                     c == OPT_ID ? "a segment"
                                     : c == OPT_SEMID ? "a semaphore set" : "a message queue",
                                     INT32_MAX);
                free(ids);
                free(semids);
                free(msqids);
                return SG_EXIT_FAILURE;
            }
            if (!(nv = realloc(*list, (*count + 1) * sizeof **list))) {
                fprintf(stderr, "%s: gc: out of memory\n", sg_prog);
                free(ids);
                free(semids);
                free(msqids);
                return SG_EXIT_FAILURE;
            }
            *list = nv;
            nv[(*count)++] = id;
            break;
        }
        case OPT_USER:
            if (tool_parse_user(optarg, &o.user) != 0) {
                tool_cmd_usage_error("gc", "--user: no such user: '%s'", optarg);
                free(ids);
                free(semids);
                free(msqids);
                return SG_EXIT_FAILURE;
            }
            o.have_user = 1;
            break;
        case OPT_COMMAND:
            if (!optarg[0] || strlen(optarg) >= SG_COMM_LEN || strchr(optarg, '/')) {
                tool_cmd_usage_error("gc", "--command: a process name of 1 to %d bytes, no '/': '%s'",
                                     SG_COMM_LEN - 1, optarg);
                free(ids);
                free(semids);
                free(msqids);
                return SG_EXIT_FAILURE;
            }
            o.command = optarg;
            break;
        case OPT_DIR:
            if (!optarg[0]) {
                tool_cmd_usage_error("gc", "empty ledger directory");
                free(ids);
                free(semids);
                free(msqids);
                return SG_EXIT_FAILURE;
            }
            dir = optarg;
            break;
        case 'h': gc_usage(stdout); free(ids); free(semids); free(msqids); return SG_EXIT_OK;
        case 'V': tool_print_version(); free(ids); free(semids); free(msqids); return SG_EXIT_OK;
        default: tool_getopt_error("gc", c, argv); free(ids); free(semids); free(msqids); return SG_EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        tool_cmd_usage_error("gc", "unexpected argument '%s'", argv[optind]);
        free(ids);
        free(semids);
        free(msqids);
        return SG_EXIT_FAILURE;
    }
    if (dir && (tool_dir_arg("gc", dir) != 0 || tool_dir_readable("gc", dir) != 0)) {
        free(ids);
        free(semids);
        free(msqids);
        return SG_EXIT_FAILURE;
    }
    if (o.force && !n_ids && !n_msqids) {
        tool_cmd_usage_error("gc", "--force needs the segments named with --id, or the queues "
                                   "with --msqid");
        free(ids);
        free(semids);
        free(msqids);
        return SG_EXIT_FAILURE;
    }
    o.ids = ids;
    o.n_ids = n_ids;
    /* Naming objects of some kinds leaves the other kinds alone. */
    int named = n_ids || n_semids || n_msqids;
    int do_shm = n_ids || !named, do_sem = n_semids || !named, do_msg = n_msqids || !named;
    if (!dir)
        dir = sg_config_get()->ledger_dir;

    struct sg_view v;
    if (sg_view_build(&v, dir, NULL) != 0) {
        fprintf(stderr, "%s: gc: cannot read the kernel's list of segments (/proc/sysvipc/shm): %s\n",
                sg_prog, strerror(errno));
        free(ids);
        free(semids);
        free(msqids);
        return SG_EXIT_FAILURE;
    }
    struct proc_scan ps;
    if (proc_scan_build(&ps) != 0) {
        fprintf(stderr, "%s: gc: cannot scan /proc for attached processes: %s\n", sg_prog,
                strerror(errno));
        sg_view_free(&v);
        free(ids);
        free(semids);
        free(msqids);
        return SG_EXIT_FAILURE;
    }
    for (size_t i = 0; i < v.n_unreadable; i++)
        fprintf(stderr, "%s: gc: note: a ledger could not be read (%s): its segments are judged on "
                        "kernel facts only\n", sg_prog, v.unreadable[i]);
    char lead[64];
    snprintf(lead, sizeof lead, "%s: gc: note: ", sg_prog);
    tool_note_dropped(stderr, lead, v.dropped);
    for (size_t i = 0; i < n_ids; i++)
        if (!sg_view_find(&v, (int)ids[i])) {
            fprintf(stderr, "%s: gc: no segment has id %ld\n", sg_prog, ids[i]);
            rc = SG_EXIT_FAILURE;
        }
    for (size_t i = 0; i < n_semids; i++)
        if (!sg_view_find_sem(&v, (int)semids[i])) {
            fprintf(stderr, "%s: gc: no semaphore set has id %ld\n", sg_prog, semids[i]);
            rc = SG_EXIT_FAILURE;
        }
    for (size_t i = 0; i < n_msqids; i++)
        if (!sg_view_find_msg(&v, (int)msqids[i])) {
            fprintf(stderr, "%s: gc: no message queue has id %ld\n", sg_prog, msqids[i]);
            rc = SG_EXIT_FAILURE;
        }
    if (do_sem && !v.have_sems)
        fprintf(stderr, "%s: gc: note: cannot read the kernel's list of semaphore sets; they "
                        "are left alone\n", sg_prog);
    if (do_msg && !v.have_msgs)
        fprintf(stderr, "%s: gc: note: cannot read the kernel's list of message queues; they "
                        "are left alone\n", sg_prog);

    struct gc_item *items = calloc(v.n ? v.n : 1, sizeof *items);
    struct gc_obj_item *sitems = calloc(v.n_sem ? v.n_sem : 1, sizeof *sitems);
    struct gc_obj_item *qitems = calloc(v.n_msg ? v.n_msg : 1, sizeof *qitems);
    if (!items || !sitems || !qitems) {
        fprintf(stderr, "%s: gc: out of memory\n", sg_prog);
        free(items);
        free(sitems);
        free(qitems);
        proc_scan_free(&ps);
        sg_view_free(&v);
        free(ids);
        free(semids);
        free(msqids);
        return SG_EXIT_FAILURE;
    }
    int64_t now = (int64_t)time(NULL);
    size_t n = do_shm ? gc_decide(&v, &ps, &o, now, items) : 0;
    size_t ns = do_sem ? gc_sem_decide(&v, &o, semids, n_semids, now, sitems) : 0;
    size_t nq = do_msg ? gc_msg_decide(&v, &o, msqids, n_msqids, now, qitems) : 0;
    struct sg_ledger own;
    int have_own = 0;
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= items[i].kind != GC_KEEP;
    for (size_t i = 0; i < ns; i++)
        any |= sitems[i].orphan;
    for (size_t i = 0; i < nq; i++)
        any |= qitems[i].orphan;
    if (any && !o.dry_run)
        have_own = gc_open_own(&v, dir, &own) == 0;

    size_t removed = 0, kept = 0, failed = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        struct gc_item *it = &items[i];
        if (it->kind == GC_KEEP) {
            gc_line(o.dry_run ? "would keep" : "kept", it, it->why);
            kept++;
            continue;
        }
        if (o.dry_run) {
            if (it->not_permitted) {
                char why[700];
                snprintf(why, sizeof why, "%s; but not permitted: owner uid %u, creator uid %u",
                         it->why, it->k.uid, it->k.cuid);
                gc_line("would fail", it, why);
                failed++;
            } else {
                gc_line("would remove", it, it->why);
                removed++;
                bytes += it->k.size;
            }
            continue;
        }
        char why[PATH_MAX + 512];
        switch (gc_remove_one(it, have_own ? &own : NULL, dir, why, sizeof why)) {
        case GC_REMOVED:
            gc_line("removed", it, it->why);
            removed++;
            bytes += it->k.size;
            break;
        case GC_KEPT: {
            char full[sizeof why + sizeof it->why + 64];
            snprintf(full, sizeof full, "%s; kept at the re-check: %s", it->why, why);
            gc_line("kept", it, full);
            kept++;
            break;
        }
        case GC_GONE:
            gc_line("gone", it, why);
            break;
        case GC_FAILED: {
            char full[sizeof why + sizeof it->why + 64];
            snprintf(full, sizeof full, "%s; %s", it->why, why);
            gc_line("failed", it, full);
            failed++;
            break;
        }
        }
    }
    struct gc_obj_totals st, qt;
    gc_obj_apply(sitems, ns, gc_sem_recheck, have_own ? &own : NULL, dir, o.dry_run, &st);
    gc_obj_apply(qitems, nq, gc_msg_recheck, have_own ? &own : NULL, dir, o.dry_run, &qt);
    char total[32];
    tool_fmt_size(total, sizeof total, bytes);
    if (do_shm) {
        char segs[64];
        snprintf(segs, sizeof segs, "segment%s (%s)", removed == 1 ? "" : "s", total);
        struct gc_obj_totals t = { removed, kept, failed };
        gc_summary(segs, &t, o.dry_run);
    }
    if (ns || n_semids)
        gc_summary(st.removed == 1 ? "semaphore set" : "semaphore sets", &st, o.dry_run);
    if (nq || n_msqids)
        gc_summary(qt.removed == 1 ? "message queue" : "message queues", &qt, o.dry_run);
    if ((failed || st.failed || qt.failed) && rc == SG_EXIT_OK)
        rc = SG_EXIT_NOT_REMOVED;
    if (have_own)
        sg_ledger_close(&own);
    free(items);
    free(sitems);
    free(qitems);
    proc_scan_free(&ps);
    sg_view_free(&v);
    free(ids);
    free(semids);
    free(msqids);
    return rc;
}
