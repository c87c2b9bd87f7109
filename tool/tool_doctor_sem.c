/*
 * tool_doctor_sem.c - the semaphore half of `shmguard doctor`: usage of
 * kernel.sem (SEMMNI sets, SEMMNS semaphores in all sets, SEMMSL per
 * set) against its limits, the sets by state, the largest holders by
 * creator command and uid, and what to do.
 *
 * semget's checks when creating a set (ipc/sem.c newary, then
 * ipc_addid): nsems > SEMMSL is EINVAL; used semaphores + nsems > SEMMNS
 * is ENOSPC; sets in use >= SEMMNI is ENOSPC.  httpd's "AH00023 ... No
 * space left on device" is the last one, full of sets that killed
 * servers left behind.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "sg_analysis.h"

#include <inttypes.h>
#include <string.h>

#define NEAR_PCT 90 /* as for shared memory (tool_doctor.c) */
#define HOLDERS 5

static double pct(uint64_t used, uint64_t lim)
{
    return lim ? 100.0 * (double)used / (double)lim : 0.0;
}

static int level(uint64_t used, uint64_t lim)
{
    if (used >= lim)
        return 2;
    return pct(used, lim) >= NEAR_PCT ? 1 : 0;
}

void doctor_sem_analyse(const struct sg_view *v, struct doctor_sem *d)
{
    memset(d, 0, sizeof *d);
    d->have = v->have_semlimits && v->have_sems;
    if (!d->have)
        return;
    const struct sg_semlimits *l = &v->slim;
    d->mni = level(l->used_sets, l->semmni);
    d->mns = level(l->used_sems, l->semmns);
    sg_view_semtally(v, d->sets, d->sems);
    d->n_hold = sg_view_semholders(v, d->hold, sizeof d->hold / sizeof d->hold[0]);
    int worst = d->mni > d->mns ? d->mni : d->mns;
    d->exit = worst ? DOCTOR_SEM_EXIT_LIMIT : d->sets[SG_SEM_ORPHANED] ? DOCTOR_SEM_EXIT_ORPHANS : 0;
}

static const char *lvword(int lv)
{
    return lv == 2 ? "  EXHAUSTED" : lv == 1 ? "  NEARLY EXHAUSTED" : "";
}

void doctor_sem_text(const struct doctor_sem *d, const struct sg_view *v, FILE *f)
{
    if (!d->have) {
        fprintf(f, "\nSemaphore sets: the kernel's list or kernel.sem could not be read\n");
        return;
    }
    const struct sg_semlimits *l = &v->slim;
    char used[96];
    fprintf(f, "\nSemaphores (kernel.sem = \"%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
               "\": SEMMSL SEMMNS SEMOPM SEMMNI):\n",
            l->semmsl, l->semmns, l->semopm, l->semmni);
    snprintf(used, sizeof used, "%" PRIu64 " / %" PRIu64 " sets", l->used_sets, l->semmni);
    fprintf(f, "  SEMMNI         %-44s %6.1f%%%s\n", used, pct(l->used_sets, l->semmni),
            lvword(d->mni));
    snprintf(used, sizeof used, "%" PRIu64 " / %" PRIu64 " semaphores", l->used_sems, l->semmns);
    fprintf(f, "  SEMMNS         %-44s %6.1f%%%s\n", used, pct(l->used_sems, l->semmns),
            lvword(d->mns));
    if (d->mni == 2)
        fprintf(f, "  a new set      none can be created: semget fails with ENOSPC (SEMMNI)\n");
    else if (l->used_sems >= l->semmns)
        fprintf(f, "  a new set      none can be created: semget fails with ENOSPC (SEMMNS)\n");
    else {
        uint64_t left = l->semmns - l->used_sems;
        uint64_t most = left < l->semmsl ? left : l->semmsl;
        fprintf(f, "  a new set      can have up to %" PRIu64 " semaphore%s (%s)\n", most,
                most == 1 ? "" : "s", left < l->semmsl ? "SEMMNS" : "SEMMSL");
    }
    size_t total = d->sets[0] + d->sets[1] + d->sets[2];
    fprintf(f, "  sets           %zu: %zu in use, %zu orphaned, %zu unknown (made without the "
               "library)\n",
            total, d->sets[SG_SEM_IN_USE], d->sets[SG_SEM_ORPHANED], d->sets[SG_SEM_UNKNOWN]);
    size_t hidden = 0;
    for (size_t i = 0; i < v->n_sem; i++)
        hidden += v->sem[i].creator_alive == SG_ALIVE_HIDDEN && !v->sem[i].users_alive;
    if (hidden)
        fprintf(f, "  elsewhere      %zu in use, kept: %s not visible from this pid namespace\n",
                hidden, hidden == 1 ? "its creator is" : "their creators are");
    for (size_t i = 0; i < d->n_hold && i < HOLDERS; i++) {
        const struct sg_semholder *h = &d->hold[i];
        fprintf(f, "  holder         %-16.*s uid %-6u %5zu %-5s %5zu sem%s%s\n",
                (int)sizeof h->comm, h->comm[0] ? h->comm : "(unknown)", (unsigned)h->uid, h->sets,
                h->sets == 1 ? "set" : "sets", h->sems, h->sems == 1 ? "" : "s",
                h->orphaned ? (h->orphaned == h->sets ? ", all orphaned" : ", some orphaned") : "");
    }
    if (d->sets[SG_SEM_ORPHANED]) {
        fprintf(f, "  to do          %s gc --dry-run, then %s gc   # frees the %zu orphaned "
                   "set%s, re-checking each first\n",
                sg_prog, sg_prog, d->sets[SG_SEM_ORPHANED],
                d->sets[SG_SEM_ORPHANED] == 1 ? "" : "s");
    }
    uint64_t mni = d->mni ? sg_ipcmni_raise(l->semmni, l->used_sets, NULL) : l->semmni;
    uint64_t mns = d->mns ? l->semmns * 2 : l->semmns;
    if ((d->mni || d->mns) && mni)
        fprintf(f, "  to do          sysctl -w kernel.sem=\"%" PRIu64 " %" PRIu64 " %" PRIu64
                   " %" PRIu64 "\"   # raises the limits (this IPC namespace, until reboot)\n",
                l->semmsl, mns, l->semopm, mni);
    else if (d->mni)
        fprintf(f, "  to do          SEMMNI is at the kernel's ceiling: only removing sets helps\n");
}

