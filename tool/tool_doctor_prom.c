/*
 * tool_doctor_prom.c - `shmguard doctor --prometheus`: the doctor's
 * figures in the Prometheus text exposition format (version 0.0.4), for
 * node exporter's textfile collector, and --output's atomic write of it.
 *
 * Every family has its HELP and TYPE lines; labels come from fixed sets
 * (limit names, states), never pids, uids, keys or commands, so that a
 * fleet's series stay bounded.  Limits and what uses them, segments and
 * sets by state with their bytes and semaphores, due removals, records
 * the ledgers could not store, and the limit failures the library saw
 * (its ledgers' event counters and the newest failure of each limit).
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_analysis.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static double ratio(uint64_t used, uint64_t limit)
{
    return limit ? (double)used / (double)limit : 0.0;
}

/* The label value of a state name ("in-use" -> "in_use"). */
static void state_label(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
}

/* Limit names of the event ring (SG_LIM_*), as label values. */
static const char *lim_label(uint32_t lim)
{
    static const char *const names[] = { "other",  "shmmni", "shmall", "shmmax", "shmmin",
                                         "smaller", "semmni", "semmns", "semmsl", "msgmni" };
    return lim < sizeof names / sizeof names[0] ? names[lim] : "other";
}
#define N_LIM 10

