/*
 * test_tool_check.c - `shmguard check`, the CI harness, against real
 * programs (helper_check) in this private IPC namespace:
 *
 *   - a leak made by a grandchild is reported with its creator's pid and
 *     command and its call site down to file:line, and fails the run;
 *   - a clean program's own exit status passes through (0 and non-zero);
 *   - a program killed by a signal is reported as such, leaks listed;
 *   - a deferred removal never completed is reported and completed;
 *   - a shmget that fails on a limit is reported with its call site;
 *   - segments that existed before, or that others make meanwhile, are
 *     never reported;
 *   - processes of the run still running are named;
 *   - --isolate as root and as an unprivileged user (or its clear error
 *     where user namespaces are not allowed), --cleanup, --json,
 *     --error-exitcode, and bad usage.
 */
#include "fixture.h"

#include <sched.h>
#include <grp.h>

static struct sgt_result res;
static char report_path[PATH_MAX + 32];
static char report[1 << 16];

static int setup_check(void **state)
{
    setup(state);
    snprintf(report_path, sizeof report_path, "%s/report", dir);
    sgt_clear_ipc();
    return 0;
}

static void read_report(void)
{
    report[0] = '\0';
    FILE *f = fopen(report_path, "r");
    if (!f)
        return;
    size_t n = fread(report, 1, sizeof report - 1, f);
    report[n] = '\0';
    fclose(f);
}

/* shmguard check OPTS... --report FILE -- helper_check ARGS...: the result
 * in res (helper's stdout in res.out), the report in `report`. */
static void check(const char *const opts[], const char *const args[])
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)SGT_TOOL;
    argv[n++] = "check";
    for (int i = 0; opts && opts[i]; i++)
        argv[n++] = (char *)opts[i];
    argv[n++] = "--report";
    argv[n++] = report_path;
    argv[n++] = "--";
    argv[n++] = (char *)SGT_HELPER("helper_check");
    for (int i = 0; args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    unlink(report_path);
    sgt_run(&res, argv, NULL, 60);
    read_report();
}

static int exit_code(void)
{
    if (res.status == -1 || !WIFEXITED(res.status))
        fail_msg("shmguard check did not exit normally (status %d); report:\n%s", res.status, report);
    return WEXITSTATUS(res.status);
}

static int n_segments(void)
{
    struct sg_ksnap s;
    assert_int_equal(sg_ksnap_read(&s), 0);
    int n = (int)s.n;
    sg_ksnap_free(&s);
    return n;
}

/* The pid the kernel says created segment id, or -1. */
static int cpid_of(int id)
{
    struct shmid_ds ds;
    return shmctl(id, IPC_STAT, &ds) == 0 ? ds.shm_cpid : -1;
}

