/*
 * sg_local.h - this process's own attachments (made through the library
 * or inherited through fork), keyed by mapping address, so that shmdt
 * knows the segment and its ledger record and a forked child can be
 * credited with its parent's attachments.
 *
 * An open-addressing table (linear probing, deletion by backward shift)
 * whose first array (SG_LOCAL_FIRST slots) lives inside the process
 * state: an attach/detach pair touches one cache line of it and never
 * calls malloc.  It grows onto the heap when three quarters full.
 * (uthash, which the tool's tables use, costs a bucket array and an entry
 * on the heap per pair: about 150 instructions and two more cache lines
 * right after the kernel call, which the pair's 1.05x target cannot
 * afford.)
 *
 * Not thread-safe: every function requires sg_local_lock.  Entry
 * pointers are valid until the next add or delete.
 */
#ifndef SG_LOCAL_H
#define SG_LOCAL_H

#include <stdint.h>

#include "sg_compiler.h"

struct sg_local {
    uint64_t addr;              /* 0: free slot (never an attach address) */
    int32_t shmid;
    uint32_t flags;             /* SG_ATT_* */
    uint32_t att_slot;          /* where its ledger record was put, plus 1;
                                 * 0: none */
    uint32_t pad;
};

#define SG_LOCAL_FIRST 64

struct sg_local_tab {
    struct sg_local *e;         /* the slots */
    uint32_t mask;              /* slots - 1 */
    uint32_t n;                 /* entries in use */
    int heap;                   /* e was allocated (by growing) */
};

/* Start empty on first[SG_LOCAL_FIRST], zeroed storage the caller owns. */
void sg_local_init(struct sg_local_tab *t, struct sg_local *first);

/* The entry for addr, or NULL. */
SG_HOT struct sg_local *sg_local_find(struct sg_local_tab *t, uint64_t addr);
/* The entry for addr (addr != 0), added (shmid, flags, att_slot 0) or
 * updated; NULL only when the table is full and cannot grow (out of
 * memory): the attachment then goes unlisted. */
SG_HOT struct sg_local *sg_local_add(struct sg_local_tab *t, uint64_t addr, int32_t shmid, uint32_t flags);
/* Remove entry e (from find or add). */
SG_HOT void sg_local_del(struct sg_local_tab *t, struct sg_local *e);
/* Number of entries for shmid. */
int sg_local_count(const struct sg_local_tab *t, int32_t shmid);

/* Visit every entry (no add or delete inside the loop). */
#define SG_LOCAL_FOREACH(t, it)                                                \
    for (struct sg_local *it = (t)->e, *it##_end = it + (t)->mask + 1; it < it##_end; it++) \
        if (it->addr)

#endif
