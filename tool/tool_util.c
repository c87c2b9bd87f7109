/*
 * tool_util.c - small pieces shared by the shmguard subcommands: usage
 * errors in util-linux's form, strict parsers for option values (numbers,
 * keys, durations, users), the formats of sizes, ages, user names, call
 * sites and JSON strings, and the set of ledgers a command reads.  Nothing
 * here touches System V objects.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "tool_table.h"
#include "sg_ledger_dir.h"
#include "sg_config.h"

#include <ctype.h>
#include <dirent.h>
#include <libgen.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SG_VERSION
#define SG_VERSION "unknown"
#endif

void tool_cmd_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: %s: ", sg_prog, cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s %s --help' for more information.\n", sg_prog, cmd);
    va_end(ap);
}

int tool_dir_arg(const char *cmd, const char *dir)
{
    if (!dir[0] || dir[0] != '/') {
        tool_cmd_usage_error(cmd, "--dir must be an absolute path (as SHMGUARD_LEDGER): '%s'", dir);
        return -1;
    }
    return 0;
}

int tool_dir_readable(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, R_OK | X_OK) != 0) {
        fprintf(stderr, "%s: %s: cannot read the ledger directory %s: %s; nothing it records "
                        "can be known (check the path)\n",
                sg_prog, cmd, dir,
                stat(dir, &st) != 0 ? strerror(errno) : !S_ISDIR(st.st_mode) ? "not a directory"
                                                                            : strerror(errno));
        return -1;
    }
    return 0;
}

void tool_getopt_error(const char *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (c == ':') {
        if (optopt && !(arg[0] == '-' && arg[1] == '-'))
            tool_cmd_usage_error(cmd, "option requires an argument -- '%c'", optopt);
        else
            tool_cmd_usage_error(cmd, "option '%s' requires an argument", arg);
    } else if (optopt && !(arg[0] == '-' && arg[1] == '-'))
        tool_cmd_usage_error(cmd, "invalid option -- '%c'", optopt);
    else
        tool_cmd_usage_error(cmd, "unrecognized option '%s'", arg);
}

void tool_print_version(void)
{
    printf("%s from shmguard %s\n", sg_prog, SG_VERSION);
}

int tool_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int tool_parse_key(const char *s, int32_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (!isxdigit((unsigned char)s[2]))
            return -1;
        unsigned long long v = strtoull(s + 2, &end, 16);
        if (errno || *end || v > UINT32_MAX)
            return -1;
        *out = (int32_t)(uint32_t)v;
        return 0;
    }
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < INT32_MIN || v > (long long)UINT32_MAX)
        return -1;
    *out = (int32_t)(uint32_t)v; /* -1 and 0xffffffff are the same key */
    return 0;
}

int tool_parse_duration(const char *s, uint64_t *secs)
{
    if (!s || !*s)
        return -1;
    uint64_t total = 0;
    const char *p = s;
    int last_unit = 5; /* units must come largest first: 1h30m, not 30m1h */
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno)
            return -1;
        uint64_t mult;
        int unit;
        switch (*end) {
        case '\0': mult = 1; unit = 0; break; /* a bare number: seconds */
        case 's': mult = 1; unit = 1; break;
        case 'm': mult = 60; unit = 2; break;
        case 'h': mult = 3600; unit = 3; break;
        case 'd': mult = 86400; unit = 4; break;
        default: return -1;
        }
        if (unit >= last_unit || (unit == 0 && p != s))
            return -1; /* "30s10" or "10m1h" */
        last_unit = unit;
        if (v > (UINT64_MAX - total) / mult)
            return -1;
        total += v * mult;
        p = *end ? end + 1 : end;
    }
    if (total > (uint64_t)INT64_MAX)
        return -1;
    *secs = total;
    return 0;
}

int tool_parse_user(const char *s, uid_t *out)
{
    if (!s || !*s)
        return -1;
    long v;
    if (tool_parse_long(s, 0, (long)UINT32_MAX - 1, &v) == 0) {
        *out = (uid_t)v;
        return 0;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(s, &pw, buf, sizeof buf, &res) != 0 || !res)
        return -1;
    *out = res->pw_uid;
    return 0;
}

