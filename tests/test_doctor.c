/*
 * test_doctor.c - `shmguard doctor`, run as a real command against real
 * processes in this private IPC namespace, with its limits lowered
 * (kernel.shmmni, kernel.shmall, kernel.shmmax are per IPC namespace).
 *
 * Segments are made by helper_step processes, under the library (so the
 * ledger knows their creators) or bare; orphans are made by SIGKILLing
 * their creators.  Every number doctor prints is checked against what the
 * test created, in the text and in the --json output (parsed here by a
 * small strict JSON reader), and every "this fails next" claim is checked
 * by making exactly that call.  Also: a live idle holder is never an
 * orphan; a dead creator whose pid now names another process is still
 * dead; bad usage; the time doctor takes with 4,096 segments.
 *
 * scripts/run-tests.sh runs us in a private IPC namespace (unshare --ipc
 * as root, unshare -r --ipc otherwise), where root may lower the limits.
 * If they are not writable here, main() re-runs the test under
 * `unshare -r --ipc` (root in a user namespace of our own); if they are
 * still not writable, the cases that need them are skipped with a
 * message.  The test refuses to run in the IPC namespace of pid 1: it
 * removes every segment of its namespace between cases.
 */
#include "step.h"
#include "sg_ledger_dir.h"

#include <sys/resource.h>

#include "sg_analysis.h"
#include "sg_proc.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static char dir[PATH_MAX];
static char env_ledger[PATH_MAX + 32], env_preload[PATH_MAX + 32];
static char *lib_env[] = { env_preload, env_ledger, "SHMGUARD_LOG=/dev/null", "SHMGUARD_DEBUG=",
                           "SHMGUARD_MODE=", NULL };
static char *bare_env[] = { "LD_PRELOAD=", NULL };
static int limits_writable;
static unsigned long long orig_mni, orig_all, orig_max;

/* ---- a small strict JSON reader ------------------------------------------ */

struct jv {
    char type;              /* 'o' object, 'a' array, 's' string, 'n' number, 't', 'f', 'z' null */
    char *text;             /* string value, or a number's literal text */
    char **keys;            /* objects */
    struct jv **kids;
    size_t n;
};

struct jp {
    const char *p;
    int bad;
};

static void jws(struct jp *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')
        j->p++;
}

static char *jstring(struct jp *j)
{
    if (*j->p != '"') {
        j->bad = 1;
        return NULL;
    }
    j->p++;
    size_t cap = 64, n = 0;
    char *s = malloc(cap);
    while (*j->p && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20) {
            j->bad = 1;
            break;
        }
        if (c == '\\') {
            char e = *j->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v;
                if (sscanf(j->p, "%4x", &v) != 1) {
                    j->bad = 1;
                    v = '?';
                }
                j->p += 4;
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default: j->bad = 1;
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    s[n] = '\0';
    if (*j->p != '"')
        j->bad = 1;
    else
        j->p++;
    return s;
}

static struct jv *jvalue(struct jp *j, int depth)
{
    struct jv *v = calloc(1, sizeof *v);
    jws(j);
    if (depth > 32) {
        j->bad = 1;
        return v;
    }
    char c = *j->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? 'o' : 'a';
        j->p++;
        jws(j);
        char close = c == '{' ? '}' : ']';
        if (*j->p == close) {
            j->p++;
            return v;
        }
        for (;;) {
            v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
            v->kids = realloc(v->kids, (v->n + 1) * sizeof *v->kids);
            v->keys[v->n] = NULL;
            if (v->type == 'o') {
                jws(j);
                v->keys[v->n] = jstring(j);
                jws(j);
                if (*j->p != ':')
                    j->bad = 1;
                else
                    j->p++;
            }
            v->kids[v->n++] = jvalue(j, depth + 1);
            jws(j);
            if (j->bad)
                return v;
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == close) {
                j->p++;
                return v;
            }
            j->bad = 1;
            return v;
        }
    }
    if (c == '"') {
        v->type = 's';
        v->text = jstring(j);
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = j->p;
        if (*j->p == '-')
            j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            j->bad = 1;
        if (*j->p == '0' && j->p[1] >= '0' && j->p[1] <= '9')
            j->bad = 1; /* no leading zeros */
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
        if (*j->p == '.') {
            j->p++;
            if (!(*j->p >= '0' && *j->p <= '9'))
                j->bad = 1;
            while (*j->p >= '0' && *j->p <= '9')
                j->p++;
        }
        if (*j->p == 'e' || *j->p == 'E') {
            j->p++;
            if (*j->p == '+' || *j->p == '-')
                j->p++;
            while (*j->p >= '0' && *j->p <= '9')
                j->p++;
        }
        v->type = 'n';
        v->text = strndup(s, (size_t)(j->p - s));
        return v;
    }
    static const struct { const char *w; char t; } lit[] = { { "true", 't' }, { "false", 'f' }, { "null", 'z' } };
    for (size_t i = 0; i < 3; i++)
        if (!strncmp(j->p, lit[i].w, strlen(lit[i].w))) {
            j->p += strlen(lit[i].w);
            v->type = lit[i].t;
            return v;
        }
    j->bad = 1;
    return v;
}

static void jfree(struct jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        free(v->keys[i]);
        jfree(v->kids[i]);
    }
    free(v->keys);
    free(v->kids);
    free(v->text);
    free(v);
}

/* Parse a whole document; NULL (and a message) if it is not valid JSON. */
static struct jv *jparse(const char *text)
{
    struct jp j = { text, 0 };
    struct jv *v = jvalue(&j, 0);
    jws(&j);
    if (j.bad || *j.p) {
        fprintf(stderr, "invalid JSON near offset %td: %.60s\n", j.p - text, j.p);
        jfree(v);
        return NULL;
    }
    return v;
}

