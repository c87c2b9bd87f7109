/*
 * test_pidns.c - pid namespaces that share one IPC namespace and one
 * ledger directory (a pod's containers, docker --ipc=host), SPEC
 * "Security: Containers".
 *
 * Child pid namespaces are made with `unshare --pid --fork --mount-proc`
 * (their own /proc) or without --mount-proc (the parent's /proc); they
 * stay in the test's IPC namespace, so every process meets the same
 * segments, sets and ledger.  Processes are driven one command at a time
 * (helper_step) or hold a segment and a set until their stdin closes
 * (helper_named).  Each case of the issue, before the change:
 *   1. gc inside a child namespace removed live sets whose creators live
 *      in the parent ("creator pid ... is dead");
 *   2. gc in the parent removed live sets and segments whose creators live
 *      in a child, and doctor called them orphans;
 *   3. a removal asked in a child namespace while a process there was
 *      attached was dropped by the next library call in the parent (the
 *      kernel's cpid differs by namespace), so the last detach left the
 *      segment and its key forever;
 *   4. without --mount-proc the library recorded the host's pid 1 (its
 *      start time and command) as the creator;
 *   5. a lookup intent made in a child namespace was judged dead, so a
 *      removal was carried out between its shmget and its shmat.
 * And what must still work: after SIGKILL of a whole child namespace, gc
 * in the parent (an ancestor, which sees every process of it) proves its
 * creators dead and frees the orphans (6).
 * Root only (unshare --pid); skipped otherwise.
 */
#include "fixture.h"

#include <sys/prctl.h>

#include "sg_pidns.h"
#include "sg_proc.h"
#include <sys/msg.h>
#include <sys/shm.h>

static struct sgt_result res;

/* A process driven over pipes. */
struct co {
    pid_t pid;
    FILE *in, *out;
};

/* Start argv (after "unshare ..." words when ns is "mount-proc" or
 * "plain"; in this pid namespace when NULL) under the library. */
