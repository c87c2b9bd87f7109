/*
 * sg_reconcile.h - drop ledger records that the kernel contradicts.
 *
 * The kernel is the truth.  A segment record goes when the kernel has no
 * segment with that id, or has one with another creator (ids are reused);
 * an attachment record goes when its process is gone (pid and start time)
 * or no longer maps that segment at that address (exec, _exit and SIGKILL
 * detach without running any user code).  Used by the library when a table
 * fills up and by `shmguard ledger --prune`.
 */
#ifndef SG_RECONCILE_H
#define SG_RECONCILE_H

#include "sg_ledger.h"

struct sg_reconcile_stats {
    unsigned segs_dropped;
    unsigned atts_dropped;
};

/* Reconcile a writable, locked ledger with the kernel.  0 on success, -1
 * when the kernel's list could not be read (nothing is dropped then). */
int sg_reconcile(struct sg_ledger *L, struct sg_reconcile_stats *st);

#endif
