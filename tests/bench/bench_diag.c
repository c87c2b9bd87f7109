/*
 * bench_diag.c - time of the ENOSPC analysis with 4,096 segments present
 * (SPEC: under 20 ms), the work the library does when shmget fails on
 * kernel.shmmni.  Half the segments are made by child processes that then
 * exit (orphans the analysis must prove dead), half by this process.
 *
 * usage: bench_diag [REPS]   (in a private IPC namespace, with
 * SHMGUARD_LEDGER set; shmmni must be 4096, the default)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sg_core.h"
#include "sg_diag.h"
#include "sg_init.h"
#include "sg_state.h"

#define SEGS 4096

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    sg_init();
    /* Children create the first half and exit: orphans. */
    for (int c = 0; c < 16; c++) {
        pid_t p = fork();
        if (p == 0) {
            for (int i = 0; i < SEGS / 2 / 16; i++)
                if (sg_shmget(0x5e000000 + c * 1000 + i, 4096, IPC_CREAT | 0600, NULL) < 0)
                    _exit(1);
            _exit(0);
        }
        int st;
        waitpid(p, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "bench_diag: could not create segments\n");
            return 1;
        }
    }
    for (int i = 0; i < SEGS / 2; i++)
        if (sg_shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600, NULL) < 0) {
            perror("bench_diag: shmget");
            return 1;
        }
    if (sg_shmget(0x5effffff, 4096, IPC_CREAT | 0600, NULL) >= 0 || errno != ENOSPC) {
        fprintf(stderr, "bench_diag: expected ENOSPC with %d segments\n", SEGS);
        return 1;
    }
    static char buf[8192];
    double *t = calloc((size_t)reps, sizeof *t);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        sg_state_take();
        sg_diag_compose(buf, sizeof buf, 0x5effffff, 4096, IPC_CREAT | 0600, ENOSPC, &sg_st.L, 0);
        sg_state_give();
        t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    printf("%-34s %8.2f ms  (spread %.2f..%.2f, %d segments)  target < 20 ms  %s\n",
           "ENOSPC analysis", t[reps / 2], t[0], t[reps - 1], SEGS,
           t[reps / 2] < 20 ? "MET" : "MISSED");
    if (getenv("SG_BENCH_SHOW"))
        printf("%s\n", buf);
    return 0;
}
