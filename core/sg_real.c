/*
 * sg_real.c - bind the real libc functions once (see sg_real.h).
 */
#define _GNU_SOURCE
#include "sg_real.h"

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

struct sg_real sg_real_tab = { sys_shmget, sys_shmat, sys_shmdt, sys_shmctl,
                               sys_semget, sys_semctl, sys_semop, sys_semtimedop,
                               sys_setuid, sys_seteuid, sys_setreuid, sys_setresuid,
                               sys_setgid, sys_setegid, sys_setregid, sys_setresgid,
                               sys_setgroups, NULL, NULL, NULL, NULL };

static pthread_once_t bind_once = PTHREAD_ONCE_INIT;

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

static void do_bind(void)
{
    void *p;
    if ((p = next_symbol("shmget")))
        sg_real_tab.shmget = (int (*)(key_t, size_t, int))p;
    if ((p = next_symbol("shmat")))
        sg_real_tab.shmat = (void *(*)(int, const void *, int))p;
    if ((p = next_symbol("shmdt")))
        sg_real_tab.shmdt = (int (*)(const void *))p;
    if ((p = next_symbol("shmctl")))
        sg_real_tab.shmctl = (int (*)(int, int, struct shmid_ds *))p;
    if ((p = next_symbol("semget")))
        sg_real_tab.semget = (int (*)(key_t, int, int))p;
    if ((p = next_symbol("semctl")))
        sg_real_tab.semctl = (int (*)(int, int, int, ...))p;
    if ((p = next_symbol("semop")))
        sg_real_tab.semop = (int (*)(int, struct sembuf *, size_t))p;
    if ((p = next_symbol("semtimedop")))
        sg_real_tab.semtimedop = (int (*)(int, struct sembuf *, size_t, const struct timespec *))p;
#define BIND_CRED(name, type)                                                                  \
    if ((p = next_symbol(#name)))                                                              \
        sg_real_tab.name = (type)p;
    BIND_CRED(setuid, int (*)(uid_t))
    BIND_CRED(seteuid, int (*)(uid_t))
    BIND_CRED(setreuid, int (*)(uid_t, uid_t))
    BIND_CRED(setresuid, int (*)(uid_t, uid_t, uid_t))
    BIND_CRED(setgid, int (*)(gid_t))
    BIND_CRED(setegid, int (*)(gid_t))
    BIND_CRED(setregid, int (*)(gid_t, gid_t))
    BIND_CRED(setresgid, int (*)(gid_t, gid_t, gid_t))
    BIND_CRED(setgroups, int (*)(size_t, const gid_t *))
#undef BIND_CRED
    sg_real_bind_jumps();
}

void sg_real_bind(void) { pthread_once(&bind_once, do_bind); }

void sg_real_bind_jumps(void)
{
    typedef void (*jump_fn)(struct __jmp_buf_tag *, int) __attribute__((noreturn));
    void *p;
    /* dlsym alone (no dladdr): this may run in a signal handler. */
#define BIND_JUMP(name)                                                                        \
    if ((p = dlsym(RTLD_NEXT, #name)))                                                         \
        __atomic_store_n(&sg_real_tab.name, (jump_fn)p, __ATOMIC_RELEASE);
    BIND_JUMP(longjmp)
    BIND_JUMP(_longjmp)
    BIND_JUMP(siglongjmp)
    BIND_JUMP(__longjmp_chk)
#undef BIND_JUMP
}
