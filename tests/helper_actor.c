/*
 * helper_actor.c - a scriptable carrier process for the multi-process tests
 * (test_content, test_lockkill).
 *
 * The tests start it with LD_PRELOAD=libshmguard.so (or without) and drive
 * it one command line at a time over its stdin; every command produces
 * exactly one reply line on stdout, "ok key=value ..." or "err ...".  A test
 * writes a command and reads the reply, so the two stay in lock-step with
 * no sleeps.  At start (and again after `exec`) it prints
 * "ready pid=P start=S preload=0|1".  End of stdin means exit(0) (a normal
 * exit: the library's destructor runs).  Input is read with read(2), one
 * byte at a time, and output written with write(2), so no stdio buffer is
 * ever duplicated by fork or lost by exec.
 *
 * Commands:
 *   create KEY SIZE     shmget(KEY, SIZE, IPC_CREAT|IPC_EXCL|0600) -> id=
 *   lookup KEY          shmget(KEY, 0, 0)                          -> id=
 *   siteoff             offset of the function that calls shmget in this
 *                       executable, and the executable's path   -> off= obj=
 *   at ID               shmat(ID, NULL, 0)                       -> addr=
 *   dt ADDR             shmdt(ADDR)
 *   rmid ID             shmctl(ID, IPC_RMID, NULL)
 *   nattch ID           shmctl(ID, IPC_STAT) nattch              -> nattch=
 *   cycle KEY SIZE      shmget(KEY, SIZE, IPC_CREAT|0600), shmat, shmdt,
 *                       timed with CLOCK_MONOTONIC        -> id= addr= ns=
 *   hammer ID T N       T threads, each N shmat/shmdt pairs on ID -> fails=
 *   churnhold ID T N    T threads churn shmat/shmdt on ID while the main
 *                       thread makes N attachments of ID that it keeps
 *                       (addresses freed by a churner get reused) -> fails=
 *   dtall               shmdt every attachment kept by churnhold -> n=
 *   fork                fork(); the child prints "ok child pid=P start=S"
 *                       and takes over the command stream; the parent
 *                       waits for it and then prints "reaped status=S"
 *                       (as from waitpid) and goes on reading commands
 *   rawfork             _Fork() (no fork handlers run, as for a raw clone);
 *                       the child exits at once (exit(0), destructors
 *                       run); the parent waits for it -> reaped status=
 *   exec preload|bare   exec this program again, with LD_PRELOAD kept or
 *                       removed; the new image prints its "ready" line
 *   exit CODE           exit(CODE), destructors run
 *   lockhold PID        (run without the preload) open this namespace's
 *                       ledger in $SHMGUARD_LEDGER with the core API, take
 *                       its lock and leave it half-edited like a process
 *                       killed mid-update: an attachment slot claimed by
 *                       this process and half filled with a copy of one
 *                       record of PID (0: none), and att_live off by 3
 *                                                 -> locked claims=
 *                       Then it keeps the lock; the test kills it.
 *   unlock              release a lock taken by lockhold
 *   semcreate KEY N     semget(KEY, N, IPC_CREAT|0600) (KEY 0: IPC_PRIVATE) -> id=
 *   semexcl KEY N       semget(KEY, N, IPC_CREAT|IPC_EXCL|0600)   -> id=
 *   semlookup KEY N     semget(KEY, N, 0)                          -> id=
 *   semop ID            semop(ID, {0, +1, 0}): one V on semaphore 0
 *   semsetval ID V      semctl(ID, 0, SETVAL, V)
 *   semrmid ID          semctl(ID, 0, IPC_RMID)
 *   msgcreate KEY       msgget(KEY, IPC_CREAT|0600) (KEY 0: IPC_PRIVATE) -> id=
 *   msgexcl KEY         msgget(KEY, IPC_CREAT|IPC_EXCL|0600)       -> id=
 *   msglookup KEY       msgget(KEY, 0)                             -> id=
 *   msgsnd ID           msgsnd(ID, a 6-byte message of type 1, IPC_NOWAIT)
 *   msgrcv ID           msgrcv(ID, any message, IPC_NOWAIT)        -> n=
 *   msgset ID           msgctl(ID, IPC_STAT) then msgctl(ID, IPC_SET) of it
 *   msgrmid ID          msgctl(ID, IPC_RMID)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sg_kernel.h"
#include "sg_ledger.h"
#include "sg_proc.h"

static int last_errno;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(1, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        off += (int)w;
    }
}

/* One line from fd 0, unbuffered (without its newline).  -1 on end of
 * input before any byte, else 0. */
