/*
 * sg_state.h - the library's per-process state and the gate to its
 * ledger (sg_state.c), which every other file of the library uses and
 * which uses none of them.  One instance (sg_st), set up on the first
 * intercepted call (sg_init.h).
 */
#ifndef SG_STATE_H
#define SG_STATE_H

#include <stdint.h>
#include <string.h>

#include "sg_config.h"
#include "sg_local.h"
#include "sg_ledger.h"
#include "sg_proc.h"

/* Semaphore sets, or message queues, this process uses (created, looked
 * up, inherited or operated on), so that the check of semop, msgsnd and
 * msgrcv is a short lock-free scan and a forked child can be credited
 * with them (sg_use.h): the first SG_LOCAL_IDS ids inline, the rest in
 * chunks of as many, allocated when needed and never freed, up to the
 * kernel's 32,768 objects.  Written under sg_local_lock; read without it
 * (a chunk and its entries are stored before the count grows).  -1 ids
 * are free slots.  See sg_idlist_slot().  Past SG_LOCAL_IDS entries the
 * ids are also kept in an index, an open-addressed set of SG_ID_INDEX
 * slots allocated then, so that the check stays a few loads for a
 * process that uses thousands (a reply queue per client): id + 1 in a
 * slot, 0 empty, SG_ID_GONE a removed id (probes go on past it; when
 * they are a quarter of the slots, the index is made again from the
 * list, so that churn through ids never lengthens every probe). */
#define SG_LOCAL_IDS 64
#define SG_ID_CHUNKS 511
#define SG_ID_INDEX 65536u      /* twice the kernel's 32,768 objects */
#define SG_ID_GONE 0xffffffffu
struct sg_idlist {
    uint32_t n;                 /* entries in use */
    int said_full;              /* the list could not grow (logged once) */
    uint32_t *index;            /* NULL until the list outgrows first[] */
    uint32_t gone;              /* SG_ID_GONE slots in index */
    int32_t first[SG_LOCAL_IDS];
    int32_t *more[SG_ID_CHUNKS];
};

/* Intents this process tracks by id (sg_state.intent_ids). */
#define SG_INTENT_IDS 8
/* Segments this process removed and then looked up (sg_state.selfrm_ids). */
#define SG_SELFRM_IDS 4

/* The fields every intercepted call reads come first, so that they share
 * a cache line, and everything an attach/detach pair touches lies on one
 * page (sg_st follows the configuration in the library's .bss, Makefile,
 * LIB_OBJ: its first 2 KiB on one page): right after a shmat or shmdt the
 * kernel has evicted much of the caller's cache and TLB, and every line
 * and page touched then costs.  The ledger's path and the lists of sets
 * and queues come last. */
struct sg_state {
    int active;                 /* ledger usable: record and (defer) act */
    int defer;                  /* mode == defer and active */
    int under_root;             /* defer, and the ledger is not root's: a
                                 * detach of a last mapping reads root's
                                 * pending removals (sg_rootview.h); kept
                                 * here, so that a root process's detach
                                 * touches nothing more */
    uint32_t intents_many;      /* 1: more intents than intent_ids holds
                                 * (atomic); 0 again when the ledger has none */
    uint32_t epoch;             /* advanced when the ledger is exchanged
                                 * (sg_core_rehome): shmget's hints of the
                                 * old one are void */
    struct sg_local_tab local;  /* this process's attachments; sg_local_lock */
    uint64_t degraded_until;    /* mono ns: after a lock timeout */
    uint64_t next_sweep;        /* mono ns: earliest next throttled sweep
                                 * (sg_local_lock) */
    const struct sg_config *cfg;
    /* Segments (id + 1; 0: free slot) for which this process's shmget left
     * an intent in the ledger: shmat takes the ledger lock to clear one
     * only for an id listed here (atomic, any thread). */
    int32_t intent_ids[SG_INTENT_IDS];
    /* Segments (id + 1; 0: free) whose pending removal this process asked
     * for and that it then looked up: its detach ends that lookup's
     * intent, so its shmat of one is made under the ledger lock (the lock
     * a carrier holds across its nattch check and real IPC_RMID).  Written
     * under the ledger lock, read without it (atomic); selfrm_n counts
     * them, so that other attaches read one word. */
    int32_t selfrm_ids[SG_SELFRM_IDS];
    uint32_t selfrm_n;
    uint32_t uses_listed;       /* 1 once a set or queue went into uses[]
                                 * (atomic): the exit reads their counts,
                                 * two pages away, only then */
    struct sg_self self;        /* pid and start first */
    struct sg_local local_first[SG_LOCAL_FIRST]; /* local's first slots */
    int said_lock;
    struct sg_ledger L;         /* its pointers first, its path last */
    struct sg_idlist uses[2];   /* semaphore sets, message queues (sg_use.h) */
};

extern struct sg_state sg_st;

/* Slot i (< l->n, or the next one once its chunk exists) of list l. */
static inline int32_t *sg_idlist_slot(struct sg_idlist *l, uint32_t i)
{
    return i < SG_LOCAL_IDS ? &l->first[i] : &l->more[i / SG_LOCAL_IDS - 1][i % SG_LOCAL_IDS];
}

/* Set while this thread is inside the library's handling of an
 * intercepted call; a hook sends any call made meanwhile (from a signal
 * handler, or from a function the library calls) straight to libc.  The
 * sg_* entry points set and clear it themselves, so that their hooks can
 * tail-call them (see sg_hooks.c); a non-local jump clears it. */
extern __thread int sg_in_hook __attribute__((tls_model("initial-exec")));

/* First-call setup: real symbols, configuration, identity, ledger (sets
 * sg_st.active when the ledger is usable).  Once, from sg_init.c. */
void sg_state_init(void);

/* Put this process's pid namespace, with the ancestors it can name, in
 * the ledger's table unless it is there (takes the ledger lock). */
void sg_state_note_pidns(void);

/* Take the ledger lock for one call (waits at most ~2 s; after a timeout
 * the process passes calls through for 5 s without waiting again).
 * 1 when held; 0 means: leave the ledger alone for this call. */
int sg_state_take(void);
void sg_state_give(void);

/* While the ledger is exchanged (sg_core_rehome): close makes every take
 * fail and waits (at most 3 s) until no thread holds the ledger lock
 * through a take; 1 when none does, 0 when one still did at the end (the
 * ledger must then not be exchanged).  open ends that. */
int sg_state_gate_close(void);
void sg_state_gate_open(void);

/* In a forked child (sg_init.c's handler): no other thread is inside the
 * ledger, and no exchange is under way. */
void sg_state_after_fork_child(void);

/* A record could not be stored: table (its name, for the message) is
 * full.  Logs once per process at level 0; the call goes on unchanged. */
void sg_state_note_full(const char *table);

/* A full table is most often full of records the kernel has forgotten:
 * drop those (sg_reconcile).  Again at once while that finds room; after
 * a pass that found none, not for 10 s in this process.  1 if it found
 * room.  Ledger lock held. */
int sg_state_reclaim(void);

/* sg_seg_put, reclaiming room first when the table is full; a record
 * still not stored is counted and said (sg_state_note_full).  Ledger lock
 * held. */
struct sg_seg *sg_state_put_seg(const struct sg_seg *rec);

#endif
