/*
 * tool_gc_sem.c - the semaphore set part of `shmguard gc`: the decision
 * and the re-check of each set (tool_gc_obj.c prints and removes).
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

#include <errno.h>
#include <string.h>

static void judge(const struct sg_view *v, const struct sg_seminfo *s, const struct gc_opts *o,
                  int64_t now, struct gc_obj_item *it)
{
    memset(it, 0, sizeof *it);
    it->kind = SG_KIND_SEM;
    it->k = s->k;
    it->id = s->k.id;
    it->uid = s->k.uid;
    it->cuid = s->k.cuid;
    const struct sg_seg *rec = s->rec;
    int creator = rec && (rec->flags & SG_SEG_CREATOR);
    unsigned users, dead;
    gc_obj_users(v, SG_KIND_SEM, s->k.id, &users, &dead);
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
        else if (s->users_lost)
            snprintf(it->why, sizeof it->why,
                     "unknown: a use of it could not be recorded (a user table was full)");
        else
            snprintf(it->why, sizeof it->why,
                     "unknown: cannot tell which process changed it last (GETPID not permitted)");
        return;
    case SG_SEM_ORPHANED:
        break;
    }
    gc_obj_orphan(it, rec, comm, users, o, now);
}

size_t gc_sem_decide(const struct sg_view *v, const struct gc_opts *o, const long *semids,
                     size_t n_semids, int64_t now, struct gc_obj_item *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n_sem; i++) {
        if (n_semids && !gc_obj_named(semids, n_semids, v->sem[i].k.id))
            continue;
        if (!gc_filter_takes(o, v->sem[i].k.uid, v->sem[i].k.cuid, v->sem[i].rec))
            continue;
        judge(v, &v->sem[i], o, now, &out[n++]);
    }
    return n;
}

int gc_sem_recheck(const struct gc_obj_item *it, const struct sg_view *fresh,
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
    int32_t u = gc_obj_new_user(own, SG_KIND_SEM, it->k.id);
    if (u) {
        snprintf(why, n, "pid %d started using it meanwhile", u);
        return 0;
    }
    return 1;
}
