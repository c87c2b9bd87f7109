/*
 * test_tool_run.c - `shmguard run`: the command runs with the library
 * preloaded (found next to the tool, or in ../lib of an installed
 * layout), after any LD_PRELOAD the user had, with --mode and --ledger
 * passed on, and with its own exit status.  A tool without a library
 * nearby says so in one line.
 */
#include "sgtest.h"

#include <dlfcn.h>

#include "sg_proc.h"

static struct sgt_result res;
static char dir[PATH_MAX];
static char tmp[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    snprintf(tmp, sizeof tmp, "%s", sgt_ledger_dir());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sgt_clear_ipc();
    sgt_rmdir(dir);
    sgt_rmdir(tmp);
    return 0;
}

/* The library path the tool will pick: next to it, resolved. */
static const char *lib_path(void)
{
    static char p[PATH_MAX];
    if (!realpath(SGT_LIB, p))
        abort();
    return p;
}

static void run_sh(char *const env[], const char *opt1, const char *opt2, const char *script)
{
    char *argv[12];
    int n = 0;
    argv[n++] = (char *)SGT_TOOL;
    argv[n++] = "run";
    if (opt1)
        argv[n++] = (char *)opt1;
    if (opt2)
        argv[n++] = (char *)opt2;
    argv[n++] = "--";
    argv[n++] = "/bin/sh";
    argv[n++] = "-c";
    argv[n++] = (char *)script;
    argv[n] = NULL;
    sgt_run(&res, argv, env, 30);
}

static void test_exit_status_and_env(void **state)
{
    (void)state;
    char *env[] = { "LD_PRELOAD=", "SHMGUARD_MODE=", "SHMGUARD_LEDGER=", NULL };
    run_sh(env, NULL, NULL, "printf '%s|%s|%s' \"$LD_PRELOAD\" \"${SHMGUARD_MODE-unset}\" \"${SHMGUARD_LEDGER-unset}\"; exit 7");
    assert_true(sgt_exited(&res, 7));
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s|unset|unset", lib_path());
    assert_string_equal(res.out, want);

    /* The user's own preload stays first; ours is appended once.  (In an
     * ASan build the tool itself needs the ASan runtime first: that is
     * then the user's preload.) */
    const char *user_lib = "libm.so.6";
#if defined(__SANITIZE_ADDRESS__)
    Dl_info di;
    void *asan = dlsym(RTLD_DEFAULT, "__asan_init");
    if (asan && dladdr(asan, &di) && di.dli_fname)
        user_lib = di.dli_fname;
#endif
    char env2_pre[PATH_MAX + 32];
    snprintf(env2_pre, sizeof env2_pre, "LD_PRELOAD=%s", user_lib);
    char *env2[] = { env2_pre, NULL };
    run_sh(env2, "--mode", "observe", "printf '%s|%s' \"$LD_PRELOAD\" \"$SHMGUARD_MODE\"");
    assert_true(sgt_exited(&res, 0));
    snprintf(want, sizeof want, "%s %s|observe", user_lib, lib_path());
    assert_string_equal(res.out, want);
    char env3_pre[PATH_MAX + 32];
    snprintf(env3_pre, sizeof env3_pre, "LD_PRELOAD=%s", lib_path());
    char *env3[] = { env3_pre, NULL };
    run_sh(env3, NULL, NULL, "printf '%s' \"$LD_PRELOAD\"");
    assert_string_equal(res.out, lib_path());

    /* A relative --ledger becomes absolute (the library wants one). */
    run_sh(env, "--ledger=rel/dir", NULL, "printf '%s' \"$SHMGUARD_LEDGER\"");
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/rel/dir", cwd);
    assert_string_equal(res.out, want);

    /* A signal ends the command as it would without shmguard. */
    run_sh(env, NULL, NULL, "kill -TERM $$");
    assert_true(res.status != -1 && WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGTERM);
}