/* The value at a path like "limits.shmmni.used" or "orphans.0.bytes". */
static const struct jv *jget(const struct jv *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save)) {
        const struct jv *next = NULL;
        if (v->type == 'o') {
            for (size_t i = 0; i < v->n && !next; i++)
                if (!strcmp(v->keys[i], part))
                    next = v->kids[i];
        } else if (v->type == 'a') {
            char *end;
            unsigned long k = strtoul(part, &end, 10);
            if (!*end && k < v->n)
                next = v->kids[k];
        }
        v = next;
    }
    if (!v)
        fprintf(stderr, "JSON: no %s\n", path);
    return v;
}

static unsigned long long jnum(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);
    assert_non_null(v);
    assert_int_equal(v->type, 'n');
    return strtoull(v->text, NULL, 10);
}

static const char *jstr(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);
    assert_non_null(v);
    if (v->type == 'z')
        return NULL;
    assert_int_equal(v->type, 's');
    return v->text;
}

static size_t jlen(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);
    assert_non_null(v);
    assert_int_equal(v->type, 'a');
    return v->n;
}

/* ---- running doctor ------------------------------------------------------ */

static struct sgt_result res;
static char text_out[sizeof res.out];


/* Run `shmguard doctor --dir DIR [extra]`; returns the exit status. */
static int run_doctor(const char *extra, const char *ledger_dir)
{
    char *argv[6];
    int k = 0;
    argv[k++] = (char *)SGT_TOOL;
    argv[k++] = "doctor";
    argv[k++] = "--dir";
    argv[k++] = (char *)ledger_dir;
    if (extra)
        argv[k++] = (char *)extra;
    argv[k] = NULL;
    sgt_run(&res, argv, bare_env, 60);
    assert_true(res.status != -1 && WIFEXITED(res.status));
    return WEXITSTATUS(res.status);
}

/* The Prometheus text format, as node exporter's parser takes it: every
 * line a HELP, a TYPE (gauge or counter, once per family, before its
 * samples) or a sample "name[{labels}] value" of a family with both. */
static void prom_check_format(const char *out)
{
    char types[64][80], helps[64][80];
    size_t nt = 0, nh = 0;
    const char *p = out;
    assert_true(*out);
    while (*p) {
        const char *end = strchr(p, '\n');
        assert_non_null(end); /* every line ends with a newline */
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(end - p), p);
        p = end + 1;
        char name[80], kind[32];
        if (!strncmp(line, "# HELP ", 7)) {
            assert_int_equal(sscanf(line + 7, "%79s", name), 1);
            assert_true(strlen(line) > 8 + strlen(name)); /* a text follows */
            assert_true(nh < 64);
            snprintf(helps[nh++], sizeof helps[0], "%s", name);
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            assert_int_equal(sscanf(line + 7, "%79s %31s", name, kind), 2);
            assert_true(!strcmp(kind, "gauge") || !strcmp(kind, "counter"));
            for (size_t i = 0; i < nt; i++)
                if (!strcmp(types[i], name))
                    fail_msg("TYPE of %s twice", name);
            assert_true(nt < 64);
            snprintf(types[nt++], sizeof types[0], "%s", name);
            continue;
        }
        assert_true(line[0] != '#' && line[0] != '\0');
        size_t n = strcspn(line, "{ ");
        snprintf(name, sizeof name, "%.*s", (int)n, line);
        int typed = 0, helped = 0;
        for (size_t i = 0; i < nt; i++)
            typed |= !strcmp(types[i], name);
        for (size_t i = 0; i < nh; i++)
            helped |= !strcmp(helps[i], name);
        if (!typed || !helped)
            fail_msg("sample before its HELP and TYPE: %s", line);
        const char *val = strrchr(line, ' ');
        char *rest;
        assert_non_null(val);
        strtod(val + 1, &rest);
        if (*rest || rest == val + 1)
            fail_msg("not a number: %s", line);
    }
}

/* `doctor --prometheus` (exit 0 whatever the verdict), checked for its
 * format; the output is left in res.out. */
static void doctor_prom(void)
{
    int rc = run_doctor("--prometheus", dir);
    if (rc != 0)
        fail_msg("doctor --prometheus exited %d: %s", rc, res.err);
    assert_string_equal(res.err, "");
    prom_check_format(res.out);
}

/* Text, then JSON: both must give the same exit status; the text is kept
 * in text_out, the parsed JSON is returned. */
static struct jv *doctor_both(int want_exit)
{
    int rc = run_doctor(NULL, dir);
    if (rc != want_exit)
        fail_msg("doctor exited %d, expected %d; stdout:\n%s\nstderr:\n%s", rc, want_exit, res.out,
                 res.err);
    assert_string_equal(res.err, "");
    snprintf(text_out, sizeof text_out, "%s", res.out);
    rc = run_doctor("--json", dir);
    assert_int_equal(rc, want_exit);
    assert_string_equal(res.err, "");
    struct jv *j = jparse(res.out);
    if (!j)
        fail_msg("doctor --json is not valid JSON:\n%s", res.out);
    assert_int_equal(jnum(j, "exit_status"), (unsigned long long)want_exit);
    /* The verdict line of the text is the JSON summary. */
    char first[1024];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(text_out, "\n"), text_out);
    assert_string_equal(first, jstr(j, "summary"));
    return j;
}

static const char *verdict_line(void)
{
    static char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(text_out, "\n"), text_out);
    return line;
}

