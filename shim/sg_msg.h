/*
 * sg_msg.h - the logic behind the message queue hooks: ownership of
 * System V message queues (who created each, who uses it: sg_use.h),
 * and the diagnosis of a msgget that failed on an IPC limit, with no
 * change of behaviour.
 *
 * The kernel keeps no creator pid for a queue, only the pids of its last
 * sender and last receiver: the ledger records its creator (pid, start
 * time, command, uid, call site) and every process that looked it up,
 * inherited it, sent to it, received from it or changed it (IPC_SET).
 * Queues have no attach: IPC_RMID is never deferred; when it succeeds the
 * records go.
 *
 * Every function returns exactly what libc returns, with the same errno
 * and the same kernel effect; the only extra system calls are an
 * IPC_EXCL attempt before a msgget(IPC_CREAT) of a key (to know whether
 * this call created the queue: it has no effect when the key exists), an
 * IPC_STAT the first time a process uses a queue, and one after a
 * successful IPC_RMID.  A failed msgget whose cause is kernel.msgmni is
 * explained on the log (sg_diag.h) and kept in the ledger's event ring.
 */
#ifndef SG_MSG_H
#define SG_MSG_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/msg.h>

int sg_msgget(key_t key, int flg, const void *caller);
int sg_msgsnd(int id, const void *msgp, size_t size, int flg);
ssize_t sg_msgrcv(int id, void *msgp, size_t size, long type, int flg);
int sg_msgctl(int id, int cmd, struct msqid_ds *buf);

#endif
