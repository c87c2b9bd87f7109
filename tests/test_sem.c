/*
 * test_sem.c - System V semaphore sets under the library, across real
 * processes: who created a set, who uses it (lookup by key, fork, by id),
 * what SIGKILL leaves, pid reuse, a user the ledger never saw, and the
 * tool's verdicts (ls, gc, check) and the library's limit messages.
 *
 * Every process here is a helper_actor driven over a pipe (actor.h), with
 * or without the library; the ledger is read back with the core API and
 * the tool is run as a separate program.  The semaphore limits are changed
 * only inside this test's private IPC namespace, and restored.
 */
#include "sgtest.h"
#include "actor.h"

#include "sg_analysis.h"

/* ---- views of the ledger ------------------------------------------------- */

static const struct sg_seg *sem_rec(const struct sg_ledger *L, int id)
{
    const struct sg_seg *found = NULL;
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++) {
        const struct sg_seg *s = &L->seg[i];
        if (s->state == SG_REC_LIVE && s->kind == SG_KIND_SEM && s->id == id) {
            assert_null(found);
            found = s;
        }
    }
    return found;
}

static const struct sg_user *user_rec(const struct sg_ledger *L, int id, pid_t pid)
{
    const struct sg_user *found = NULL;
    for (uint32_t i = 0; i < L->hdr->user_cap; i++) {
        const struct sg_user *u = &L->users[i];
        if (u->state == SG_REC_LIVE && u->id == id && u->kind == SG_KIND_SEM && u->pid == pid) {
            assert_null(found);
            found = u;
        }
    }
    return found;
}

static int set_exists(int id)
{
    struct semid_ds ds;
    return semctl(id, 0, IPC_STAT, &ds) == 0;
}

/* Run the tool with --dir and capture its output. */
static struct sgt_result res;

static void tool(const char *a1, const char *a2, const char *a3)
{
    char *argv[] = { (char *)SGT_TOOL, (char *)a1, "--dir", g_dir, (char *)a2, (char *)a3, NULL };
    if (!a2)
        argv[4] = NULL;
    else if (!a3)
        argv[5] = NULL;
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
}

static int id_of(const char *reply)
{
    return (int)kvx(reply, "id");
}

/* ---- creation, lookup, use by id ----------------------------------------- */

