/*
 * test_lockkill.c - a process killed with SIGKILL while it holds the ledger
 * lock must not stop the others.
 *
 * The ledger's lock is a robust, process-shared mutex inside the ledger
 * file.  helper_actor's `lockhold` mode opens the ledger with the core API
 * (sg_ledger_open_own), takes the lock and leaves the tables half-edited
 * the way a process killed mid-update would (an attachment slot it claimed
 * and never published, a wrong att_live counter, generation odd), and
 * keeps the lock until it is killed.  Carrier processes (helper_actor with
 * the library preloaded) that were waiting for the lock, or that arrive
 * after the holder died, must get on with their shmget/shmat/shmdt within
 * a second (asserted < 1.5 s, CLOCK_MONOTONIC), the next locker must repair
 * the tables (counters recounted, the dead claim freed), and the records
 * of their calls must be right.  Synchronisation is by pipes and by watching
 * /proc/<pid>/syscall for the waiters' futex wait, never by sleeping.
 */
#include "sgtest.h"

#include <inttypes.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include "actor.h"

static unsigned long kernel_nattch(int id)
{
    struct shmid_ds ds;
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    return (unsigned long)ds.shm_nattch;
}

/* Number of the system call pid is blocked in, -1 if running or unknown. */
static long blocked_in(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return -1;
    return strtol(buf, NULL, 10);
}

/* Wait (at most ms) until pid sleeps in futex(2): waiting for the lock.
 * Bounded well under the library's 2 s lock timeout. */
