/*
 * helper_stagger.c - the seed scenario: processes with staggered start
 * times share one keyed segment; each does get -> attach -> read-or-write
 * a number -> detach -> IPC_RMID.  A round "diverged" when its processes
 * did not all see the same number (some ended up on another segment).
 *
 * usage: helper_stagger ROUNDS PROCS [SEED]
 * prints: rounds=R procs=P diverged=D errors=E leftover=L
 * Processes exit normally (destructors run).  The stagger is random
 * (start 0-3 ms, hold 0-1 ms): it is the workload, not synchronisation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct result {
    atomic_int value;
    atomic_int error;
    long long at_ns, dt_ns; /* CLOCK_MONOTONIC after shmat, before shmdt */
};

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int child(key_t key, int me, struct result *res, unsigned seed)
{
    srand(seed);
    usleep((useconds_t)(rand() % 3000));
    int id = shmget(key, 4096, IPC_CREAT | 0600);
    if (id < 0) {
        res->error = errno;
        return 1;
    }
    atomic_int *p = shmat(id, NULL, 0);
    if (p == (void *)-1) {
        res->error = errno;
        return 1;
    }
    res->at_ns = mono_ns();
    int expect = 0;
    atomic_compare_exchange_strong(p, &expect, me); /* the first one writes */
    res->value = atomic_load(p);
    usleep((useconds_t)(rand() % 1000));
    res->dt_ns = mono_ns();
    shmdt(p);
    shmctl(id, IPC_RMID, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROUNDS PROCS [SEED]\n", argv[0]);
        return 2;
    }
    int rounds = atoi(argv[1]), procs = atoi(argv[2]);
    unsigned seed = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
    struct result *res = mmap(NULL, sizeof *res * (size_t)procs, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED)
        return 2;
    int diverged = 0, errors = 0;
    for (int r = 0; r < rounds; r++) {
        key_t key = 0x5a000000 + r;
        for (int i = 0; i < procs; i++) {
            res[i].value = 0;
            res[i].error = 0;
            res[i].at_ns = res[i].dt_ns = 0;
            pid_t c = fork();
            if (c == 0)
                exit(child(key, i + 1, &res[i], seed * 7919u + (unsigned)(r * procs + i)));
            if (c < 0)
                return 2;
        }
        while (wait(NULL) > 0)
            ;
        int differ = 0;
        for (int i = 0; i < procs; i++) {
            errors += res[i].error != 0;
            for (int j = i + 1; j < procs; j++)
                if (!res[i].error && !res[j].error && res[i].value != res[j].value &&
                    res[i].at_ns < res[j].dt_ns && res[j].at_ns < res[i].dt_ns)
                    differ = 1;
        }
        diverged += differ;
    }
    /* Every process removed what it used: nothing may be left. */
    struct shm_info info;
    int leftover = shmctl(0, SHM_INFO, (struct shmid_ds *)&info) >= 0 ? (int)info.used_ids : -1;
    printf("rounds=%d procs=%d diverged=%d errors=%d leftover=%d\n", rounds, procs, diverged,
           errors, leftover);
    return 0;
}
