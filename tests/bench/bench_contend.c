/*
 * bench_contend.c - throughput of shmat/shmdt pairs under contention, as
 * a ratio of the library's to the bare calls' in the same run.
 *
 *   procs: two processes hammering one segment (SPEC: at least 0.9x);
 *   threads: 1 and 64 threads of one process, and how each scales.
 *
 * The library is dlopen()ed in the parent; the workers (forked, or
 * threads) call either libc's functions or its hooks.  Each repetition
 * runs bare and library back to back (alternating order); medians of the
 * per-repetition ratios are reported with their spread.
 *
 * usage: bench_contend LIBSHMGUARD.so [REPS]   (in a private namespace)
 */
#include "bench_util.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAIRS 3000

struct work {
    const struct bench_api *a;
    int id;
    int n;
};

static void *worker(void *arg)
{
    const struct work *w = arg;
    for (int i = 0; i < w->n; i++) {
        void *p = w->a->at(w->id, NULL, 0);
        if (p == (void *)-1)
            abort();
        w->a->dt(p);
    }
    return NULL;
}

/* Pairs per second of nproc processes, each doing n pairs. */
static double run_procs(const struct bench_api *a, int id, int nproc, int n)
{
    int go[2];
    if (pipe(go))
        exit(1);
    pid_t kid[8];
    for (int k = 0; k < nproc; k++) {
        kid[k] = fork();
        if (kid[k] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) < 0)
                _exit(1);
            struct work w = { a, id, n };
            worker(&w);
            _exit(0);
        }
    }
    close(go[0]);
    double t0 = bench_now_ns();
    close(go[1]); /* start them together */
    for (int k = 0; k < nproc; k++)
        waitpid(kid[k], NULL, 0);
    return nproc * (double)n / ((bench_now_ns() - t0) / 1e9);
}

/* Pairs per second of nth threads of this process, each doing n pairs. */
static double run_threads(const struct bench_api *a, int id, int nth, int n)
{
    pthread_t th[64];
    struct work w = { a, id, n };
    double t0 = bench_now_ns();
    for (int k = 0; k < nth; k++)
        if (pthread_create(&th[k], NULL, worker, &w))
            exit(1);
    for (int k = 0; k < nth; k++)
        pthread_join(th[k], NULL);
    return nth * (double)n / ((bench_now_ns() - t0) / 1e9);
}

typedef double (*run_fn)(const struct bench_api *, int, int, int);

/* Median ratio library/bare of throughput; also the medians of each. */
static void ab(run_fn run, const struct bench_api *bare, const struct bench_api *lib, int id,
               int width, int n, int reps, double *med, double *lo, double *hi, double *b_med,
               double *l_med)
{
    double r[64], b[64], l[64];
    for (int i = 0; i < reps; i++) {
        if (i & 1) {
            l[i] = run(lib, id, width, n);
            b[i] = run(bare, id, width, n);
        } else {
            b[i] = run(bare, id, width, n);
            l[i] = run(lib, id, width, n);
        }
        r[i] = l[i] / b[i];
    }
    *med = bench_median(r, reps);
    *lo = r[0];
    *hi = r[reps - 1];
    *b_med = bench_median(b, reps);
    *l_med = bench_median(l, reps);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBSHMGUARD.so [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 11;
    if (reps > 64)
        reps = 64;
    struct bench_api bare, lib;
    bench_apis(argv[1], &bare, &lib);
    int id = lib.get(0x5eedc001, 4096, IPC_CREAT | 0600);
    if (id < 0) {
        perror("shmget");
        return 1;
    }
    double med, lo, hi, bm, lm, b1, l1;
    char base[48];
    ab(run_procs, &bare, &lib, id, 2, PAIRS, reps, &med, &lo, &hi, &bm, &lm);
    snprintf(base, sizeof base, "bare %.0fk pairs/s", bm / 1e3);
    bench_line("2 processes, one segment: throughput", base, med, lo, hi, -0.90);

    ab(run_threads, &bare, &lib, id, 1, PAIRS, reps, &med, &lo, &hi, &b1, &l1);
    snprintf(base, sizeof base, "bare %.0fk pairs/s", b1 / 1e3);
    bench_line("1 thread: throughput", base, med, lo, hi, 0);
    ab(run_threads, &bare, &lib, id, 64, PAIRS / 16, reps, &med, &lo, &hi, &bm, &lm);
    snprintf(base, sizeof base, "bare %.0fk pairs/s", bm / 1e3);
    bench_line("64 threads, one process: throughput", base, med, lo, hi, -0.90);
    printf("%-36s bare %.2fx, library %.2fx (64 threads' throughput / 1 thread's)\n",
           "  scaling from 1 to 64 threads", bm / b1, lm / l1);
    lib.ctl(id, IPC_RMID, NULL);
    return 0;
}
