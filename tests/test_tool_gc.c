/*
 * test_tool_gc.c - `shmguard gc` removes exactly what is provably unused.
 *
 * In the private IPC namespace of the test, real processes (helper_step,
 * with the library in defer mode or bare) make one segment of each kind:
 * in use, idle (creator alive), orphaned (creator SIGKILLed), a pending
 * removal that is due (deferred while attached, then every attacher
 * SIGKILLed so that no carrier completes it), and orphans whose creator's
 * pid names a live process again.  Pid reuse is real where the test may
 * pick a pid (clone3 with set_tid needs CAP_SYS_ADMIN); otherwise the
 * ledger record's creator pid is pointed at a live, unrelated process
 * with another start time, which is the same situation as seen by gc.
 * The dry run must predict exactly what the real run then removes.
 *
 * The race between a decision and the removal is tested on gc's own
 * re-check (gc_recheck, compiled into this test from tool/tool_gc.c, the
 * same code the tool runs): a process attaches, a creator's pid comes
 * back, a pending removal is taken over, a carrier looks the key up, the
 * segment goes - each between the decision and the re-check.
 *
 * Also: --min-age, --id and --force, a removal the caller is not
 * permitted to make (exit status 2), and a forged record in another
 * user's ledger, which gc must not believe.  Root-only parts skip when
 * the test runs without a second uid.
 */
#include "step.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "sg_analysis.h"
#include "sg_proc.h"

/* gc's internals, exactly as the tool builds them. */
#include "tool_table.c"
#include "tool_util.c"
#include "tool_site.c"
#include "tool_scan.c"
#include "tool_dead.c"
#include "tool_gc_filter.c"
#include "tool_gc.c"
#include "tool_gc_sem.c"
#include "tool_gc_msg.c"
#include "tool_gc_obj.c"

#include "fixture.h"

static struct sgt_result res;


/* ---- pid reuse ----------------------------------------------------------- */

struct sgt_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
};

/* A process that waits to be killed, with exactly pid want, started after
 * the process that had it: its start time differs from old_start, the
 * dead one's, and is later than now (a start mark the dead one recorded
 * fits no process started after it).  -1 when
 * this test may not choose pids (clone3 set_tid needs CAP_SYS_ADMIN over
 * the pid namespace). */
static pid_t reuse_pid(pid_t want, uint64_t old_start)
{
    uint64_t now = sg_start_ticks(sg_proc_self_mark());
    for (int attempt = 0; attempt < 1000; attempt++) {
        struct sgt_clone_args a;
        memset(&a, 0, sizeof a);
        pid_t tid = want;
        a.exit_signal = SIGCHLD;
        a.set_tid = (uint64_t)(uintptr_t)&tid;
        a.set_tid_size = 1;
        long r = syscall(SYS_clone3, &a, sizeof a);
        if (r == 0) {
            /* Hold nothing of the test's (pipes to helpers, its output),
             * and die with it, whatever happens to it. */
            for (int fd = 0; fd < 1024; fd++)
                close(fd);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1)
                _exit(0);
            for (;;)
                pause();
        }
        if (r < 0)
            return -1;
        uint64_t started = sg_proc_start_time((pid_t)r);
        if (started != old_start && started > now)
            return (pid_t)r;
        /* Same clock tick as the dead one or its marks: indistinguishable;
         * again (a tick is 10 ms). */
        kill((pid_t)r, SIGKILL);
        waitpid((pid_t)r, NULL, 0);
    }
    return -1;
}

static void reap(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* 1 if this test may run processes as uid 65534 (real root; not in the
 * user namespace of `unshare -r`, which maps one uid only). */
static int can_switch_uid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
                      setresuid(65534, 65534, 65534) == 0
                  ? 0
                  : 1);
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- running the tool ------------------------------------------------ */

static void gc_run(int want_status, const char *a1, ...)
{
    va_list ap;
    va_start(ap, a1);
    sgt_tool_v(&res, "gc", dir, a1, ap);
    va_end(ap);
    if (!sgt_exited(&res, want_status))
        fail_msg("shmguard gc: status %d, wanted exit %d\nstdout:\n%s\nstderr:\n%s", res.status,
                 want_status, res.out, res.err);
}

