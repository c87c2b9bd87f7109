/*
 * helper_check.c - programs for test_tool_check to run under
 * `shmguard check`: each mode leaves behind (or does not) one kind of
 * thing the report must show.  Lines on stdout tell the test the facts it
 * must then find in the report (pids, ids, the source line of a call).
 *
 *   grandchild KEY   a grandchild creates a segment (leak_here) and exits;
 *                    prints "pid P id I line L"
 *   clean CODE       create, attach, detach, remove; exit CODE
 *   killed KEY       create a segment, then SIGKILL itself
 *   churn N          N cycles of a private segment (create, attach, remove,
 *                    detach) and a private set (create, remove), then one
 *                    segment and one set left behind
 *   rmid KEY         look KEY up and remove it (a segment from before the
 *                    run, held by a process outside it)
 *   pending KEY      create, attach, fork a child that holds the
 *                    attachment, IPC_RMID (deferred: the child is another
 *                    process attached), SIGKILL the child and itself
 *   enospc KEY       a shmget that fails (limits lowered by the test);
 *                    prints "line L errno E"
 *   msgleak          a private message queue with one 6-byte message in it,
 *                    left behind; prints "msqid Q"
 *   msgmake KEY      msgget(KEY, IPC_CREAT|0666), left behind; prints "msqid Q"
 *   msglook KEY      msgget(KEY, 0), then prints "msqid Q" and waits for
 *                    the end of stdin (a live user of the queue)
 *   msgenospc        a msgget(IPC_PRIVATE) that fails (kernel.msgmni lowered
 *                    by the test); prints "errno E", exit 0
 *   msgmany N        N private queues: a message to and from each, every
 *                    other one removed, a message to and from the rest;
 *                    prints "ids I..." (the ones kept) and waits for the
 *                    end of stdin
 *   mainexit         the main thread ends (pthread_exit); another thread
 *                    then makes and removes a queue, prints "ok", exit 0
 *   lookup KEY       look up KEY, attach, detach; exit 0, or 2 if not found
 *   rmlook KEY       create KEY, attach, fork a child that stays attached,
 *                    IPC_RMID while attached, look the key up again, end
 *                    the child, detach; prints "lookup found" or "lookup
 *                    errno E" (a test suite's own check that a removed key
 *                    is gone)
 *   wait KEY         create a segment, print "id I", wait for a line on
 *                    stdin, exit (outside activity happens meanwhile)
 *   daemon KEY       a child creates and attaches a segment and stays;
 *                    prints "pid P id I"; the parent exits 0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (write(1, buf, (size_t)n) != n)
        _exit(3);
}

/* The call sites the report must name, with their lines. */
static int leak_line, enospc_line;

__attribute__((noinline)) static int leak_here(key_t key)
{
    leak_line = __LINE__ + 1;
    int id = shmget(key, 8192, IPC_CREAT | 0600);
    __asm__ volatile("" ::: "memory"); /* keep the call where it is */
    return id;
}

__attribute__((noinline)) static int enospc_here(key_t key)
{
    enospc_line = __LINE__ + 1;
    int id = shmget(key, 4096, IPC_CREAT | 0600);
    __asm__ volatile("" ::: "memory");
    return id;
}

static key_t key_arg(int argc, char **argv)
{
    return argc > 2 ? (key_t)strtoul(argv[2], NULL, 0) : IPC_PRIVATE;
}

