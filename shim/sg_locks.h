/*
 * sg_locks.h - every lock the library takes, in one place, with the fork
 * handlers that keep a forked child from inheriting a held one.
 *
 *  1. sg_init_once (pthread_once, sg_core.c)   - first-call setup.  Fork
 *     while it runs in another thread: POSIX leaves this to the program;
 *     setup does no blocking work under it except opening the ledger.
 *  2. sg_local_lock (in-process mutex)         - sg_st.local, and each
 *     shmat/shmdt from the real call to the end of its ledger records, so
 *     that a fork never sees a mapping the list lacks and a detach never
 *     deletes the record of a new mapping at the same address.
 *     prepare: take it; parent: release; child: re-initialise, then
 *     credit the parent's attachments to the child.
 *  3. the ledger mutex (robust, process-shared, inside the mapped file)  -
 *     every ledger edit.  Not taken by the fork handlers: it lives in
 *     shared memory, so a holder in the parent releases it for the child
 *     too; a holder that dies is recovered from (EOWNERDEAD + repair).
 *
 * Order: sg_local_lock, then the ledger mutex.  Never call dladdr() while
 * holding the ledger mutex (the loader's lock may be held by a thread that
 * is about to call into us).
 */
#ifndef SG_LOCKS_H
#define SG_LOCKS_H

#include <pthread.h>

extern pthread_mutex_t sg_local_lock;

/* Register the fork handlers (idempotent; called from sg_core_init). */
void sg_locks_register_atfork(void);

#endif
