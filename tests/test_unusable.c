/*
 * test_unusable.c - when the ledger cannot be used, the library passes
 * every call through unchanged and says so once.
 *
 * helper_calls (a fixed sequence, including calls defer mode would change)
 * runs bare and under the library with a broken ledger, each in a fresh
 * IPC namespace; stdout must be identical and stderr must hold exactly one
 * message naming the problem.  Cases: directory missing, read-only file
 * system, full tmpfs, a directory on a disk file system, truncated file, corrupt header, corrupt record, other
 * format version, directory owned by another user, and a file of the
 * ledger's name owned by another user (which is skipped, not used).
 */
#include "sgtest.h"
#include "sg_ledger_dir.h"

#include <sys/mount.h>

static struct sgt_result bare, lib;

/* Run helper_calls in a fresh namespace; ledger dir d (NULL: bare). */
static void run_calls(struct sgt_result *r, const char *d, const char *prefix)
{
    char preload[PATH_MAX + 32], ledger[PATH_MAX + 32];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", d ? SGT_LIB : "");
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", d ? d : "");
    char *env[] = { preload, ledger, "SHMGUARD_MODE=", "SHMGUARD_LOG=", NULL };
    char cmd[16384 + PATH_MAX];
    /* A mount namespace too, so that tmpfs mounts stay private. */
    snprintf(cmd, sizeof cmd, "%.16000s%.900s", prefix ? prefix : "", SGT_HELPER("helper_calls"));
    char *argv[] = { "unshare", geteuid() == 0 ? "--ipc" : "-r", "--ipc", "--mount", "sh", "-c", cmd, NULL };
    if (geteuid() == 0) {
        argv[2] = "--mount";
        argv[3] = "sh";
        argv[4] = "-c";
        argv[5] = cmd;
        argv[6] = NULL;
    }
    sgt_run(r, argv, env, 60);
    assert_true(sgt_exited(r, 0));
}

/* Messages about the ledger being unusable.  (The sequence also earns a
 * diagnosis of its own, EINVAL for a key whose segment is too small,
 * which the library gives with or without a ledger.) */
static int shmguard_lines(const char *err)
{
    int n = 0;
    for (const char *p = err; (p = strstr(p, "passing every call through")); p++)
        n++;
    return n;
}

static void expect_passthrough(const char *d, const char *prefix, const char *why)
{
    run_calls(&bare, NULL, NULL);
    run_calls(&lib, d, prefix);
    if (strcmp(bare.out, lib.out) != 0)
        fprintf(stderr, "bare:\n%s\nlibrary:\n%s\n", bare.out, lib.out);
    assert_string_equal(bare.out, lib.out);
    if (shmguard_lines(lib.err) != 1 || !strstr(lib.err, why) ||
        !strstr(lib.err, "passing every call through"))
        fprintf(stderr, "stderr was: %s\n", lib.err);
    assert_int_equal(shmguard_lines(lib.err), 1);
    assert_non_null(strstr(lib.err, why));
    assert_non_null(strstr(lib.err, "passing every call through"));
}

/* The path of this uid's ledger for the namespace helper_calls will run
 * in: it runs in a fresh one, whose inode we cannot know in advance, so
 * the damaged-file cases use SHMGUARD_LEDGER pointing at a directory that
 * a shell prefix fills with a damaged file under the right name first. */
static const char *damage_prefix(const char *d, const char *how)
{
    static char buf[16384];
    /* The first, good run creates the ledger; the damage is applied to
     * it; the second run must then refuse it. */
    snprintf(buf, sizeof buf,
             "f=$(ls %.900s/ipc-*.ledger 2>/dev/null); "
             "[ -z \"$f\" ] && { SHMGUARD_MODE=observe LD_PRELOAD=%.900s %.900s touch >/dev/null 2>&1; "
             "f=$(ls %.900s/ipc-*.ledger); }; %.900s; ",
             d, SGT_LIB, SGT_HELPER("helper_calls"), d, how);
    return buf;
}

static void test_dir_missing(void **state)
{
    (void)state;
    expect_passthrough("/nonexistent-shmguard-dir/sub", NULL, "cannot create ledger directory");
}

static void test_read_only(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *d = sgt_ledger_dir();
    char pre[PATH_MAX + 64];
    snprintf(pre, sizeof pre, "mount -t tmpfs -o ro none %.900s && ", d);
    expect_passthrough(d, pre, "Read-only file system");
    sgt_rmdir(d);
}