static void test_create_lookup_byid(void **state)
{
    (void)state;
    struct actor *a = actor_start(1), *b = actor_start(1), *c = actor_start(1);
    struct actor *bare = actor_start(0);
    int id = id_of(DO(a, "semcreate 0x5e0a0001 2"));

    struct sg_ledger L;
    load(&L);
    const struct sg_seg *r = sem_rec(&L, id);
    assert_non_null(r);
    assert_true(r->flags & SG_SEG_CREATOR);
    assert_int_equal(r->cr_pid, a->pid);
    assert_int_equal(r->cr_start, a->start);
    assert_int_equal(r->nsems, 2);
    assert_int_equal((uint32_t)r->key, 0x5e0a0001u);
    assert_string_equal(r->cr_comm, "helper_actor");
    assert_non_null(strstr(r->site_obj, "helper_actor"));
    assert_int_equal(r->kcuid, geteuid());
    assert_null(user_rec(&L, id, a->pid)); /* the creator is not also a user */
    sg_ledger_close(&L);

    /* The same create-or-open call from B finds A's set: same id, and B
     * is a user, not a second creator. */
    assert_int_equal(id_of(DO(b, "semcreate 0x5e0a0001 2")), id);
    /* Errors as bare: EEXIST, EINVAL (more semaphores than the set has),
     * ENOENT. */
    assert_string_equal(actor_do(b, 0, 20000, "semexcl 0x5e0a0001 2"), "err errno=17");
    assert_string_equal(actor_do(bare, 0, 20000, "semexcl 0x5e0a0001 2"), "err errno=17");
    assert_string_equal(actor_do(b, 0, 20000, "semlookup 0x5e0a0001 5"), "err errno=22");
    assert_string_equal(actor_do(bare, 0, 20000, "semlookup 0x5e0a0001 5"), "err errno=22");
    assert_string_equal(actor_do(b, 0, 20000, "semlookup 0x5e0a0002 1"), "err errno=2");
    /* C never looks the key up: it operates on the id. */
    DO(c, "semop %d", id);
    /* A set made by a process without the library is not recorded. */
    int bid = id_of(DO(bare, "semcreate 0x5e0a0003 1"));

    load(&L);
    r = sem_rec(&L, id);
    assert_non_null(r);
    assert_int_equal(r->cr_pid, a->pid);
    const struct sg_user *u = user_rec(&L, id, b->pid);
    assert_non_null(u);
    assert_true(sgt_marks(u->start, b->start));
    assert_true(u->flags & SG_USE_LOOKUP);
    u = user_rec(&L, id, c->pid);
    assert_non_null(u);
    assert_true(u->flags & SG_USE_BYID);
    assert_null(sem_rec(&L, bid));
    sg_ledger_close(&L);

    /* The creator leaves; the set is in use while B and C live. */
    actor_exit(a);
    tool("ls", "--sem", NULL);
    assert_true(sgt_exited(&res, 0));
    char want[64];
    snprintf(want, sizeof want, "%d,%d", b->pid, c->pid);
    char want2[64];
    snprintf(want2, sizeof want2, "%d,%d", c->pid, b->pid);
    if (!strstr(res.out, want) && !strstr(res.out, want2))
        fail_msg("ls --sem does not list users %d and %d:\n%s", b->pid, c->pid, res.out);
    ASSERT_HAS(res.out, "in-use");
    ASSERT_HAS(res.out, "unknown"); /* the bare set */
    tool("gc", NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "in use: 2 of its 2 recorded users are alive");
    ASSERT_HAS(res.out, "unknown: made without the library");
    assert_true(set_exists(id));
    assert_true(set_exists(bid));

    /* A normal exit drops a user's record. */
    actor_exit(b);
    load(&L);
    assert_null(user_rec(&L, id, b->pid));
    assert_non_null(user_rec(&L, id, c->pid));
    sg_ledger_close(&L);

    /* IPC_RMID through the library forgets the set and its users. */
    DO(c, "semrmid %d", id);
    load(&L);
    assert_null(sem_rec(&L, id));
    assert_null(user_rec(&L, id, c->pid));
    sg_ledger_close(&L);
}

/* ---- fork, exit, SIGKILL, gc --------------------------------------------- */

static void test_fork_and_sigkill(void **state)
{
    (void)state;
    struct actor *a = actor_start(1);
    int id = id_of(DO(a, "semcreate 0 1"));

    /* A child inherits the set and is recorded as its user. */
    const char *rep = DO(a, "fork");
    pid_t child = (pid_t)kvx(rep, "pid");
    unsigned long long cstart = kvx(rep, "start");
    struct sg_ledger L;
    load(&L);
    const struct sg_user *u = user_rec(&L, id, child);
    assert_non_null(u);
    assert_true(u->flags & SG_USE_INHERITED);
    assert_true(sgt_marks(u->start, cstart));
    sg_ledger_close(&L);
    DO(a, "semop %d", id); /* answered by the child */
    /* Its normal exit drops the record. */
    assert_int_equal(write(a->in, "exit 0\n", 7), 7);
    char line[256];
    assert_int_equal(actor_line(a, line, sizeof line, 20000), 0);
    ASSERT_HAS(line, "reaped");
    load(&L);
    assert_null(user_rec(&L, id, child));
    sg_ledger_close(&L);

    /* A child killed with SIGKILL stays recorded, and dead. */
    rep = DO(a, "fork");
    child = (pid_t)kvx(rep, "pid");
    assert_int_equal(kill(child, SIGKILL), 0);
    assert_int_equal(actor_line(a, line, sizeof line, 20000), 0);
    ASSERT_HAS(line, "reaped");
    load(&L);
    assert_non_null(user_rec(&L, id, child));
    sg_ledger_close(&L);
    tool("ls", "--sem", NULL);
    char want[64];
    snprintf(want, sizeof want, "%d(dead)", child);
    ASSERT_HAS(res.out, want);

    /* The creator alive keeps it. */
    tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "in use: its creator pid");
    assert_true(set_exists(id));

    /* Everyone dead: orphaned, and gc frees exactly it. */
    actor_sigkill(a);
    tool("ls", "--sem", NULL);
    ASSERT_HAS(res.out, "orphaned");
    tool("gc", "--dry-run", NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "would remove semid");
    ASSERT_HAS(res.out, "its 1 recorded user are dead");
    assert_true(set_exists(id));
    tool("gc", NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "Removed 1 semaphore set, kept 0.");
    assert_false(set_exists(id));
    load(&L);
    assert_null(sem_rec(&L, id));
    assert_null(user_rec(&L, id, child));
    sg_ledger_close(&L);
}

