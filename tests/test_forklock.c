/*
 * test_forklock.c - fork while another thread holds one of the library's
 * locks (regression test for the fork handlers of shim/sg_init.c, see
 * shim/sg_locks.h).
 *
 * The core is linked in directly (sg_init, then sg_shmget/sg_shmat/sg_shmdt), with
 * SHMGUARD_LEDGER pointing at a private directory.  (a) A second thread
 * holds sg_local_lock, the in-process lock of the local attachment list,
 * while the main thread forks: the child must not inherit it held; it must
 * be credited with the inherited attachment, attach and detach again, and
 * exit.  (b) A second thread holds the ledger's (process-shared) mutex for
 * ~300 ms while the main thread forks: the child's inherited attachment
 * must be credited once the holder lets go (not skipped), and the child
 * must finish.  In both cases the holder releases its lock in the parent;
 * the parent waits for the child with a bound (pidfd + poll) and fails,
 * killing it, if it hangs.  (d) A second thread is composing a limit
 * diagnosis (sg_diag's try-lock) at the fork: the child's own limit
 * failure must still be explained.  The child reports through its exit status:
 * cmocka's assertions are only used in the parent.
 */
#include "sgtest.h"

#include <pthread.h>
#include <sys/syscall.h>

#include "sg_core.h"
#include "sg_diag.h"
#include "sg_init.h"
#include "sg_locks.h"
#include "sg_proc.h"
#include "sg_state.h"

static char g_dir[PATH_MAX];

/* How long the holder keeps its lock unless told to let go earlier. */
#define HOLD_MS 300

struct holder {
    int ledger;             /* 1: the ledger mutex, 0: sg_local_lock */
    int ready[2];           /* holder -> main: "I hold it" */
    int release[2];         /* main -> holder: "let go" */
    int lock_rc;
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    if (h->ledger)
        h->lock_rc = sg_ledger_lock(&sg_st.L);
    else
        h->lock_rc = sg_local_take() ? 0 : -1; /* this test has threads */
    char c = 1;
    if (write(h->ready[1], &c, 1) != 1)
        abort();
    /* Hold it for HOLD_MS, or until the parent says so after its fork. */
    struct pollfd p = { h->release[0], POLLIN, 0 };
    poll(&p, 1, HOLD_MS);
    if (h->lock_rc == 0) {
        if (h->ledger)
            sg_ledger_unlock(&sg_st.L);
        else
            sg_local_give(1);
    }
    return NULL;
}

/* Wait up to ms for pid to end; 0 and *status when it did, -1 if not. */
static int wait_pid_ms(pid_t pid, int ms, int *status)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        struct pollfd p = { pfd, POLLIN, 0 };
        int r;
        while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
            ;
        close(pfd);
        if (r <= 0)
            return -1;
        return waitpid(pid, status, 0) == pid ? 0 : -1;
    }
    uint64_t end = sg_mono_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 || sg_mono_ns() > end)
            return -1;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* In the child, with the ledger lock: the record of (pid, addr), copied. */
static int child_find(pid_t pid, void *addr, struct sg_att *out)
{
    if (sg_ledger_lock(&sg_st.L) != 0)
        return -1;
    struct sg_att *a = sg_att_find(&sg_st.L, pid, (uint64_t)(uintptr_t)addr);
    if (a)
        *out = *a;
    sg_ledger_unlock(&sg_st.L);
    return a ? 1 : 0;
}