int doctor_prom_print(const struct doctor_metrics *m, FILE *f)
{
    const struct sg_view *v = m->v;
    const struct sg_limits *l = &v->lim;
    const struct sg_semlimits *sl = &v->slim;
    int sem = m->sem->have;

    family(f, "shmguard_ipc_limit", "gauge",
           "System V IPC limit of this IPC namespace: kernel.shmmni (segments), kernel.shmall "
           "(pages), SEMMNI (semaphore sets), SEMMNS (semaphores), kernel.msgmni (message "
           "queues).");
    fprintf(f, "shmguard_ipc_limit{limit=\"shmmni\"} %" PRIu64 "\n", l->shmmni);
    fprintf(f, "shmguard_ipc_limit{limit=\"shmall\"} %" PRIu64 "\n", l->shmall);
    if (sem) {
        fprintf(f, "shmguard_ipc_limit{limit=\"semmni\"} %" PRIu64 "\n", sl->semmni);
        fprintf(f, "shmguard_ipc_limit{limit=\"semmns\"} %" PRIu64 "\n", sl->semmns);
    }
    const struct sg_msglimits *ml = &m->msg->l;
    int msg = m->msg->have;
    if (msg)
        fprintf(f, "shmguard_ipc_limit{limit=\"msgmni\"} %" PRIu64 "\n", ml->msgmni);
    family(f, "shmguard_ipc_used", "gauge", "What counts against each limit now, in its unit.");
    fprintf(f, "shmguard_ipc_used{limit=\"shmmni\"} %" PRIu64 "\n", l->used_ids);
    fprintf(f, "shmguard_ipc_used{limit=\"shmall\"} %" PRIu64 "\n", l->shm_tot);
    if (sem) {
        fprintf(f, "shmguard_ipc_used{limit=\"semmni\"} %" PRIu64 "\n", sl->used_sets);
        fprintf(f, "shmguard_ipc_used{limit=\"semmns\"} %" PRIu64 "\n", sl->used_sems);
    }
    if (msg)
        fprintf(f, "shmguard_ipc_used{limit=\"msgmni\"} %" PRIu64 "\n", ml->used_queues);
    family(f, "shmguard_ipc_used_ratio", "gauge",
           "Used over limit, 0 to 1 (doctor calls 0.9 and above nearly exhausted).");
    fprintf(f, "shmguard_ipc_used_ratio{limit=\"shmmni\"} %.6f\n", ratio(l->used_ids, l->shmmni));
    fprintf(f, "shmguard_ipc_used_ratio{limit=\"shmall\"} %.6f\n", ratio(l->shm_tot, l->shmall));
    if (sem) {
        fprintf(f, "shmguard_ipc_used_ratio{limit=\"semmni\"} %.6f\n",
                ratio(sl->used_sets, sl->semmni));
        fprintf(f, "shmguard_ipc_used_ratio{limit=\"semmns\"} %.6f\n",
                ratio(sl->used_sems, sl->semmns));
    }
    if (msg)
        fprintf(f, "shmguard_ipc_used_ratio{limit=\"msgmni\"} %.6f\n",
                ratio(ml->used_queues, ml->msgmni));

    char lab[32];
    family(f, "shmguard_shm_segments", "gauge",
           "Shared memory segments by state: in_use (attached), idle (creator alive, nobody "
           "attached), orphaned (nobody attached, creator provably dead), pending (removal "
           "deferred by the library), marked (removed, still attached).");
    for (int s = SG_ST_IN_USE; s <= SG_ST_MARKED; s++) {
        state_label(lab, sizeof lab, sg_segstate_name((enum sg_segstate)s));
        fprintf(f, "shmguard_shm_segments{state=\"%s\"} %zu\n", lab, m->seg_state[s].count);
    }
    family(f, "shmguard_shm_segment_bytes", "gauge", "Bytes of the segments in each state.");
    for (int s = SG_ST_IN_USE; s <= SG_ST_MARKED; s++) {
        state_label(lab, sizeof lab, sg_segstate_name((enum sg_segstate)s));
        fprintf(f, "shmguard_shm_segment_bytes{state=\"%s\"} %" PRIu64 "\n", lab,
                m->seg_state[s].bytes);
    }
    family(f, "shmguard_shm_pending_removals_due", "gauge",
           "Deferred removals whose last user is gone: due, not yet carried out.");
    fprintf(f, "shmguard_shm_pending_removals_due %zu\n", m->due->count);

    if (sem) {
        family(f, "shmguard_sem_sets", "gauge",
               "Semaphore sets by state: in_use, unknown (cannot be proved unused), orphaned "
               "(creator and every recorded user provably dead, no live last changer).");
        for (int s = SG_SEM_IN_USE; s <= SG_SEM_ORPHANED; s++) {
            state_label(lab, sizeof lab, sg_semstate_name((enum sg_semstate)s));
            fprintf(f, "shmguard_sem_sets{state=\"%s\"} %zu\n", lab, m->sem->sets[s]);
        }
        family(f, "shmguard_sem_semaphores", "gauge", "Semaphores in the sets of each state.");
        for (int s = SG_SEM_IN_USE; s <= SG_SEM_ORPHANED; s++) {
            state_label(lab, sizeof lab, sg_semstate_name((enum sg_semstate)s));
            fprintf(f, "shmguard_sem_semaphores{state=\"%s\"} %zu\n", lab, m->sem->sems[s]);
        }
    }

    if (msg) {
        /* In sg_msgstate's order. */
        static const char *qs[] = { "in_use", "unknown", "orphaned", "held" };
        family(f, "shmguard_msg_queues", "gauge",
               "Message queues by state: in_use, unknown, orphaned (creator, users, last sender "
               "and receiver gone), held (orphaned, still holding messages).");
        for (int s = 0; s < DOCTOR_MSG_STATES; s++)
            fprintf(f, "shmguard_msg_queues{state=\"%s\"} %zu\n", qs[s], m->msg->queues[s]);
        family(f, "shmguard_msg_queue_messages", "gauge", "Messages held by the queues of each state.");
        for (int s = 0; s < DOCTOR_MSG_STATES; s++)
            fprintf(f, "shmguard_msg_queue_messages{state=\"%s\"} %" PRIu64 "\n", qs[s],
                    m->msg->msgs[s]);
        family(f, "shmguard_msg_queue_bytes", "gauge", "Bytes held by the queues of each state.");
        for (int s = 0; s < DOCTOR_MSG_STATES; s++)
            fprintf(f, "shmguard_msg_queue_bytes{state=\"%s\"} %" PRIu64 "\n", qs[s],
                    m->msg->bytes[s]);
    }

    /* What the library saw: its ledgers' counters and event rings. */
    uint64_t events = 0, last[N_LIM] = { 0 };
    for (size_t i = 0; i < v->n_ledgers; i++) {
        const struct sg_ledger *L = &v->ledgers[i];
        if (!L->hdr || !L->ev)
            continue;
        events += L->hdr->ev_total;
        for (uint32_t k = 0; k < SG_EV_CAP; k++) {
            const struct sg_event *e = &L->ev[k];
            if (e->state != SG_REC_LIVE)
                continue;
            uint32_t lim = e->limit < N_LIM ? e->limit : 0;
            if (e->time_ns > last[lim])
                last[lim] = e->time_ns;
        }
    }
    family(f, "shmguard_ledgers_read", "gauge",
           "Ledgers read (one per uid that used the library here); unreadable ones are not "
           "counted in any figure below.");
    fprintf(f, "shmguard_ledgers_read %zu\n", v->n_ledgers);
    family(f, "shmguard_ledgers_unreadable", "gauge", "Ledger files that could not be read.");
    fprintf(f, "shmguard_ledgers_unreadable %zu\n", v->n_unreadable);
    /* Gauges, not counters: a sum over the ledgers read falls when one
     * becomes unreadable or is made anew, which a counter must never do;
     * and each ledger is its owner's word (a user can write any number
     * into his own). */
    family(f, "shmguard_ledger_dropped_records", "gauge",
           "Records the ledgers read could not store (a table was full), summed over them.");
    fprintf(f, "shmguard_ledger_dropped_records %" PRIu64 "\n", v->dropped);
    family(f, "shmguard_limit_failures", "gauge",
           "Calls that failed on an IPC limit as the library recorded them, summed over the "
           "ledgers read (a ledger made anew starts again from 0).");
    fprintf(f, "shmguard_limit_failures %" PRIu64 "\n", events);
    family(f, "shmguard_limit_failure_last_timestamp_seconds", "gauge",
           "When the newest failure on each limit that the ledgers still hold happened (Unix "
           "time).");
    for (uint32_t k = 0; k < N_LIM; k++)
        if (last[k])
            fprintf(f, "shmguard_limit_failure_last_timestamp_seconds{limit=\"%s\"} %.3f\n",
                    lim_label(k), (double)last[k] / 1e9);
    family(f, "shmguard_doctor_status", "gauge",
           "doctor's exit status: 0 healthy, 2 orphans or due removals, 3 a limit at 90% or more.");
    fprintf(f, "shmguard_doctor_status %d\n", m->exit);
    return ferror(f) ? -1 : 0;
}

int doctor_prom_write(const struct doctor_metrics *m, const char *path)
{
    /* A temporary file beside the target, renamed over it: a collector
     * reading the directory sees the old file or the new one, whole.  Its
     * name is random and it is created exclusively (mkostemp): another
     * user of the directory (the collector's own) can neither guess it
     * nor plant a link there.  Hidden (a leading dot): the textfile
     * collector reads only *.prom. */
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.XXXXXX", dl, path, slash ? slash + 1 : path) >=
        (int)sizeof tmp) {
        fprintf(stderr, "%s: doctor: --output path too long\n", sg_prog);
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd >= 0 && fchmod(fd, 0644) != 0) {
        close(fd);
        unlink(tmp);
        fd = -1;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "%s: doctor: cannot create %s: %m\n", sg_prog, tmp);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = doctor_prom_print(m, f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -1;
    int e = errno;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) {
        e = errno;
        rc = -1;
    }
    if (rc != 0) {
        errno = e;
        fprintf(stderr, "%s: doctor: cannot write %s: %m\n", sg_prog, path);
        unlink(tmp);
    }
    return rc;
}
