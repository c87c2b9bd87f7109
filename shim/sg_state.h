/*
 * sg_state.h - the library's per-process state, shared by the core,
 * deferral and fork handling.  One instance (sg_st), set up on the first
 * intercepted call by sg_core_init().
 */
#ifndef SG_STATE_H
#define SG_STATE_H

#include <stdint.h>
#include <string.h>

/* The attachment list is keyed by mapping address: page-aligned 8-byte
 * keys, for which a multiplicative hash spreads as well as uthash's
 * default (Jenkins) at a fraction of the instructions on the shmat/shmdt
 * path.  Other key lengths keep Jenkins.  Every file that includes this
 * header hashes the same way. */
#define HASH_FUNCTION(keyptr, keylen, hashv)                                   \
    do {                                                                       \
        if ((keylen) == 8) {                                                   \
            uint64_t k_;                                                       \
            memcpy(&k_, (keyptr), sizeof k_);                                  \
            (hashv) = (unsigned)(((k_ >> 12) * 0x9E3779B97F4A7C15ull) >> 32);  \
        } else                                                                 \
            HASH_JEN((keyptr), (keylen), (hashv));                             \
    } while (0)
#include <uthash.h>

#include "sg_config.h"
#include "sg_ledger.h"
#include "sg_proc.h"

/* This process's own attachments (made through the library, or inherited
 * through fork), so a forked child can be credited with them. */
struct sg_local {
    uint64_t addr;
    int32_t shmid;
    uint32_t flags;
    uint32_t att_slot;          /* where its ledger record was put, plus 1; a
                                 * hint (records move on deletion), 0: none */
    UT_hash_handle hh;
};

/* Semaphore sets this process uses (created, looked up, inherited or
 * operated on), so that semop's check is a short lock-free scan and a
 * forked child can be credited with them.  Written under sg_local_lock;
 * read without it (entries are stored before the count grows). */
#define SG_LOCAL_SEMS 64

/* The fields every intercepted call reads come first, so that they share
 * a few cache lines; the ledger's path and the semaphore list come last.  (Right after a shmat or shmdt the kernel has
 * evicted much of the caller's cache: lines touched cost.) */
struct sg_state {
    int active;                 /* ledger usable: record and (defer) act */
    int defer;                  /* mode == defer and active */
    struct sg_local *local;     /* uthash by addr; guarded by sg_local_lock */
    uint64_t degraded_until;    /* mono ns: after a lock timeout */
    uint64_t next_sweep;        /* mono ns: earliest next pending sweep */
    struct sg_self self;        /* pid and start first */
    const struct sg_config *cfg;
    int said_lock;
    uint32_t n_semids;          /* entries in use; -1 ids are free slots */
    struct sg_ledger L;         /* its pointers first, its path last */
    int32_t semids[SG_LOCAL_SEMS];
};

extern struct sg_state sg_st;

/* Take the ledger lock for one call (waits at most ~2 s; after a timeout
 * the process passes calls through for 5 s without waiting again).
 * 1 when held; 0 means: leave the ledger alone for this call. */
int sg_core_take(void);
void sg_core_give(void);

#endif
