/*
 * test_msg.c - message queues in the tool, from the kernel's facts: `ls
 * --msg` (text and JSON, filters, states: in-use while the last sender or
 * receiver lives, unknown otherwise; --orphans takes none), ls without a
 * kind option (queues after segments), and doctor's kernel.msgmni (text,
 * JSON, Prometheus, exit status 3 when exhausted).
 */
#include "sgtest.h"
#include "fixture.h"

#include <sys/msg.h>

#include "sg_kmsg.h"
#include "sg_kernel.h"

static struct sgt_result res;

static void tool(const char *cmd, const char *a1, const char *a2, const char *a3)
{
    char d[PATH_MAX + 16];
    snprintf(d, sizeof d, "--dir=%s", dir);
    char *argv[] = { (char *)SGT_TOOL, (char *)cmd, d, (char *)a1, (char *)a2, (char *)a3, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 30);
    assert_true(res.status != -1 && WIFEXITED(res.status));
}

static int after(void **state)
{
    sgt_clear_ipc();
    sgt_msgmni_restore();
    return teardown(state);
}

struct msgbuf1 {
    long mtype;
    char text[16];
};

static void test_ls_queues(void **state)
{
    (void)state;
    /* Used: this process sent a message (its pid, alive, is the last
     * sender).  Idle: nobody ever sent or received. */
    int used = msgget(0x6d5e0001, IPC_CREAT | 0600), idle = msgget(0x6d5e0002, IPC_CREAT | 0640);
    assert_true(used >= 0 && idle >= 0);
    struct msgbuf1 m = { 1, "hello" };
    assert_int_equal(msgsnd(used, &m, 6, 0), 0);
    /* A sender that is gone: its queue is unknown, not orphaned. */
    int gone = msgget(0x6d5e0003, IPC_CREAT | 0600);
    pid_t c = fork();
    if (c == 0)
        _exit(msgsnd(gone, &m, 6, 0) != 0);
    int st;
    assert_int_equal(waitpid(c, &st, 0), c);

    tool("ls", "--msg", "--raw", "--noheadings");
    assert_true(sgt_exited(&res, 0));
    char want[256];
    snprintf(want, sizeof want, "0x6d5e0001 %d root 600 1 6 16384 %d  in-use ", used, (int)getpid());
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "0x6d5e0002 %d root 640 0 0 16384   unknown ", idle);
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "0x6d5e0003 %d root 600 1 6 16384 %d  unknown ", gone, (int)c);
    ASSERT_HAS(res.out, want);

    /* Filters. */
    tool("ls", "-q", "--key", "0x6d5e0002");
    ASSERT_HAS(res.out, "0x6d5e0002");
    ASSERT_LACKS(res.out, "0x6d5e0001");
    tool("ls", "-q", "--orphans", NULL);
    assert_true(sgt_exited(&res, 0)); /* not a usage error, whose output is empty too */
    ASSERT_LACKS(res.out, "0x6d5e");

    /* JSON. */
    tool("ls", "-q", "--json", NULL);
    ASSERT_HAS(res.out, "\"queues\": [");
    ASSERT_HAS(res.out, "\"key\": \"0x6d5e0001\"");
    ASSERT_HAS(res.out, "\"messages\": 1");
    ASSERT_HAS(res.out, "\"state\": \"in-use\"");

    /* Without a kind: segments, then the queues; JSON one object. */
    tool("ls", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "MSQID");
    ASSERT_HAS(res.out, "0x6d5e0003");
    tool("ls", "--json", NULL, NULL);
    ASSERT_HAS(res.out, "\"segments\": [");
    ASSERT_HAS(res.out, "\"queues\": [");
    /* Kinds exclude each other, and so do JSON and raw. */
    tool("ls", "-q", "-s", NULL);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "--shm, --sem and --msg exclude each other");
    tool("ls", "--json", "--raw", NULL);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "--json and --raw exclude each other");
}

