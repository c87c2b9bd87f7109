/*
 * test_transparency.c - differential test of the library's transparency.
 *
 * For every call sequence that helper_seqrun knows (`helper_seqrun --list`)
 * the sequence runs bare (twice: a scenario whose bare output is not
 * deterministic is a bug of the corpus, reported as such) and with
 * libshmguard.so preloaded in each mode (off, observe, defer, and defer
 * with SHMGUARD_DEBUG=3), every run in a fresh IPC namespace and with a
 * fresh ledger directory.  Its printed results (value and errno of every
 * call, errno after successful calls, the deterministic IPC_STAT fields)
 * must be identical to the bare run's.  The one deliberate difference is
 * asserted explicitly: in defer mode IPC_RMID of an attached keyed segment
 * leaves the key resolvable (shmget(key) finds the same id instead of
 * ENOENT, IPC_STAT shows the key instead of IPC_PRIVATE) until the last
 * detach, after which both runs agree again.  The library must also write
 * nothing to stderr unless SHMGUARD_DEBUG is set (or, for the scenarios
 * helper_seqrun lists with --list-diag, only its own "shmguard[" lines: the
 * specified diagnostics of ENOSPC and size EINVAL), must exit normally,
 * and must have opened a ledger in observe and defer mode (so a library
 * that silently passed everything through cannot pass as transparent) and
 * none in off mode.  On a mismatch both outputs are printed as a diff.
 */
#include "sgtest.h"

#include <dirent.h>

#define RUN_TIMEOUT 60
#define MIN_SCENARIOS 30

/* The documented difference of defer mode (see helper_seqrun.c): a
 * removal while another process is attached. */
#define DIFF_SCENARIO "rmid_keyed_attached"
static const struct {
    const char *bare, *defer;
    int count; /* occurrences replaced, from the top; all of them if 0 */
    int expect; /* occurrences the bare output must have */
} defer_diff[] = {
    /* IPC_STAT while the removal is pending: same SHM_DEST mode bit, but
     * the kernel has not seen the removal, so the key is still there. */
    { "{key=IPC_PRIVATE mode=01600 ", "{key=0x5eed0001 mode=01600 ", 0, 1 },
    /* The key stays resolvable: the same segment, not ENOENT.  (Only the
     * first lookup: after the last detach both runs get ENOENT.) */
    { "shmget(key=0x5eed0001,0,0) = -1 errno=ENOENT", "shmget(key=0x5eed0001,0,0) = 0 errno=12345", 1, 2 },
};

struct cfg {
    const char *label;
    const char *mode;   /* SHMGUARD_MODE */
    int debug;          /* SHMGUARD_DEBUG=3: stderr not checked */
    int ledger;         /* a ledger file must appear (1) or not (0) */
};
static const struct cfg cfgs[] = {
    { "off", "off", 0, 0 },
    { "observe", "observe", 0, 1 },
    { "defer", "defer", 0, 1 },
    { "defer+SHMGUARD_DEBUG=3", "defer", 1, 1 },
};

static char helper[PATH_MAX], lib[PATH_MAX];
static int as_root;
static char **names, **diag_names;
static size_t nnames, ndiag;

/* ---- small string tools ------------------------------------------------ */

static int count_of(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + strlen(sub), sub))
        n++;
    return n;
}

/* s with the first `count` (all if 0) occurrences of from replaced by to;
 * malloc'd. */
static char *replace(const char *s, const char *from, const char *to, int count)
{
    size_t lf = strlen(from), lt = strlen(to);
    char *out = malloc(strlen(s) + (size_t)count_of(s, from) * (lt + 1) + 1);
    assert_non_null(out);
    char *o = out;
    int done = 0;
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q || (count && done == count)) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, lt);
        o += lt;
        p = q + lf;
        done++;
    }
    return out;
}

/* Split a copy of s into lines; returns the count, *lines into *buf. */
static size_t split_lines(const char *s, char **buf, char ***lines)
{
    *buf = strdup(s);
    assert_non_null(*buf);
    size_t n = 0, cap = 16;
    *lines = malloc(cap * sizeof **lines);
    assert_non_null(*lines);
    for (char *p = *buf; *p;) {
        char *nl = strchr(p, '\n');
        if (n == cap) {
            cap *= 2;
            *lines = realloc(*lines, cap * sizeof **lines);
            assert_non_null(*lines);
        }
        (*lines)[n++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

/* Print a line diff (longest common subsequence) of a and b to stderr. */
static void print_diff(const char *la, const char *a, const char *lb, const char *b)
{
    char *ba, *bb, **x, **y;
    size_t n = split_lines(a, &ba, &x), m = split_lines(b, &bb, &y);
    unsigned *t = calloc((n + 1) * (m + 1), sizeof *t);
    assert_non_null(t);
#define T(i, j) t[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            T(i, j) = !strcmp(x[i], y[j]) ? T(i + 1, j + 1) + 1
                      : T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
    fprintf(stderr, "--- %s\n+++ %s\n", la, lb);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && !strcmp(x[i], y[j])) {
            fprintf(stderr, "  %s\n", x[i]);
            i++, j++;
        } else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1))) {
            fprintf(stderr, "- %s\n", x[i++]);
        } else {
            fprintf(stderr, "+ %s\n", y[j++]);
        }
    }