/* The line gc printed about shmid id, or fail. */
static const char *line_of(int id)
{
    static char line[2048];
    char tag[32];
    snprintf(tag, sizeof tag, " shmid %d (", id);
    const char *p = strstr(res.out, tag);
    if (!p)
        fail_msg("gc said nothing about shmid %d:\n%s", id, res.out);
    const char *b = p;
    while (b > res.out && b[-1] != '\n')
        b--;
    const char *e = strchr(p, '\n');
    snprintf(line, sizeof line, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
    return line;
}

/* gc's action on shmid id is action (padded to its column), with why. */
static void expect(int id, const char *action, const char *why)
{
    const char *l = line_of(id);
    size_t n = strlen(action);
    if (strncmp(l, action, n) || (l[n] != ' ') || !strstr(l, why))
        fail_msg("shmid %d: wanted '%s ... %s', got '%s'", id, action, why, l);
}

static int count_shmid_lines(void)
{
    int n = 0;
    for (const char *p = res.out; (p = strstr(p, " shmid ")); p++)
        n++;
    return n;
}

/* ---- the namespace with one segment of each kind -------------------- */

static void test_removes_exactly_the_unused(void **state)
{
    (void)state;
    struct step inuse, idle, orphan, p1, p2, reused, bare;
    step_start(&inuse, lib_env);
    step_start(&idle, lib_env);
    step_start(&orphan, lib_env);
    step_start(&p1, lib_env);
    step_start(&p2, lib_env);
    step_start(&reused, lib_env);
    step_start(&bare, bare_env);

    int id_inuse = step_id(step(&inuse, "get 0x7c000001 create"));
    assert_string_equal(step(&inuse, "at %d", id_inuse), "ok");
    int id_idle = step_id(step(&idle, "get 0x7c000002 create"));
    int id_orphan = step_id(step(&orphan, "get 0x7c000003 create"));
    int id_pend = step_id(step(&p1, "get 0x7c000004 create"));
    assert_string_equal(step(&p1, "at %d", id_pend), "ok");
    assert_int_equal(step_id(step(&p2, "get 0x7c000004")), id_pend);
    assert_string_equal(step(&p2, "at %d", id_pend), "ok");
    assert_string_equal(step(&p1, "rmid %d", id_pend), "ok"); /* deferred: attached */
    int id_reused = step_id(step(&reused, "get 0x7c000005 create"));
    int id_bare = step_id(step(&bare, "get 0x7c000006 create"));
    assert_true(id_inuse >= 0 && id_idle >= 0 && id_orphan >= 0 && id_pend >= 0 && id_reused >= 0 &&
                id_bare >= 0);

    pid_t reused_pid = reused.pid, bare_pid = bare.pid;
    uint64_t reused_start = sg_proc_start_time(reused_pid), bare_start = sg_proc_start_time(bare_pid);
    step_kill(&orphan);
    step_kill(&p1);
    step_kill(&p2); /* every attacher gone, no carrier completes the removal */
    step_kill(&reused);
    step_kill(&bare);
    assert_true(sgt_shm_exists(id_pend));

    /* Pid reuse: the creators' pids name live processes again. */
    pid_t again = reuse_pid(reused_pid, reused_start);
    pid_t again_bare = again > 0 ? reuse_pid(bare_pid, bare_start) : -1;
    print_message("pid reuse: %s\n", again > 0 ? "real (clone3 set_tid)" : "forged ledger record");
    if (again < 0) {
        /* No say over pids here: point the record's creator at a live,
         * unrelated process (this test) with another start time. */
        struct sg_ledger L;
        char err[PATH_MAX + 256];
        assert_int_equal(sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
        assert_int_equal(sg_ledger_lock(&L), 0);
        struct sg_seg *r = sg_seg_find(&L, SG_KIND_SHM, id_reused);
        assert_non_null(r);
        assert_int_equal(r->cr_pid, reused_pid);
        r->cr_pid = getpid();
        r->cr_start = sg_proc_start_time(getpid()) - 1;
        sg_ledger_unlock(&L);
        sg_ledger_close(&L);
    } else {
        assert_int_equal(again, reused_pid);
        assert_int_equal(again_bare, bare_pid);
    }

    gc_run(0, "--dry-run", NULL);
    expect(id_inuse, "would keep", "in use: attached by");
    expect(id_idle, "would keep", "idle: nobody attached, its creator pid");
    expect(id_orphan, "would remove", "orphaned: nobody attached, its creator pid");
    expect(id_pend, "would remove", "pending removal is due");
    expect(id_reused, "would remove", "orphaned: nobody attached, its creator pid");
    if (again > 0) {
        expect(id_reused, "would remove", "the pid now names another process, which started later");
        expect(id_bare, "would keep", "is in use and without a ledger record it may be the creator");
    } else
        expect(id_bare, "would remove", "no ledger record: kernel facts only");
    assert_int_equal(count_shmid_lines(), 6);
    assert_non_null(strstr(res.out, again > 0 ? "Would remove 3 segments" : "Would remove 4 segments"));
    int ids[] = { id_inuse, id_idle, id_orphan, id_pend, id_reused, id_bare };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        assert_true(sgt_shm_exists(ids[i])); /* a dry run removes nothing */

    gc_run(0, NULL);
    expect(id_inuse, "kept", "in use");
    expect(id_idle, "kept", "idle");
    expect(id_orphan, "removed", "orphaned");
    expect(id_pend, "removed", "pending removal is due");
    expect(id_reused, "removed", "orphaned");
    expect(id_bare, again > 0 ? "kept" : "removed", again > 0 ? "idle" : "orphaned");
    assert_true(sgt_shm_exists(id_inuse));
    assert_true(sgt_shm_exists(id_idle));
    assert_false(sgt_shm_exists(id_orphan));
    assert_false(sgt_shm_exists(id_pend));
    assert_false(sgt_shm_exists(id_reused));
    assert_int_equal(sgt_shm_exists(id_bare), again > 0);

    /* The ledger no longer holds the removed ones, nor a pending removal. */
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    assert_int_equal(L.hdr->pending, 0);
    assert_null(sg_seg_find(&L, SG_KIND_SHM, id_pend));
    assert_null(sg_seg_find(&L, SG_KIND_SHM, id_orphan));
    assert_null(sg_seg_find(&L, SG_KIND_SHM, id_reused));
    assert_non_null(sg_seg_find(&L, SG_KIND_SHM, id_idle));
    sg_ledger_close(&L);

    /* Nothing left to do: a second run keeps everything and succeeds. */
    gc_run(0, NULL);
    assert_non_null(strstr(res.out, "Removed 0 segments"));

    reap(again);
    reap(again_bare);
    step_end(&inuse, "exit");
    step_end(&idle, "exit");
}

/* ---- the re-check, between the decision and the removal ------------ */

/* Decide about the current namespace and return the item for id. */
static struct gc_item decide_one(int id, int force)
{
    struct sg_view v;
    struct proc_scan ps;
    assert_int_equal(sg_view_build(&v, dir, NULL), 0);
    assert_int_equal(proc_scan_build(&ps), 0);
    long want = id;
    struct gc_opts o = { .force = force, .ids = &want, .n_ids = 1 };
    struct gc_item items[8];
    assert_true(v.n <= 8);
    size_t n = gc_decide(&v, &ps, &o, (int64_t)time(NULL), items);
    assert_int_equal(n, 1);
    proc_scan_free(&ps);
    sg_view_free(&v);
    return items[0];
}

static void test_recheck_sees_what_changed(void **state)
{
    (void)state;
    char why[PATH_MAX + 512];
    struct step o, x;
    step_start(&o, lib_env);
    step_start(&x, bare_env);
    int id = step_id(step(&o, "get 0x7c000101 create"));
    step_kill(&o);

    struct gc_item it = decide_one(id, 0);
    assert_int_equal(it.kind, GC_ORPHAN);
    assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), 1);

    /* Someone attaches after the decision: not removed. */
    assert_int_equal(step_id(step(&x, "get 0x7c000101")), id);
    assert_string_equal(step(&x, "at %d", id), "ok");
    assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), 0);
    assert_string_equal(why, "attached meanwhile (nattch 1)");
    /* The same under this user's ledger lock, as the tool does it. */
    struct sg_ledger own;
    char err[PATH_MAX + 256];
    assert_int_equal(sg_ledger_open_own(&own, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    assert_int_equal(sg_ledger_lock(&own), 0);
    assert_int_equal(gc_recheck(&it, &own, dir, why, sizeof why), 0);
    sg_ledger_unlock(&own);
    assert_string_equal(step(&x, "dt %d", id), "ok");
    assert_int_equal(sg_ledger_lock(&own), 0);
    assert_int_equal(gc_recheck(&it, &own, dir, why, sizeof why), 1);
    sg_ledger_unlock(&own);

    /* A carrier looks the key up after the decision (its intent holds
     * the removal back until it attaches). */
    struct step c;
    step_start(&c, lib_env);
    assert_int_equal(step_id(step(&c, "get 0x7c000101")), id);
    assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), 0);
    assert_string_equal(why, "a process has just looked it up and is about to attach");
    assert_int_equal(sg_ledger_lock(&own), 0);
    assert_int_equal(gc_recheck(&it, &own, dir, why, sizeof why), 0);
    sg_ledger_unlock(&own);
    step_kill(&c); /* a dead carrier's intent holds nothing */
    assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), 1);

    /* The segment goes (someone else removed it). */
    assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
    assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), -1);
    assert_string_equal(why, "gone: removed by someone else meanwhile");

    /* A pending removal that a carrier took over (cleared) meanwhile. */
    struct step p;
    step_start(&p, lib_env);
    int idp = step_id(step(&p, "get 0x7c000102 create"));
    assert_string_equal(step(&p, "at %d", idp), "ok");
    struct step q; /* a lookup before the removal defers it */
    step_start(&q, lib_env);
    assert_int_equal(step_id(step(&q, "get 0x7c000102")), idp);
    assert_string_equal(step(&p, "rmid %d", idp), "ok");
    step_kill(&q);
    step_kill(&p);
    it = decide_one(idp, 0);
    assert_int_equal(it.kind, GC_PENDING);
    assert_int_equal(sg_ledger_lock(&own), 0);
    assert_int_equal(gc_recheck(&it, &own, dir, why, sizeof why), 1);
    struct sg_seg *r = sg_seg_find(&own, SG_KIND_SHM, idp);
    assert_non_null(r);
    sg_pend_del(&own, SG_KIND_SHM, idp);
    r->flags &= ~SG_SEG_PENDING;
    assert_int_equal(gc_recheck(&it, &own, dir, why, sizeof why), 0);
    assert_string_equal(why, "its pending removal was cancelled or taken over meanwhile");
    sg_ledger_unlock(&own);
    sg_ledger_close(&own);

    /* Without a ledger record, a creator's pid that comes back in use
     * means it may be alive: kept. */
    struct step b;
    step_start(&b, bare_env);
    int idb = step_id(step(&b, "get 0x7c000103 create"));
    pid_t bpid = b.pid;
    uint64_t bstart = sg_proc_start_time(bpid);
    step_kill(&b);
    it = decide_one(idb, 0);
    assert_int_equal(it.kind, GC_ORPHAN);
    assert_int_equal(it.cr_start, 0);
    pid_t again = reuse_pid(bpid, bstart);
    if (again > 0) {
        assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), 0);
        char want[128];
        snprintf(want, sizeof want, "pid %d is in use now, so its creator may be alive", bpid);
        assert_string_equal(why, want);
        reap(again);
        assert_int_equal(gc_recheck(&it, NULL, dir, why, sizeof why), 1);
    }
    step_end(&x, "exit");
}

