/*
 * test_tool_ls.c - `shmguard ls` against the kernel's own accounts.
 *
 * Segments are made by real processes, with the library (helper_step,
 * helper_actor preloaded) and without it (the same helpers bare, and
 * children of this test, which is not preloaded), in the private IPC
 * namespace the runner gives us.  Then:
 *   - `ls --json --output-all` must agree with /proc/sysvipc/shm on every
 *     kernel field, and with `ipcs -m` and `ipcs -m -p`, for every segment;
 *   - its creator command, liveness and attachers must be right after
 *     fork, exec and SIGKILL;
 *   - the filters and the column options select what they say;
 *   - a user who cannot read other users' maps and ledgers gets the list
 *     plus a note on stderr saying what is missing (root only: it needs a
 *     second uid).
 * Processes are driven one command at a time over pipes; nothing sleeps.
 */
#include "step.h"

#include <grp.h>

#include "sg_proc.h"

#include "fixture.h"

static struct sgt_result res;


/* ---- a small JSON reader (enough for libsmartcols' output) ------------- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jt t;
    long long i;            /* J_NUM (integers), J_BOOL */
    char *s;                /* J_STR */
    struct jv *v;           /* J_ARR, J_OBJ: children */
    char **k;               /* J_OBJ: keys */
    size_t n;
};

static const char *jp;

static void jws(void)
{
    while (*jp == ' ' || *jp == '\n' || *jp == '\t' || *jp == '\r')
        jp++;
}

static int jstring(char **out)
{
    if (*jp != '"')
        return -1;
    jp++;
    size_t cap = 64, n = 0;
    char *s = malloc(cap);
    while (*jp && *jp != '"') {
        char c = *jp++;
        if (c == '\\') {
            char e = *jp++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned u;
                if (sscanf(jp, "%4x", &u) != 1) {
                    free(s);
                    return -1;
                }
                jp += 4;
                c = u < 0x80 ? (char)u : '?';
                break;
            }
            case '"': case '\\': case '/': c = e; break;
            default: free(s); return -1;
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    if (*jp != '"') {
        free(s);
        return -1;
    }
    jp++;
    s[n] = '\0';
    *out = s;
    return 0;
}

static int jvalue(struct jv *v)
{
    memset(v, 0, sizeof *v);
    jws();
    if (*jp == '{' || *jp == '[') {
        int obj = *jp == '{';
        char close = obj ? '}' : ']';
        v->t = obj ? J_OBJ : J_ARR;
        jp++;
        jws();
        if (*jp == close) {
            jp++;
            return 0;
        }
        for (;;) {
            v->v = realloc(v->v, (v->n + 1) * sizeof *v->v);
            v->k = realloc(v->k, (v->n + 1) * sizeof *v->k);
            v->k[v->n] = NULL;
            if (obj) {
                jws();
                if (jstring(&v->k[v->n]) != 0)
                    return -1;
                jws();
                if (*jp++ != ':')
                    return -1;
            }
            if (jvalue(&v->v[v->n]) != 0)
                return -1;
            v->n++;
            jws();
            if (*jp == ',') {
                jp++;
                continue;
            }
            if (*jp++ != close)
                return -1;
            return 0;
        }
    }
    if (*jp == '"') {
        v->t = J_STR;
        return jstring(&v->s);
    }
    if (!strncmp(jp, "null", 4)) {
        jp += 4;
        return 0;
    }
    if (!strncmp(jp, "true", 4) || !strncmp(jp, "false", 5)) {
        v->t = J_BOOL;
        v->i = *jp == 't';
        jp += v->i ? 4 : 5;
        return 0;
    }
    char *end;
    v->t = J_NUM;
    v->i = strtoll(jp, &end, 10);
    if (end == jp || *end == '.' || *end == 'e' || *end == 'E')
        return -1; /* only integers are expected */
    jp = end;
    return 0;
}

static void jfree(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->v[i]);
        if (v->k)
            free(v->k[i]);
    }
    free(v->v);
    free(v->k);
    free(v->s);
    memset(v, 0, sizeof *v);
}

static struct jv *jget(struct jv *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->k[i], key))
            return &o->v[i];
    return NULL;
}

static long long jnum(struct jv *o, const char *key)
{
    struct jv *v = jget(o, key);
    if (!v || v->t != J_NUM)
        fail_msg("JSON field %s is not a number", key);
    return v->i;
}