#undef T
    free(t);
    free(x);
    free(y);
    free(ba);
    free(bb);
}

static int in_list(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

/* Number of entries (other than . and ..) in dir. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* ---- running the helper -------------------------------------------------- */

static void run_scenario(struct sgt_result *r, const char *name, char *const env[])
{
    char *argv[8];
    int i = 0;
    argv[i++] = "unshare";
    if (!as_root)
        argv[i++] = "-r";
    argv[i++] = "--ipc";
    argv[i++] = helper;
    argv[i++] = (char *)name;
    argv[i] = NULL;
    sgt_run(r, argv, env, RUN_TIMEOUT);
}

static void run_bare(struct sgt_result *r, const char *name)
{
    char *env[] = { "LD_PRELOAD=", "SHMGUARD_MODE=", "SHMGUARD_LEDGER=", "SHMGUARD_DEBUG=",
                    "SHMGUARD_LOG=", NULL };
    run_scenario(r, name, env);
}

static void describe_status(const struct sgt_result *r, char *buf, size_t n)
{
    if (r->status == -1)
        snprintf(buf, n, "killed after %d s (hung)", RUN_TIMEOUT);
    else if (WIFEXITED(r->status))
        snprintf(buf, n, "exit status %d", WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(r->status),
                 strsignal(WTERMSIG(r->status)));
    else
        snprintf(buf, n, "status %#x", r->status);
}

/* 1 if every line of s is a library log line. */
static int only_log_lines(const char *s)
{
    /* A message is a "shmguard[PID]: " line and its indented lines. */
    for (const char *p = s; *p;) {
        if (strncmp(p, "shmguard[", 9) != 0 && (p == s || strncmp(p, "  ", 2) != 0))
            return 0;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 1;
}

/* The documented defer output, made from the bare one; NULL (after
 * printing why) if the bare output lacks the kernel behaviour it assumes. */
static char *expected_defer(const char *bare)
{
    char *cur = strdup(bare);
    assert_non_null(cur);
    for (size_t i = 0; i < sizeof defer_diff / sizeof defer_diff[0]; i++) {
        int have = count_of(cur, defer_diff[i].bare);
        if (have != defer_diff[i].expect) {
            fprintf(stderr,
                    "%s: bare output has %d (expected %d) lines with \"%s\": the kernel "
                    "behaviour this test documents has changed, or the scenario did\n",
                    DIFF_SCENARIO, have, defer_diff[i].expect, defer_diff[i].bare);
            free(cur);
            return NULL;
        }
        char *next = replace(cur, defer_diff[i].bare, defer_diff[i].defer, defer_diff[i].count);
        free(cur);
        cur = next;
    }
    return cur;
}

/* ---- tests --------------------------------------------------------------- */

static void test_corpus(void **state)
{
    (void)state;
    fprintf(stderr, "%zu scenarios (%zu may draw a diagnostic); helper runs %s\n", nnames,
            ndiag, as_root ? "under unshare --ipc" : "under unshare -r --ipc");
    assert_true(nnames >= MIN_SCENARIOS);
    assert_true(in_list(names, nnames, DIFF_SCENARIO));
    for (size_t i = 0; i < ndiag; i++)
        assert_true(in_list(names, nnames, diag_names[i]));
}

static void test_scenario(void **state)
{
    const char *name = *state;
    int diag = in_list(diag_names, ndiag, name);
    int bad = 0;
    char st[128];
    /* Static: a failed assertion leaves the function by longjmp. */
    static struct sgt_result bare_r, again_r, run_r;
    struct sgt_result *bare = &bare_r, *again = &again_r, *r = &run_r;

    /* Bare, twice: the reference, and proof that it is deterministic. */
    run_bare(bare, name);
    run_bare(again, name);
    if (!sgt_exited(bare, 0) || bare->err[0]) {
        describe_status(bare, st, sizeof st);
        fprintf(stderr, "%s: bare run failed (%s); stdout:\n%s\nstderr:\n%s\n", name, st,
                bare->out, bare->err);
        fail_msg("%s: the bare run itself failed", name);
    }
    if (strcmp(bare->out, again->out) != 0) {
        fprintf(stderr, "%s: two bare runs differ (scenario is not deterministic):\n", name);
        print_diff("bare", bare->out, "bare again", again->out);
        fail_msg("%s: not deterministic without the library", name);
    }
    if (!strstr(bare->out, "\nend\n")) {
        fprintf(stderr, "%s: bare output incomplete:\n%s\n", name, bare->out);
        fail_msg("%s: bare output incomplete", name);
    }

    char *defer_expect = NULL;
    if (!strcmp(name, DIFF_SCENARIO)) {
        defer_expect = expected_defer(bare->out);
        if (!defer_expect)
            fail_msg("%s: bare output does not show the kernel behaviour assumed", name);
    }

    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        const struct cfg *k = &cfgs[c];
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
        char e_pre[PATH_MAX + 16], e_led[PATH_MAX + 32], e_mode[64];
        snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", lib);
        snprintf(e_led, sizeof e_led, "SHMGUARD_LEDGER=%s", dir);
        snprintf(e_mode, sizeof e_mode, "SHMGUARD_MODE=%s", k->mode);
        char *env[] = { e_pre, e_led, e_mode, k->debug ? "SHMGUARD_DEBUG=3" : "SHMGUARD_DEBUG=",
                        "SHMGUARD_LOG=", NULL };
        run_scenario(r, name, env);

        char label[160];
        snprintf(label, sizeof label, "LD_PRELOAD=libshmguard.so SHMGUARD_MODE=%s%s", k->mode,
                 k->debug ? " SHMGUARD_DEBUG=3" : "");
        const char *want = bare->out, *wlabel = "bare";
        if (defer_expect && !strcmp(k->mode, "defer")) {
            want = defer_expect;
            wlabel = "bare + the documented defer difference";
        }
        if (!sgt_exited(r, 0)) {
            describe_status(r, st, sizeof st);
            fprintf(stderr, "%s [%s]: the program did not exit normally: %s\n", name, k->label,
                    st);
            bad++;
        }
        if (strcmp(want, r->out) != 0) {
            fprintf(stderr, "%s [%s]: output differs from %s:\n", name, k->label, wlabel);
            print_diff(wlabel, want, label, r->out);
            bad++;
        }
        if (!k->debug && r->err[0] && !(diag && only_log_lines(r->err))) {
            fprintf(stderr, "%s [%s]: wrote to stderr without SHMGUARD_DEBUG:\n%s\n", name,
                    k->label, r->err);
            bad++;
        }
        int files = dir_entries(dir);
        if (k->ledger ? files < 1 : files != 0) {
            fprintf(stderr, "%s [%s]: %d file(s) in the ledger directory; expected %s\n", name,
                    k->label, files, k->ledger ? "a ledger (library active)" : "none (mode off)");
            bad++;
        }
        sgt_rmdir(dir);
    }
    free(defer_expect);
    if (bad)
        fail_msg("%s: %d transparency violation(s), see above", name, bad);
}

/* ---- setup ------------------------------------------------------------- */

/* Run helper_seqrun with one option and split its stdout into names. */
static size_t read_list(const char *opt, char ***out)
{
    struct sgt_result *r = malloc(sizeof *r);
    if (!r)
        abort();
    char *argv[] = { helper, (char *)opt, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(r, argv, env, RUN_TIMEOUT);
    if (!sgt_exited(r, 0)) {
        fprintf(stderr, "%s %s failed: %s\n", helper, opt, r->err);
        exit(1);
    }
    size_t n = 0;
    *out = calloc(1024, sizeof **out);
    if (!*out)
        abort();
    for (char *s = strtok(r->out, "\n"); s && n < 1023; s = strtok(NULL, "\n"))
        (*out)[n++] = strdup(s);
    free(r);
    return n;
}

int main(void)
{
    snprintf(helper, sizeof helper, "%s", SGT_HELPER("helper_seqrun"));
    snprintf(lib, sizeof lib, "%s", SGT_LIB);
    as_root = geteuid() == 0;
    if (access(helper, X_OK) != 0 || access(lib, R_OK) != 0) {
        fprintf(stderr, "test_transparency: need %s and %s (build them first)\n", helper, lib);
        return 1;
    }
    nnames = read_list("--list", &names);
    ndiag = read_list("--list-diag", &diag_names);

    struct CMUnitTest *tests = calloc(nnames + 1, sizeof *tests);
    if (!tests)
        abort();
    tests[0].name = "corpus";
    tests[0].test_func = test_corpus;
    for (size_t i = 0; i < nnames; i++) {
        tests[i + 1].name = names[i];
        tests[i + 1].test_func = test_scenario;
        tests[i + 1].initial_state = names[i];
    }
    int rc = _cmocka_run_group_tests("transparency", tests, nnames + 1, NULL, NULL);
    free(tests);
    return rc;
}