static void test_doctor_msgmni(void **state)
{
    (void)state;
    if (geteuid() != 0 || access("/proc/sys/kernel/msgmni", W_OK) != 0)
        skip();
    unsigned long old = sgt_set_msgmni(2);
    int a = msgget(IPC_PRIVATE, 0600), b = msgget(IPC_PRIVATE, 0600);
    int c = msgget(IPC_PRIVATE, 0600);
    int e = errno;
    assert_true(a >= 0 && b >= 0 && c < 0 && e == ENOSPC);

    /* Under the library: the call fails as bare (ENOSPC), and the
     * library says why; shmguard check reports it as a limit error. */
    char *helper[] = { (char *)SGT_HELPER("helper_check"), "msgenospc", NULL };
    sgt_run(&res, helper, lib_env, 30);
    assert_true(sgt_exited(&res, 0));
    assert_string_equal(res.out, "errno 28\n");
    ASSERT_HAS(res.err, "msgget(key=IPC_PRIVATE, flags=0600) failed with ENOSPC (\"No space left on "
                        "device\")");
    ASSERT_HAS(res.err, "This is not a full disk: the System V message queue limit kernel.msgmni is "
                        "exhausted: 2 of 2 queues in use");
    /* This test's two queues: made bare, never used, by a live process. */
    ASSERT_HAS(res.err, "No orphaned queues: each has a live creator, user, sender or receiver, or "
                        "was never used.");
    ASSERT_HAS(res.err, "Or raise the limit: sysctl -w kernel.msgmni=16");
    sgt_run(&res, helper, bare_env, 30);
    assert_string_equal(res.out, "errno 28\n");
    assert_string_equal(res.err, "");
    char *chk[] = { (char *)SGT_TOOL, "check", "--", (char *)SGT_HELPER("helper_check"), "msgenospc",
                    NULL };
    sgt_run(&res, chk, bare_env, 60);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.err, "Limit error: msgget(key=IPC_PRIVATE) failed with ENOSPC: kernel.msgmni "
                        "exhausted (2 of 2 queues)");
    ASSERT_HAS(res.err, "1 limit error");

    tool("doctor", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 3));
    ASSERT_HAS(res.out, "EXHAUSTED: kernel.msgmni 2/2 queues: the next msgget that creates a queue "
                        "fails with ENOSPC; shared memory and semaphores: no limit near, no orphans\n");
    ASSERT_HAS(res.out, "MSGMNI         2 / 2 queues");
    ASSERT_HAS(res.out, "sysctl -w kernel.msgmni=16");
    tool("doctor", "--json", NULL, NULL);
    assert_true(sgt_exited(&res, 3));
    ASSERT_HAS(res.out, "\"verdict\": \"exhausted\"");
    ASSERT_HAS(res.out, "\"msgmni\": {\"used\": 2, \"limit\": 2, \"percent\": 100.0, \"status\": \"exhausted\"}");
    tool("doctor", "--prometheus", NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "\nshmguard_ipc_used_ratio{limit=\"msgmni\"} 1.000000\n");
    ASSERT_HAS(res.out, "\nshmguard_msg_queues{state=\"unknown\"} 2\n");
    ASSERT_HAS(res.out, "\nshmguard_doctor_status 3\n");
    sgt_set_msgmni(old);
}

/* check: a queue the run leaves is reported with its creator and call
 * site from the run's ledger, and what it holds and its last sender;
 * --cleanup removes it; a run that is not isolated reports its own queue
 * (recorded) and counts apart one made without the library. */
