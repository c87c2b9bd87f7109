/*
 * tool_gc_sem.c - the semaphore set half of `shmguard gc`.
 *
 * A set is removed only when the analysis proves it orphaned (see
 * sg_analysis.h): a trusted ledger recorded its creator, and the creator
 * and every process recorded as using it are dead (pid and start time),
 * and no live process changed one of its semaphores last.  A set made
 * without the library, or whose users cannot all be told, is never
 * removed: there is no --force for sets.
 *
 * Just before the removals a fresh view is built (before this user's
 * ledger lock is taken: reading every semaphore of large sets is slow)
 * and each candidate is checked again on it: same set (key, creator uid,
 * number of semaphores, and no semop or change since the decision), still
 * orphaned, creator still dead.  Under the lock only what can change
 * cheaply is confirmed: the set's times, its creator, users recorded
 * meanwhile.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "sg_analysis.h"
#include "sg_real.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Count the recorded users of a set and how many are dead. */
struct user_count {
    unsigned n, dead;
};

static void count_user(void *arg, const struct sg_semuser *u, int alive)
{
    struct user_count *c = arg;
    (void)u;
    c->n++;
    c->dead += alive == 0;
}

static int named(const long *ids, size_t n, int id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

static void judge(const struct sg_view *v, const struct sg_seminfo *s, const struct gc_opts *o,
                  int64_t now, struct gc_sem_item *it)
{
    memset(it, 0, sizeof *it);
    it->k = s->k;
    const struct sg_seg *rec = s->rec;
    int creator = rec && (rec->flags & SG_SEG_CREATOR);
    struct user_count uc = { 0, 0 };
    sg_view_sem_users(v, s, count_user, &uc);
    char comm[SG_COMM_LEN + 8] = "";
    if (s->comm[0])
        snprintf(comm, sizeof comm, " (%.*s)", SG_COMM_LEN - 1, s->comm);
    switch (s->state) {
    case SG_SEM_IN_USE:
        if (s->creator_alive == SG_ALIVE_HIDDEN)
            snprintf(it->why, sizeof it->why,
                     "in use: its creator pid %d%s is not visible from this pid namespace", rec->cr_pid,
                     comm);
        else if (s->creator_alive == 1)
            snprintf(it->why, sizeof it->why, "in use: its creator pid %d%s is alive", rec->cr_pid,
                     comm);
        else if (s->users_alive)
            snprintf(it->why, sizeof it->why, "in use: %u of its %u recorded user%s alive",
                     s->users_alive, s->users, s->users == 1 ? " is" : "s are");
        else
            snprintf(it->why, sizeof it->why,
                     "in use: pid %d, alive, changed one of its semaphores last", s->lastop_pid);
        return;
    case SG_SEM_UNKNOWN:
        if (!creator)
            snprintf(it->why, sizeof it->why,
                     "unknown: made without the library (no ledger record), so who uses it "
                     "cannot be told");
        else if (s->creator_alive < 0)
            snprintf(it->why, sizeof it->why,
                     "unknown: cannot tell whether its creator pid %d is alive", rec->cr_pid);
        else
            snprintf(it->why, sizeof it->why,
                     "unknown: cannot tell which process changed it last (GETPID not permitted)");
        return;
    case SG_SEM_ORPHANED:
        break;
    }
    int64_t born = (int64_t)(rec->cr_time_ns / 1000000000u);
    int64_t age = now - born;
    if (o->min_age && (age < 0 || (uint64_t)age < o->min_age)) {
        char a[32], m[32];
        tool_fmt_age(a, sizeof a, age);
        tool_fmt_age(m, sizeof m, (int64_t)o->min_age);
        snprintf(it->why, sizeof it->why, "young: %s old, --min-age is %s", a, m);
        return;
    }
    it->orphan = 1;
    it->cr_pid = rec->cr_pid;
    it->cr_start = rec->cr_start;
    it->cr_pidns = rec->cr_pidns;
    if (uc.n)
        snprintf(it->why, sizeof it->why,
                 "orphaned: its creator pid %d%s and its %u recorded user%s are dead", rec->cr_pid,
                 comm, uc.n, uc.n == 1 ? "" : "s");
    else
        snprintf(it->why, sizeof it->why,
                 "orphaned: its creator pid %d%s is dead and nobody else was recorded using it",
                 rec->cr_pid, comm);
    struct ipc_perm perm;
    memset(&perm, 0, sizeof perm);
    perm.uid = s->k.uid;
    perm.cuid = s->k.cuid;
    it->not_permitted = !sg_kernel_may_remove(&perm);
}

size_t gc_sem_decide(const struct sg_view *v, const struct gc_opts *o, const long *semids,
                     size_t n_semids, int64_t now, struct gc_sem_item *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n_sem; i++) {
        if (n_semids && !named(semids, n_semids, v->sem[i].k.id))
            continue;
        if (!gc_filter_takes(o, v->sem[i].k.uid, v->sem[i].k.cuid, v->sem[i].rec))
            continue;
        judge(v, &v->sem[i], o, now, &out[n++]);
    }
    return n;
}

/* A live user of set id recorded in own since the fresh view was built
 * (own's lock held): the cheap part of the re-check that only the lock
 * makes final.  Its pid, or 0. */
