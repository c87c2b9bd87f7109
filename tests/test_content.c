/*
 * test_content.c - what the ledger records, across real processes.
 *
 * Each test drives helper_actor processes that carry the library
 * (LD_PRELOAD=libshmguard.so, SHMGUARD_LEDGER=a private directory) through
 * shmget/shmat/shmdt, fork, exec, SIGKILL and exit, in lock-step over
 * pipes, and then checks two views: the raw ledger file (sgt_load_ledger:
 * creator identity, call site, attachment records with pids, start times
 * and addresses, counters) and `shmguard ledger --json`, which reconciles
 * the file with the kernel and /proc and must hide attachments whose
 * process or mapping is gone and segment records that no longer describe
 * a kernel segment (removed behind the library's back, or a record whose
 * kernel creator pid does not match: a reused id).  Start times are read
 * here from /proc/<pid>/stat, independently of the library.
 */
#include "sgtest.h"

#include <inttypes.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>

/* ---- a tiny JSON reader (enough for the tool's output) ------------------ */

struct jv {
    char t;             /* 'n' null, 'b' bool, 'd' number, 's' string, 'a' array, 'o' object */
    int b;
    char *s;            /* string value, or the text of a number */
    size_t n;
    char **keys;        /* object member names */
    struct jv **v;      /* array elements or object member values */
};

static void jfree(struct jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        jfree(v->v[i]);
    }
    free(v->keys);
    free(v->v);
    free(v->s);
    free(v);
}

static void jws(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
        (*p)++;
}

static char *jstring(const char **p)
{
    if (**p != '"')
        return NULL;
    (*p)++;
    size_t n = 0, cap = 32;
    char *o = malloc(cap);
    while (o && **p && **p != '"') {
        char c = **p;
        if (c == '\\') {
            (*p)++;
            c = **p;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u':
                for (int k = 0; k < 4 && (*p)[1]; k++)
                    (*p)++;
                c = '?';
                break;
            case '\0': free(o); return NULL;
            default: break;
            }
        }
        if (n + 2 > cap) {
            char *no = realloc(o, cap *= 2);
            if (!no) {
                free(o);
                return NULL;
            }
            o = no;
        }
        o[n++] = c;
        (*p)++;
    }
    if (!o || **p != '"') {
        free(o);
        return NULL;
    }
    (*p)++;
    o[n] = '\0';
    return o;
}

static int jpush(struct jv *v, char *key, struct jv *child)
{
    struct jv **nv = realloc(v->v, (v->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    v->v = nv;
    if (v->t == 'o') {
        char **nk = realloc(v->keys, (v->n + 1) * sizeof *nk);
        if (!nk)
            return -1;
        v->keys = nk;
        v->keys[v->n] = key;
    }
    v->v[v->n++] = child;
    return 0;
}

static struct jv *jvalue(const char **p, int depth)
{
    jws(p);
    struct jv *v = calloc(1, sizeof *v);
    if (!v || depth > 32)
        goto bad;
    if (**p == '{' || **p == '[') {
        char close = **p == '{' ? '}' : ']';
        v->t = **p == '{' ? 'o' : 'a';
        (*p)++;
        jws(p);
        if (**p == close) {
            (*p)++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            if (v->t == 'o') {
                jws(p);
                key = jstring(p);
                jws(p);
                if (!key || **p != ':') {
                    free(key);
                    goto bad;
                }
                (*p)++;
            }
            struct jv *c = jvalue(p, depth + 1);
            if (!c || jpush(v, key, c) != 0) {
                free(key);
                jfree(c);
                goto bad;
            }
            jws(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (**p != close)
                goto bad;
            (*p)++;
            return v;
        }
    }
    if (**p == '"') {
        v->t = 's';
        v->s = jstring(p);
        if (!v->s)
            goto bad;
        return v;
    }
    if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
        v->t = 'b';
        v->b = **p == 't';
        *p += v->b ? 4 : 5;
        return v;
    }
    if (!strncmp(*p, "null", 4)) {
        v->t = 'n';
        *p += 4;
        return v;
    }
    if (**p == '-' || (**p >= '0' && **p <= '9')) {
        const char *s = *p;
        while (**p == '-' || **p == '+' || **p == '.' || **p == 'e' || **p == 'E' ||
               (**p >= '0' && **p <= '9'))
            (*p)++;
        v->t = 'd';
        v->s = strndup(s, (size_t)(*p - s));
        return v;
    }
bad:
    jfree(v);
    return NULL;
}

static struct jv *jparse(const char *text)
{
    const char *p = text;
    struct jv *v = jvalue(&p, 0);
    jws(&p);
    if (v && *p) {
        jfree(v);
        return NULL;
    }
    return v;
}

static struct jv *jget(const struct jv *o, const char *key)
{
    if (!o || o->t != 'o')
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key))
            return o->v[i];
    return NULL;
}

