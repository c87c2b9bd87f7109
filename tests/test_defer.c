/*
 * test_defer.c - deferred IPC_RMID, with exact interleavings forced across
 * real processes (helper_step), SIGKILL at awkward moments, permission
 * parity and a process without the library in the mix.
 *
 * Every scenario is run with the library (defer mode) and, where the point
 * is a difference, bare as well, so the test shows the kernel behaviour it
 * guards against.
 */
#include "step.h"

#include "fixture.h"

static char *obs_env[] = { env_preload, env_ledger, "SHMGUARD_MODE=observe", NULL };


/* Number of pending removals recorded in the ledger. */
static int pending_in_ledger(void)
{
    struct sg_ledger L;
    if (sgt_load_ledger(dir, &L) != 0)
        return -1;
    int n = (int)L.hdr->pending;
    sg_ledger_close(&L);
    return n;
}

/* Live intents of pid in the ledger: for shmid, or for any (shmid < 0). */
static int intents_of(pid_t pid, int shmid)
{
    struct sg_ledger L;
    if (sgt_load_ledger(dir, &L) != 0)
        return -1;
    int n = 0;
    for (uint32_t i = 0; i < L.hdr->intent_cap; i++) {
        const struct sg_intent *x = &L.intent[i];
        n += x->state == SG_REC_LIVE && x->pid == pid && (shmid < 0 || x->shmid == shmid);
    }
    sg_ledger_close(&L);
    return n;
}

/* A removes while B is attached; C, starting later, must find A's segment. */
static void run_staggered_trio(char **env, int *c_id, int *a_id, int *c_val)
{
    struct step a, b, c;
    step_start(&a, env);
    step_start(&b, env);
    *a_id = step_id(step(&a, "get 0x5eed0001 create"));
    assert_true(*a_id >= 0);
    assert_string_equal(step(&a, "at %d", *a_id), "ok");
    assert_string_equal(step(&a, "write %d 6", *a_id), "ok");
    assert_int_equal(step_id(step(&b, "get 0x5eed0001 create")), *a_id);
    assert_string_equal(step(&b, "at %d", *a_id), "ok");
    assert_string_equal(step(&a, "dt %d", *a_id), "ok");
    assert_string_equal(step(&a, "rmid %d", *a_id), "ok");
    step_start(&c, env);
    *c_id = step_id(step(&c, "get 0x5eed0001 create"));
    assert_true(*c_id >= 0);
    assert_string_equal(step(&c, "at %d", *c_id), "ok");
    const char *v = step(&c, "read %d", *c_id);
    *c_val = atoi(v + 4);
    assert_string_equal(step(&c, "dt %d", *c_id), "ok");
    assert_string_equal(step(&c, "rmid %d", *c_id), "ok");
    assert_string_equal(step(&b, "dt %d", *a_id), "ok");
    step_end(&a, "exit");
    step_end(&b, "exit");
    step_end(&c, "exit");
}

static void test_key_stays_resolvable(void **state)
{
    (void)state;
    int c_id, a_id, c_val;
    run_staggered_trio(bare_env, &c_id, &a_id, &c_val);
    assert_int_not_equal(c_id, a_id); /* bare: the kernel made C a new segment */
    assert_int_equal(c_val, 0);
    sgt_clear_ipc();
    run_staggered_trio(lib_env, &c_id, &a_id, &c_val);
    assert_int_equal(c_id, a_id); /* library: same segment, same number */
    assert_int_equal(c_val, 6);
    assert_false(sgt_shm_exists(a_id)); /* removed after the last detach */
    assert_int_equal(pending_in_ledger(), 0);
}

static void test_observe_changes_nothing(void **state)
{
    (void)state;
    int c_id, a_id, c_val;
    run_staggered_trio(obs_env, &c_id, &a_id, &c_val);
    assert_int_not_equal(c_id, a_id);
    assert_int_equal(c_val, 0);
}

/* B looks the key up; A then detaches and removes (nattch is 0!); B's
 * shmat must still reach the segment.  Bare, B's shmat fails. */
