/*
 * bench_util.h - what the benchmark programs share: a monotonic clock,
 * the median of a sample, the library loaded beside libc, and the one
 * output line format (figure, ratio, spread, target, verdict).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <time.h>

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; returns its median. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef int (*bench_get_fn)(key_t, size_t, int);
typedef void *(*bench_at_fn)(int, const void *, int);
typedef int (*bench_dt_fn)(const void *);
typedef int (*bench_ctl_fn)(int, int, struct shmid_ds *);
typedef int (*bench_snd_fn)(int, const void *, size_t, int);
typedef ssize_t (*bench_rcv_fn)(int, void *, size_t, long, int);

struct bench_api {
    bench_get_fn get;
    bench_at_fn at;
    bench_dt_fn dt;
    bench_ctl_fn ctl;
    bench_snd_fn snd;           /* msgsnd */
    bench_rcv_fn rcv;           /* msgrcv */
};

/* libc's calls in bare, the library's hooks (dlopen()ed beside them) in
 * lib.  Exits with a message when the library cannot be loaded. */
static inline void bench_apis(const char *libpath, struct bench_api *bare, struct bench_api *lib)
{
    *bare = (struct bench_api){ shmget, shmat, shmdt, shmctl, msgsnd, msgrcv };
    void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "bench: dlopen: %s\n", dlerror());
        exit(1);
    }
    *lib = (struct bench_api){ (bench_get_fn)dlsym(h, "shmget"), (bench_at_fn)dlsym(h, "shmat"),
                               (bench_dt_fn)dlsym(h, "shmdt"), (bench_ctl_fn)dlsym(h, "shmctl"),
                               (bench_snd_fn)dlsym(h, "msgsnd"), (bench_rcv_fn)dlsym(h, "msgrcv") };
    if (!lib->get || !lib->at || !lib->dt || !lib->ctl || !lib->snd || !lib->rcv ||
        (void *)lib->get == (void *)shmget || (void *)lib->snd == (void *)msgsnd) {
        fprintf(stderr, "bench: the library's hooks were not found in %s\n", libpath);
        exit(1);
    }
}

/* Keep the measuring process on one CPU: no migrations inside a sample. */
static inline void bench_pin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* One result line.  target > 0: "at most target"; target < 0: "at least
 * -target"; 0: reported only. */
static inline void bench_line(const char *name, const char *base, double med, double lo, double hi,
                              double target)
{
    const char *verdict = target == 0 ? "(reported)"
                          : target > 0 ? (med <= target ? "MET" : "MISSED")
                                       : (med >= -target ? "MET" : "MISSED");
    char t[32] = "";
    if (target > 0)
        snprintf(t, sizeof t, "<= %.2fx", target);
    else if (target < 0)
        snprintf(t, sizeof t, ">= %.2fx", -target);
    printf("%-36s %-18s %6.3fx (%5.3f..%5.3f)  %-9s %s\n", name, base, med, lo, hi, t, verdict);
    fflush(stdout);
}

/* One measured operation: ns per op over n iterations with api a. */
typedef double (*bench_op_fn)(const struct bench_api *a, int n, void *arg);

struct bench_ratio {
    double med, lo, hi; /* library / bare */
    double bare_ns;     /* median of the bare samples */
};

/* Interleaved A/B.  Each repetition gives one ratio: the library's
 * total time over bare's, both summed over BENCH_SLICES slices of the
 * repetition's n operations that alternate (A B, B A, ...), so that both
 * sides see the same drift of the machine (a VM's neighbours, frequency)
 * at a resolution of a few milliseconds rather than of the whole
 * repetition.  Every operation counts: a slow one weighs on its side. */
#define BENCH_SLICES 20
static inline struct bench_ratio bench_ab(bench_op_fn op, void *arg, int n, int reps,
                                          const struct bench_api *bare,
                                          const struct bench_api *lib)
{
    double *ratio = calloc((size_t)reps, sizeof *ratio), *b_ns = calloc((size_t)reps, sizeof *b_ns);
    if (!ratio || !b_ns)
        exit(1);
    op(bare, n / 4 + 1, arg); /* warm up both */
    op(lib, n / 4 + 1, arg);
    int slices = n < BENCH_SLICES ? 1 : BENCH_SLICES, m = n / slices;
    for (int r = 0; r < reps; r++) {
        double b = 0, l = 0;
        for (int s = 0; s < slices; s++) {
            if ((r + s) & 1) {
                l += op(lib, m, arg);
                b += op(bare, m, arg);
            } else {
                b += op(bare, m, arg);
                l += op(lib, m, arg);
            }
        }
        ratio[r] = l / b;
        b_ns[r] = b / slices;
    }
    struct bench_ratio out;
    out.med = bench_median(ratio, reps);
    out.lo = ratio[0];
    out.hi = ratio[reps - 1];
    out.bare_ns = bench_median(b_ns, reps);
    free(ratio);
    free(b_ns);
    return out;
}

#endif
