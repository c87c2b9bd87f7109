/*
 * sg_locks.h - every lock the library takes, in one place, with what the fork
 * handlers (sg_init.c) do so that a forked child never inherits a held one.
 *
 *  1. `once` (pthread_once, sg_init.c)        - first-call setup.  Fork
 *     while it runs in another thread: POSIX leaves this to the program;
 *     setup does no blocking work under it except opening the ledger.
 *  2. sg_local_lock (in-process futex lock)    - sg_st.local, and each
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
 *  4. two try-locks in sg_diag.c, never waited on: `busy` (one diagnosis
 *     composed at a time; another thread's failure is counted as
 *     suppressed) and the per-process message bucket's flag used without
 *     a ledger.  child: both cleared (sg_diag_after_fork_child), so a
 *     child forked while another thread composed still explains.
 *
 *  5. the ledger exchange gate (sg_state.c: `rehoming`, `take_users`) -
 *     when a credential change makes the process leave its ledger
 *     (sg_core_rehome), every sg_state_take fails while `rehoming` is set,
 *     and the exchange waits (at most 3 s: lock waits end within 2 s) for
 *     the threads counted in `take_users` to give the ledger lock back.
 *     The exchange holds sg_local_lock throughout, so no fork happens in
 *     the middle of it (prepare takes that lock).
 *
 *  6. the pid namespace registry's spin lock (core/sg_pidns.c, reg_lock) -
 *     a few loads and stores under it, never a call out.  child: cleared
 *     (sg_pidns_after_fork_child).  The exchange gate's counters are reset
 *     in the child too (sg_state_after_fork_child).
 *
 * Order: sg_local_lock, then the ledger mutex.  Never call dladdr() while
 * holding the ledger mutex (the loader's lock may be held by a thread that
 * is about to call into us).
 */
#ifndef SG_LOCKS_H
#define SG_LOCKS_H

#include <stdint.h>
#include <sys/single_threaded.h>

#include "sg_compiler.h"

/* sg_local_lock is a plain futex lock (0 free, 1 held, 2 held with
 * waiters), not a pthread mutex: it is taken twice per attach/detach
 * pair, where a pthread mutex's lock and unlock cost about 110
 * instructions against a dozen.  And while the process has a single
 * thread (glibc's __libc_single_threaded), there is nobody to exclude:
 * the lock word is left alone, which spares two locked instructions per
 * call (the fork handlers run in that same thread).  Not recursive, not
 * robust (private to the process; a fork child re-initialises it).
 *
 * sg_local_take returns how it took the lock (0: single-threaded, not
 * touched), to be passed to sg_local_give: a thread created in between
 * cannot make the two disagree. */
extern uint32_t sg_local_lock;

void sg_lock_wait(uint32_t *l);
void sg_lock_wake(uint32_t *l);

static inline int sg_local_take(void)
{
    if (__libc_single_threaded)
        return 0;
    uint32_t free_ = 0;
    if (!__atomic_compare_exchange_n(&sg_local_lock, &free_, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        sg_lock_wait(&sg_local_lock);
    return 1;
}

static inline void sg_local_give(int how)
{
    if (how && __atomic_exchange_n(&sg_local_lock, 0, __ATOMIC_RELEASE) == 2)
        sg_lock_wake(&sg_local_lock);
}

#endif