static void lookup_remove_attach(char **env, const char **b_at)
{
    struct step a, b;
    static char ans[64];
    step_start(&a, env);
    step_start(&b, env);
    int id = step_id(step(&a, "get 0x5eed0002 create"));
    assert_string_equal(step(&a, "at %d", id), "ok");
    assert_string_equal(step(&a, "write %d 42", id), "ok");
    assert_int_equal(step_id(step(&b, "get 0x5eed0002")), id);
    assert_string_equal(step(&a, "dt %d", id), "ok");
    assert_string_equal(step(&a, "rmid %d", id), "ok");
    snprintf(ans, sizeof ans, "%s", step(&b, "at %d", id));
    *b_at = ans;
    if (!strcmp(ans, "ok")) {
        assert_string_equal(step(&b, "read %d", id), "val 42");
        assert_true(sgt_shm_exists(id));
        assert_string_equal(step(&b, "dt %d", id), "ok");
        assert_false(sgt_shm_exists(id)); /* B's detach completed it */
    }
    step_end(&a, "exit");
    step_end(&b, "exit");
}

static void test_lookup_remove_attach(void **state)
{
    (void)state;
    const char *b_at;
    lookup_remove_attach(bare_env, &b_at);
    assert_string_equal(b_at, "err 22"); /* EINVAL: gone under B's feet */
    lookup_remove_attach(lib_env, &b_at);
    assert_string_equal(b_at, "ok");
}

/* The last detach races a lookup made before the removal: the lookup
 * wins, the removal waits for the newcomer's attach and detach (A's own
 * attachment alone would not have deferred it). */
static void test_last_detach_vs_lookup(void **state)
{
    (void)state;
    struct step a, c;
    step_start(&a, lib_env);
    step_start(&c, lib_env);
    int id = step_id(step(&a, "get 0x5eed0003 create"));
    assert_string_equal(step(&a, "at %d", id), "ok");
    assert_int_equal(step_id(step(&c, "get 0x5eed0003")), id);
    assert_string_equal(step(&a, "rmid %d", id), "ok"); /* pending: C looked it up */
    assert_int_equal(pending_in_ledger(), 1);
    assert_string_equal(step(&a, "stat %d", id), "mode 1600 nattch 1 key 0x5eed0003");
    assert_string_equal(step(&a, "dt %d", id), "ok"); /* nattch 0, C's intent */
    assert_true(sgt_shm_exists(id));
    assert_string_equal(step(&c, "at %d", id), "ok");
    assert_string_equal(step(&c, "dt %d", id), "ok");
    assert_false(sgt_shm_exists(id));
    assert_int_equal(pending_in_ledger(), 0);
    step_end(&a, "exit");
    step_end(&c, "exit");
}

/* Removal while a forked child holds the inherited attachment; a process
 * without the library still resolves the key while it is pending. */
