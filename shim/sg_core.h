/*
 * sg_core.h - the logic behind the four shared-memory hooks.
 *
 * sg_shmget/sg_shmat/sg_shmdt/sg_shmctl behave exactly like the libc
 * functions (same value, same errno, same kernel effect) except for the
 * deliberate changes of defer mode (see sg_defer.h).  They record
 * ownership in the ledger when it is usable and pass every call through
 * unchanged when it is not.  The hooks call sg_init() (sg_init.h)
 * first; these functions never set the process up themselves.
 */
#ifndef SG_CORE_H
#define SG_CORE_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int sg_shmget(key_t key, size_t size, int flg, const void *caller);
void *sg_shmat(int id, const void *addr, int flg);
int sg_shmdt(const void *addr);
int sg_shmctl(int id, int cmd, struct shmid_ds *buf);

/* At exit: drop this process's attachments and intents, and carry out
 * pending removals that only this process still held back. */
void sg_core_exit(void);

/* In a forked child (from the atfork handler): refresh identity and
 * credit the inherited attachments to the child. */
void sg_core_after_fork_child(void);

/* The process's credentials changed so that it can no longer open its
 * ledger for writing (sg_creds.c decides): leave that ledger (its records
 * of this process deleted, its mapping replaced by private zero pages, no
 * descriptor kept) and record into the ledger of the new euid from now
 * on, this process's attachments and semaphore sets included.  When that
 * ledger cannot be used, calls pass through from then on (one line on the
 * log).  Takes sg_local_lock, waits for every other thread to leave the
 * ledger lock; call with neither held. */
void sg_core_rehome(void);

#endif