static int wait_futex(pid_t pid, int ms)
{
    uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000u;
    while (now_ns(CLOCK_MONOTONIC) < end) {
        if (blocked_in(pid) == SYS_futex)
            return 0;
        struct timespec ts = { 0, 200 * 1000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* Send a command without reading the reply. */
static void actor_send(struct actor *a, const char *cmd)
{
    size_t n = strlen(cmd);
    assert_int_equal(write(a->in, cmd, n), (ssize_t)n);
    assert_int_equal(write(a->in, "\n", 1), 1);
}

static void actor_reply(struct actor *a, char *line, size_t n, int ms)
{
    if (actor_line(a, line, n, ms) != 0) {
        char err[4096];
        fail_msg("no reply from pid %d; its stderr: %s", (int)a->pid, actor_stderr(a, err, sizeof err));
    }
}

static void no_lock_trouble(const struct actor *a)
{
    char err[8192];
    actor_stderr(a, err, sizeof err);
    if (strstr(err, "lock") || strstr(err, "ledger"))
        fail_msg("pid %d logged ledger trouble: %s", (int)a->pid, err);
}

/* Take the lock in a lockhold actor, with a half-filled claim holding a
 * copy of dup_pid's record. */
static struct actor *start_holder(pid_t dup_pid)
{
    struct actor *H = actor_start(0);
    const char *r = DO(H, "lockhold %d", (int)dup_pid);
    assert_int_equal(kvx(r, "claims"), dup_pid > 0 ? 1 : 0);
    return H;
}

/* Attachment slots in a claimed, unpublished state. */
static int count_claims(const struct sg_ledger *L)
{
    int n = 0;
    for (uint32_t i = 0; i < L->hdr->att_cap; i++)
        n += (L->att[i].state & ~SG_REC_CLAIM_PID) == SG_REC_CLAIM && L->att[i].state != SG_REC_CLAIM;
    return n;
}

/* The claim the holder left is freed by the repair, or, when the holder
 * was still exiting at that instant (it then counts as alive), by the
 * next reconcile: run one (`shmguard ledger --prune` on this test's
 * ledger) if needed, then no claim may be left. */
static void assert_claims_freed(struct sg_ledger *L)
{
    if (count_claims(L) != 0) {
        sg_ledger_close(L);
        char prune[2 * PATH_MAX + 64];
        snprintf(prune, sizeof prune, "SHMGUARD_LEDGER='%s' %s ledger --prune >/dev/null", g_dir,
                 sgt_build_path("shmguard"));
        assert_int_equal(system(prune), 0);
        load(L);
    }
    assert_int_equal(count_claims(L), 0);
}

/* Processes waiting for the lock when its holder is killed. */
static void test_waiters_carry_on(void **state)
{
    (void)state;
    struct actor *P1 = actor_start(1), *P2 = actor_start(1);
    const key_t K = 0x5a171001;
    int id = (int)kvx(DO(P1, "create %d 8192", (int)K), "id");
    uint64_t a1 = kvx(DO(P1, "at %d", id), "addr");
    DO(P2, "nattch %d", id); /* P2 has its ledger open */

    struct actor *H = start_holder(P1->pid);
    /* Attach and detach record without the lock; a lookup whose intent
     * is gone (P1's attach cleared its own) takes it. */
    char cmd[64];
    snprintf(cmd, sizeof cmd, "lookup %d", (int)K);
    actor_send(P1, cmd);
    actor_send(P2, cmd);
    if (wait_futex(P1->pid, 1000) != 0 || wait_futex(P2->pid, 1000) != 0)
        fail_msg("the carriers did not wait for the held ledger lock");

    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    actor_sigkill(H);
    char l1[256], l2[256];
    actor_reply(P1, l1, sizeof l1, 10000);
    actor_reply(P2, l2, sizeof l2, 10000);
    uint64_t dt = now_ns(CLOCK_MONOTONIC) - t0;
    assert_true(strncmp(l1, "ok", 2) == 0);
    assert_true(strncmp(l2, "ok", 2) == 0);
    assert_int_equal((int)kvx(l1, "id"), id);
    assert_int_equal((int)kvx(l2, "id"), id);
    DO(P1, "dt 0x%" PRIx64, a1);
    if (dt >= 1500000000u)
        fail_msg("waiters took %.3f s to carry on after the holder died", dt / 1e9);

    uint64_t a2 = kvx(DO(P2, "at %d", id), "addr");
    const char *r = DO(P1, "cycle %d 4096", (int)K + 1);
    int id2 = (int)kvx(r, "id");
    assert_true(kvx(r, "ns") < 1500000000u);
    assert_int_equal(kernel_nattch(id), 1);

    struct sg_ledger L;
    load(&L);
    check_counters(&L);
    assert_true(L.hdr->repairs >= 1);
    /* P1's detach left no record of P1 behind. */
    assert_claims_freed(&L);
    assert_int_equal(sgt_count_att(&L, P1->pid, -1), 0);
    assert_non_null(att_rec(&L, P2->pid, a2));
    assert_int_equal(sgt_count_att(&L, -1, id), 1);
    const struct sg_seg *s = seg_rec(&L, id);
    assert_non_null(s);
    assert_int_equal(s->cr_pid, P1->pid);
    assert_true(s->flags & SG_SEG_CREATOR);
    s = seg_rec(&L, id2);
    assert_non_null(s);
    assert_int_equal(s->cr_pid, P1->pid);
    assert_int_equal(sgt_count_att(&L, -1, id2), 0);
    sg_ledger_close(&L);

    DO(P2, "dt 0x%" PRIx64, a2);
    no_lock_trouble(P1);
    no_lock_trouble(P2);
    actor_exit(P1);
    actor_exit(P2);
}

/* A lock abandoned by a killed holder, found by a process that comes later. */
static void test_abandoned_lock(void **state)
{
    (void)state;
    struct actor *P1 = actor_start(1);
    const key_t K = 0x5a171003;
    int id = (int)kvx(DO(P1, "create %d 8192", (int)K), "id");
    uint64_t a1 = kvx(DO(P1, "at %d", id), "addr");
    struct actor *H = start_holder(P1->pid);
    actor_sigkill(H);

    struct actor *P3 = actor_start(1);
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    const char *r = DO(P3, "cycle %d 4096", (int)K + 1);
    uint64_t dt = now_ns(CLOCK_MONOTONIC) - t0;
    int id3 = (int)kvx(r, "id");
    if (dt >= 1500000000u)
        fail_msg("shmget/shmat/shmdt took %.3f s after the holder died", dt / 1e9);
    t0 = now_ns(CLOCK_MONOTONIC);
    DO(P1, "dt 0x%" PRIx64, a1);
    dt = now_ns(CLOCK_MONOTONIC) - t0;
    assert_true(dt < 1500000000u);

    struct sg_ledger L;
    load(&L);
    check_counters(&L);
    assert_true(L.hdr->repairs >= 1);
    assert_claims_freed(&L);
    assert_int_equal(sgt_count_att(&L, P1->pid, -1), 0);
    assert_int_equal(sgt_count_att(&L, P3->pid, -1), 0);
    const struct sg_seg *s = seg_rec(&L, id3);
    assert_non_null(s);
    assert_true(s->flags & SG_SEG_CREATOR);
    assert_int_equal(s->cr_pid, P3->pid);
    assert_int_equal(s->cr_start, proc_start(P3->pid));
    s = seg_rec(&L, id);
    assert_non_null(s);
    assert_int_equal(s->cr_pid, P1->pid);
    sg_ledger_close(&L);

    /* And the lock works normally again: a second round is quick too. */
    t0 = now_ns(CLOCK_MONOTONIC);
    DO(P3, "cycle %d 4096", (int)K + 1);
    assert_true(now_ns(CLOCK_MONOTONIC) - t0 < 1500000000u);
    no_lock_trouble(P1);
    no_lock_trouble(P3);
    actor_exit(P1);
    actor_exit(P3);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waiters_carry_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandoned_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
