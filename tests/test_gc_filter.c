/*
 * test_gc_filter.c - `shmguard gc --user` and `--command`: one service's
 * own orphans, as the systemd drop-in of `shmguard enable` removes them
 * before the service starts, and nobody else's.
 *
 * The scene, every creator gone: ipcmk under the library makes a 4 KiB
 * segment and a set of 2 as root, and an 8 KiB segment as uid 65534;
 * another command (helper_step) a 4 KiB segment as root, under the
 * library; ipcmk bare a 16 KiB segment (no record, so no known command).
 * Each filter takes exactly its objects, in --dry-run and for real.
 */
#include "sgtest.h"
#include "fixture.h"
#include "step.h"

#include <sys/shm.h>

static struct sgt_result res;

/* Run a command (argv NULL-terminated) with env; its stdout's first
 * number after "id: " (ipcmk's "Shared memory id: N"), or -1. */
static int make_obj(char *const argv[], char *const env[])
{
    sgt_run(&res, argv, env, 30);
    if (!sgt_exited(&res, 0))
        fail_msg("%s failed: %s", argv[0], res.err);
    const char *p = strstr(res.out, "id: ");
    return p ? atoi(p + 4) : -1;
}

static int shm_exists(int id) { return sgt_shm_exists(id); }
static int sem_exists(int id) { return semctl(id, 0, GETVAL) >= 0 || errno == EACCES; }

static void gc(const char *a1, const char *a2, const char *a3, const char *a4)
{
    char d[PATH_MAX + 16];
    snprintf(d, sizeof d, "--dir=%s", dir);
    char *argv[] = { (char *)SGT_TOOL, "gc", d, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
    if (res.status == -1 || !WIFEXITED(res.status))
        fail_msg("gc did not finish: %s", res.err);
}

static void test_filters(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    char *ipcmk4[] = { "ipcmk", "-M", "4096", NULL };
    char *ipcmk_sem[] = { "ipcmk", "-S", "2", NULL };
    char *ipcmk8[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ipcmk", "-M",
                       "8192", NULL };
    char *ipcmk16[] = { "ipcmk", "-M", "16384", NULL };
    int root_seg = make_obj(ipcmk4, lib_env);
    int root_sem = make_obj(ipcmk_sem, lib_env);
    int nobody_seg = make_obj(ipcmk8, lib_env);
    int bare_seg = make_obj(ipcmk16, bare_env);
    struct step other;
    step_start(&other, lib_env); /* another command, as root */
    int other_seg = step_id(step(&other, "get 0x6cf00001 create size 4096"));
    step_kill(&other);
    assert_true(root_seg >= 0 && root_sem >= 0 && nobody_seg >= 0 && bare_seg >= 0 && other_seg >= 0);

    char want[128];
    /* --command ipcmk: the three ipcmk made under the library, not the
     * bare one (no record), not the other command's. */
    gc("--dry-run", "--command", "ipcmk", NULL);
    assert_true(sgt_exited(&res, 0));
    snprintf(want, sizeof want, "would remove shmid %d ", root_seg);
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "would remove shmid %d ", nobody_seg);
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "would remove semid %d ", root_sem);
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "shmid %d ", bare_seg);
    ASSERT_LACKS(res.out, want);
    snprintf(want, sizeof want, "shmid %d ", other_seg);
    ASSERT_LACKS(res.out, want);

    /* --user 65534: its segment only, whatever made it. */
    gc("--dry-run", "--user", "65534", NULL);
    snprintf(want, sizeof want, "would remove shmid %d ", nobody_seg);
    ASSERT_HAS(res.out, want);
    ASSERT_HAS(res.out, "Would remove 1 segment");
    ASSERT_LACKS(res.out, "semid");

    /* Both: an AND.  root's ipcmk objects. */
    gc("--dry-run", "--user", "root", "--command=ipcmk");
    snprintf(want, sizeof want, "would remove shmid %d ", root_seg);
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "shmid %d ", nobody_seg);
    ASSERT_LACKS(res.out, want);
    snprintf(want, sizeof want, "shmid %d ", bare_seg);
    ASSERT_LACKS(res.out, want);

    /* For real: exactly root's ipcmk objects go. */
    gc("--user", "root", "--command", "ipcmk");
    assert_true(sgt_exited(&res, 0));
    assert_false(shm_exists(root_seg));
    assert_false(sem_exists(root_sem));
    assert_true(shm_exists(nobody_seg));
    assert_true(shm_exists(bare_seg));
    assert_true(shm_exists(other_seg));
}

static void test_bad_filters(void **state)
{
    (void)state;
    gc("--user", "no-such-user-here", NULL, NULL);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "shmguard: gc: --user: no such user: 'no-such-user-here'");
    gc("--command", "/usr/sbin/apache2", NULL, NULL);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "--command: a process name of 1 to 15 bytes, no '/'");
    gc("--command", "", NULL, NULL);
    assert_true(sgt_exited(&res, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_filters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
