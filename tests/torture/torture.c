/*
 * torture.c - SIGKILL torture of the library (`make torture`).
 *
 * Bursts of worker processes, each running with libshmguard.so preloaded
 * the whole get/attach/detach/remove cycle on eight shared keys, forking
 * now and then (the child attaches and detaches too), are killed with
 * SIGKILL at random instants, and respawned; a third of the kills go to
 * whichever process holds the ledger lock at that instant (its thread id
 * read from the lock's owner field), so that holders die mid-edit.  After
 * each burst every process is gone (a killed worker's forked child comes
 * to the harness, a subreaper, and is waited for), and:
 *   - a fresh process completes a cycle on every key within 10 s (nothing
 *     hangs: a dead holder's lock is recovered);
 *   - processes sharing a key never diverged: a worker that looked a key up
 *     while another worker was attached to that key's segment (both
 *     logged, neither killed in between) got the same segment;
 *   - every pending removal has completed (no segment the ledger holds as
 *     pending is still in the kernel: its attachers are all dead and a
 *     library call has happened since);
 *   - `shmguard ledger --check` finds the ledger consistent.
 * Workers also use message queues on eight keys of their own (msgget,
 * msgsnd, msgrcv, now and then IPC_RMID), so that kills land inside those
 * calls too; after each burst, with every participant dead, `shmguard gc`
 * runs and then `shmguard ls --msg` must show no queue in use (its owners
 * are all dead: a live verdict would be a liveness bug) and none orphaned
 * (gc removes those).
 * Prints the counts; exits 0 when every invariant held.
 *
 * usage: torture BUILD_DIR KILLS   (in a private IPC namespace, with
 *        SHMGUARD_LEDGER set to a private directory; see scripts/torture.sh)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sg_kernel.h"
#include "sg_layout.h"
#include "sg_ledger.h"
#include "sg_proc.h"

#define NKEYS 8
#define KEY0 0x70170000
#define QKEY0 0x71170000
#define WORKERS 6
#define MAXLOG 400000

/* One cycle as a worker logged it: it looked the key up within
 * [l0, l1] and held the segment attached within [a0, a1]. */
struct rec {
    int32_t pid, key, id, pad;
    int64_t l0, l1, a0, a1;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- the worker (preloaded) ----------------------------------------- */

/* One use of a queue: create or look up, send, receive, sometimes remove. */
static void queue_cycle(int k, unsigned *seed)
{
    struct {
        long type;
        char text[8];
    } m = { 1, "torture" };
    int q = msgget(QKEY0 + k, IPC_CREAT | 0600);
    if (q < 0)
        return;
    msgsnd(q, &m, sizeof m.text, IPC_NOWAIT);
    if (rand_r(seed) % 2)
        msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT);
    if (rand_r(seed) % 4 == 0)
        msgctl(q, IPC_RMID, NULL);
}

static void cycle(int logfd, unsigned *seed)
{
    int k = (int)(rand_r(seed) % NKEYS);
    if (rand_r(seed) % 3 == 0)
        queue_cycle(k, seed);
    struct rec r = { .pid = getpid(), .key = KEY0 + k };
    r.l0 = now_ns();
    int id = shmget(KEY0 + k, 4096, IPC_CREAT | 0600);
    r.l1 = now_ns();
    if (id < 0)
        return;
    volatile int32_t *p = shmat(id, NULL, 0);
    if (p == (void *)-1)
        return;
    r.a0 = now_ns();
    r.id = id;
    if (p[0] == 0)
        p[0] = KEY0 + k;
    int forked = rand_r(seed) % 16 == 0;
    if (forked) {
        pid_t c = fork();
        if (c == 0) { /* the child inherits the attachment, and makes its own */
            void *q = shmat(id, NULL, 0);
            if (q != (void *)-1)
                shmdt(q);
            shmdt((void *)p);
            _exit(0);
        }
        if (c > 0)
            waitpid(c, NULL, 0);
    }
    for (int spin = rand_r(seed) % 2000; spin > 0; spin--)
        __asm__ volatile("" ::: "memory");
    r.a1 = now_ns();
    shmdt((void *)p);
    if (write(logfd, &r, sizeof r) != sizeof r)
        _exit(3);
    if (rand_r(seed) % 4 == 0)
        shmctl(id, IPC_RMID, NULL); /* deferred while others hold it */
}

static __attribute__((noreturn)) void worker(int logfd)
{
    unsigned seed = (unsigned)getpid() * 2654435761u;
    for (;;)
        cycle(logfd, &seed);
}

