/*
 * sg_sem.c - semget/semctl/semop: the creator and the users of each
 * semaphore set recorded through sg_use.h.  No deferral, no changed
 * result.
 */
#define _GNU_SOURCE
#include "sg_sem.h"
#include "sg_state.h"
#include "sg_use.h"

#include <errno.h>

/* ---- semget ------------------------------------------------------------- */

SG_BODY int semget_body(key_t key, int nsems, int flg, const void *caller)
{
    return sg_use_getcall(SG_KIND_SEM, key, nsems, flg, caller);
}

int sg_semget(key_t key, int nsems, int flg, const void *caller)
{
    sg_in_hook = 1;
    int r = semget_body(key, nsems, flg, caller);
    sg_in_hook = 0;
    return r;
}

/* ---- semctl ------------------------------------------------------------- */

int sg_semctl_has_arg(int cmd)
{
    switch (cmd & ~0x100 /* IPC_64 */) {
    case SETVAL: case GETALL: case SETALL: case IPC_STAT: case IPC_SET:
    case IPC_INFO: case SEM_INFO: case SEM_STAT: case SEM_STAT_ANY:
        return 1;
    default:
        return 0;
    }
}

SG_BODY int semctl_body(int id, int num, int cmd, union sg_semun arg)
{
    if (!sg_st.active)
        return real_semctl(id, num, cmd, arg);
    int e0 = errno;
    int c = cmd & ~0x100;
    /* Setting values is what a user does (observers only read). */
    if ((c == SETVAL || c == SETALL) && !sg_use_has(SG_KIND_SEM, id))
        sg_use_by_id(SG_KIND_SEM, id);
    int r = real_semctl(id, num, cmd, arg);
    int e = errno;
    if ((c == IPC_RMID && r == 0) || (r < 0 && (e == EINVAL || e == EIDRM) &&
                                      c != IPC_INFO && c != SEM_INFO && c != SEM_STAT &&
                                      c != SEM_STAT_ANY && sg_use_has(SG_KIND_SEM, id)))
        sg_use_forget(SG_KIND_SEM, id);
    errno = r >= 0 ? e0 : e;
    return r;
}

int sg_semctl(int id, int num, int cmd, union sg_semun arg)
{
    sg_in_hook = 1;
    int r = semctl_body(id, num, cmd, arg);
    sg_in_hook = 0;
    return r;
}

/* ---- semop / semtimedop ------------------------------------------------- */

/* The first use of a set is recorded before the operation (which may
 * block for long); the operation itself is libc's, tail-called, with no
 * lock held and the guard clear, as from the program itself. */
int sg_semop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout, int timed)
{
    if (__atomic_load_n(&sg_st.active, __ATOMIC_RELAXED) && !sg_use_has(SG_KIND_SEM, id))
        sg_use_by_id(SG_KIND_SEM, id);
    return timed ? real_semtimedop(id, ops, n, timeout) : real_semop(id, ops, n);
}
