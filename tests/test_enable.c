/*
 * test_enable.c - `shmguard enable` and `disable` (the systemd drop-in
 * that preloads the library into a service and removes the service's own
 * orphans before each start) and the metrics timer units: the files they
 * write, their defaults (the unit's User=, the service's name), what they
 * refuse, and `systemd-analyze verify` over a service with the drop-in and
 * over the timer units, when systemd-analyze is there.
 */
#include "sgtest.h"

static struct sgt_result res;
static char udir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    snprintf(udir, sizeof udir, "%s", sgt_ledger_dir()); /* any fresh directory */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sgt_rmdir(udir);
    return 0;
}

/* shmguard CMD --unit-dir=udir [a...]; exit status. */
static int run(const char *cmd, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char d[PATH_MAX + 16];
    snprintf(d, sizeof d, "--unit-dir=%s", udir);
    char *argv[] = { (char *)SGT_TOOL, (char *)cmd, d, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 30);
    assert_true(res.status != -1 && WIFEXITED(res.status));
    return WEXITSTATUS(res.status);
}

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_enable_disable(void **state)
{
    (void)state;
    char lib[PATH_MAX], tool[PATH_MAX], path[PATH_MAX + 64], text[8192], want[3 * PATH_MAX];
    assert_non_null(realpath(SGT_LIB, lib));
    assert_non_null(realpath(SGT_TOOL, tool));
    assert_int_equal(run("enable", "apache2", NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/apache2.service.d/shmguard.conf", udir);
    slurp(path, text, sizeof text);
    snprintf(want, sizeof want, "[Service]\nEnvironment=LD_PRELOAD=%s\nExecStartPre=-/usr/bin/env -u "
                                "LD_PRELOAD %s gc --user root --command apache2\n", lib, tool);
    ASSERT_HAS(text, want);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    snprintf(want, sizeof want, "shmguard: apache2.service: wrote %s\n", path);
    ASSERT_HAS(res.out, want);
    ASSERT_HAS(res.out, "run: systemctl daemon-reload && systemctl restart apache2.service\n");

    /* Again: the same file, rewritten; another drop-in beside it stays
     * when it is disabled, and so does the directory. */
    char other[PATH_MAX + 64];
    snprintf(other, sizeof other, "%s/apache2.service.d/local.conf", udir);
    write_file(other, "[Service]\nNice=1\n");
    assert_int_equal(run("enable", "apache2.service", NULL, NULL, NULL), 0);
    assert_int_equal(run("disable", "apache2", NULL, NULL, NULL), 0);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(stat(other, &st), 0);
    ASSERT_HAS(res.out, "removed ");
    ASSERT_HAS(res.out, "run: systemctl daemon-reload && systemctl restart apache2.service\n");
    assert_int_equal(run("disable", "apache2", NULL, NULL, NULL), 0);
    ASSERT_HAS(res.out, "not enabled");
    unlink(other);

    /* Alone, its directory goes with it. */
    assert_int_equal(run("enable", "apache2", NULL, NULL, NULL), 0);
    assert_int_equal(run("disable", "apache2", NULL, NULL, NULL), 0);
    char ddir[PATH_MAX + 32];
    snprintf(ddir, sizeof ddir, "%s/apache2.service.d", udir);
    assert_int_not_equal(stat(ddir, &st), 0);
}

/* Write file (under udir) with text, unless file is NULL; enable the
 * unit; its drop-in must name user and command. */
static void expect_gc_line(const char *file, const char *text, const char *unit, const char *want)
{
    char path[PATH_MAX + 64], got[8192];
    if (file) {
        snprintf(path, sizeof path, "%s/%s", udir, file);
        write_file(path, text);
    }
    assert_int_equal(run("enable", unit, NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/%s.service.d/shmguard.conf", udir, unit);
    slurp(path, got, sizeof got);
    ASSERT_HAS(got, want);
}

static void test_defaults(void **state)
{
    (void)state;
    char unit[PATH_MAX + 64], path[PATH_MAX + 64], text[8192];
    /* User= of the unit (in its [Service] section only). */
    expect_gc_line("worker.service", "[Unit]\nUser=root\n[Service]\nExecStart=/bin/true\nUser=nobody\n",
                   "worker", " gc --user nobody --command worker\n");
    /* Blanks around '=', a drop-in that overrides it, a template's file
     * for an instance, and DynamicUser= refused. */
    expect_gc_line("spaced.service", "[Service]\n  User = nobody \nExecStart=/bin/true\n", "spaced",
                   " gc --user nobody --command spaced\n");
    expect_gc_line("spaced.service.d/10-local.conf", "[Service]\nUser=root\n", "spaced",
                   " gc --user root --command spaced\n");
    expect_gc_line("tpl@.service", "[Service]\nUser=nobody\n", "tpl@one",
                   " gc --user nobody --command tpl\n");
    snprintf(unit, sizeof unit, "%s/dyn.service", udir);
    write_file(unit, "[Service]\nDynamicUser=yes\n");
    assert_int_equal(run("enable", "dyn", NULL, NULL, NULL), 1);
    ASSERT_HAS(res.err, "dyn.service runs under DynamicUser=");
    /* A template's instance: the command is the name up to '@'; options win. */
    assert_int_equal(run("enable", "postgresql@15-main", NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/postgresql@15-main.service.d/shmguard.conf", udir);
    slurp(path, text, sizeof text);
    ASSERT_HAS(text, " gc --user root --command postgresql\n");
    assert_int_equal(run("enable", "postgresql@15-main", "--user=postgres", "--command=postgres", NULL),
                     0);
    slurp(path, text, sizeof text);
    ASSERT_HAS(text, " gc --user postgres --command postgres\n");
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct { const char *cmd, *a1, *a2, *msg; } cases[] = {
        { "enable", "bad/name", NULL, "not a service name: 'bad/name'" },
        { "enable", "foo.socket", NULL, "not a service name: 'foo.socket'" },
        { "enable", NULL, NULL, "a service name is needed" },
        { "enable", "a", "b", "one service at a time" },
        { "enable", "a", "--user=no-such-user-here", "--user: no such user" },
        { "enable", "a", "--command=/usr/sbin/apache2", "--command: a process name of 1 to 15 bytes" },
        { "enable", "a", "--command=x y", "a unit file would have to quote" },
        { "enable", "a", "--command=it's", "a unit file would have to quote" },
        { "enable", "a", "--command=a;b", "a unit file would have to quote" },
        { "enable", "a", "--library=relative.so", "--library relative.so: not a readable absolute path" },
        { "disable", "a", "--user=root", "--user, --command and --library are options of enable" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(cases[i].cmd, cases[i].a1, cases[i].a2, NULL, NULL);
        if (rc != 1)
            fail_msg("%s %s %s: exit %d, %s", cases[i].cmd, cases[i].a1 ? cases[i].a1 : "",
                     cases[i].a2 ? cases[i].a2 : "", rc, res.out);
        ASSERT_HAS(res.err, cases[i].msg);
    }
    char *argv[] = { (char *)SGT_TOOL, "enable", "--unit-dir=rel", "x", NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 30);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "--unit-dir must be an absolute path");
    /* Nothing was written by any of them. */
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", udir);
    assert_int_equal(system(cmd), 0);
}

/* systemd-analyze verify: an output-free pass over a service with the
 * drop-in, and over the timer units (their ExecStart pointed at this
 * build's tool); a broken drop-in is seen, so the check can fail. */
static void test_verify(void **state)
{
    (void)state;
    if (system("command -v systemd-analyze >/dev/null 2>&1") != 0)
        skip();
    char unit[PATH_MAX + 64];
    static char cmd[12 * PATH_MAX];
    snprintf(unit, sizeof unit, "%s/demo.service", udir);
    write_file(unit, "[Unit]\nDescription=demo\n[Service]\nType=simple\nExecStart=/bin/true\n");
    assert_int_equal(run("enable", "demo", NULL, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "sed 's|^ExecStart=.*/shmguard |ExecStart=%s |' '%s' >'%s/shmguard-metrics.service' && "
             "cp '%s' '%s/' && cd '%s' && SYSTEMD_UNIT_PATH='%s': systemd-analyze verify --man=no "
             "demo.service shmguard-metrics.service shmguard-metrics.timer 2>&1",
             SGT_TOOL, sgt_build_path("systemd/shmguard-metrics.service"), udir,
             sgt_build_path("systemd/shmguard-metrics.timer"), udir, udir, udir);
    char *argv[] = { "sh", "-c", cmd, NULL };
    sgt_run(&res, argv, NULL, 60);
    if (!sgt_exited(&res, 0) || res.out[0])
        fail_msg("systemd-analyze verify:\n%s", res.out);
    /* A drop-in whose ExecStartPre is not an absolute path: reported. */
    char path[PATH_MAX + 64], text[8192];
    snprintf(path, sizeof path, "%s/demo.service.d/shmguard.conf", udir);
    slurp(path, text, sizeof text);
    char *p = strstr(text, "ExecStartPre=-/");
    assert_non_null(p);
    memmove(p + 14, p + 15, strlen(p + 15) + 1);
    write_file(path, text);
    sgt_run(&res, argv, NULL, 60);
    ASSERT_HAS(res.out, "shmguard.conf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enable_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
