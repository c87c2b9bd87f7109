/*
 * tool_check.h - the two halves of `shmguard check`: running the command
 * (tool_check.c) and judging what it left behind (tool_check_report.c).
 */
#ifndef SG_TOOL_CHECK_H
#define SG_TOOL_CHECK_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "sg_analysis.h"
#include "sg_kernel.h"
#include "sg_layout.h"

struct check_opts {
    int isolate, cleanup, json, quiet;
    int error_exitcode;
    const char *report;         /* file, or NULL for stderr */
};

/* A segment the run left: a leak, or a deferred removal never completed. */
struct check_seg {
    struct sg_kseg k;           /* kernel facts when the run ended */
    int has_rec;                /* the run's ledger recorded its creation */
    struct sg_seg rec;          /* that record (valid when has_rec) */
    int creator_alive;          /* 1, 0, -1 unknown */
    enum sg_segstate state;
    char comm[SG_COMM_LEN];     /* creator's command, "" unknown */
    int removed;                /* --cleanup, or a pending removal completed */
    char note[320];             /* why it was not removed, or what happened */
};

/* A semaphore set the run created and left. */
struct check_sem {
    struct sg_ksem k;
    int has_rec;
    struct sg_seg rec;
    int creator_alive;
    enum sg_semstate state;
    char comm[SG_COMM_LEN];
    int removed;
    char note[160];
};

/* A message queue the run created and left: its creation recorded in the
 * run's ledger, or (isolated runs) any new queue of the namespace. */
struct check_msg {
    struct sg_kmsg k;
    int has_rec;
    struct sg_seg rec;
    int creator_alive;
    enum sg_msgstate state;
    char comm[SG_COMM_LEN];
    int last_alive;             /* a live last sender or receiver: its pid; 0; -1 */
    int removed;
    char note[160];
};

#define CHECK_MAX_RUNNING 16

struct check_run {
    char **argv;
    int argc;
    const char *mode;           /* the library's mode for the run: observe (the
                                 * default: nothing the program does changes),
                                 * defer, or off */
    char dir[PATH_MAX];         /* the run's ledger directory */
    int isolated;
    int pid;                    /* the command's pid */
    int status;                 /* its wait status */
    double secs;                /* how long it ran */
    uint64_t start_ns;          /* CLOCK_REALTIME at the start */
    struct sg_ksnap before;     /* the namespace's segments before the run */
    struct check_seg *leak;     /* leaked, sorted by id */
    size_t n_leaks;
    struct check_seg *pend;     /* deferred removals left */
    size_t n_pend;
    struct sg_event *ev;        /* limit failures, oldest first */
    size_t n_ev;
    uint64_t ev_total;          /* all of them (the rings keep the last 64 each) */
    size_t n_other;             /* new segments of processes outside the ledger */
    struct sg_ksemsnap sems_before; /* the namespace's semaphore sets before */
    struct check_sem *sleak;    /* semaphore sets leaked, sorted by id */
    size_t n_sleaks;
    size_t n_other_sems;        /* new sets of processes outside the ledger */
    struct sg_kmsgsnap msgs_before; /* the namespace's message queues before */
    int msgs_unread;            /* that list could not be read: no queue reported */
    struct check_msg *qleak;    /* queues leaked, sorted by id */
    size_t n_qleaks;
    size_t n_other_msgs;        /* new queues of processes outside the ledger */
    struct { int pid; char comm[SG_COMM_LEN]; } running[CHECK_MAX_RUNNING];
    size_t n_running;           /* the run's processes still alive */
};

/* Note the segments that exist before the run (never its leaks).  0, or
 * -1 after a message. */
int check_before(struct check_run *r);

/* After the command ended: find the run's leaks, its deferred removals
 * (completing those that are due, as the library's next call would) and
 * its limit failures.  0, or -1 after a message. */
int check_collect(struct check_run *r);

/* --cleanup: remove each leak, after checking that its id still names the
 * same segment.  Outcomes are kept in the leaks' removed and note. */
void check_cleanup(struct check_run *r);

/* Write the report (text, or JSON with o->json).  Nothing with o->quiet
 * when nothing leaked. */
void check_report(FILE *f, const struct check_run *r, const struct check_opts *o);

void check_free(struct check_run *r);

#endif
