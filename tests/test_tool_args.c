/*
 * test_tool_args.c - the shmguard command's answers to bad arguments, and
 * its --help and --version, run as a separate process (build/shmguard).
 *
 * Every bad argument to every subcommand must give exactly one line
 * naming the problem, then util-linux's "Try '... --help' for more
 * information." line, on stderr, nothing on stdout, and exit status 1.
 * `run` adds the exit statuses of a command that cannot be executed
 * (126, 127).  Nothing here creates a segment.
 */
#include "sgtest.h"

#include <sys/shm.h>

static struct sgt_result res;

static char *no_env[] = { "LD_PRELOAD=", NULL };

/* Run the tool with up to 8 arguments (NULL-terminated). */
static void tool(const char *a1, ...)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)SGT_TOOL;
    va_list ap;
    va_start(ap, a1);
    for (const char *a = a1; a && n < 15; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    sgt_run(&res, argv, no_env, 30);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The last run failed with the util-linux usage error shape: exit 1,
 * nothing on stdout, "shmguard: <what>" then "Try '<try>' ...". */
#define ASSERT_USAGE(what, try)                                                               \
    do {                                                                                      \
        if (!sgt_exited(&res, 1) || res.out[0] || count_lines(res.err) != 2 ||               \
            strncmp(res.err, "shmguard: ", 10) || !strstr(res.err, what) ||                  \
            !strstr(res.err, "\nTry '" try "' for more information.\n"))                     \
            fail_msg("expected a usage error with \"%s\", got status %d, stdout '%s', stderr '%s'", \
                     what, res.status, res.out, res.err);                                    \
    } while (0)

static void test_top_level(void **state)
{
    (void)state;
    tool(NULL);
    ASSERT_USAGE("no command given", "shmguard --help");
    tool("frobnicate", NULL);
    ASSERT_USAGE("unknown command 'frobnicate'", "shmguard --help");
    tool("--bogus", NULL);
    ASSERT_USAGE("unknown command '--bogus'", "shmguard --help");
    tool("--help", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_non_null(strstr(res.out, "Usage:"));
    tool("--version", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_non_null(strstr(res.out, "shmguard from shmguard "));
}

static void test_ls_args(void **state)
{
    (void)state;
    tool("ls", "--bogus", NULL);
    ASSERT_USAGE("ls: unrecognized option '--bogus'", "shmguard ls --help");
    tool("ls", "-Z", NULL);
    ASSERT_USAGE("ls: invalid option -- 'Z'", "shmguard ls --help");
    tool("ls", "--output", NULL);
    ASSERT_USAGE("ls: option '--output' requires an argument", "shmguard ls --help");
    tool("ls", "-o", NULL);
    ASSERT_USAGE("ls: option requires an argument -- 'o'", "shmguard ls --help");
    tool("ls", "-o", "KEY,FROB", NULL);
    ASSERT_USAGE("ls: unknown column: FROB", "shmguard ls --help");
    tool("ls", "--output=", NULL);
    ASSERT_USAGE("ls: no columns given to --output", "shmguard ls --help");
    tool("ls", "-o", ",,", NULL);
    ASSERT_USAGE("ls: no columns given to --output", "shmguard ls --help");
    tool("ls", "--key", "0xzz", NULL);
    ASSERT_USAGE("ls: invalid key: '0xzz'", "shmguard ls --help");
    tool("ls", "--key", "0x123456789", NULL);
    ASSERT_USAGE("ls: invalid key: '0x123456789'", "shmguard ls --help");
    tool("ls", "--key", NULL);
    ASSERT_USAGE("ls: option '--key' requires an argument", "shmguard ls --help");
    tool("ls", "--id", "-1", NULL);
    ASSERT_USAGE("ls: invalid id: '-1'", "shmguard ls --help");
    tool("ls", "--id", "12x", NULL);
    ASSERT_USAGE("ls: invalid id: '12x'", "shmguard ls --help");
    tool("ls", "--id", "99999999999", NULL);
    ASSERT_USAGE("ls: invalid id: '99999999999'", "shmguard ls --help");
    tool("ls", "--id", "", NULL);
    ASSERT_USAGE("ls: invalid id: ''", "shmguard ls --help");
    tool("ls", "--user", "no-such-user-shmguard", NULL);
    ASSERT_USAGE("ls: unknown user: 'no-such-user-shmguard'", "shmguard ls --help");
    tool("ls", "--dir=", NULL);
    ASSERT_USAGE("ls: empty ledger directory", "shmguard ls --help");
    tool("ls", "extra", NULL);
    ASSERT_USAGE("ls: unexpected argument 'extra'", "shmguard ls --help");

    tool("ls", "--help", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_non_null(strstr(res.out, "Usage:\n shmguard ls [options]"));
    assert_non_null(strstr(res.out, "Available output columns:"));
    assert_non_null(strstr(res.out, "ATTACHERS"));
    tool("ls", "-V", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_non_null(strstr(res.out, "shmguard from shmguard "));
    tool("ls", "--list-columns", NULL);
    assert_true(sgt_exited(&res, 0));
    static const char *cols[] = { "KEY", "ID", "OWNER", "PERMS", "SIZE", "NATTCH", "STATUS",
                                  "STATE", "CPID", "COMMAND", "ALIVE", "AGE", "LEDGER",
                                  "ATTACHERS", "APIDS", "SITE", "EXE", "LPID", "UID", "GID",
                                  "CUID", "CGID", "CUSER", "ATIME", "DTIME", "CTIME", "RSS",
                                  "SWAP", "LEDGERUID" };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, " %s  ", cols[i]);
        if (!strstr(res.out, want))
            fail_msg("--list-columns lacks %s:\n%s", cols[i], res.out);
    }
    assert_int_equal(count_lines(res.out), (int)(sizeof cols / sizeof cols[0]));
    /* Column names are case-insensitive, as in util-linux. */
    tool("ls", "-o", "key,Id", "-n", NULL);
    assert_true(sgt_exited(&res, 0));
}

static void test_gc_args(void **state)
{
    (void)state;
    tool("gc", "--bogus", NULL);
    ASSERT_USAGE("gc: unrecognized option '--bogus'", "shmguard gc --help");
    tool("gc", "-x", NULL);
    ASSERT_USAGE("gc: invalid option -- 'x'", "shmguard gc --help");
    static const char *bad_ages[] = { "10x", "", "-5", "5 m", "m", "1m1h", "30s10", "1.5h",
                                      "99999999999999999999s", "0x10" };
    for (size_t i = 0; i < sizeof bad_ages / sizeof bad_ages[0]; i++) {
        char want[128];
        tool("gc", "--min-age", bad_ages[i], NULL);
        snprintf(want, sizeof want, "gc: invalid --min-age '%s'", bad_ages[i]);
        ASSERT_USAGE(want, "shmguard gc --help");
    }
    tool("gc", "--min-age", NULL);
    ASSERT_USAGE("gc: option '--min-age' requires an argument", "shmguard gc --help");
    tool("gc", "--id", "abc", NULL);
    ASSERT_USAGE("gc: invalid --id 'abc'", "shmguard gc --help");
    tool("gc", "--id", "-3", NULL);
    ASSERT_USAGE("gc: invalid --id '-3'", "shmguard gc --help");
    tool("gc", "--id", NULL);
    ASSERT_USAGE("gc: option '--id' requires an argument", "shmguard gc --help");
    tool("gc", "--force", NULL);
    ASSERT_USAGE("gc: --force needs the segments named with --id", "shmguard gc --help");
    tool("gc", "now", NULL);
    ASSERT_USAGE("gc: unexpected argument 'now'", "shmguard gc --help");
    tool("gc", "--dir", "", NULL);
    ASSERT_USAGE("gc: empty ledger directory", "shmguard gc --help");

    /* Good durations are accepted (an empty namespace: nothing to do). */
    static const char *good_ages[] = { "0", "90", "30s", "10m", "2h", "1d", "1h30m", "1d2h3m4s" };
    for (size_t i = 0; i < sizeof good_ages / sizeof good_ages[0]; i++) {
        tool("gc", "--dry-run", "--min-age", good_ages[i], NULL);
        if (!sgt_exited(&res, 0))
            fail_msg("--min-age %s: status %d, %s", good_ages[i], res.status, res.err);
    }
    /* An id that names no segment is an error, said in one line. */
    tool("gc", "--id", "4242", NULL);
    assert_true(sgt_exited(&res, 1));
    assert_non_null(strstr(res.err, "gc: no segment has id 4242"));

    tool("gc", "--help", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_non_null(strstr(res.out, "Exit status:"));
    assert_non_null(strstr(res.out, " 2  some segments"));
    tool("gc", "--version", NULL);
    assert_true(sgt_exited(&res, 0));
}

static void test_run_args(void **state)
{
    (void)state;
    tool("run", NULL);
    ASSERT_USAGE("run: no command given", "shmguard run --help");
    tool("run", "--", NULL);
    ASSERT_USAGE("run: no command given", "shmguard run --help");
    tool("run", "--mode", "sometimes", "true", NULL);
    ASSERT_USAGE("run: invalid --mode 'sometimes'", "shmguard run --help");
    tool("run", "--mode", NULL);
    ASSERT_USAGE("run: option '--mode' requires an argument", "shmguard run --help");
    tool("run", "--ledger", "", "true", NULL);
    ASSERT_USAGE("run: empty ledger directory", "shmguard run --help");
    tool("run", "--bogus", "true", NULL);
    ASSERT_USAGE("run: unrecognized option '--bogus'", "shmguard run --help");

    /* A command that cannot be run: one line, and 127 or 126. */
    tool("run", "--", "/nonexistent/shmguard-no-such-program", NULL);
    assert_true(sgt_exited(&res, 127));
    assert_int_equal(count_lines(res.err), 1);
    assert_non_null(strstr(res.err, "run: failed to execute '/nonexistent/shmguard-no-such-program'"));
    tool("run", "/dev/null", NULL);
    assert_true(sgt_exited(&res, 126));
    assert_int_equal(count_lines(res.err), 1);

    tool("run", "--help", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_non_null(strstr(res.out, "Exit status:"));
    tool("run", "-V", NULL);
    assert_true(sgt_exited(&res, 0));
}

static void test_ledger_args(void **state)
{
    (void)state;
    /* `ledger` predates tool_cmd_usage_error: one line, then the general
     * pointer to --help. */
    tool("ledger", "--bogus", NULL);
    ASSERT_USAGE("ledger: unrecognized option '--bogus'", "shmguard --help");
    tool("ledger", "extra", NULL);
    ASSERT_USAGE("ledger: unexpected argument 'extra'", "shmguard --help");
}

/* --dir (issue: gc with a mistyped or missing ledger directory decided
 * on kernel facts alone and removed a segment a process had just looked
 * up; the tool accepted a relative --dir that the library rejects; ledger
 * --prune created a missing directory and a ledger in it).  A directory
 * named on the command line must be absolute, exist and be readable:
 * else exit 1 and nothing done. */
static void test_dir_args(void **state)
{
    (void)state;
    const char *cmds[] = { "ls", "doctor", "gc", "ledger" };
    for (int i = 0; i < 4; i++) {
        tool(cmds[i], "--dir=relative/dir", NULL);
        if (!sgt_exited(&res, 1) || !strstr(res.err, "must be an absolute path"))
            fail_msg("%s --dir=relative: status %d, %s", cmds[i], res.status, res.err);
        tool(cmds[i], "--dir=/nonexistent-shmguard-ledgers", NULL);
        if (!sgt_exited(&res, 1) || !strstr(res.err, "cannot read the ledger directory"))
            fail_msg("%s --dir=missing: status %d, %s", cmds[i], res.status, res.err);
    }
    tool("ledger", "--prune", "--dir=/nonexistent-shmguard-ledgers", NULL);
    assert_true(sgt_exited(&res, 1));
    struct stat st;
    assert_int_equal(stat("/nonexistent-shmguard-ledgers", &st), -1);

    /* The case: a creator died, a consumer looked the key up and
     * is about to attach.  gc with the right directory keeps it; with a
     * mistyped one it must not decide at all. */
    const char *dir = sgt_ledger_dir();
    char ledger[PATH_MAX + 32], pre[PATH_MAX + 32], typo[PATH_MAX + 32], right[PATH_MAX + 32];
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(typo, sizeof typo, "--dir=%sx", dir);
    snprintf(right, sizeof right, "--dir=%s", dir);
    char *lib[] = { pre, ledger, NULL };
    char *mk[] = { "sh", "-c", "echo 'get 0x5eedd1d0 create' | \"$0\"", (char *)SGT_HELPER("helper_step"),
                   NULL };
    sgt_run(&res, mk, lib, 30);
    int id = -1;
    assert_int_equal(sscanf(res.out, "id %d", &id), 1);
    char *step_argv[] = { (char *)SGT_HELPER("helper_step"), NULL };
    int to, from;
    pid_t c = sgt_spawn(step_argv, lib, &to, &from);
    assert_int_equal(write(to, "get 0x5eedd1d0\n", 15), 15);
    char ans[64] = "";
    assert_true(read(from, ans, sizeof ans - 1) > 0); /* looked up: about to attach */
    tool("gc", right, "--dry-run", NULL);
    ASSERT_HAS(res.out, "about to attach");
    tool("gc", typo, NULL);
    assert_true(sgt_exited(&res, 1));
    assert_true(sgt_shm_exists(id));
    close(to);
    waitpid(c, NULL, 0);
    close(from);
    shmctl(id, IPC_RMID, NULL);
    sgt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_args),
        cmocka_unit_test(test_top_level), cmocka_unit_test(test_ls_args),
        cmocka_unit_test(test_gc_args),   cmocka_unit_test(test_run_args),
        cmocka_unit_test(test_ledger_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
