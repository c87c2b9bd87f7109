/*
 * helper_signal.c - System V shm calls from a signal handler that
 * interrupts the same calls in the main thread.
 *
 * The main thread creates, attaches, detaches and removes segments in a
 * loop (the library's locked paths: the ledger lock, the local list, call
 * site resolution); a 50 µs interval timer's SIGALRM handler looks up a
 * fixed key, attaches and detaches it.  The calls are async-signal-safe in
 * libc, so they must stay so under the library: a handler call made while
 * the interrupted thread is inside the library goes straight to libc.
 * Prints "loops N handler N bad N"; exits 0 when no call failed and the
 * handler ran at least 100 times.
 *
 * usage: helper_signal SECONDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <time.h>

#define KEY0 0x5e1f0000
static int id0;
static volatile sig_atomic_t n_handler, n_bad;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    int id = shmget(KEY0, 0, 0600);
    void *p = id == id0 ? shmat(id, NULL, SHM_RDONLY) : (void *)-1;
    if (p == (void *)-1 || shmdt(p) != 0)
        n_bad++;
    n_handler++;
    errno = e;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2;
    id0 = shmget(KEY0, 4096, IPC_CREAT | 0600);
    if (id0 < 0) {
        perror("shmget");
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 50 }, { 0, 50 } };
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long loops = 0, bad = 0;
    do {
        int id = shmget(KEY0 + 1 + (int)(loops % 16), 4096, IPC_CREAT | 0600);
        void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        if (p == (void *)-1 || shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0)
            bad++;
        loops++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    shmctl(id0, IPC_RMID, NULL);
    printf("loops %ld handler %d bad %ld+%d\n", loops, (int)n_handler, bad, (int)n_bad);
    return bad || n_bad || n_handler < 100;
}