static void test_forked_child_and_bare_process(void **state)
{
    (void)state;
    char fifo[PATH_MAX + 16];
    snprintf(fifo, sizeof fifo, "%s/ctl", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct step p, bare, d;
    step_start(&p, lib_env);
    step_start(&bare, bare_env);
    int id = step_id(step(&p, "get 0x5eed0004 create"));
    assert_string_equal(step(&p, "at %d", id), "ok");
    assert_string_equal(step(&p, "write %d 7", id), "ok");
    const char *ch = step(&p, "fork %s", fifo);
    assert_true(!strncmp(ch, "child ", 6));
    int fd = open(fifo, O_WRONLY); /* the child opened it for reading */
    assert_true(fd >= 0);
    assert_string_equal(step(&p, "dt %d", id), "ok");
    assert_string_equal(step(&p, "rmid %d", id), "ok");
    assert_true(sgt_shm_exists(id)); /* the child still holds it */
    assert_int_equal(step_id(step(&bare, "get 0x5eed0004")), id);
    step_start(&d, lib_env);
    assert_int_equal(step_id(step(&d, "get 0x5eed0004")), id);
    assert_string_equal(step(&d, "at %d", id), "ok");
    assert_string_equal(step(&d, "read %d", id), "val 7");
    assert_int_equal(write(fd, "dt\nexit\n", 8), 8);
    close(fd);
    assert_string_equal(step(&d, "dt %d", id), "ok");
    /* The child's detach and exit may land after D's detach: the next
     * library activity completes the removal. */
    for (int i = 0; i < 200 && sgt_shm_exists(id); i++) {
        usleep(10000);
        step(&d, "stat %d", id);
    }
    assert_false(sgt_shm_exists(id));
    step_end(&p, "exit");
    step_end(&bare, "exit");
    step_end(&d, "exit");
    unlink(fifo);
}

/* SIGKILL of the last attacher; SIGKILL of a process between shmget and
 * shmat: the removal completes at the next library activity, and nothing
 * in use is removed. */
static void test_sigkill_cases(void **state)
{
    (void)state;
    struct step a, b, n;
    step_start(&a, lib_env);
    step_start(&b, lib_env);
    int id = step_id(step(&a, "get 0x5eed0005 create"));
    assert_string_equal(step(&a, "at %d", id), "ok");
    assert_string_equal(step(&b, "rmid %d", id), "ok");
    step_kill(&a); /* the last (only) attacher dies: no user code runs */
    assert_true(sgt_shm_exists(id));
    assert_int_equal(pending_in_ledger(), 1);
    step_start(&n, lib_env);
    step(&n, "get 0x0badbeef create"); /* any library activity */
    assert_false(sgt_shm_exists(id));
    assert_int_equal(pending_in_ledger(), 0);

    /* Between shmget and shmat. */
    struct step c, k;
    step_start(&c, lib_env);
    step_start(&k, lib_env);
    id = step_id(step(&c, "get 0x5eed0006 create"));
    assert_string_equal(step(&c, "at %d", id), "ok");
    assert_int_equal(step_id(step(&k, "get 0x5eed0006")), id); /* intent */
    assert_string_equal(step(&c, "dt %d", id), "ok");
    assert_string_equal(step(&c, "rmid %d", id), "ok");
    assert_true(sgt_shm_exists(id)); /* held back by k's lookup */
    step_kill(&k);
    step(&n, "stat %d", id); /* next activity: k is dead, removal is due */
    assert_false(sgt_shm_exists(id));

    /* Everyone killed: the pending removal waits for the next carrier. */
    struct step x, y;
    step_start(&x, lib_env);
    step_start(&y, lib_env);
    id = step_id(step(&x, "get 0x5eed0007 create"));
    assert_string_equal(step(&x, "at %d", id), "ok");
    assert_int_equal(step_id(step(&y, "get 0x5eed0007")), id);
    assert_string_equal(step(&y, "at %d", id), "ok");
    assert_string_equal(step(&y, "rmid %d", id), "ok");
    step_kill(&x);
    step_kill(&y);
    assert_true(sgt_shm_exists(id));
    assert_int_equal(pending_in_ledger(), 1);
    step(&n, "pid");
    step(&n, "stat %d", id);
    assert_false(sgt_shm_exists(id));
    step_end(&b, "exit");
    step_end(&c, "exit");
    step_end(&n, "exit");
}

/* Another uid's IPC_RMID: EPERM bare and under the library, nothing
 * recorded; a second IPC_RMID on a pending segment returns 0. */
static void test_permissions_and_second_rmid(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok()) {
        skip();
    }
    for (int lib = 0; lib < 2; lib++) {
        struct step a, other;
        step_start(&a, lib ? lib_env : bare_env);
        step_start(&other, lib ? lib_env : bare_env);
        int id = step_id(step(&a, "get 0x5eed0008 create"));
        assert_string_equal(step(&a, "at %d", id), "ok");
        assert_string_equal(step(&other, "setuid 65534"), "ok");
        assert_string_equal(step(&other, "rmid %d", id), "err 1"); /* EPERM */
        assert_string_equal(step(&other, "rmid 99999"), "err 22"); /* EINVAL */
        if (lib)
            assert_int_equal(pending_in_ledger(), 0);
        assert_string_equal(step(&a, "rmid %d", id), "ok");
        assert_string_equal(step(&a, "rmid %d", id), "ok"); /* as on SHM_DEST */
        /* A alone is attached: its own attachment defers nothing, so
         * SHM_DEST and the key private either way. */
        assert_string_equal(step(&a, "stat %d", id), "mode 1600 nattch 1 key 0x0");
        assert_string_equal(step(&a, "dt %d", id), "ok");
        assert_false(sgt_shm_exists(id));
        assert_string_equal(step(&a, "rmid %d", id), "err 22");
        step_end(&a, "exit");
        step_end(&other, "exit");
    }
}

