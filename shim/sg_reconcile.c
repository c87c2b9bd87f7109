/*
 * sg_reconcile.c - drop ledger records the kernel contradicts
 * (see sg_reconcile.h).
 */
#define _GNU_SOURCE
#include "sg_reconcile.h"
#include "sg_kernel.h"
#include "sg_proc.h"

#include <stdlib.h>
#include <string.h>

/* A small cache of /proc/<pid>/maps for the pids met during one pass. */
struct maps_cache {
    struct sg_maps *v;
    size_t n;
};

static const struct sg_maps *maps_of(struct maps_cache *c, int pid)
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

static int att_is_live(struct maps_cache *c, const struct sg_att *a)
{
    if (sg_proc_alive(a->pid, a->start) == 0)
        return 0;
    const struct sg_maps *m = maps_of(c, a->pid);
    /* Unreadable maps (hidepid, another user): keep, we cannot tell. */
    return !m || !m->readable || sg_maps_has(m, a->addr, a->shmid);
}

int sg_reconcile(struct sg_ledger *L, struct sg_reconcile_stats *st)
{
    memset(st, 0, sizeof *st);
    struct sg_ksnap ks;
    if (sg_ksnap_read(&ks) != 0)
        return -1;
    /* Deleting at slot i may shift a later record into i: look again. */
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++) {
        struct sg_seg *s = &L->seg[i];
        if (s->state != SG_REC_LIVE || s->kind != SG_KIND_SHM)
            continue;
        const struct sg_kseg *k = sg_ksnap_find(&ks, s->id);
        if (k && k->cpid == s->kcpid && k->cuid == s->kcuid)
            continue;
        sg_seg_del(L, s);
        st->segs_dropped++;
        i--;
    }
    struct maps_cache mc = { NULL, 0 };
    for (uint32_t i = 0; i < L->hdr->att_cap; i++) {
        struct sg_att *a = &L->att[i];
        if (a->state != SG_REC_LIVE)
            continue;
        if (sg_ksnap_find(&ks, a->shmid) && att_is_live(&mc, a))
            continue;
        sg_att_del(L, a);
        st->atts_dropped++;
        i--;
    }
    for (size_t i = 0; i < mc.n; i++)
        sg_maps_free(&mc.v[i]);
    free(mc.v);
    sg_ksnap_free(&ks);
    return 0;
}
