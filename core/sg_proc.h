/*
 * sg_proc.h - process identity: pid plus start time, command, executable.
 *
 * A pid alone can be reused; a pid with a time in clock ticks since boot
 * (the unit of field 22 of /proc/<pid>/stat, the start time) names one
 * process for its whole life, and is what every ledger record stores.
 * The time is either the process's start time (a creator's record) or a
 * start mark (SG_START_MARK set): the clock read at a moment the process
 * was alive, no earlier than its start (sg_proc_self_mark: no /proc
 * access).  A start time names the process with that pid that started
 * then; a mark, the one with that pid that started no later than the
 * mark (sg_start_fits): a process holds its pid from its start to its
 * end, so a process with that pid that started by then held it then.
 * All functions preserve nothing of errno unless stated: callers save
 * and restore it.
 */
#ifndef SG_PROC_H
#define SG_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "sg_layout.h"

struct sg_self {
    pid_t pid;
    uint64_t start;             /* start mark, clock ticks since boot */
    uint64_t start_exact;       /* start time (sg_proc_self_names), 0 until read */
    uint32_t pidns;             /* pid namespace (inode), sg_pidns.h */
    uid_t euid;
    int names;                  /* comm and exe filled (sg_proc_self_names) */
    char comm[SG_COMM_LEN];
    char exe[SG_PATH_LEN];
};

/* Start time of pid; 0 if the process does not exist, is unreadable, or
 * has exited and waits to be reaped (a zombie: for every purpose here it
 * is dead, and its pid cannot be reused until it is reaped). */
uint64_t sg_proc_start_time(pid_t pid);

/* This process's start time (from /proc/self, whichever namespace /proc
 * shows). */
uint64_t sg_proc_self_start(void);

/* This process's start mark: CLOCK_BOOTTIME now (the kernel's, one
 * system call: no clock faker moves it), in clock ticks, with
 * SG_START_MARK; its start time if the clock cannot be read.  A process's
 * first intercepted call and every forked child need an identity, and
 * reading the start time was the process's first /proc access: 20 us. */
uint64_t sg_proc_self_mark(void);

/* Set in a start mark (sg_proc.h's opening); clock ticks since boot stay
 * far below it. */
#define SG_START_MARK (1ull << 63)

/* The clock ticks of a start time or start mark. */
static inline uint64_t sg_start_ticks(uint64_t t) { return t & ~SG_START_MARK; }

/* 1 if a process that /proc shows started at `actual` is the one a
 * record names with time `t`: its start time, or a start mark it fits (0:
 * unknown, any process with the pid).  Rounding both to clock ticks keeps
 * the start at or before the mark.  A pid reused within the same tick as
 * a mark looks alive: the safe side, nothing is removed for it. */
static inline int sg_start_fits(uint64_t actual, uint64_t t)
{
    if (t & SG_START_MARK)
        return actual <= sg_start_ticks(t);
    return t == 0 || actual == t;
}

/* A start time (clock ticks since boot) as seconds since the epoch,
 * rounded down; 0 if unknown.  Boot time is read once. */
int64_t sg_proc_start_epoch(uint64_t start);

/* Command name (comm) of pid (0: this process) into buf (size
 * SG_COMM_LEN); "" if unknown. */
void sg_proc_comm(pid_t pid, char *buf);

/* Liveness of the process (pid, start), start being a start time or a
 * start mark: 1 alive, 0 dead (or the pid now names a process that
 * started later), -1 unknown (no /proc). */
int sg_proc_alive(pid_t pid, uint64_t start);

/* Fill *s with this process's identity (pid, euid, its start mark), all
 * but pidns, which the caller sets (sg_pidns_self; sg_pidns.c is above
 * this file: it asks sg_proc whether a process lives), and the start time
 * and names (comm, exe), left empty: three /proc look-ups that only a
 * creation record or an event needs (sg_proc_self_names). */
void sg_proc_self(struct sg_self *s);

/* Fill s->start_exact (its start time, /proc/self/stat), s->comm (the
 * process's name, /proc/self/comm: its main thread's) and s->exe
 * (/proc/self/exe) once.  Not thread-safe: the library calls
 * it under the ledger lock. */
void sg_proc_self_names(struct sg_self *s);

/* The time a creation record of this process stores: its start time
 * (filling the names too, sg_proc_self_names), or its start mark when
 * /proc cannot tell.  Not thread-safe, as sg_proc_self_names. */
uint64_t sg_proc_self_creator(struct sg_self *s);

/* Copy src into a fixed field of n bytes, NUL-terminated; when too long,
 * keep the tail (the informative end of a path) behind "...". */
void sg_copy_tail(char *dst, size_t n, const char *src);

/* The System V mappings of one process, from /proc/<pid>/maps: a SysV
 * mapping is named /SYSV<key> and its inode field is the shmid. */
struct sg_maps {
    int pid;
    size_t n;
    struct { uint64_t addr; long shmid; } *v;
    int readable;               /* 0: maps could not be read (gone, hidepid) */
};
/* 0 on success; -1 (readable = 0) when the file cannot be read. */
int sg_maps_read(struct sg_maps *m, int pid);
void sg_maps_free(struct sg_maps *m);
/* 1 if the process maps shmid at addr. */
int sg_maps_has(const struct sg_maps *m, uint64_t addr, long shmid);

/* fd, moved to a number above 2 (closing fd) when it is 0, 1 or 2, so
 * that a descriptor the library keeps is never taken for the program's
 * stdin, stdout or stderr; -1 (fd closed) when it cannot be moved. */
int sg_fd_above_stdio(int fd);

/* CLOCK_REALTIME and CLOCK_MONOTONIC in nanoseconds. */
uint64_t sg_now_ns(void);
uint64_t sg_mono_ns(void);
/* The same at the clock tick's resolution (a few ms), much cheaper: for
 * timestamps that people read and timeouts of seconds. */
uint64_t sg_coarse_now_ns(void);
uint64_t sg_coarse_mono_ns(void);

#endif
