/*
 * sg_selfns.h - this process's pid and IPC namespaces, by the inode
 * numbers /proc/self/ns/pid and /proc/self/ns/ipc show.
 *
 * Asked of a pidfd of the process first (PIDFD_GET_PID_NAMESPACE,
 * PIDFD_GET_IPC_NAMESPACE, Linux 6.11): no /proc access, whose first one
 * in a process costs about 20 us, the most of any step of the library's
 * first call.  Elsewhere (an older kernel, a seccomp filter refusing
 * pidfd_open, descriptors 0-2 closed) from /proc/self/ns.  Both name the
 * namespaces of the thread group leader.
 */
#ifndef SG_SELFNS_H
#define SG_SELFNS_H

#include <stdint.h>

enum sg_selfns { SG_SELFNS_PID, SG_SELFNS_IPC };

/* The inode number of this process's namespace of that kind; 0 if
 * neither way answers.  Preserves errno; no descriptor outlives the call
 * (two are open during it, never one of 0-2). */
uint64_t sg_selfns_ino(enum sg_selfns which);

#endif
