/*
 * test_gc_filter.c - `shmguard gc --user` and `--command`: one service's
 * own orphans, as the systemd drop-in of `shmguard enable` removes them
 * before the service starts, and nobody else's.
 *
 * The scene, every creator SIGKILLed (helper_named, named as a service by
 * prctl, each holding a segment and a semaphore set): "svc" under the
 * library as root, "svc" under the library as uid 65534, "other" under
 * the library as root, and "svc" bare (no record, so no known command).
 * Each filter takes exactly its objects, in --dry-run and for real.
 */
#include "sgtest.h"
#include "fixture.h"

#include <grp.h>

static struct sgt_result res;

struct made {
    int shmid, semid;
};

/* Start helper_named as name (and as uid 65534 when other), with or
 * without the library; wait for it to hold its objects; SIGKILL it. */
static struct made orphan(const char *name, key_t key, int other, int lib)
{
    char hex[40] = "", keyarg[32];
    for (size_t i = 0; name[i] && i < 15; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)name[i]);
    snprintf(keyarg, sizeof keyarg, "0x%x", (unsigned)key);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        if (other && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                      setresuid(65534, 65534, 65534) != 0))
            _exit(126);
        sgt_apply_env(lib ? lib_env : bare_env);
        execl(SGT_HELPER("helper_named"), "helper_named", hex, keyarg, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char ready[16] = "";
    if (read(out[0], ready, sizeof ready - 1) <= 0 || strncmp(ready, "ready", 5) != 0)
        fail_msg("helper_named %s did not start", name);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    close(in[1]);
    close(out[0]);
    struct made m = { shmget(key, 0, 0), semget(key, 0, 0) };
    assert_true(m.shmid >= 0 && m.semid >= 0);
    return m;
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

/* Whether gc's output names the segment (shm) or set of m as to go. */
static int goes(const char *kind, int id)
{
    char want[64];
    snprintf(want, sizeof want, "remove %s %d ", kind, id);
    return strstr(res.out, want) != NULL;
}

static void test_filters(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    struct made svc = orphan("svc", 0x6cf00001, 0, 1);
    struct made nobody = orphan("svc", 0x6cf00002, 1, 1);
    struct made other = orphan("other", 0x6cf00003, 0, 1);
    struct made bare = orphan("svc", 0x6cf00004, 0, 0);

    /* --command svc: what the ledger says svc made, any user; not the
     * other command's, not the bare one (no record). */
    gc("--dry-run", "--command", "svc", NULL);
    assert_true(sgt_exited(&res, 0));
    assert_true(goes("shmid", svc.shmid) && goes("semid", svc.semid));
    assert_true(goes("shmid", nobody.shmid) && goes("semid", nobody.semid));
    assert_false(strstr(res.out, "0x6cf00003") || strstr(res.out, "0x6cf00004"));

    /* --user 65534: its objects only. */
    gc("--dry-run", "--user", "65534", NULL);
    assert_true(goes("shmid", nobody.shmid) && goes("semid", nobody.semid));
    assert_false(strstr(res.out, "0x6cf00001") || strstr(res.out, "0x6cf00003") ||
                 strstr(res.out, "0x6cf00004"));

    /* Both: an AND. */
    gc("--dry-run", "--user", "root", "--command=svc");
    assert_true(goes("shmid", svc.shmid) && goes("semid", svc.semid));
    assert_false(strstr(res.out, "0x6cf00002") || strstr(res.out, "0x6cf00003") ||
                 strstr(res.out, "0x6cf00004"));

    /* For real: exactly root's svc objects go. */
    gc("--user", "root", "--command", "svc");
    assert_true(sgt_exited(&res, 0));
    assert_false(shm_exists(svc.shmid) || sem_exists(svc.semid));
    assert_true(shm_exists(nobody.shmid) && sem_exists(nobody.semid));
    assert_true(shm_exists(other.shmid) && sem_exists(other.semid));
    assert_true(shm_exists(bare.shmid) && sem_exists(bare.semid));
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
