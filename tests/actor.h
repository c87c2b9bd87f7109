/*
 * actor.h - drive helper_actor processes from a test: start one with the
 * library preloaded and a private ledger directory, send it a command,
 * read its answer, kill it; plus the per-test ledger directory these
 * tests share.  Included by test_content.c and test_lockkill.c.
 */
#ifndef ACTOR_H
#define ACTOR_H

#include "sgtest.h"

#include <inttypes.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>

static char g_dir[PATH_MAX];    /* ledger directory */
static char g_errdir[PATH_MAX]; /* stderr of the actors */
static char g_helper[PATH_MAX]; /* real path of helper_actor */
static char g_lib[PATH_MAX];

struct actor {
    pid_t pid;
    unsigned long long start;   /* from its "ready" line */
    int preload;
    int in, out;
    char buf[8192];
    size_t len;
    char errpath[PATH_MAX + 32];
};

#define MAX_ACTORS 16
static struct actor g_actors[MAX_ACTORS];
static int g_nactors;

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Field 22 of /proc/<pid>/stat, read here, not through the library. */
__attribute__((unused)) static unsigned long long proc_start(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Wait up to ms for pid to end; 0 and *status when it did, -1 if not. */
static int wait_pid_ms(pid_t pid, int ms, int *status)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        struct pollfd p = { pfd, POLLIN, 0 };
        int r;
        while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
            ;
        close(pfd);
        if (r <= 0)
            return -1;
        return waitpid(pid, status, 0) == pid ? 0 : -1;
    }
    uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000u;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 || now_ns(CLOCK_MONOTONIC) > end)
            return -1;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* Read one line from the actor's stdout, waiting at most ms. */
static int actor_line(struct actor *a, char *line, size_t n, int ms)
{
    uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000u;
    for (;;) {
        char *nl = memchr(a->buf, '\n', a->len);
        if (nl) {
            size_t k = (size_t)(nl - a->buf);
            snprintf(line, n, "%.*s", (int)k, a->buf);
            memmove(a->buf, nl + 1, a->len - k - 1);
            a->len -= k + 1;
            return 0;
        }
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= end || a->len == sizeof a->buf)
            return -1;
        struct pollfd p = { a->out, POLLIN, 0 };
        int r = poll(&p, 1, (int)((end - now) / 1000000u) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t got = read(a->out, a->buf + a->len, sizeof a->buf - a->len);
        if (got <= 0)
            return -1;
        a->len += (size_t)got;
    }
}

/* The value of key=... in a reply line. */
static int kv(const char *line, const char *key, unsigned long long *out)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)); p += kl) {
        if ((p == line || p[-1] == ' ') && p[kl] == '=') {
            *out = strtoull(p + kl + 1, NULL, 0);
            return 0;
        }
    }
    return -1;
}

static unsigned long long kvx(const char *line, const char *key)
{
    unsigned long long v = 0;
    if (kv(line, key, &v) != 0)
        fail_msg("no %s= in reply \"%s\"", key, line);
    return v;
}

static const char *actor_stderr(const struct actor *a, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = open(a->errpath, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, buf, n - 1);
        buf[r > 0 ? r : 0] = '\0';
        close(fd);
    }
    return buf;
}

/* Start helper_actor (with the library preloaded or not) and read its
 * "ready" line. */
static struct actor *actor_start(int preload)
{
    assert_true(g_nactors < MAX_ACTORS);
    struct actor *a = &g_actors[g_nactors];
    memset(a, 0, sizeof *a);
    a->in = a->out = -1;
    snprintf(a->errpath, sizeof a->errpath, "%s/actor%d.err", g_errdir, g_nactors);
    g_nactors++;
    int pin[2], pout[2];
    assert_int_equal(pipe2(pin, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pout, O_CLOEXEC), 0);
    char asan[512];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", old ? old : "", old && *old ? ":" : "");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(a->errpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        setenv("SHMGUARD_LEDGER", g_dir, 1);
        setenv("ASAN_OPTIONS", asan, 1);
        if (preload)
            setenv("LD_PRELOAD", g_lib, 1);
        else
            unsetenv("LD_PRELOAD");
        execl(g_helper, "helper_actor", (char *)NULL);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    a->pid = pid;
    a->in = pin[1];
    a->out = pout[0];
    char line[256];
    if (actor_line(a, line, sizeof line, 20000) != 0)
        fail_msg("helper_actor did not start");
    assert_int_equal((int)kvx(line, "pid"), pid);
    a->start = kvx(line, "start");
    a->preload = (int)kvx(line, "preload");
    assert_int_equal(a->preload, preload);
    return a;
}