/* A removal across uid domains: root asks for it while only a process of
 * uid 65534 (the segment's creator) is attached.  Bare, the segment goes
 * at that process's detach; under the library too (before, the removal
 * stayed pending in root's ledger until root's next call or exit).  A
 * lookup of root's made before the removal would still hold it back;
 * root's own lookups do not (its IPC_RMID cleared them). */
static void test_removal_across_domains(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok()) {
        skip();
    }
    for (int lib = 0; lib < 2; lib++) {
        struct step root, w;
        step_start(&root, lib ? lib_env : bare_env);
        step_start(&w, lib ? lib_env : bare_env);
        assert_string_equal(step(&w, "setuid 65534"), "ok");
        int id = step_id(step(&w, "get 0x5eed0009 create"));
        assert_string_equal(step(&w, "at %d", id), "ok");
        assert_int_equal(step_id(step(&root, "get 0x5eed0009")), id);
        assert_string_equal(step(&root, "at %d", id), "ok");
        assert_string_equal(step(&root, "dt %d", id), "ok");
        assert_string_equal(step(&root, "rmid %d", id), "ok");
        if (lib)
            assert_int_equal(pending_in_ledger(), 1);
        assert_true(sgt_shm_exists(id));
        assert_string_equal(step(&w, "dt %d", id), "ok"); /* the last detach */
        if (sgt_shm_exists(id))
            fail_msg("%s: the segment outlived its last detach (uid 65534's), root having "
                     "asked for its removal", lib ? "library" : "bare");
        step_end(&root, "exit");
        step_end(&w, "exit");
    }
}

/* IPC_PRIVATE: removed at once even while attached (crash safety). */
/* B looks up more keys than the library lists per process (its shmat
 * clears an intent only for an id listed, or for every id once the list
 * overflowed), then attaches them one by one: each attach clears exactly
 * its own intent, the others keep holding their removals back, and at the
 * end B holds none. */
#define MANY_KEYS 11
static void test_many_intents(void **state)
{
    (void)state;
    struct step a, b;
    step_start(&a, lib_env);
    step_start(&b, lib_env);
    int id[MANY_KEYS];
    for (int k = 0; k < MANY_KEYS; k++) {
        id[k] = step_id(step(&a, "get 0x%x create", 0x5eed0100 + k));
        assert_true(id[k] >= 0);
    }
    for (int k = 0; k < MANY_KEYS; k++)
        assert_int_equal(step_id(step(&b, "get 0x%x", 0x5eed0100 + k)), id[k]);
    assert_int_equal(intents_of(b.pid, -1), MANY_KEYS);
    /* The last key's intent holds A's removal back (nattch is 0). */
    assert_string_equal(step(&a, "rmid %d", id[MANY_KEYS - 1]), "ok");
    assert_true(sgt_shm_exists(id[MANY_KEYS - 1]));
    for (int k = 0; k < MANY_KEYS; k++) {
        assert_string_equal(step(&b, "at %d", id[k]), "ok");
        assert_int_equal(intents_of(b.pid, id[k]), 0);
        assert_int_equal(intents_of(b.pid, -1), MANY_KEYS - 1 - k);
        assert_string_equal(step(&b, "dt %d", id[k]), "ok");
    }
    assert_false(sgt_shm_exists(id[MANY_KEYS - 1])); /* B's detach completed it */
    step_end(&a, "exit");
    step_end(&b, "exit");
}

/* shmat takes the ledger lock to clear an intent only for an id this
 * process left one for: B, still holding an intent for a second key,
 * attaches the first again while the ledger lock is held by someone else.
 * Had it gone for the lock, it would have waited 2 s and logged that the
 * lock was not available; it must answer without touching it. */
