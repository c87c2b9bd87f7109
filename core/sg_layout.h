/*
 * sg_layout.h - the on-disk (on-tmpfs) layout of a shmguard ledger file.
 *
 * A ledger is one memory-mapped file per IPC namespace and trust domain
 * (file owner uid).  Every process carrying the library in that namespace
 * and domain maps it MAP_SHARED and updates it under the process-shared
 * robust mutex stored in the header.  The layout is fixed-width, holds no
 * pointers, and is versioned: any change to a size or an offset below must
 * bump SG_LEDGER_VERSION, and tests/test_layout.c pins every offset so that
 * an accidental change fails the build's tests.
 *
 * File shape:  [header 320 B][pid namespace table][event ring][pending index]
 *              [intent table][user table][segment table][attachment table]
 * The small tables come first, so that what a process's first call
 * touches of them (header, its pid namespace, an intent) lies in the
 * file's first 2 MiB.
 * Table offsets and capacities are stored in the header and validated
 * against the file size before anything is dereferenced.
 */
#ifndef SG_LAYOUT_H
#define SG_LAYOUT_H

#include <stdint.h>
#include <stddef.h>

#define SG_LEDGER_MAGIC   "SHMGLDGR"   /* 8 bytes, no terminator stored */
#define SG_LEDGER_VERSION 10u   /* 2: the event ring; 3: semaphore users;
                                  * 4: attachments written without the lock;
                                  * 5: pid namespaces (records, table);
                                  * 6: start marks (sg_proc.h) beside start
                                  *    times: a reader of version 5 would
                                  *    take a mark for another process;
                                  * 7: small tables first, object records
                                  *    homed by kernel index (file shape
                                  *    above): same size, other places;
                                  * 8: message queue records, and a kind in
                                  *    each user record (set and queue ids
                                  *    overlap): a reader of version 7 would
                                  *    count a queue's users as a set's;
                                  * 9: object records hashed again (homes by
                                  *    kernel index piled stale records up:
                                  *    sg_ledger.c, seg_home);
                                  * 10: allocated whole when made: an earlier
                                  *    file has holes, whose read on a full
                                  *    tmpfs raises SIGBUS in the host */

/* Default capacities (powers of two).  The kernel's hard ceiling on
 * segment ids per namespace is 32768 (IPCMNI) unless ipcmni_extend. */
#define SG_SEG_CAP_DEFAULT    65536u
#define SG_ATT_CAP_DEFAULT    65536u
#define SG_INTENT_CAP_DEFAULT 4096u
#define SG_PEND_CAP_DEFAULT   1024u
/* The user table (of semaphore sets and message queues) and the event
 * ring have a fixed size in every ledger. */
#define SG_USER_CAP           16384u
#define SG_EV_CAP             64u
#define SG_PIDNS_CAP          64u

/* Record states: a record becomes visible only when state is stored last. */
#define SG_REC_EMPTY 0u
#define SG_REC_LIVE  1u
/* Attachment slots only: being filled, without the lock, by the process
 * whose pid is in the low bits (sg_att_claim), with the low 9 bits of its
 * pid namespace's inode above them; freed by repair when that process is
 * provably dead. */
#define SG_REC_CLAIM       0x80000000u
#define SG_REC_CLAIM_PID   0x003fffffu /* pid_max is at most 2^22 */
#define SG_REC_CLAIM_NS    0x7fc00000u
#define SG_REC_CLAIM_NS_SHIFT 22

/* Kinds of System V object a segment record can describe. */
#define SG_KIND_SHM 1u
#define SG_KIND_SEM 2u
#define SG_KIND_MSG 3u  /* message queues (key, kcuid and the creator
                         * fields; size, nsems, kcpid and rm_* unused) */

/* sg_seg.flags */
#define SG_SEG_PENDING   0x1u  /* IPC_RMID deferred, not yet issued */
#define SG_SEG_CREATOR   0x2u  /* creator fields were filled by the creating call */
#define SG_SEG_PRIVATE   0x4u  /* created with IPC_PRIVATE */
#define SG_SEG_USERS_LOST 0x8u /* sets and queues: a use could not be
                                * recorded (user table full): who uses it
                                * can no longer be told (never orphaned) */