/* What the child checks; returns its exit status (0 = all good). */
static int child_body(int id, void *p)
{
    pid_t me = getpid();
    if (!sg_st.active)
        return 10;
    if (sg_st.self.pid != me)
        return 11;
    /* Its own start mark (sg_proc.h), taken at the fork: no earlier than
     * the child's start time, no later than now. */
    uint64_t started = sg_proc_start_time(me);
    if (!started || !sg_start_fits(started, sg_st.self.start) ||
        sg_st.self.start > sg_proc_self_mark())
        return 12;
    /* Credited by the fork handler: in (b) after waiting for the holder,
     * not skipped because the lock was busy. */
    struct sg_att a;
    if (child_find(me, p, &a) != 1)
        return 14;
    if (a.shmid != id || !(a.flags & SG_ATT_INHERITED) || a.start != sg_st.self.start)
        return 15;
    /* The local list works in the child (its lock is not held). */
    void *q = sg_shmat(id, NULL, 0);
    if (q == (void *)-1)
        return 16;
    if (child_find(me, q, &a) != 1 || (a.flags & SG_ATT_INHERITED))
        return 17;
    if (sg_shmdt(q) != 0 || child_find(me, q, &a) != 0)
        return 18;
    if (sg_shmdt(p) != 0 || child_find(me, p, &a) != 0)
        return 19;
    if (sg_st.degraded_until) /* a lock wait timed out in the child */
        return 20;
    return 0;
}

static int count_att(pid_t pid, int shmid)
{
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(g_dir, &L), 0);
    int n = sgt_count_att(&L, pid, shmid);
    sg_ledger_close(&L);
    return n;
}

static void fork_while_held(int ledger_case, key_t key)
{
    int id = sg_shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600, NULL);
    assert_true(id >= 0);
    void *p = sg_shmat(id, NULL, 0);
    assert_true(p != (void *)-1);
    assert_true(sg_st.active);
    assert_int_equal(count_att(getpid(), id), 1);

    struct holder h = { .ledger = ledger_case };
    assert_int_equal(pipe2(h.ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(h.release, O_CLOEXEC), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, holder_main, &h), 0);
    char c;
    assert_int_equal(read(h.ready[0], &c, 1), 1);
    assert_int_equal(h.lock_rc, 0);

    pid_t pid = fork();
    if (pid == 0)
        _exit(child_body(id, p));
    assert_true(pid > 0);
    /* The parent lets go of the lock after its fork (sooner, in (a), than
     * the HOLD_MS the child may have had to wait for). */
    if (!ledger_case)
        assert_int_equal(write(h.release[1], "x", 1), 1);
    int st = 0;
    int rc = wait_pid_ms(pid, 10000, &st);
    if (rc != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    if (ledger_case)
        assert_int_equal(write(h.release[1], "x", 1), 1);
    pthread_join(t, NULL);
    close(h.ready[0]);
    close(h.ready[1]);
    close(h.release[0]);
    close(h.release[1]);
    if (rc != 0)
        fail_msg("the child hung after fork (lock %s held by another thread)",
                 ledger_case ? "ledger" : "sg_local_lock");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child failed: %s %d", WIFEXITED(st) ? "exit status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));

    /* The child's records are gone, the parent's is still there. */
    assert_int_equal(count_att(pid, -1), 0);
    assert_int_equal(count_att(getpid(), id), 1);
    /* And the parent's own locks are usable. */
    assert_int_equal(sg_shmdt(p), 0);
    assert_int_equal(count_att(getpid(), id), 0);
    assert_int_equal(sg_shmctl(id, IPC_RMID, NULL), 0);
    assert_false(sgt_shm_exists(id));
}

static void test_fork_while_local_lock_held(void **state)
{
    (void)state;
    fork_while_held(0, 0x5a172001);
}

static void test_fork_while_ledger_lock_held(void **state)
{
    (void)state;
    fork_while_held(1, 0x5a172002);
}

/* ---- (c) fork while another thread is inside shmat -------------------- */

/* Addresses where this process maps shmid (from /proc/self/maps). */
static int sysv_maps(int shmid, uint64_t *out, int max)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, off, ino;
        char perms[8], dev[16];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &lo, &hi, perms, &off, dev, &ino, &pos) < 6)
            continue;
        if (!strstr(line + pos, "/SYSV") || (long long)ino != shmid)
            continue;
        if (n < max)
            out[n] = lo;
        n++;
    }
    fclose(f);
    return n;
}

struct inflight {
    int id;
    volatile pid_t tid;
    void *q;
};

static void *inflight_main(void *arg)
{
    struct inflight *f = arg;
    f->tid = gettid();
    f->q = sg_shmat(f->id, NULL, 0);
    return NULL;
}