/* ---- limits -------------------------------------------------------------- */

static unsigned long long read_limit(const char *name)
{
    char path[128];
    unsigned long long v = 0;
    snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static int write_limit(const char *name, unsigned long long v)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%llu\n", v);
    return fclose(f) == 0 ? 0 : -1;
}

static void set_limit(const char *name, unsigned long long v)
{
    if (write_limit(name, v) != 0)
        fail_msg("cannot set kernel.%s to %llu: %s", name, v, strerror(errno));
    assert_int_equal(read_limit(name), v);
}

#define NEED_LIMITS()                                                                            \
    do {                                                                                         \
        if (!limits_writable) {                                                                  \
            fprintf(stderr, "skipped: the IPC limits of this namespace are not writable\n");     \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

/* ---- fixtures ------------------------------------------------------------ */

static int setup_group(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    snprintf(env_ledger, sizeof env_ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", SGT_LIB);
    orig_mni = read_limit("shmmni");
    orig_all = read_limit("shmall");
    orig_max = read_limit("shmmax");
    sgt_clear_ipc();
    return 0;
}

static int after_each(void **state)
{
    (void)state;
    sgt_clear_ipc();
    if (limits_writable) {
        write_limit("shmmni", orig_mni);
        write_limit("shmall", orig_all);
        write_limit("shmmax", orig_max);
    }
    return 0;
}

static int teardown_group(void **state)
{
    after_each(state);
    sgt_rmdir(dir);
    return 0;
}

/* Create a segment from helper s; returns its id. */
static int make(struct step *s, const char *key, unsigned long size)
{
    const char *a = step(s, "get %s create size %lu", key, size);
    int id = step_id(a);
    if (id < 0)
        fail_msg("creating %s of %lu bytes: %s", key, size, a);
    return id;
}

static unsigned long long pages_of(unsigned long long bytes)
{
    long ps = sysconf(_SC_PAGESIZE);
    return (bytes + (unsigned long long)ps - 1) / (unsigned long long)ps;
}

static const char *human(unsigned long long bytes)
{
    static char b[4][32];
    static int k;
    char *o = b[k++ % 4];
    sg_fmt_bytes(o, 32, bytes);
    return o;
}

/* ---- cases --------------------------------------------------------------- */

/* A namespace in ordinary use: one segment attached, one idle with a live
 * creator; default limits. */
static void test_healthy(void **state)
{
    (void)state;
    struct step a;
    step_start(&a, lib_env);
    int id1 = make(&a, "0x0d0c0001", 10000);
    assert_string_equal(step(&a, "at %d", id1), "ok");
    make(&a, "0", 4096);
    struct jv *j = doctor_both(0);
    ASSERT_HAS(verdict_line(), "HEALTHY: 2 segments");
    ASSERT_HAS(text_out, "1 in use, 1 idle");
    ASSERT_LACKS(text_out, "shmguard gc");
    ASSERT_LACKS(text_out, "sysctl");
    assert_string_equal(jstr(j, "verdict"), "healthy");
    assert_int_equal(jnum(j, "segments.total.count"), 2);
    assert_int_equal(jnum(j, "segments.total.bytes"), 14096);
    assert_int_equal(jnum(j, "segments.total.pages"), pages_of(10000) + 1);
    assert_int_equal(jnum(j, "segments.in_use.count"), 1);
    assert_int_equal(jnum(j, "segments.idle.count"), 1);
    assert_int_equal(jnum(j, "segments.orphaned.count"), 0);
    assert_int_equal(jlen(j, "orphans"), 0);
    assert_int_equal(jlen(j, "actions"), 0);
    assert_string_equal(jstr(j, "limits.shmmni.status"), "ok");
    assert_string_equal(jstr(j, "limits.shmall.status"), "ok");
    assert_int_equal(jnum(j, "limits.shmmni.used"), 2);
    assert_int_equal(jnum(j, "limits.shmmni.limit"), read_limit("shmmni"));
    assert_int_equal(jnum(j, "limits.shmmax.largest_segment_bytes"), 10000);
    assert_int_equal(jnum(j, "limits.shmmax.largest_segment_id"), (unsigned long long)id1);
    assert_string_equal(jstr(j, "holders.0.comm"), "helper_step");
    assert_int_equal(jnum(j, "holders.0.count"), 2);
    assert_int_equal(jnum(j, "ledgers.read"), 1);
    /* Where the ledgers live, and that it is sound (tmpfs). */
    assert_string_equal(jstr(j, "ledgers.fs"), "tmpfs");
    ASSERT_HAS(res.out, "\"in_memory\": true");
    ASSERT_HAS(text_out, ", on tmpfs: sound");
    jfree(j);

    /* A directory on a disk file system is named as one the library does
     * not use, with the fix (skipped where /var/tmp is in memory). */
    char disk[] = "/var/tmp/sgtest-disk.XXXXXX", fs[32];
    assert_non_null(mkdtemp(disk));
    if (sg_ledger_dir_in_memory(disk, fs, sizeof fs) == 0) {
        run_doctor(NULL, disk);
        ASSERT_HAS(res.out, "NOT USED by the library");
        ASSERT_HAS(res.out, "set SHMGUARD_LEDGER to a directory on tmpfs");
        run_doctor("--json", disk);
        ASSERT_HAS(res.out, "\"in_memory\": false");
    }
    assert_int_equal(rmdir(disk), 0);

    /* A ledger directory without this namespace's ledger: creators are
     * then known only from /proc, and doctor says so. */
    char empty[PATH_MAX];
    snprintf(empty, sizeof empty, "%s", sgt_ledger_dir());
    assert_int_equal(run_doctor(NULL, empty), 0);
    ASSERT_HAS(res.out, "no shmguard ledger for this IPC namespace");
    sgt_rmdir(empty);
    step_end(&a, "exit");
}

/* kernel.shmmni used up by live processes: exit 3, the limit named with
 * its numbers, and the next create really fails with ENOSPC. */
static void test_shmmni_exhausted(void **state)
{
    (void)state;
    NEED_LIMITS();
    set_limit("shmmni", 8);
    struct step a;
    step_start(&a, lib_env);
    for (int i = 0; i < 8; i++)
        make(&a, "0", 4096);
    struct jv *j = doctor_both(3);
    ASSERT_HAS(verdict_line(), "EXHAUSTED: kernel.shmmni 8/8 segments (100.0%)");
    ASSERT_HAS(verdict_line(), "ENOSPC");
    ASSERT_HAS(text_out, "the next shmget that creates a segment fails with ENOSPC: kernel.shmmni is "
                         "exhausted (8/8 segments)");
    ASSERT_HAS(text_out, "sysctl -w kernel.shmmni=16");
    ASSERT_LACKS(text_out, "gc --dry-run"); /* nothing is orphaned */
    assert_string_equal(jstr(j, "verdict"), "exhausted");
    assert_string_equal(jstr(j, "limits.shmmni.status"), "exhausted");
    assert_int_equal(jnum(j, "limits.shmmni.used"), 8);
    assert_int_equal(jnum(j, "limits.shmmni.limit"), 8);
    assert_int_equal(jnum(j, "limits.shmmni.left"), 0);
    assert_string_equal(jstr(j, "limits.shmall.status"), "ok");
    assert_int_equal(jnum(j, "new_segment.max_bytes"), 0);
    assert_string_equal(jstr(j, "new_segment.limited_by"), "kernel.shmmni");
    assert_string_equal(jstr(j, "fails_next.0.limit"), "kernel.shmmni");
    assert_string_equal(jstr(j, "fails_next.0.errno"), "ENOSPC");
    assert_string_equal(jstr(j, "actions.0.command"), "sysctl -w kernel.shmmni=16");
    jfree(j);
    assert_string_equal(step(&a, "get 0 create size 1"), "err 28");
    /* The failure the library saw, and the limit, as metrics. */
    doctor_prom();
    ASSERT_HAS(res.out, "\nshmguard_ipc_used_ratio{limit=\"shmmni\"} 1.000000\n");
    ASSERT_HAS(res.out, "\nshmguard_limit_failures 1\n");
    ASSERT_HAS(res.out, "\nshmguard_limit_failure_last_timestamp_seconds{limit=\"shmmni\"} ");
    ASSERT_HAS(res.out, "\nshmguard_doctor_status 3\n");
    step_end(&a, "exit");
}

/* kernel.shmall used up while ids are free: exit 3, pages and bytes, and
 * shmmni is not blamed. */
static void test_shmall_exhausted(void **state)
{
    (void)state;
    NEED_LIMITS();
    long ps = sysconf(_SC_PAGESIZE);
    set_limit("shmall", 12);
    struct step a;
    step_start(&a, lib_env);
    for (int i = 0; i < 3; i++)
        make(&a, "0", 4 * (unsigned long)ps);
    struct jv *j = doctor_both(3);
    char want[128];
    snprintf(want, sizeof want, "EXHAUSTED: kernel.shmall 12/12 pages, %s of %s (100.0%%)",
             human(12ull * (unsigned long long)ps), human(12ull * (unsigned long long)ps));
    ASSERT_HAS(verdict_line(), want);
    ASSERT_LACKS(verdict_line(), "shmmni");
    ASSERT_LACKS(text_out, "kernel.shmmni is exhausted");
    ASSERT_HAS(text_out, "every shmget that creates a segment fails with ENOSPC: kernel.shmall is "
                         "exhausted (12/12 pages");
    ASSERT_HAS(text_out, "sysctl -w kernel.shmall=24");
    assert_string_equal(jstr(j, "limits.shmall.status"), "exhausted");
    assert_string_equal(jstr(j, "limits.shmmni.status"), "ok");
    assert_int_equal(jnum(j, "limits.shmall.used_pages"), 12);
    assert_int_equal(jnum(j, "limits.shmall.limit_pages"), 12);
    assert_int_equal(jnum(j, "limits.shmall.left_pages"), 0);
    assert_int_equal(jnum(j, "limits.shmall.used_bytes"), 12ull * (unsigned long long)ps);
    assert_int_equal(jnum(j, "limits.shmall.limit_bytes"), 12ull * (unsigned long long)ps);
    assert_int_equal(jnum(j, "limits.shmmni.used"), 3);
    assert_int_equal(jnum(j, "new_segment.max_bytes"), 0);
    assert_string_equal(jstr(j, "new_segment.limited_by"), "kernel.shmall");
    assert_int_equal(jlen(j, "fails_next"), 1);
    assert_string_equal(jstr(j, "fails_next.0.limit"), "kernel.shmall");
    jfree(j);
    assert_string_equal(step(&a, "get 0 create size 1"), "err 28");
    step_end(&a, "exit");
}

/* Both limits at 90%, neither exhausted: exit 3 "nearly"; then the one
 * page left is really the last. */
static void test_both_near(void **state)
{
    (void)state;
    NEED_LIMITS();
    long ps = sysconf(_SC_PAGESIZE);
    set_limit("shmmni", 10);
    set_limit("shmall", 10);
    struct step a;
    step_start(&a, lib_env);
    for (int i = 0; i < 9; i++)
        make(&a, "0", 100);
    struct jv *j = doctor_both(3);
    ASSERT_HAS(verdict_line(), "NEARLY EXHAUSTED: kernel.shmmni 9/10 segments (90.0%) and "
                               "kernel.shmall 9/10 pages");
    char want[160];
    snprintf(want, sizeof want, "a new segment larger than %s fails with ENOSPC (kernel.shmall has 1 "
                                "page left)", human((unsigned long long)ps));
    ASSERT_HAS(text_out, want);
    ASSERT_HAS(text_out, "after 1 more segment, the next shmget that creates one fails with ENOSPC");
    ASSERT_HAS(text_out, "sysctl -w kernel.shmmni=20");
    ASSERT_HAS(text_out, "sysctl -w kernel.shmall=20");
    assert_string_equal(jstr(j, "verdict"), "nearly-exhausted");
    assert_string_equal(jstr(j, "limits.shmmni.status"), "near");
    assert_string_equal(jstr(j, "limits.shmall.status"), "near");
    assert_int_equal(jnum(j, "new_segment.max_bytes"), (unsigned long long)ps);
    jfree(j);
    /* What doctor said: one page more fails, one page fits. */
    assert_string_equal(step(&a, "get 0 create size %ld", ps + 1), "err 28");
    make(&a, "0", (unsigned long)ps);
    j = doctor_both(3);
    assert_string_equal(jstr(j, "verdict"), "exhausted");
    jfree(j);
    step_end(&a, "exit");
}

/* Healthy but with small limits: the sizes doctor names as the first to
 * fail are exactly those that fail, with the errno it names. */
static void test_fails_next_is_true(void **state)
{
    (void)state;
    NEED_LIMITS();
    long ps = sysconf(_SC_PAGESIZE);
    unsigned long long shmmax = 64ull * (unsigned long long)ps;
    set_limit("shmall", 100);
    set_limit("shmmax", shmmax);
    struct step a;
    step_start(&a, lib_env);
    make(&a, "0", 10 * (unsigned long)ps);
    struct jv *j = doctor_both(0);
    char want[160];
    snprintf(want, sizeof want, "a segment larger than kernel.shmmax (%s) fails with EINVAL",
             human(shmmax));
    ASSERT_HAS(text_out, want);
    assert_int_equal(jnum(j, "new_segment.max_bytes"), shmmax);
    assert_string_equal(jstr(j, "new_segment.limited_by"), "kernel.shmmax");
    assert_int_equal(jnum(j, "limits.shmall.left_pages"), 90);
    jfree(j);
    assert_string_equal(step(&a, "get 0 create size %llu", shmmax + 1), "err 22");
    make(&a, "0", (unsigned long)shmmax);
    /* 26 pages left now: shmall binds before shmmax. */
    j = doctor_both(0);
    snprintf(want, sizeof want, "a new segment larger than %s fails with ENOSPC (kernel.shmall has 26 "
                                "pages left)", human(26ull * (unsigned long long)ps));
    ASSERT_HAS(text_out, want);
    assert_int_equal(jnum(j, "new_segment.max_bytes"), 26ull * (unsigned long long)ps);
    assert_string_equal(jstr(j, "new_segment.limited_by"), "kernel.shmall");
    assert_int_equal(jnum(j, "fails_next.0.larger_than_bytes"), 26ull * (unsigned long long)ps);
    jfree(j);
    assert_string_equal(step(&a, "get 0 create size %llu", 26ull * (unsigned long long)ps + 1), "err 28");
    make(&a, "0", 26 * (unsigned long)ps);
    step_end(&a, "exit");
}

/* Orphans of every kind, next to live idle segments and a removal that
 * is due: exit 2, exact counts and sizes. */
static void test_orphans(void **state)
{
    (void)state;
    struct step a, b, c, d, e;
    step_start(&a, lib_env);   /* library, then SIGKILL: orphans by (pid, start) */
    step_start(&b, bare_env);  /* bare, then SIGKILL: orphan by "no such pid" */
    step_start(&c, lib_env);   /* library, alive, not attached: idle */
    step_start(&d, bare_env);  /* bare, alive, not attached: idle */
    step_start(&e, lib_env);   /* library: attach, IPC_RMID (pending: f is attached
                                * too), SIGKILL of both: due */
    struct step f;
    step_start(&f, lib_env);
    int a1 = make(&a, "0", 10000);
    int a2 = make(&a, "0x0d0c0101", 12288);
    int b1 = make(&b, "0x0d0c0102", 5000);
    int c1 = make(&c, "0", 8192);
    int d1 = make(&d, "0x0d0c0103", 6000);
    int e1 = make(&e, "0x0d0c0104", 7000);
    assert_string_equal(step(&e, "at %d", e1), "ok");
    assert_int_equal(step_id(step(&f, "get 0x0d0c0104")), e1);
    assert_string_equal(step(&f, "at %d", e1), "ok");
    assert_string_equal(step(&e, "rmid %d", e1), "ok");
    assert_true(sgt_shm_exists(e1)); /* deferred: f is attached */
    int b_pid = b.pid;
    step_kill(&a);
    step_kill(&b);
    step_kill(&e);
    step_kill(&f);
    assert_true(sgt_shm_exists(e1)); /* nobody carried the removal out */

    struct jv *j = doctor_both(2);
    unsigned long long orph_bytes = 10000 + 12288 + 5000;
    unsigned long long orph_pages = pages_of(10000) + pages_of(12288) + pages_of(5000);
    char want[256];
    snprintf(want, sizeof want, "ORPHANS: 3 orphaned segments hold %s, 1 pending removal is due; "
                                "every limit below 90%%", human(orph_bytes));
    assert_string_equal(verdict_line(), want);
    snprintf(want, sizeof want, "orphaned         3 segments, %s (%llu pages): creator dead, nobody "
                                "attached", human(orph_bytes), orph_pages);
    ASSERT_HAS(text_out, want);
    snprintf(want, sizeof want, "removals due     1, %s", human(7000));
    ASSERT_HAS(text_out, want);
    ASSERT_HAS(text_out, "2 idle, 3 orphaned, 1 pending removal");
    ASSERT_HAS(text_out, "(created without shmguard)");
    ASSERT_HAS(text_out, "shmguard gc --dry-run --dir ");
    ASSERT_HAS(text_out, "removes the 4 orphans and due removals");
    ASSERT_LACKS(text_out, "sysctl");

    assert_string_equal(jstr(j, "verdict"), "orphans");
    assert_int_equal(jnum(j, "segments.total.count"), 6);
    assert_int_equal(jnum(j, "segments.orphaned.count"), 3);
    assert_int_equal(jnum(j, "segments.orphaned.bytes"), orph_bytes);
    assert_int_equal(jnum(j, "segments.orphaned.pages"), orph_pages);
    assert_int_equal(jnum(j, "segments.idle.count"), 2);
    assert_int_equal(jnum(j, "segments.idle.bytes"), 8192 + 6000);
    assert_int_equal(jnum(j, "segments.pending.count"), 1);
    assert_int_equal(jnum(j, "segments.pending_due.count"), 1);
    assert_int_equal(jnum(j, "segments.pending_due.bytes"), 7000);
    assert_int_equal(jlen(j, "orphans"), 3);
    /* Orphans come sorted by id: a1, a2, b1. */
    assert_int_equal(jnum(j, "orphans.0.id"), (unsigned long long)a1);
    assert_int_equal(jnum(j, "orphans.0.bytes"), 10000);
    assert_string_equal(jstr(j, "orphans.0.why"), "creator-dead");
    assert_string_equal(jstr(j, "orphans.0.comm"), "helper_step");
    assert_int_equal(jnum(j, "orphans.1.id"), (unsigned long long)a2);
    assert_string_equal(jstr(j, "orphans.1.key"), "0x0d0c0101");
    assert_int_equal(jnum(j, "orphans.2.id"), (unsigned long long)b1);
    assert_int_equal(jnum(j, "orphans.2.bytes"), 5000);
    assert_string_equal(jstr(j, "orphans.2.why"), "no-such-pid");
    assert_null(jstr(j, "orphans.2.comm"));
    assert_int_equal(jnum(j, "orphans.2.creator_pid"), (unsigned long long)b_pid);
    assert_int_equal(jget(j, "orphans.2.recorded")->type, 'f');
    assert_int_equal(jlen(j, "pending_due"), 1);
    assert_int_equal(jnum(j, "pending_due.0.id"), (unsigned long long)e1);
    /* Holders: the library's creators, then the bare, unknown one (its
     * command is gone with it); d's command is read from /proc. */
    assert_string_equal(jstr(j, "holders.0.comm"), "helper_step");
    assert_int_equal(jnum(j, "holders.0.count"), 5);
    assert_int_equal(jnum(j, "holders.0.bytes"), 10000 + 12288 + 8192 + 6000 + 7000);
    assert_null(jstr(j, "holders.1.comm"));
    assert_int_equal(jnum(j, "holders.1.bytes"), 5000);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "shmguard gc --dry-run --dir %s", dir);
    assert_string_equal(jstr(j, "actions.0.command"), cmd);
    jfree(j);

    /* The same scene as metrics, on stdout and through --output. */
    doctor_prom();
    ASSERT_HAS(res.out, "\nshmguard_shm_segments{state=\"orphaned\"} 3\n");
    ASSERT_HAS(res.out, "\nshmguard_shm_segments{state=\"idle\"} 2\n");
    ASSERT_HAS(res.out, "\nshmguard_shm_segments{state=\"pending\"} 1\n");
    snprintf(want, sizeof want, "\nshmguard_shm_segment_bytes{state=\"orphaned\"} %llu\n",
             orph_bytes);
    ASSERT_HAS(res.out, want);
    ASSERT_HAS(res.out, "\nshmguard_shm_pending_removals_due 1\n");
    ASSERT_HAS(res.out, "\nshmguard_doctor_status 2\n");
    ASSERT_HAS(res.out, "\nshmguard_ipc_used{limit=\"shmmni\"} 6\n");
    static char first[sizeof res.out];
    snprintf(first, sizeof first, "%s", res.out);
    char out[PATH_MAX + 32], arg[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/metrics.prom", dir);
    snprintf(arg, sizeof arg, "--output=%s", out);
    assert_int_equal(run_doctor(arg, dir), 0);
    assert_string_equal(res.out, "");
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    static char file[sizeof res.out];
    size_t got = fread(file, 1, sizeof file - 1, fp);
    file[got] = '\0';
    fclose(fp);
    assert_string_equal(file, first);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* Nothing else beside it: the temporary file was renamed. */
    char ls[PATH_MAX + 64];
    snprintf(ls, sizeof ls, "ls -A '%s' | grep -c '^\\.metrics'", dir);
    FILE *pf = popen(ls, "r");
    int n = -1;
    assert_int_equal(fscanf(pf, "%d", &n), 1);
    pclose(pf);
    assert_int_equal(n, 0);
    unlink(out);
    (void)c1;
    (void)d1;
    step_end(&c, "exit");
    step_end(&d, "exit");
}

/* A live creator whose segment nobody attaches, for as long as it lives,
 * is idle, never orphaned: with and without the library. */
static void test_live_idle_is_not_orphan(void **state)
{
    (void)state;
    struct step a, b;
    step_start(&a, lib_env);
    step_start(&b, bare_env);
    int id = make(&a, "0x0d0c0201", 4096);
    assert_string_equal(step(&a, "at %d", id), "ok");
    assert_string_equal(step(&a, "dt %d", id), "ok"); /* attached once, now nobody */
    make(&b, "0", 4096);
    struct jv *j = doctor_both(0);
    assert_int_equal(jnum(j, "segments.idle.count"), 2);
    assert_int_equal(jnum(j, "segments.orphaned.count"), 0);
    assert_int_equal(jlen(j, "orphans"), 0);
    jfree(j);
    step_end(&a, "exit");
    step_end(&b, "exit");
}

/* A pending removal is due only when nobody is attached and no carrier is
 * between its lookup and its attach: while B is attached, then while C
 * has looked the key up, it waits (healthy); once C is gone, it is due. */
static void test_pending_due_only_when_nothing_holds_it(void **state)
{
    (void)state;
    struct step a, b, c;
    step_start(&a, lib_env);
    step_start(&b, lib_env);
    step_start(&c, lib_env);
    int id = make(&a, "0x0d0c0401", 20000);
    assert_string_equal(step(&a, "at %d", id), "ok");
    assert_int_equal(step_id(step(&b, "get 0x0d0c0401")), id);
    assert_string_equal(step(&b, "at %d", id), "ok");
    assert_string_equal(step(&a, "rmid %d", id), "ok"); /* deferred: B is attached */
    struct jv *j = doctor_both(0);
    assert_int_equal(jnum(j, "segments.pending.count"), 1);
    assert_int_equal(jnum(j, "segments.pending_due.count"), 0);
    ASSERT_HAS(text_out, "removals waiting 1");
    jfree(j);
    assert_int_equal(step_id(step(&c, "get 0x0d0c0401")), id); /* C is about to attach */
    assert_string_equal(step(&b, "dt %d", id), "ok");
    step_end(&b, "exit");
    assert_string_equal(step(&a, "dt %d", id), "ok");
    assert_true(sgt_shm_exists(id)); /* C's lookup holds the removal back */
    j = doctor_both(0);
    assert_int_equal(jnum(j, "segments.pending.count"), 1);
    assert_int_equal(jnum(j, "segments.pending_due.count"), 0);
    jfree(j);
    step_kill(&c);
    assert_true(sgt_shm_exists(id));
    j = doctor_both(2);
    assert_int_equal(jnum(j, "segments.pending_due.count"), 1);
    assert_int_equal(jnum(j, "segments.pending_due.bytes"), 20000);
    assert_int_equal(jnum(j, "pending_due.0.id"), (unsigned long long)id);
    assert_int_equal(jnum(j, "segments.orphaned.count"), 0); /* A, its creator, lives */
    ASSERT_HAS(verdict_line(), "ORPHANS: 1 pending removal is due");
    ASSERT_HAS(text_out, "removes the 1 due removal");
    jfree(j);
    step_end(&a, "exit"); /* a carrier's exit carries the removal out */
    assert_false(sgt_shm_exists(id));
}

/* The creator died and its pid now names another, live process: the
 * ledger's start time tells them apart.  Forge the record's creator pid
 * to a live process's, first with the live one's own start time (then
 * the creator does look alive: the record is what doctor reads), then
 * with a wrong one (the pid-reuse case: dead). */
static void test_pid_reuse_is_not_life(void **state)
{
    (void)state;
    struct step a, other;
    step_start(&a, lib_env);
    int id = make(&a, "0x0d0c0301", 12345);
    step_kill(&a);
    step_start(&other, bare_env);
    assert_true(!strncmp(step(&other, "pid"), "pid ", 4)); /* it runs */
    uint64_t other_start = sg_proc_start_time(other.pid);
    assert_true(other_start > 0);
    for (int pass = 0; pass < 2; pass++) {
        struct sg_ledger L;
        char err[512];
        assert_int_equal(sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
        assert_int_equal(sg_ledger_lock(&L), 0);
        struct sg_seg *r = sg_seg_find(&L, SG_KIND_SHM, id);
        assert_non_null(r);
        r->cr_pid = other.pid;
        r->cr_start = pass == 0 ? other_start : other_start - 1;
        sg_ledger_unlock(&L);
        sg_ledger_close(&L);
        struct jv *j = doctor_both(pass == 0 ? 0 : 2);
        if (pass == 0) {
            assert_int_equal(jnum(j, "segments.idle.count"), 1);
        } else {
            assert_int_equal(jnum(j, "segments.orphaned.count"), 1);
            assert_int_equal(jnum(j, "segments.orphaned.bytes"), 12345);
            assert_int_equal(jnum(j, "orphans.0.creator_pid"), (unsigned long long)other.pid);
            assert_string_equal(jstr(j, "orphans.0.why"), "creator-dead");
        }
        jfree(j);
    }
    step_end(&other, "exit");
}

/* Bad usage: one message naming the problem, a pointer to --help, exit 1,
 * nothing on stdout. */
static void test_bad_usage(void **state)
{
    (void)state;
    static const struct { const char *arg; const char *msg; } cases[] = {
        { "--bogus", "shmguard: doctor: unrecognized option '--bogus'\n" },
        { "-x", "shmguard: doctor: invalid option -- 'x'\n" },
        { "extra", "shmguard: doctor: unexpected argument 'extra'\n" },
        { "-JP", "shmguard: doctor: --json and --prometheus (or --output) exclude each other\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(run_doctor(cases[i].arg, dir), 1);
        assert_string_equal(res.out, "");
        char want[256];
        snprintf(want, sizeof want, "%sTry 'shmguard doctor --help' for more information.\n",
                 cases[i].msg);
        assert_string_equal(res.err, want);
    }
    char *argv[] = { (char *)SGT_TOOL, "doctor", "--dir", NULL };
    sgt_run(&res, argv, bare_env, 30);
    assert_true(sgt_exited(&res, 1));
    assert_string_equal(res.err, "shmguard: doctor: option '--dir' requires an argument\n"
                                 "Try 'shmguard doctor --help' for more information.\n");
    /* An --output that cannot be written: exit 1, a message, no file. */
    char bad[PATH_MAX + 64];
    snprintf(bad, sizeof bad, "--output=%s/no-such-dir/m.prom", dir);
    assert_int_equal(run_doctor(bad, dir), 1);
    ASSERT_HAS(res.err, "shmguard: doctor: cannot create ");
    ASSERT_HAS(res.err, "No such file or directory");
    char *help[] = { (char *)SGT_TOOL, "doctor", "--help", NULL };
    sgt_run(&res, help, bare_env, 30);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "Exit status:");
    ASSERT_HAS(res.out, " 3  kernel.shmmni, kernel.shmall, SEMMNI, SEMMNS or kernel.msgmni at 90% of its\n"
                        "    limit or more");
}

/* 4,096 segments whose creator was killed: every one an orphan, and the
 * time doctor takes (reported; bounded loosely against regressions). */
static void test_4096_segments(void **state)
{
    (void)state;
    NEED_LIMITS();
    set_limit("shmmni", 8192);
    struct step a;
    step_start(&a, lib_env);
    for (int i = 0; i < 4096; i++)
        make(&a, "0", 4096);
    step_kill(&a);
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(run_doctor(NULL, dir), 2);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        best = ms < best ? ms : best;
    }
    fprintf(stderr, "doctor with 4096 segments (one ledger record each): %.1f ms (best of 3, "
                    "fork and exec included)\n", best);
    assert_true(best < (SANITIZED ? 5000.0 : 1000.0));
    struct jv *j = doctor_both(2);
    assert_int_equal(jnum(j, "segments.orphaned.count"), 4096);
    assert_int_equal(jnum(j, "segments.orphaned.bytes"), 4096ull * 4096);
    assert_int_equal(jlen(j, "orphans"), 4096);
    assert_int_equal(jnum(j, "limits.shmmni.used"), 4096);
    jfree(j);
}

/* ---- main ---------------------------------------------------------------- */

static int same_ipc_ns_as_init(void)
{
    struct stat me, init;
    if (stat("/proc/self/ns/ipc", &me) != 0 || stat("/proc/1/ns/ipc", &init) != 0)
        return -1; /* cannot tell (not allowed to look at pid 1) */
    return me.st_ino == init.st_ino && me.st_dev == init.st_dev;
}

/* Whether kernel.shmmni can be written here (writes back its own value). */
static int probe_limits(void)
{
    unsigned long long v = read_limit("shmmni");
    return v > 0 && write_limit("shmmni", v) == 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    int nested = getenv("SGT_DOCTOR_NESTED") != NULL;
    int in_init = same_ipc_ns_as_init(); /* 1, 0, or -1: cannot tell */
    /* Never touch the machine's own namespace: its segments or its
     * limits.  Without a writable namespace, try one of our own (a user
     * namespace where we are root, unless we are root already). */
    if (!nested && (in_init == 1 || !probe_limits())) {
        setenv("SGT_DOCTOR_NESTED", "1", 1);
        if (in_init == 1) {
            char *un[] = { "unshare", "--ipc", argv[0], NULL };
            execvp(un[0], un);
        } else {
            char *un[] = { "unshare", "-r", "--ipc", argv[0], NULL };
            execvp(un[0], un);
        }
        fprintf(stderr, "test_doctor: cannot re-run under unshare: %s\n", strerror(errno));
        unsetenv("SGT_DOCTOR_NESTED");
        nested = 0;
    }
    /* Private: not pid 1's namespace, or made for us by unshare, or its
     * limits writable without being root on the machine. */
    int private = in_init == 0 || (in_init == -1 && (nested || probe_limits()));
    if (!private) {
        fprintf(stderr, "test_doctor: not in a private IPC namespace; run it through "
                        "scripts/run-tests.sh\n");
        return 1;
    }
    limits_writable = probe_limits();
    if (!limits_writable)
        fprintf(stderr, "test_doctor: the IPC limits of this namespace cannot be written: the cases "
                        "that lower them are skipped\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_healthy, after_each),
        cmocka_unit_test_teardown(test_shmmni_exhausted, after_each),
        cmocka_unit_test_teardown(test_shmall_exhausted, after_each),
        cmocka_unit_test_teardown(test_both_near, after_each),
        cmocka_unit_test_teardown(test_fails_next_is_true, after_each),
        cmocka_unit_test_teardown(test_orphans, after_each),
        cmocka_unit_test_teardown(test_live_idle_is_not_orphan, after_each),
        cmocka_unit_test_teardown(test_pending_due_only_when_nothing_holds_it, after_each),
        cmocka_unit_test_teardown(test_pid_reuse_is_not_life, after_each),
        cmocka_unit_test_teardown(test_bad_usage, after_each),
        cmocka_unit_test_teardown(test_4096_segments, after_each),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
