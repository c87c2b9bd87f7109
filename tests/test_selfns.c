/*
 * test_selfns.c - this process's namespace identities (sg_selfns.h)
 * where they are easy to get wrong: a child in a new pid namespace (its
 * pid_for_children is not its pid namespace), a process that left its
 * IPC namespace, and a process whose descriptors 0-2 are closed (none
 * may be left open where the program's stdio was).
 */
#include "sgtest.h"
#include "sg_selfns.h"

#include <sched.h>

/* The namespace's inode as stat through the link gives it: read another
 * way than sg_selfns_ino's readlink of the link's target, so a wrong link
 * or a misparsed target shows. */
static uint64_t proc_ino(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* 0 when both kinds agree with /proc; a distinct code for each miss. */
static int compare_both(void)
{
    uint64_t p = sg_selfns_ino(SG_SELFNS_PID), i = sg_selfns_ino(SG_SELFNS_IPC);
    if (!p || p != proc_ino("/proc/self/ns/pid"))
        return 1;
    if (!i || i != proc_ino("/proc/self/ns/ipc"))
        return 2;
    return 0;
}

static int run_child(int (*body)(void))
{
    pid_t c = fork();
    if (c == 0)
        _exit(body());
    int st;
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void test_same_as_proc(void **state)
{
    (void)state;
    assert_int_equal(compare_both(), 0);
}

static int new_pidns_body(void)
{
    if (unshare(CLONE_NEWPID) != 0)
        return 77;
    uint64_t before = sg_selfns_ino(SG_SELFNS_PID);
    if (before != proc_ino("/proc/self/ns/pid"))
        return 3; /* still the old namespace: pid, not pid_for_children */
    if (proc_ino("/proc/self/ns/pid") == proc_ino("/proc/self/ns/pid_for_children"))
        return 4;
    pid_t c = fork(); /* pid 1 of the new namespace */
    if (c == 0) {
        uint64_t mine = sg_selfns_ino(SG_SELFNS_PID);
        _exit(mine == before ? 5 : mine == proc_ino("/proc/self/ns/pid") ? 0 : 6);
    }
    int st;
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
        return 7;
    return WEXITSTATUS(st);
}

static void test_new_pid_namespace(void **state)
{
    (void)state;
    int r = run_child(new_pidns_body);
    if (r == 77)
        skip();
    assert_int_equal(r, 0);
}

static int new_ipcns_body(void)
{
    uint64_t before = sg_selfns_ino(SG_SELFNS_IPC);
    if (unshare(CLONE_NEWIPC) != 0)
        return 77;
    uint64_t after = sg_selfns_ino(SG_SELFNS_IPC);
    if (after == before)
        return 8;
    return compare_both();
}

static void test_new_ipc_namespace(void **state)
{
    (void)state;
    int r = run_child(new_ipcns_body);
    if (r == 77)
        skip();
    assert_int_equal(r, 0);
}

static int closed_stdio_body(void)
{
    close(0);
    close(1);
    close(2);
    int r = compare_both();
    if (r)
        return r;
    /* Nothing left open where the program's stdio was. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            return 10 + fd;
    return 0;
}

static void test_closed_stdio(void **state)
{
    (void)state;
    assert_int_equal(run_child(closed_stdio_body), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_proc),
        cmocka_unit_test(test_new_pid_namespace),
        cmocka_unit_test(test_new_ipc_namespace),
        cmocka_unit_test(test_closed_stdio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
