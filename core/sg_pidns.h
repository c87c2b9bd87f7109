/*
 * sg_pidns.h - pid namespaces: whose "dead" a reader can prove.
 *
 * Pid namespaces may share one IPC namespace and one ledger (a pod's
 * containers, docker --ipc=host): a pid means something only in its
 * namespace.  So every record of a process carries its pid namespace
 * (the inode of /proc/PID/ns/pid), read from the process itself, and the
 * ledger keeps each namespace's ancestors (sg_pidns table).  A reader
 * judges a record against the /proc it can read (its "view": the pid
 * namespace that /proc shows, which without a /proc of its own is an
 * ancestor's):
 *   - same namespace as the view: /proc/PID and the start time decide;
 *   - a namespace the view is an ancestor of (the view is the initial
 *     pid namespace, which is above every other; or the ledger's table
 *     says so; or the view shows one of its processes): the view sees
 *     every one of its processes; the one whose innermost pid (NSpid) is
 *     PID, in that namespace, with that start time, is alive, and none
 *     means dead (also once the namespace is gone);
 *   - anything else (a sibling, a parent, an unknown chain, a /proc it may
 *     not read): not visible, which counts as alive for every decision.
 * A pid the kernel reports as 0 (its process is not in the reader's pid
 * namespace) is never dead either.
 */
#ifndef SG_PIDNS_H
#define SG_PIDNS_H

#include <stdint.h>
#include <sys/types.h>

#include "sg_layout.h"

/* sg_proc_alive_ns: the process lives in a pid namespace this reader
 * cannot see into (counts as alive). */
#define SG_ALIVE_HIDDEN 2

/* This process's pid namespace (inode; 0 when /proc cannot tell).
 * Recomputed after fork (a child may be in a new namespace): cached with
 * the pid it was read for, which sg_pidns_self reads each time and
 * sg_pidns_self_as takes from a caller that has just read it (a system
 * call fewer on a process's first call). */
uint32_t sg_pidns_self(void);
uint32_t sg_pidns_self_as(pid_t me);

/* The pid namespace the mounted /proc shows (0: unknown). */
uint32_t sg_pidns_view(void);

/* 1 if the mounted /proc is this process's own pid namespace's, so that
 * the pids the kernel gives it (a queue's last sender, a semaphore's last
 * operator) name the processes /proc shows; 0 without /proc, or when it
 * shows another namespace (nothing about those pids can be proved). */
int sg_pidns_proc_own(void);

/* The ancestors of this process's namespace that it can name, into anc
 * (at most max); returns how many: the namespace its /proc shows, when
 * that is not its own (NS_GET_PARENT names none above the caller's). */
int sg_pidns_ancestors(uint32_t *anc, int max);

/* Learn namespace chains from the table (n entries) of a ledger owned by
 * uid owner, so that sg_proc_alive_ns can place the namespaces its
 * records name.  A chain is what lets a reader call an unseen process
 * dead, so only the tables of root's ledgers and of the reader's own
 * euid are learned: another uid could write any chain into its own file.
 * Thread-safe; the registry keeps the first 256 namespaces. */
void sg_pidns_learn(const struct sg_pidns *tab, uint32_t n, uid_t owner);

/* In a forked child: the registry's spin lock (held by a thread that
 * does not exist in the child) is free. */
void sg_pidns_after_fork_child(void);

/* Liveness of the process (pid, start) of pid namespace ns as this
 * reader can prove it: 1 alive, 0 dead, -1 unknown (no /proc),
 * SG_ALIVE_HIDDEN not visible from here.  ns 0: the reader's own view
 * (as sg_proc_alive).  pid <= 0 with ns != 0 is never dead. */
int sg_proc_alive_ns(pid_t pid, uint64_t start, uint32_t ns);

/* The reader's mapping of processes in other namespaces is read once
 * per session: sg_pidns_rescan() starts a new one (the tool, before each
 * analysis; never needed in the library, which does not cache). */
void sg_pidns_cache(int on);
void sg_pidns_rescan(void);

/* The pid that the process (pid, start) of namespace ns has in this
 * reader's /proc, for people to act on (kill, /proc/PID): pid itself in
 * the view's own namespace, 0 when it is not visible from here. */
pid_t sg_pidns_translate(pid_t pid, uint64_t start, uint32_t ns);

#endif