/* A fresh process: one cycle on each key, then exit 0. */
static int probe(void)
{
    for (int k = 0; k < NKEYS; k++) {
        int id = shmget(KEY0 + k, 4096, IPC_CREAT | 0600);
        void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        if (p == (void *)-1 || shmdt(p) != 0)
            return 1;
    }
    return 0;
}

/* ---- the parent (not preloaded) --------------------------------------- */

static char self[4096], lib[4096], tool[4096];

static pid_t spawn(const char *what, int logfd)
{
    pid_t c = fork();
    if (c == 0) {
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", logfd);
        setenv("LD_PRELOAD", lib, 1);
        execl(self, self, what, fdarg, (char *)NULL);
        _exit(127);
    }
    return c;
}

/* The ledger lock's holder (glibc keeps the owner's thread id at int 2
 * of the mutex), or 0.  Read with pread each time, not through a mapping:
 * the first burst may look while a worker is still creating the file
 * (empty, and a mapping of it would fault), and a file a creator left
 * half-made is replaced. */
static int lock_holder(const char *dir)
{
    char name[256], path[4600];
    sg_ledger_name(name, sizeof name, sg_ipcns_ino(), getuid(), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), owner = 0;
    if (fd < 0)
        return 0;
    if (pread(fd, &owner, sizeof owner, (off_t)offsetof(struct sg_hdr, lock) + 2 * sizeof(int)) !=
        (ssize_t)sizeof owner)
        owner = 0;
    close(fd);
    return owner;
}

/* Run argv, its stdout into the file out (NULL: dropped); its exit
 * status, or -1 when it had to be killed after timeout_s seconds. */