static void co_start3(struct co *c, const char *ns, const char *helper, const char *arg1,
                      const char *arg2, const char *arg3)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    c->pid = fork();
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        setpgid(0, 0);
        setenv("SHMGUARD_LEDGER", dir, 1);
        setenv("SHMGUARD_MODE", "defer", 1);
        const char *pre = env_preload;
        const char *h = SGT_HELPER("");
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s%s", h, helper);
        if (!ns)
            execl("/usr/bin/env", "env", pre, path, arg1, arg2, arg3, (char *)NULL);
        else if (!strcmp(ns, "mount-proc"))
            execlp("unshare", "unshare", "--pid", "--fork", "--mount-proc", "env", pre, path, arg1,
                   arg2, arg3, (char *)NULL);
        else
            execlp("unshare", "unshare", "--pid", "--fork", "env", pre, path, arg1, arg2, arg3,
                   (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->in = fdopen(in[1], "w");
    c->out = fdopen(out[0], "r");
    setvbuf(c->in, NULL, _IOLBF, 0);
}

static void co_start(struct co *c, const char *ns, const char *helper, const char *arg1,
                     const char *arg2)
{
    co_start3(c, ns, helper, arg1, arg2, NULL);
}

/* Send one command line, return the answer line (static buffer). */
static const char *co_cmd(struct co *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *co_cmd(struct co *c, const char *fmt, ...)
{
    static char line[256];
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->in, fmt, ap);
    va_end(ap);
    fputc('\n', c->in);
    fflush(c->in);
    if (!fgets(line, sizeof line, c->out))
        snprintf(line, sizeof line, "(no answer)");
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* helper_named prints "ready" once it holds its segment and set. */
static void co_ready(struct co *c)
{
    char line[64];
    if (!fgets(line, sizeof line, c->out) || strncmp(line, "ready", 5) != 0)
        fail_msg("helper did not get ready");
}

static void co_end(struct co *c)
{
    fclose(c->in);
    int st;
    waitpid(c->pid, &st, 0);
    fclose(c->out);
}

static void co_kill(struct co *c)
{
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    fclose(c->in);
    fclose(c->out);
}

/* Run the tool (in a child pid namespace with its own /proc when inner). */
static void tool(int inner, const char *sub, const char *a1)
{
    char d[PATH_MAX + 16];
    snprintf(d, sizeof d, "--dir=%s", dir);
    char *plain[] = { (char *)SGT_TOOL, (char *)sub, d, (char *)a1, NULL };
    char *nested[] = { "unshare", "--pid", "--fork", "--mount-proc", (char *)SGT_TOOL, (char *)sub,
                       d, (char *)a1, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, inner ? nested : plain, env, 60);
    if (res.status == -1 || !WIFEXITED(res.status))
        fail_msg("shmguard %s: status %d\n%s", sub, res.status, res.err);
}

static int sem_exists(key_t key) { return semget(key, 0, 0) >= 0; }
static int shm_key_exists(key_t key) { return shmget(key, 0, 0) >= 0; }

static int root_ok(void) { return geteuid() == 0 && system("unshare --pid --fork true 2>/dev/null") == 0; }

/* 1. Creators alive in the parent; gc inside a child namespace. */
static void test_gc_in_child(void **state)
{
    (void)state;
    if (!root_ok())
        skip();
    struct co holder;
    co_start(&holder, NULL, "helper_named", "706172656e74", "0x5eed9001");
    co_ready(&holder);
    tool(1, "gc", NULL);
    if (!sem_exists(0x5eed9001) || !shm_key_exists(0x5eed9001))
        fail_msg("gc in a child pid namespace removed the parent's live set or segment:\n%s%s",
                 res.out, res.err);
    tool(1, "ls", "--sem");
    ASSERT_HAS(res.out, "not-visible");
    /* Its creator's pid, not visible from there: the pid in its own
     * namespace (before: 0). */
    char d[PATH_MAX + 16], want[64];
    snprintf(d, sizeof d, "--dir=%s", dir);
    char *argv[] = { "unshare", "--pid", "--fork", "--mount-proc", (char *)SGT_TOOL, "ls", d,
                     "--sem", "--raw", "--noheadings", NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
    snprintf(want, sizeof want, " in-use %d parent not-visible ", (int)holder.pid);
    ASSERT_HAS(res.out, want);
    tool(1, "doctor", NULL);
    ASSERT_HAS(res.out, "not visible from this pid namespace");
    tool(1, "gc", "--dry-run");
    ASSERT_HAS(res.out, "not visible from this pid namespace");
    co_end(&holder);
}

/* 2. Creators alive in a child that never operate on their set; gc and
 * doctor in the parent.  6. Then SIGKILL of that child namespace: gc in
 * the parent proves them dead and frees both. */
static void test_gc_in_parent(void **state)
{
    (void)state;
    if (!root_ok())
        skip();
    struct co holder;
    co_start3(&holder, "mount-proc", "helper_named", "6368696c64", "0x5eed9002", "idle");
    co_ready(&holder);
    tool(0, "gc", NULL);
    if (!sem_exists(0x5eed9002) || !shm_key_exists(0x5eed9002))
        fail_msg("gc in the parent removed a child's live set or segment:\n%s%s", res.out, res.err);
    tool(0, "doctor", NULL);
    ASSERT_LACKS(res.out, "ORPHANS");
    if (sgt_exited(&res, 2))
        fail_msg("doctor exits 2 (orphans) for a child's live sets:\n%s", res.out);
    tool(0, "gc", "--dry-run");
    ASSERT_LACKS(res.out, "orphaned");

    co_kill(&holder); /* the whole namespace: its init is killed */
    /* Its init is killed, not yet gone: wait until it is. */
    for (int i = 0; i < 250 && system("pgrep -f 'helper_named 6368696c64' >/dev/null") == 0; i++)
        usleep(20000);
    tool(0, "gc", NULL);
    if (sem_exists(0x5eed9002) || shm_key_exists(0x5eed9002))
        fail_msg("after SIGKILL of the child namespace, gc in the parent did not free its "
                 "orphans:\n%s%s",
                 res.out, res.err);
}

/* 3. A removal asked in one child namespace while a process of another
 * is attached; a library call in the parent meanwhile; the last detach
 * completes it. */
static void test_pending_across(void **state)
{
    (void)state;
    if (!root_ok())
        skip();
    struct co a, b, c;
    co_start(&a, "mount-proc", "helper_step", NULL, NULL);
    const char *r = co_cmd(&a, "get 0x5eed9003 create");
    int id = -1;
    assert_int_equal(sscanf(r, "id %d", &id), 1);
    assert_string_equal(co_cmd(&a, "at %d", id), "ok");
    co_start(&b, "mount-proc", "helper_step", NULL, NULL);
    assert_string_equal(co_cmd(&b, "rmid %d", id), "ok");
    co_cmd(&b, "exit");
    co_end(&b);
    /* Deferred: the key still resolves. */
    assert_true(shm_key_exists(0x5eed9003));
    co_start(&c, NULL, "helper_step", NULL, NULL);
    r = co_cmd(&c, "stat %d", id); /* a parent's call: sweeps pending removals */
    ASSERT_HAS(r, "mode");
    tool(0, "ledger", NULL);
    ASSERT_HAS(res.out, "1 pending");
    assert_string_equal(co_cmd(&a, "dt %d", id), "ok");
    if (shm_key_exists(0x5eed9003) || sgt_shm_exists(id))
        fail_msg("the last detach left the segment whose removal was asked in a child pid "
                 "namespace");
    co_cmd(&c, "exit");
    co_end(&c);
    co_cmd(&a, "exit");
    co_end(&a);
}

/* 4. No /proc of its own: the creator recorded is the process itself. */
static void test_no_mount_proc(void **state)
{
    (void)state;
    if (!root_ok())
        skip();
    struct co a;
    co_start(&a, "plain", "helper_step", NULL, NULL);
    const char *r = co_cmd(&a, "get 0x5eed9004 create");
    int id = -1;
    assert_int_equal(sscanf(r, "id %d", &id), 1);
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    const struct sg_seg *s = sg_seg_find(&L, SG_KIND_SHM, id);
    assert_non_null(s);
    char init_comm[SG_COMM_LEN];
    sg_proc_comm(1, init_comm);
    if (!strcmp(s->cr_comm, init_comm) && strcmp(init_comm, "helper_step") != 0)
        fail_msg("recorded the host's pid 1 (%s) as the creator", s->cr_comm);
    assert_string_equal(s->cr_comm, "helper_step");
    assert_int_equal(s->cr_pid, 1); /* its pid in its namespace */
    if (s->cr_start == sg_proc_start_time(1))
        fail_msg("recorded the start time of the host's pid 1");
    assert_true(s->cr_pidns != 0 && s->cr_pidns != sg_pidns_self());
    sg_ledger_close(&L);
    co_cmd(&a, "rmid %d", id);
    co_cmd(&a, "exit");
    co_end(&a);
}

/* 5. A lookup made in a child namespace holds a removal back until its
 * attach. */
static void test_intent_across(void **state)
{
    (void)state;
    if (!root_ok())
        skip();
    struct co r, p;
    co_start(&r, NULL, "helper_step", NULL, NULL);
    int id = -1;
    assert_int_equal(sscanf(co_cmd(&r, "get 0x5eed9005 create"), "id %d", &id), 1);
    assert_string_equal(co_cmd(&r, "at %d", id), "ok");
    co_start(&p, "mount-proc", "helper_step", NULL, NULL);
    assert_true(sscanf(co_cmd(&p, "get 0x5eed9005"), "id %d", &id) == 1);
    assert_string_equal(co_cmd(&r, "rmid %d", id), "ok"); /* deferred: p looked it up */
    assert_string_equal(co_cmd(&r, "dt %d", id), "ok");    /* the last detach */
    const char *at = co_cmd(&p, "at %d", id);
    if (strcmp(at, "ok") != 0)
        fail_msg("the removal was carried out between the child's shmget and its shmat: %s", at);
    assert_string_equal(co_cmd(&p, "dt %d", id), "ok");
    if (sgt_shm_exists(id))
        fail_msg("the removal did not complete at the child's last detach");
    co_cmd(&p, "exit");
    co_end(&p);
    co_cmd(&r, "exit");
    co_end(&r);
}

/* Two containers of a pod, each its own pid namespace, whose processes
 * have the same pid (1): each one's use of a queue is its own record
 * (records are told apart by pid namespace too).  The creator is gone;
 * a looks the queue up, b looks it up and sends, a sends, receives both
 * messages (the kernel's last sender and receiver) and exits.
 * b, still alive, is the queue's only user: gc must keep it.  When b's
 * use was taken for a's record, a's exit deleted it and gc removed the
 * queue from under b. */
static void test_same_pid_other_namespace(void **state)
{
    (void)state;
    if (!root_ok())
        skip();
    struct co c, a, b;
    int id = -1, ida = -1, idb = -1;
    co_start(&c, NULL, "helper_actor", NULL, NULL);
    co_ready(&c);
    assert_int_equal(sscanf(co_cmd(&c, "msgcreate 0x5eed9007"), "ok id=%d", &id), 1);
    co_end(&c); /* the creator exits */
    co_start(&a, "mount-proc", "helper_actor", NULL, NULL);
    co_ready(&a);
    co_start(&b, "mount-proc", "helper_actor", NULL, NULL);
    co_ready(&b);
    assert_int_equal(sscanf(co_cmd(&a, "msglookup 0x5eed9007"), "ok id=%d", &ida), 1);
    assert_int_equal(sscanf(co_cmd(&b, "msglookup 0x5eed9007"), "ok id=%d", &idb), 1);
    assert_int_equal(ida, id);
    assert_int_equal(idb, id);
    assert_string_equal(co_cmd(&b, "msgsnd %d", id), "ok");
    assert_string_equal(co_cmd(&a, "msgsnd %d", id), "ok"); /* the last sender */
    assert_string_equal(co_cmd(&a, "msgrcv %d", id), "ok n=6"); /* and receiver: */
    assert_string_equal(co_cmd(&a, "msgrcv %d", id), "ok n=6"); /* the queue empty */
    co_cmd(&a, "exit");
    co_end(&a);
    tool(0, "gc", "--dry-run");
    if (!strstr(res.out, "would keep") || !strstr(res.out, "in use") ||
        strstr(res.out, "would remove msqid"))
        fail_msg("gc would remove a queue a live process of another pid namespace uses:\n%s",
                 res.out);
    tool(0, "gc", NULL);
    if (msgget(0x5eed9007, 0) != id)
        fail_msg("gc removed a queue a live process of another pid namespace uses:\n%s", res.out);
    co_cmd(&b, "exit");
    co_end(&b);
    msgctl(id, IPC_RMID, NULL);
}

/* A rootless container (a user namespace whose uid 0 is uid 1234
 * outside) in this IPC and pid namespace: the ledger directory's owner
 * (root) is not mapped there, so the library passes every call through
 * and says so; outside, its objects are judged by kernel facts alone, as
 * those of a program without the library: kept while the creator lives;
 * then a segment with nobody attached is an orphan, a set "unknown" (never
 * removed). */
static void test_user_namespace(void **state)
{
    (void)state;
    if (!root_ok() || system("setpriv --reuid=1234 --regid=1234 --clear-groups unshare -r true "
                             "2>/dev/null") != 0)
        skip();
    int in[2], out[2], err[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid_t c = fork();
    if (c == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        const char *pre = env_preload;
        setenv("SHMGUARD_LEDGER", dir, 1);
        execlp("setpriv", "setpriv", "--reuid=1234", "--regid=1234", "--clear-groups", "unshare",
               "-r", "env", pre, SGT_HELPER("helper_named"), "726f6f746c657373", "0x5eed9006",
               "idle", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    char ready[16] = "";
    assert_true(read(out[0], ready, sizeof ready - 1) > 0);
    char msg[1024] = "";
    ssize_t n = read(err[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    ASSERT_HAS(msg, "passing every call through");
    tool(0, "gc", NULL);
    assert_true(shm_key_exists(0x5eed9006) && sem_exists(0x5eed9006));
    tool(0, "ls", NULL);
    ASSERT_HAS(res.out, "rootless");
    /* SIGKILL before EOF: on EOF helper_named removes its segment and set
     * itself, and closing first raced the kill (the set was sometimes
     * gone before gc ran). */
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    close(in[1]);
    /* Should helper_named run on in the user namespace, it ends on EOF. */
    for (int i = 0; i < 100 && system("pgrep -f 726f6f746c657373 >/dev/null") == 0; i++)
        usleep(20000);
    tool(0, "gc", NULL);
    assert_false(shm_key_exists(0x5eed9006)); /* creator dead, nobody attached */
    assert_true(sem_exists(0x5eed9006));       /* no record: unknown, kept */
    close(out[0]);
    close(err[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gc_in_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_in_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_across, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_mount_proc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_across, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_pid_other_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_namespace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