static void test_check_queue_leak(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* --isolate as root keeps the test simple */
    char *iso[] = { (char *)SGT_TOOL, "check", "--isolate", "--",
                    (char *)SGT_HELPER("helper_check"), "msgleak", NULL };
    sgt_run(&res, iso, bare_env, 60);
    assert_true(sgt_exited(&res, 99));
    int q = -1;
    assert_int_equal(sscanf(res.out, "msqid %d", &q), 1);
    char want[128];
    snprintf(want, sizeof want, "Leaked message queue %d: key IPC_PRIVATE, held, 1 message (6 bytes) "
                                "in it", q);
    ASSERT_HAS(res.err, want);
    ASSERT_HAS(res.err, "(not running now)");
    ASSERT_HAS(res.err, "(helper_check, uid 0), dead now");
    ASSERT_HAS(res.err, "at main (tests/helper_check.c:");
    ASSERT_HAS(res.err, "1 message queue leaked");
    char *json[] = { (char *)SGT_TOOL, "check", "--isolate", "--json", "--",
                     (char *)SGT_HELPER("helper_check"), "msgleak", NULL };
    sgt_run(&res, json, bare_env, 60);
    assert_true(sgt_exited(&res, 99));
    ASSERT_HAS(res.err, "\"queue_leaks\":[{\"msqid\":");
    ASSERT_HAS(res.err, "\"messages\":1,\"bytes\":6,");
    ASSERT_HAS(res.err, "\"state\":\"held\",\"creator\":{\"pid\":");
    ASSERT_HAS(res.err, "\"function\":\"main\",\"file\":\"tests/helper_check.c\"");
    ASSERT_HAS(res.err, "\"recorded\":true");
    ASSERT_HAS(res.err, "\"leaked_queues\":1");
    char *clean[] = { (char *)SGT_TOOL, "check", "--isolate", "--cleanup", "--",
                      (char *)SGT_HELPER("helper_check"), "msgleak", NULL };
    sgt_run(&res, clean, bare_env, 60);
    assert_true(sgt_exited(&res, 99));
    ASSERT_HAS(res.err, "removed (--cleanup)");
    /* Not isolated: here, in this test's namespace, the run's own queue
     * is told apart by its record... */
    char *here[] = { (char *)SGT_TOOL, "check", "--", (char *)SGT_HELPER("helper_check"), "msgleak",
                     NULL };
    sgt_run(&res, here, bare_env, 60);
    assert_true(sgt_exited(&res, 99));
    assert_int_equal(sscanf(res.out, "msqid %d", &q), 1);
    snprintf(want, sizeof want, "Leaked message queue %d: key IPC_PRIVATE, held", q);
    ASSERT_HAS(res.err, want);
    ASSERT_LACKS(res.err, "Not counted");
    /* The command offered frees it (the run's ledger, which would let gc
     * judge it, is gone with the run). */
    snprintf(want, sizeof want, "Remove the run's message queues: ipcrm -q %d (or run check with "
             "--cleanup)", q);
    ASSERT_HAS(res.err, want);
    ASSERT_LACKS(res.err, "Free them: shmguard gc");
    char qid[16];
    snprintf(qid, sizeof qid, "%d", q);
    char *rm[] = { "ipcrm", "-q", qid, NULL };
    sgt_run(&res, rm, bare_env, 60);
    assert_true(sgt_exited(&res, 0));
    struct msqid_ds qs;
    assert_int_equal(msgctl(q, IPC_STAT, &qs), -1);
    /* ... and one made without the library is counted apart. */
    char *other[] = { (char *)SGT_TOOL, "check", "--", "/usr/bin/env", "LD_PRELOAD=",
                      (char *)SGT_HELPER("helper_check"), "msgleak", NULL };
    sgt_run(&res, other, bare_env, 60);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.err, "Not counted: 1 other message queue appeared meanwhile");
}

/* In mode off, a program whose msgget calls all succeed opens no ledger:
 * the library is a pure pass-through.  (In the other modes it records
 * the queue's creator: test_msg_records.c.) */
static void test_msgget_off_opens_nothing(void **state)
{
    (void)state;
    char *off_env[] = { env_preload, env_ledger, "SHMGUARD_MODE=off", NULL };
    char *helper[] = { (char *)SGT_HELPER("helper_check"), "msgleak", NULL };
    sgt_run(&res, helper, off_env, 30);
    assert_true(sgt_exited(&res, 0));
    int q = -1;
    assert_int_equal(sscanf(res.out, "msqid %d", &q), 1);
    assert_string_equal(res.err, "");
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(msgctl(q, IPC_RMID, NULL), 0);
}

/* The first call made by a thread after the main thread ended (its
 * /proc/self/ns links are gone): the namespace is read through the
 * thread's own links, and the ledger is this namespace's, never one named
 * for namespace 0 that every namespace would share. */
static void test_main_thread_gone(void **state)
{
    (void)state;
    char *helper[] = { (char *)SGT_HELPER("helper_check"), "mainexit", NULL };
    sgt_run(&res, helper, lib_env, 30);
    assert_true(sgt_exited(&res, 0));
    assert_string_equal(res.out, "ok\n");
    char cmd[2 * PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "test -e '%s'/ipc-%llu.uid-%u.ledger && ! ls '%s' | grep -q '^ipc-0\\.'",
             dir, (unsigned long long)sg_ipcns_ino(), (unsigned)geteuid(), dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ls_queues, setup, after),
        cmocka_unit_test_setup_teardown(test_doctor_msgmni, setup, after),
        cmocka_unit_test_setup_teardown(test_check_queue_leak, setup, after),
        cmocka_unit_test_setup_teardown(test_msgget_off_opens_nothing, setup, after),
        cmocka_unit_test_setup_teardown(test_main_thread_gone, setup, after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
