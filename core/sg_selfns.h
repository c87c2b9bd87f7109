/*
 * sg_selfns.h - this process's pid and IPC namespaces, by the inode
 * numbers /proc/self/ns/pid and /proc/self/ns/ipc show.
 *
 * From /proc/self/ns, which names the namespaces of the thread group
 * leader: the number in each link's target ("pid:[4026531836]"), or,
 * should a target have another form, the inode stat finds through it.
 *
 * A pidfd answers without /proc (PIDFD_GET_PID_NAMESPACE,
 * PIDFD_GET_IPC_NAMESPACE, Linux 6.11) and was measured 10 us faster on a
 * process's first call, but pidfd_open is a system call that a seccomp
 * allow-list written before it (one that kills on anything else) would
 * kill the host program for: the library makes none that its older
 * builds did not.
 */
#ifndef SG_SELFNS_H
#define SG_SELFNS_H

#include <stdint.h>

enum sg_selfns { SG_SELFNS_PID, SG_SELFNS_IPC };

/* The inode number of this process's namespace of that kind; 0 if /proc
 * does not answer.  Preserves errno; opens no descriptor. */
uint64_t sg_selfns_ino(enum sg_selfns which);

/* The same for the namespace link at path (such as /proc/1/ns/pid). */
uint64_t sg_ns_ino_at(const char *path);

#endif
