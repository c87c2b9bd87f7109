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

#include "actor.h"

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
    assert_true(sgt_marks(a->start, proc_start(B->pid)));
    assert_int_equal(a->flags, 0);
    assert_true(time_between(a->time_ns, t0, t1));
    a = att_rec(&L, C->pid, ac);
    assert_non_null(a);
    assert_int_equal(a->shmid, id);
    assert_true(sgt_marks(a->start, proc_start(C->pid)));
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
    assert_true(sgt_marks(c->start, proc_start(child)));
    assert_true(c->flags & SG_ATT_INHERITED);
    const struct sg_att *p = att_rec(&L, A->pid, addr);
    assert_non_null(p);
    assert_int_equal(p->shmid, id);
    assert_true(sgt_marks(p->start, proc_start(A->pid)));
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
