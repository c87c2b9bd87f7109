/*
 * tool_gc_obj.c - what `shmguard gc` does alike for semaphore sets
 * (tool_gc_sem.c) and message queues (tool_gc_msg.c), the two kinds that
 * have no attach count and whose users only the ledger knows: counting
 * their recorded users, the orphan's decision, and the removals (print
 * each decision; re-check each candidate on a fresh view, under this
 * user's ledger lock, then IPC_RMID).
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

int gc_obj_named(const long *ids, size_t n, long id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

struct obj_user_count {
    unsigned n, dead;
};

static void obj_count_user(void *arg, const struct sg_user *u, int alive)
{
    struct obj_user_count *c = arg;
    (void)u;
    c->n++;
    c->dead += alive == 0;
}

void gc_obj_users(const struct sg_view *v, uint32_t kind, int id, unsigned *n, unsigned *dead)
{
    struct obj_user_count uc = { 0, 0 };
    sg_view_users(v, kind, id, obj_count_user, &uc);
    *n = uc.n;
    *dead = uc.dead;
}

int32_t gc_obj_new_user(const struct sg_ledger *own, uint32_t kind, int32_t id)
{
    for (uint32_t i = 0; own && own->hdr->user_live && i < own->user_cap; i++) {
        const struct sg_user *u = &own->users[i];
        if (u->state == SG_REC_LIVE && u->id == id && u->kind == kind &&
            sg_proc_alive_ns(u->pid, u->start, u->pidns) != 0)
            return u->pid;
    }
    return 0;
}

int gc_obj_orphan(struct gc_obj_item *it, const struct sg_seg *rec, const char *comm,
                  unsigned nusers, const struct gc_opts *o, int64_t now)
{
    int64_t born = (int64_t)(rec->cr_time_ns / 1000000000u);
    int64_t age = now - born;
    if (o->min_age && (age < 0 || (uint64_t)age < o->min_age)) {
        char a[32], m[32];
        tool_fmt_age(a, sizeof a, age);
        tool_fmt_age(m, sizeof m, (int64_t)o->min_age);
        snprintf(it->why, sizeof it->why, "young: %s old, --min-age is %s", a, m);
        return 0;
    }
    it->orphan = 1;
    it->cr_pid = rec->cr_pid;
    it->cr_start = rec->cr_start;
    it->cr_pidns = rec->cr_pidns;
    if (nusers)
        snprintf(it->why, sizeof it->why,
                 "orphaned: its creator pid %d%s and its %u recorded user%s are dead", rec->cr_pid,
                 comm, nusers, nusers == 1 ? "" : "s");
    else
        snprintf(it->why, sizeof it->why,
                 "orphaned: its creator pid %d%s is dead and nobody else was recorded using it",
                 rec->cr_pid, comm);
    struct ipc_perm perm;
    memset(&perm, 0, sizeof perm);
    perm.uid = it->uid;
    perm.cuid = it->cuid;
    it->not_permitted = !sg_kernel_may_remove(&perm);
    return 1;
}

static void obj_line(const char *action, const struct gc_obj_item *it, const char *why)
{
    if (it->kind == SG_KIND_MSG)
        printf("%-12s msqid %d (key 0x%08x, %" PRIu64 " message%s, %" PRIu64 " bytes, owner %s): "
               "%s\n", action, it->id, (uint32_t)it->q.key, it->q.qnum, it->q.qnum == 1 ? "" : "s",
               it->q.cbytes, tool_user_name(it->uid), why);
    else
        printf("%-12s semid %d (key 0x%08x, %u semaphore%s, owner %s): %s\n", action, it->id,
               (uint32_t)it->k.key, it->k.nsems, it->k.nsems == 1 ? "" : "s",
               tool_user_name(it->uid), why);
}

static int obj_remove(const struct gc_obj_item *it)
{
    if (it->kind == SG_KIND_MSG)
        return real_msgctl(it->id, IPC_RMID, NULL);
    union sg_semun none = { .val = 0 };
    return real_semctl(it->id, 0, IPC_RMID, none);
}

/* own's record of the object it, and its users, after its removal. */
static void obj_forget(struct sg_ledger *own, const struct gc_obj_item *it)
{
    struct sg_seg *rec = sg_seg_find(own, it->kind, it->id);
    if (it->kind == SG_KIND_MSG ? sg_kmsg_is(&it->q, rec) : sg_ksem_is(&it->k, rec))
        sg_seg_del(own, rec);
    sg_user_del_obj(own, it->kind, it->id);
}

void gc_obj_apply(const struct gc_obj_item *items, size_t n, gc_obj_recheck_fn recheck,
                  struct sg_ledger *own, const char *dir, int dry_run, struct gc_obj_totals *t)
{
    memset(t, 0, sizeof *t);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= items[i].orphan;
    struct sg_view fresh;
    int have_fresh = 0, locked = 0;
    if (any && !dry_run) {
        /* The expensive view first, then the lock for the cheap part of
         * the re-check: carriers' gets and first uses wait for this lock. */
        have_fresh = sg_view_build(&fresh, dir, NULL) == 0;
        locked = own && sg_ledger_lock(own) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gc_obj_item *it = &items[i];
        if (!it->orphan) {
            obj_line(dry_run ? "would keep" : "kept", it, it->why);
            t->kept++;
            continue;
        }
        if (dry_run) {
            if (it->not_permitted) {
                char why[700];
                snprintf(why, sizeof why, "%s; but not permitted: owner uid %u, creator uid %u",
                         it->why, it->uid, it->cuid);
                obj_line("would fail", it, why);
                t->failed++;
            } else {
                obj_line("would remove", it, it->why);
                t->removed++;
            }
            continue;
        }
        char why[512], full[1100];
        const struct sg_ledger *lk = locked ? own : NULL;
        int ok = have_fresh ? recheck(it, &fresh, lk, why, sizeof why) : 0;
        if (!have_fresh)
            snprintf(why, sizeof why, "cannot read the kernel's lists again: %s", strerror(errno));
        if (ok < 0) {
            obj_line("gone", it, why);
            continue;
        }
        if (ok == 0) {
            snprintf(full, sizeof full, "%s; kept at the re-check: %s", it->why, why);
            obj_line("kept", it, full);
            t->kept++;
            continue;
        }
        if (obj_remove(it) != 0) {
            int e = errno;
            if (e == EINVAL || e == EIDRM) {
                obj_line("gone", it, "gone: removed by someone else meanwhile");
                continue;
            }
            if (e == EPERM)
                snprintf(full, sizeof full, "%s; not permitted (EPERM): owner uid %u, creator uid "
                                            "%u; run as one of them or as root",
                         it->why, it->uid, it->cuid);
            else
                snprintf(full, sizeof full, "%s; IPC_RMID failed: %s", it->why, strerror(e));
            obj_line("failed", it, full);
            t->failed++;
            continue;
        }
        obj_line("removed", it, it->why);
        t->removed++;
        if (locked)
            obj_forget(own, it);
    }
    if (have_fresh)
        sg_view_free(&fresh);
    if (locked)
        sg_ledger_unlock(own);
}