static long long jint(const struct jv *v)
{
    assert_non_null(v);
    assert_true(v->t == 'd' || v->t == 's');
    return strtoll(v->s, NULL, 0);
}

static unsigned long long ju64(const struct jv *v)
{
    assert_non_null(v);
    assert_true(v->t == 'd' || v->t == 's');
    return strtoull(v->s, NULL, 0);
}

static int jbool(const struct jv *v)
{
    assert_non_null(v);
    assert_int_equal(v->t, 'b');
    return v->b;
}

/* ---- per-test state ----------------------------------------------------- */

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
static unsigned long long proc_start(pid_t pid)
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
    sgt_rmdir(g_dir);
    sgt_rmdir(g_errdir);
    return 0;
}

/* ---- views ---------------------------------------------------------------- */

static const struct sg_seg *seg_rec(const struct sg_ledger *L, int id)
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

static const struct sg_att *att_rec(const struct sg_ledger *L, pid_t pid, uint64_t addr)
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

static int count_intents(const struct sg_ledger *L, pid_t pid)
{
    int n = 0;
    for (uint32_t i = 0; i < L->hdr->intent_cap; i++)
        n += L->intent[i].state == SG_REC_LIVE && (pid < 0 || L->intent[i].pid == pid);
    return n;
}

/* The counters in the header agree with the records. */
static void check_counters(const struct sg_ledger *L)
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

static void load(struct sg_ledger *L)
{
    assert_int_equal(sgt_load_ledger(g_dir, L), 0);
}

