/*
 * test_config.c - the library's configuration as a process reads it from
 * its environment (sg_config.c reads environ by hand): the values taken,
 * the first of two entries of a name, names that only share a prefix,
 * malformed values, none at all, and a secure (set-user-ID) process,
 * which must read none, as secure_getenv(3) would.
 */
#include "sgtest.h"

#include <sys/mount.h>

#include "sg_config.h"
#include <sys/statvfs.h>

/* Run helper_config (path, with arguments a1 and a2 unless NULL) with
 * exactly the environment env; its one line of output into out. */
static void run_env_args(const char *path, const char *a1, const char *a2, char *const env[],
                         char *out, size_t n)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        dup2(p[1], 1);
        char *argv[] = { (char *)path, (char *)a1, (char *)a2, NULL };
        execve(path, argv, env);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(p[0], out + got, n - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(p[0]);
    int st;
    assert_int_equal(waitpid(c, &st, 0), c);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void run_env(const char *path, char *const env[], char *out, size_t n)
{
    run_env_args(path, NULL, NULL, env, out, n);
}

static void test_values_taken(void **state)
{
    (void)state;
    char out[8192];
    char *env[] = { "PATH=/bin", "SHMGUARD_MODE=observe", "SHMGUARD_DEBUG=2",
                    "SHMGUARD_LEDGER=/run/x", "SHMGUARD_LOG=/var/log/sg.log", NULL };
    run_env(SGT_HELPER("helper_config"), env, out, sizeof out);
    ASSERT_HAS(out, "secure=0 mode=observe sink=2 debug=2 ledger=/run/x log=/var/log/sg.log problems=\n");
}

static void test_first_entry_wins(void **state)
{
    (void)state;
    char out[8192];
    char *env[] = { "SHMGUARD_MODEX=off", "SHMGUARD_MOD=off", "XSHMGUARD_MODE=off",
                    "SHMGUARD_MODE=off", "SHMGUARD_MODE=observe", NULL };
    run_env(SGT_HELPER("helper_config"), env, out, sizeof out);
    ASSERT_HAS(out, "off=1 ");
    ASSERT_HAS(out, "mode=off ");
    /* The first one is not off: neither reads off. */
    char *env2[] = { "SHMGUARD_MODE=observe", "SHMGUARD_MODE=off", NULL };
    run_env(SGT_HELPER("helper_config"), env2, out, sizeof out);
    ASSERT_HAS(out, "off=0 ");
    ASSERT_HAS(out, "mode=observe ");
}

static void test_prefix_only(void **state)
{
    (void)state;
    char out[8192];
    char *env[] = { "SHMGUARD_MODEX=off", "SHMGUARD_MOD=off", "XSHMGUARD_MODE=off",
                    "SHMGUARD_=off", "SHMGUARD_MODE", NULL };
    run_env(SGT_HELPER("helper_config"), env, out, sizeof out);
    ASSERT_HAS(out, "off=0 ");
    ASSERT_HAS(out, "mode=defer sink=0 debug=0 ledger=" SG_LEDGER_DIR_DEFAULT " log=- problems=\n");
    char *env2[] = { "SHMGUARD_MODE=offx", NULL };
    run_env(SGT_HELPER("helper_config"), env2, out, sizeof out);
    ASSERT_HAS(out, "off=0 ");
    char *env3[] = { "SHMGUARD_MODE=of", NULL };
    run_env(SGT_HELPER("helper_config"), env3, out, sizeof out);
    ASSERT_HAS(out, "off=0 ");
}

static void test_malformed(void **state)
{
    (void)state;
    char out[8192];
    char *env[] = { "SHMGUARD_MODE=on", "SHMGUARD_DEBUG=9", "SHMGUARD_LEDGER=relative", NULL };
    run_env(SGT_HELPER("helper_config"), env, out, sizeof out);
    ASSERT_HAS(out, "mode=defer sink=0 debug=0 ledger=" SG_LEDGER_DIR_DEFAULT);
    ASSERT_HAS(out, "SHMGUARD_MODE must be off, observe or defer");
    ASSERT_HAS(out, "SHMGUARD_DEBUG must be 0, 1, 2 or 3");
    ASSERT_HAS(out, "SHMGUARD_LEDGER must be an absolute directory path");
}

static void test_none(void **state)
{
    (void)state;
    char out[8192];
    char *env[] = { NULL };
    run_env(SGT_HELPER("helper_config"), env, out, sizeof out);
    ASSERT_HAS(out, "secure=0 mode=defer sink=0 debug=0 ledger=" SG_LEDGER_DIR_DEFAULT " log=- problems=\n");
}

/* A set-user-ID copy of the helper (owner 65534), run by root: the
 * kernel marks it secure, and it must read nothing of SHMGUARD_*. */
static void test_secure_reads_nothing(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* a sanitizer's runtime will not run set-user-ID */
#endif
    const char *dirs[] = { getenv("SG_TEST_TMP"), "/tmp", "/var/tmp" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        struct statvfs vs;
        if (!dirs[i] || statvfs(dirs[i], &vs) != 0 || (vs.f_flag & ST_NOSUID))
            continue;
        char path[PATH_MAX], cmd[2 * PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/sg-config-suid.%d", dirs[i], (int)getpid());
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", SGT_HELPER("helper_config"), path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(chmod(path, 04755), 0);
        char out[8192];
        char *env[] = { "SHMGUARD_MODE=off", "SHMGUARD_LEDGER=/run/x", "SHMGUARD_DEBUG=3", NULL };
        run_env(path, env, out, sizeof out);
        unlink(path);
        ASSERT_HAS(out, "off=0 secure=1 mode=defer sink=0 debug=0 ledger=" SG_LEDGER_DIR_DEFAULT
                        " log=- problems=\n");
        return;
    }
    skip(); /* every candidate is mounted nosuid */
}

/* Under the library, the mode is read at the first intercepted call, in
 * both directions: a program may turn itself off before it, or back on
 * from an off it started with.  Whether a ledger file appears in the
 * directory tells which mode ran. */
static int ledger_made(const char *start_mode, const char *late_mode)
{
    const char *d = sgt_ledger_dir();
    char out[256], pre[PATH_MAX + 32], led[PATH_MAX + 32], mode[64];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(led, sizeof led, "SHMGUARD_LEDGER=%s", d);
    snprintf(mode, sizeof mode, "SHMGUARD_MODE=%s", start_mode);
    /* ASan (make asan) checks that its runtime comes first; here the
     * library does, preloaded. */
    char *env[] = { pre, led, "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0",
                    start_mode ? mode : NULL, NULL };
    run_env_args(SGT_HELPER("helper_config"), "late", late_mode, env, out, sizeof out);
    ASSERT_HAS(out, "late ok");
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.ledger$'", d);
    int made = system(cmd) == 0;
    sgt_rmdir(d);
    return made;
}

static void test_mode_at_first_call(void **state)
{
    (void)state;
    assert_false(ledger_made("off", "off"));
    assert_false(ledger_made(NULL, "off")); /* turned off before its first call */
    assert_false(ledger_made("defer", "off"));
    assert_true(ledger_made("off", "defer")); /* back on before it */
    assert_true(ledger_made("off", ""));
    assert_true(ledger_made(NULL, "defer")); /* the control */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_taken),     cmocka_unit_test(test_first_entry_wins),
        cmocka_unit_test(test_prefix_only),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_none),             cmocka_unit_test(test_secure_reads_nothing),
        cmocka_unit_test(test_mode_at_first_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
