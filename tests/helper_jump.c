/*
 * helper_jump.c - the classic timeout: alarm + siglongjmp out of a
 * blocking semop, then more System V calls in the same thread.
 *
 * The jump leaves the library's call without returning through it: the
 * library must still handle this thread's later calls (its per-thread
 * "inside the library" mark may not stay set).  Afterwards a keyed segment
 * is removed while a forked child is attached: under the library (defer
 * mode) the removal is deferred and the key still resolves; were the
 * thread's calls passed straight to libc, the key would be gone.
 * Prints "timedout T resolves R" (T 1: the semop was interrupted;
 * R 1: the key still resolves after the removal).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf env;

static void on_alarm(int sig)
{
    (void)sig;
    siglongjmp(env, 1);
}

int main(void)
{
    int semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (semid < 0)
        return 2;
    struct sigaction sa = { .sa_handler = on_alarm };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    volatile int timedout = 0;
    if (sigsetjmp(env, 1) == 0) {
        struct itimerval t = { { 0, 0 }, { 0, 100000 } };
        setitimer(ITIMER_REAL, &t, NULL);
        struct sembuf op = { 0, -1, 0 };
        semop(semid, &op, 1); /* blocks: the value is 0 */
    } else
        timedout = 1;
    semctl(semid, 0, IPC_RMID);

    int id = shmget(0x5eedf00d, 4096, IPC_CREAT | 0600);
    void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
    if (p == (void *)-1)
        return 2;
    int go[2];
    if (pipe(go) != 0)
        return 2;
    pid_t c = fork();
    if (c == 0) { /* holds the inherited attachment */
        char b;
        close(go[1]);
        _exit(read(go[0], &b, 1) < 0);
    }
    shmdt(p);
    shmctl(id, IPC_RMID, NULL);
    int resolves = shmget(0x5eedf00d, 0, 0) == id;
    close(go[1]);
    waitpid(c, NULL, 0);
    shmctl(id, IPC_STAT, NULL); /* a call: completes a pending removal */
    printf("timedout %d resolves %d\n", timedout, resolves);
    return 0;
}
