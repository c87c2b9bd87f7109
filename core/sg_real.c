/*
 * sg_real.c - bind the real libc functions once (see sg_real.h).
 */
#define _GNU_SOURCE
#include "sg_real.h"
#include "sg_compiler.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_shmget(key_t k, size_t s, int f) { return (int)syscall(SYS_shmget, k, s, f); }
static void *sys_shmat(int id, const void *a, int f) { return (void *)syscall(SYS_shmat, id, a, f); }
static int sys_shmdt(const void *a) { return (int)syscall(SYS_shmdt, a); }
static int sys_shmctl(int id, int cmd, struct shmid_ds *b) { return (int)syscall(SYS_shmctl, id, cmd, b); }

static int sys_semget(key_t k, int n, int f) { return (int)syscall(SYS_semget, k, n, f); }
static int sys_msgget(key_t k, int f) { return (int)syscall(SYS_msgget, k, f); }
static int sys_msgsnd(int id, const void *p, size_t n, int f) { return (int)syscall(SYS_msgsnd, id, p, n, f); }
static ssize_t sys_msgrcv(int id, void *p, size_t n, long t, int f) { return (ssize_t)syscall(SYS_msgrcv, id, p, n, t, f); }
static int sys_msgctl(int id, int cmd, struct msqid_ds *b) { return (int)syscall(SYS_msgctl, id, cmd, b); }
static int sys_semctl(int id, int num, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    union sg_semun arg = va_arg(ap, union sg_semun);
    va_end(ap);
    return (int)syscall(SYS_semctl, id, num, cmd, arg.buf);
}
static int sys_semtimedop(int id, struct sembuf *o, size_t n, const struct timespec *t)
{
    return (int)syscall(SYS_semtimedop, id, o, n, t);
}
static int sys_semop(int id, struct sembuf *o, size_t n) { return sys_semtimedop(id, o, n, NULL); }

static int sys_setuid(uid_t u) { return (int)syscall(SYS_setuid, u); }
static int sys_seteuid(uid_t u) { return (int)syscall(SYS_setresuid, -1, u, -1); }
static int sys_setreuid(uid_t r, uid_t e) { return (int)syscall(SYS_setreuid, r, e); }
static int sys_setresuid(uid_t r, uid_t e, uid_t s) { return (int)syscall(SYS_setresuid, r, e, s); }
static int sys_setgid(gid_t g) { return (int)syscall(SYS_setgid, g); }
static int sys_setegid(gid_t g) { return (int)syscall(SYS_setresgid, -1, g, -1); }
static int sys_setregid(gid_t r, gid_t e) { return (int)syscall(SYS_setregid, r, e); }
static int sys_setresgid(gid_t r, gid_t e, gid_t s) { return (int)syscall(SYS_setresgid, r, e, s); }
static int sys_setgroups(size_t n, const gid_t *l) { return (int)syscall(SYS_setgroups, n, l); }

/* This object's first and last byte in memory, from the linker: its ELF
 * header and the end of its bss.  An address test against them replaces
 * dladdr(), which scans the whole symbol table of the object it finds
 * (libc's: thousands of entries): once per bound function, that was a
 * fifth of a short process's run time. */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char _end[] __attribute__((visibility("hidden")));

/* The function named `name` from the objects after ours, or NULL when the
 * lookup finds nothing or finds a symbol inside our own object. */
static void *next_symbol(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p || ((const char *)p >= __ehdr_start && (const char *)p < _end))
        return NULL;
    return p;
}

/* Store in *slot the function `name` (or fallback, when there is none
 * below us) and return it.  Threads racing here store the same value. */
SG_COLD static void *bind_one(void **slot, const char *name, void *fallback)
{
    void *p = next_symbol(name);
    if (!p)
        p = fallback;
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}

/* Each entry starts as a trampoline that binds it on its first call: a
 * process pays one dlsym for each function it uses (a dlsym walks every
 * object's symbol hash; 17 of them were a tenth of a short process's
 * first call), and nothing at all when it never calls in. */
