/*
 * sg_proc.c - read process identity from /proc (see sg_proc.h).
 */
#define _GNU_SOURCE
#include "sg_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

uint64_t sg_proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pid <= 0 || read_small(path, buf, sizeof buf) <= 0)
        return 0;
    /* comm may contain spaces and ')': fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    /* After ')' come fields 3.. ; starttime is field 22, i.e. the 20th. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return 0;
    }
    return strtoull(p + 1, NULL, 10);
}

void sg_proc_comm(pid_t pid, char *buf)
{
    char path[64], tmp[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    buf[0] = '\0';
    if (read_small(path, tmp, sizeof tmp) <= 0)
        return;
    tmp[strcspn(tmp, "\n")] = '\0';
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
    return start == 0 || now == start;
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

void sg_proc_self(struct sg_self *s)
{
    char exe[4096];
    memset(s, 0, sizeof *s);
    s->pid = getpid();
    s->euid = geteuid();
    s->start = sg_proc_start_time(s->pid);
    sg_proc_comm(s->pid, s->comm);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        sg_copy_tail(s->exe, sizeof s->exe, exe);
    }
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

uint64_t sg_coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t sg_coarse_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
