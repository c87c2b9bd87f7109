/*
 * sg_locks.h - every lock the library takes, in one place, with the fork
 * handlers that keep a forked child from inheriting a held one.
 *
 *  1. sg_init_once (pthread_once, sg_core.c)   - first-call setup.  Fork
 *     while it runs in another thread: POSIX leaves this to the program;
 *     setup does no blocking work under it except opening the ledger.
 *  2. sg_local_lock (in-process mutex)         - sg_st.local.  Held only for
 *     hash edits.  prepare: take it; parent: release; child: re-initialise,
 *     then credit the parent's attachments to the child.
 *  3. the ledger mutex (robust, process-shared, inside the mapped file)  -
 *     every ledger edit.  Not taken by the fork handlers: it lives in
 *     shared memory, so a holder in the parent releases it for the child
 *     too; a holder that dies is recovered from (EOWNERDEAD + repair).
 *
 * Order: ledger mutex, then sg_local_lock.  Never call dladdr(), malloc-
 * heavy code or the log while holding the ledger mutex except as noted.
 */
#ifndef SG_LOCKS_H
#define SG_LOCKS_H

#include <pthread.h>

extern pthread_mutex_t sg_local_lock;

/* Register the fork handlers (idempotent; called from sg_core_init). */
void sg_locks_register_atfork(void);

#endif
