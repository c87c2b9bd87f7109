/*
 * sg_creds.c - leave the ledger when a credential change crosses a
 * privilege boundary (see sg_creds.h).
 */
#define _GNU_SOURCE
#include "sg_creds.h"
#include "sg_core.h"
#include "sg_real.h"
#include "sg_state.h"

#include <errno.h>
#include <unistd.h>

int sg_creds_keep(uid_t owner, uid_t ruid, uid_t euid, uid_t suid)
{
    return ruid == owner || euid == owner || suid == owner;
}

/* After a successful change (errno is the caller's again on return). */
static int after(int r)
{
    if (r != 0 || !__atomic_load_n(&sg_st.active, __ATOMIC_ACQUIRE))
        return r;
    int saved = errno;
    uid_t ru, eu, su;
    if (getresuid(&ru, &eu, &su) == 0 && !sg_creds_keep(sg_st.L.owner, ru, eu, su)) {
        sg_in_hook = 1;
        sg_core_rehome();
        sg_in_hook = 0;
    }
    errno = saved;
    return r;
}

int sg_setuid(uid_t uid) { return after(real_setuid(uid)); }
int sg_seteuid(uid_t euid) { return after(real_seteuid(euid)); }
int sg_setreuid(uid_t ruid, uid_t euid) { return after(real_setreuid(ruid, euid)); }
int sg_setresuid(uid_t ruid, uid_t euid, uid_t suid) { return after(real_setresuid(ruid, euid, suid)); }
int sg_setgid(gid_t gid) { return after(real_setgid(gid)); }
int sg_setegid(gid_t egid) { return after(real_setegid(egid)); }
int sg_setregid(gid_t rgid, gid_t egid) { return after(real_setregid(rgid, egid)); }
int sg_setresgid(gid_t rgid, gid_t egid, gid_t sgid) { return after(real_setresgid(rgid, egid, sgid)); }
int sg_setgroups(size_t n, const gid_t *list) { return after(real_setgroups(n, list)); }