static void test_grandchild_leak(void **state)
{
    (void)state;
    check(NULL, (const char *[]){ "grandchild", "0x5eedc001", NULL });
    int pid, id, line;
    if (sscanf(res.out, "pid %d id %d line %d", &pid, &id, &line) != 3)
        fail_msg("helper said: %s", res.out);
    assert_int_equal(exit_code(), 99); /* the default --error-exitcode */
    char want[256];
    snprintf(want, sizeof want, "Leaked segment %d: key 0x5eedc001, 8.0 KiB (8192 bytes), orphaned, "
                                "nobody attached", id);
    ASSERT_HAS(report, want);
    snprintf(want, sizeof want, "created by pid %d (helper_check, uid %u), dead now", pid,
             (unsigned)geteuid());
    ASSERT_HAS(report, want);
    snprintf(want, sizeof want, "at leak_here (tests/helper_check.c:%d)", line);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "exited with status 0");
    ASSERT_HAS(report, "LEAK SUMMARY: 1 segment leaked (8.0 KiB); 0 deferred removals left by the run; "
                "0 limit errors.");
    snprintf(want, sizeof want, "Free them: shmguard gc --id %d", id);
    ASSERT_HAS(report, want);
    /* Reported, not removed: the segment is still there, as the kernel
     * says, made by that grandchild. */
    assert_int_equal(cpid_of(id), pid);

    /* The same as JSON. */
    sgt_clear_ipc();
    check((const char *[]){ "--json", NULL }, (const char *[]){ "grandchild", "0x5eedc001", NULL });
    if (sscanf(res.out, "pid %d id %d line %d", &pid, &id, &line) != 3)
        fail_msg("helper said: %s", res.out);
    assert_int_equal(exit_code(), 99);
    snprintf(want, sizeof want, "\"leaks\":[{\"id\":%d,\"key\":%d,\"size\":8192,\"state\":\"orphaned\"", id,
             0x5eedc001);
    ASSERT_HAS(report, want);
    snprintf(want, sizeof want, "\"creator\":{\"pid\":%d,\"command\":\"helper_check\"", pid);
    ASSERT_HAS(report, want);
    snprintf(want, sizeof want, "\"function\":\"leak_here\",\"file\":\"tests/helper_check.c\",\"line\":%d",
             line);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "\"exit\":{\"code\":0,\"signal\":null}");
    ASSERT_HAS(report, "\"summary\":{\"leaked\":1,\"bytes\":8192,\"leaked_sets\":0,\"leaked_queues\":0,\"pending\":0,\"limit_errors\":0}");
}

static void test_clean_status_passes_through(void **state)
{
    (void)state;
    check(NULL, (const char *[]){ "clean", "0", NULL });
    assert_int_equal(exit_code(), 0);
    ASSERT_HAS(report, "exited with status 0");
    ASSERT_HAS(report, "LEAK SUMMARY: 0 segments leaked (0 B)");
    ASSERT_LACKS(report, "Leaked segment");
    check(NULL, (const char *[]){ "clean", "7", NULL });
    assert_int_equal(exit_code(), 7);
    ASSERT_HAS(report, "exited with status 7");
    /* --quiet: nothing to say, nothing said. */
    check((const char *[]){ "--quiet", NULL }, (const char *[]){ "clean", "0", NULL });
    assert_int_equal(exit_code(), 0);
    assert_string_equal(report, "");
    assert_int_equal(n_segments(), 0);
}

static void test_killed_by_signal(void **state)
{
    (void)state;
    check((const char *[]){ "--error-exitcode", "3", NULL }, (const char *[]){ "killed", "0x5eedc002", NULL });
    int pid, id;
    if (sscanf(res.out, "pid %d id %d", &pid, &id) != 2)
        fail_msg("helper said: %s", res.out);
    assert_int_equal(exit_code(), 3);
    ASSERT_HAS(report, "was killed by signal 9 (SIGKILL)");
    char want[160];
    snprintf(want, sizeof want, "Leaked segment %d: key 0x5eedc002", id);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "at main (tests/helper_check.c:");
    /* Nothing leaked: the signal is the status, as a shell reports it. */
    sgt_clear_ipc();
    check((const char *[]){ "--cleanup", NULL }, (const char *[]){ "killed", "0x5eedc002", NULL });
    assert_int_equal(exit_code(), 99);
    ASSERT_HAS(report, "removed (--cleanup)");
    assert_int_equal(n_segments(), 0);
}

/* The run's IPC_RMID, deferred because the process was attached, never
 * completed because it was SIGKILLed: reported, completed, not a leak. */
static void test_pending_completed(void **state)
{
    (void)state;
    /* Deferral is the defer mode's: a deployment's semantics, asked for. */
    check((const char *[]){ "--mode", "defer", NULL }, (const char *[]){ "pending", "0x5eedc003", NULL });
    int pid, id;
    if (sscanf(res.out, "pid %d id %d", &pid, &id) != 2)
        fail_msg("helper said: %s", res.out);
    assert_int_equal(exit_code(), 128 + SIGKILL);
    char want[160];
    snprintf(want, sizeof want, "Deferred removal never completed: segment %d: key 0x5eedc003", id);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "completed now by shmguard check");
    snprintf(want, sizeof want, "IPC_RMID asked by pid %d", pid);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "LEAK SUMMARY: 0 segments leaked (0 B); 1 deferred removal left by the run");
    assert_int_equal(cpid_of(id), -1);
    assert_int_equal(n_segments(), 0);
}

