/*
 * sg_hooks.c - the only symbols libshmguard.so exports.
 *
 * Each hook (the four shared memory calls and semget, semctl, semop,
 * semtimedop) guards against re-entry (a call made from inside the library
 * goes straight to libc) and forwards to its sg_* function (sg_core.c,
 * sg_sem.c),
 * passing the caller's address for the call-site record.  Nothing else
 * lives here.
 */
#define _GNU_SOURCE
#include "sg_core.h"
#include "sg_real.h"
#include "sg_sem.h"

#include "sg_compiler.h"

#include <stdarg.h>

#define SG_EXPORT __attribute__((visibility("default"))) SG_HOT

static __thread int in_hook __attribute__((tls_model("initial-exec")));

SG_EXPORT int shmget(key_t key, size_t size, int flg)
{
    if (in_hook)
        return real_shmget(key, size, flg);
    in_hook = 1;
    int r = sg_shmget(key, size, flg, __builtin_return_address(0));
    in_hook = 0;
    return r;
}

SG_EXPORT void *shmat(int id, const void *addr, int flg)
{
    if (in_hook)
        return real_shmat(id, addr, flg);
    in_hook = 1;
    void *r = sg_shmat(id, addr, flg);
    in_hook = 0;
    return r;
}

SG_EXPORT int shmdt(const void *addr)
{
    if (in_hook)
        return real_shmdt(addr);
    in_hook = 1;
    int r = sg_shmdt(addr);
    in_hook = 0;
    return r;
}

SG_EXPORT int shmctl(int id, int cmd, struct shmid_ds *buf)
{
    if (in_hook)
        return real_shmctl(id, cmd, buf);
    in_hook = 1;
    int r = sg_shmctl(id, cmd, buf);
    in_hook = 0;
    return r;
}

SG_EXPORT int semget(key_t key, int nsems, int flg)
{
    if (in_hook)
        return real_semget(key, nsems, flg);
    in_hook = 1;
    int r = sg_semget(key, nsems, flg, __builtin_return_address(0));
    in_hook = 0;
    return r;
}

SG_EXPORT int semctl(int id, int num, int cmd, ...)
{
    union sg_semun arg = { .buf = NULL };
    if (sg_semctl_has_arg(cmd)) {
        va_list ap;
        va_start(ap, cmd);
        arg = va_arg(ap, union sg_semun);
        va_end(ap);
    }
    if (in_hook)
        return real_semctl(id, num, cmd, arg);
    in_hook = 1;
    int r = sg_semctl(id, num, cmd, arg);
    in_hook = 0;
    return r;
}

SG_EXPORT int semop(int id, struct sembuf *ops, size_t n)
{
    if (in_hook)
        return real_semop(id, ops, n);
    in_hook = 1;
    int r = sg_semop(id, ops, n, NULL, 0);
    in_hook = 0;
    return r;
}

SG_EXPORT int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *t)
{
    if (in_hook)
        return real_semtimedop(id, ops, n, t);
    in_hook = 1;
    int r = sg_semop(id, ops, n, t, 1);
    in_hook = 0;
    return r;
}

__attribute__((destructor)) static void sg_hooks_fini(void)
{
    in_hook = 1;
    sg_core_exit();
    in_hook = 0;
}
