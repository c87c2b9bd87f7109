/*
 * sg_sem.h - the logic behind the semaphore hooks: ownership of System V
 * semaphore sets (who created each, who uses it: sg_use.h), with no
 * change of behaviour.
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

#endif
