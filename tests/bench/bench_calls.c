/*
 * bench_calls.c - the hot-path cost of libshmguard, as ratios to the bare
 * libc calls measured in the same run.
 *
 * The library is dlopen()ed and its hooks are called beside libc's own
 * functions, interleaved block by block (A, B, A, B, ...), so both see the
 * same machine state; each repetition gives one ratio, and the median of
 * the repetitions is reported with its spread (min..max).
 *
 * usage: bench_calls LIBSHMGUARD.so [REPS]   (run in a private namespace)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <time.h>

typedef int (*get_fn)(key_t, size_t, int);
typedef void *(*at_fn)(int, const void *, int);
typedef int (*dt_fn)(const void *);
typedef int (*ctl_fn)(int, int, struct shmid_ds *);

struct api {
    get_fn get;
    at_fn at;
    dt_fn dt;
    ctl_fn ctl;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One measured operation: ns per op for n iterations with api a. */
typedef double (*op_fn)(const struct api *a, int n, void *arg);

struct seg {
    key_t key;
    int id;
    size_t size;
};

static double op_attach_pair(const struct api *a, int n, void *arg)
{
    struct seg *s = arg;
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        void *p = a->at(s->id, NULL, 0);
        a->dt(p);
    }
    return (now_ns() - t0) / n;
}

static double op_get_existing(const struct api *a, int n, void *arg)
{
    struct seg *s = arg;
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        if (a->get(s->key, s->size, 0600) < 0)
            abort();
    return (now_ns() - t0) / n;
}

static double op_ipc_stat(const struct api *a, int n, void *arg)
{
    struct seg *s = arg;
    struct shmid_ds ds;
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        a->ctl(s->id, IPC_STAT, &ds);
    return (now_ns() - t0) / n;
}

/* IPC_RMID of an attached keyed segment (deferred under the library;
 * SHM_DEST bare), and then the shmdt that completes it: each timed on its
 * own, the setup (shmget, shmat) outside the clock. */
static double rmid_or_dt(const struct api *a, int n, int which)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        int id = a->get(0x5eedbe00, 4096, IPC_CREAT | 0600);
        void *p = a->at(id, NULL, 0);
        double t0 = now_ns();
        a->ctl(id, IPC_RMID, NULL);
        double t1 = now_ns();
        a->dt(p);
        double t2 = now_ns();
        total += which ? t2 - t1 : t1 - t0;
    }
    return total / n;
}
static double op_rmid(const struct api *a, int n, void *arg)
{
    (void)arg;
    return rmid_or_dt(a, n, 0);
}
static double op_dt_pending(const struct api *a, int n, void *arg)
{
    (void)arg;
    return rmid_or_dt(a, n, 1);
}

static void measure(const char *name, op_fn op, void *arg, int n, int reps, const struct api *bare,
                    const struct api *lib, double target)
{
    double *ratio = calloc((size_t)reps, sizeof *ratio);
    double *b_ns = calloc((size_t)reps, sizeof *b_ns);
    op(bare, n / 10 + 1, arg); /* warm up both */
    op(lib, n / 10 + 1, arg);
    for (int r = 0; r < reps; r++) {
        /* Alternate which goes first to cancel drift. */
        double b, l;
        if (r & 1) {
            l = op(lib, n, arg);
            b = op(bare, n, arg);
        } else {
            b = op(bare, n, arg);
            l = op(lib, n, arg);
        }
        ratio[r] = l / b;
        b_ns[r] = b;
    }
    qsort(ratio, (size_t)reps, sizeof *ratio, cmp_d);
    qsort(b_ns, (size_t)reps, sizeof *b_ns, cmp_d);
    double med = ratio[reps / 2];
    printf("%-34s bare %8.0f ns   ratio %5.3fx  (spread %5.3f..%5.3f)  target %s%4.2fx  %s\n", name,
           b_ns[reps / 2], med, ratio[0], ratio[reps - 1], target > 0 ? "<=" : "  ",
           target > 0 ? target : 0.0, target <= 0 ? "(reported)" : med <= target ? "MET" : "MISSED");
    free(ratio);
    free(b_ns);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBSHMGUARD.so [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    struct api bare = { shmget, shmat, shmdt, shmctl };
    struct api lib = { (get_fn)dlsym(h, "shmget"), (at_fn)dlsym(h, "shmat"), (dt_fn)dlsym(h, "shmdt"),
                       (ctl_fn)dlsym(h, "shmctl") };
    if (!lib.get || !lib.at || !lib.dt || !lib.ctl || (void *)lib.get == (void *)shmget) {
        fprintf(stderr, "bench: the library's hooks were not found\n");
        return 1;
    }
    struct seg small = { 0x5eedb001, -1, 4096 }, big = { 0x5eedb002, -1, 64u << 20 };
    small.id = lib.get(small.key, small.size, IPC_CREAT | 0600);
    big.id = lib.get(big.key, big.size, IPC_CREAT | 0600);
    if (small.id < 0 || big.id < 0) {
        perror("shmget");
        return 1;
    }
    printf("%d repetitions, interleaved; ratio = library / bare, median (min..max)\n", reps);
    measure("shmat+shmdt pair, 4 KiB", op_attach_pair, &small, 20000, reps, &bare, &lib, 1.05);
    measure("shmat+shmdt pair, 64 MiB", op_attach_pair, &big, 20000, reps, &bare, &lib, 1.05);
    measure("shmget of an existing key", op_get_existing, &small, 100000, reps, &bare, &lib, 1.15);
    measure("shmctl(IPC_STAT)", op_ipc_stat, &small, 100000, reps, &bare, &lib, 1.10);
    measure("IPC_RMID while attached (deferred)", op_rmid, NULL, 2000, reps, &bare, &lib, 0);
    measure("shmdt with the removal pending", op_dt_pending, NULL, 2000, reps, &bare, &lib, 0);
    lib.ctl(small.id, IPC_RMID, NULL);
    lib.ctl(big.id, IPC_RMID, NULL);
    return 0;
}
