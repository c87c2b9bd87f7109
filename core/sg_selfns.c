/*
 * sg_selfns.c - this process's namespace identities (see sg_selfns.h).
 */
#define _GNU_SOURCE
#include "sg_selfns.h"

#include "sg_sys.h"

#include <errno.h>
#include <sys/ioctl.h>

/* linux/pidfd.h of Linux 6.11; older headers lack them. */
#define SG_PIDFS_IOCTL_MAGIC 0xFF
#define SG_PIDFD_GET_IPC_NAMESPACE _IO(SG_PIDFS_IOCTL_MAGIC, 2)
#define SG_PIDFD_GET_PID_NAMESPACE _IO(SG_PIDFS_IOCTL_MAGIC, 5)

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The namespace through a pidfd, 0 when that way does not answer.  A
 * descriptor that lands on 0-2 (the program closed its stdio) is closed
 * at once and the answer taken from /proc instead: none of the library's
 * descriptors may sit where the program expects its own. */
static uint64_t via_pidfd(unsigned long req)
{
    int pfd = (int)syscall(SYS_pidfd_open, sg_sys_getpid(), 0);
    if (pfd < 0)
        return 0;
    uint64_t ino = 0;
    if (pfd > 2) {
        int nfd = sg_sys_ioctl(pfd, req);
        struct stat st;
        if (nfd > 2 && sg_sys_fstat(nfd, &st) == 0)
            ino = (uint64_t)st.st_ino;
        if (nfd >= 0)
            sg_sys_close(nfd);
    }
    sg_sys_close(pfd);
    return ino;
}

uint64_t sg_selfns_ino(enum sg_selfns which)
{
    int saved = errno;
    int pid = which == SG_SELFNS_PID;
    uint64_t ino = via_pidfd(pid ? SG_PIDFD_GET_PID_NAMESPACE : SG_PIDFD_GET_IPC_NAMESPACE);
    struct stat st;
    if (!ino && stat(pid ? "/proc/self/ns/pid" : "/proc/self/ns/ipc", &st) == 0)
        ino = (uint64_t)st.st_ino;
    errno = saved;
    return ino;
}
