/*
 * helper_named.c - a process with a name of whatever bytes, holding a
 * segment and a semaphore set, for the tool's JSON output to describe.
 *
 *   helper_named HEXNAME KEY [idle]
 *
 * Sets its command name (prctl PR_SET_NAME, as any process may) to the
 * bytes HEXNAME encodes, creates and attaches segment KEY and semaphore
 * set KEY, operates on the set, prints "ready" and waits for its stdin to
 * close; then removes both.  Run it under the library from a path of
 * random bytes too, and the ledger holds them as its executable.  With
 * "idle" it neither attaches the segment nor operates on the set: the
 * kernel then knows of no live process using either.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char name[17] = { 0 };
    for (size_t i = 0; i < 16 && argv[1][2 * i] && argv[1][2 * i + 1]; i++) {
        unsigned v;
        if (sscanf(argv[1] + 2 * i, "%2x", &v) != 1)
            return 2;
        name[i] = (char)v;
    }
    prctl(PR_SET_NAME, name);
    key_t key = (key_t)strtol(argv[2], NULL, 0);
    int idle = argc > 3 && !strcmp(argv[3], "idle");
    int id = shmget(key, 4096, IPC_CREAT | 0600);
    void *p = id >= 0 && !idle ? shmat(id, NULL, 0) : NULL;
    int sem = semget(key, 1, IPC_CREAT | 0600);
    struct sembuf op = { 0, 1, 0 };
    if (id < 0 || p == (void *)-1 || sem < 0 || (!idle && semop(sem, &op, 1) != 0))
        return 3;
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    if (p)
        shmdt(p);
    shmctl(id, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
    return 0;
}