const char *tool_user_name(uid_t uid)
{
    static struct {
        uid_t uid;
        int used;
        char name[64];
    } cache[32];
    static unsigned next;
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++)
        if (cache[i].used && cache[i].uid == uid)
            return cache[i].name;
    unsigned slot = next++ % (sizeof cache / sizeof cache[0]);
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && strlen(res->pw_name) < 64)
        snprintf(cache[slot].name, sizeof cache[slot].name, "%s", res->pw_name);
    else
        snprintf(cache[slot].name, sizeof cache[slot].name, "%u", (unsigned)uid);
    cache[slot].uid = uid;
    cache[slot].used = 1;
    return cache[slot].name;
}

void tool_fmt_size(char *buf, size_t n, uint64_t bytes)
{
    static const char unit[] = "BKMGTPE";
    int u = 0;
    uint64_t whole = bytes, rem = 0;
    while (whole >= 1024 && u < 6) {
        rem = whole % 1024;
        whole /= 1024;
        u++;
    }
    /* One decimal, rounded, as util-linux prints it ("1.5M"), none when
     * it is zero ("4K"). */
    unsigned tenth = (unsigned)((rem * 10 + 512) / 1024);
    if (tenth == 10) {
        whole++;
        tenth = 0;
    }
    if (u == 0 || tenth == 0)
        snprintf(buf, n, "%" PRIu64 "%c", whole, unit[u]);
    else
        snprintf(buf, n, "%" PRIu64 ".%u%c", whole, tenth, unit[u]);
}

void tool_fmt_age(char *buf, size_t n, int64_t s)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(buf, n, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
}

void tool_fmt_site(char *buf, size_t n, const struct sg_seg *rec)
{
    /* Segments made by one call site tend to come in numbers: the last
     * answer is kept. */
    static char last_obj[SG_PATH_LEN], last[512];
    static uint64_t last_off, last_time;
    if (!rec || !rec->site_obj[0]) {
        if (n)
            buf[0] = '\0';
        return;
    }
    if (rec->site_off != last_off || rec->cr_time_ns / 1000000000u != last_time ||
        memcmp(rec->site_obj, last_obj, SG_PATH_LEN)) {
        tool_site_format(last, sizeof last, rec->site_obj, rec->site_off, rec->site_sym, SG_SYM_LEN,
                         (int64_t)(rec->cr_time_ns / 1000000000u));
        memcpy(last_obj, rec->site_obj, SG_PATH_LEN);
        last_off = rec->site_off;
        last_time = rec->cr_time_ns / 1000000000u;
    }
    snprintf(buf, n, "%s", last);
}

/* ---- the library in a command's environment (run, check) --------------- */

/* Find libshmguard.so for the running binary: beside it (the build
 * directory), in ../lib, or in ../lib/<triplet>/shmguard (Debian's
 * package: the multiarch directory, a directory of its own there, as the
 * library has no soname).  0 with its absolute path in lib; -1 with the places looked at
 * in tried. */
int tool_find_lib(char *lib, size_t n, char *tried, size_t tn)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(tried, tn, "(cannot read /proc/self/exe: %s)", strerror(errno));
        return -1;
    }
    exe[len] = '\0';
    char *dir = dirname(exe);
    const char *rel[] = { "libshmguard.so", "../lib/libshmguard.so",
                          "../lib/" SG_MULTIARCH "/shmguard/libshmguard.so" };
    size_t used = 0;
    tried[0] = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX + 64], real[PATH_MAX];
        struct stat st;
        snprintf(cand, sizeof cand, "%s/%s", dir, rel[i]);
        if (used < tn)
            used += (size_t)snprintf(tried + used, tn - used, "%s%s", i ? " or " : "", cand);
        if (realpath(cand, real) && stat(real, &st) == 0 && S_ISREG(st.st_mode) &&
            access(real, R_OK) == 0 && strlen(real) < n) {
            snprintf(lib, n, "%s", real);
            return 0;
        }
    }
    return -1;
}

/* 1 if the LD_PRELOAD list (separated by spaces or colons) holds lib. */
static int preload_has(const char *list, const char *lib)
{
    size_t l = strlen(lib);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " :");
        if (k == l && !strncmp(p, lib, l))
            return 1;
        p += k;
        p += strspn(p, " :");
    }
    return 0;
}

