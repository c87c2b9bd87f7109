/*
 * sg_locks.c - the in-process lock's slow paths (see sg_locks.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sg_locks.h"

uint32_t sg_local_lock;

/* Contended: mark the lock as having waiters and sleep until it is
 * given back (errno is preserved: the callers restore it anyway, but a
 * lock should not be what changes it). */
void sg_lock_wait(uint32_t *l)
{
    int saved = errno;
    while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, l, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
    errno = saved;
}

void sg_lock_wake(uint32_t *l)
{
    int saved = errno;
    syscall(SYS_futex, l, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}