#define SG_FIRST(name, ret, params, args)                                                      \
    static ret first_##name params                                                             \
    {                                                                                          \
        __typeof__(sg_real_tab.name) fn_ = (__typeof__(fn_))bind_one(                          \
            (void **)&sg_real_tab.name, #name, (void *)sys_##name);                            \
        return fn_ args;                                                                       \
    }
SG_FIRST(shmget, int, (key_t k, size_t s, int f), (k, s, f))
SG_FIRST(shmat, void *, (int id, const void *a, int f), (id, a, f))
SG_FIRST(shmdt, int, (const void *a), (a))
SG_FIRST(shmctl, int, (int id, int cmd, struct shmid_ds *b), (id, cmd, b))
SG_FIRST(semget, int, (key_t k, int n, int f), (k, n, f))
SG_FIRST(msgget, int, (key_t k, int f), (k, f))
SG_FIRST(msgsnd, int, (int id, const void *p, size_t n, int f), (id, p, n, f))
SG_FIRST(msgrcv, ssize_t, (int id, void *p, size_t n, long t, int f), (id, p, n, t, f))
SG_FIRST(msgctl, int, (int id, int cmd, struct msqid_ds *b), (id, cmd, b))
SG_FIRST(semop, int, (int id, struct sembuf *o, size_t n), (id, o, n))
SG_FIRST(semtimedop, int, (int id, struct sembuf *o, size_t n, const struct timespec *t),
         (id, o, n, t))
SG_FIRST(setuid, int, (uid_t u), (u))
SG_FIRST(seteuid, int, (uid_t u), (u))
SG_FIRST(setreuid, int, (uid_t r, uid_t e), (r, e))
SG_FIRST(setresuid, int, (uid_t r, uid_t e, uid_t s), (r, e, s))
SG_FIRST(setgid, int, (gid_t g), (g))
SG_FIRST(setegid, int, (gid_t g), (g))
SG_FIRST(setregid, int, (gid_t r, gid_t e), (r, e))
SG_FIRST(setresgid, int, (gid_t r, gid_t e, gid_t s), (r, e, s))
SG_FIRST(setgroups, int, (size_t n, const gid_t *l), (n, l))
#undef SG_FIRST

/* semctl is variadic: its fourth argument is passed on as the union. */
static int first_semctl(int id, int num, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    union sg_semun arg = va_arg(ap, union sg_semun);
    va_end(ap);
    __typeof__(sg_real_tab.semctl) f = (__typeof__(f))bind_one(
        (void **)&sg_real_tab.semctl, "semctl", (void *)sys_semctl);
    return f(id, num, cmd, arg);
}

struct sg_real sg_real_tab = { first_shmget, first_shmat, first_shmdt, first_shmctl,
                               first_semget, first_semctl, first_semop, first_semtimedop,
                               first_msgget, first_msgsnd, first_msgrcv, first_msgctl,
                               first_setuid, first_seteuid, first_setreuid, first_setresuid,
                               first_setgid, first_setegid, first_setregid, first_setresgid,
                               first_setgroups, NULL, NULL, NULL, NULL };

SG_FIRST_DATA static pthread_once_t bind_once = PTHREAD_ONCE_INIT;

static void do_bind(void)
{
#define BIND(name) bind_one((void **)&sg_real_tab.name, #name, (void *)sys_##name);
    BIND(shmget)
    BIND(shmat)
    BIND(shmdt)
    BIND(shmctl)
    BIND(semget)
    BIND(msgget)
    BIND(msgsnd)
    BIND(msgrcv)
    BIND(msgctl)
    BIND(semctl)
    BIND(semop)
    BIND(semtimedop)
    BIND(setuid)
    BIND(seteuid)
    BIND(setreuid)
    BIND(setresuid)
    BIND(setgid)
    BIND(setegid)
    BIND(setregid)
    BIND(setresgid)
    BIND(setgroups)
#undef BIND
    sg_real_bind_jumps();
}

void sg_real_bind(void) { pthread_once(&bind_once, do_bind); }

void sg_real_bind_jump(const char *name, void **slot)
{
    /* dlsym alone (no dladdr, nothing allocated on success): this may run
     * in a signal handler.  The loader's lock is recursive, so a handler
     * that interrupted the loader in this thread takes it again; jumping
     * out of such a handler is undefined for the program anyway. */
    void *p;
    if (!__atomic_load_n(slot, __ATOMIC_ACQUIRE) && (p = dlsym(RTLD_NEXT, name)))
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
}

void sg_real_bind_jumps(void)
{
    sg_real_bind_jump("longjmp", (void **)&sg_real_tab.longjmp);
    sg_real_bind_jump("_longjmp", (void **)&sg_real_tab._longjmp);
    sg_real_bind_jump("siglongjmp", (void **)&sg_real_tab.siglongjmp);
    sg_real_bind_jump("__longjmp_chk", (void **)&sg_real_tab.__longjmp_chk);
}