void doctor_sem_json(const struct doctor_sem *d, const struct sg_view *v, FILE *f)
{
    if (!d->have) {
        fprintf(f, "  \"semaphores\": null,\n");
        return;
    }
    const struct sg_semlimits *l = &v->slim;
    static const char *lv[] = { "ok", "near", "exhausted" };
    fprintf(f, "  \"semaphores\": {\n    \"semmni\": {\"used\": %" PRIu64 ", \"limit\": %" PRIu64
               ", \"percent\": %.1f, \"status\": \"%s\"},\n",
            l->used_sets, l->semmni, pct(l->used_sets, l->semmni), lv[d->mni]);
    fprintf(f, "    \"semmns\": {\"used\": %" PRIu64 ", \"limit\": %" PRIu64
               ", \"percent\": %.1f, \"status\": \"%s\"},\n",
            l->used_sems, l->semmns, pct(l->used_sems, l->semmns), lv[d->mns]);
    fprintf(f, "    \"semmsl\": %" PRIu64 ", \"semopm\": %" PRIu64 ",\n", l->semmsl, l->semopm);
    fprintf(f, "    \"sets\": {\"in_use\": %zu, \"orphaned\": %zu, \"unknown\": %zu},\n",
            d->sets[SG_SEM_IN_USE], d->sets[SG_SEM_ORPHANED], d->sets[SG_SEM_UNKNOWN]);
    fprintf(f, "    \"orphaned_ids\": [");
    int first = 1;
    for (size_t i = 0; i < v->n_sem; i++)
        if (v->sem[i].state == SG_SEM_ORPHANED) {
            fprintf(f, "%s%d", first ? "" : ", ", v->sem[i].k.id);
            first = 0;
        }
    fprintf(f, "],\n    \"holders\": [");
    for (size_t i = 0; i < d->n_hold; i++) {
        const struct sg_semholder *h = &d->hold[i];
        fprintf(f, "%s\n      {\"comm\": ", i ? "," : "");
        if (h->comm[0])
            json_str(f, h->comm, sizeof h->comm);
        else
            fprintf(f, "null");
        fprintf(f, ", \"uid\": %u, \"sets\": %zu, \"semaphores\": %zu, \"orphaned\": %zu}",
                (unsigned)h->uid, h->sets, h->sems, h->orphaned);
    }
    fprintf(f, "%s]\n  },\n", d->n_hold ? "\n    " : "");
}

void doctor_sem_verdict(const struct doctor_sem *d, const struct sg_view *v, char *verdict,
                        size_t n, int shm_exit)
{
    if (!d->have || !d->exit)
        return;
    const struct sg_semlimits *l = &v->slim;
    char mine[400];
    int worst = d->mni > d->mns ? d->mni : d->mns;
    size_t orph = d->sets[SG_SEM_ORPHANED];
    char orphans[96] = "";
    if (orph)
        snprintf(orphans, sizeof orphans, "%s%zu orphaned semaphore set%s", worst ? "; " : "",
                 orph, orph == 1 ? "" : "s");
    if (worst)
        snprintf(mine, sizeof mine, "%s: kernel.sem %s %" PRIu64 "/%" PRIu64 " %s%s%s",
                 worst == 2 ? "EXHAUSTED" : "NEARLY EXHAUSTED", d->mni >= d->mns ? "SEMMNI" : "SEMMNS",
                 d->mni >= d->mns ? l->used_sets : l->used_sems,
                 d->mni >= d->mns ? l->semmni : l->semmns, d->mni >= d->mns ? "sets" : "semaphores",
                 worst == 2 ? ": the next semget that creates a set fails with ENOSPC" : "", orphans);
    else
        snprintf(mine, sizeof mine, "ORPHANS: %s; every semaphore limit below %d%%", orphans,
                 NEAR_PCT);
    char old[512];
    snprintf(old, sizeof old, "%s", verdict);
    if (d->exit > shm_exit)
        snprintf(verdict, n, "%s%s%s", mine, shm_exit ? "; shared memory: " : "",
                 shm_exit ? old : "");
    else
        snprintf(verdict, n, "%s; semaphores: %s", old, mine);
}

const char *doctor_sem_tag(const struct doctor_sem *d)
{
    int worst = d->mni > d->mns ? d->mni : d->mns;
    return worst == 2 ? "exhausted" : worst == 1 ? "nearly-exhausted" : NULL;
}
