/*
 * sg_reconcile.c - drop ledger records the kernel contradicts
 * (see sg_reconcile.h).
 */
#define _GNU_SOURCE
#include "sg_reconcile.h"
#include "sg_pidns.h"
#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"

#include <stdlib.h>
#include <string.h>

static const struct sg_maps *maps_of(struct sg_maps_cache *c, int pid)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].pid == pid)
            return &c->v[i];
    struct sg_maps *nv = realloc(c->v, (c->n + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    c->v = nv;
    sg_maps_read(&c->v[c->n], pid);
    return &c->v[c->n++];
}

void sg_maps_cache_free(struct sg_maps_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        sg_maps_free(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

int sg_att_live(struct sg_maps_cache *c, const struct sg_att *a)
{
    int alive = sg_proc_alive_ns(a->pid, a->start, a->pidns);
    /* Another namespace's process: its maps are not /proc/PID here. */
    if (a->pidns && a->pidns != sg_pidns_view())
        return alive == 0 ? 0 : 1;
    if (alive != 1)
        return alive;
    const struct sg_maps *m = maps_of(c, a->pid);
    if (!m || !m->readable)
        return -1;
    return sg_maps_has(m, a->addr, a->shmid);
}

static int sem_is(const void *snap, const struct sg_seg *r)
{
    return sg_ksem_is(sg_ksemsnap_find(snap, r->id), r);
}

static int msg_is(const void *snap, const struct sg_seg *r)
{
    return sg_kmsg_is(sg_kmsgsnap_find(snap, r->id), r);
}

/* Records of objects of kind (sets or queues) that the kernel's list snap
 * no longer has (is: snap has the object r describes), with their users;
 * then users of objects of that kind the ledger has no record of. */
static void drop_gone(struct sg_ledger *L, uint32_t kind, const void *snap,
                      int (*is)(const void *snap, const struct sg_seg *r),
                      struct sg_reconcile_stats *st)
{
    /* Deleting at slot i may shift a later record into i: look again. */
    for (uint32_t i = 0; i < L->seg_cap; i++) {
        struct sg_seg *s = &L->seg[i];
        if (s->state != SG_REC_LIVE || s->kind != kind || is(snap, s))
            continue;
        int32_t id = s->id;
        sg_seg_del(L, s);
        if (kind == SG_KIND_SEM)
            st->sems_dropped++;
        else
            st->msgs_dropped++;
        st->users_dropped += sg_user_del_obj(L, kind, id);
        i--;
    }
    for (uint32_t i = 0; i < L->user_cap && L->hdr->user_live; i++) {
        struct sg_user *u = &L->users[i];
        if (u->state != SG_REC_LIVE || u->kind != kind || sg_seg_find(L, kind, u->id))
            continue;
        sg_user_del(L, u);
        st->users_dropped++;
        i--;
    }
}

int sg_reconcile(struct sg_ledger *L, struct sg_reconcile_stats *st)
{
    memset(st, 0, sizeof *st);
    uint64_t t0 = sg_now_ns();
    if (L->pidns)
        sg_pidns_learn(L->pidns, SG_PIDNS_CAP, L->owner);
    struct sg_ksnap ks;
    if (sg_ksnap_read(&ks) != 0)
        return -1;
    /* Deleting at slot i may shift a later record into i: look again. */
    for (uint32_t i = 0; i < L->seg_cap; i++) {
        struct sg_seg *s = &L->seg[i];
        if (s->state != SG_REC_LIVE || s->kind != SG_KIND_SHM)
            continue;
        const struct sg_kseg *k = sg_ksnap_find(&ks, s->id);
        if (sg_kseg_is(k, s))
            continue;
        sg_seg_del(L, s);
        st->segs_dropped++;
        i--;
    }
    /* Semaphore sets and message queues. */
    struct sg_ksemsnap kss;
    if (sg_ksemsnap_read(&kss) == 0) {
        drop_gone(L, SG_KIND_SEM, &kss, sem_is, st);
        sg_ksemsnap_free(&kss);
    }
    struct sg_kmsgsnap kms;
    if (sg_kmsgsnap_read(&kms) == 0) {
        drop_gone(L, SG_KIND_MSG, &kms, msg_is, st);
        sg_kmsgsnap_free(&kms);
    }
    /* Attachment records are placed without the lock: one placed after
     * the kernel snapshot or after its process's maps were read would be
     * judged on old facts.  Only records older than the snapshot are
     * judged (t0, less a second for the coarse clock that stamps them),
     * each on a copy, and removed only if the slot still holds it. */
    struct sg_maps_cache mc = { NULL, 0 };
    for (uint32_t i = 0; i < L->att_cap; i++) {
        struct sg_att a = L->att[i];
        if (__atomic_load_n(&L->att[i].state, __ATOMIC_ACQUIRE) != SG_REC_LIVE ||
            a.state != SG_REC_LIVE || a.time_ns + 1000000000ull > t0)
            continue;
        /* Only what is proven untrue goes. */
        if (sg_ksnap_find(&ks, a.shmid) && sg_att_live(&mc, &a) != 0)
            continue;
        st->atts_dropped += (unsigned)sg_att_drop_stale(L, &L->att[i], &a);
    }
    st->atts_dropped += sg_att_free_dead_claims(L);
    sg_maps_cache_free(&mc);
    sg_ksnap_free(&ks);
    return 0;
}