/* ---- pid reuse ------------------------------------------------------------ */

/* Open the test's own ledger for writing, locked. */
static void edit_open(struct sg_ledger *L)
{
    char err[PATH_MAX + 256];
    if (sg_ledger_open_own(L, g_dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    assert_int_equal(sg_ledger_lock(L), 0);
}

static void test_pid_reuse(void **state)
{
    (void)state;
    struct actor *a = actor_start(1);
    int id = id_of(DO(a, "semcreate 0 1"));
    actor_sigkill(a);

    /* The creator's pid and a user's pid now name live processes (this
     * test), which started at other times: both are still dead. */
    struct sg_ledger L;
    edit_open(&L);
    struct sg_seg *r = sg_seg_find(&L, SG_KIND_SEM, id);
    assert_non_null(r);
    r->cr_pid = getpid();
    struct sg_user nu = { .kind = SG_KIND_SEM, .id = id, .pid = getppid(), .pidns = sg_pidns_self(),
                          .start = 12345, .flags = SG_USE_BYID };
    assert_non_null(sg_user_put(&L, &nu));
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
    tool("gc", "--dry-run", NULL);
    ASSERT_HAS(res.out, "would remove semid");

    /* A user record that names a live process with its true start time
     * keeps the set. */
    edit_open(&L);
    struct sg_user *pu = sg_user_find(&L, SG_KIND_SEM, id, getppid(), sg_pidns_self());
    assert_non_null(pu);
    pu->start = proc_start(getppid());
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
    tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "in use: 1 of its 1 recorded user is alive");
    assert_true(set_exists(id));
}

/* ---- a user the ledger never saw ----------------------------------------- */

static void test_unrecorded_user(void **state)
{
    (void)state;
    struct actor *a = actor_start(1), *bare = actor_start(0);
    int id = id_of(DO(a, "semcreate 0 1"));
    actor_sigkill(a);
    /* A process without the library operates on the set: the kernel's
     * GETPID names it, and it started before that operation. */
    DO(bare, "semop %d", id);
    tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "changed one of its semaphores last");
    assert_true(set_exists(id));
    actor_sigkill(bare);
    tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "Removed 1 semaphore set");
    assert_false(set_exists(id));
}

/* ---- check ------------------------------------------------------------------ */