/* Run `shmguard ledger --json [--all] --dir DIR` without the preload. */
static struct jv *tool_json(int all)
{
    struct sgt_result *r = malloc(sizeof *r);
    assert_non_null(r);
    char *argv[] = { (char *)SGT_TOOL, "ledger", "--json", "--dir", g_dir, all ? "--all" : NULL, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(r, argv, env, 30);
    if (!sgt_exited(r, 0))
        fail_msg("shmguard ledger failed (status %d): %s", r->status, r->err);
    struct jv *v = jparse(r->out);
    if (!v)
        fail_msg("shmguard ledger --json printed invalid JSON:\n%s", r->out);
    free(r);
    return v;
}

static struct jv *json_seg(const struct jv *root, int id)
{
    struct jv *segs = jget(root, "segments");
    assert_non_null(segs);
    assert_int_equal(segs->t, 'a');
    for (size_t i = 0; i < segs->n; i++)
        if (jint(jget(segs->v[i], "id")) == id)
            return segs->v[i];
    return NULL;
}

/* The attachments of pid in a segment of the JSON; *addr of the last. */
static int json_atts(const struct jv *seg, pid_t pid, uint64_t addr)
{
    struct jv *atts = jget(seg, "attachments");
    assert_non_null(atts);
    assert_int_equal(atts->t, 'a');
    int n = 0;
    for (size_t i = 0; i < atts->n; i++) {
        const struct jv *a = atts->v[i];
        if (jint(jget(a, "pid")) != pid)
            continue;
        if (addr && ju64(jget(a, "addr")) != addr)
            continue;
        n++;
    }
    return n;
}

static int json_natts(const struct jv *seg)
{
    struct jv *atts = jget(seg, "attachments");
    assert_non_null(atts);
    return (int)atts->n;
}

static unsigned long kernel_nattch(int id)
{
    struct shmid_ds ds;
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    return (unsigned long)ds.shm_nattch;
}

/* t was read from CLOCK_REALTIME (or its coarse variant, which may lag the
 * fine clock by one tick) between t0 and t1. */
static int time_between(uint64_t t, uint64_t t0, uint64_t t1)
{
    struct timespec res = { 0, 0 };
    clock_getres(CLOCK_REALTIME_COARSE, &res);
    /* Attachment times come from the coarse clock, which a tickless
     * kernel may update late: allow a tick plus 50 ms. */
    uint64_t slack = (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec + 50000000u;
    return t + slack >= t0 && t <= t1 + slack;
}

static int str_field_is(const char *field, size_t n, const char *want)
{
    return strnlen(field, n) < n && strcmp(field, want) == 0;
}

/* ---- tests ---------------------------------------------------------------- */

/* A creates, B and C look up and attach, B detaches, C stays. */
static void test_three_processes(void **state)
{
    (void)state;
    struct actor *A = actor_start(1), *B = actor_start(1), *C = actor_start(1);
    const key_t K = 0x5a170001;
    const char *r = DO(A, "siteoff");
    uint64_t fn_off = kvx(r, "off");
    assert_non_null(strstr(r, g_helper));

    uint64_t t0 = now_ns(CLOCK_REALTIME);
    int id = (int)kvx(DO(A, "create %d 65536", (int)K), "id");
    uint64_t t1 = now_ns(CLOCK_REALTIME);

    struct sg_ledger L;
    load(&L);
    const struct sg_seg *s = seg_rec(&L, id);
    assert_non_null(s);
    assert_int_equal(s->kind, SG_KIND_SHM);
    assert_int_equal(s->key, K);
    assert_int_equal(s->size, 65536);
    assert_int_equal(s->mode, 0600);
    assert_true(s->flags & SG_SEG_CREATOR);
    assert_false(s->flags & (SG_SEG_PENDING | SG_SEG_PRIVATE));
    assert_int_equal(s->cr_pid, A->pid);
    assert_int_equal(s->kcpid, A->pid);
    assert_int_equal(s->cr_uid, geteuid());
    assert_int_equal(s->kcuid, geteuid());
    assert_int_not_equal(proc_start(A->pid), 0);
    assert_int_equal(s->cr_start, proc_start(A->pid));
    assert_int_equal(s->cr_start, A->start);
    assert_true(str_field_is(s->cr_comm, SG_COMM_LEN, "helper_actor"));
    assert_true(str_field_is(s->cr_exe, SG_PATH_LEN, g_helper));
    assert_true(time_between(s->cr_time_ns, t0, t1));
    assert_true(str_field_is(s->site_obj, SG_PATH_LEN, g_helper));
    assert_int_not_equal(s->site_off, 0);
    /* The return address of the shmget call inside call_shmget(). */
    assert_true(s->site_off > fn_off && s->site_off < fn_off + 512);
    assert_int_equal(count_intents(&L, A->pid), 1); /* between shmget and shmat */
    check_counters(&L);
    sg_ledger_close(&L);

    assert_int_equal((int)kvx(DO(B, "lookup %d", (int)K), "id"), id);
    assert_int_equal((int)kvx(DO(C, "lookup %d", (int)K), "id"), id);
    t0 = now_ns(CLOCK_REALTIME);
    uint64_t ab = kvx(DO(B, "at %d", id), "addr");
    uint64_t ac = kvx(DO(C, "at %d", id), "addr");
    t1 = now_ns(CLOCK_REALTIME);
    assert_int_equal(kernel_nattch(id), 2);

    load(&L);
    const struct sg_att *a = att_rec(&L, B->pid, ab);
    assert_non_null(a);
    assert_int_equal(a->shmid, id);
    assert_int_equal(a->start, proc_start(B->pid));
    assert_int_equal(a->flags, 0);
    assert_true(time_between(a->time_ns, t0, t1));
    a = att_rec(&L, C->pid, ac);
    assert_non_null(a);
    assert_int_equal(a->shmid, id);
    assert_int_equal(a->start, proc_start(C->pid));
    assert_int_equal(a->flags, 0);
    assert_true(time_between(a->time_ns, t0, t1));
    assert_int_equal(sgt_count_att(&L, -1, id), 2);
    assert_int_equal(count_intents(&L, B->pid) + count_intents(&L, C->pid), 0);
    /* Unchanged by the lookups. */
    s = seg_rec(&L, id);
    assert_non_null(s);
    assert_int_equal(s->cr_pid, A->pid);
    check_counters(&L);
    sg_ledger_close(&L);

    struct jv *j = tool_json(0);
    struct jv *js = json_seg(j, id);
    assert_non_null(js);
    assert_true(jbool(jget(js, "in_kernel")));
    struct jv *cr = jget(js, "creator");
    assert_true(jbool(jget(cr, "known")));
    assert_int_equal(jint(jget(cr, "pid")), A->pid);
    assert_int_equal(ju64(jget(cr, "start")), A->start);
    assert_true(jbool(jget(cr, "alive")));
    assert_string_equal(jget(cr, "exe")->s, g_helper);
    assert_string_equal(jget(cr, "comm")->s, "helper_actor");
    assert_string_equal(jget(jget(js, "site"), "object")->s, g_helper);
    assert_int_equal(json_natts(js), 2);
    assert_int_equal(json_atts(js, B->pid, ab), 1);
    assert_int_equal(json_atts(js, C->pid, ac), 1);
    jfree(j);

    DO(B, "dt 0x%" PRIx64, ab);
    assert_int_equal(kernel_nattch(id), 1);
    load(&L);
    assert_int_equal(sgt_count_att(&L, B->pid, -1), 0);
    assert_non_null(att_rec(&L, C->pid, ac));
    assert_int_equal(sgt_count_att(&L, -1, id), 1);
    check_counters(&L);
    sg_ledger_close(&L);

    j = tool_json(0);
    js = json_seg(j, id);
    assert_non_null(js);
    assert_int_equal(json_natts(js), 1);
    assert_int_equal(json_atts(js, C->pid, ac), 1);
    jfree(j);

    DO(C, "dt 0x%" PRIx64, ac);
    actor_exit(A);
    actor_exit(B);
    actor_exit(C);
}

/* A forked child inherits the attachment: the ledger credits it. */
static void test_fork_inherits(void **state)
{
    (void)state;
    struct actor *A = actor_start(1);
    int id = (int)kvx(DO(A, "create %d 8192", 0x5a170002), "id");
    uint64_t addr = kvx(DO(A, "at %d", id), "addr");
    const char *r = DO(A, "fork");
    pid_t child = (pid_t)kvx(r, "pid");
    assert_true(child > 0 && child != A->pid);
    assert_int_equal(kvx(r, "start"), proc_start(child));
    assert_int_equal(kernel_nattch(id), 2);

    struct sg_ledger L;
    load(&L);
    const struct sg_att *c = att_rec(&L, child, addr);
    assert_non_null(c);
    assert_int_equal(c->shmid, id);
    assert_int_equal(c->start, proc_start(child));
    assert_true(c->flags & SG_ATT_INHERITED);
    const struct sg_att *p = att_rec(&L, A->pid, addr);
    assert_non_null(p);
    assert_int_equal(p->shmid, id);
    assert_int_equal(p->start, proc_start(A->pid));
    assert_false(p->flags & SG_ATT_INHERITED);
    assert_int_equal(sgt_count_att(&L, -1, id), 2);
    check_counters(&L);
    sg_ledger_close(&L);

    struct jv *j = tool_json(0);
    struct jv *js = json_seg(j, id);
    assert_non_null(js);
    assert_int_equal(json_natts(js), 2);
    assert_int_equal(json_atts(js, child, addr), 1);
    assert_int_equal(json_atts(js, A->pid, addr), 1);
    struct jv *atts = jget(js, "attachments");
    for (size_t i = 0; i < atts->n; i++) {
        int is_child = jint(jget(atts->v[i], "pid")) == child;
        assert_int_equal(jbool(jget(atts->v[i], "inherited")), is_child);
        assert_true(jbool(jget(atts->v[i], "live")));
    }
    jfree(j);

    /* The child ends normally: its record goes, the parent's stays. */
    r = actor_do(A, 0, 20000, "exit 0");
    assert_true(strncmp(r, "reaped", 6) == 0);
    int st = (int)kvx(r, "status");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(kernel_nattch(id), 1);
    load(&L);
    assert_int_equal(sgt_count_att(&L, child, -1), 0);
    assert_non_null(att_rec(&L, A->pid, addr));
    check_counters(&L);
    sg_ledger_close(&L);

    DO(A, "dt 0x%" PRIx64, addr);
    actor_exit(A);
}

/* A process attaches, then execs: its attachment is no longer listed. */
static void exec_case(int preload_after)
{
    struct actor *A = actor_start(1);
    int id = (int)kvx(DO(A, "create %d 8192", 0x5a170003 + preload_after), "id");
    uint64_t addr = kvx(DO(A, "at %d", id), "addr");
    struct jv *j = tool_json(0);
    assert_int_equal(json_atts(json_seg(j, id), A->pid, addr), 1);
    jfree(j);

    char cmd[64], line[256];
    int n = snprintf(cmd, sizeof cmd, "exec %s\n", preload_after ? "preload" : "bare");
    assert_int_equal(write(A->in, cmd, (size_t)n), n);
    assert_int_equal(actor_line(A, line, sizeof line, 20000), 0);
    assert_true(strncmp(line, "ready", 5) == 0);
    assert_int_equal((int)kvx(line, "pid"), A->pid);
    assert_int_equal((int)kvx(line, "preload"), preload_after);
    assert_int_equal(kernel_nattch(id), 0);

    j = tool_json(0);
    struct jv *js = json_seg(j, id);
    assert_non_null(js); /* the segment itself is still there */
    assert_int_equal(json_atts(js, A->pid, 0), 0);
    assert_int_equal(json_natts(js), 0);
    jfree(j);
    /* --all shows it, but not as live. */
    j = tool_json(1);
    js = json_seg(j, id);
    assert_non_null(js);
    struct jv *atts = jget(js, "attachments");
    for (size_t i = 0; i < atts->n; i++)
        assert_false(jbool(jget(atts->v[i], "live")));
    jfree(j);
    actor_exit(A);
}

static void test_exec_preloaded(void **state)
{
    (void)state;
    exec_case(1);
}

static void test_exec_bare(void **state)
{
    (void)state;
    exec_case(0);
}

/* An attacher killed with SIGKILL: not listed; the segment stays. */
static void test_sigkill_attacher(void **state)
{
    (void)state;
    struct actor *A = actor_start(1), *V = actor_start(1);
    int id = (int)kvx(DO(A, "create %d 8192", 0x5a170005), "id");
    uint64_t aa = kvx(DO(A, "at %d", id), "addr");
    assert_int_equal((int)kvx(DO(V, "lookup %d", 0x5a170005), "id"), id);
    uint64_t av = kvx(DO(V, "at %d", id), "addr");
    struct jv *j = tool_json(0);
    assert_int_equal(json_atts(json_seg(j, id), V->pid, av), 1);
    jfree(j);

    pid_t vpid = V->pid;
    actor_sigkill(V);
    assert_true(sgt_shm_exists(id));
    assert_int_equal(kernel_nattch(id), 1);

    j = tool_json(0);
    struct jv *js = json_seg(j, id);
    assert_non_null(js);
    assert_true(jbool(jget(js, "in_kernel")));
    assert_int_equal(json_atts(js, vpid, 0), 0);
    assert_int_equal(json_natts(js), 1);
    assert_int_equal(json_atts(js, A->pid, aa), 1);
    jfree(j);

    /* The raw file may keep the dead process's record; it is well-formed. */
    struct sg_ledger L;
    load(&L);
    assert_true(sgt_count_att(&L, vpid, -1) <= 1);
    assert_non_null(seg_rec(&L, id));
    check_counters(&L);
    sg_ledger_close(&L);

    DO(A, "dt 0x%" PRIx64, aa);
    actor_exit(A);
}

/* A normal exit drops the process's attachment records and intents from
 * the file itself; the segments (and their records) outlive it. */
static void test_normal_exit(void **state)
{
    (void)state;
    struct actor *A = actor_start(1), *W = actor_start(1);
    int id1 = (int)kvx(DO(A, "create %d 8192", 0x5a170006), "id");
    int id2 = (int)kvx(DO(A, "create %d 8192", 0x5a170007), "id");
    DO(A, "at %d", id1);
    DO(A, "at %d", id1);
    DO(A, "at %d", id2);
    assert_int_equal((int)kvx(DO(A, "lookup %d", 0x5a170007), "id"), id2); /* intent */
    uint64_t aw = kvx(DO(W, "at %d", id1), "addr");

    struct sg_ledger L;
    load(&L);
    assert_int_equal(sgt_count_att(&L, A->pid, -1), 3);
    assert_int_equal(count_intents(&L, A->pid), 1);
    sg_ledger_close(&L);

    pid_t apid = A->pid;
    actor_exit(A);
    assert_int_equal(kernel_nattch(id1), 1);
    assert_int_equal(kernel_nattch(id2), 0);

    load(&L);
    assert_int_equal(sgt_count_att(&L, apid, -1), 0);
    assert_int_equal(count_intents(&L, apid), 0);
    assert_non_null(att_rec(&L, W->pid, aw));
    const struct sg_seg *s = seg_rec(&L, id1);
    assert_non_null(s);
    assert_int_equal(s->cr_pid, apid);
    assert_non_null(seg_rec(&L, id2));
    check_counters(&L);
    sg_ledger_close(&L);

    DO(W, "dt 0x%" PRIx64, aw);
    actor_exit(W);
}

/* ipcrm behind the library's back: the tool stops listing the segment. */
static void test_ipcrm_behind_back(void **state)
{
    (void)state;
    struct actor *A = actor_start(1);
    int id = (int)kvx(DO(A, "create %d 8192", 0x5a170008), "id");
    int keep = (int)kvx(DO(A, "create %d 8192", 0x5a170009), "id");
    uint64_t addr = kvx(DO(A, "at %d", id), "addr");
    DO(A, "dt 0x%" PRIx64, addr);
    struct jv *j = tool_json(0);
    assert_non_null(json_seg(j, id));
    jfree(j);

    struct sgt_result *r = malloc(sizeof *r);
    assert_non_null(r);
    char ids[32];
    snprintf(ids, sizeof ids, "%d", id);
    char *argv[] = { "ipcrm", "-m", ids, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(r, argv, env, 30);
    if (!sgt_exited(r, 0))
        fail_msg("ipcrm -m %d failed: %s", id, r->err);
    free(r);
    assert_false(sgt_shm_exists(id));

    j = tool_json(0);
    assert_null(json_seg(j, id));
    assert_non_null(json_seg(j, keep));
    assert_true(jint(jget(jget(j, "stale"), "segments")) >= 1);
    jfree(j);
    j = tool_json(1);
    struct jv *js = json_seg(j, id);
    assert_non_null(js);
    assert_false(jbool(jget(js, "in_kernel")));
    jfree(j);
    actor_exit(A);
}

/* A record for an id the kernel has, but whose kernel creator (pid or uid)
 * differs, describes an older segment that had the id: not listed. */
static void test_reused_id_record(void **state)
{
    (void)state;
    int wrong_pid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int wrong_uid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int right = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    assert_true(wrong_pid >= 0 && wrong_uid >= 0 && right >= 0);

    struct sg_ledger W;
    char err[PATH_MAX + 200];
    if (sg_ledger_open_own(&W, g_dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0)
        fail_msg("open ledger: %s", err);
    assert_int_equal(sg_ledger_lock(&W), 0);
    int ids[3] = { wrong_pid, wrong_uid, right };
    for (int i = 0; i < 3; i++) {
        struct sg_seg s;
        memset(&s, 0, sizeof s);
        s.kind = SG_KIND_SHM;
        s.id = ids[i];
        s.key = 0x5a1700a0 + i;
        s.size = 4096;
        s.mode = 0600;
        s.flags = SG_SEG_CREATOR;
        s.kcpid = i == 0 ? getpid() + 100000 : getpid();
        s.kcuid = i == 1 ? geteuid() + 1 : geteuid();
        s.cr_pid = s.kcpid;
        s.cr_uid = s.kcuid;
        s.cr_start = 1;
        s.cr_time_ns = now_ns(CLOCK_REALTIME);
        snprintf(s.cr_comm, sizeof s.cr_comm, "forged");
        assert_non_null(sg_seg_put(&W, &s));
    }
    sg_ledger_unlock(&W);
    sg_ledger_close(&W);

    struct jv *j = tool_json(0);
    assert_null(json_seg(j, wrong_pid));
    assert_null(json_seg(j, wrong_uid));
    struct jv *js = json_seg(j, right); /* control: the forgery method works */
    assert_non_null(js);
    assert_int_equal(jint(jget(jget(js, "creator"), "pid")), getpid());
    assert_true(jint(jget(jget(j, "stale"), "segments")) >= 2);
    jfree(j);
    j = tool_json(1);
    js = json_seg(j, wrong_pid);
    assert_non_null(js);
    assert_false(jbool(jget(js, "in_kernel")));
    js = json_seg(j, wrong_uid);
    assert_non_null(js);
    assert_false(jbool(jget(js, "in_kernel")));
    jfree(j);
}

/* 8 threads x 10,000 shmat/shmdt pairs on one segment. */
static void test_threads_churn(void **state)
{
    (void)state;
    struct actor *A = actor_start(1);
    int id = (int)kvx(DO(A, "create %d 8192", 0x5a17000a), "id");
    const char *r = actor_do(A, 1, 300000, "hammer %d 8 10000", id);
    assert_int_equal(kvx(r, "fails"), 0);

    /* Checked while the process is still alive: nothing left for its
     * destructor to hide. */
    struct sg_ledger L;
    load(&L);
    assert_int_equal(sgt_count_att(&L, A->pid, -1), 0);
    assert_int_equal(sgt_count_att(&L, -1, id), 0);
    assert_non_null(seg_rec(&L, id));
    check_counters(&L);
    sg_ledger_close(&L);
    assert_int_equal(kernel_nattch(id), 0);

    struct jv *j = tool_json(0);
    struct jv *js = json_seg(j, id);
    assert_non_null(js);
    assert_int_equal(json_natts(js), 0);
    jfree(j);

    actor_exit(A);
    char err[8192];
    actor_stderr(A, err, sizeof err);
    if (strstr(err, "lock") || strstr(err, "ledger"))
        fail_msg("ledger problems logged: %s", err);
}

/* Threads that detach and attach at once reuse each other's addresses
 * (the kernel hands a just-freed range to the next shmat): while 8 threads
 * churn, the main thread keeps 4,000 attachments.  Every mapping that
 * stays must keep its record: exactly one per kept address. */
static void test_threads_addr_reuse(void **state)
{
    (void)state;
    enum { KEEP = 4000 };
    struct actor *A = actor_start(1);
    int id = (int)kvx(DO(A, "create %d 4096", 0x5a17000b), "id");
    const char *r = actor_do(A, 1, 300000, "churnhold %d 8 %d", id, (int)KEEP);
    assert_int_equal(kvx(r, "fails"), 0);
    assert_int_equal(kvx(r, "kept"), KEEP);
    assert_int_equal(kernel_nattch(id), KEEP);

    struct sg_ledger L;
    load(&L);
    int n = sgt_count_att(&L, A->pid, id);
    check_counters(&L);
    sg_ledger_close(&L);
    if (n != KEEP)
        fail_msg("%d live mappings of shmid %d in pid %d, but %d attachment records: "
                 "%d lost to a concurrent shmdt at the same address",
                 (int)KEEP, id, (int)A->pid, n, (int)KEEP - n);

    struct jv *j = tool_json(0);
    struct jv *js = json_seg(j, id);
    assert_non_null(js);
    assert_int_equal(json_natts(js), KEEP);
    jfree(j);

    r = DO(A, "dtall");
    assert_int_equal(kvx(r, "fails"), 0);
    load(&L);
    assert_int_equal(sgt_count_att(&L, A->pid, -1), 0);
    check_counters(&L);
    sg_ledger_close(&L);
    assert_int_equal(kernel_nattch(id), 0);
    actor_exit(A);
    char err[8192];
    actor_stderr(A, err, sizeof err);
    if (strstr(err, "lock") || strstr(err, "ledger"))
        fail_msg("ledger problems logged: %s", err);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_inherits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_preloaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_bare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_attacher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normal_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipcrm_behind_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_id_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_addr_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