/* The command really carries the library: what it creates is recorded in
 * the ledger given with --ledger. */
static void test_library_is_active(void **state)
{
    (void)state;
    char led[PATH_MAX + 16];
    snprintf(led, sizeof led, "--ledger=%s", dir);
    char *env[] = { "LD_PRELOAD=", "SHMGUARD_LEDGER=", NULL };
    char script[PATH_MAX * 2];
    snprintf(script, sizeof script, "printf 'create 0x7a000001 4096\\n' | %s", SGT_HELPER("helper_actor"));
    run_sh(env, led, NULL, script);
    assert_true(sgt_exited(&res, 0));
    if (!strstr(res.out, "preload=1") || !strstr(res.out, "ok id="))
        fail_msg("helper_actor under shmguard run: %s / %s", res.out, res.err);
    int id = atoi(strstr(res.out, "ok id=") + 6);
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    struct sg_seg *r = sg_seg_find(&L, SG_KIND_SHM, id);
    assert_non_null(r);
    assert_true(r->flags & SG_SEG_CREATOR);
    assert_int_equal((uint32_t)r->key, 0x7a000001u);
    sg_ledger_close(&L);
}

/* Copy a file (the tool or the library) to dst with mode. */
static void copy_file(const char *src, const char *dst, mode_t mode)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static void test_installed_layout_and_missing_library(void **state)
{
    (void)state;
    char bin[PATH_MAX + 32], libdir[PATH_MAX + 32], tool[PATH_MAX + 64], lib[PATH_MAX + 64];
    snprintf(bin, sizeof bin, "%s/bin", tmp);
    snprintf(libdir, sizeof libdir, "%s/lib", tmp);
    snprintf(tool, sizeof tool, "%s/shmguard", bin);
    snprintf(lib, sizeof lib, "%s/libshmguard.so", libdir);
    assert_int_equal(mkdir(bin, 0755), 0);
    copy_file(SGT_TOOL, tool, 0755);

    char *env[] = { "LD_PRELOAD=", NULL };
    char *argv[] = { tool, "run", "/bin/sh", "-c", "printf '%s' \"$LD_PRELOAD\"", NULL };
    sgt_run(&res, argv, env, 30);
    assert_true(sgt_exited(&res, 1));
    assert_string_equal(res.out, "");
    if (!strstr(res.err, "shmguard: run: cannot find libshmguard.so: looked for ") ||
        strchr(res.err, '\n') != res.err + strlen(res.err) - 1)
        fail_msg("missing library: %s", res.err);

    assert_int_equal(mkdir(libdir, 0755), 0);
    copy_file(SGT_LIB, lib, 0755);
    sgt_run(&res, argv, env, 30);
    assert_true(sgt_exited(&res, 0));
    char want[PATH_MAX];
    assert_non_null(realpath(lib, want));
    assert_string_equal(res.out, want);
}

/* A program the library cannot be loaded into is named (issue: `run`
 * said nothing, and the run recorded nothing).  Debian's ldconfig is
 * statically linked; a dynamic program gets no note. */
static void test_unobservable_named(void **state)
{
    (void)state;
    char *env[] = { "LD_PRELOAD=", NULL };
    if (access("/sbin/ldconfig", X_OK) == 0) {
        char *argv[] = { (char *)SGT_TOOL, "run", "--", "/sbin/ldconfig", "--version", NULL };
        sgt_run(&res, argv, env, 30);
        ASSERT_HAS(res.err, "statically linked");
    }
    char *dyn[] = { (char *)SGT_TOOL, "run", "--", "true", NULL };
    sgt_run(&res, dyn, env, 30);
    assert_true(sgt_exited(&res, 0));
    ASSERT_LACKS(res.err, "note:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status_and_env),
        cmocka_unit_test(test_library_is_active),
        cmocka_unit_test(test_installed_layout_and_missing_library),
        cmocka_unit_test(test_unobservable_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