static int run_wait(char *const argv[], int timeout_s, const char *out)
{
    pid_t c = fork();
    if (c == 0) {
        int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < timeout_s * 100; i++) {
        int st;
        if (waitpid(c, &st, WNOHANG) == c)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "worker"))
        worker(atoi(argv[2]));
    if (argc == 3 && !strcmp(argv[1], "probe"))
        return probe();
    if (argc != 3) {
        fprintf(stderr, "usage: %s BUILD_DIR KILLS\n", argv[0]);
        return 2;
    }
    /* Orphans (children of killed workers) come to us, to be waited for. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        return 2;
    const char *dir = getenv("SHMGUARD_LEDGER");
    if (!dir) {
        fprintf(stderr, "torture: set SHMGUARD_LEDGER to a private directory\n");
        return 2;
    }
    if (!realpath("/proc/self/exe", self))
        return 2;
    snprintf(lib, sizeof lib, "%s/libshmguard.so", argv[1]);
    snprintf(tool, sizeof tool, "%s/shmguard", argv[1]);
    long want = atol(argv[2]);
    int lp[2];
    if (pipe2(lp, O_CLOEXEC) != 0 || fcntl(lp[0], F_SETFL, O_NONBLOCK) != 0)
        return 2;
    int wfd = dup(lp[1]); /* not close-on-exec: the workers' log */
    struct rec *log = malloc(MAXLOG * sizeof *log);
    size_t nlog = 0;
    long kills = 0, in_lock = 0, bursts = 0, checks_failed = 0, diverged = 0, hung = 0,
         pending_left = 0, queues_wrong = 0;
    unsigned seed = (unsigned)time(NULL);
    while (kills < want) {
        pid_t w[WORKERS];
        for (int i = 0; i < WORKERS; i++)
            w[i] = spawn("worker", wfd);
        nlog = 0;
        for (int n = 0; n < 120 && kills < want; n++) {
            usleep(1000 + rand_r(&seed) % 4000);
            int victim = -1;
            if (n % 3 == 0) { /* the lock's holder, when there is one */
                int h = lock_holder(dir);
                for (int i = 0; i < WORKERS && h; i++)
                    if (w[i] == h)
                        victim = i;
                in_lock += victim >= 0 && kill(w[victim], SIGKILL) == 0;
            }
            if (victim < 0) {
                victim = rand_r(&seed) % WORKERS;
                kill(w[victim], SIGKILL);
            }
            kills++;
            waitpid(w[victim], NULL, 0);
            w[victim] = spawn("worker", wfd);
            ssize_t r;
            while (nlog < MAXLOG &&
                   (r = read(lp[0], &log[nlog], (MAXLOG - nlog) * sizeof *log)) > 0)
                nlog += (size_t)r / sizeof *log;
        }
        for (int i = 0; i < WORKERS; i++) {
            kill(w[i], SIGKILL);
            waitpid(w[i], NULL, 0);
        }
        /* A killed worker's forked child runs on (reparented to us, the
         * subreaper) and finishes its cycle: wait for every one, so that
         * the checks below see all participants gone. */
        for (int i = 0; i < 1000; i++) {
            pid_t c = waitpid(-1, NULL, WNOHANG);
            if (c < 0)
                break;
            if (c == 0)
                usleep(10000);
        }
        if (waitpid(-1, NULL, WNOHANG) >= 0) {
            hung++;
            fprintf(stderr, "torture: burst %ld: a worker's child did not end within 10 s\n",
                    bursts + 1);
        }
        ssize_t r;
        while (nlog < MAXLOG && (r = read(lp[0], &log[nlog], (MAXLOG - nlog) * sizeof *log)) > 0)
            nlog += (size_t)r / sizeof *log;
        bursts++;
        /* 1. Nothing hangs. */
        char *pargv[] = { self, "probe", "0", NULL };
        setenv("LD_PRELOAD", lib, 1);
        int pr = run_wait(pargv, 10, NULL);
        unsetenv("LD_PRELOAD");
        if (pr != 0) {
            hung++;
            fprintf(stderr, "torture: burst %ld: a fresh process did not complete a cycle (%d)\n",
                    bursts, pr);
        }
        /* 2. No divergence: a look-up inside another's attachment found it. */
        for (size_t i = 0; i < nlog; i++)
            for (size_t j = 0; j < nlog; j++)
                if (log[i].key == log[j].key && log[i].id != log[j].id &&
                    log[i].a0 < log[j].l0 && log[j].l1 < log[i].a1) {
                    diverged++;
                    fprintf(stderr, "torture: key 0x%x: pid %d held %d while pid %d looked it up "
                                    "and got %d\n", log[i].key, log[i].pid, log[i].id, log[j].pid,
                            log[j].id);
                }
        /* 3. Pending removals done; 4. the ledger consistent. */
        char *largv[] = { tool, "ledger", "--check", NULL }, out[4200];
        snprintf(out, sizeof out, "%s/check.out", dir);
        if (run_wait(largv, 30, out) != 0) {
            checks_failed++;
            fprintf(stderr, "torture: burst %ld: shmguard ledger --check failed:\n", bursts);
            FILE *f = fopen(out, "r");
            char line[512];
            while (f && fgets(line, sizeof line, f))
                fputs(line, stderr);
            if (f)
                fclose(f);
        }
        /* 5. Queues: gc, then none in use and none orphaned. */
        char *gargv[] = { tool, "gc", NULL };
        char *qargv[] = { tool, "ls", "--msg", "--raw", "--noheadings", NULL };
        snprintf(out, sizeof out, "%s/queues.out", dir);
        if (run_wait(gargv, 30, NULL) != 0 || run_wait(qargv, 30, out) != 0) {
            queues_wrong++;
            fprintf(stderr, "torture: burst %ld: shmguard gc or ls --msg failed\n", bursts);
        } else {
            FILE *f = fopen(out, "r");
            char line[1024];
            while (f && fgets(line, sizeof line, f))
                if (strstr(line, " in-use ") || strstr(line, " orphaned ")) {
                    queues_wrong++;
                    fprintf(stderr, "torture: burst %ld: every process is gone, yet: %s", bursts,
                            line);
                }
            if (f)
                fclose(f);
        }
        struct sg_ledger L;
        char name[256], path[4600], err[8192];
        sg_ledger_name(name, sizeof name, sg_ipcns_ino(), getuid(), 0);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (sg_ledger_load(&L, path, sg_ipcns_ino(), err, sizeof err) == 0) {
            for (uint32_t i = 0; i < L.hdr->seg_cap; i++) {
                const struct sg_seg *s = &L.seg[i];
                struct shmid_ds ds;
                if (s->state == SG_REC_LIVE && s->kind == SG_KIND_SHM &&
                    (s->flags & SG_SEG_PENDING) && shmctl(s->id, IPC_STAT, &ds) == 0) {
                    pending_left++;
                    fprintf(stderr, "torture: burst %ld: removal of %d still pending (nattch %lu)\n",
                            bursts, s->id, (unsigned long)ds.shm_nattch);
                }
            }
            sg_ledger_close(&L);
        } else {
            checks_failed++;
            fprintf(stderr, "torture: burst %ld: %s\n", bursts, err);
        }
    }
    printf("torture: %ld kills (%ld of the lock's holder) in %ld bursts; hung %ld, diverged %ld, "
           "pending left %ld, inconsistent ledgers %ld, queues wrongly judged %ld\n",
           kills, in_lock, bursts, hung, diverged, pending_left, checks_failed, queues_wrong);
    free(log);
    return hung || diverged || pending_left || checks_failed || queues_wrong;
}
