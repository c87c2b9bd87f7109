/*
 * oneshot.c - a process whose whole work is one shmget, shmat and shmdt
 * of a keyed segment (created by the first run, found by every later
 * one), as a short client, a CI test step or a recycled prefork worker
 * does.  bench_start times it with the library preloaded against an
 * empty preload library.  Exit 0 when the three calls succeeded.
 */
#include <stddef.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void)
{
    int id = shmget(0x5e0b0001, 4096, IPC_CREAT | 0600);
    if (id < 0)
        return 1;
    void *p = shmat(id, NULL, 0);
    if (p == (void *)-1)
        return 2;
    return shmdt(p) == 0 ? 0 : 3;
}