/* A segment from before the run, held by a process outside it; the run
 * removes it (deferred: the outside process is attached).  The run's
 * ledger goes with the run, so check hands the removal to the kernel as it
 * would have been without the library (issue: the report said "0 deferred
 * removals" and the segment stayed forever, its key resolving). */
static void test_outside_holder_removal(void **state)
{
    (void)state;
    int id = shmget(0x5eedc0de, 4096, IPC_CREAT | 0600);
    void *p = shmat(id, NULL, 0);
    assert_true(id >= 0 && p != (void *)-1);
    check((const char *[]){ "--mode", "defer", NULL }, (const char *[]){ "rmid", "0x5eedc0de", NULL });
    ASSERT_HAS(res.out, "rmid 0");
    ASSERT_HAS(report, "handed to the kernel by shmguard check");
    ASSERT_HAS(report, "1 deferred removal left by the run");
    struct shmid_ds ds;
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    assert_true(ds.shm_perm.mode & SHM_DEST);
    assert_int_equal(shmget(0x5eedc0de, 0, 0), -1); /* the key is gone, as bare */
    assert_int_equal(shmdt(p), 0);
    assert_int_equal(cpid_of(id), -1);
}

/* A long churn of private objects (130,000 cycles: twice the table in
 * less than the old 10 s between clean-ups), then one segment and one set left
 * behind: both reported (issue: records of removed private objects were
 * never deleted, the table filled after about 57,000 cycles, the leaked
 * ones' creation records were dropped, and check reported 0 leaks). */
static void test_churn_then_leak(void **state)
{
    (void)state;
    check(NULL, (const char *[]){ "churn", "130000", NULL });
    int id = -1, sid = -1;
    if (sscanf(res.out, "leaked %d %d", &id, &sid) != 2)
        fail_msg("helper said: %s", res.out);
    ASSERT_HAS(report, "LEAK SUMMARY: 1 segment leaked");
    ASSERT_HAS(report, "1 semaphore set leaked");
    ASSERT_LACKS(report, "could not be stored");
    shmctl(id, IPC_RMID, NULL);
    semctl(sid, 0, IPC_RMID);
}

static void set_shmmni(int v)
{
    FILE *f = fopen("/proc/sys/kernel/shmmni", "w");
    assert_non_null(f);
    fprintf(f, "%d\n", v);
    assert_int_equal(fclose(f), 0);
}

/* check changes nothing the program sees: a removal while a child is
 * attached too, then a lookup of the key, answers as bare (the key is
 * gone) under check's default, observe; --mode defer answers as a
 * deployment with the library does.  The report says the mode, text and
 * JSON. */
static void test_observe_by_default(void **state)
{
    (void)state;
    char *bare[] = { (char *)SGT_HELPER("helper_check"), "rmlook", "0x5eedc0a1", NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, bare, env, 30);
    assert_true(sgt_exited(&res, 0));
    char bare_out[64];
    snprintf(bare_out, sizeof bare_out, "%.40s", res.out);
    assert_string_equal(bare_out, "lookup errno 2\n");
    check(NULL, (const char *[]){ "rmlook", "0x5eedc0a1", NULL });
    assert_int_equal(exit_code(), 0);
    assert_string_equal(res.out, bare_out);
    ASSERT_HAS(report, "library in observe mode");
    check((const char *[]){ "--json", NULL }, (const char *[]){ "rmlook", "0x5eedc0a1", NULL });
    assert_string_equal(res.out, bare_out);
    ASSERT_HAS(report, "\"mode\":\"observe\"");
    /* --mode defer: a deployment's semantics, the key still resolves
     * while the child is attached. */
    check((const char *[]){ "--mode", "defer", NULL }, (const char *[]){ "rmlook", "0x5eedc0a1", NULL });
    assert_int_equal(exit_code(), 0);
    assert_string_equal(res.out, "lookup found\n");
    ASSERT_HAS(report, "library in defer mode");
}