static int32_t new_user(const struct sg_ledger *own, int32_t id)
{
    for (uint32_t i = 0; own && own->hdr->semuser_live && i < own->semuser_cap; i++) {
        const struct sg_semuser *u = &own->semuser[i];
        if (u->state == SG_REC_LIVE && u->semid == id &&
            sg_proc_alive_ns(u->pid, u->start, u->pidns) != 0)
            return u->pid;
    }
    return 0;
}

/* Check a candidate again against a fresh view, built before own's lock
 * was taken (reading every semaphore's last operator, GETPID, may take
 * long for large sets: it is done outside the lock), then, under the
 * lock, what can have changed since: the set itself (its times), its
 * creator, and users recorded in own meanwhile.  1: remove; 0: keep (why
 * says why); -1: gone. */
static int recheck(const struct gc_sem_item *it, const struct sg_view *fresh,
                   const struct sg_ledger *own, char *why, size_t n)
{
    struct sg_ksem k;
    if (sg_ksem_stat(it->k.id, &k) != 0) {
        if (errno == EINVAL || errno == EIDRM) {
            snprintf(why, n, "gone: removed by someone else meanwhile");
            return -1;
        }
        snprintf(why, n, "cannot check it again: %s", strerror(errno));
        return 0;
    }
    if (k.key != it->k.key || k.cuid != it->k.cuid || k.nsems != it->k.nsems) {
        snprintf(why, n, "its id names another set now");
        return 0;
    }
    if (k.otime != it->k.otime || k.ctime != it->k.ctime) {
        snprintf(why, n, "operated on or changed meanwhile");
        return 0;
    }
    const struct sg_seminfo *s = sg_view_find_sem(fresh, it->k.id);
    if (!s || s->state != SG_SEM_ORPHANED) {
        snprintf(why, n, "no longer provably orphaned (now %s)",
                 s ? sg_semstate_name(s->state) : "not in the kernel's list");
        return 0;
    }
    if (gc_dead(it->cr_pid, it->cr_start, it->cr_pidns, NULL) != 1) {
        snprintf(why, n, "its creator pid %d is not provably dead any more", it->cr_pid);
        return 0;
    }
    int32_t u = new_user(own, it->k.id);
    if (u) {
        snprintf(why, n, "pid %d started using it meanwhile", u);
        return 0;
    }
    return 1;
}

static void line(const char *action, const struct gc_sem_item *it, const char *why)
{
    printf("%-12s semid %d (key 0x%08x, %u semaphore%s, owner %s): %s\n", action, it->k.id,
           (uint32_t)it->k.key, it->k.nsems, it->k.nsems == 1 ? "" : "s",
           tool_user_name(it->k.uid), why);
}

void gc_sem_apply(const struct gc_sem_item *items, size_t n, struct sg_ledger *own,
                  const char *dir, int dry_run, struct gc_sem_totals *t)
{
    memset(t, 0, sizeof *t);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= items[i].orphan;
    struct sg_view fresh;
    int have_fresh = 0, locked = 0;
    if (any && !dry_run) {
        /* The expensive view first, then the lock for the cheap part
         * (recheck): carriers' semget and semctl wait for this lock. */
        have_fresh = sg_view_build(&fresh, dir, NULL) == 0;
        locked = own && sg_ledger_lock(own) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gc_sem_item *it = &items[i];
        if (!it->orphan) {
            line(dry_run ? "would keep" : "kept", it, it->why);
            t->kept++;
            continue;
        }
        if (dry_run) {
            if (it->not_permitted) {
                char why[700];
                snprintf(why, sizeof why, "%s; but not permitted: owner uid %u, creator uid %u",
                         it->why, it->k.uid, it->k.cuid);
                line("would fail", it, why);
                t->failed++;
            } else {
                line("would remove", it, it->why);
                t->removed++;
            }
            continue;
        }
        char why[512], full[1100];
        int ok = have_fresh ? recheck(it, &fresh, locked ? own : NULL, why, sizeof why) : 0;
        if (!have_fresh)
            snprintf(why, sizeof why, "cannot read the kernel's lists again: %s", strerror(errno));
        if (ok < 0) {
            line("gone", it, why);
            continue;
        }
        if (ok == 0) {
            snprintf(full, sizeof full, "%s; kept at the re-check: %s", it->why, why);
            line("kept", it, full);
            t->kept++;
            continue;
        }
        union sg_semun none = { .val = 0 };
        if (real_semctl(it->k.id, 0, IPC_RMID, none) != 0) {
            int e = errno;
            if (e == EINVAL || e == EIDRM) {
                line("gone", it, "gone: removed by someone else meanwhile");
                continue;
            }
            if (e == EPERM)
                snprintf(full, sizeof full, "%s; not permitted (EPERM): owner uid %u, creator uid "
                                            "%u; run as one of them or as root",
                         it->why, it->k.uid, it->k.cuid);
            else
                snprintf(full, sizeof full, "%s; IPC_RMID failed: %s", it->why, strerror(e));
            line("failed", it, full);
            t->failed++;
            continue;
        }
        line("removed", it, it->why);
        t->removed++;
        if (locked) {
            struct sg_seg *rec = sg_seg_find(own, SG_KIND_SEM, it->k.id);
            if (sg_ksem_is(&it->k, rec))
                sg_seg_del(own, rec);
            sg_semuser_del_set(own, it->k.id);
        }
    }
    if (have_fresh)
        sg_view_free(&fresh);
    if (locked)
        sg_ledger_unlock(own);
}
