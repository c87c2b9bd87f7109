/*
 * tool_dead.c - whether a process the ledger recorded is provably dead,
 * the one fact gc's decisions for segments (tool_gc.c) and semaphore
 * sets (tool_gc_sem.c) both rest on; kept apart so that neither file
 * calls into the other's.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "sg_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether the process (pid, start) is dead.  1: no process has pid; or
 * the pid names a zombie (it exited and detached everything; its pid is
 * not free until it is reaped); or, with start != 0, a process that
 * started after that time (the pid was reused; start is a start time or
 * a start mark, sg_proc.h).  0: alive (with start 0:
 * some process has that pid, maybe the creator).  -1: cannot tell (pid 0,
 * i.e. not in this pid namespace, or /proc/PID/stat cannot be read).
 * When dead, *how (may be NULL) says which of the three it was. */
int gc_dead(int32_t pid, uint64_t start, uint32_t ns, const char **how)
{
    const char *dummy;
    if (!how)
        how = &dummy;
    /* With a start time the ledger recorded the creator itself: it is the
     * one that exited. */
    *how = start ? "it exited (no process has that pid now)" : "no process has that pid";
    if (pid <= 0) {
        *how = "not in this pid namespace";
        return -1;
    }
    uint32_t self = sg_pidns_self();
    if (ns && (ns != self || sg_pidns_view() != self)) {
        /* Another pid namespace, or a /proc of another: only what this
         * view can prove (sg_pidns.h). */
        int a = sg_proc_alive_ns(pid, start, ns);
        if (a == 0)
            *how = "no process of its pid namespace has that pid and start time";
        else if (a == SG_ALIVE_HIDDEN)
            *how = "it lives in a pid namespace not visible from here";
        return a == 0 ? 1 : a == 1 ? 0 : -1;
    }
    /* kill(0) sees every pid, also where /proc hides other users' ones. */
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    char *p = n > 0 ? (buf[n] = '\0', strrchr(buf, ')')) : NULL;
    if (!p || p[1] != ' ')
        return kill(pid, 0) != 0 && errno == ESRCH ? 1 : -1;
    if (p[2] == 'Z' || p[2] == 'X') {
        *how = "it exited and waits to be reaped (a zombie)";
        return 1;
    }
    /* After ')' come fields 3..; the start time is field 22. */
    for (int field = 3; field <= 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    uint64_t now = strtoull(p + 1, NULL, 10);
    if (!sg_start_fits(now, start)) {
        *how = "the pid now names another process, which started later";
        return 1;
    }
    return 0;
}
