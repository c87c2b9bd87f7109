/*
 * sg_sem.h - the logic behind the semaphore hooks: ownership of System V
 * semaphore sets, with no change of behaviour.
 *
 * The kernel keeps no creator pid and no attach count for a set, so the
 * ledger records who created each set (pid, start time, command, uid,
 * call site) and every process that uses it: looked it up by key,
 * inherited it through fork, or operated on it by id.  That is what lets
 * the tool tell a live set from the orphan of a crashed server.
 *
 * Every function returns exactly what libc returns, with the same errno
 * and the same kernel effect; the only extra system calls are an
 * IPC_EXCL attempt before a semget(IPC_CREAT) of a key (to know whether
 * this call created the set: the attempt has no effect when the key
 * exists) and an IPC_STAT the first time a process uses a set.
 */
#ifndef SG_SEM_H
#define SG_SEM_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include <stdint.h>

#include "sg_real.h"

int sg_semget(key_t key, int nsems, int flg, const void *caller);
int sg_semctl(int id, int num, int cmd, union sg_semun arg);
int sg_semop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout, int timed);

/* 1 if semctl's cmd takes the fourth argument (as glibc decides). */
int sg_semctl_has_arg(int cmd);

/* Fork child (ledger lock held): credit the parent's sets to the child. */
void sg_sem_after_fork_child(void);
/* Exit (ledger lock held): this process no longer uses its sets. */
void sg_sem_exit(void);

/* Leaving a ledger (sg_core_rehome; its lock held): delete this
 * process's user records of its sets, keeping in flags[i] (room for
 * n_semids) how it came to use set i of its list. */
void sg_sem_leave(uint32_t *flags);
/* Arriving in a ledger (its lock held): record this process as a user of
 * every set of its list, with the flags sg_sem_leave kept (NULL: as
 * inherited).  A set this
 * process created is recorded as used: its creation stays in the ledger
 * of the uid that created it. */
void sg_sem_arrive(const uint32_t *flags);

#endif