static int read_line(char *buf, size_t n)
{
    size_t k = 0;
    int got = 0;
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got = 1;
        if (c == '\n')
            break;
        if (k + 1 < n)
            buf[k++] = c;
    }
    buf[k] = '\0';
    return got ? 0 : -1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start time (field 22 of /proc/self/stat). */
static unsigned long long self_start(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* 1 if the shmget this program calls is libshmguard's. */
static int preloaded(void)
{
    Dl_info di;
    void *f = dlsym(RTLD_DEFAULT, "shmget");
    return f && dladdr(f, &di) && di.dli_fname && strstr(di.dli_fname, "libshmguard") != NULL;
}

/* The only place that calls shmget: the call-site record of a segment this
 * program creates must point into this function.  Not inlined, and the
 * store after the call keeps it from becoming a tail call. */
__attribute__((noinline)) static int call_shmget(key_t key, size_t size, int flg)
{
    int r = shmget(key, size, flg);
    last_errno = errno;
    __asm__ volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) static int call_semget(key_t key, int nsems, int flg)
{
    int r = semget(key, nsems, flg);
    last_errno = errno;
    __asm__ volatile("" ::: "memory");
    return r;
}

static long long num(const char *s)
{
    return s ? strtoll(s, NULL, 0) : 0;
}

/* ---- hammer ------------------------------------------------------------ */

struct hammer {
    int id;
    long n;
    pthread_barrier_t *go;
    long fails;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(h->go);
    for (long i = 0; i < h->n; i++) {
        void *p = shmat(h->id, NULL, 0);
        if (p == (void *)-1) {
            h->fails++;
            continue;
        }
        if (shmdt(p) != 0)
            h->fails++;
    }
    return NULL;
}

static void cmd_hammer(int id, int threads, long n)
{
    if (threads < 1 || threads > 64) {
        say("err threads");
        return;
    }
    pthread_t t[64];
    struct hammer h[64];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        h[i].id = id;
        h[i].n = n;
        h[i].go = &go;
        h[i].fails = 0;
        if (pthread_create(&t[i], NULL, hammer_thread, &h[i]) != 0) {
            say("err pthread_create");
            _exit(4);
        }
    }
    long fails = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        fails += h[i].fails;
    }
    pthread_barrier_destroy(&go);
    say("ok fails=%ld", fails);
}

/* ---- churnhold -------------------------------------------------------- */

static void **kept;
static long nkept;

struct churn {
    int id;
    volatile int *stop;
    long fails;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    while (!__atomic_load_n(c->stop, __ATOMIC_ACQUIRE)) {
        void *p = shmat(c->id, NULL, 0);
        if (p == (void *)-1) {
            c->fails++;
            continue;
        }
        if (shmdt(p) != 0)
            c->fails++;
    }
    return NULL;
}

static void cmd_churnhold(int id, int threads, long n)
{
    if (threads < 1 || threads > 64 || n < 1 || nkept) {
        say("err arguments");
        return;
    }
    kept = calloc((size_t)n, sizeof *kept);
    if (!kept) {
        say("err calloc");
        return;
    }
    pthread_t t[64];
    struct churn c[64];
    volatile int stop = 0;
    for (int i = 0; i < threads; i++) {
        c[i].id = id;
        c[i].stop = &stop;
        c[i].fails = 0;
        if (pthread_create(&t[i], NULL, churn_thread, &c[i]) != 0) {
            say("err pthread_create");
            _exit(4);
        }
    }
    long fails = 0;
    for (long i = 0; i < n; i++) {
        void *p = shmat(id, NULL, 0);
        if (p == (void *)-1)
            fails++;
        else
            kept[nkept++] = p;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        fails += c[i].fails;
    }
    say("ok fails=%ld kept=%ld", fails, nkept);
}

static void cmd_dtall(void)
{
    long fails = 0, n = nkept;
    for (long i = 0; i < nkept; i++)
        fails += shmdt(kept[i]) != 0;
    free(kept);
    kept = NULL;
    nkept = 0;
    say("ok n=%ld fails=%ld", n, fails);
}

/* ---- lockhold ---------------------------------------------------------- */

static struct sg_ledger held;
static int holding;