/* Send a command and return its reply line (in a static buffer); the test
 * fails on a timeout.  want_ok: fail unless the reply starts with "ok". */
static const char *actor_do(struct actor *a, int want_ok, int ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const char *actor_do(struct actor *a, int want_ok, int ms, const char *fmt, ...)
{
    static char reply[1024];
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 1, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof cmd - 1);
    cmd[n++] = '\n';
    assert_int_equal(write(a->in, cmd, (size_t)n), n);
    if (actor_line(a, reply, sizeof reply, ms) != 0) {
        char err[4096];
        fail_msg("no reply to \"%.*s\" from pid %d; its stderr: %s", n - 1, cmd, (int)a->pid,
                 actor_stderr(a, err, sizeof err));
    }
    if (want_ok && strncmp(reply, "ok", 2) != 0)
        fail_msg("\"%.*s\" answered \"%s\"", n - 1, cmd, reply);
    return reply;
}

#define DO(a, ...) actor_do((a), 1, 20000, __VA_ARGS__)

/* Tell the actor to exit(0) and wait for it. */
static void actor_exit(struct actor *a)
{
    char cmd[] = "exit 0\n";
    assert_int_equal(write(a->in, cmd, sizeof cmd - 1), (ssize_t)sizeof cmd - 1);
    int st = 0;
    assert_int_equal(wait_pid_ms(a->pid, 20000, &st), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    a->pid = 0;
}

static void actor_sigkill(struct actor *a)
{
    assert_int_equal(kill(a->pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(wait_pid_ms(a->pid, 20000, &st), 0);
    assert_true(WIFSIGNALED(st));
    a->pid = 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s", sgt_ledger_dir());
    snprintf(g_errdir, sizeof g_errdir, "/tmp/sgtest-err.XXXXXX");
    if (!mkdtemp(g_errdir))
        return -1;
    if (!realpath(SGT_HELPER("helper_actor"), g_helper) || !realpath(SGT_LIB, g_lib))
        return -1;
    g_nactors = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < g_nactors; i++) {
        struct actor *a = &g_actors[i];
        if (a->pid > 0) {
            kill(a->pid, SIGKILL);
            int st;
            wait_pid_ms(a->pid, 20000, &st);
        }
        if (a->in >= 0)
            close(a->in);
        if (a->out >= 0)
            close(a->out);
    }
    g_nactors = 0;
    sgt_clear_ipc();
    sgt_msgmni_restore();
    sgt_rmdir(g_dir);
    sgt_rmdir(g_errdir);
    return 0;
}

/* ---- views ---------------------------------------------------------------- */

__attribute__((unused)) static const struct sg_seg *seg_rec(const struct sg_ledger *L, int id)
{
    const struct sg_seg *found = NULL;
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++) {
        const struct sg_seg *s = &L->seg[i];
        if (s->state == SG_REC_LIVE && s->kind == SG_KIND_SHM && s->id == id) {
            assert_null(found); /* one record per id */
            found = s;
        }
    }
    return found;
}

__attribute__((unused)) static const struct sg_att *att_rec(const struct sg_ledger *L, pid_t pid, uint64_t addr)
{
    const struct sg_att *found = NULL;
    for (uint32_t i = 0; i < L->hdr->att_cap; i++) {
        const struct sg_att *a = &L->att[i];
        if (a->state == SG_REC_LIVE && a->pid == pid && a->addr == addr) {
            assert_null(found); /* one record per (pid, addr) */
            found = a;
        }
    }
    return found;
}

__attribute__((unused)) static int count_intents(const struct sg_ledger *L, pid_t pid)
{
    int n = 0;
    for (uint32_t i = 0; i < L->hdr->intent_cap; i++)
        n += L->intent[i].state == SG_REC_LIVE && (pid < 0 || L->intent[i].pid == pid);
    return n;
}

/* The counters in the header agree with the records. */
__attribute__((unused)) static void check_counters(const struct sg_ledger *L)
{
    uint32_t segs = 0, atts = 0;
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++)
        segs += L->seg[i].state == SG_REC_LIVE;
    for (uint32_t i = 0; i < L->hdr->att_cap; i++)
        atts += L->att[i].state == SG_REC_LIVE;
    assert_int_equal(L->hdr->seg_live, segs);
    assert_int_equal(L->hdr->att_live, atts);
    assert_int_equal(L->hdr->intents, (uint32_t)count_intents(L, -1));
    assert_int_equal(L->hdr->generation & 1, 0);
    assert_int_equal(L->hdr->dropped, 0);
}

__attribute__((unused)) static void load(struct sg_ledger *L)
{
    assert_int_equal(sgt_load_ledger(g_dir, L), 0);
}

#endif