static void test_full_tmpfs(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *d = sgt_ledger_dir();
    char pre[PATH_MAX + 128];
    snprintf(pre, sizeof pre, "mount -t tmpfs -o size=8k,mode=1777 none %.900s && ", d);
    expect_passthrough(d, pre, "No space left on device");
    sgt_rmdir(d);
}

/* A shell prefix: a tmpfs of size at d, then `setup` (shell, d's path
 * as $d), then the tmpfs filled to its last block (checked). */
static const char *filled_tmpfs(const char *d, const char *size, const char *setup)
{
    static char buf[16384];
    snprintf(buf, sizeof buf,
             "d=%.900s && mount -t tmpfs -o size=%s,mode=1777 none \"$d\" && %.8000s && "
             "{ dd if=/dev/zero of=\"$d/fill\" bs=64k >/dev/null 2>&1; "
             "[ $(stat -f -c %%a \"$d\") -eq 0 ]; } && ",
             d, size, setup);
    return buf;
}

/* The tmpfs fills up after the ledger was made: nothing changes for the
 * library, whose file was allocated whole when it was made (a store or a
 * read of a page never allocated would raise SIGBUS in the host here: on
 * tmpfs a read fault on a hole of a shared mapping allocates too).  The
 * calls, deferral included, give what they give bare, the ledger stays in
 * use, and nobody is killed. */
static void test_tmpfs_fills_later(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *d = sgt_ledger_dir();
    char setup[4096];
    /* The ledger made, and allocated whole. */
    snprintf(setup, sizeof setup,
             "LD_PRELOAD=%.900s SHMGUARD_LEDGER=\"$d\" %.900s touch && f=$(ls \"$d\"/ipc-*.ledger) && "
             "[ $(( $(stat -c %%b \"$f\") * 512 )) -ge $(stat -c %%s \"$f\") ]",
             SGT_LIB, SGT_HELPER("helper_calls"));
    const char *pre = filled_tmpfs(d, "48m", setup);
    run_calls(&bare, NULL, NULL);
    run_calls(&lib, d, pre);
    if (strcmp(bare.out, lib.out) != 0)
        fprintf(stderr, "bare:\n%s\nlibrary:\n%s\n", bare.out, lib.out);
    assert_string_equal(bare.out, lib.out);
    if (shmguard_lines(lib.err) != 0)
        fprintf(stderr, "stderr was: %s\n", lib.err);
    assert_int_equal(shmguard_lines(lib.err), 0);
    sgt_rmdir(d);
}

/* A ledger file sized but not yet allocated, as its creator leaves it for
 * a moment (or forever, killed there), on a full tmpfs: a process must
 * not read its header through a mapping (the read of a hole allocates a
 * page on tmpfs, and raises SIGBUS when none is left).  It takes the file
 * for unfinished, cannot make it again, and passes every call through. */
static void test_sized_not_allocated(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *d = sgt_ledger_dir();
    char setup[512];
    snprintf(setup, sizeof setup,
             "f=\"$d\"/ipc-$(readlink /proc/self/ns/ipc | tr -dc 0-9).uid-0.ledger && "
             "truncate -s %llu \"$f\" && chmod 644 \"$f\"",
             (unsigned long long)sg_layout_file_size(SG_SEG_CAP_DEFAULT, SG_ATT_CAP_DEFAULT,
                                                     SG_INTENT_CAP_DEFAULT, SG_PEND_CAP_DEFAULT));
    const char *pre = filled_tmpfs(d, "8m", setup);
    expect_passthrough(d, pre, "No space left on device");
    sgt_rmdir(d);
}

/* A ledger directory on a disk file system: refused with the reason and
 * the fix (before, used: each process wrote its ledger through to disk,
 * and creating one cost milliseconds).  /var/tmp is on disk on Debian;
 * skipped where it is not. */
static void test_disk_dir(void **state)
{
    (void)state;
    char d[] = "/var/tmp/sgtest-disk.XXXXXX", fs[32];
    if (!mkdtemp(d))
        skip();
    chmod(d, 01777);
    if (sg_ledger_dir_in_memory(d, fs, sizeof fs) != 0) {
        rmdir(d);
        skip(); /* /var/tmp in memory here */
    }
    expect_passthrough(d, NULL, "not tmpfs");
    assert_non_null(strstr(lib.err, "set SHMGUARD_LEDGER to a directory on tmpfs"));
    /* Nothing was made there. */
    assert_int_equal(rmdir(d), 0);
}