/* mainexit: the thread left once the main thread has ended. */
static void *after_main(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL); /* the leader is gone by then */
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (q < 0 || msgctl(q, IPC_RMID, NULL) != 0)
        exit(1);
    say("ok\n");
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 64;
    const char *m = argv[1];
    key_t key = key_arg(argc, argv);
    if (!strcmp(m, "grandchild")) {
        pid_t c = fork();
        if (c == 0) {
            pid_t g = fork();
            if (g == 0) {
                int id = leak_here(key);
                say("pid %d id %d line %d\n", (int)getpid(), id, leak_line);
                _exit(id >= 0 ? 0 : 1);
            }
            int st;
            waitpid(g, &st, 0);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
        }
        int st;
        waitpid(c, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    if (!strcmp(m, "clean")) {
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        if (p == (void *)-1 || shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0)
            return 1;
        return argc > 2 ? atoi(argv[2]) : 0;
    }
    if (!strcmp(m, "killed") || !strcmp(m, "pending")) {
        int id = shmget(key, 4096, IPC_CREAT | 0600);
        if (id < 0)
            return 1;
        if (!strcmp(m, "pending")) {
            if (shmat(id, NULL, 0) == (void *)-1)
                return 1;
            pid_t c = fork();
            if (c == 0) {
                pause();
                _exit(0);
            }
            if (c < 0 || shmctl(id, IPC_RMID, NULL) != 0)
                return 1;
            kill(c, SIGKILL);
            waitpid(c, NULL, 0);
        }
        say("pid %d id %d\n", (int)getpid(), id);
        raise(SIGKILL);
        return 1;
    }
    if (!strcmp(m, "churn")) {
        int n = argc > 2 ? atoi(argv[2]) : 1000;
        for (int i = 0; i < n; i++) {
            int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
            void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
            int s = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
            if (p == (void *)-1 || s < 0 || shmctl(id, IPC_RMID, NULL) != 0 || shmdt(p) != 0 ||
                semctl(s, 0, IPC_RMID) != 0)
                return 1;
        }
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        int s = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        say("leaked %d %d\n", id, s);
        return 0;
    }
    if (!strcmp(m, "rmid")) {
        int id = shmget(key, 0, 0);
        say("rmid %d\n", id >= 0 ? shmctl(id, IPC_RMID, NULL) : -1);
        return 0;
    }
    if (!strcmp(m, "enospc")) {
        int id = enospc_here(key);
        say("line %d errno %d\n", enospc_line, id < 0 ? errno : 0);
        return 0;
    }
    if (!strcmp(m, "msgleak")) {
        int q = msgget(IPC_PRIVATE, 0600);
        struct { long type; char text[8]; } msg = { 1, "hello" };
        if (q < 0 || msgsnd(q, &msg, 6, 0) != 0)
            return 1;
        say("msqid %d\n", q);
        return 0;
    }
    if (!strcmp(m, "msgmake") || !strcmp(m, "msglook")) {
        int q = msgget(key, m[3] == 'm' ? IPC_CREAT | 0666 : 0);
        if (q < 0)
            return 1;
        say("msqid %d\n", q);
        if (m[3] == 'l') {
            char b;
            while (read(0, &b, 1) > 0)
                ;
        }
        return 0;
    }
    if (!strcmp(m, "msgmany")) {
        int n = argc > 2 ? atoi(argv[2]) : 0, *q = calloc((size_t)(n > 0 ? n : 1), sizeof *q);
        struct {
            long t;
            char b[4];
        } mb = { 1, "x" };
        for (int i = 0; i < n; i++)
            if ((q[i] = msgget(IPC_PRIVATE, IPC_CREAT | 0600)) < 0 || msgsnd(q[i], &mb, 2, 0) != 0 ||
                msgrcv(q[i], &mb, sizeof mb.b, 0, 0) < 0)
                return 1;
        for (int i = 0; i < n; i += 2)
            if (msgctl(q[i], IPC_RMID, NULL) != 0 || msgsnd(q[i], &mb, 2, IPC_NOWAIT) == 0)
                return 2;
        say("ids");
        for (int i = 1; i < n; i += 2) {
            if (msgsnd(q[i], &mb, 2, 0) != 0 || msgrcv(q[i], &mb, sizeof mb.b, 0, 0) < 0)
                return 3;
            say(" %d", q[i]);
        }
        say("\n");
        free(q);
        char b;
        while (read(0, &b, 1) > 0)
            ;
        return 0;
    }
    if (!strcmp(m, "mainexit")) {
        pthread_t t;
        if (pthread_create(&t, NULL, after_main, NULL) != 0)
            return 1;
        pthread_exit(NULL);
    }
    if (!strcmp(m, "msgenospc")) {
        errno = 0;
        int q = msgget(IPC_PRIVATE, 0600);
        say("errno %d\n", q < 0 ? errno : 0);
        if (q >= 0)
            msgctl(q, IPC_RMID, NULL);
        return 0;
    }
    if (!strcmp(m, "rmlook")) {
        int id = shmget(key, 4096, IPC_CREAT | 0600);
        void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        int go[2];
        if (p == (void *)-1 || pipe(go) != 0)
            return 1;
        pid_t c = fork();
        if (c == 0) { /* inherits the attachment; holds it until told */
            char b;
            close(go[1]);
            _exit(read(go[0], &b, 1) < 0);
        }
        close(go[0]);
        if (c < 0 || shmctl(id, IPC_RMID, NULL) != 0)
            return 1;
        int again = shmget(key, 0, 0);
        if (again >= 0)
            say("lookup found\n");
        else
            say("lookup errno %d\n", errno);
        close(go[1]);
        waitpid(c, NULL, 0);
        shmdt(p);
        if (again >= 0 && again != id)
            shmctl(again, IPC_RMID, NULL);
        return 0;
    }
    if (!strcmp(m, "lookup")) {
        int id = shmget(key, 0, 0);
        if (id < 0)
            return 2;
        void *p = shmat(id, NULL, 0);
        return p != (void *)-1 && shmdt(p) == 0 ? 0 : 1;
    }
    if (!strcmp(m, "wait")) {
        int id = shmget(key, 4096, IPC_CREAT | 0600);
        say("id %d\n", id);
        char line[16];
        return read(0, line, sizeof line) > 0 ? 0 : 1;
    }
    if (!strcmp(m, "daemon")) {
        int p[2];
        if (pipe(p) != 0)
            return 1;
        pid_t c = fork();
        if (c == 0) {
            close(p[0]);
            int id = shmget(key, 4096, IPC_CREAT | 0600);
            int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
            if (id < 0 || sem < 0 || shmat(id, NULL, 0) == (void *)-1)
                _exit(1);
            say("pid %d id %d sem %d\n", (int)getpid(), id, sem);
            /* Let go of the test's pipes: only the segment stays. */
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            close(p[1]);
            for (;;)
                pause();
        }
        close(p[1]);
        char b;
        return read(p[0], &b, 1) == 0 ? 0 : 1; /* the child has said its line */
    }
    return 64;
}
