/*
 * test_diag.c - the messages the library writes when shmget fails on an
 * IPC limit, checked in this (private) IPC namespace with lowered limits.
 *
 * Segments are made by real processes (helper_step) under the library;
 * orphans are made by SIGKILLing their creators.  Every case also runs the
 * failing call bare, and the errno the program sees must be the same.
 * Also: a live holder is never called an orphan, pid reuse does not make
 * a dead creator alive, a crash loop gives a bounded number of lines
 * (across processes), and each sink (stderr, file, syslog) gets whole
 * messages written at once.
 */
#include "step.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sg_proc.h"

static char dir[PATH_MAX];
static char logpath[PATH_MAX + 16];
static char env_ledger[PATH_MAX + 32], env_preload[PATH_MAX + 32], env_log[PATH_MAX + 32];
static char *lib_env[] = { env_preload, env_ledger, env_log, "SHMGUARD_DEBUG=", "SHMGUARD_MODE=", NULL };
static char *dbg_env[] = { env_preload, env_ledger, env_log, "SHMGUARD_DEBUG=1", "SHMGUARD_MODE=", NULL };
static char *bare_env[] = { "LD_PRELOAD=", NULL };

static void set_limit(const char *name, unsigned long long v)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%llu\n", v);
    assert_int_equal(fclose(f), 0);
}

static void default_limits(void)
{
    set_limit("shmmni", 4096);
    set_limit("shmall", 18446744073692774399ull);
    set_limit("shmmax", 18446744073692774399ull);
}