static void damaged(const char *how, const char *why)
{
    const char *d = sgt_ledger_dir();
    char pre[16384];
    snprintf(pre, sizeof pre, "%s", damage_prefix(d, how));
    expect_passthrough(d, pre, why);
    sgt_rmdir(d);
}

static void test_truncated(void **state)
{
    (void)state;
    damaged("truncate -s 1000 \"$f\"", "truncated");
}

static void test_bad_magic(void **state)
{
    (void)state;
    damaged("printf 'GARBAGE!' | dd of=\"$f\" conv=notrunc status=none", "not a shmguard ledger");
}

/* A ledger of another format version (an earlier build's, which its
 * processes may still be using) is left alone, and the next name used:
 * the calls are recorded, nothing is passed through. */
static void test_other_version(void **state)
{
    (void)state;
    const char *d = sgt_ledger_dir();
    char cmd[16384 + 8192];
    /* version is the little-endian u32 at offset 8; 4 is the format before
     * pid namespaces (this build uses 5) */
    snprintf(cmd, sizeof cmd,
             "%.16000s cp \"$f\" %.900s/old.copy; "
             "SHMGUARD_LEDGER=%.900s SHMGUARD_MODE=observe LD_PRELOAD=%.900s %.900s >/dev/null || exit 3; "
             "cmp -s \"$f\" %.900s/old.copy || exit 4; "
             "ls %.900s/ipc-*.uid-0.1.ledger >/dev/null || exit 5; exit 0",
             damage_prefix(d, "printf '\\004' | dd of=\"$f\" bs=1 seek=8 conv=notrunc status=none"),
             d, d, SGT_LIB, SGT_HELPER("helper_calls"), d, d);
    char *argv[] = { "unshare", "--ipc", "sh", "-c", cmd, NULL };
    char ledger[PATH_MAX + 32];
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", d);
    char *env[] = { ledger, NULL };
    sgt_run(&lib, argv, env, 60);
    if (!sgt_exited(&lib, 0))
        fprintf(stderr, "status %d, stderr: %s\n", lib.status, lib.err);
    assert_true(sgt_exited(&lib, 0));
    assert_null(strstr(lib.err, "passing every call through"));
    sgt_rmdir(d);
}

static void test_corrupt_record(void **state)
{
    (void)state;
    /* The state word of pid namespace record 0 (the first table, right
     * after the 320-byte header).  A bad record in the three large tables
     * or the event ring does not make the ledger unusable to the library
     * (test_ledger_check: test_bad_records, test_bad_event). */
    damaged("printf '\\007' | dd of=\"$f\" bs=1 seek=320 conv=notrunc status=none",
            "corrupt pid namespace record");
}

static void test_foreign_dir(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    const char *d = sgt_ledger_dir();
    assert_int_equal(chown(d, 65534, 65534), 0);
    expect_passthrough(d, NULL, "owned by uid 65534");
    sgt_rmdir(d);
}

/* A file with the ledger's name owned by someone else is not a reason to
 * stop: it is left alone and the next name is used. */
static void test_foreign_file_is_skipped(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    const char *d = sgt_ledger_dir();
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "ns=$(stat -L -c %%i /proc/self/ns/ipc); f=%.900s/ipc-$ns.uid-0.ledger; "
             "echo planted > $f; chown 65534 $f; "
             "SHMGUARD_LEDGER=%.900s SHMGUARD_MODE=observe LD_PRELOAD=%.900s %.900s >/dev/null || exit 3; "
             "[ \"$(cat $f)\" = planted ] || exit 4; "
             "[ -s %.900s/ipc-$ns.uid-0.1.ledger ] || exit 5; exit 0",
             d, d, SGT_LIB, SGT_HELPER("helper_calls"), d);
    char *argv[] = { "unshare", "--ipc", "sh", "-c", cmd, NULL };
    sgt_run(&lib, argv, NULL, 60);
    if (!sgt_exited(&lib, 0))
        fprintf(stderr, "status %d, stderr: %s\n", lib.status, lib.err);
    assert_true(sgt_exited(&lib, 0));
    assert_null(strstr(lib.err, "passing every call through"));
    assert_null(strstr(lib.err, "unusable"));
    sgt_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_missing),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_full_tmpfs),
        cmocka_unit_test(test_tmpfs_fills_later),
        cmocka_unit_test(test_sized_not_allocated),
        cmocka_unit_test(test_disk_dir),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_other_version),
        cmocka_unit_test(test_corrupt_record),
        cmocka_unit_test(test_foreign_dir),
        cmocka_unit_test(test_foreign_file_is_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
