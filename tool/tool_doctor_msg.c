/*
 * tool_doctor_msg.c - the message queue part of `shmguard doctor`:
 * kernel.msgmni (queues) against its use, the messages and bytes the
 * queues hold, kernel.msgmax and kernel.msgmnb, and the queues by state
 * as the view tells it (sg_analysis.h: in use, unknown, orphaned, held).
 *
 * msgget's check when creating a queue (ipc/msg.c newque, ipc_addid):
 * queues in use >= msgmni is ENOSPC, "No space left on device" again.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_kernel.h"
#include "sg_kmsg.h"

#include <inttypes.h>
#include <string.h>

#define NEAR_PCT 90 /* as for shared memory and semaphores */

static double pct(uint64_t used, uint64_t lim)
{
    return lim ? 100.0 * (double)used / (double)lim : 0.0;
}

void doctor_msg_analyse(const struct sg_view *v, struct doctor_msg *d)
{
    memset(d, 0, sizeof *d);
    if (!v->have_msgs || sg_msglimits_read(&d->l) != 0)
        return;
    d->have = 1;
    const struct sg_msglimits *l = &d->l;
    d->mni = l->used_queues >= l->msgmni ? 2 : pct(l->used_queues, l->msgmni) >= NEAR_PCT ? 1 : 0;
    for (size_t i = 0; i < v->n_msg; i++) {
        const struct sg_msginfo *m = &v->msg[i];
        d->queues[m->state]++;
        d->msgs[m->state] += m->k.qnum;
        d->bytes[m->state] += m->k.cbytes;
    }
    /* Orphaned queues, holding messages or not, as orphaned sets. */
    d->exit = d->mni ? DOCTOR_SEM_EXIT_LIMIT
              : d->queues[SG_MSG_ORPHANED] + d->queues[SG_MSG_HELD] ? DOCTOR_SEM_EXIT_ORPHANS : 0;
}

static size_t total_q(const struct doctor_msg *d)
{
    size_t n = 0;
    for (int s = 0; s < DOCTOR_MSG_STATES; s++)
        n += d->queues[s];
    return n;
}

static uint64_t total(const uint64_t *v)
{
    uint64_t n = 0;
    for (int s = 0; s < DOCTOR_MSG_STATES; s++)
        n += v[s];
    return n;
}

void doctor_msg_text(const struct doctor_msg *d, FILE *f)
{
    if (!d->have) {
        fprintf(f, "\nMessage queues: the kernel's list or its limits could not be read\n");
        return;
    }
    const struct sg_msglimits *l = &d->l;
    char used[96];
    fprintf(f, "\nMessage queues (kernel.msgmni %" PRIu64 ", msgmnb %" PRIu64 " bytes a queue, "
               "msgmax %" PRIu64 " bytes a message):\n",
            l->msgmni, l->msgmnb, l->msgmax);
    snprintf(used, sizeof used, "%" PRIu64 " / %" PRIu64 " queues", l->used_queues, l->msgmni);
    fprintf(f, "  MSGMNI         %-44s %6.1f%%%s\n", used, pct(l->used_queues, l->msgmni),
            d->mni == 2 ? "  EXHAUSTED" : d->mni == 1 ? "  NEARLY EXHAUSTED" : "");
    if (d->mni == 2)
        fprintf(f, "  a new queue    none can be created: msgget fails with ENOSPC (kernel.msgmni)\n");
    fprintf(f, "  queues         %zu: %zu in use, %zu unknown, %zu orphaned, %zu orphaned holding "
               "messages; %" PRIu64 " messages, %" PRIu64 " bytes held\n",
            total_q(d), d->queues[SG_MSG_IN_USE], d->queues[SG_MSG_UNKNOWN],
            d->queues[SG_MSG_ORPHANED], d->queues[SG_MSG_HELD], total(d->msgs), total(d->bytes));
    if (d->queues[SG_MSG_ORPHANED] + d->queues[SG_MSG_HELD])
        fprintf(f, "  to do          shmguard gc --dry-run   # shows the orphaned queues it would "
                   "remove\n");
    uint64_t want = d->mni ? sg_ipcmni_raise(l->msgmni, l->used_queues, NULL) : 0;
    if (d->mni && want)
        fprintf(f, "  to do          sysctl -w kernel.msgmni=%" PRIu64
                   "   # raises the limit (this IPC namespace, until reboot)\n",
                want);
    else if (d->mni)
        fprintf(f, "  to do          kernel.msgmni is at the kernel's ceiling: only removing "
                   "queues helps\n");
}

void doctor_msg_json(const struct doctor_msg *d, FILE *f)
{
    if (!d->have) {
        fprintf(f, "  \"queues\": null,\n");
        return;
    }
    const struct sg_msglimits *l = &d->l;
    static const char *lv[] = { "ok", "near", "exhausted" };
    fprintf(f, "  \"queues\": {\n    \"msgmni\": {\"used\": %" PRIu64 ", \"limit\": %" PRIu64
               ", \"percent\": %.1f, \"status\": \"%s\"},\n",
            l->used_queues, l->msgmni, pct(l->used_queues, l->msgmni), lv[d->mni]);
    fprintf(f, "    \"msgmax\": %" PRIu64 ", \"msgmnb\": %" PRIu64 ", \"messages\": %" PRIu64
               ", \"bytes\": %" PRIu64 ",\n",
            l->msgmax, l->msgmnb, total(d->msgs), total(d->bytes));
    fprintf(f, "    \"queues\": {\"in_use\": %zu, \"unknown\": %zu, \"orphaned\": %zu, "
               "\"held\": %zu}\n  },\n",
            d->queues[SG_MSG_IN_USE], d->queues[SG_MSG_UNKNOWN], d->queues[SG_MSG_ORPHANED],
            d->queues[SG_MSG_HELD]);
}

void doctor_msg_verdict(const struct doctor_msg *d, char *verdict, size_t n, int others_exit)
{
    if (!d->have || !d->exit)
        return;
    size_t orph = d->queues[SG_MSG_ORPHANED] + d->queues[SG_MSG_HELD];
    char orphans[128] = "", mine[400];
    if (orph)
        snprintf(orphans, sizeof orphans, "%s%zu orphaned message queue%s%s", d->mni ? "; " : "",
                 orph, orph == 1 ? "" : "s",
                 d->queues[SG_MSG_HELD] ? " (some holding messages)" : "");
    if (d->mni)
        snprintf(mine, sizeof mine, "%s: kernel.msgmni %" PRIu64 "/%" PRIu64 " queues%s%s",
                 d->mni == 2 ? "EXHAUSTED" : "NEARLY EXHAUSTED", d->l.used_queues, d->l.msgmni,
                 d->mni == 2 ? ": the next msgget that creates a queue fails with ENOSPC" : "",
                 orphans);
    else
        snprintf(mine, sizeof mine, "ORPHANS: %s; kernel.msgmni below %d%%", orphans, NEAR_PCT);
    char old[512];
    snprintf(old, sizeof old, "%s", verdict);
    /* Worse than the rest: it leads (the rest healthy: its "HEALTHY" line
     * would contradict this one); else it follows. */
    if (d->exit > others_exit)
        snprintf(verdict, n, "%s; %s%s", mine,
                 others_exit ? "also: " : "shared memory and semaphores: no limit near, no orphans",
                 others_exit ? old : "");
    else
        snprintf(verdict, n, "%s; message queues: %s", old, mine);
}