static int setup_each(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    snprintf(env_ledger, sizeof env_ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(env_log, sizeof env_log, "SHMGUARD_LOG=%s", logpath);
    sgt_clear_ipc();
    default_limits();
    return 0;
}

static int teardown_each(void **state)
{
    (void)state;
    sgt_clear_ipc();
    default_limits();
    sgt_rmdir(dir);
    return 0;
}

static const char *read_log(void)
{
    static char buf[1 << 20];
    buf[0] = '\0';
    FILE *f = fopen(logpath, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}


/* A segment of size bytes under key, made by a process that is then
 * SIGKILLed: nobody attached, creator dead. */
static int make_orphan(unsigned key, size_t size)
{
    struct step s;
    step_start(&s, lib_env);
    int id = step_id(step(&s, "get 0x%x create size %zu", key, size));
    assert_true(id >= 0);
    step_kill(&s);
    return id;
}

/* The failing call, bare, in a fresh process: its answer. */
static const char *bare_answer(const char *cmd)
{
    static char ans[64];
    struct step b;
    step_start(&b, bare_env);
    snprintf(ans, sizeof ans, "%s", step(&b, "%s", cmd));
    step_end(&b, "exit");
    return ans;
}

/* The same call under the library: its answer (must equal bare's). */
static void fails_like_bare(const char *cmd, const char *want)
{
    struct step c;
    step_start(&c, lib_env);
    assert_string_equal(step(&c, "%s", cmd), want);
    step_end(&c, "exit");
    assert_string_equal(bare_answer(cmd), want);
}

/* The newest event of the own ledger for key (copied into *out); 0 if
 * there is none.  *total: the ledger's count of all events. */
static int last_event(unsigned key, struct sg_event *out, uint32_t *total)
{
    struct sg_ledger L;
    if (sgt_load_ledger(dir, &L) != 0)
        return 0;
    int found = 0;
    *total = L.hdr->ev_total;
    for (uint32_t k = 0; k < SG_EV_CAP && k < L.hdr->ev_total; k++) {
        const struct sg_event *e = &L.ev[(L.hdr->ev_total - 1 - k) % SG_EV_CAP];
        if (e->state == SG_REC_LIVE && (unsigned)e->key == key) {
            *out = *e;
            found = 1;
            break;
        }
    }
    sg_ledger_close(&L);
    return found;
}

/* The limit failure is kept in the ledger with its class and figures. */
static void assert_event(unsigned key, uint32_t lim, int err, uint64_t used, uint64_t max)
{
    struct sg_event e;
    uint32_t total;
    if (!last_event(key, &e, &total))
        fail_msg("no event for key 0x%x in the ledger", key);
    assert_int_equal(e.kind, SG_KIND_SHM);
    assert_int_equal(e.limit, lim);
    assert_int_equal(e.err, err);
    assert_int_equal(e.used, used);
    assert_int_equal(e.max, max);
    assert_string_equal(e.comm, "helper_step");
    assert_true(e.pid > 0 && e.start > 0);
    assert_non_null(strstr(e.site_obj, "helper_step"));
    assert_true(e.site_off > 0);
}

static void test_shmmni_exhausted(void **state)
{
    (void)state;
    set_limit("shmmni", 4);
    for (unsigned i = 0; i < 3; i++)
        make_orphan(0x5eed0a00 + i, 1 << 20);
    struct step live;
    step_start(&live, lib_env);
    assert_true(step_id(step(&live, "get 0x5eed0aff create size 8192")) >= 0);
    fails_like_bare("get 0x5eed0a99 create", "err 28");
    const char *log = read_log();
    assert_int_equal(count(log, "shmguard["), 1);
    ASSERT_HAS(log, "shmget(key=0x5eed0a99, size=4096, flags=IPC_CREAT|0600) failed with ENOSPC");
    ASSERT_HAS(log, "not a full disk");
    ASSERT_HAS(log, "kernel.shmmni is exhausted: 4 of 4 segments in use");
    ASSERT_HAS(log, "Largest holders: helper_step (uid 0) 4 segments, 3.0 MiB");
    /* The live idle holder is not an orphan: 3, not 4. */
    ASSERT_HAS(log, "Orphaned: 3 segments, 3.0 MiB (nobody attached, creator dead)");
    ASSERT_HAS(log, "shmguard gc --dry-run, then shmguard gc");
    ASSERT_HAS(log, "sysctl -w kernel.shmmni=16"); /* as doctor: at least 16 */
    ASSERT_LACKS(log, "kernel.shmall is exhausted");
    step_end(&live, "exit");
    assert_event(0x5eed0a99, SG_LIM_SHMMNI, ENOSPC, 4, 4);
}

/* kernel.shmmni set to 0 (the kernel allows it): the suggestion is a
 * limit that helps, not twice 0. */
static void test_shmmni_zero(void **state)
{
    (void)state;
    set_limit("shmmni", 0);
    fails_like_bare("get 0x5eed0b99 create", "err 28");
    const char *log = read_log();
    ASSERT_HAS(log, "kernel.shmmni is exhausted: 0 of 0 segments in use");
    ASSERT_HAS(log, "sysctl -w kernel.shmmni=16");
    ASSERT_LACKS(log, "kernel.shmmni=0");
}

static void test_shmall_exhausted(void **state)
{
    (void)state;
    set_limit("shmall", 300);
    make_orphan(0x5eed0b00, 1 << 20); /* 256 pages */
    fails_like_bare("get 0x5eed0b99 create size 204800", "err 28"); /* 50 pages */
    const char *log = read_log();
    ASSERT_HAS(log, "kernel.shmall is exhausted: 256 of 300 pages in use (1.0 MiB of 1.2 MiB); "
                    "this call needs 50 more (200.0 KiB)");
    ASSERT_HAS(log, "Orphaned: 1 segment, 1.0 MiB");
    ASSERT_LACKS(log, "kernel.shmmni is exhausted");
    ASSERT_HAS(log, "sysctl -w kernel.shmall=");
    assert_event(0x5eed0b99, SG_LIM_SHMALL, ENOSPC, 256, 300);
}

/* Both near: shmall is checked first by the kernel, so a large request
 * names shmall; once pages fit, the last slot goes, and then shmmni. */
static void test_both_near(void **state)
{
    (void)state;
    make_orphan(0x5eed0c00, 1 << 20);
    make_orphan(0x5eed0c01, 1 << 20);
    set_limit("shmmni", 3);
    set_limit("shmall", 520); /* 512 used, 8 left */
    fails_like_bare("get 0x5eed0c99 create size 65536", "err 28");
    const char *log = read_log();
    ASSERT_HAS(log, "kernel.shmall is exhausted: 512 of 520 pages");
    ASSERT_LACKS(log, "kernel.shmmni is exhausted");
    struct step c;
    step_start(&c, lib_env);
    assert_true(step_id(step(&c, "get 0x5eed0c98 create size 4096")) >= 0);
    assert_string_equal(step(&c, "get 0x5eed0c97 create size 4096"), "err 28");
    step_end(&c, "exit");
    log = read_log();
    ASSERT_HAS(log, "kernel.shmmni is exhausted: 3 of 3 segments in use");
}

static void test_shmmax(void **state)
{
    (void)state;
    set_limit("shmmax", 1 << 20);
    fails_like_bare("get 0x5eed0d00 create size 2097152", "err 22");
    const char *log = read_log();
    ASSERT_HAS(log, "failed with EINVAL");
    ASSERT_HAS(log, "The size asked, 2097152 bytes (2.0 MiB), is above the System V shared memory "
                    "limit kernel.shmmax, 1048576 bytes (1.0 MiB)");
    ASSERT_HAS(log, "sysctl -w kernel.shmmax=2097152");
    assert_event(0x5eed0d00, SG_LIM_SHMMAX, EINVAL, 2097152, 1 << 20);
}

static void test_smaller_existing(void **state)
{
    (void)state;
    struct step holder;
    step_start(&holder, lib_env);
    int id = step_id(step(&holder, "get 0x5eed0e00 create size 4096"));
    fails_like_bare("get 0x5eed0e00 create size 1048576", "err 22");
    const char *log = read_log();
    char want[128];
    snprintf(want, sizeof want, "Key 0x5eed0e00 already names segment %d of 4096 bytes (4.0 KiB), "
                                "smaller than the 1048576 bytes (1.0 MiB) asked", id);
    ASSERT_HAS(log, want);
    snprintf(want, sizeof want, "its creator: pid %d (helper_step, uid 0", holder.pid);
    ASSERT_HAS(log, want);
    ASSERT_HAS(log, "), alive. Ask for at most 4096 bytes");
    ASSERT_LACKS(log, "orphan");
    step_end(&holder, "exit");
    assert_event(0x5eed0e00, SG_LIM_SMALLER, EINVAL, 4096, 4096);
}

static void test_eexist_live_holder(void **state)
{
    (void)state;
    struct step holder, c;
    step_start(&holder, lib_env);
    int id = step_id(step(&holder, "get 0x5eed0f00 create"));
    assert_true(id >= 0);
    fails_like_bare("get 0x5eed0f00 create excl", "err 17");
    assert_string_equal(read_log(), ""); /* routine: silent */
    step_start(&c, dbg_env);
    assert_string_equal(step(&c, "get 0x5eed0f00 create excl"), "err 17");
    step_end(&c, "exit");
    const char *log = read_log();
    ASSERT_HAS(log, "failed with EEXIST");
    ASSERT_HAS(log, "alive.");
    ASSERT_LACKS(log, "orphan");
    step_end(&holder, "exit");
    /* EEXIST is no limit: nothing kept. */
    struct sg_event e;
    uint32_t total;
    assert_false(last_event(0x5eed0f00, &e, &total));
    assert_int_equal(total, 0);
}

static void test_eexist_dead_holder(void **state)
{
    (void)state;
    struct step s;
    step_start(&s, lib_env);
    int id = step_id(step(&s, "get 0x5eed1000 create size 65536"));
    pid_t dead = s.pid;
    step_kill(&s);
    fails_like_bare("get 0x5eed1000 create excl", "err 17");
    const char *log = read_log();
    char want[160];
    snprintf(want, sizeof want, "Key 0x5eed1000 is held by segment %d (64.0 KiB), an orphan: nobody "
                                "is attached and its creator, pid %d (helper_step, uid 0, created ", id, dead);
    ASSERT_HAS(log, want);
    ASSERT_HAS(log, "is dead.");
    ASSERT_HAS(log, "Free it safely: shmguard gc --dry-run, then shmguard gc");
}

/* A dead creator whose pid now names another (live) process is still
 * dead: the ledger's start time tells them apart. */
static void test_pid_reuse_is_not_life(void **state)
{
    (void)state;
    set_limit("shmmni", 2);
    int id = make_orphan(0x5eed1100, 8192);
    struct step other;
    step_start(&other, lib_env);
    assert_true(step_id(step(&other, "get 0x5eed11ff create")) >= 0); /* a live holder */
    struct sg_ledger L;
    char err[512];
    assert_int_equal(sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    assert_int_equal(sg_ledger_lock(&L), 0);
    struct sg_seg *r = sg_seg_find(&L, SG_KIND_SHM, id);
    assert_non_null(r);
    /* The pid now names a live process that started later (two processes
     * started in the same clock tick cannot be told apart by start time;
     * a pid is not reused that fast). */
    uint64_t other_start = sg_proc_start_time(other.pid);
    assert_true(other_start > 0);
    r->cr_pid = other.pid;
    r->cr_start = other_start - 1;
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
    fails_like_bare("get 0x5eed1199 create", "err 28");
    ASSERT_HAS(read_log(), "Orphaned: 1 segment, 8.0 KiB");
    step_end(&other, "exit");
}

/* A creator that died but was never reaped (a zombie, as under a PID 1
 * that does not reap) is dead: its segment is an orphan. */
static void test_zombie_creator_is_dead(void **state)
{
    (void)state;
    set_limit("shmmni", 2);
    struct step z, other;
    step_start(&z, lib_env);
    assert_true(step_id(step(&z, "get 0x5eed1600 create size 8192")) >= 0);
    kill(z.pid, SIGKILL); /* not reaped yet */
    char path[64], st[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)z.pid);
    for (int i = 0; i < 500 && !strstr(st, ") Z "); i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(st, sizeof st, f))
                st[0] = '\0';
            fclose(f);
        }
        usleep(2000);
    }
    assert_non_null(strstr(st, ") Z ")); /* it is a zombie now */
    step_start(&other, lib_env);
    assert_true(step_id(step(&other, "get 0x5eed16ff create")) >= 0);
    assert_string_equal(step(&other, "get 0x5eed1699 create"), "err 28");
    ASSERT_HAS(read_log(), "Orphaned: 1 segment, 8.0 KiB");
    step_end(&other, "exit");
    waitpid(z.pid, NULL, 0);
    fclose(z.in);
    close(z.out);
}

