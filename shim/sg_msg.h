/*
 * sg_msg.h - msgget: a failure on an IPC limit explained.
 *
 * Message queues are the third System V IPC type.  The library does not
 * record them yet (no creator, no users in the ledger): it interposes
 * msgget only to say why it failed when the cause is kernel.msgmni ("No
 * space left on device" again), and to keep that failure in the ledger's
 * event ring, where `shmguard check` and `doctor` find it.  The call's
 * result and errno are libc's, unchanged.
 */
#ifndef SG_MSG_H
#define SG_MSG_H

#include <sys/types.h>

/* After msgget(key, flg) failed with err: the diagnosis (sg_diag.h)
 * unless the mode is off; returns -1 with errno err.  caller: the call
 * site. */
int sg_msgget_failed(key_t key, int flg, int err, const void *caller);

#endif
