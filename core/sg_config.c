/*
 * sg_config.c - parse SHMGUARD_* once per process (see sg_config.h).
 */
#define _GNU_SOURCE
#include "sg_config.h"
#include "sg_compiler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

/* The environment, read as secure_getenv(3) reads it (nothing at all in
 * a set-user-ID or otherwise secure process), but by hand: one pass over
 * environ for the four names, which a process's first call makes without
 * binding and faulting in secure_getenv, strlen and strcmp, and without
 * even getauxval when no SHMGUARD_ variable is set. */
static const char *const env_names[] = { "SHMGUARD_MODE", "SHMGUARD_LOG", "SHMGUARD_DEBUG",
                                         "SHMGUARD_LEDGER" };
#define N_ENV (sizeof env_names / sizeof env_names[0])
SG_FIRST_DATA static const char *env_values[N_ENV];

/* The value in entry e ("NAME=value") if NAME is name, else NULL. */
/* 1 if entry e starts with "SHMGUARD_". */
static int env_match_prefix(const char *e)
{
    const char *p = "SHMGUARD_";
    while (*p && *e == *p) {
        e++;
        p++;
    }
    return !*p;
}

static const char *env_match(const char *e, const char *name)
{
    while (*name && *e == *name) {
        e++;
        name++;
    }
    return !*name && *e == '=' ? e + 1 : NULL;
}

SG_COLD static int env_scan(void)
{
    extern char **environ;
    int any = 0;
    for (char **e = environ; e && *e; e++) {
        if ((*e)[0] != 'S' || !env_match_prefix(*e))
            continue;
        for (size_t i = 0; i < N_ENV; i++) {
            const char *v = env_match(*e, env_names[i]);
            if (v && !env_values[i]) { /* the first, as getenv */
                env_values[i] = v;
                any = 1;
            }
        }
    }
    if (any && getauxval(AT_SECURE)) {
        memset(env_values, 0, sizeof env_values);
        any = 0;
    }
    return any;
}

int sg_config_mode_off(void)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        const char *v = env_match(*e, env_names[0]);
        if (v) /* the first, as getenv reads it */
            return v[0] == 'o' && v[1] == 'f' && v[2] == 'f' && !v[3] && !getauxval(AT_SECURE);
    }
    return 0;
}

/* Its answer for name, which must be one of env_names itself (the very
 * pointer: sg_config_parse asks with them), as read by env_scan. */
static const char *env_getter(const char *name)
{
    for (size_t i = 0; i < N_ENV; i++)
        if (name == env_names[i])
            return env_values[i];
    return NULL;
}

static void note(struct sg_config *c, const char *what)
{
    size_t n = strlen(c->problems);
    snprintf(c->problems + n, sizeof c->problems - n, "%s%s", n ? "; " : "", what);
}

/* Copy v (shorter than dst, checked by the caller) with its NUL, by hand:
 * the first call of a process runs this, where snprintf's first use
 * faults in pages of libc's formatting code, and strlen's binds it. */
static void set_str(char *dst, const char *v)
{
    while ((*dst++ = *v++))
        ;
}

SG_COLD void sg_config_parse(struct sg_config *c, const char *(*get)(const char *))
{
    /* Every field set but log_path, which only SG_SINK_FILE reads; the
     * path buffers (8 KiB) only as far as used, so that their pages are
     * touched only when they hold something. */
    c->mode = SG_MODE_DEFER;
    c->sink = SG_SINK_STDERR;
    c->debug = 0;
    c->problems[0] = '\0';
    set_str(c->ledger_dir, SG_LEDGER_DIR_DEFAULT);
    if (!get)
        return;

    const char *v = get(env_names[0]);
    if (v && *v) {
        if (!strcmp(v, "off"))
            c->mode = SG_MODE_OFF;
        else if (!strcmp(v, "observe"))
            c->mode = SG_MODE_OBSERVE;
        else if (!strcmp(v, "defer"))
            c->mode = SG_MODE_DEFER;
        else
            note(c, "SHMGUARD_MODE must be off, observe or defer; using defer");
    }

    v = get(env_names[1]);
    if (v && *v) {
        if (!strcmp(v, "stderr"))
            c->sink = SG_SINK_STDERR;
        else if (!strcmp(v, "syslog"))
            c->sink = SG_SINK_SYSLOG;
        else if (v[0] == '/' && strlen(v) < sizeof c->log_path) {
            c->sink = SG_SINK_FILE;
            set_str(c->log_path, v);
        } else
            note(c, "SHMGUARD_LOG must be stderr, syslog or an absolute path; using stderr");
    }

    v = get(env_names[2]);
    if (v && *v) {
        if (v[0] >= '0' && v[0] <= '3' && v[1] == '\0')
            c->debug = v[0] - '0';
        else
            note(c, "SHMGUARD_DEBUG must be 0, 1, 2 or 3; using 0");
    }

    v = get(env_names[3]);
    if (v && *v) {
        if (v[0] == '/' && strlen(v) < sizeof c->ledger_dir - 64)
            set_str(c->ledger_dir, v);
        else
            note(c, "SHMGUARD_LEDGER must be an absolute directory path; using " SG_LEDGER_DIR_DEFAULT);
    }
}

static struct sg_config the_config;
SG_FIRST_DATA static pthread_once_t config_once = PTHREAD_ONCE_INIT;

SG_COLD static void config_init(void) { sg_config_parse(&the_config, env_scan() ? env_getter : NULL); }

const struct sg_config *sg_config_get(void)
{
    pthread_once(&config_once, config_init);
    return &the_config;
}

const char *sg_mode_name(enum sg_mode m)
{
    switch (m) {
    case SG_MODE_OFF: return "off";
    case SG_MODE_OBSERVE: return "observe";
    default: return "defer";
    }
}
