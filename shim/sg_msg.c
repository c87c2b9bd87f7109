/*
 * sg_msg.c - msgget/msgsnd/msgrcv/msgctl (see sg_msg.h): the creator
 * and the users of each queue recorded, and a failed msgget diagnosed,
 * through sg_use.h.
 */
#define _GNU_SOURCE
#include "sg_msg.h"
#include "sg_real.h"
#include "sg_state.h"
#include "sg_use.h"

#include <errno.h>

SG_BODY int msgget_body(key_t key, int flg, const void *caller)
{
    return sg_use_getcall(SG_KIND_MSG, key, 0, flg, caller);
}

int sg_msgget(key_t key, int flg, const void *caller)
{
    sg_in_hook = 1;
    int r = msgget_body(key, flg, caller);
    sg_in_hook = 0;
    return r;
}

/* msgsnd and msgrcv are the hot paths: after a process's first use of a
 * queue, a lock-free scan of its short list, then libc's call,
 * tail-called with no lock held and the guard clear, as from the program
 * itself (the first use is recorded before the call, which may block). */
int sg_msgsnd(int id, const void *msgp, size_t size, int flg)
{
    if (__atomic_load_n(&sg_st.active, __ATOMIC_RELAXED) && !sg_use_has(SG_KIND_MSG, id))
        sg_use_by_id(SG_KIND_MSG, id);
    return real_msgsnd(id, msgp, size, flg);
}

ssize_t sg_msgrcv(int id, void *msgp, size_t size, long type, int flg)
{
    if (__atomic_load_n(&sg_st.active, __ATOMIC_RELAXED) && !sg_use_has(SG_KIND_MSG, id))
        sg_use_by_id(SG_KIND_MSG, id);
    return real_msgrcv(id, msgp, size, type, flg);
}

SG_BODY int msgctl_body(int id, int cmd, struct msqid_ds *buf)
{
    if (!sg_st.active)
        return real_msgctl(id, cmd, buf);
    int e0 = errno;
    int c = cmd & ~0x100; /* IPC_64 */
    /* Changing a queue is what a user does (observers only read). */
    if (c == IPC_SET && !sg_use_has(SG_KIND_MSG, id))
        sg_use_by_id(SG_KIND_MSG, id);
    int r = real_msgctl(id, cmd, buf);
    int e = errno;
    /* Gone: removed here, or a call on the id says so (EIDRM; EINVAL
     * from a command that names a queue, not from an unknown command). */
    if ((c == IPC_RMID && r == 0) ||
        (r < 0 && (e == EIDRM || (e == EINVAL && (c == IPC_STAT || c == IPC_SET || c == IPC_RMID))) &&
         sg_use_has(SG_KIND_MSG, id)))
        sg_use_forget(SG_KIND_MSG, id);
    errno = r >= 0 ? e0 : e;
    return r;
}

int sg_msgctl(int id, int cmd, struct msqid_ds *buf)
{
    sg_in_hook = 1;
    int r = msgctl_body(id, cmd, buf);
    sg_in_hook = 0;
    return r;
}
