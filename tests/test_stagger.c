/*
 * test_stagger.c - the seed scenario as a stress test (helper_stagger):
 * 8 processes a round with random staggered starts, get -> attach ->
 * read-or-write -> detach -> IPC_RMID.
 *
 * Bare and in observe mode the kernel's IPC_RMID makes the key private
 * while others are attached, and the test must see divergences (proof that
 * it can fail).  In defer mode, 2,000 rounds must show none, no failed
 * shmat, and nothing left over.
 */
#include "sgtest.h"

static int parse(const char *out, const char *field)
{
    const char *p = strstr(out, field);
    return p ? atoi(p + strlen(field)) : -1;
}

static void run(struct sgt_result *r, const char *mode, const char *rounds, const char *dir)
{
    char preload[PATH_MAX + 32], ledger[PATH_MAX + 32], m[64];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", mode ? SGT_LIB : "");
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(m, sizeof m, "SHMGUARD_MODE=%s", mode ? mode : "");
    /* Under ASan, LeakSanitizer's scan at every exit (about 40 ms a
     * process on this machine kind) would make the 16,000 processes of the
     * defer run take ten minutes; leaks are looked for in every other
     * test's processes. */
    char *env[] = { preload, ledger, m, "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };
    const char *ns = geteuid() == 0 ? "--ipc" : "-r";
    char *argv_root[] = { "unshare", "--ipc", (char *)SGT_HELPER("helper_stagger"), (char *)rounds, "8", NULL };
    char *argv_user[] = { "unshare", "-r", "--ipc", (char *)SGT_HELPER("helper_stagger"), (char *)rounds, "8", NULL };
    sgt_run(r, ns[2] == 'i' ? argv_root : argv_user, env, 300);
    fprintf(stderr, "  %-8s %s", mode ? mode : "bare", r->out);
    assert_true(sgt_exited(r, 0));
}

static void test_bare_diverges(void **state)
{
    (void)state;
    static struct sgt_result r;
    const char *dir = sgt_ledger_dir();
    run(&r, NULL, "300", dir);
    assert_true(parse(r.out, "diverged=") > 0);
    run(&r, "observe", "300", dir);
    assert_true(parse(r.out, "diverged=") > 0);
    sgt_rmdir(dir);
}

static void test_defer_never_diverges(void **state)
{
    (void)state;
    static struct sgt_result r;
    const char *dir = sgt_ledger_dir();
    run(&r, "defer", "2000", dir);
    assert_int_equal(parse(r.out, "rounds="), 2000);
    assert_int_equal(parse(r.out, "diverged="), 0);
    assert_int_equal(parse(r.out, "errors="), 0);
    assert_int_equal(parse(r.out, "leftover="), 0);
    assert_string_equal(r.err, ""); /* nothing logged: no lock trouble */
    sgt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bare_diverges),
        cmocka_unit_test(test_defer_never_diverges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