static void test_check_reports_sets(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "printf 'semcreate 0 3\\nsemcreate 0x5e0a0c01 1\\n' | %s", g_helper);
    char *argv[] = { (char *)SGT_TOOL, "check", "--", "sh", "-c", cmd, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
    if (!sgt_exited(&res, 99))
        fail_msg("check did not exit 99:\n%s\n%s", res.out, res.err);
    ASSERT_HAS(res.err, "Leaked semaphore set");
    ASSERT_HAS(res.err, "key IPC_PRIVATE, 3 semaphores, orphaned");
    ASSERT_HAS(res.err, "key 0x5e0a0c01, 1 semaphore, orphaned");
    ASSERT_HAS(res.err, "(helper_actor, uid");
    ASSERT_HAS(res.err, "at call_semget");
    ASSERT_HAS(res.err, "2 semaphore sets leaked");
    char *argv2[] = { (char *)SGT_TOOL, "check", "--cleanup", "--", "sh", "-c", cmd, NULL };
    sgt_run(&res, argv2, env, 60);
    assert_true(sgt_exited(&res, 99));
    ASSERT_HAS(res.err, "removed (--cleanup)");
    /* Two leaks removed by the harness, two from the first run left. */
    struct sg_ksemsnap s;
    assert_int_equal(sg_ksemsnap_read(&s), 0);
    assert_int_equal(s.n, 2);
    sg_ksemsnap_free(&s);
}

/* ---- limit messages ----------------------------------------------------- */

static void set_sem(const char *v)
{
    FILE *f = fopen("/proc/sys/kernel/sem", "w");
    assert_non_null(f);
    fprintf(f, "%s\n", v);
    assert_int_equal(fclose(f), 0);
}

static char saved_sem[128];

static int setup_limits(void **state)
{
    FILE *f = fopen("/proc/sys/kernel/sem", "r");
    if (!f || !fgets(saved_sem, sizeof saved_sem, f))
        return -1;
    fclose(f);
    return setup(state);
}

static int teardown_limits(void **state)
{
    set_sem(saved_sem);
    return teardown(state);
}

static void test_diag_semmni(void **state)
{
    (void)state;
    struct actor *a = actor_start(1), *b = actor_start(1);
    DO(a, "semcreate 0 1");
    DO(a, "semcreate 0 1");
    actor_sigkill(a);
    set_sem("250 32000 32 2");
    const char *rep = actor_do(b, 0, 20000, "semcreate 0 1");
    assert_string_equal(rep, "err errno=28"); /* unchanged for the program */
    char err[8192];
    actor_stderr(b, err, sizeof err);
    ASSERT_HAS(err, "semget(key=IPC_PRIVATE, nsems=1, flags=IPC_CREAT|0600) failed with ENOSPC");
    ASSERT_HAS(err, "not a full disk");
    ASSERT_HAS(err, "kernel.sem SEMMNI");
    ASSERT_HAS(err, "2 of 2 sets in use");
    ASSERT_HAS(err, "helper_actor (uid");
    ASSERT_HAS(err, "Orphaned: 2 sets");
    ASSERT_HAS(err, "shmguard gc --dry-run, then shmguard gc");
    ASSERT_HAS(err, "sysctl -w kernel.sem=\"250 32000 32 16\""); /* at least 16 */
    /* The event ring has it, with its class and figures. */
    struct sg_ledger L;
    load(&L);
    int found = 0;
    for (uint32_t i = 0; i < SG_EV_CAP; i++) {
        const struct sg_event *e = &L.ev[i];
        if (e->state == SG_REC_LIVE && e->kind == SG_KIND_SEM && e->limit == SG_LIM_SEMMNI &&
            e->err == ENOSPC && e->used == 2 && e->max == 2 && e->pid == b->pid)
            found = 1;
    }
    assert_true(found);
    sg_ledger_close(&L);
    /* gc frees them, and the same call then succeeds. */
    tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "Removed 2 semaphore sets");
    DO(b, "semcreate 0 1");
}

/* EEXIST says a word only when the key's holder is an orphan; with a
 * live holder (the routine create-exclusive race) nothing is written. */
