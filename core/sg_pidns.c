/*
 * sg_pidns.c - pid namespaces: identity, view, and what a reader can
 * prove dead (see sg_pidns.h).
 */
#define _GNU_SOURCE
#include "sg_pidns.h"
#include "sg_compiler.h"
#include "sg_proc.h"
#include "sg_selfns.h"
#include "sg_sys.h"

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Cached per process: a fork child recomputes (it may be in a new one). */
SG_FIRST_DATA static pid_t self_pid, view_pid;
SG_FIRST_DATA static uint32_t self_ns, view_ns;

uint32_t sg_pidns_self(void) { return sg_pidns_self_as(sg_sys_getpid()); }

SG_COLD uint32_t sg_pidns_self_as(pid_t me)
{
    if (__atomic_load_n(&self_pid, __ATOMIC_ACQUIRE) != me) {
        __atomic_store_n(&self_ns, (uint32_t)sg_selfns_ino(SG_SELFNS_PID), __ATOMIC_RELAXED);
        __atomic_store_n(&self_pid, me, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&self_ns, __ATOMIC_RELAXED);
}

static uint32_t view_as(pid_t me)
{
    if (__atomic_load_n(&view_pid, __ATOMIC_ACQUIRE) != me) {
        /* /proc/self names this process by its pid in /proc's namespace:
         * the same number as getpid() when /proc is its own namespace's.
         * Otherwise /proc is an ancestor's: the namespace of its pid 1. */
        char buf[32];
        ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
        uint32_t v = 0;
        if (n > 0) {
            buf[n] = '\0';
            v = atoi(buf) == me ? sg_pidns_self_as(me) : (uint32_t)sg_ns_ino_at("/proc/1/ns/pid");
        }
        __atomic_store_n(&view_ns, v, __ATOMIC_RELAXED);
        __atomic_store_n(&view_pid, me, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&view_ns, __ATOMIC_RELAXED);
}

uint32_t sg_pidns_view(void) { return view_as(sg_sys_getpid()); }

int sg_pidns_proc_own(void)
{
    pid_t me = sg_sys_getpid();
    uint32_t self = sg_pidns_self_as(me);
    return self && self == view_as(me);
}

int sg_pidns_ancestors(uint32_t *anc, int max)
{
    /* NS_GET_PARENT cannot name a namespace above the caller's own, so
     * the one ancestor a process can name is the namespace its /proc
     * shows, when that is not its own (a container without a /proc of
     * its own sees its host's). */
    uint32_t self = sg_pidns_self(), view = sg_pidns_view();
    if (max < 1 || !view || !self || view == self)
        return 0;
    anc[0] = view;
    return 1;
}

/* ---- known chains --------------------------------------------------- */

#define REG_CAP 256
static struct sg_pidns reg[REG_CAP];
static uint32_t reg_n;
static uint32_t reg_lock;

static void reg_take(void)
{
    while (__atomic_exchange_n(&reg_lock, 1, __ATOMIC_ACQUIRE))
        sched_yield();
}
static void reg_give(void) { __atomic_store_n(&reg_lock, 0, __ATOMIC_RELEASE); }

void sg_pidns_after_fork_child(void)
{
    __atomic_store_n(&reg_lock, 0, __ATOMIC_RELAXED);
    /* The caches are keyed by pid number, which a child in a new pid
     * namespace may share with its parent (pid 1 forking after
     * unshare(CLONE_NEWPID)): read again. */
    __atomic_store_n(&self_pid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&view_pid, 0, __ATOMIC_RELAXED);
}

void sg_pidns_learn(const struct sg_pidns *tab, uint32_t n, uid_t owner)
{
    if (owner != 0 && owner != geteuid())
        return;
    reg_take();
    for (uint32_t i = 0; i < n; i++) {
        const struct sg_pidns *e = &tab[i];
        if (e->state != SG_REC_LIVE || !e->ino || e->nanc > SG_PIDNS_ANC)
            continue;
        uint32_t j;
        for (j = 0; j < reg_n && reg[j].ino != e->ino; j++)
            ;
        if (j == reg_n) {
            if (reg_n == REG_CAP)
                continue;
            reg_n++;
        } else if (reg[j].nanc >= e->nanc)
            continue; /* keep the longer chain */
        reg[j] = *e;
    }
    reg_give();
}

/* The initial pid namespace: its inode is fixed (PROC_PID_INIT_INO), and
 * it is an ancestor of every other. */
#define PID_INIT_INO 0xEFFFFFFCu

/* 1 if the view v is known to be an ancestor of namespace ns: v is the
 * initial namespace, or a chain in the registry says so. */
static int view_above(uint32_t ns, uint32_t v)
{
    if (v == PID_INIT_INO)
        return 1;
    if (ns == sg_pidns_self()) {
        uint32_t anc[SG_PIDNS_ANC];
        int n = sg_pidns_ancestors(anc, SG_PIDNS_ANC);
        for (int i = 0; i < n; i++)
            if (anc[i] == v)
                return 1;
    }
    int above = 0;
    reg_take();
    for (uint32_t j = 0; j < reg_n && !above; j++)
        if (reg[j].ino == ns)
            for (uint32_t k = 0; k < reg[j].nanc; k++)
                above |= reg[j].anc[k] == v;
    reg_give();
    return above;
}

/* ---- the view's processes of other namespaces ------------------------- */

struct seen {
    uint32_t ns;                /* 0: not placed (no permission) */
    pid_t inner;                /* last field of NSpid, 0 if unreadable */
    uint64_t start;
    pid_t pid;                  /* as /proc shows it */
};

static int cache_on;
static struct seen *cache;
static size_t cache_n;
static int cache_valid, cache_partial;

/* The innermost pid of /proc/p (NSpid's last field); 0 if unreadable.
 * *levels (may be NULL): how many pids NSpid lists, 1 for a process of
 * the namespace /proc shows itself. */
static pid_t inner_pid(const char *p, int *levels)
{
    if (levels)
        *levels = 0;
    char path[300], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/status", p);
    int fd = sg_fd_above_stdio(open(path, O_RDONLY | O_CLOEXEC));
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *l = strstr(buf, "\nNSpid:");
    if (!l)
        return 0;
    l += 7;
    char *end = strchr(l, '\n');
    if (end)
        *end = '\0';
    char *last = strrchr(l, '\t');
    if (levels)
        for (char *t = l; (t = strchr(t, '\t')); t++)
            (*levels)++;
    return atoi(last ? last + 1 : l);
}

/* Every process /proc shows outside the view's own namespace, and those
 * it could not place (no permission to its ns link: ns 0, with their
 * start time when readable).  *partial: /proc itself could not be read,
 * or a list could not grow. */
static struct seen *scan(size_t *n, int *partial)
{
    *n = 0;
    *partial = 0;
    size_t cap = 0;
    struct seen *v = NULL;
    uint32_t view = sg_pidns_view();
    DIR *d = opendir("/proc");
    if (!d) {
        *partial = 1;
        return NULL;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/ns/pid", de->d_name);
        struct stat st;
        uint32_t ns = 0;
        pid_t in = 0;
        if (stat(path, &st) == 0)
            ns = (uint32_t)st.st_ino;
        else if (errno != EACCES && errno != EPERM)
            continue; /* gone meanwhile */
        else {
            /* Its ns link is closed to us (another user's container,
             * say), but status is not: one pid in NSpid is a process of
             * the view's own namespace; else its innermost pid narrows
             * which records it could be. */
            int levels;
            in = inner_pid(de->d_name, &levels);
            if (levels == 1)
                continue;
        }
        if (ns == view)
            continue;
        if (ns)
            in = inner_pid(de->d_name, NULL);
        uint64_t start = sg_proc_start_time(atoi(de->d_name));
        if ((ns && !in) || !start)
            continue; /* gone meanwhile, or a zombie */
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            struct seen *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                *partial = 1;
                break;
            }
            v = nv;
        }
        v[(*n)++] = (struct seen){ ns, in, start, atoi(de->d_name) };
    }
    closedir(d);
    return v;
}