/* A string field, or NULL when it is null. */
static const char *jstr(struct jv *o, const char *key)
{
    struct jv *v = jget(o, key);
    if (!v || (v->t != J_STR && v->t != J_NULL))
        fail_msg("JSON field %s is not a string or null", key);
    return v->t == J_STR ? v->s : NULL;
}

/* A boolean field: 1, 0, or -1 when null. */
static int jbool(struct jv *o, const char *key)
{
    struct jv *v = jget(o, key);
    if (!v || (v->t != J_BOOL && v->t != J_NULL))
        fail_msg("JSON field %s is not a boolean or null", key);
    return v->t == J_BOOL ? (int)v->i : -1;
}

/* The pids of an "apids" array, as "1,2,3" ("" for libsmartcols' [null]). */
static const char *jpids(struct jv *o)
{
    static char buf[512];
    struct jv *v = jget(o, "apids");
    if (!v || v->t != J_ARR)
        fail_msg("apids is not an array");
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < v->n; i++) {
        if (v->v[i].t == J_NULL)
            continue;
        assert_int_equal(v->v[i].t, J_NUM);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", len ? "," : "", v->v[i].i);
    }
    return buf;
}

/* ---- running the tool ---------------------------------------------------- */

static void ls_run(const char *a1, ...)
{
    va_list ap;
    va_start(ap, a1);
    sgt_tool_v(&res, "ls", dir, a1, ap);
    va_end(ap);
    if (!sgt_exited(&res, 0))
        fail_msg("shmguard ls failed: status %d: %s", res.status, res.err);
}

/* `ls --json --output-all`, parsed: the "segments" array lives in *root. */
static struct jv *ls_json(struct jv *root)
{
    ls_run("--json", "--output-all", NULL);
    jp = res.out;
    if (jvalue(root) != 0)
        fail_msg("ls --json printed invalid JSON near '%.40s':\n%s", jp, res.out);
    struct jv *segs = jget(root, "segments");
    if (!segs || segs->t != J_ARR)
        fail_msg("no segments array:\n%s", res.out);
    return segs;
}

static struct jv *seg_by_id(struct jv *segs, int id)
{
    for (size_t i = 0; i < segs->n; i++)
        if (jnum(&segs->v[i], "id") == id)
            return &segs->v[i];
    fail_msg("ls does not list shmid %d", id);
    return NULL;
}

/* ---- processes --------------------------------------------------------- */

/* helper_actor, driven over pipes: one command, one reply line. */
struct actor {
    pid_t pid;
    int in, out;
    char buf[4096];
    size_t len;
    char line[512];
};

