/*
 * sg_verify.c - the consistency check of a ledger (sg_verify.h).
 *
 * Each hashed record must be the one its own key finds (a second copy or
 * an unreachable record is what a holder killed between two stores leaves
 * behind), the pending index must list exactly the records flagged
 * pending, and the header's counters must count the records.  Slots
 * claimed by dead processes and a lock whose holder died are reported
 * too: the next locker, or the repair, frees them.
 */
#define _GNU_SOURCE
#include "sg_verify.h"
#include "sg_pidns.h"
#include "sg_proc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void note(struct sg_verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct sg_verify *v, const char *fmt, ...)
{
    if (v->first[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->first, sizeof v->first, fmt, ap);
    va_end(ap);
}

static void count_field(struct sg_verify *v, const char *name, uint32_t have, uint32_t want)
{
    if (have == want)
        return;
    v->counters++;
    note(v, "header counter %s is %u, the records count %u", name, have, want);
}

unsigned sg_ledger_verify(struct sg_ledger *L, struct sg_verify *v)
{
    memset(v, 0, sizeof *v);
    const struct sg_hdr *h = L->hdr;
    uint32_t seg_live = 0, pending = 0, att_live = 0, user_live = 0, intents = 0;
    for (uint32_t i = 0; i < L->seg_cap; i++) {
        struct sg_seg *r = &L->seg[i];
        if (!sg_seg_rec_ok(r)) {
            v->bad_records++;
            note(v, "segment record %u is out of range (state %u, id %d, kind %u)", i, r->state,
                 r->id, r->kind);
            continue;
        }
        if (r->state != SG_REC_LIVE)
            continue;
        seg_live++;
        struct sg_seg *f = sg_seg_find(L, r->kind, r->id);
        if (f != r) {
            if (f)
                v->dup_seg++;
            else
                v->lost_seg++;
            note(v, "%s record %u (id %d) %s",
                 r->kind == SG_KIND_SEM ? "semaphore set" : r->kind == SG_KIND_MSG ? "message queue"
                                                                   : "segment",
                 i, r->id, f ? "is a second copy" : "cannot be found by its id");
        }
        if (r->flags & SG_SEG_PENDING) {
            pending++;
            int listed = 0;
            for (uint32_t p = 0; p < L->pend_cap && !listed; p++)
                listed = L->pend[p].id == r->id && L->pend[p].kind == r->kind;
            if (!listed) {
                v->pend_missing++;
                note(v, "the removal of %d is pending but not in the pending index", r->id);
            }
        }
    }
    for (uint32_t p = 0; p < L->pend_cap; p++) {
        if (L->pend[p].id < 0)
            continue;
        struct sg_seg *r = sg_seg_find(L, L->pend[p].kind, L->pend[p].id);
        if (!r || !(r->flags & SG_SEG_PENDING)) {
            v->pend_extra++;
            note(v, "the pending index lists %d, which has no pending removal", L->pend[p].id);
        }
    }
    if (L->pidns)
        sg_pidns_learn(L->pidns, SG_PIDNS_CAP, L->owner);
    for (uint32_t i = 0; i < L->att_cap; i++) {
        struct sg_att *r = &L->att[i];
        if (r->state & SG_REC_CLAIM) {
            if (sg_claim_dead(r->state)) {
                v->dead_claims++;
                note(v, "attachment slot %u is claimed by pid %u, which is dead", i,
                     r->state & SG_REC_CLAIM_PID);
            }
            continue;
        }
        if (!sg_att_state_ok(r->state)) {
            v->bad_records++;
            note(v, "attachment record %u has state %#x, out of range", i, r->state);
            continue;
        }
        if (r->state != SG_REC_LIVE)
            continue;
        att_live++;
        struct sg_att *f = sg_att_find(L, r->pid, r->addr);
        if (f != r) { /* found first at another slot: one of two copies */
            v->dup_att++;
            note(v, "attachment record %u (pid %d, address 0x%llx) is a second copy", i, r->pid,
                 (unsigned long long)r->addr);
        }
    }
    for (uint32_t i = 0; i < SG_USER_CAP; i++) {
        struct sg_user *r = &L->users[i];
        if (!sg_user_state_ok(r->state)) {
            v->bad_records++;
            note(v, "user record %u has state %u, out of range", i, r->state);
            continue;
        }
        if (r->state != SG_REC_LIVE)
            continue;
        user_live++;
        struct sg_user *f = sg_user_find(L, r->kind, r->id, r->pid, r->pidns);
        if (f != r) {
            if (f)
                v->dup_user++;
            else
                v->lost_user++;
            note(v, "user record %u (%s %d, pid %d) %s", i,
                 r->kind == SG_KIND_MSG ? "queue" : "set", r->id, r->pid,
                 f ? "is a second copy" : "cannot be found by its key");
        }
    }
    for (uint32_t i = 0; i < L->intent_cap; i++) {
        const struct sg_intent *x = &L->intent[i];
        if (x->state != SG_REC_LIVE)
            continue;
        intents++;
        v->dead_intents += sg_proc_alive_ns(x->pid, x->start, x->pidns) == 0;
    }
    count_field(v, "seg_live", h->seg_live, seg_live);
    v->att_drift = (int64_t)h->att_live - (int64_t)att_live;
    count_field(v, "user_live", h->user_live, user_live);
    count_field(v, "pending", h->pending, pending);
    count_field(v, "intents", h->intents, intents);
    /* glibc's mutex keeps its holder's thread id at int 2 (__owner). */
    int owner = ((const int *)(const void *)h->lock)[2];
    if (owner > 0 && sg_proc_alive(owner, 0) == 0)
        v->lock_dead = 1;
    v->gen_odd = (h->generation & 1) && owner == 0;
    if (v->gen_odd)
        note(v, "the generation is odd with the lock free (a writer stopped without unlocking)");
    return v->dup_seg + v->lost_seg + v->dup_att + v->dup_user + v->lost_user +
           v->pend_missing + v->pend_extra + v->counters + v->dead_claims + v->bad_records +
           (unsigned)v->gen_odd;
}