/* sg_user.flags: how a process came to use a set or a queue */
#define SG_USE_LOOKUP    0x1u  /* semget/msgget of an existing key */
#define SG_USE_INHERITED 0x2u  /* credited to a child through fork */
#define SG_USE_BYID      0x4u  /* by id: semop/semtimedop/semctl(SETVAL/SETALL),
                                * msgsnd/msgrcv/msgctl(IPC_SET) */

/* sg_att.flags */
#define SG_ATT_INHERITED 0x1u  /* credited to a child through fork */
#define SG_ATT_RDONLY    0x2u  /* attached with SHM_RDONLY */

#define SG_COMM_LEN 16
#define SG_PATH_LEN 128
#define SG_SYM_LEN  64

struct sg_hdr {
    char     magic[8];       /*   0 SG_LEDGER_MAGIC */
    uint32_t version;        /*   8 SG_LEDGER_VERSION */
    uint32_t hdr_size;       /*  12 sizeof(struct sg_hdr) */
    uint64_t file_size;      /*  16 total bytes of the file */
    uint64_t ipcns_ino;      /*  24 inode of /proc/self/ns/ipc at creation */
    uint32_t owner_uid;      /*  32 informational; trust comes from st_uid */
    uint32_t seg_cap;        /*  36 power of two */
    uint32_t att_cap;        /*  40 power of two */
    uint32_t intent_cap;     /*  44 */
    uint64_t seg_off;        /*  48 */
    uint64_t att_off;        /*  56 */
    uint64_t intent_off;     /*  64 */
    uint64_t created_ns;     /*  72 CLOCK_REALTIME at creation */
    uint32_t static_sum;     /*  80 checksum of [0, 80), [88, 112), [256, 268) */
    uint32_t ready;          /*  84 1 once initialised; stored last */
    uint64_t pend_off;       /*  88 */
    uint32_t pend_cap;       /*  96 */
    uint32_t ev_cap;         /* 100 SG_EV_CAP */
    uint64_t ev_off;         /* 104 */
    uint32_t ev_total;       /* 112 events ever recorded; slot = n % ev_cap */
    uint8_t  pad0[12];       /* 116 */
    uint8_t  lock[64];       /* 128 pthread_mutex_t, robust, pshared */
    uint32_t seg_live;       /* 192 live segment records */
    uint32_t att_live;       /* 196 live attachment records */
    uint32_t pending;        /* 200 live records with SG_SEG_PENDING */
    uint32_t intents;        /* 204 live intent records */
    uint64_t generation;     /* 208 odd while a writer is mid-update */
    uint64_t repairs;        /* 216 recoveries after a dead lock holder */
    uint64_t dropped;        /* 224 records not stored: table full */
    uint64_t intent_overflow_until_ns; /* 232 removals wait until then */
    uint64_t diag_refill_s;  /* 240 limit messages: last refill (mono s) */
    uint32_t diag_tokens;    /* 248 messages that may still go out now */
    uint32_t diag_suppressed;/* 252 messages not written since the last */
    uint64_t user_off;       /* 256 */
    uint32_t user_cap;       /* 264 SG_USER_CAP */
    uint32_t user_live;      /* 268 live user records (sets and queues) */
    uint64_t an_refill_s;    /* 272 EEXIST analyses: last refill (mono s) */
    uint32_t an_tokens;      /* 280 analyses that may still run now */
    uint32_t pad1;           /* 284 */
    uint64_t pidns_off;      /* 288 */
    uint32_t pidns_cap;      /* 296 SG_PIDNS_CAP */
    uint8_t  pad2[20];       /* 300 */
};                            /* 320 */

/* One System V object: a shared memory segment (kind SG_KIND_SHM), a
 * semaphore set (SG_KIND_SEM; size, kcpid and the rm_* fields unused, the
 * identity is key, kcuid and nsems since the kernel keeps no creator pid)
 * or a message queue (SG_KIND_MSG; as a set, without nsems: the identity
 * is key and kcuid). */
