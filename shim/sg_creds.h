/*
 * sg_creds.h - credential changes: a privilege boundary is a ledger
 * boundary.
 *
 * A process maps the ledger of its euid read-write.  When it gives up
 * that uid for good (httpd's workers: setgid, initgroups, setuid from
 * root to www-data), whatever runs in it afterwards must not be able to
 * write the old uid's ledger: it could make that uid's processes remove
 * segments or crash them.  So every libc call that changes credentials
 * (the set*uid and set*gid families and setgroups, which glibc applies to
 * every thread) is intercepted; when, after it, none of the real,
 * effective and saved uids is the ledger's owner any more, the process
 * leaves that ledger and records into its new euid's (sg_core_rehome).
 * A process that keeps the owner's uid as its saved uid (seteuid) can
 * take it back: it has crossed no boundary and keeps its ledger.
 *
 * A credential change made by a raw system call (syscall(2), or a
 * statically linked program) is not seen: such a process keeps its
 * mapping, as it keeps everything else it had.
 *
 * Each function returns exactly what libc returns, with its errno.
 */
#ifndef SG_CREDS_H
#define SG_CREDS_H

#include <sys/types.h>

int sg_setuid(uid_t uid);
int sg_seteuid(uid_t euid);
int sg_setreuid(uid_t ruid, uid_t euid);
int sg_setresuid(uid_t ruid, uid_t euid, uid_t suid);
int sg_setgid(gid_t gid);
int sg_setegid(gid_t egid);
int sg_setregid(gid_t rgid, gid_t egid);
int sg_setresgid(gid_t rgid, gid_t egid, gid_t sgid);
int sg_setgroups(size_t n, const gid_t *list);

/* 1 if a process with these uids may still open a ledger of uid owner
 * for writing, itself or after taking the uid back (pure; tests). */
int sg_creds_keep(uid_t owner, uid_t ruid, uid_t euid, uid_t suid);

#endif