/* A crash loop: 1,000 failures in one process, then 20 processes failing
 * once each: at most 5 messages in all; the count of what was suppressed
 * comes with the next message that goes out. */
static void test_rate_limit(void **state)
{
    (void)state;
    set_limit("shmmni", 1);
    make_orphan(0x5eed1200, 4096);
    struct step c;
    step_start(&c, lib_env);
    assert_string_equal(step(&c, "getn 1000 0x5eed1299 create"), "err 28");
    step_end(&c, "exit");
    for (int i = 0; i < 20; i++) {
        struct step p;
        step_start(&p, lib_env);
        assert_string_equal(step(&p, "get 0x5eed1299 create"), "err 28");
        step_end(&p, "exit");
    }
    const char *log = read_log();
    int lines = count(log, "shmguard[");
    assert_true(lines >= 1 && lines <= 5);
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    uint32_t suppressed = L.hdr->diag_suppressed;
    sg_ledger_close(&L);
    assert_int_equal(suppressed, 1020 - (uint32_t)lines);
    /* Every failure is an event, rate limit or not. */
    struct sg_event e;
    uint32_t total;
    assert_true(last_event(0x5eed1299, &e, &total));
    assert_int_equal(total, 1020);
    /* Ten seconds later (the refill is moved back instead of waiting). */
    char err[512];
    assert_int_equal(sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    assert_int_equal(sg_ledger_lock(&L), 0);
    L.hdr->diag_refill_s -= 10;
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
    step_start(&c, lib_env);
    assert_string_equal(step(&c, "get 0x5eed1299 create"), "err 28");
    step_end(&c, "exit");
    char want[96];
    snprintf(want, sizeof want, "(%u similar messages suppressed before this one.)", suppressed);
    ASSERT_HAS(read_log(), want);
}

/* The create-or-open pattern (PostgreSQL's, among others): an exclusive
 * create that finds a live creator's unattached segment is analysed and
 * found not worth a message.  Twelve of them, more than the burst (5),
 * leave it whole: the limit failure that follows is explained. */
static void test_excl_loop_keeps_burst(void **state)
{
    (void)state;
    struct step a, b;
    step_start(&a, lib_env);
    assert_true(step_id(step(&a, "get 0x5eed1700 create")) >= 0);
    step_start(&b, lib_env);
    for (int i = 0; i < 12; i++)
        assert_string_equal(step(&b, "get 0x5eed1700 create excl"), "err 17");
    assert_int_equal(count(read_log(), "shmguard["), 0);
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    assert_int_equal(L.hdr->diag_suppressed, 0);
    sg_ledger_close(&L);
    set_limit("shmmni", 1);
    assert_string_equal(step(&b, "get 0x5eed1799 create"), "err 28");
    ASSERT_HAS(read_log(), "kernel.shmmni is exhausted: 1 of 1");
    step_end(&b, "exit");
    step_end(&a, "exit");
}

static void *five_failures(void *arg)
{
    struct step *p = arg;
    for (int k = 0; k < 5; k++)
        if (strcmp(step(p, "get 0x5eed1399 create"), "err 28") != 0)
            return NULL;
    return p;
}

/* Concurrent processes writing to one file: every message arrives whole
 * (one write each).  Separate ledgers, so each has its own budget. */
static void test_file_messages_whole(void **state)
{
    (void)state;
    set_limit("shmmni", 1);
    make_orphan(0x5eed1300, 4096);
    enum { N = 8 };
    struct step p[N];
    char envs[N][3][PATH_MAX + 40];
    char *env[N][6];
    for (int i = 0; i < N; i++) {
        char sub[PATH_MAX + 8];
        snprintf(sub, sizeof sub, "%s/%d", dir, i);
        mkdir(sub, 01777);
        snprintf(envs[i][0], sizeof envs[i][0], "SHMGUARD_LEDGER=%s", sub);
        env[i][0] = env_preload;
        env[i][1] = envs[i][0];
        env[i][2] = env_log;
        env[i][3] = "SHMGUARD_DEBUG=";
        env[i][4] = NULL;
        step_start(&p[i], env[i]);
    }
    /* One thread drives each process: they fail at the same time. */
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, five_failures, &p[i]), 0);
    for (int i = 0; i < N; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        assert_non_null(ok);
        step_end(&p[i], "exit");
    }
    /* Parse: each message is a first line "shmguard[PID]: shmget(" and
     * indented lines; a torn write would break the pattern. */
    const char *log = read_log();
    int messages = 0;
    for (const char *line = log; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (!strncmp(line, "shmguard[", 9)) {
            assert_non_null(strstr(line, "]: shmget(key=0x5eed1399"));
            messages++;
        } else if (strncmp(line, "  ", 2) != 0)
            fail_msg("torn line: %.*s", (int)(nl - line), line);
        line = nl + 1;
    }
    assert_int_equal(messages, N * 5);
    assert_int_equal(count(log, "Orphaned: 1 segment"), N * 5);
}