static void test_attach_without_intent_skips_lock(void **state)
{
    (void)state;
    char log[PATH_MAX + 32], logenv[PATH_MAX + 48];
    snprintf(log, sizeof log, "%s/b.log", dir);
    snprintf(logenv, sizeof logenv, "SHMGUARD_LOG=%s", log);
    char *b_env[] = { env_preload, env_ledger, "SHMGUARD_MODE=", logenv, NULL };
    struct step a, b;
    step_start(&a, lib_env);
    step_start(&b, b_env);
    int id1 = step_id(step(&a, "get 0x5eed0201 create"));
    int id2 = step_id(step(&a, "get 0x5eed0202 create"));
    assert_true(id1 >= 0 && id2 >= 0);
    assert_int_equal(step_id(step(&b, "get 0x5eed0201")), id1);
    assert_int_equal(step_id(step(&b, "get 0x5eed0202")), id2);
    assert_string_equal(step(&b, "at %d", id1), "ok");
    assert_string_equal(step(&b, "dt %d", id1), "ok");
    assert_int_equal(intents_of(b.pid, id1), 0);
    assert_int_equal(intents_of(b.pid, id2), 1);

    struct sg_ledger L;
    char err[PATH_MAX + 200];
    assert_int_equal(sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    assert_int_equal(sg_ledger_lock(&L), 0);
    assert_string_equal(step(&b, "at %d", id1), "ok");
    assert_string_equal(step(&b, "dt %d", id1), "ok");
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);

    /* id2's intent is still B's, and its attach clears it (with the lock). */
    assert_int_equal(intents_of(b.pid, id2), 1);
    assert_string_equal(step(&b, "at %d", id2), "ok");
    assert_int_equal(intents_of(b.pid, id2), 0);
    assert_string_equal(step(&b, "dt %d", id2), "ok");
    step_end(&a, "exit");
    step_end(&b, "exit");
    FILE *f = fopen(log, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "not available"))
            fail_msg("B waited for the ledger lock: %s", line);
    if (f)
        fclose(f);
}

static void test_private_passes_through(void **state)
{
    (void)state;
    struct step a, b;
    step_start(&a, lib_env);
    step_start(&b, bare_env);
    int id = step_id(step(&a, "get 0 create"));
    assert_string_equal(step(&a, "at %d", id), "ok");
    assert_string_equal(step(&a, "rmid %d", id), "ok");
    assert_string_equal(step(&b, "stat %d", id), "mode 1600 nattch 1 key 0x0");
    assert_int_equal(pending_in_ledger(), 0);
    /* A pending keyed segment (C attached) keeps its key: a process
     * without the library gets EEXIST for IPC_EXCL. */
    struct step c;
    step_start(&c, lib_env);
    int k = step_id(step(&a, "get 0x5eed0009 create"));
    assert_string_equal(step(&a, "at %d", k), "ok");
    assert_int_equal(step_id(step(&c, "get 0x5eed0009")), k);
    assert_string_equal(step(&c, "at %d", k), "ok");
    assert_string_equal(step(&a, "rmid %d", k), "ok");
    assert_string_equal(step(&b, "get 0x5eed0009 create excl"), "err 17");
    step_end(&a, "exit");
    step_end(&b, "exit");
    step_end(&c, "exit");
    assert_false(sgt_shm_exists(id));
    assert_false(sgt_shm_exists(k)); /* C's exit completed the removal */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_key_stays_resolvable, after_each),
        cmocka_unit_test_teardown(test_observe_changes_nothing, after_each),
        cmocka_unit_test_teardown(test_lookup_remove_attach, after_each),
        cmocka_unit_test_teardown(test_last_detach_vs_lookup, after_each),
        cmocka_unit_test_teardown(test_forked_child_and_bare_process, after_each),
        cmocka_unit_test_teardown(test_sigkill_cases, after_each),
        cmocka_unit_test_teardown(test_permissions_and_second_rmid, after_each),
        cmocka_unit_test_teardown(test_removal_across_domains, after_each),
        cmocka_unit_test_teardown(test_private_passes_through, after_each),
        cmocka_unit_test_teardown(test_many_intents, after_each),
        cmocka_unit_test_teardown(test_attach_without_intent_skips_lock, after_each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
