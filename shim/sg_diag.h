/*
 * sg_diag.h - say why a shmget or semget failed when the cause is an IPC
 * limit.
 *
 * "No space left on device" from shmget is never a full disk: it is
 * kernel.shmmni (segments) or kernel.shmall (pages) exhausted.  The
 * message names the call, the limit and its usage, the largest holders,
 * the orphans and the commands that free them or raise the limit.  The
 * same for EINVAL from kernel.shmmax/shmmin or a key whose segment is
 * smaller than asked, and for EEXIST when the key's holder is an orphan.
 * Other errors are only mentioned at SHMGUARD_DEBUG >= 1.
 *
 * Runs only after a call has failed, never under the ledger lock while it
 * reads /proc, and never changes errno.  Messages are rate-limited across
 * all processes sharing the ledger (a crash loop is many processes).
 */
#ifndef SG_DIAG_H
#define SG_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sg_ledger;

/* Compose the diagnosis of a failed shmget(key, size, flg) with errno
 * err into buf (one message, lines separated by '\n', no trailing
 * newline).  own: this process's ledger (NULL: kernel facts only).
 * Returns 1 if there is something to say at debug level `debug`, 0 if
 * the failure is not worth a message. */
int sg_diag_compose(char *buf, size_t n, key_t key, size_t size, int flg, int err,
                    const struct sg_ledger *own, int debug);

/* Which IPC limit made shmget(key, size) fail with err, found with a few
 * syscalls: an SG_LIM_* class, with the limit's usage and value in
 * *used and *max; -1 when the failure is not a limit error. */
int sg_diag_classify(key_t key, size_t size, int err, uint64_t *used, uint64_t *max);

/* In a fork child: the try-locks another thread of the parent held are
 * free (sg_locks.h, 4). */
void sg_diag_after_fork_child(void);

/* The composing flag (sg_locks.h, 4): enter returns 1 when taken, 0 when
 * another thread composes (never waits); leave gives it back. */
int sg_diag_enter(void);
void sg_diag_leave(void);

/* Called by the library after shmget failed with err (caller: the
 * program's return address): keep limit failures in the ledger's event
 * ring, and log the diagnosis if it is worth one and the rate limit
 * allows.  errno is preserved. */
void sg_diag_shmget(key_t key, size_t size, int flg, int err, const void *caller);

/* The same for semget(key, nsems, flg): kernel.sem's SEMMNI (sets) and
 * SEMMNS (semaphores) for ENOSPC, SEMMSL or a key whose set has fewer
 * semaphores for EINVAL, an orphaned holder for EEXIST. */
int sg_diag_compose_sem(char *buf, size_t n, key_t key, int nsems, int flg, int err,
                        const struct sg_ledger *own, int debug);
int sg_diag_classify_sem(key_t key, int nsems, int err, uint64_t *used, uint64_t *max);
void sg_diag_semget(key_t key, int nsems, int flg, int err, const void *caller);

/* The same for a failed msgget(key, flg) (sg_diag_msg.c composes it):
 * ENOSPC from kernel.msgmni: its use, the owners and what their queues
 * hold, the queues proved orphaned by the records of own (and the
 * command that frees them), and the sysctl. */
int sg_diag_compose_msg(char *buf, size_t n, key_t key, int flg, int err,
                        const struct sg_ledger *own, int debug);
int sg_diag_classify_msg(int err, uint64_t *used, uint64_t *max);
void sg_diag_msgget(key_t key, int flg, int err, const void *caller);

#endif