struct sg_seg {
    uint32_t state;            /*   0 SG_REC_* */
    uint32_t kind;             /*   4 SG_KIND_* */
    int32_t  id;               /*   8 shmid, semid or msqid */
    int32_t  key;              /*  12 key given at creation */
    uint32_t flags;            /*  16 SG_SEG_* */
    uint32_t mode;             /*  20 permission bits at creation */
    uint64_t size;             /*  24 bytes */
    int32_t  kcpid;            /*  32 kernel's cpid, identity check */
    uint32_t kcuid;            /*  36 kernel's cuid, identity check */
    int32_t  cr_pid;           /*  40 creator */
    uint32_t cr_uid;           /*  44 creator's euid */
    uint64_t cr_start;         /*  48 creator's start time (clock ticks) */
    uint64_t cr_time_ns;       /*  56 creation, CLOCK_REALTIME */
    char     cr_comm[SG_COMM_LEN]; /* 64 */
    char     cr_exe[SG_PATH_LEN];  /* 80 */
    uint64_t site_off;         /* 208 call site: offset in its object */
    char     site_obj[SG_PATH_LEN];/* 216 call site: object path */
    char     site_sym[SG_SYM_LEN]; /* 344 call site: symbol, "" if unknown */
    int32_t  rm_pid;           /* 408 who asked for the deferred IPC_RMID */
    uint32_t rm_uid;           /* 412 their euid */
    uint64_t rm_start;         /* 416 */
    uint64_t rm_time_ns;       /* 424 */
    uint32_t nsems;            /* 432 semaphore sets only */
    uint32_t cr_pidns;         /* 436 creator's pid namespace (inode; 0: unknown) */
    uint32_t rm_pidns;         /* 440 remover's */
    uint32_t kc_pidns;         /* 444 the one kcpid was read in */
    uint64_t idle_ns;          /* 448 pending: CLOCK_MONOTONIC when first seen
                                * with nobody attached (0: attached) */
    uint8_t  pad[56];          /* 456 */
};                              /* 512 */

/* One attachment: a mapping made by shmat (or inherited through fork). */
struct sg_att {
    uint32_t state;            /*  0 */
    int32_t  shmid;            /*  4 */
    int32_t  pid;              /*  8 */
    uint32_t flags;            /* 12 SG_ATT_* */
    uint64_t start;            /* 16 attacher's start mark (clock ticks, sg_proc.h) */
    uint64_t addr;             /* 24 address of the mapping */
    uint64_t time_ns;          /* 32 when attached (or inherited) */
    uint32_t pidns;            /* 40 attacher's pid namespace */
    uint8_t  pad[20];          /* 44 */
};                              /* 64 */

/* A carrier process between its shmget of a keyed segment and its shmat. */
struct sg_intent {
    uint32_t state;            /*  0 */
    int32_t  shmid;            /*  4 */
    int32_t  pid;              /*  8 */
    uint32_t pidns;            /* 12 */
    uint64_t start;            /* 16 */
    uint64_t time_ns;          /* 24 CLOCK_MONOTONIC when looked up */
};                              /* 32 */

/* A process that uses a semaphore set or a message queue without having
 * created it (neither has an attach count: this is the only record of
 * who uses one).  The creator is in the object's sg_seg record.  Keyed by
 * (kind, id, pid): set and queue ids overlap. */
struct sg_user {
    uint32_t state;            /*  0 */
    int32_t  id;               /*  4 semid or msqid */
    int32_t  pid;              /*  8 */
    uint32_t flags;            /* 12 SG_USE_* */
    uint64_t start;            /* 16 the user's start mark (clock ticks) */
    uint64_t time_ns;          /* 24 when first seen using it */
    uint32_t pidns;            /* 32 the user's pid namespace */
    uint32_t kind;             /* 36 SG_KIND_SEM or SG_KIND_MSG */
    uint8_t  pad[8];           /* 40 */
};                              /* 48 */

/* A pid namespace that processes recording here live in, with its
 * ancestors (nearest first, as far as NS_GET_PARENT went): what lets a
 * reader in an ancestor namespace know that it sees every process of this
 * one, and so prove one dead.  Identified by the inode of
 * /proc/PID/ns/pid. */
#define SG_PIDNS_ANC 5
struct sg_pidns {
    uint32_t state;            /*  0 */
    uint32_t ino;              /*  4 */
    uint32_t nanc;             /*  8 ancestors known, at most SG_PIDNS_ANC */
    uint32_t anc[SG_PIDNS_ANC];/* 12 */
};                              /* 32 */