static void test_stderr_sink(void **state)
{
    (void)state;
    set_limit("shmmni", 1);
    make_orphan(0x5eed1400, 4096);
    static struct sgt_result r;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "echo 'get 0x5eed1499 create' | %s", SGT_HELPER("helper_step"));
    char *argv[] = { "sh", "-c", cmd, NULL };
    char *env[] = { env_preload, env_ledger, "SHMGUARD_LOG=", NULL };
    sgt_run(&r, argv, env, 30);
    assert_string_equal(r.out, "err 28\n"); /* stdout untouched */
    assert_int_equal(count(r.err, "shmguard["), 1);
    ASSERT_HAS(r.err, "kernel.shmmni is exhausted: 1 of 1");
}

/* syslog: a private mount namespace whose /dev holds our own /dev/log. */
static void test_syslog_sink(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    set_limit("shmmni", 1);
    make_orphan(0x5eed1500, 4096);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t child = fork();
    if (child == 0) {
        close(pfd[0]);
        /* The ledger directory is on /dev/shm: kept aside, moved back. */
        char aside[] = "/tmp/sgtest-shm.XXXXXX";
        if (!mkdtemp(aside) || unshare(CLONE_NEWNS) ||
            mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
            mount("/dev/shm", aside, NULL, MS_BIND | MS_REC, NULL) ||
            mount("tmpfs", "/dev", "tmpfs", 0, "size=64k") || mkdir("/dev/shm", 01777) ||
            mount(aside, "/dev/shm", NULL, MS_MOVE, NULL) || rmdir(aside))
            _exit(2);
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a))
            _exit(3);
        char *env[] = { env_preload, env_ledger, "SHMGUARD_LOG=syslog", NULL };
        struct step c;
        step_start(&c, env);
        const char *ans = step(&c, "get 0x5eed1599 create");
        step_end(&c, "exit");
        char msg[8192];
        struct pollfd p = { s, POLLIN, 0 };
        ssize_t n = poll(&p, 1, 5000) == 1 ? recv(s, msg, sizeof msg - 1, 0) : -1;
        if (n < 0)
            _exit(4);
        msg[n] = '\0';
        dprintf(pfd[1], "%s\n%s", ans, msg);
        _exit(0);
    }
    close(pfd[1]);
    char buf[8192] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(pfd[0]);
    int st;
    waitpid(child, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(!strncmp(buf, "err 28\n", 7));
    ASSERT_HAS(buf, "kernel.shmmni is exhausted: 1 of 1"); /* one datagram, whole */
    ASSERT_HAS(buf, "Orphaned: 1 segment");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_each, teardown_each)
    const struct CMUnitTest tests[] = {
        T(test_shmmni_exhausted), T(test_shmmni_zero), T(test_shmall_exhausted), T(test_both_near),
        T(test_shmmax), T(test_smaller_existing), T(test_eexist_live_holder),
        T(test_eexist_dead_holder), T(test_pid_reuse_is_not_life), T(test_zombie_creator_is_dead),
        T(test_rate_limit), T(test_excl_loop_keeps_burst),
        T(test_file_messages_whole), T(test_stderr_sink), T(test_syslog_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
