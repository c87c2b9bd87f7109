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

struct sg_state {
    const struct sg_config *cfg;
    int active;                 /* ledger usable: record and (defer) act */
    int defer;                  /* mode == defer and active */
    struct sg_ledger L;
    struct sg_self self;
    struct sg_local *local;     /* uthash by addr; guarded by sg_local_lock */
    uint64_t degraded_until;    /* mono ns: after a lock timeout */
    uint64_t next_sweep;        /* mono ns: earliest next pending sweep */
    int said_lock;
};

extern struct sg_state sg_st;

#endif
