/*
 * bench_start.c - the cost of starting a process with the library
 * preloaded, against preloading an empty library:
 *   - a program that never touches shared memory (SPEC: no ledger work
 *     until the first intercepted call): "1.00x within noise";
 *   - with ONESHOT, a program whose whole work is one shmget, shmat and
 *     shmdt (tests/bench/oneshot.c), in the default mode (target 1.08x)
 *     and with SHMGUARD_MODE=off (target 1.02x): the first intercepted
 *     call pays for binding the real functions, reading the
 *     configuration and opening the ledger.
 *
 * Each repetition spawns the program 40 times each way, one of each in
 * turn (alternating which goes first), and gives one ratio: the median
 * wall time (spawn to reap) with libshmguard over the median with the
 * empty library.  The A/A line (empty against empty) shows the noise of
 * the method itself.  SHMGUARD_LEDGER is passed on to the programs.
 *
 * usage: bench_start LIBSHMGUARD.so EMPTY.so PROGRAM [REPS [ONESHOT]]
 */
#include "bench_util.h"

#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* The library side's extra setting ("SHMGUARD_MODE=off"), or NULL. */
static const char *lib_mode;
static char env_ledger[4200];

static double spawn_ns(const char *preload, const char *prog)
{
    char env_pre[4096];
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", preload);
    char *env[4] = { env_pre, NULL, NULL, NULL };
    int n = 1;
    if (env_ledger[0])
        env[n++] = env_ledger;
    if (lib_mode)
        env[n++] = (char *)lib_mode;
    char *argv[] = { (char *)prog, NULL };
    double t0 = bench_now_ns();
    pid_t pid;
    if (posix_spawn(&pid, prog, NULL, NULL, argv, env) != 0)
        exit(1);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_start: %s failed under %s\n", prog, preload);
        exit(1);
    }
    return bench_now_ns() - t0;
}

#define PER_REP 40

/* Median ratio b/a; *lo and *hi its spread. */
static double ab(const char *name, const char *a, const char *b, const char *prog, int reps,
                 double target, double *lo, double *hi)
{
    double r[64], base[64];
    for (int i = 0; i < reps; i++) {
        double x[PER_REP], y[PER_REP];
        for (int k = 0; k < PER_REP; k++) {
            if (k & 1) {
                y[k] = spawn_ns(b, prog);
                x[k] = spawn_ns(a, prog);
            } else {
                x[k] = spawn_ns(a, prog);
                y[k] = spawn_ns(b, prog);
            }
        }
        base[i] = bench_median(x, PER_REP);
        r[i] = bench_median(y, PER_REP) / base[i];
    }
    double med = bench_median(r, reps);
    char bl[48];
    snprintf(bl, sizeof bl, "empty %.0f us", bench_median(base, reps) / 1e3);
    if (target >= 0)
        bench_line(name, bl, med, r[0], r[reps - 1], target);
    *lo = r[0];
    *hi = r[reps - 1];
    return med;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s LIBSHMGUARD.so EMPTY.so PROGRAM [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 4 ? atoi(argv[4]) : 21;
    if (reps > 64)
        reps = 64;
    if (getenv("SHMGUARD_LEDGER"))
        snprintf(env_ledger, sizeof env_ledger, "SHMGUARD_LEDGER=%s", getenv("SHMGUARD_LEDGER"));
    for (int k = 0; k < 20; k++) { /* warm the page cache */
        spawn_ns(argv[2], argv[3]);
        spawn_ns(argv[1], argv[3]);
    }
    /* "1.00x within noise": the library's median must lie inside the
     * spread of the same measurement of the empty library against itself. */
    double nlo, nhi, lo, hi;
    ab("start, empty vs empty (the noise)", argv[2], argv[2], argv[3], reps, 0, &nlo, &nhi);
    double med = ab("", argv[2], argv[1], argv[3], reps, -1, &lo, &hi);
    char bl[48];
    snprintf(bl, sizeof bl, "within %.3f..%.3f", nlo, nhi);
    printf("%-36s %-18s %6.3fx (%5.3f..%5.3f)  %-9s %s\n", "start, library vs empty library", "empty library",
           med, lo, hi, bl, med >= nlo && med <= nhi ? "MET" : "MISSED");
    if (argc > 5) {
        const char *one = argv[5];
        for (int k = 0; k < 10; k++) /* the ledger and the segment exist */
            spawn_ns(argv[1], one);
        ab("one get/attach/detach process", argv[2], argv[1], one, reps, 1.08, &lo, &hi);
        lib_mode = "SHMGUARD_MODE=off";
        ab("the same, SHMGUARD_MODE=off", argv[2], argv[1], one, reps, 1.02, &lo, &hi);
        lib_mode = NULL;
    }
    return 0;
}