static void test_limit_error(void **state)
{
    (void)state;
    int other = shmget(0x5eedc0ff, 4096, IPC_CREAT | 0600);
    assert_true(other >= 0);
    set_shmmni(1);
    check(NULL, (const char *[]){ "enospc", "0x5eedc004", NULL });
    set_shmmni(4096);
    int line, e;
    if (sscanf(res.out, "line %d errno %d", &line, &e) != 2)
        fail_msg("helper said: %s", res.out);
    assert_int_equal(e, ENOSPC);
    assert_int_equal(exit_code(), 0); /* a limit error is reported, the status is the program's */
    ASSERT_HAS(report, "Limit error: shmget(key=0x5eedc004, size=4096) failed with ENOSPC: kernel.shmmni "
                "exhausted (1 of 1 segments)");
    char want[128];
    snprintf(want, sizeof want, "(helper_check, uid %u) at enospc_here (tests/helper_check.c:%d)",
             (unsigned)geteuid(), line);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "0 segments leaked (0 B); 0 deferred removals left by the run; 1 limit error.");
    /* The segment that was there before is no leak of the run. */
    snprintf(want, sizeof want, "segment %d:", other);
    ASSERT_LACKS(report, want);
}

/* Segments that existed before the run, or that others make meanwhile
 * (bare, or under the library with another ledger), are never reported;
 * looking up a pre-existing segment does not make it the run's. */
static void test_outside_not_reported(void **state)
{
    (void)state;
    int before = shmget(0x5eedc010, 4096, IPC_CREAT | 0600);
    assert_true(before >= 0);
    check(NULL, (const char *[]){ "lookup", "0x5eedc010", NULL });
    assert_int_equal(exit_code(), 0);
    ASSERT_HAS(report, "LEAK SUMMARY: 0 segments leaked");

    /* A run that waits while others create segments. */
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    unlink(report_path);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(SGT_TOOL, SGT_TOOL, "check", "--report", report_path, "--", SGT_HELPER("helper_check"), "wait",
              "0x5eedc011", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char line[64] = "";
    ssize_t n = read(out[0], line, sizeof line - 1);
    assert_true(n > 0);
    line[n] = '\0';
    int ours;
    assert_int_equal(sscanf(line, "id %d", &ours), 1);
    /* Meanwhile, outside the run: a bare program and a carrier of the
     * library with a ledger of its own. */
    int bare = shmget(0x5eedc012, 4096, IPC_CREAT | 0600);
    assert_true(bare >= 0);
    sgt_run(&res, (char *[]){ (char *)SGT_HELPER("helper_check"), "killed", "0x5eedc013", NULL }, lib_env,
            30);
    int other_pid, other;
    assert_int_equal(sscanf(res.out, "pid %d id %d", &other_pid, &other), 2);
    assert_int_equal(write(in[1], "go\n", 3), 3);
    close(in[1]);
    close(out[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    read_report();
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 99);
    char want[64];
    snprintf(want, sizeof want, "Leaked segment %d:", ours);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "LEAK SUMMARY: 1 segment leaked");
    int ids[] = { before, bare, other };
    for (size_t i = 0; i < 3; i++) {
        snprintf(want, sizeof want, "segment %d:", ids[i]);
        ASSERT_LACKS(report, want);
    }
    ASSERT_HAS(report, "Not counted: 2 other segments appeared meanwhile");
}

/* A process of the run still alive when the command ends is named, and
 * its attached segment is listed. */
static void test_still_running(void **state)
{
    (void)state;
    check(NULL, (const char *[]){ "daemon", "0x5eedc020", NULL });
    int pid, id, sem;
    if (sscanf(res.out, "pid %d id %d sem %d", &pid, &id, &sem) != 3)
        fail_msg("helper said: %s", res.out);
    kill(pid, SIGKILL);
    semctl(sem, 0, IPC_RMID);
    assert_int_equal(exit_code(), 99);
    char want[128];
    snprintf(want, sizeof want, "Still running, started by the run: pid %d (helper_check)", pid);
    ASSERT_HAS(report, want);
    snprintf(want, sizeof want, "Leaked segment %d: key 0x5eedc020, 4.0 KiB (4096 bytes), in-use, attached by 1",
             id);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "alive now");
}

