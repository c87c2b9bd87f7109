/*
 * sg_reconcile.h - drop ledger records that the kernel contradicts.
 *
 * The kernel is the truth.  A segment record goes when the kernel has no
 * segment with that id, or has one with another creator (ids are reused);
 * an attachment record goes when its process is gone (pid and start time)
 * or no longer maps that segment at that address (exec, _exit and SIGKILL
 * detach without running any user code).  A semaphore set record goes when
 * the kernel has no set with that id, key, creator uid and size, a queue
 * record when it has no queue with that id, key and creator uid; their
 * users with them.  Used by the library when a table
 * fills up and by `shmguard ledger --prune`.
 */
#ifndef SG_RECONCILE_H
#define SG_RECONCILE_H

#include "sg_ledger.h"
#include "sg_proc.h"

struct sg_reconcile_stats {
    unsigned segs_dropped;
    unsigned atts_dropped;
    unsigned sems_dropped;      /* semaphore set records */
    unsigned msgs_dropped;      /* message queue records */
    unsigned users_dropped;     /* users of sets and queues */
};

/* /proc/<pid>/maps of the pids met during one pass, read once each. */
struct sg_maps_cache {
    struct sg_maps *v;
    size_t n;
};
void sg_maps_cache_free(struct sg_maps_cache *c);

/* Whether attachment record a is still true: 1 its process (pid and start
 * time) is alive and maps that segment at that address; 0 not; -1 cannot
 * tell (no /proc, another user's maps under hidepid, out of memory). */
int sg_att_live(struct sg_maps_cache *c, const struct sg_att *a);

/* Reconcile a writable, locked ledger with the kernel.  0 on success, -1
 * when the kernel's list could not be read (nothing is dropped then). */
int sg_reconcile(struct sg_ledger *L, struct sg_reconcile_stats *st);

#endif
