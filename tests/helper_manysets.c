/*
 * helper_manysets.c - a process that uses more semaphore sets than the
 * library lists inline (64), forks a child that blocks on the last one,
 * and exits: the prefork master killed while its workers wait on set 65+.
 *
 *   helper_manysets N
 *
 * Creates N private sets (value 0), forks; the child blocks in
 * semop(-1) on the last set, in a session of its own with stdout and
 * stderr on /dev/null.  The parent prints "child PID first ID last ID" and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sem.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 70;
    int first = -1, last = -1;
    for (int i = 0; i < n; i++) {
        last = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        if (last < 0)
            return 2;
        if (first < 0)
            first = last;
    }
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) { /* a worker of its own session, off the caller's pipes */
        setsid();
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        struct sembuf op = { 0, -1, 0 };
        int r = semop(last, &op, 1);
        printf("woke %d\n", r < 0 ? errno : 0);
        return 0;
    }
    printf("child %d first %d last %d\n", (int)c, first, last);
    return 0;
}