static void test_diag_eexist(void **state)
{
    (void)state;
    struct actor *a = actor_start(1), *b = actor_start(1), *c = actor_start(1);
    DO(a, "semcreate 0x5e0a0e01 1");
    /* More of them than the rate limit's burst (5): they must not use it
     * up, or the orphan's message below would be suppressed. */
    for (int i = 0; i < 8; i++)
        assert_string_equal(actor_do(b, 0, 20000, "semexcl 0x5e0a0e01 1"), "err errno=17");
    char err[8192];
    actor_stderr(b, err, sizeof err);
    ASSERT_LACKS(err, "shmguard[");
    actor_sigkill(a);
    assert_string_equal(actor_do(c, 0, 20000, "semexcl 0x5e0a0e01 1"), "err errno=17");
    actor_stderr(c, err, sizeof err);
    ASSERT_HAS(err, "semget(key=0x5e0a0e01, nsems=1, flags=IPC_CREAT|IPC_EXCL|0600) failed with EEXIST");
    ASSERT_HAS(err, "is held by semaphore set");
    ASSERT_HAS(err, "an orphan");
    ASSERT_HAS(err, "shmguard gc --dry-run, then shmguard gc");
    /* A repeated lookup by a process that already uses the set is answered
     * as bare and keeps its one user record. */
    int id = id_of(DO(b, "semlookup 0x5e0a0e01 1"));
    assert_int_equal(id_of(DO(b, "semlookup 0x5e0a0e01 1")), id);
    struct sg_ledger L;
    load(&L);
    assert_non_null(user_rec(&L, id, b->pid));
    sg_ledger_close(&L);
}

static void test_diag_semmns_semmsl(void **state)
{
    (void)state;
    struct actor *a = actor_start(1);
    DO(a, "semcreate 0 3");
    set_sem("4 4 32 100");
    assert_string_equal(actor_do(a, 0, 20000, "semcreate 0 2"), "err errno=28");
    assert_string_equal(actor_do(a, 0, 20000, "semcreate 0 5"), "err errno=22");
    char err[8192];
    actor_stderr(a, err, sizeof err);
    ASSERT_HAS(err, "kernel.sem SEMMNS");
    ASSERT_HAS(err, "3 of 4 in use, this call needs 2 more");
    ASSERT_HAS(err, "No orphaned sets: each has a live creator or user.");
    ASSERT_HAS(err, "5 semaphores in one set is above the System V limit kernel.sem SEMMSL");
    ASSERT_HAS(err, "sysctl -w kernel.sem=\"5 4 32 100\"");
}

/* More than 64 sets in one process (issue: past its inline list the use
 * of the others was not recorded and a forked child was not credited with
 * them: gc removed sets 64-69 while the child was blocked on the last, and
 * its semop returned EIDRM). */
static void test_many_sets(void **state)
{
    (void)state;
    char ledger[PATH_MAX + 32], pre[PATH_MAX + 32];
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", g_dir);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
    char *env[] = { pre, ledger, NULL };
    char *argv[] = { (char *)SGT_HELPER("helper_manysets"), "70", NULL };
    sgt_run(&res, argv, env, 60);
    int child = -1, first = -1, last = -1;
    assert_int_equal(sscanf(res.out, "child %d first %d last %d", &child, &first, &last), 3);
    tool("gc", NULL, NULL);
    int kept = 0;
    for (int id = first; id <= last; id++)
        kept += set_exists(id);
    if (!set_exists(last) || kept != 70)
        fail_msg("gc removed %d of the 70 sets a live child inherited (the last: %s):\n%s",
                 70 - kept, set_exists(last) ? "kept" : "removed", res.out);
    assert_int_equal(kill(child, 0), 0); /* still blocked, not woken by EIDRM */
    kill(child, SIGKILL);
    for (int i = 0; i < 200 && kill(child, 0) == 0; i++)
        usleep(10000);
    tool("gc", NULL, NULL); /* now orphans: the creator and its child are dead */
    for (int id = first; id <= last; id++)
        assert_false(set_exists(id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_lookup_byid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_and_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrecorded_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_reports_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diag_semmni, setup_limits, teardown_limits),
        cmocka_unit_test_setup_teardown(test_diag_semmns_semmsl, setup_limits, teardown_limits),
        cmocka_unit_test_setup_teardown(test_diag_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_sets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
