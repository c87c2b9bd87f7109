/*
 * test_json.c - every JSON output of the tool is valid JSON whatever bytes
 * the names, paths and commands it shows hold (a property test).
 *
 * Any local user chooses its process's command name (prctl PR_SET_NAME)
 * and the path it runs from.  For ROUNDS rounds, helper_named runs under
 * the library from a copy whose file name is random bytes, with a random
 * command name, holding a segment and a semaphore set; then `ls --json`,
 * `ls --sem --json`, `ledger --json --all` and `doctor --json` must each be
 * accepted by a real JSON parser (python3's json module), and a name with a
 * newline must not be cut at it.  Issue: ls wrote bytes such as \xff\xfe
 * raw, which no parser accepts.
 */
#include "sgtest.h"

#include <sys/prctl.h>

#define ROUNDS 24

static uint64_t rng = 0x2545f4914f6cdd1dull;
static unsigned char rnd_byte(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned char)rng;
}

static struct sgt_result res;

/* 1 if text parses as JSON (python3 -c json.load). */
static int valid_json(const char *text, char *why, size_t n)
{
    char path[] = "/tmp/sgtest-json.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    char *argv[] = { "python3", "-c",
                     "import json,sys; json.load(open(sys.argv[1], encoding='utf-8', "
                     "errors='strict'))",
                     path, NULL };
    static struct sgt_result pr;
    sgt_run(&pr, argv, NULL, 30);
    unlink(path);
    snprintf(why, n, "%.*s", (int)(n - 1), pr.err);
    return ok && sgt_exited(&pr, 0);
}

static void tool_json(const char *dir, const char *sub, const char *a1, const char *a2)
{
    char d[PATH_MAX + 16];
    snprintf(d, sizeof d, "--dir=%s", dir);
    char *argv[] = { (char *)SGT_TOOL, (char *)sub, d, (char *)a1, (char *)a2, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
    char why[4096];
    if (res.status == -1 || !WIFEXITED(res.status) || WEXITSTATUS(res.status) > 2 ||
        !valid_json(res.out, why, sizeof why))
        fail_msg("shmguard %s %s %s: not JSON (%s):\n%s\n%s", sub, a1, a2 ? a2 : "", why, res.out,
                 res.err);
}

static void test_random_names(void **state)
{
    (void)state;
    const char *dir = sgt_ledger_dir();
    char bindir[PATH_MAX + 64];
    snprintf(bindir, sizeof bindir, "%s/../sgtest-bin.%d", dir, (int)getpid());
    assert_int_equal(mkdir(bindir, 0755), 0);
    for (int round = 0; round < ROUNDS; round++) {
        /* A name: 15 random non-NUL bytes; every third round with a
         * newline in the middle, which must survive. */
        char hex[40] = "", name[16];
        for (int i = 0; i < 15; i++) {
            unsigned char b = rnd_byte();
            name[i] = (char)(b ? b : 0xff);
        }
        name[15] = '\0';
        if (round % 3 == 0)
            name[7] = '\n';
        for (int i = 0; i < 15; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)name[i]);
        /* A program path whose last component is random bytes. */
        char exe[PATH_MAX + 64];
        int n = snprintf(exe, sizeof exe, "%s/", bindir);
        for (int i = 0; i < 20; i++) {
            unsigned char b = rnd_byte();
            exe[n++] = (char)(b == 0 || b == '/' ? 0xfe : b);
        }
        exe[n] = '\0';
        char cmd[2 * PATH_MAX + 128];
        snprintf(cmd, sizeof cmd, "cp '%s' \"$0\"", SGT_HELPER("helper_named"));
        char *cpargv[] = { "sh", "-c", cmd, exe, NULL };
        sgt_run(&res, cpargv, NULL, 30);
        assert_true(sgt_exited(&res, 0));

        char key[16], pre[PATH_MAX + 32], ledger[PATH_MAX + 32];
        snprintf(key, sizeof key, "%d", 0x5eed1000 + round);
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
        snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
        char *argv[] = { exe, hex, key, NULL };
        char *env[] = { pre, ledger, NULL };
        int to, from;
        pid_t c = sgt_spawn(argv, env, &to, &from);
        char ready[16] = "";
        ssize_t got = read(from, ready, sizeof ready - 1);
        if (got <= 0)
            fail_msg("round %d: helper did not start", round);

        tool_json(dir, "ls", "--json", NULL);
        tool_json(dir, "ls", "--sem", "--json");
        if (round % 3 == 0) /* "AB\nCD": not cut at the newline */
            ASSERT_HAS(res.out, "\\n");
        tool_json(dir, "ledger", "--json", "--all");
        tool_json(dir, "doctor", "--json", NULL);

        close(to);
        waitpid(c, NULL, 0);
        close(from);
        unlink(exe);
    }
    rmdir(bindir);
    sgt_clear_ipc();
    sgt_rmdir(dir);
}

/* A command name in UTF-8 reads the same in every JSON output: as it is
 * (before, ledger and doctor wrote each byte above 0x7e as \u00XX, so a
 * parser read "grÃ¶ÃŸe" for "größe"). */
static void test_utf8_names(void **state)
{
    (void)state;
    const char *dir = sgt_ledger_dir();
    const char *name = "gr\xc3\xb6\xc3\x9f" "e";
    char hex[40] = "", key[16], pre[PATH_MAX + 32], ledger[PATH_MAX + 32];
    for (size_t i = 0; name[i]; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)name[i]);
    snprintf(key, sizeof key, "%d", 0x5eed10ff);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    char *argv[] = { (char *)SGT_HELPER("helper_named"), hex, key, NULL };
    char *env[] = { pre, ledger, NULL };
    int to, from;
    pid_t c = sgt_spawn(argv, env, &to, &from);
    char ready[16] = "";
    if (read(from, ready, sizeof ready - 1) <= 0)
        fail_msg("helper did not start");
    const char *cmds[][2] = { { "ls", "--json" }, { "ls", "--sem" }, { "ledger", "--json" },
                              { "doctor", "--json" } };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int sem = !strcmp(cmds[i][1], "--sem");
        tool_json(dir, cmds[i][0], cmds[i][1], sem ? "--json" : !strcmp(cmds[i][0], "ledger") ? "--all" : NULL);
        if (!strstr(res.out, name))
            fail_msg("shmguard %s %s: the name is not there as it is:\n%s", cmds[i][0], cmds[i][1],
                     res.out);
    }
    close(to);
    waitpid(c, NULL, 0);
    close(from);
    sgt_clear_ipc();
    sgt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_names),
        cmocka_unit_test(test_utf8_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
