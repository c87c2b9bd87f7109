/*
 * sg_analysis.h - what is using System V shared memory, and what is safe
 * to free: the analysis behind the library's limit messages and the
 * tool's ls, doctor and gc.
 *
 * A view joins the kernel's list (/proc/sysvipc/shm), its limits
 * (IPC_INFO, SHM_INFO) and what ledgers recorded (creator, start time,
 * pending removals).  Every segment gets one state:
 *
 *   pending   a deferred IPC_RMID is recorded for it (library, defer mode)
 *   marked    the kernel has it marked for destruction (SHM_DEST), still
 *             attached
 *   in-use    attached (kernel nattch > 0)
 *   orphaned  nobody attached, and its creator is provably dead: the
 *             ledger's (pid, start time) names no living process, or,
 *             without a ledger record, no process has the creator's pid
 *   idle      nobody attached, creator alive or not provably dead
 *
 * Pid reuse cannot make a dead creator look alive when the ledger knows
 * its start time; without it, a reused pid makes a segment "idle", never
 * "orphaned" (the safe side).
 */
#ifndef SG_ANALYSIS_H
#define SG_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "sg_kernel.h"
#include "sg_ledger.h"

enum sg_segstate { SG_ST_IN_USE, SG_ST_IDLE, SG_ST_ORPHANED, SG_ST_PENDING, SG_ST_MARKED };

const char *sg_segstate_name(enum sg_segstate s); /* "in-use", "idle", ... */

/* System V shared memory limits and usage of this IPC namespace. */
struct sg_limits {
    uint64_t shmmax;        /* bytes, largest segment */
    uint64_t shmmin;        /* bytes, smallest segment */
    uint64_t shmmni;        /* segments */
    uint64_t shmall;        /* pages, all segments together */
    uint64_t used_ids;      /* segments in use */
    uint64_t shm_tot;       /* pages in use */
    uint64_t page_size;
};

/* 0 on success, -1 with errno otherwise.  Uses real_shmctl. */
int sg_limits_read(struct sg_limits *l);

struct sg_seginfo {
    struct sg_kseg k;               /* the kernel's facts */
    const struct sg_seg *rec;       /* ledger record (in a view's ledger), or NULL */
    uid_t rec_domain;               /* owner uid of the ledger holding rec */
    int creator_alive;              /* 1 alive, 0 dead, -1 unknown */
    enum sg_segstate state;
    uint64_t pages;                 /* size in pages, as the kernel counts it */
    char comm[16];                  /* creator's command: ledger, else /proc, else "" */
};

struct sg_view {
    struct sg_limits lim;
    int have_limits;
    struct sg_seginfo *seg;         /* sorted by id */
    size_t n;
    /* Ledgers consulted: copies of the files this process could read, plus
     * (library) its own mapping, which is not owned by the view. */
    struct sg_ledger *ledgers;
    size_t n_ledgers;
    const struct sg_ledger *own;
    char unreadable[8][600];        /* ledger files that could not be read */
    size_t n_unreadable;
};

/* Build a view of this IPC namespace.  ledger_dir: where to read other
 * ledgers from (NULL: read none); own: an already mapped ledger to use as
 * well (NULL: none).  0 on success, -1 if /proc/sysvipc/shm is unreadable.
 * Never mmaps a foreign file. */
int sg_view_build(struct sg_view *v, const char *ledger_dir, const struct sg_ledger *own);
void sg_view_free(struct sg_view *v);

/* The entry for a segment id, or NULL. */
const struct sg_seginfo *sg_view_find(const struct sg_view *v, int id);

/* Totals of one group of segments. */
struct sg_tally {
    size_t count;
    uint64_t bytes;
    uint64_t pages;
};

/* Holders grouped by creator command and uid, largest (by pages, then by
 * count) first.  Fills at most max groups; returns how many. */
struct sg_holder {
    char comm[16];                  /* "" when unknown */
    uid_t uid;                      /* creator uid (kernel cuid) */
    struct sg_tally t;
};
size_t sg_view_holders(const struct sg_view *v, struct sg_holder *out, size_t max);

/* Totals per state. */
void sg_view_tally(const struct sg_view *v, struct sg_tally out[5]);

/* Human sizes: "1.5 MiB", "512 B". */
void sg_fmt_bytes(char *buf, size_t n, uint64_t bytes);

#endif