static const char *actor_line(struct actor *a)
{
    for (;;) {
        char *nl = memchr(a->buf, '\n', a->len);
        if (nl) {
            size_t n = (size_t)(nl - a->buf);
            snprintf(a->line, sizeof a->line, "%.*s", (int)n, a->buf);
            memmove(a->buf, nl + 1, a->len - n - 1);
            a->len -= n + 1;
            return a->line;
        }
        struct pollfd p = { a->out, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
            return "TIMEOUT";
        ssize_t r = read(a->out, a->buf + a->len, sizeof a->buf - a->len - 1);
        if (r <= 0)
            return "EOF";
        a->len += (size_t)r;
    }
}

static const char *actor_cmd(struct actor *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *actor_cmd(struct actor *a, const char *fmt, ...)
{
    char cmd[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 1, fmt, ap);
    va_end(ap);
    cmd[n++] = '\n';
    assert_int_equal(write(a->in, cmd, (size_t)n), n);
    return actor_line(a);
}

static void actor_start(struct actor *a, char *const env[])
{
    int pin[2], pout[2];
    memset(a, 0, sizeof *a);
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC))
        abort();
    a->pid = fork();
    if (a->pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        sgt_apply_env(env);
        const char *h = SGT_HELPER("helper_actor");
        execl(h, h, (char *)NULL);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    a->in = pin[1];
    a->out = pout[0];
    const char *r = actor_line(a);
    if (strncmp(r, "ready ", 6))
        fail_msg("helper_actor did not start: %s", r);
}

static void actor_kill(struct actor *a)
{
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    close(a->in);
    close(a->out);
}

static int answer_int(const char *answer, const char *field)
{
    const char *p = strstr(answer, field);
    if (!p)
        fail_msg("no %s in '%s'", field, answer);
    return atoi(p + strlen(field));
}

/* ---- /proc/sysvipc/shm and ipcs -------------------------------------- */

struct kline {
    long long key, at, dt, ct;
    int id, cpid, lpid;
    unsigned mode, uid, gid, cuid, cgid;
    unsigned long long size, nattch, rss, swap;
};

static size_t read_proc_shm(struct kline *v, size_t max)
{
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    assert_non_null(f);
    char line[512];
    size_t n = 0;
    assert_non_null(fgets(line, sizeof line, f));
    while (n < max && fgets(line, sizeof line, f)) {
        struct kline *k = &v[n];
        if (sscanf(line, "%lld %d %o %llu %d %d %llu %u %u %u %u %lld %lld %lld %llu %llu", &k->key,
                   &k->id, &k->mode, &k->size, &k->cpid, &k->lpid, &k->nattch, &k->uid, &k->gid,
                   &k->cuid, &k->cgid, &k->at, &k->dt, &k->ct, &k->rss, &k->swap) == 16)
            n++;
    }
    fclose(f);
    return n;
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

/* ---- tests ------------------------------------------------------------- */

/* Every kernel field of every segment, with and without the library. */
static void test_json_agrees_with_kernel(void **state)
{
    (void)state;
    struct step a, b, c1, c2, d, e, f, g;
    step_start(&a, lib_env);
    step_start(&b, lib_env);
    step_start(&c1, bare_env);
    step_start(&c2, bare_env);
    step_start(&d, bare_env);
    step_start(&e, lib_env);
    step_start(&f, bare_env);
    step_start(&g, lib_env);
    /* a: library, keyed, attached, one page touched (rss > 0) */
    int ida = step_id(step(&a, "get 0x7b000001 create size 65536"));
    assert_string_equal(step(&a, "at %d", ida), "ok");
    assert_string_equal(step(&a, "write %d 42", ida), "ok");
    /* b: library, IPC_PRIVATE, idle */
    int idb = step_id(step(&b, "get 0 create size 8192"));
    /* c: bare, keyed, attached by two processes */
    int idc = step_id(step(&c1, "get 0x7b000003 create"));
    assert_string_equal(step(&c1, "at %d", idc), "ok");
    assert_int_equal(step_id(step(&c2, "get 0x7b000003")), idc);
    assert_string_equal(step(&c2, "at %d", idc), "ok");
    /* d: bare, removed while attached: the kernel marks it (dest, key 0) */
    int idd = step_id(step(&d, "get 0x7b000004 create"));
    assert_string_equal(step(&d, "at %d", idd), "ok");
    assert_string_equal(step(&d, "rmid %d", idd), "ok");
    /* e: library, removal deferred while attached (e2 looked the key up
     * before it, and is about to attach): pending */
    int ide = step_id(step(&e, "get 0x7b000005 create"));
    assert_string_equal(step(&e, "at %d", ide), "ok");
    struct step e2;
    step_start(&e2, lib_env);
    assert_int_equal(step_id(step(&e2, "get 0x7b000005")), ide);
    assert_string_equal(step(&e, "rmid %d", ide), "ok");
    step_kill(&e2);
    /* f, g: creators killed: orphans, bare and with the library */
    int idf = step_id(step(&f, "get 0x7b000006 create"));
    int idg = step_id(step(&g, "get 0x7b000007 create size 12288"));
    pid_t fpid = f.pid, gpid = g.pid;
    step_kill(&f);
    step_kill(&g);
    assert_true(ida >= 0 && idb >= 0 && idc >= 0 && idd >= 0 && ide >= 0 && idf >= 0 && idg >= 0);

    struct jv root;
    struct jv *segs = ls_json(&root);
    struct kline k[64];
    size_t nk = read_proc_shm(k, 64);
    assert_int_equal(segs->n, nk);
    assert_int_equal(nk, 7);
    for (size_t i = 0; i < nk; i++) {
        struct jv *s = seg_by_id(segs, k[i].id);
        char key[16], perms[16];
        snprintf(key, sizeof key, "0x%08x", (unsigned)(uint32_t)k[i].key);
        snprintf(perms, sizeof perms, "%o", k[i].mode);
        assert_string_equal(jstr(s, "key"), key);
        assert_string_equal(jstr(s, "perms"), perms);
        assert_int_equal(jnum(s, "size"), k[i].size);
        assert_int_equal(jnum(s, "cpid"), k[i].cpid);
        assert_int_equal(jnum(s, "lpid"), k[i].lpid);
        assert_int_equal(jnum(s, "nattch"), k[i].nattch);
        assert_int_equal(jnum(s, "uid"), k[i].uid);
        assert_int_equal(jnum(s, "gid"), k[i].gid);
        assert_int_equal(jnum(s, "cuid"), k[i].cuid);
        assert_int_equal(jnum(s, "cgid"), k[i].cgid);
        assert_int_equal(jnum(s, "atime"), k[i].at);
        assert_int_equal(jnum(s, "dtime"), k[i].dt);
        assert_int_equal(jnum(s, "ctime"), k[i].ct);
        assert_int_equal(jnum(s, "rss"), k[i].rss);
        assert_int_equal(jnum(s, "swap"), k[i].swap);
        const char *st = jstr(s, "status");
        if (k[i].mode & SHM_DEST)
            assert_true(st && strstr(st, "dest"));
        else
            assert_true(!st || !strstr(st, "dest"));
        assert_string_equal(jstr(s, "owner"), k[i].uid == 0 ? "root" : "?");
    }
    assert_true(jnum(seg_by_id(segs, ida), "rss") > 0); /* the touched page */

    /* States, creators and attachers. */
    struct {
        int id;
        const char *state;
        int ledger, alive;
        const char *command;
        char pids[64];
    } want[] = {
        { ida, "in-use", 1, 1, "helper_step", "" }, { idb, "idle", 1, 1, "helper_step", "" },
        { idc, "in-use", 0, -1, "helper_step", "" }, { idd, "marked", 0, -1, "helper_step", "" },
        { ide, "pending", 1, 1, "helper_step", "" }, { idf, "orphaned", 0, 0, NULL, "" },
        { idg, "orphaned", 1, 0, "helper_step", "" },
    };
    snprintf(want[0].pids, sizeof want[0].pids, "%d", a.pid);
    snprintf(want[2].pids, sizeof want[2].pids, "%d,%d", c1.pid < c2.pid ? c1.pid : c2.pid,
             c1.pid < c2.pid ? c2.pid : c1.pid);
    snprintf(want[3].pids, sizeof want[3].pids, "%d", d.pid);
    snprintf(want[4].pids, sizeof want[4].pids, "%d", e.pid);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct jv *s = seg_by_id(segs, want[i].id);
        assert_string_equal(jstr(s, "state"), want[i].state);
        assert_int_equal(jbool(s, "ledger"), want[i].ledger);
        assert_int_equal(jbool(s, "alive"), want[i].alive);
        if (want[i].command)
            assert_string_equal(jstr(s, "command"), want[i].command);
        else
            assert_null(jstr(s, "command"));
        assert_string_equal(jpids(s), want[i].pids);
        if (want[i].ledger) {
            assert_non_null(jstr(s, "site"));
            assert_non_null(strstr(jstr(s, "exe"), "helper_step"));
            assert_int_equal(jnum(s, "ledgeruid"), geteuid());
        } else {
            assert_null(jstr(s, "site"));
            assert_null(jstr(s, "exe"));
        }
    }
    assert_int_equal(jnum(seg_by_id(segs, idf), "cpid"), fpid);
    assert_int_equal(jnum(seg_by_id(segs, idg), "cpid"), gpid);
    struct jv *sa = seg_by_id(segs, ida);
    struct jv *att = jget(sa, "attachers");
    assert_true(att && att->t == J_ARR && att->n == 1 && att->v[0].t == J_STR);
    char who[64];
    snprintf(who, sizeof who, "%d(helper_step)", a.pid);
    assert_string_equal(att->v[0].s, who);

    /* ipcs -m and ipcs -m -p say the same. */
    char *ipcs_env[] = { "LD_PRELOAD=", NULL };
    char *ipcs_m[] = { "ipcs", "-m", NULL };
    static struct sgt_result ir;
    sgt_run(&ir, ipcs_m, ipcs_env, 30);
    assert_true(sgt_exited(&ir, 0));
    int seen = 0;
    for (char *line = strtok(ir.out, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned key;
        int id;
        char owner[64], status[32] = "";
        unsigned perms;
        unsigned long long bytes, nattch;
        if (sscanf(line, "0x%x %d %63s %o %llu %llu %31s", &key, &id, owner, &perms, &bytes, &nattch,
                   status) < 6)
            continue;
        struct jv *s = seg_by_id(segs, id);
        char keys[16];
        snprintf(keys, sizeof keys, "0x%08x", key);
        assert_string_equal(jstr(s, "key"), keys);
        assert_string_equal(jstr(s, "owner"), owner);
        assert_int_equal(strtol(jstr(s, "perms"), NULL, 8) & 0777, perms);
        assert_int_equal(jnum(s, "size"), bytes);
        assert_int_equal(jnum(s, "nattch"), nattch);
        const char *st = jstr(s, "status");
        assert_int_equal(!!strstr(status, "dest"), st && strstr(st, "dest"));
        seen++;
    }
    assert_int_equal(seen, 7);
    char *ipcs_p[] = { "ipcs", "-m", "-p", NULL };
    sgt_run(&ir, ipcs_p, ipcs_env, 30);
    assert_true(sgt_exited(&ir, 0));
    seen = 0;
    for (char *line = strtok(ir.out, "\n"); line; line = strtok(NULL, "\n")) {
        int id, cpid, lpid;
        char owner[64];
        if (sscanf(line, "%d %63s %d %d", &id, owner, &cpid, &lpid) != 4)
            continue;
        struct jv *s = seg_by_id(segs, id);
        assert_int_equal(jnum(s, "cpid"), cpid);
        assert_int_equal(jnum(s, "lpid"), lpid);
        seen++;
    }
    assert_int_equal(seen, 7);
    jfree(&root);

    step_end(&a, "exit");
    step_end(&b, "exit");
    step_end(&c1, "exit");
    step_end(&c2, "exit");
    step_end(&d, "exit");
    step_end(&e, "exit");
}

/* One segment's row, after a fresh `ls --json --output-all`. */
static struct jv *row(struct jv *root, int id)
{
    jfree(root);
    return seg_by_id(ls_json(root), id);
}

/* With the library: the ledger keeps the creator's command through exec
 * and SIGKILL; attachers follow fork, exit and exec. */
static void test_fork_exec_kill_with_library(void **state)
{
    (void)state;
    struct actor a;
    actor_start(&a, lib_env);
    int id = answer_int(actor_cmd(&a, "create 0x7b000101 4096"), "id=");
    const char *r = actor_cmd(&a, "at %d", id);
    assert_true(!strncmp(r, "ok addr=", 8));
    char pids[64];
    struct jv root;
    memset(&root, 0, sizeof root);
    struct jv *s = row(&root, id);
    snprintf(pids, sizeof pids, "%d", a.pid);
    assert_string_equal(jpids(s), pids);
    assert_string_equal(jstr(s, "state"), "in-use");
    assert_string_equal(jstr(s, "command"), "helper_actor");
    assert_int_equal(jbool(s, "alive"), 1);
    assert_int_equal(jbool(s, "ledger"), 1);
    /* Resolved through the helper's debug information. */
    assert_non_null(strstr(jstr(s, "site"), "call_shmget (tests/helper_actor.c:"));

    r = actor_cmd(&a, "fork");
    assert_true(!strncmp(r, "ok child pid=", 13));
    int child = answer_int(r, "pid=");
    s = row(&root, id);
    snprintf(pids, sizeof pids, "%d,%d", a.pid < child ? a.pid : child, a.pid < child ? child : a.pid);
    assert_string_equal(jpids(s), pids);
    assert_int_equal(jnum(s, "nattch"), 2);
    assert_int_equal(jnum(s, "cpid"), a.pid);

    r = actor_cmd(&a, "exit 0"); /* the child exits; the parent reaps it */
    assert_string_equal(r, "reaped status=0");
    s = row(&root, id);
    snprintf(pids, sizeof pids, "%d", a.pid);
    assert_string_equal(jpids(s), pids);
    assert_int_equal(jnum(s, "nattch"), 1);

    r = actor_cmd(&a, "exec bare"); /* exec drops the mapping, not the process */
    assert_true(!strncmp(r, "ready ", 6));
    s = row(&root, id);
    assert_string_equal(jpids(s), "");
    assert_int_equal(jnum(s, "nattch"), 0);
    assert_string_equal(jstr(s, "state"), "idle");
    assert_int_equal(jbool(s, "alive"), 1);
    assert_string_equal(jstr(s, "command"), "helper_actor");

    actor_kill(&a);
    s = row(&root, id);
    assert_string_equal(jstr(s, "state"), "orphaned");
    assert_int_equal(jbool(s, "alive"), 0);
    assert_string_equal(jstr(s, "command"), "helper_actor"); /* the ledger remembers */
    assert_string_equal(jpids(s), "");
    jfree(&root);
}

/* Without the library: kernel facts only.  A child of this (unpreloaded)
 * test creates and attaches, forks a grandchild (which inherits the
 * attachment), then execs helper_step, which answers on a pipe once it
 * runs: every step is synchronised through pipes. */
static void test_fork_exec_kill_without_library(void **state)
{
    (void)state;
    int go_child[2], go_gc[2], ready[2], reply[2];
    assert_int_equal(pipe2(go_child, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go_gc, O_CLOEXEC), 0);
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(reply, O_CLOEXEC), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int id = shmget(0x7b000201, 4096, IPC_CREAT | 0600);
        if (id < 0 || shmat(id, NULL, 0) == (void *)-1)
            _exit(2);
        pid_t gc = fork();
        if (gc == 0) {
            char c;
            ssize_t r = read(go_gc[0], &c, 1); /* wait for the word, then exit */
            _exit(r == 1 ? 0 : 1);
        }
        char msg[32];
        int n = snprintf(msg, sizeof msg, "%d %d\n", id, (int)gc);
        if (write(ready[1], msg, (size_t)n) != n)
            _exit(3);
        char c;
        if (read(go_child[0], &c, 1) != 1)
            _exit(4);
        waitpid(gc, NULL, 0);
        /* helper_step reads its commands from go_child, answers on reply */
        dup2(go_child[0], 0);
        dup2(reply[1], 1);
        const char *h = SGT_HELPER("helper_step");
        execl(h, h, (char *)NULL);
        _exit(5);
    }
    close(ready[1]);
    close(reply[1]);
    close(go_child[0]);
    close(go_gc[0]);
    char msg[64] = "";
    assert_true(read(ready[0], msg, sizeof msg - 1) > 0);
    close(ready[0]);
    int id = -1, grandchild = -1;
    assert_int_equal(sscanf(msg, "%d %d", &id, &grandchild), 2);

    struct jv root;
    memset(&root, 0, sizeof root);
    struct jv *s = row(&root, id);
    char pids[64];
    snprintf(pids, sizeof pids, "%d,%d", pid, grandchild);
    assert_string_equal(jpids(s), pids);
    assert_int_equal(jnum(s, "nattch"), 2);
    assert_int_equal(jbool(s, "ledger"), 0);
    assert_int_equal(jbool(s, "alive"), -1); /* its pid is in use: cannot tell */
    assert_string_equal(jstr(s, "command"), "test_tool_ls");
    assert_string_equal(jstr(s, "state"), "in-use");

    /* The grandchild exits (and is reaped), the child execs helper_step;
     * its answer to "pid" says the exec is done. */
    assert_int_equal(write(go_gc[1], "x", 1), 1);
    assert_int_equal(write(go_child[1], "xpid\n", 5), 5);
    char ans[64] = "";
    struct pollfd p = { reply[0], POLLIN, 0 };
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_true(read(reply[0], ans, sizeof ans - 1) > 0);
    char wantp[32];
    snprintf(wantp, sizeof wantp, "pid %d\n", pid);
    assert_string_equal(ans, wantp);

    s = row(&root, id);
    assert_string_equal(jpids(s), "");
    assert_int_equal(jnum(s, "nattch"), 0);
    assert_string_equal(jstr(s, "state"), "idle");
    assert_string_equal(jstr(s, "command"), "helper_step"); /* whoever has the pid now */
    assert_int_equal(jbool(s, "alive"), -1);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(go_child[1]);
    close(go_gc[1]);
    close(reply[0]);
    s = row(&root, id);
    assert_string_equal(jstr(s, "state"), "orphaned");
    assert_int_equal(jbool(s, "alive"), 0);
    assert_null(jstr(s, "command"));
    assert_int_equal(jbool(s, "ledger"), 0);
    jfree(&root);
}

/* Count the lines of the last output. */
static int out_lines(void)
{
    int n = 0;
    for (const char *p = res.out; *p; p++)
        n += *p == '\n';
    return n;
}

static void test_filters_and_columns(void **state)
{
    (void)state;
    struct step idle, orphan, pend;
    step_start(&idle, lib_env);
    step_start(&orphan, bare_env);
    step_start(&pend, lib_env);
    int id1 = step_id(step(&idle, "get 0x7b000301 create"));
    int id2 = step_id(step(&orphan, "get 0x7b000302 create size 1536"));
    int id3 = step_id(step(&pend, "get 0x7b000303 create"));
    assert_string_equal(step(&pend, "at %d", id3), "ok");
    struct step look; /* a lookup before the removal defers it */
    step_start(&look, lib_env);
    assert_int_equal(step_id(step(&look, "get 0x7b000303")), id3);
    assert_string_equal(step(&pend, "rmid %d", id3), "ok");
    step_kill(&look);
    step_kill(&orphan);
    step_kill(&pend); /* still pending: nobody completes it */

    char want[512];
    ls_run("-o", "KEY,ID,STATE", "-n", "-r", NULL);
    snprintf(want, sizeof want, "0x7b000301 %d idle\n0x7b000302 %d orphaned\n0x7b000303 %d pending\n", id1,
             id2, id3);
    assert_string_equal(res.out, want);
    assert_string_equal(res.err, "");

    ls_run("-o", "ID", "-n", "-r", "--orphans", NULL);
    snprintf(want, sizeof want, "%d\n", id2);
    assert_string_equal(res.out, want);
    ls_run("-o", "ID", "-n", "-r", "--pending", NULL);
    snprintf(want, sizeof want, "%d\n", id3);
    assert_string_equal(res.out, want);
    ls_run("-o", "ID", "-n", "-r", "--pending", "--orphans", NULL);
    snprintf(want, sizeof want, "%d\n%d\n", id2, id3);
    assert_string_equal(res.out, want);
    ls_run("-o", "ID", "-n", "-r", "--key", "0x7B000301", NULL);
    snprintf(want, sizeof want, "%d\n", id1);
    assert_string_equal(res.out, want);
    ls_run("-o", "ID", "-n", "-r", "--key", "2063598338", NULL); /* 0x7b000302 */
    snprintf(want, sizeof want, "%d\n", id2);
    assert_string_equal(res.out, want);
    char idarg[16];
    snprintf(idarg, sizeof idarg, "%d", id3);
    ls_run("-o", "KEY", "-n", "-r", "--id", idarg, NULL);
    assert_string_equal(res.out, "0x7b000303\n");
    ls_run("-o", "ID", "-n", "-r", "--id", idarg, "--orphans", NULL);
    assert_string_equal(res.out, "");
    ls_run("-o", "ID", "-n", "--user", "root", NULL);
    assert_int_equal(out_lines(), 3);
    ls_run("-o", "ID", "-n", "--user", "0", NULL);
    assert_int_equal(out_lines(), 3);
    ls_run("-o", "ID", "-n", "--user", "54321", NULL);
    assert_string_equal(res.out, "");
    ls_run("-J", "--user", "54321", NULL);
    struct jv root;
    jp = res.out;
    assert_int_equal(jvalue(&root), 0);
    assert_int_equal(jget(&root, "segments")->n, 0);
    jfree(&root);

    /* Sizes: human by default, bytes with -b. */
    ls_run("-o", "SIZE", "-n", "-r", "--id", idarg, NULL);
    assert_string_equal(res.out, "4K\n");
    char id2arg[16];
    snprintf(id2arg, sizeof id2arg, "%d", id2);
    ls_run("-o", "SIZE", "-n", "-r", "--id", id2arg, NULL);
    assert_string_equal(res.out, "1.5K\n");
    ls_run("-o", "SIZE", "-n", "-r", "-b", "--id", id2arg, NULL);
    assert_string_equal(res.out, "1536\n");

    /* Headings, the default columns, +LIST and --output-all. */
    ls_run(NULL);
    assert_true(!strncmp(res.out, "KEY ", 4));
    assert_int_equal(out_lines(), 4);
    const char *defaults[] = { "KEY", "ID", "OWNER", "PERMS", "SIZE", "NATTCH", "STATE", "CPID",
                               "COMMAND", "ALIVE", "AGE", "LEDGER", "ATTACHERS", "SITE" };
    char *nl = strchr(res.out, '\n');
    *nl = '\0';
    char *save = NULL;
    size_t i = 0;
    for (char *t = strtok_r(res.out, " ", &save); t; t = strtok_r(NULL, " ", &save), i++) {
        assert_true(i < sizeof defaults / sizeof defaults[0]);
        assert_string_equal(t, defaults[i]);
    }
    assert_int_equal(i, sizeof defaults / sizeof defaults[0]);
    ls_run("-o", "+EXE", "-r", "--id", idarg, NULL);
    const char *h1 = "KEY ID OWNER PERMS SIZE NATTCH STATE CPID COMMAND ALIVE AGE LEDGER ATTACHERS "
                     "SITE EXE\n";
    assert_true(!strncmp(res.out, h1, strlen(h1)));
    ls_run("--output-all", "-r", "--id", idarg, NULL);
    const char *h2 = "KEY ID OWNER PERMS SIZE NATTCH STATUS STATE CPID COMMAND ALIVE AGE LEDGER "
                     "ATTACHERS APIDS SITE EXE LPID UID GID CUID CGID CUSER ATIME DTIME CTIME RSS "
                     "SWAP LEDGERUID\n";
    assert_true(!strncmp(res.out, h2, strlen(h2)));
    step_end(&idle, "exit");
}

/* Run the tool as another uid (root only), capturing its output. */
static int run_as(uid_t uid, char *const argv[])
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        unsetenv("LD_PRELOAD");
        if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
            setresuid(uid, uid, uid) != 0)
            _exit(99);
        execv(argv[0], argv);
        _exit(98);
    }
    close(po[1]);
    close(pe[1]);
    /* Both outputs are small: read stdout, then stderr. */
    ssize_t n = read(po[0], res.out, sizeof res.out - 1);
    size_t no = n > 0 ? (size_t)n : 0;
    while (n > 0 && (n = read(po[0], res.out + no, sizeof res.out - 1 - no)) > 0)
        no += (size_t)n;
    res.out[no] = '\0';
    n = read(pe[0], res.err, sizeof res.err - 1);
    size_t ne = n > 0 ? (size_t)n : 0;
    while (n > 0 && (n = read(pe[0], res.err + ne, sizeof res.err - 1 - ne)) > 0)
        ne += (size_t)n;
    res.err[ne] = '\0';
    close(po[0]);
    close(pe[0]);
    int st;
    waitpid(pid, &st, 0);
    return st;
}

