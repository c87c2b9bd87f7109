/*
 * sg_proc.c - read process identity from /proc (see sg_proc.h).
 */
#define _GNU_SOURCE
#include "sg_proc.h"
#include "sg_compiler.h"
#include "sg_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

/* Read a small /proc file into buf; returns bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r < 0)
        return -1;
    buf[r] = '\0';
    return r;
}

static uint64_t start_time_at(const char *path)
{
    char buf[1024];
    if (read_small(path, buf, sizeof buf) <= 0)
        return 0;
    /* comm may contain spaces and ')': fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    /* Field 3, the state: a zombie (or dead) process has exited and
     * detached everything; its pid cannot be reused until it is reaped. */
    if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
        return 0;
    /* After ')' come fields 3.. ; starttime is field 22, i.e. the 20th. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return 0;
    }
    return strtoull(p + 1, NULL, 10);
}

uint64_t sg_proc_start_time(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return pid > 0 ? start_time_at(path) : 0;
}

uint64_t sg_proc_self_start(void) { return start_time_at("/proc/self/stat"); }

/* The kernel's clock tick (USER_HZ), as sysconf(_SC_CLK_TCK) gives it:
 * from the auxiliary vector, which the configuration reads anyway, where
 * sysconf would fault in a page of libc on a process's first call. */
static long clk_tck(void)
{
    unsigned long hz = getauxval(AT_CLKTCK);
    return hz ? (long)hz : 100;
}

SG_COLD uint64_t sg_proc_self_mark(void)
{
    struct timespec ts = { 0, 0 };
    long hz = clk_tck();
    /* The kernel's clock, not libc's: a preloaded clock faker (faketime)
     * would move a mark before the process's start, and a live process
     * would look dead.  Without it, the start time itself, else nothing:
     * 0 names no time, so a record holding it is never taken for a dead
     * process. */
    if (syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &ts) != 0 || (ts.tv_sec == 0 && ts.tv_nsec == 0))
        return sg_proc_self_start();
    return SG_START_MARK | ((uint64_t)ts.tv_sec * (uint64_t)hz +
                            (uint64_t)ts.tv_nsec / (1000000000u / (uint64_t)hz));
}

int64_t sg_proc_start_epoch(uint64_t start)
{
    static int64_t btime = -1; /* read once; a racing second read is harmless */
    int64_t bt = __atomic_load_n(&btime, __ATOMIC_RELAXED);
    if (bt < 0) {
        char buf[8192];
        const char *p;
        bt = 0;
        if (read_small("/proc/stat", buf, sizeof buf) > 0 && (p = strstr(buf, "\nbtime ")))
            bt = strtoll(p + 7, NULL, 10);
        __atomic_store_n(&btime, bt, __ATOMIC_RELAXED);
    }
    long hz = clk_tck();
    if (bt <= 0 || start == 0)
        return 0;
    return bt + (int64_t)(start / (uint64_t)hz);
}

void sg_proc_comm(pid_t pid, char *buf)
{
    char path[64], tmp[64];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/comm");
    else
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    buf[0] = '\0';
    if (read_small(path, tmp, sizeof tmp) <= 0)
        return;
    /* The kernel ends it with a newline; a name may hold one too. */
    size_t l = strlen(tmp);
    if (l && tmp[l - 1] == '\n')
        tmp[l - 1] = '\0';
    size_t n = strnlen(tmp, SG_COMM_LEN - 1);
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

int sg_proc_alive(pid_t pid, uint64_t start)
{
    if (pid <= 0)
        return 0;
    uint64_t now = sg_proc_start_time(pid);
    if (now == 0) {
        if (access("/proc/self/stat", R_OK) != 0)
            return -1;
        return 0;
    }
    return sg_start_fits(now, start);
}

void sg_copy_tail(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len < n) {
        memcpy(dst, src, len + 1);
        return;
    }
    memcpy(dst, "...", 3);
    memcpy(dst + 3, src + len - (n - 4), n - 4);
    dst[n - 1] = '\0';
}

SG_COLD void sg_proc_self(struct sg_self *s)
{
    memset(s, 0, sizeof *s);
    s->pid = sg_sys_getpid();
    s->euid = sg_sys_geteuid();
    s->start = sg_proc_self_mark();
}

void sg_proc_self_names(struct sg_self *s)
{
    char exe[4096];
    if (s->names)
        return;
    s->names = 1;
    /* From /proc/self: in a pid namespace without a /proc of its own,
     * /proc/<getpid()> is somebody else (the host's pid 1 for a
     * container's init). */
    s->start_exact = sg_proc_self_start();
    sg_proc_comm(0, s->comm);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        sg_copy_tail(s->exe, sizeof s->exe, exe);
    }
}

uint64_t sg_proc_self_creator(struct sg_self *s)
{
    sg_proc_self_names(s);
    return s->start_exact ? s->start_exact : s->start;
}

SG_COLD int sg_fd_above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

uint64_t sg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t sg_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

SG_HOT uint64_t sg_coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

SG_HOT uint64_t sg_coarse_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- /proc/<pid>/maps: who maps which segment ---------------------------- */

int sg_maps_read(struct sg_maps *m, int pid)
{
    memset(m, 0, sizeof *m);
    m->pid = pid;
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    m->readable = 1;
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long start, end, off, ino;
        char perms[8], dev[32];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &off, dev, &ino,
                   &pos) < 6)
            continue;
        if (strncmp(line + pos, "/SYSV", 5) != 0)
            continue;
        if (m->n == cap) {
            cap = cap ? cap * 2 : 8;
            void *nv = realloc(m->v, cap * sizeof *m->v);
            if (!nv)
                break;
            m->v = nv;
        }
        m->v[m->n].addr = start;
        m->v[m->n].shmid = (long)ino;
        m->n++;
    }
    fclose(f);
    return 0;
}

void sg_maps_free(struct sg_maps *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}

int sg_maps_has(const struct sg_maps *m, uint64_t addr, long shmid)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].addr == addr && m->v[i].shmid == shmid)
            return 1;
    return 0;
}