static void cmd_lockhold(int dup_pid)
{
    const char *dir = getenv("SHMGUARD_LEDGER");
    char err[PATH_MAX + 200];
    if (sg_ledger_open_own(&held, dir && *dir ? dir : "/dev/shm/shmguard", sg_ipcns_ino(), NULL,
                           err, sizeof err) != 0) {
        say("err open %s", err);
        return;
    }
    if (sg_ledger_lock(&held) != 0) {
        say("err lock");
        return;
    }
    holding = 1;
    int claims = 0;
    uint32_t cap = held.hdr->att_cap;
    for (uint32_t i = 0; dup_pid > 0 && i < cap; i++) {
        struct sg_att *a = &held.att[i];
        if (a->state != SG_REC_LIVE || a->pid != dup_pid)
            continue;
        /* Half a table away, in a free slot: claimed by this process (as
         * sg_att_put does) and filled, but never published. */
        uint32_t j = (i + cap / 2) & (cap - 1);
        struct sg_att *d = &held.att[j];
        if (d->state != SG_REC_EMPTY)
            continue;
        off_t off = (off_t)((unsigned char *)d - held.base);
        off_t pg = off & ~(off_t)4095;
        /* The page, allocated as the library does (sg_ledger.c: through
         * the mapping, or with the descriptor it kept). */
        if ((held.fd >= 0 ? fallocate(held.fd, 0, pg, 4096)
                          : madvise(held.base + pg, 4096, MADV_POPULATE_WRITE)) != 0 &&
            errno != EOPNOTSUPP) {
            say("err fallocate %s", strerror(errno));
            return;
        }
        struct sg_att copy = *a;
        copy.state = SG_REC_CLAIM | ((uint32_t)getpid() & SG_REC_CLAIM_PID);
        memcpy(d, &copy, sizeof copy);
        claims++;
        break;
    }
    held.hdr->att_live += 3;
    say("ok locked claims=%d", claims);
}

/* ---- main loop ---------------------------------------------------------- */

static void run(void);

static void cmd_fork(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        say("err fork %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        say("ok child pid=%d start=%llu", (int)getpid(), self_start());
        run();
        exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    say("reaped status=%d", st);
}

static void cmd_rawfork(const char *uid)
{
    pid_t pid = _Fork();
    if (pid < 0) {
        say("err _Fork %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* "rawfork UID": the child drops to UID first (through the hook,
         * where the library leaves its ledger). */
        if (uid && setuid((uid_t)num(uid)) != 0)
            exit(2);
        exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    say("ok reaped status=%d", st);
}

static void cmd_exec(const char *how)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        say("err readlink");
        return;
    }
    self[n] = '\0';
    if (how && !strcmp(how, "bare"))
        unsetenv("LD_PRELOAD");
    else if (!how || strcmp(how, "preload") || !getenv("LD_PRELOAD")) {
        say("err exec wants preload (with LD_PRELOAD set) or bare");
        return;
    }
    char *argv[] = { self, NULL };
    execv(self, argv);
    say("err exec %s", strerror(errno));
}