_Static_assert(sizeof(struct sg_hdr) == 320, "sg_hdr is 320 bytes");
_Static_assert(sizeof(struct sg_user) == 48, "sg_user is 48 bytes");
_Static_assert(sizeof(struct sg_pidns) == 32, "sg_pidns is 32 bytes");
_Static_assert(sizeof(struct sg_seg) == 512, "sg_seg is 512 bytes");
_Static_assert(sizeof(struct sg_att) == 64, "sg_att is 64 bytes");
_Static_assert(sizeof(struct sg_intent) == 32, "sg_intent is 32 bytes");
_Static_assert(offsetof(struct sg_hdr, lock) == 128, "lock at 128");

/* Limit classes of a failed call (sg_event.limit). */
#define SG_LIM_OTHER    0u   /* an IPC limit, which one could not be told */
#define SG_LIM_SHMMNI   1u   /* segments in the namespace */
#define SG_LIM_SHMALL   2u   /* pages of all segments together */
#define SG_LIM_SHMMAX   3u   /* size above the largest segment */
#define SG_LIM_SHMMIN   4u   /* size below the smallest segment */
#define SG_LIM_SMALLER  5u   /* the key's existing segment is smaller */
#define SG_LIM_SEMMNI   6u   /* semaphore sets */
#define SG_LIM_SEMMNS   7u   /* semaphores in all sets */
#define SG_LIM_SEMMSL   8u   /* semaphores in one set */
#define SG_LIM_MSGMNI   9u   /* message queues */

/* One call that failed on an IPC limit, kept in a ring of SG_EV_CAP
 * records (the newest overwrite the oldest; hdr->ev_total counts all). */
struct sg_event {
    uint32_t state;            /*   0 SG_REC_*, stored last */
    uint32_t kind;             /*   4 SG_KIND_* of the call */
    int32_t  err;              /*   8 errno the program got */
    uint32_t limit;            /*  12 SG_LIM_* */
    int32_t  pid;              /*  16 */
    uint32_t uid;              /*  20 euid */
    uint64_t start;            /*  24 the caller's start mark (clock ticks) */
    uint64_t time_ns;          /*  32 CLOCK_REALTIME */
    int32_t  key;              /*  40 */
    int32_t  flags;            /*  44 flags of the call */
    uint64_t size;             /*  48 bytes asked (semaphores for semget) */
    uint64_t used;             /*  56 the limit's usage at the time */
    uint64_t max;              /*  64 the limit's value */
    char     comm[SG_COMM_LEN];/*  72 */
    uint64_t site_off;         /*  88 call site, as in sg_seg */
    char     site_obj[SG_PATH_LEN]; /* 96 */
    char     site_sym[32];     /* 224 */
};                              /* 256 */

_Static_assert(sizeof(struct sg_event) == 256, "sg_event is 256 bytes");

/* Index of the segments with a pending removal, so that a sweep reads a
 * few KiB instead of the whole segment table.  id < 0 means empty. */
struct sg_pend {
    int32_t  id;               /*  0 */
    uint32_t kind;             /*  4 */
};                              /*  8 */

_Static_assert(sizeof(struct sg_pend) == 8, "sg_pend is 8 bytes");

/* Bytes needed for a ledger with the given capacities (the user table is always SG_USER_CAP records, the event ring SG_EV_CAP,
 * the pid namespace table SG_PIDNS_CAP). */
static inline uint64_t sg_layout_file_size(uint32_t seg_cap, uint32_t att_cap,
                                           uint32_t intent_cap, uint32_t pend_cap)
{
    return sizeof(struct sg_hdr) + (uint64_t)seg_cap * sizeof(struct sg_seg) +
           (uint64_t)att_cap * sizeof(struct sg_att) +
           (uint64_t)SG_USER_CAP * sizeof(struct sg_user) +
           (uint64_t)intent_cap * sizeof(struct sg_intent) +
           (uint64_t)pend_cap * sizeof(struct sg_pend) +
           (uint64_t)SG_EV_CAP * sizeof(struct sg_event) +
           (uint64_t)SG_PIDNS_CAP * sizeof(struct sg_pidns);
}

#endif
