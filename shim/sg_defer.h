/*
 * sg_defer.h - deferred IPC_RMID that keeps a segment's key resolvable.
 *
 * In defer mode an IPC_RMID on a keyed segment that is still attached, or
 * that a carrier is between shmget and shmat of, is recorded as pending and
 * returns 0; the kernel sees nothing yet, so shmget(key) keeps finding the
 * segment.  The real IPC_RMID is issued by the first carrier that sees
 * kernel nattch == 0 and no live intent, under the ledger lock, which also
 * covers every carrier's shmget: so no carrier can look the key up and then
 * lose the segment before its shmat.
 */
#ifndef SG_DEFER_H
#define SG_DEFER_H

#include <sys/shm.h>

#include "sg_state.h"

/* shmctl(id, IPC_RMID, buf) in defer mode.  Same result as the kernel's
 * for every refused call; 0 when deferred: a keyed segment another process
 * is attached to (this process's own attachments, in any thread, do not
 * count), or that a process looked up before this removal and has not
 * attached yet.  Takes sg_local_lock, then the ledger lock. */
int sg_defer_rmid(int id, struct shmid_ds *buf);

/* Issue the real IPC_RMID for a pending record if it is due.  own is the
 * number of this process's attachments to it that are about to go away
 * (at exit), 0 otherwise.  Ledger lock held. */
void sg_defer_try(struct sg_seg *rec, int own);

/* Try every pending removal (ledger lock held); own_count gives, per
 * shmid, the attachments of this process about to go away (may be NULL). */
void sg_defer_sweep(int (*own_count)(int shmid));

/* 1 when this process's throttled sweep is due: at most every 10 ms,
 * checked on the clock before the ledger's pending count, so that in
 * between shmat reads no line of the ledger.  Advances the throttle.  No
 * ledger lock needed; sg_local_lock held (shmat, shmdt). */
int sg_defer_sweep_due(void);

/* Sweep if pending removals exist: one load when there are none.  With
 * throttled, only when sg_defer_sweep_due() (shmat/shmdt, whose own
 * segment is handled directly); shmget and shmctl sweep every time, so a
 * carrier never observes a removal that is already due.  Ledger lock
 * held. */
void sg_defer_sweep_maybe(int throttled);

/* A removal root asked for, completed at another uid's last detach:
 * after this process (not root) detached its last mapping of id, if
 * root's ledger holds id's removal as pending and nothing holds it back
 * (nobody attached, no live lookup in root's ledger or this process's),
 * issue the real IPC_RMID when the kernel lets this process
 * (sg_rootview.h).  Only with nobody attached: a lookup by root's
 * carriers is not ordered against this uid's lock, but each one first
 * carries out a due removal itself (its sweep), so it cannot find the
 * segment once nattch is 0.  sg_local_lock held; takes the ledger lock. */
void sg_defer_for_root(int id);

/* After a real IPC_RMID of id succeeded (any mode, IPC_PRIVATE too): its
 * record goes, also while the segment stays attached (SHM_DEST).  Takes
 * the ledger lock. */
void sg_defer_removed(int id);

/* shmget(key, IPC_CREAT...) on a key whose segment's removal is pending:
 * with IPC_EXCL, or a size the segment cannot satisfy, the caller gets
 * what it would get bare (a new segment), so the pending removal is
 * carried out for real first (attached processes keep their mappings, as
 * with the kernel's SHM_DEST).  Ledger lock held. */
void sg_defer_make_way(key_t key, size_t size, int flg);

/* 1 if the record is pending: for IPC_STAT's SHM_DEST bit. */
int sg_defer_is_pending(int id);

#endif
