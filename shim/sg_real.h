/*
 * sg_real.h - the one table of real libc functions the library calls.
 *
 * Bound once (thread-safe) with dlsym(RTLD_NEXT) and checked: a symbol that
 * resolves into our own object is refused, and a missing one falls back to
 * the raw system call.  Internal code only ever calls real_*().
 */
#ifndef SG_REAL_H
#define SG_REAL_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

struct sg_real {
    int (*shmget)(key_t, size_t, int);
    void *(*shmat)(int, const void *, int);
    int (*shmdt)(const void *);
    int (*shmctl)(int, int, struct shmid_ds *);
};

/* Bind the table if not yet bound; never fails (falls back to syscalls). */
void sg_real_bind(void);

extern struct sg_real sg_real_tab;

static inline int real_shmget(key_t k, size_t s, int f) { return sg_real_tab.shmget(k, s, f); }
static inline void *real_shmat(int id, const void *a, int f) { return sg_real_tab.shmat(id, a, f); }
static inline int real_shmdt(const void *a) { return sg_real_tab.shmdt(a); }
static inline int real_shmctl(int id, int cmd, struct shmid_ds *b) { return sg_real_tab.shmctl(id, cmd, b); }

#endif
