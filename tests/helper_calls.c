/*
 * helper_calls.c - a fixed, deterministic sequence of System V shm calls
 * whose every result (value and errno) is printed, so a test can compare a
 * run under the library with a bare one line by line.  It includes the
 * calls defer mode would change (IPC_RMID of an attached keyed segment),
 * so an unusable ledger that did not really pass everything through would
 * show up as a difference.  "helper_calls q" leaves out the one call whose
 * failure the library explains (so that a test's own diagnosis is not
 * rate-limited away).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHOW(expr)                                                                        \
    do {                                                                                  \
        errno = 0;                                                                        \
        long r_ = (long)(expr);                                                           \
        printf("%-48s = %ld errno=%d\n", #expr, r_, errno);                               \
    } while (0)

int main(int argc, char **argv)
{
    struct shmid_ds ds;
    if (argc > 1 && argv[1][0] == 't') {
        /* "touch": one call that allocates no id, so the library sets up
         * its ledger without changing what the next run will see. */
        struct shminfo info;
        return shmctl(0, IPC_INFO, (struct shmid_ds *)&info) < 0;
    }
    int quiet = argc > 1 && argv[1][0] == 'q';
    int id = shmget(0x5eedca11, 8192, IPC_CREAT | 0600);
    printf("id=%d\n", id);
    SHOW(shmget(0x5eedca11, 8192, IPC_CREAT | IPC_EXCL | 0600));
    if (!quiet) /* EINVAL: the library explains it, and that costs a message token */
        SHOW(shmget(0x5eedca11, 1 << 20, 0600));
    SHOW(shmget(0x5eedca12, 4096, 0600));
    char *p = shmat(id, NULL, 0);
    printf("shmat ok=%d\n", p != (void *)-1);
    p[0] = 42;
    pid_t c = fork();
    if (c == 0) {
        _exit(p[0] == 42 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child saw the value: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    SHOW(shmctl(id, IPC_RMID, NULL));
    SHOW(shmctl(id, IPC_STAT, &ds));
    printf("mode=%o key=%x nattch=%lu\n", ds.shm_perm.mode, (unsigned)ds.shm_perm.__key,
           (unsigned long)ds.shm_nattch);
    SHOW(shmget(0x5eedca11, 8192, 0600));
    SHOW(shmdt(p));
    SHOW(shmdt(p));
    SHOW(shmctl(id, IPC_STAT, &ds));
    int priv = shmget(IPC_PRIVATE, 4096, 0600);
    printf("private id=%d\n", priv);
    SHOW(shmctl(priv, IPC_RMID, NULL));
    SHOW(shmctl(priv, IPC_RMID, NULL));
    SHOW(shmat(-1, NULL, 0));
    SHOW(shmctl(12345678, IPC_STAT, &ds));
    return 0;
}
