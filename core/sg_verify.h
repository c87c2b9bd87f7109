/*
 * sg_verify.h - is a ledger consistent?  (`shmguard ledger --check`)
 *
 * sg_ledger_check_image() decides whether a ledger file is safe to read at
 * all; this goes further, on a ledger that passed it: the structure that
 * the library keeps through crashes, and that sg_ledger_repair() restores
 * after a lock holder died mid-edit.  Nothing here changes the ledger.
 */
#ifndef SG_VERIFY_H
#define SG_VERIFY_H

#include "sg_ledger.h"

/* What was found; every count is a number of records (or fields). */
struct sg_verify {
    unsigned dup_seg, lost_seg;         /* segment/set records found twice, or not
                                         * found at their own slot by their key */
    unsigned dup_att;                   /* attachment records with the same pid and address */
    unsigned dup_user, lost_user; /* the same for users of sets and queues */
    unsigned pend_missing, pend_extra;  /* pending index against the flagged records */
    unsigned counters;                  /* header counters that differ from the records
                                         * (att_live aside) */
    int64_t att_drift;                  /* att_live less the live attachment records: a
                                         * hint kept without the lock (it only keeps 1/8
                                         * of the table free), left off by one by a
                                         * process killed between a record's store and
                                         * the counter's; --repair recounts it */
    unsigned dead_claims;               /* attachment slots claimed by a dead process */
    unsigned bad_records;               /* records with a state, id or kind out of
                                         * range (read as free; repair clears them) */
    unsigned dead_intents;              /* intents of dead processes (harmless; dropped
                                         * at the next look) */
    int lock_dead;                      /* the lock's holder is dead (recovered at the
                                         * next lock) */
    int gen_odd;                        /* generation odd with the lock free */
    char first[200];                    /* the first problem, in words */
};

/* Check L (a private copy, or a mapping nobody writes meanwhile: a live
 * process may be between two stores).  Fills *v; returns the number of
 * problems that make the ledger inconsistent (dead intents, a dead lock
 * holder and att_live's drift are not among them: the library handles the
 * first two, and the third misleads nothing but the 7/8 fill check). */
unsigned sg_ledger_verify(struct sg_ledger *L, struct sg_verify *v);

#endif
