/*
 * sg_reconcile.c - drop ledger records the kernel contradicts
 * (see sg_reconcile.h).
 */
#define _GNU_SOURCE
#include "sg_reconcile.h"
#include "sg_pidns.h"
#include "sg_kernel.h"
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
    /* Semaphore sets: records of sets the kernel no longer has, with
     * their users; users of sets the ledger has no record of. */
    struct sg_ksemsnap kss;
    if (sg_ksemsnap_read(&kss) == 0) {
        for (uint32_t i = 0; i < L->seg_cap; i++) {
            struct sg_seg *s = &L->seg[i];
            if (s->state != SG_REC_LIVE || s->kind != SG_KIND_SEM)
                continue;
            if (sg_ksem_is(sg_ksemsnap_find(&kss, s->id), s))
                continue;
            int32_t id = s->id;
            sg_seg_del(L, s);
            st->sems_dropped++;
            st->semusers_dropped += sg_semuser_del_set(L, id);
            i--;
        }
        for (uint32_t i = 0; i < L->semuser_cap && L->hdr->semuser_live; i++) {
            struct sg_semuser *u = &L->semuser[i];
            if (u->state != SG_REC_LIVE || sg_seg_find(L, SG_KIND_SEM, u->semid))
                continue;
            sg_semuser_del(L, u);
            st->semusers_dropped++;
            i--;
        }
        sg_ksemsnap_free(&kss);
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