/* A user without privilege sees every segment, and is told what it could
 * not see: root's maps (attachers) and an unreadable ledger. */
static void test_partial_view_is_said(void **state)
{
    (void)state;
    if (!can_switch_uid()) {
        skip();
        return;
    }
    struct step a;
    step_start(&a, lib_env);
    int id = step_id(step(&a, "get 0x7b000401 create"));
    assert_string_equal(step(&a, "at %d", id), "ok");
    /* Make root's ledger unreadable to others. */
    char name[128], path[PATH_MAX + 200];
    sg_ledger_name(name, sizeof name, sg_ipcns_ino(), 0, 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(chmod(path, 0600), 0);

    char dirarg[PATH_MAX + 16];
    snprintf(dirarg, sizeof dirarg, "--dir=%s", dir);
    char *argv[] = { (char *)SGT_TOOL, "ls", dirarg, "-o", "ID,NATTCH,ATTACHERS,LEDGER", "-n", "-r", NULL };
    int st = run_as(65534, argv);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 99) {
        chmod(path, 0644);
        step_end(&a, "exit");
        skip();
        return;
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char want[64];
    snprintf(want, sizeof want, "%d 1  no\n", id);
    assert_string_equal(res.out, want);
    if (!strstr(res.err, "shmguard: ls: note: a ledger could not be read (cannot open ") ||
        !strstr(res.err, "shmguard: ls: note: the attachers of 1 segment are incomplete: the memory "
                         "maps of "))
        fail_msg("notes missing from stderr: '%s'", res.err);
    /* Root sees it all, without notes. */
    ls_run("-o", "ID,NATTCH,LEDGER", "-n", "-r", NULL);
    snprintf(want, sizeof want, "%d 1 yes\n", id);
    assert_string_equal(res.out, want);
    assert_string_equal(res.err, "");
    chmod(path, 0644);
    step_end(&a, "exit");
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, after_each)
    const struct CMUnitTest tests[] = {
        T(test_json_agrees_with_kernel),
        T(test_fork_exec_kill_with_library),
        T(test_fork_exec_kill_without_library),
        T(test_filters_and_columns),
        T(test_partial_view_is_said),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
