/*
 * tool_gc_msg.c - the message queue part of `shmguard gc`: the decision
 * and the re-check of each queue (tool_gc_obj.c prints and removes).
 *
 * A queue is removed only when the analysis proves it orphaned (see
 * sg_analysis.h): a trusted ledger recorded its creator, the creator and
 * every process recorded as using it are dead (pid and start time), and
 * the kernel's last sender and last receiver name no live process.  A
 * queue in that state that still holds messages ("held") is kept and
 * said to hold them: its messages may be all that is left of work not
 * done.  Only --force with the queue named by --msqid removes it, and
 * still only when everything above is proved.  A queue made without the
 * library, or whose owners cannot all be told, is never removed.
 *
 * Just before a removal the queue is checked again: same queue (key,
 * creator uid), no send or receive since the decision (the kernel's
 * times), still orphaned on a fresh view, creator still dead, and no
 * user recorded meanwhile in this user's ledger, whose lock is held.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "sg_analysis.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Why queue m is in use or unknown, in words. */
static void why_kept(const struct sg_msginfo *m, const char *comm, char *why, size_t n)
{
    const struct sg_seg *rec = m->rec;
    int creator = rec && (rec->flags & SG_SEG_CREATOR);
    if (m->state == SG_MSG_IN_USE) {
        if (m->creator_alive == SG_ALIVE_HIDDEN)
            snprintf(why, n, "in use: its creator pid %d%s is not visible from this pid namespace",
                     rec->cr_pid, comm);
        else if (m->creator_alive == 1)
            snprintf(why, n, "in use: its creator pid %d%s is alive", rec->cr_pid, comm);
        else if (m->users_alive)
            snprintf(why, n, "in use: %u of its %u recorded user%s alive", m->users_alive,
                     m->users, m->users == 1 ? " is" : "s are");
        else
            snprintf(why, n, "in use: pid %d, alive, sent to it or received from it last",
                     m->last_alive);
        return;
    }
    if (!creator)
        snprintf(why, n, "unknown: made without the library (no ledger record), so who uses it "
                         "cannot be told");
    else if (m->creator_alive < 0)
        snprintf(why, n, "unknown: cannot tell whether its creator pid %d is alive", rec->cr_pid);
    else if (m->users_lost)
        snprintf(why, n, "unknown: a use of it could not be recorded (a user table was full)");
    else
        snprintf(why, n, "unknown: cannot tell whether its last sender or receiver is alive "
                         "(not visible from this pid namespace, or no /proc)");
}

static void msg_judge(const struct sg_view *v, const struct sg_msginfo *m, const struct gc_opts *o,
                  int named, int64_t now, struct gc_obj_item *it)
{
    memset(it, 0, sizeof *it);
    it->kind = SG_KIND_MSG;
    it->q = m->k;
    it->id = m->k.id;
    it->uid = m->k.uid;
    it->cuid = m->k.cuid;
    unsigned users, dead;
    gc_obj_users(v, SG_KIND_MSG, m->k.id, &users, &dead);
    char comm[SG_COMM_LEN + 8] = "";
    if (m->comm[0])
        snprintf(comm, sizeof comm, " (%.*s)", SG_COMM_LEN - 1, m->comm);
    if (m->state == SG_MSG_IN_USE || m->state == SG_MSG_UNKNOWN) {
        why_kept(m, comm, it->why, sizeof it->why);
        return;
    }
    if (!gc_obj_orphan(it, m->rec, comm, users, o, now))
        return;
    if (m->state == SG_MSG_HELD) {
        char was[sizeof it->why];
        memcpy(was, it->why, sizeof was);
        if (o->force && named) {
            it->forced = 1;
            snprintf(it->why, sizeof it->why, "%.400s; its %" PRIu64 " message%s (%" PRIu64
                     " bytes) go with it (--force)", was, m->k.qnum, m->k.qnum == 1 ? "" : "s",
                     m->k.cbytes);
        } else {
            it->orphan = 0;
            snprintf(it->why, sizeof it->why, "still holds %" PRIu64 " message%s (%" PRIu64 " bytes): "
                     "%.400s; remove it and them with --force --msqid %d", m->k.qnum,
                     m->k.qnum == 1 ? "" : "s", m->k.cbytes, was, m->k.id);
        }
    }
}

size_t gc_msg_decide(const struct sg_view *v, const struct gc_opts *o, const long *msqids,
                     size_t n_msqids, int64_t now, struct gc_obj_item *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n_msg; i++) {
        const struct sg_msginfo *m = &v->msg[i];
        if (n_msqids && !gc_obj_named(msqids, n_msqids, m->k.id))
            continue;
        if (!gc_filter_takes(o, m->k.uid, m->k.cuid, m->rec))
            continue;
        msg_judge(v, m, o, n_msqids > 0, now, &out[n++]);
    }
    return n;
}

int gc_msg_recheck(const struct gc_obj_item *it, const struct sg_view *fresh,
                   const struct sg_ledger *own, char *why, size_t n)
{
    struct sg_kmsg q;
    if (sg_kmsg_stat(it->id, &q) != 0) {
        if (errno == EINVAL || errno == EIDRM) {
            snprintf(why, n, "gone: removed by someone else meanwhile");
            return -1;
        }
        snprintf(why, n, "cannot check it again: %s", strerror(errno));
        return 0;
    }
    if (q.key != it->q.key || q.cuid != it->q.cuid) {
        snprintf(why, n, "its id names another queue now");
        return 0;
    }
    if (q.stime != it->q.stime || q.rtime != it->q.rtime || q.ctime != it->q.ctime ||
        q.qnum != it->q.qnum) {
        snprintf(why, n, "sent to, received from or changed meanwhile");
        return 0;
    }
    const struct sg_msginfo *m = sg_view_find_msg(fresh, it->id);
    enum sg_msgstate want = it->forced ? SG_MSG_HELD : SG_MSG_ORPHANED;
    if (!m || m->state != want) {
        snprintf(why, n, "no longer provably orphaned (now %s)",
                 m ? sg_msgstate_name(m->state) : "not in the kernel's list");
        return 0;
    }
    if (gc_dead(it->cr_pid, it->cr_start, it->cr_pidns, NULL) != 1) {
        snprintf(why, n, "its creator pid %d is not provably dead any more", it->cr_pid);
        return 0;
    }
    int32_t u = gc_obj_new_user(own, SG_KIND_MSG, it->id);
    if (u) {
        snprintf(why, n, "pid %d started using it meanwhile", u);
        return 0;
    }
    return 1;
}
