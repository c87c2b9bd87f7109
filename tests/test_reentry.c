/*
 * test_reentry.c - a call made while the library handles another one in
 * the same thread goes straight to libc.
 *
 * helper_signal's SIGALRM handler calls shmget, shmat and shmdt while its
 * main thread is inside the same calls, holding the ledger lock or the
 * local list.  Were the handler's calls handled by the library, they would
 * wait for a lock their own thread holds (the ledger lock gives up after
 * 2 s and says so) or change the local list under the interrupted code.
 * The run must end in time, every call must succeed, and the library must
 * not report a lock it could not take.
 */
#include "sgtest.h"

static void run_mode(const char *mode)
{
    static struct sgt_result r;
    char env_pre[PATH_MAX + 16], env_dir[PATH_MAX + 32], env_mode[64];
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", SGT_LIB);
    const char *dir = sgt_ledger_dir();
    snprintf(env_dir, sizeof env_dir, "SHMGUARD_LEDGER=%s", dir);
    snprintf(env_mode, sizeof env_mode, "SHMGUARD_MODE=%s", mode);
    char *env[] = { env_pre, env_dir, env_mode, NULL };
    char *argv[] = { (char *)SGT_HELPER("helper_signal"), "3", NULL };
    sgt_run(&r, argv, env, 60);
    sgt_rmdir(dir);
    fprintf(stderr, "%s: %s", mode, r.out);
    if (!sgt_exited(&r, 0))
        fail_msg("%s: helper_signal did not succeed (status %d):\n%s%s", mode, r.status, r.out, r.err);
    ASSERT_LACKS(r.err, "not available");
    ASSERT_HAS(r.out, "bad 0+0");
}

static void test_signal_handler_defer(void **state)
{
    (void)state;
    run_mode("defer");
}

static void test_signal_handler_observe(void **state)
{
    (void)state;
    run_mode("observe");
}

/* alarm + siglongjmp out of a blocking semop (helper_jump.c): the
 * thread's later calls still go through the library.  Before, the jump
 * left the thread's "inside the library" mark set, and every later call
 * of that thread went straight to libc: the removal below was not
 * deferred (the key did not resolve), as bare. */
static void test_siglongjmp(void **state)
{
    (void)state;
    static struct sgt_result r;
    char env_pre[PATH_MAX + 16], env_dir[PATH_MAX + 32];
    const char *dir = sgt_ledger_dir();
    snprintf(env_dir, sizeof env_dir, "SHMGUARD_LEDGER=%s", dir);
    char *argv[] = { (char *)SGT_HELPER("helper_jump"), NULL };
    char *bare[] = { "LD_PRELOAD=", env_dir, NULL };
    sgt_run(&r, argv, bare, 60);
    assert_string_equal(r.out, "timedout 1 resolves 0\n");
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", SGT_LIB);
    char *lib[] = { env_pre, env_dir, "SHMGUARD_MODE=defer", NULL };
    sgt_run(&r, argv, lib, 60);
    sgt_rmdir(dir);
    if (strcmp(r.out, "timedout 1 resolves 1\n") != 0)
        fail_msg("after siglongjmp the library no longer handled the thread's calls: %s%s", r.out,
                 r.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_handler_defer),
        cmocka_unit_test(test_signal_handler_observe),
        cmocka_unit_test(test_siglongjmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
