/*
 * sg_real.h - the one table of real libc functions the library calls.
 *
 * Each entry is bound on its first call (thread-safe) with
 * dlsym(RTLD_NEXT) and checked: a symbol that resolves into our own object
 * is refused, and a missing one falls back to the raw system call.
 * Internal code only ever calls real_*().
 */
#ifndef SG_REAL_H
#define SG_REAL_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/msg.h>
#include <setjmp.h>
#include <sys/shm.h>
#include <time.h>

/* semctl's optional fourth argument (the caller defines it, per POSIX). */
union sg_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

struct sg_real {
    int (*shmget)(key_t, size_t, int);
    void *(*shmat)(int, const void *, int);
    int (*shmdt)(const void *);
    int (*shmctl)(int, int, struct shmid_ds *);
    int (*semget)(key_t, int, int);
    int (*semctl)(int, int, int, ...);
    int (*semop)(int, struct sembuf *, size_t);
    int (*semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
    int (*msgget)(key_t, int);
    int (*msgsnd)(int, const void *, size_t, int);
    ssize_t (*msgrcv)(int, void *, size_t, long, int);
    int (*msgctl)(int, int, struct msqid_ds *);
    int (*setuid)(uid_t);
    int (*seteuid)(uid_t);
    int (*setreuid)(uid_t, uid_t);
    int (*setresuid)(uid_t, uid_t, uid_t);
    int (*setgid)(gid_t);
    int (*setegid)(gid_t);
    int (*setregid)(gid_t, gid_t);
    int (*setresgid)(gid_t, gid_t, gid_t);
    int (*setgroups)(size_t, const gid_t *);
    /* Non-local jumps (sg_hooks.c): NULL until bound; glibc has them. */
    void (*longjmp)(struct __jmp_buf_tag *, int) __attribute__((noreturn));
    void (*_longjmp)(struct __jmp_buf_tag *, int) __attribute__((noreturn));
    void (*siglongjmp)(struct __jmp_buf_tag *, int) __attribute__((noreturn));
    void (*__longjmp_chk)(struct __jmp_buf_tag *, int) __attribute__((noreturn));
};

/* Bind the whole table now if not yet bound (the tool, which uses most of
 * it); never fails (falls back to syscalls).  Not needed before a call:
 * every entry binds itself on its first use. */
void sg_real_bind(void);

/* Bind the non-local jump function `name` into *slot (dlsym only) unless
 * bound: at the process's first jump of that kind (sg_hooks.c), which
 * may come from a signal handler.  Nothing is bound at load or at the
 * first intercepted call: a process that never jumps pays nothing. */
void sg_real_bind_jump(const char *name, void **slot);

/* The four of them (the tool, with sg_real_bind). */
void sg_real_bind_jumps(void);

extern struct sg_real sg_real_tab;

static inline int real_shmget(key_t k, size_t s, int f) { return __atomic_load_n(&sg_real_tab.shmget, __ATOMIC_RELAXED)(k, s, f); }
static inline void *real_shmat(int id, const void *a, int f) { return __atomic_load_n(&sg_real_tab.shmat, __ATOMIC_RELAXED)(id, a, f); }
static inline int real_shmdt(const void *a) { return __atomic_load_n(&sg_real_tab.shmdt, __ATOMIC_RELAXED)(a); }
static inline int real_shmctl(int id, int cmd, struct shmid_ds *b) { return __atomic_load_n(&sg_real_tab.shmctl, __ATOMIC_RELAXED)(id, cmd, b); }
static inline int real_semget(key_t k, int n, int f) { return __atomic_load_n(&sg_real_tab.semget, __ATOMIC_RELAXED)(k, n, f); }
static inline int real_msgget(key_t k, int f) { return __atomic_load_n(&sg_real_tab.msgget, __ATOMIC_RELAXED)(k, f); }
static inline int real_msgsnd(int id, const void *p, size_t n, int f) { return __atomic_load_n(&sg_real_tab.msgsnd, __ATOMIC_RELAXED)(id, p, n, f); }
static inline ssize_t real_msgrcv(int id, void *p, size_t n, long t, int f) { return __atomic_load_n(&sg_real_tab.msgrcv, __ATOMIC_RELAXED)(id, p, n, t, f); }
static inline int real_msgctl(int id, int cmd, struct msqid_ds *b) { return __atomic_load_n(&sg_real_tab.msgctl, __ATOMIC_RELAXED)(id, cmd, b); }
/* semctl with its fourth argument always passed (ignored by commands
 * that take none, as in libc). */
static inline int real_semctl(int id, int num, int cmd, union sg_semun arg) { return __atomic_load_n(&sg_real_tab.semctl, __ATOMIC_RELAXED)(id, num, cmd, arg); }
static inline int real_semop(int id, struct sembuf *o, size_t n) { return __atomic_load_n(&sg_real_tab.semop, __ATOMIC_RELAXED)(id, o, n); }
static inline int real_semtimedop(int id, struct sembuf *o, size_t n, const struct timespec *t) { return __atomic_load_n(&sg_real_tab.semtimedop, __ATOMIC_RELAXED)(id, o, n, t); }

/* Credentials: glibc applies these to every thread of the process (the
 * raw system calls of the fallback change only the calling thread's). */
static inline int real_setuid(uid_t u) { return __atomic_load_n(&sg_real_tab.setuid, __ATOMIC_RELAXED)(u); }
static inline int real_seteuid(uid_t u) { return __atomic_load_n(&sg_real_tab.seteuid, __ATOMIC_RELAXED)(u); }
static inline int real_setreuid(uid_t r, uid_t e) { return __atomic_load_n(&sg_real_tab.setreuid, __ATOMIC_RELAXED)(r, e); }
static inline int real_setresuid(uid_t r, uid_t e, uid_t s) { return __atomic_load_n(&sg_real_tab.setresuid, __ATOMIC_RELAXED)(r, e, s); }
static inline int real_setgid(gid_t g) { return __atomic_load_n(&sg_real_tab.setgid, __ATOMIC_RELAXED)(g); }
static inline int real_setegid(gid_t g) { return __atomic_load_n(&sg_real_tab.setegid, __ATOMIC_RELAXED)(g); }
static inline int real_setregid(gid_t r, gid_t e) { return __atomic_load_n(&sg_real_tab.setregid, __ATOMIC_RELAXED)(r, e); }
static inline int real_setresgid(gid_t r, gid_t e, gid_t s) { return __atomic_load_n(&sg_real_tab.setresgid, __ATOMIC_RELAXED)(r, e, s); }
static inline int real_setgroups(size_t n, const gid_t *l) { return __atomic_load_n(&sg_real_tab.setgroups, __ATOMIC_RELAXED)(n, l); }

#endif
