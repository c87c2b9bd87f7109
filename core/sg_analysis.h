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
 *
 * Semaphore sets have no attach count and no creator pid in the kernel,
 * so their state rests on the ledger:
 *
 *   in-use    the creator, or a process recorded as using the set (looked
 *             it up, inherited it through fork, operated on it), is alive;
 *             or the last process that changed one of its semaphores
 *             (GETPID) is alive and started before that change
 *   orphaned  a ledger that may speak for the set recorded its creator,
 *             and the creator and every recorded user are provably dead
 *             (pid and start time), and no live process changed it last
 *   unknown   anything else: no creation record (made without the
 *             library), or liveness that cannot be told.  Never freed.
 *
 * Message queues, the same way, with the kernel's last sender and last
 * receiver (msg_lspid, msg_lrpid) in the place of GETPID:
 *
 *   in-use    the creator or a recorded user is alive (or not visible
 *             from here), or the last sender or receiver is alive and
 *             started before that send or receive
 *   orphaned  a ledger that may speak for the queue recorded its creator,
 *             the creator and every recorded user are provably dead, and
 *             its last sender and receiver are gone; it holds no message
 *   held      orphaned as above, but messages are still in it: gc keeps
 *             it unless told otherwise (--force --msqid)
 *   unknown   anything else: no creation record, liveness that cannot be
 *             told, a last sender or receiver that this pid namespace
 *             cannot see (the kernel reports pid 0 for it)
 *
 * Records of users are taken from every ledger (they can only keep a set
 * or a queue alive); a creation record only from a ledger whose owner
 * could remove the object (as for segments).
 */
#ifndef SG_ANALYSIS_H
#define SG_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"
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
    uint64_t dropped;               /* records the ledgers read could not store
                                     * (a table was full), summed */
    /* Semaphore sets (kernel.sem). */
    struct sg_semlimits slim;
    int have_semlimits;
    int have_sems;                  /* 0: the kernel's list of sets was unreadable */
    struct sg_seminfo *sem;         /* sorted by id */
    size_t n_sem;
    /* Message queues. */
    int have_msgs;                  /* 0: the kernel's list of queues was unreadable */
    struct sg_msginfo *msg;         /* sorted by id */
    size_t n_msg;
};

enum sg_semstate { SG_SEM_IN_USE, SG_SEM_UNKNOWN, SG_SEM_ORPHANED };

const char *sg_semstate_name(enum sg_semstate s); /* "in-use", "unknown", "orphaned" */

struct sg_seminfo {
    struct sg_ksem k;               /* the kernel's facts */
    const struct sg_seg *rec;       /* ledger record, or NULL */
    uid_t rec_domain;
    int creator_alive;              /* 1 alive, 0 dead, -1 unknown (or no record) */
    unsigned users;                 /* users recorded in any ledger */
    unsigned users_alive;           /* of those, alive (or not provably dead) */
    int users_lost;                 /* a record of it, in any ledger, says a use went
                                     * unrecorded (that uid's user table was full) */
    int lastop_pid;                 /* live last changer (GETPID), 0 none, -1 unknown */
    enum sg_semstate state;
    char comm[16];                  /* creator's command, "" if unknown */
};

enum sg_msgstate { SG_MSG_IN_USE, SG_MSG_UNKNOWN, SG_MSG_ORPHANED, SG_MSG_HELD };

const char *sg_msgstate_name(enum sg_msgstate s); /* "in-use", "unknown", "orphaned", "held" */

struct sg_msginfo {
    struct sg_kmsg k;               /* the kernel's facts */
    const struct sg_seg *rec;       /* ledger record, or NULL */
    uid_t rec_domain;
    int creator_alive;              /* 1 alive, 0 dead, -1 unknown (or no record) */
    unsigned users;                 /* users recorded in any ledger */
    unsigned users_alive;           /* of those, alive (or not provably dead) */
    int users_lost;                 /* as struct sg_seminfo's */
    int last_alive;                 /* live last sender or receiver, 0 none, -1 unknown
                                     * (0 also when not asked: creator or a user alive) */
    enum sg_msgstate state;
    char comm[16];                  /* creator's command, "" if unknown */
};

/* Build a view of this IPC namespace.  ledger_dir: where to read other
 * ledgers from (NULL: read none); own: an already mapped ledger to use as
 * well (NULL: none).  0 on success, -1 if /proc/sysvipc/shm is unreadable.
 * Never mmaps a foreign file. */
int sg_view_build(struct sg_view *v, const char *ledger_dir, const struct sg_ledger *own);
void sg_view_free(struct sg_view *v);

/* The entry for a segment id, or NULL. */
const struct sg_seginfo *sg_view_find(const struct sg_view *v, int id);

/* The entry for a semaphore set id, or NULL. */
const struct sg_seminfo *sg_view_find_sem(const struct sg_view *v, int id);

/* The entry for a message queue id, or NULL. */
const struct sg_msginfo *sg_view_find_msg(const struct sg_view *v, int id);

/* Visit the users of object (kind, id), a set or a queue, recorded in the
 * view's ledgers: fn(arg, user, alive) with alive 1/0/-1 or
 * SG_ALIVE_HIDDEN.  Returns the number visited. */
unsigned sg_view_users(const struct sg_view *v, uint32_t kind, int id,
                       void (*fn)(void *arg, const struct sg_user *u, int alive), void *arg);

/* Semaphore set holders grouped by creator command and uid, most sets
 * first; and totals per state (sets and semaphores). */
struct sg_semholder {
    char comm[16];
    uid_t uid;
    size_t sets, sems, orphaned;
};
size_t sg_view_semholders(const struct sg_view *v, struct sg_semholder *out, size_t max);
void sg_view_semtally(const struct sg_view *v, size_t sets[3], size_t sems[3]);

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