static void run(void)
{
    char line[512];
    for (;;) {
        if (read_line(line, sizeof line) != 0)
            break; /* end of input: a normal exit */
        char *save = NULL;
        char *cmd = strtok_r(line, " ", &save);
        char *a1 = strtok_r(NULL, " ", &save);
        char *a2 = strtok_r(NULL, " ", &save);
        char *a3 = strtok_r(NULL, " ", &save);
        if (!cmd)
            continue;
        if (!strcmp(cmd, "create") || !strcmp(cmd, "lookup")) {
            int create = cmd[0] == 'c';
            int id = call_shmget((key_t)num(a1), create ? (size_t)num(a2) : 0,
                                 create ? IPC_CREAT | IPC_EXCL | 0600 : 0);
            if (id < 0)
                say("err errno=%d", last_errno);
            else
                say("ok id=%d", id);
        } else if (!strncmp(cmd, "sem", 3) && (!strcmp(cmd + 3, "create") ||
                                               !strcmp(cmd + 3, "excl") ||
                                               !strcmp(cmd + 3, "lookup"))) {
            int flg = cmd[3] == 'c' ? IPC_CREAT | 0600 : cmd[3] == 'e' ? IPC_CREAT | IPC_EXCL | 0600 : 0;
            int id = call_semget((key_t)num(a1), (int)num(a2), flg);
            if (id < 0)
                say("err errno=%d", last_errno);
            else
                say("ok id=%d", id);
        } else if (!strcmp(cmd, "semop")) {
            struct sembuf op = { 0, 1, 0 };
            if (semop((int)num(a1), &op, 1) != 0)
                say("err errno=%d", errno);
            else
                say("ok");
        } else if (!strcmp(cmd, "semsetval") || !strcmp(cmd, "semrmid")) {
            int r = cmd[3] == 's' ? semctl((int)num(a1), 0, SETVAL, (int)num(a2))
                                  : semctl((int)num(a1), 0, IPC_RMID);
            if (r != 0)
                say("err errno=%d", errno);
            else
                say("ok");
        } else if (!strcmp(cmd, "msgcreate") || !strcmp(cmd, "msgexcl") ||
                   !strcmp(cmd, "msglookup")) {
            int flg = cmd[3] == 'c' ? IPC_CREAT | 0600 : cmd[3] == 'e' ? IPC_CREAT | IPC_EXCL | 0600 : 0;
            int id = msgget((key_t)num(a1), flg);
            if (id < 0)
                say("err errno=%d", errno);
            else
                say("ok id=%d", id);
        } else if (!strcmp(cmd, "msgsnd")) {
            struct { long type; char text[8]; } m = { 1, "hello" };
            if (msgsnd((int)num(a1), &m, 6, IPC_NOWAIT) != 0)
                say("err errno=%d", errno);
            else
                say("ok");
        } else if (!strcmp(cmd, "msgrcv")) {
            struct { long type; char text[64]; } m;
            ssize_t n = msgrcv((int)num(a1), &m, sizeof m.text, 0, IPC_NOWAIT);
            if (n < 0)
                say("err errno=%d", errno);
            else
                say("ok n=%zd", n);
        } else if (!strcmp(cmd, "msgset") || !strcmp(cmd, "msgrmid")) {
            struct msqid_ds ds;
            int r = cmd[3] == 's' ? msgctl((int)num(a1), IPC_STAT, &ds) : 0;
            if (r == 0)
                r = cmd[3] == 's' ? msgctl((int)num(a1), IPC_SET, &ds)
                                  : msgctl((int)num(a1), IPC_RMID, NULL);
            if (r != 0)
                say("err errno=%d", errno);
            else
                say("ok");
        } else if (!strcmp(cmd, "siteoff")) {
            Dl_info di;
            char self[PATH_MAX];
            ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
            self[n > 0 ? n : 0] = '\0';
            if (!dladdr((void *)call_shmget, &di))
                say("err dladdr");
            else
                say("ok off=0x%" PRIxPTR " obj=%s", (uintptr_t)call_shmget - (uintptr_t)di.dli_fbase,
                    self);
        } else if (!strcmp(cmd, "at")) {
            void *p = shmat((int)num(a1), NULL, 0);
            if (p == (void *)-1)
                say("err errno=%d", errno);
            else
                say("ok addr=%p", p);
        } else if (!strcmp(cmd, "dt")) {
            if (shmdt((void *)(uintptr_t)strtoull(a1 ? a1 : "0", NULL, 0)) != 0)
                say("err errno=%d", errno);
            else
                say("ok");
        } else if (!strcmp(cmd, "rmid")) {
            if (shmctl((int)num(a1), IPC_RMID, NULL) != 0)
                say("err errno=%d", errno);
            else
                say("ok");
        } else if (!strcmp(cmd, "nattch")) {
            struct shmid_ds ds;
            if (shmctl((int)num(a1), IPC_STAT, &ds) != 0)
                say("err errno=%d", errno);
            else
                say("ok nattch=%lu", (unsigned long)ds.shm_nattch);
        } else if (!strcmp(cmd, "cycle")) {
            uint64_t t0 = mono_ns();
            int id = call_shmget((key_t)num(a1), (size_t)num(a2), IPC_CREAT | 0600);
            if (id < 0) {
                say("err get errno=%d", last_errno);
                continue;
            }
            void *p = shmat(id, NULL, 0);
            if (p == (void *)-1) {
                say("err at errno=%d", errno);
                continue;
            }
            if (shmdt(p) != 0) {
                say("err dt errno=%d", errno);
                continue;
            }
            say("ok id=%d addr=%p ns=%" PRIu64, id, p, mono_ns() - t0);
        } else if (!strcmp(cmd, "hammer")) {
            cmd_hammer((int)num(a1), (int)num(a2), (long)num(a3));
        } else if (!strcmp(cmd, "churnhold")) {
            cmd_churnhold((int)num(a1), (int)num(a2), (long)num(a3));
        } else if (!strcmp(cmd, "dtall")) {
            cmd_dtall();
        } else if (!strcmp(cmd, "fork")) {
            cmd_fork();
        } else if (!strcmp(cmd, "rawfork")) {
            cmd_rawfork(a1);
        } else if (!strcmp(cmd, "exec")) {
            cmd_exec(a1);
        } else if (!strcmp(cmd, "exit")) {
            exit((int)num(a1));
        } else if (!strcmp(cmd, "lockhold")) {
            cmd_lockhold((int)num(a1));
        } else if (!strcmp(cmd, "unlock")) {
            if (holding)
                sg_ledger_unlock(&held);
            holding = 0;
            say("ok");
        } else {
            say("err unknown command %s", cmd);
        }
    }
}

int main(void)
{
    say("ready pid=%d start=%llu preload=%d", (int)getpid(), self_start(), preloaded());
    run();
    return 0;
}
