/*
 * bench_mkseg.c - fill this IPC namespace with N segments for the tool
 * benchmarks: half created by this process, which exits (orphans), and
 * half by a child that stays alive (idle segments of a live creator), so
 * listing them exercises both liveness paths.  Prints the child's pid
 * once every segment exists; kill it when done.
 *
 * With "attach", the child also attaches each of its segments, so that
 * there are attachers to find (ipcs -p, lsof, shmguard ls).
 *
 * usage: bench_mkseg N [attach]   (in a private IPC namespace; shmmni >= N)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <unistd.h>

static int make(int n, key_t base, int attach)
{
    for (int i = 0; i < n; i++) {
        int id = shmget(base + i, 4096, IPC_CREAT | 0600);
        if (id < 0) {
            perror("bench_mkseg: shmget");
            return 1;
        }
        if (attach && shmat(id, NULL, SHM_RDONLY) == (void *)-1) {
            perror("bench_mkseg: shmat");
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 32000;
    int attach = argc > 2 && argv[2][0] == 'a';
    int half = n / 2;
    if (make(half, 0x10000000, 0))
        return 1;
    int ready[2];
    if (pipe(ready))
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        if (make(n - half, 0x20000000, attach))
            _exit(1);
        if (write(ready[1], "k", 1) != 1)
            _exit(1);
        close(ready[1]);
        close(1); /* let $(...) in the caller finish */
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 1;
    printf("%d\n", (int)child);
    return 0;
}