void sg_pidns_cache(int on) { cache_on = on; }

void sg_pidns_rescan(void) { cache_valid = 0; }

/* What the view's list says of the process (ns, pid, start): whether it
 * is there (and its pid as /proc shows it), whether any process of ns is,
 * whether a process that could not be placed might be it (it started by
 * the record's time, sg_start_fits), and whether the list is partial.  The list is the
 * cached one (sg_pidns_cache) or a fresh scan. */
struct look {
    int hit;
    pid_t view_pid;
    int seen_ns, unplaced, partial;
};

static struct look look_up(uint32_t ns, pid_t pid, uint64_t start)
{
    struct look r = { 0, 0, 0, 0, 0 };
    struct seen *v;
    size_t n;
    if (cache_on && cache_valid) {
        v = cache;
        n = cache_n;
        r.partial = cache_partial;
    } else {
        v = scan(&n, &r.partial);
        if (cache_on) {
            free(cache);
            cache = v;
            cache_n = n;
            cache_partial = r.partial;
            cache_valid = 1;
        }
    }
    for (size_t i = 0; i < n && !r.hit; i++) {
        r.seen_ns |= v[i].ns == ns;
        r.unplaced |= v[i].ns == 0 && (v[i].inner == 0 || v[i].inner == pid) &&
                      sg_start_fits(v[i].start, start);
        if (v[i].ns == ns && v[i].inner == pid && sg_start_fits(v[i].start, start)) {
            r.hit = 1;
            r.view_pid = v[i].pid;
        }
    }
    if (!cache_on)
        free(v);
    return r;
}

int sg_proc_alive_ns(pid_t pid, uint64_t start, uint32_t ns)
{
    uint32_t view = sg_pidns_view();
    if (ns == 0 || (ns == view && view != 0))
        return sg_proc_alive(pid, start);
    if (pid <= 0 || view == 0)
        return SG_ALIVE_HIDDEN;
    struct look l = look_up(ns, pid, start);
    if (l.hit)
        return 1;
    /* Absent: dead only if the view sees every process of ns (it is
     * known to be above it, or shows one of them) and nothing unplaced
     * could be this one. */
    return l.partial || l.unplaced || !(view_above(ns, view) || l.seen_ns) ? SG_ALIVE_HIDDEN : 0;
}

pid_t sg_pidns_translate(pid_t pid, uint64_t start, uint32_t ns)
{
    uint32_t view = sg_pidns_view();
    if (ns == 0 || ns == view)
        return pid;
    return pid > 0 && view ? look_up(ns, pid, start).view_pid : 0;
}
