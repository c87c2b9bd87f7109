/*
 * sg_state.h - the library's per-process state, shared by the core,
 * deferral and fork handling.  One instance (sg_st), set up on the first
 * intercepted call by sg_core_init().
 */
#ifndef SG_STATE_H
#define SG_STATE_H

#include <stdint.h>
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
    UT_hash_handle hh;
};

/* Semaphore sets this process uses (created, looked up, inherited or
 * operated on), so that semop's check is a short lock-free scan and a
 * forked child can be credited with them.  Written under sg_local_lock;
 * read without it (entries are stored before the count grows). */
#define SG_LOCAL_SEMS 64

struct sg_state {
    const struct sg_config *cfg;
    int active;                 /* ledger usable: record and (defer) act */
    int defer;                  /* mode == defer and active */
    struct sg_ledger L;
    struct sg_self self;
    struct sg_local *local;     /* uthash by addr; guarded by sg_local_lock */
    int32_t semids[SG_LOCAL_SEMS];
    uint32_t n_semids;          /* entries in use; -1 ids are free slots */
    uint64_t degraded_until;    /* mono ns: after a lock timeout */
    uint64_t next_sweep;        /* mono ns: earliest next pending sweep */
    int said_lock;
};

extern struct sg_state sg_st;

/* Take the ledger lock for one call (waits at most ~2 s; after a timeout
 * the process passes calls through for 5 s without waiting again).
 * 1 when held; 0 means: leave the ledger alone for this call. */
int sg_core_take(void);
void sg_core_give(void);

#endif