/* --min-age keeps young segments; --id narrows gc to the named ones; an
 * idle segment (creator alive) goes only with --force and --id, and an
 * attached one never. */
static void test_force_min_age_and_ids(void **state)
{
    (void)state;
    struct step idle, inuse, orphan;
    step_start(&idle, lib_env);
    step_start(&inuse, lib_env);
    step_start(&orphan, bare_env);
    int id_idle = step_id(step(&idle, "get 0x7c000201 create"));
    /* Attached once and detached: idle, and its creator's lookup no
     * longer holds anything back (an intent does, for 5 s, until then). */
    assert_string_equal(step(&idle, "at %d", id_idle), "ok");
    assert_string_equal(step(&idle, "dt %d", id_idle), "ok");
    int id_inuse = step_id(step(&inuse, "get 0x7c000202 create"));
    assert_string_equal(step(&inuse, "at %d", id_inuse), "ok");
    int id_orphan = step_id(step(&orphan, "get 0x7c000203 create"));
    step_kill(&orphan);
    char a_idle[16], a_inuse[16], a_orphan[16];
    snprintf(a_idle, sizeof a_idle, "%d", id_idle);
    snprintf(a_inuse, sizeof a_inuse, "%d", id_inuse);
    snprintf(a_orphan, sizeof a_orphan, "%d", id_orphan);

    /* Young segments are kept. */
    gc_run(0, "--min-age", "1h", NULL);
    expect(id_orphan, "kept", "young: ");
    expect(id_idle, "kept", "young: ");
    expect(id_inuse, "kept", "in use"); /* attached comes first */
    assert_true(sgt_shm_exists(id_orphan));

    /* --id narrows to the named segments; an idle one needs --force. */
    gc_run(0, "--id", a_idle, NULL);
    assert_int_equal(count_shmid_lines(), 1);
    expect(id_idle, "kept", "idle: nobody attached, its creator pid");
    assert_true(sgt_shm_exists(id_idle));
    gc_run(0, "--id", a_idle, "--force", "--dry-run", NULL);
    expect(id_idle, "would remove", "removed anyway: --force");
    assert_true(sgt_shm_exists(id_idle));
    gc_run(0, "--force", "--id", a_idle, "--id", a_inuse, NULL);
    assert_int_equal(count_shmid_lines(), 2);
    expect(id_idle, "removed", "removed anyway: --force");
    expect(id_inuse, "kept", "in use: attached by"); /* never, even forced */
    assert_false(sgt_shm_exists(id_idle));
    assert_true(sgt_shm_exists(id_inuse));
    gc_run(0, "--id", a_orphan, NULL); /* an orphan needs no force */
    expect(id_orphan, "removed", "orphaned");
    assert_false(sgt_shm_exists(id_orphan));
    /* It is gone now: naming it is an error. */
    gc_run(1, "--id", a_orphan, NULL);
    char want[64];
    snprintf(want, sizeof want, "shmguard: gc: no segment has id %d\n", id_orphan);
    assert_string_equal(res.err, want);
    step_end(&idle, "exit");
    step_end(&inuse, "exit");
}