int tool_preload_env(const char *cmd, int preload, const char *mode, const char *ledger)
{
    char lib[PATH_MAX], tried[2 * PATH_MAX + 128];
    if (preload && tool_find_lib(lib, sizeof lib, tried, sizeof tried) != 0) {
        fprintf(stderr, "%s: %s: cannot find libshmguard.so: looked for %s\n", sg_prog, cmd, tried);
        return -1;
    }
    if (preload && strpbrk(lib, " :")) {
        fprintf(stderr, "%s: %s: the library's path '%s' holds a space or a colon, which LD_PRELOAD "
                        "cannot express\n", sg_prog, cmd, lib);
        return -1;
    }
    /* The library insists on an absolute ledger directory. */
    char abs_ledger[PATH_MAX];
    if (ledger && ledger[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) ||
            snprintf(abs_ledger, sizeof abs_ledger, "%s/%s", cwd, ledger) >= (int)sizeof abs_ledger) {
            fprintf(stderr, "%s: %s: cannot make '%s' an absolute path\n", sg_prog, cmd, ledger);
            return -1;
        }
        ledger = abs_ledger;
    }
    if (ledger && strlen(ledger) >= PATH_MAX - 64) {
        fprintf(stderr, "%s: %s: ledger directory too long: %s\n", sg_prog, cmd, ledger);
        return -1;
    }
    const char *old = getenv("LD_PRELOAD");
    int ok = 1;
    if (!preload)
        ;
    else if (!old || !old[strspn(old, " :")])
        ok = setenv("LD_PRELOAD", lib, 1) == 0;
    else if (!preload_has(old, lib)) {
        size_t len = strlen(old) + 1 + strlen(lib) + 1;
        char *v = malloc(len);
        ok = v != NULL;
        if (v) {
            snprintf(v, len, "%s %s", old, lib);
            ok = setenv("LD_PRELOAD", v, 1) == 0;
            free(v);
        }
    }
    if (ok && mode)
        ok = setenv("SHMGUARD_MODE", mode, 1) == 0;
    if (ok && ledger)
        ok = setenv("SHMGUARD_LEDGER", ledger, 1) == 0;
    if (!ok) {
        fprintf(stderr, "%s: %s: cannot set the environment: %s\n", sg_prog, cmd, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- usage errors, JSON strings ---------------------------------------- */

const char *sg_prog = "shmguard";

void tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", sg_prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", sg_prog);
    va_end(ap);
}

/* ---- ledger set -------------------------------------------------------- */

static void set_note(void *ctx, const char *text)
{
    struct ledger_set *s = ctx;
    if (s->n_unreadable < 8)
        snprintf(s->unreadable[s->n_unreadable++], sizeof s->unreadable[0], "%s", text);
}

int ledger_set_load(struct ledger_set *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir ? dir : sg_config_get()->ledger_dir);
    s->ns = sg_ipcns_ino();
    if (sg_ledgers_load(s->dir, s->ns, NULL, 1, &s->v, &s->n, set_note, s) != 0)
        return errno == ENOENT ? (s->no_dir = 1, 0) : -1; /* no directory: nothing recorded */
    return 0;
}

void ledger_set_free(struct ledger_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        sg_ledger_close(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void tool_note_dropped(FILE *f, const char *lead, uint64_t dropped)
{
    if (!dropped)
        return;
    fprintf(f, "%s%" PRIu64 " record%s could not be stored in the ledger (a table was full): some "
               "creators, attachers or semaphore users are not known here; whether a segment is "
               "in use still comes from the kernel's attach count\n",
            lead, dropped, dropped == 1 ? "" : "s");
}

void json_str(FILE *f, const char *s, size_t maxlen)
{
    /* As ls --json shows names (tt_clean): valid UTF-8 as it is, a
     * control character or a byte that is not UTF-8 as the text \xHH. */
    size_t n = strnlen(s, maxlen);
    char *copy = malloc(n + 1), *clean = NULL;
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
        clean = tt_clean(copy, 0);
    }
    fputc('"', f);
    for (const char *p = clean ? clean : ""; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('"', f);
    free(clean);
    free(copy);
}