/* --cleanup never removes what a process of the run that still runs (a
 * daemon: double fork, its own session) uses (issue: it removed the
 * daemon's set and marked its segment). */
static void test_cleanup_spares_running(void **state)
{
    (void)state;
    check((const char *[]){ "--cleanup", NULL }, (const char *[]){ "daemon", "0x5eedc021", NULL });
    int pid, id, sem;
    if (sscanf(res.out, "pid %d id %d sem %d", &pid, &id, &sem) != 3)
        fail_msg("helper said: %s", res.out);
    ASSERT_HAS(report, "Still running, started by the run");
    ASSERT_HAS(report, "not removed by --cleanup: still attached by 1 process");
    ASSERT_HAS(report, "not removed by --cleanup: in use");
    struct shmid_ds ds;
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    assert_false(ds.shm_perm.mode & SHM_DEST);
    struct semid_ds sds;
    assert_int_equal(semctl(sem, 0, IPC_STAT, &sds), 0);
    kill(pid, SIGKILL);
    for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
        usleep(10000);
    shmctl(id, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
}

/* --isolate as root: the run sees none of this namespace's segments, and
 * what it leaks is reported and then gone with its namespace. */
static void test_isolate_root(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int mine = shmget(0x5eedc030, 4096, IPC_CREAT | 0600);
    assert_true(mine >= 0);
    check((const char *[]){ "--isolate", NULL }, (const char *[]){ "lookup", "0x5eedc030", NULL });
    assert_int_equal(exit_code(), 2); /* not found in there */
    ASSERT_HAS(report, "in a private IPC namespace");
    check((const char *[]){ "--isolate", NULL }, (const char *[]){ "grandchild", "0x5eedc031", NULL });
    int pid, id, line;
    if (sscanf(res.out, "pid %d id %d line %d", &pid, &id, &line) != 3)
        fail_msg("helper said: %s", res.out);
    assert_int_equal(exit_code(), 99);
    char want[128];
    snprintf(want, sizeof want, "at leak_here (tests/helper_check.c:%d)", line);
    ASSERT_HAS(report, want);
    ASSERT_HAS(report, "They go away with the private IPC namespace");
    /* Here, only the segment made before. */
    assert_int_equal(n_segments(), 1);
    assert_int_equal(shmget(0x5eedc031, 0, 0), -1);
}

/* Write text to a /proc file of process pid. */
static int write_proc(pid_t pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Run `shmguard check --isolate -- helper grandchild` as uid 65534, in a
 * user namespace of our own where user namespaces may (allow) or may not
 * be created further.  The report goes to report_path. */
static void check_unprivileged(int allow)
{
    int go[2], ready[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    int out = open(report_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    assert_true(out >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        if (unshare(CLONE_NEWUSER) != 0)
            _exit(90);
        if (write(ready[1], "u", 1) != 1)
            _exit(96);
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(91);
        /* Root of this user namespace now (mapped by the parent): set its
         * limit, then become an ordinary user. */
        FILE *f = fopen("/proc/sys/user/max_user_namespaces", "w");
        if (!f || fputs(allow ? "100\n" : "0\n", f) < 0 || fclose(f) != 0)
            _exit(92);
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(93);
        dup2(out, 2);
        dup2(out, 1);
        if (chdir("/") != 0)
            _exit(95);
        execl(SGT_TOOL, SGT_TOOL, "check", "--isolate", "--", SGT_HELPER("helper_check"), "grandchild",
              "0x5eedc040", (char *)NULL);
        _exit(94);
    }
    close(go[0]);
    close(ready[1]);
    close(out);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1); /* it is in its user namespace */
    close(ready[0]);
    /* Map uids and gids 0..65535 to themselves. */
    int ok = write_proc(pid, "setgroups", "allow\n") == 0 || errno == ENOENT;
    ok = ok && write_proc(pid, "uid_map", "0 0 65536\n") == 0 && write_proc(pid, "gid_map", "0 0 65536\n") == 0;
    assert_true(ok);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    read_report();
    res.status = st;
}

static void test_isolate_unprivileged(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip(); /* needs to map uid 65534 into a user namespace of its own */
    /* Where the system lets users make user namespaces. */
    check_unprivileged(1);
    assert_int_equal(exit_code(), 99);
    ASSERT_HAS(report, "in a private IPC namespace");
    ASSERT_HAS(report, "(helper_check, uid 65534)");
    ASSERT_HAS(report, "at leak_here (tests/helper_check.c:");
    /* Where it does not: a clear error, status 125. */
    check_unprivileged(0);
    assert_int_equal(exit_code(), 125);
    ASSERT_HAS(report, "shmguard: check: --isolate: cannot create a private IPC namespace: not root, and this "
                "system does not let unprivileged users create user namespaces");
    assert_int_equal(n_segments(), 0);
}

static void test_usage(void **state)
{
    (void)state;
    const char *argv0 = SGT_TOOL;
    struct { const char *a[6]; int code; const char *msg; } cases[] = {
        { { "check", NULL }, 125, "no command given" },
        { { "check", "--error-exitcode", "0", "true", NULL }, 125, "invalid --error-exitcode '0'" },
        { { "check", "--error-exitcode", "x", "true", NULL }, 125, "invalid --error-exitcode 'x'" },
        { { "check", "--mode", "sometimes", "true", NULL }, 125, "invalid --mode 'sometimes'" },
        { { "check", "--report", "/nonexistent/dir/r", "true", NULL }, 125, "cannot write the report" },
        { { "check", "--bogus", "true", NULL }, 125, "unrecognized option '--bogus'" },
        { { "check", "--", "/nonexistent/program", NULL }, 127, "failed to execute '/nonexistent/program'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[8] = { (char *)argv0 };
        for (int k = 0; cases[i].a[k]; k++)
            argv[k + 1] = (char *)cases[i].a[k];
        sgt_run(&res, argv, NULL, 30);
        if (!sgt_exited(&res, cases[i].code))
            fail_msg("case %zu: status %d, stderr: %s", i, res.status, res.err);
        ASSERT_HAS(res.err, cases[i].msg);
    }
    sgt_run(&res, (char *[]){ (char *)argv0, "check", "--help", NULL }, NULL, 30);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "--error-exitcode <n>");
    ASSERT_HAS(res.out, "--isolate");
    ASSERT_HAS(res.out, "--cleanup");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_check, teardown)
    const struct CMUnitTest tests[] = {
        T(test_grandchild_leak),     T(test_clean_status_passes_through),
        T(test_killed_by_signal),    T(test_pending_completed),
        T(test_outside_holder_removal), T(test_churn_then_leak),
        T(test_observe_by_default),  T(test_limit_error),
        T(test_outside_not_reported),
        T(test_still_running),       T(test_cleanup_spares_running),
        T(test_isolate_root),
        T(test_isolate_unprivileged), T(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
