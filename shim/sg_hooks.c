/*
 * sg_hooks.c - the only symbols libshmguard.so exports.
 *
 * Each hook (the four shared memory calls, semget, semctl, semop,
 * semtimedop, msgget, msgsnd, msgrcv, msgctl, and the credential calls
 * of sg_creds.h) sends a call made
 * while the library is handling another one in the same thread
 * (sg_in_hook: from a signal handler, or from inside the library)
 * straight to libc.  Otherwise a shm, sem or msg hook sets the process up
 * on its first call (sg_init.h) and tail-calls its sg_* function
 * (sg_core.c, sg_sem.c, sg_msg.c), which sets the guard itself when it
 * needs it, passing the caller's address
 * for the call-site record; a credential hook calls sg_creds.c.  Nothing
 * else lives here.
 *
 * Why a tail call: the kernel refills the return-stack predictor on the
 * way back from a system call, so every frame the call returns through
 * costs a mispredicted return; a hook frame of its own cost shmget 5% of
 * the bare call.
 */
/* The jump hooks define longjmp and siglongjmp themselves: a build with
 * _FORTIFY_SOURCE (Debian's packages) would have <setjmp.h> rename both to
 * __longjmp_chk, which is defined here too. */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE
#include "sg_core.h"
#include "sg_init.h"
#include "sg_creds.h"
#include "sg_real.h"
#include "sg_msg.h"
#include "sg_sem.h"
#include "sg_state.h"

#include "sg_compiler.h"

#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <sys/msg.h>
#include <stdlib.h>
#include <stdarg.h>
#include <unistd.h>

#define SG_EXPORT __attribute__((visibility("default"))) SG_HOT

SG_EXPORT int shmget(key_t key, size_t size, int flg)
{
    if (sg_in_hook)
        return real_shmget(key, size, flg);
    sg_init();
    return sg_shmget(key, size, flg, __builtin_return_address(0));
}

SG_EXPORT void *shmat(int id, const void *addr, int flg)
{
    if (sg_in_hook)
        return real_shmat(id, addr, flg);
    sg_init();
    return sg_shmat(id, addr, flg);
}

SG_EXPORT int shmdt(const void *addr)
{
    if (sg_in_hook)
        return real_shmdt(addr);
    sg_init();
    return sg_shmdt(addr);
}

SG_EXPORT int shmctl(int id, int cmd, struct shmid_ds *buf)
{
    if (sg_in_hook)
        return real_shmctl(id, cmd, buf);
    sg_init();
    return sg_shmctl(id, cmd, buf);
}

SG_EXPORT int semget(key_t key, int nsems, int flg)
{
    if (sg_in_hook)
        return real_semget(key, nsems, flg);
    sg_init();
    return sg_semget(key, nsems, flg, __builtin_return_address(0));
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
    if (sg_in_hook)
        return real_semctl(id, num, cmd, arg);
    sg_init();
    return sg_semctl(id, num, cmd, arg);
}

SG_EXPORT int semop(int id, struct sembuf *ops, size_t n)
{
    if (sg_in_hook)
        return real_semop(id, ops, n);
    sg_init();
    return sg_semop(id, ops, n, NULL, 0);
}

SG_EXPORT int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *t)
{
    if (sg_in_hook)
        return real_semtimedop(id, ops, n, t);
    sg_init();
    return sg_semop(id, ops, n, t, 1);
}

SG_EXPORT int msgget(key_t key, int flg)
{
    if (sg_in_hook)
        return real_msgget(key, flg);
    sg_init();
    return sg_msgget(key, flg, __builtin_return_address(0));
}

SG_EXPORT int msgsnd(int id, const void *msgp, size_t size, int flg)
{
    if (sg_in_hook)
        return real_msgsnd(id, msgp, size, flg);
    sg_init();
    return sg_msgsnd(id, msgp, size, flg);
}

SG_EXPORT ssize_t msgrcv(int id, void *msgp, size_t size, long type, int flg)
{
    if (sg_in_hook)
        return real_msgrcv(id, msgp, size, type, flg);
    sg_init();
    return sg_msgrcv(id, msgp, size, type, flg);
}

SG_EXPORT int msgctl(int id, int cmd, struct msqid_ds *buf)
{
    if (sg_in_hook)
        return real_msgctl(id, cmd, buf);
    sg_init();
    return sg_msgctl(id, cmd, buf);
}

/* Credentials (sg_creds.h).  The real function binds itself on its first
 * call: a process that never makes a shared-memory call does no ledger
 * work either. */
#define SG_CRED_HOOK(name, params, args)                                                      \
    SG_EXPORT int name params                                                                 \
    {                                                                                         \
        if (sg_in_hook)                                                                       \
            return real_##name args;                                                          \
        return sg_##name args;                                                                \
    }
SG_CRED_HOOK(setuid, (uid_t uid), (uid))
SG_CRED_HOOK(seteuid, (uid_t euid), (euid))
SG_CRED_HOOK(setreuid, (uid_t ruid, uid_t euid), (ruid, euid))
SG_CRED_HOOK(setresuid, (uid_t ruid, uid_t euid, uid_t suid), (ruid, euid, suid))
SG_CRED_HOOK(setgid, (gid_t gid), (gid))
SG_CRED_HOOK(setegid, (gid_t egid), (egid))
SG_CRED_HOOK(setregid, (gid_t rgid, gid_t egid), (rgid, egid))
SG_CRED_HOOK(setresgid, (gid_t rgid, gid_t egid, gid_t sgid), (rgid, egid, sgid))
SG_CRED_HOOK(setgroups, (size_t n, const gid_t *list), (n, list))

/* Non-local jumps.  A jump out of a signal handler that interrupted one
 * of the library's calls (the classic alarm + siglongjmp timeout around a
 * blocking semop) never returns through that call, so the thread's mark
 * "inside the library" (sg_in_hook) would stay set and every later call
 * of the thread go straight to libc, unrecorded.  The library itself never
 * jumps: a jump clears the mark.  (A handler that interrupts the library
 * and jumps within itself, then calls in again before returning, is not
 * supported: the interrupted call may hold its locks.)  Each finds the
 * real function at its first use (sg_real_bind_jump): binding all four at
 * every process's first call cost it 7 us. */
#define SG_JUMP_HOOK(name)                                                                    \
    SG_EXPORT __attribute__((noreturn)) void name(struct __jmp_buf_tag env[1], int val)      \
    {                                                                                         \
        sg_in_hook = 0;                                                                       \
        sg_real_bind_jump(#name, (void **)&sg_real_tab.name);                                 \
        if (!sg_real_tab.name)                                                                \
            abort(); /* no such function below us: glibc always has it */                     \
        sg_real_tab.name(env, val);                                                           \
    }
void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));
SG_JUMP_HOOK(longjmp)
SG_JUMP_HOOK(_longjmp)
SG_JUMP_HOOK(siglongjmp)
SG_JUMP_HOOK(__longjmp_chk)

/* The library's end, at the process's exit or its unloading: the
 * object's DT_FINI (the Makefile links with -fini=sg_hooks_fini), not a
 * destructor, so that the loader calls it here, on a page of code a
 * process has mapped already, and not crti's empty _fini, whose page at
 * the end of the library's code every process faulted in to run it. */
void sg_hooks_fini(void);
void sg_hooks_fini(void) { sg_init_fini(); }