/* A creator that exited but was not reaped yet (a zombie) is dead: it
 * detached everything and can never attach again. */
static void test_zombie_creator_is_dead(void **state)
{
    (void)state;
    struct step z, zb;
    step_start(&z, lib_env);
    step_start(&zb, bare_env);
    int id = step_id(step(&z, "get 0x7c000501 create"));
    int idb = step_id(step(&zb, "get 0x7c000502 create"));
    kill(z.pid, SIGKILL);
    kill(zb.pid, SIGKILL);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)z.pid, &si, WEXITED | WNOWAIT), 0); /* exited, not reaped */
    assert_int_equal(waitid(P_PID, (id_t)zb.pid, &si, WEXITED | WNOWAIT), 0);
    gc_run(0, "--dry-run", NULL);
    expect(id, "would remove", "is dead: it exited and waits to be reaped (a zombie)");
    expect(idb, "would remove", "is dead: it exited and waits to be reaped (a zombie) (no ledger record");
    gc_run(0, NULL);
    expect(id, "removed", "a zombie");
    expect(idb, "removed", "a zombie");
    assert_false(sgt_shm_exists(id));
    assert_false(sgt_shm_exists(idb));
    step_kill(&z); /* reaps */
    step_kill(&zb);
}

/* Run the tool as another uid (root only). */
static int gc_as(uid_t uid, int dry)
{
    char dirarg[PATH_MAX + 16];
    snprintf(dirarg, sizeof dirarg, "--dir=%s", dir);
    int po[2];
    if (pipe(po))
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(po[1], 2);
        close(po[0]);
        unsetenv("LD_PRELOAD");
        if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)
            _exit(99);
        execl(SGT_TOOL, SGT_TOOL, "gc", dirarg, dry ? "--dry-run" : NULL, (char *)NULL);
        _exit(98);
    }
    close(po[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(po[0], res.out + n, sizeof res.out - 1 - n)) > 0)
        n += (size_t)r;
    res.out[n] = '\0';
    close(po[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* An orphan the caller may not remove: said, kept, exit status 2. */
static void test_not_permitted(void **state)
{
    (void)state;
    if (!can_switch_uid()) {
        skip();
        return;
    }
    struct step o, n;
    step_start(&o, bare_env);
    step_start(&n, bare_env);
    int id = step_id(step(&o, "get 0x7c000301 create"));
    step_kill(&o);
    /* And one of nobody's own, which nobody may remove. */
    assert_string_equal(step(&n, "setuid 65534"), "ok");
    int idn = step_id(step(&n, "get 0x7c000302 create"));
    assert_true(idn >= 0);
    step_kill(&n);

    int st = gc_as(65534, 1);
    if (st == 99) {
        skip();
        return;
    }
    assert_int_equal(st, 2);
    expect(id, "would fail", "but not permitted: owner uid 0, creator uid 0");
    expect(idn, "would remove", "orphaned");
    st = gc_as(65534, 0);
    assert_int_equal(st, 2);
    expect(id, "failed", "not permitted (EPERM): owner uid 0, creator uid 0");
    expect(idn, "removed", "orphaned");
    assert_true(sgt_shm_exists(id));
    assert_false(sgt_shm_exists(idn));
    gc_run(0, NULL); /* root may */
    expect(id, "removed", "orphaned");
}

/* A user writes a record into their own ledger claiming that root's idle
 * segment is an orphan with a pending removal: gc must not believe it. */
static void test_forged_foreign_record_is_ignored(void **state)
{
    (void)state;
    if (!can_switch_uid()) {
        skip();
        return;
    }
    struct step a;
    step_start(&a, bare_env);
    int id = step_id(step(&a, "get 0x7c000401 create"));
    struct shmid_ds ds;
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
            setresuid(65534, 65534, 65534) != 0)
            _exit(99);
        struct sg_ledger L;
        char err[PATH_MAX + 256];
        if (sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0 ||
            sg_ledger_lock(&L) != 0)
            _exit(2);
        struct sg_seg rec;
        memset(&rec, 0, sizeof rec);
        rec.kind = SG_KIND_SHM;
        rec.id = id;
        rec.key = 0x7c000401;
        rec.size = ds.shm_segsz;
        rec.kcpid = ds.shm_cpid;
        rec.kcuid = ds.shm_perm.cuid;
        rec.flags = SG_SEG_CREATOR | SG_SEG_PENDING;
        rec.cr_pid = a.pid;
        rec.cr_start = sg_proc_start_time(a.pid) - 1; /* "dead" */
        rec.rm_pid = a.pid;
        if (!sg_seg_put(&L, &rec) || sg_pend_add(&L, SG_KIND_SHM, id) != 0)
            _exit(3);
        sg_ledger_unlock(&L);
        sg_ledger_close(&L);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 99) {
        step_end(&a, "exit");
        skip();
        return;
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    gc_run(0, NULL);
    /* The analysis gives a record weight only when its ledger's owner could
     * act on the segment: the forged record is as good as absent. */
    expect(id, "kept", "idle: nobody attached, pid");
    expect(id, "kept", "without a ledger record it may be the creator");
    assert_true(sgt_shm_exists(id));
    step_end(&a, "exit");
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, after_each)
    const struct CMUnitTest tests[] = {
        T(test_removes_exactly_the_unused),
        T(test_recheck_sees_what_changed),
        T(test_force_min_age_and_ids),
        T(test_zombie_creator_is_dead),
        T(test_not_permitted),
        T(test_forged_foreign_record_is_ignored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