static long task_syscall(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0 || buf[0] < '0' || buf[0] > '9')
        return -1;
    buf[r] = '\0';
    return strtol(buf, NULL, 10);
}

/* The child: every mapping of shmid it has must be credited to it. */
static int inflight_child(int id)
{
    uint64_t addrs[8];
    int n = sysv_maps(id, addrs, 8);
    if (n != 2)
        return 30; /* p from the main thread, q from the other one */
    for (int i = 0; i < n; i++) {
        struct sg_att a;
        int found = child_find(getpid(), (void *)(uintptr_t)addrs[i], &a);
        if (found < 0)
            return 31;
        if (found == 0)
            return 32 + i; /* an inherited mapping the ledger does not credit */
        if (!(a.flags & SG_ATT_INHERITED) || a.shmid != id)
            return 34;
    }
    for (int i = 0; i < n; i++)
        if (sg_shmdt((void *)(uintptr_t)addrs[i]) != 0)
            return 35;
    return 0;
}

/* Another thread's shmat has mapped the segment but waits for the ledger
 * lock (held by a third thread) when the main thread forks: the child
 * inherits that mapping too, and the ledger must say so. */
static void test_fork_during_inflight_shmat(void **state)
{
    (void)state;
    int id = sg_shmget(0x5a172003, 8192, IPC_CREAT | IPC_EXCL | 0600, NULL);
    assert_true(id >= 0);
    void *p = sg_shmat(id, NULL, 0);
    assert_true(p != (void *)-1);
    /* A lookup leaves an intent, which the next shmat clears under the
     * ledger lock (attachment records need no lock): that is where the
     * other thread's shmat will wait, its mapping made and listed. */
    assert_int_equal(sg_shmget(0x5a172003, 8192, 0600, NULL), id);

    struct holder h = { .ledger = 1 };
    assert_int_equal(pipe2(h.ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(h.release, O_CLOEXEC), 0);
    pthread_t th, tf;
    assert_int_equal(pthread_create(&th, NULL, holder_main, &h), 0);
    char c;
    assert_int_equal(read(h.ready[0], &c, 1), 1);
    assert_int_equal(h.lock_rc, 0);

    struct inflight f = { .id = id, .tid = 0, .q = NULL };
    assert_int_equal(pthread_create(&tf, NULL, inflight_main, &f), 0);
    /* Until its mapping exists and it sleeps on the ledger lock (bounded
     * well inside the holder's HOLD_MS). */
    uint64_t end = sg_mono_ns() + 200000000u;
    int ready = 0;
    while (!ready && sg_mono_ns() < end) {
        struct shmid_ds ds;
        ready = f.tid && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2 &&
                task_syscall(f.tid) == SYS_futex;
        if (!ready) {
            struct timespec ts = { 0, 100 * 1000 };
            nanosleep(&ts, NULL);
        }
    }

    pid_t pid = ready ? fork() : -1;
    if (pid == 0)
        _exit(inflight_child(id));
    assert_int_equal(write(h.release[1], "x", 1), 1);
    pthread_join(th, NULL);
    pthread_join(tf, NULL);
    int st = 0, rc = -1;
    if (pid > 0) {
        rc = wait_pid_ms(pid, 10000, &st);
        if (rc != 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    }
    close(h.ready[0]);
    close(h.ready[1]);
    close(h.release[0]);
    close(h.release[1]);
    assert_true(f.q != (void *)-1 && f.q != NULL);
    assert_int_equal(count_att(getpid(), id), 2);
    assert_int_equal(sg_shmdt(f.q), 0);
    assert_int_equal(sg_shmdt(p), 0);
    assert_int_equal(count_att(getpid(), id), 0);
    assert_int_equal(sg_shmctl(id, IPC_RMID, NULL), 0);
    if (!ready)
        fail_msg("the other thread's shmat did not reach the ledger lock");
    if (rc != 0)
        fail_msg("the child hung after fork");
    if (WIFEXITED(st) && (WEXITSTATUS(st) == 32 || WEXITSTATUS(st) == 33))
        fail_msg("the child inherited a mapping of shmid %d that another thread's shmat had made "
                 "(waiting for the ledger lock) at fork time, but the ledger does not credit it "
                 "to the child (exit %d)", id, WEXITSTATUS(st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child failed: %s %d", WIFEXITED(st) ? "exit status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    /* The child detached both: nothing of it is left. */
    assert_int_equal(count_att(pid, -1), 0);
}

/* ---- (d) fork while another thread composes a diagnosis --------------- */

static char g_log[PATH_MAX + 8];

struct composer {
    int ready[2], release[2];
    int took;
};

static void *composer_main(void *arg)
{
    struct composer *c = arg;
    c->took = sg_diag_enter();
    char x = 1;
    if (write(c->ready[1], &x, 1) != 1)
        abort();
    struct pollfd p = { c->release[0], POLLIN, 0 };
    poll(&p, 1, 10000);
    if (c->took)
        sg_diag_leave();
    return NULL;
}

static size_t log_count(const char *needle)
{
    static char buf[1 << 16];
    FILE *f = fopen(g_log, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    size_t k = 0;
    for (const char *p = buf; (p = strstr(p, needle)); p++)
        k++;
    return k;
}

static void test_fork_while_diag_composes(void **state)
{
    (void)state;
    /* kernel.shmmni at the number in use: the next create fails. */
    FILE *f = fopen("/proc/sys/kernel/shmmni", "r+");
    if (!f)
        skip();
    char old[32] = "";
    assert_non_null(fgets(old, sizeof old, f));
    struct sg_ksnap s;
    assert_int_equal(sg_ksnap_read(&s), 0);
    size_t used = s.n;
    sg_ksnap_free(&s);
    int id = -1;
    if (used == 0) { /* shmmni cannot be 0: hold one */
        id = sg_shmget(0x5a172004, 4096, IPC_CREAT | 0600, NULL);
        assert_true(id >= 0);
        used = 1;
    }
    rewind(f);
    fprintf(f, "%zu\n", used);
    fflush(f);

    struct composer c = { 0 };
    assert_int_equal(pipe2(c.ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(c.release, O_CLOEXEC), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, composer_main, &c), 0);
    char x;
    assert_int_equal(read(c.ready[0], &x, 1), 1);
    size_t before = log_count("kernel.shmmni is exhausted");
    pid_t pid = fork();
    if (pid == 0) {
        int r = sg_shmget(0x5a172005, 4096, IPC_CREAT | 0600, NULL);
        _exit(r == -1 && errno == ENOSPC ? 0 : 1);
    }
    int st = 0, rc = wait_pid_ms(pid, 10000, &st);
    if (rc != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    assert_int_equal(write(c.release[1], "x", 1), 1);
    pthread_join(t, NULL);
    rewind(f);
    fputs(old, f);
    fclose(f);
    if (id >= 0)
        sg_shmctl(id, IPC_RMID, NULL);
    for (int i = 0; i < 4; i++) {
        close(i < 2 ? c.ready[i] : c.release[i - 2]);
    }
    assert_int_equal(c.took, 1);
    if (rc != 0)
        fail_msg("the child hung after fork (another thread was composing a diagnosis)");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (log_count("kernel.shmmni is exhausted") != before + 1)
        fail_msg("the child's limit failure went unexplained: it inherited the parent's "
                 "composing flag held (log: %s)", g_log);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", sgt_ledger_dir());
    setenv("SHMGUARD_LEDGER", g_dir, 1);
    snprintf(g_log, sizeof g_log, "%s.log", g_dir);
    setenv("SHMGUARD_LOG", g_log, 1);
    unsetenv("SHMGUARD_MODE");
    sg_init(); /* what a hook does first: setup and the fork handlers */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_while_local_lock_held),
        cmocka_unit_test(test_fork_while_ledger_lock_held),
        cmocka_unit_test(test_fork_during_inflight_shmat),
        cmocka_unit_test(test_fork_while_diag_composes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sgt_clear_ipc();
    sgt_rmdir(g_dir);
    unlink(g_log);
    return rc;
}
