/*
 * sg_selfns.c - this process's namespace identities (see sg_selfns.h).
 */
#define _GNU_SOURCE
#include "sg_selfns.h"
#include "sg_compiler.h"
#include "sg_sys.h"

#include <errno.h>

/* The number in a namespace link's target, "pid:[4026531836]"; 0 if it
 * has no such form. */
SG_COLD static uint64_t link_ino(const char *t, ssize_t n)
{
    uint64_t v = 0;
    ssize_t i = 0;
    while (i < n && t[i] != '[')
        i++;
    if (++i >= n || t[i] < '0' || t[i] > '9')
        return 0;
    for (; i < n && t[i] >= '0' && t[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(t[i] - '0');
    return i < n && t[i] == ']' ? v : 0;
}

SG_COLD SG_COLD uint64_t sg_ns_ino_at(const char *path)
{
    /* The link's target names the namespace's inode: reading it spares
     * following it into nsfs, 1-2 us of a process's first call. */
    char t[64];
    ssize_t n = sg_sys_readlink(path, t, sizeof t);
    uint64_t ino = n > 0 && n < (ssize_t)sizeof t ? link_ino(t, n) : 0;
    if (!ino) {
        struct stat st;
        if (sg_sys_stat(path, &st) == 0)
            ino = (uint64_t)st.st_ino;
    }
    return ino;
}

uint64_t sg_selfns_ino(enum sg_selfns which)
{
    int saved = errno;
    int pid = which == SG_SELFNS_PID;
    uint64_t ino = sg_ns_ino_at(pid ? "/proc/self/ns/pid" : "/proc/self/ns/ipc");
    /* The thread group's leader has exited (pthread_exit in main): its
     * links are gone; the calling thread's own are the same namespaces. */
    if (!ino)
        ino = sg_ns_ino_at(pid ? "/proc/thread-self/ns/pid" : "/proc/thread-self/ns/ipc");
    errno = saved;
    return ino;
}
