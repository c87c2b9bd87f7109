/*
 * sg_kernel.c - kernel facts about segments (see sg_kernel.h).
 */
#define _GNU_SOURCE
#include "sg_kernel.h"
#include "sg_compiler.h"
#include "sg_kipc.h"
#include "sg_selfns.h"
#include "sg_real.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(offsetof(struct sg_kseg, key) == offsetof(struct sg_kipc_head, key) &&
                   offsetof(struct sg_kseg, id) == offsetof(struct sg_kipc_head, id),
               "an entry begins with the key and the id (sg_kipc.h)");

static int shm_info_max(uint64_t *used)
{
    struct shm_info info;
    memset(&info, 0, sizeof info);
    int max = real_shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
    *used = (uint64_t)info.used_ids;
    return max;
}

static int shm_stat_any(int idx, void *ds) { return real_shmctl(idx, SHM_STAT_ANY, ds); }

static int shm_stat(int id, void *ds) { return real_shmctl(id, IPC_STAT, ds); }

static void shm_from_ds(void *entry, int id, const void *p)
{
    const struct shmid_ds *ds = p;
    *(struct sg_kseg *)entry = (struct sg_kseg){
        .key = ds->shm_perm.__key, .id = id, .mode = ds->shm_perm.mode,
        .size = ds->shm_segsz, .cpid = ds->shm_cpid, .lpid = ds->shm_lpid,
        .nattch = ds->shm_nattch, .uid = ds->shm_perm.uid, .gid = ds->shm_perm.gid,
        .cuid = ds->shm_perm.cuid, .cgid = ds->shm_perm.cgid, .atime = ds->shm_atime,
        .dtime = ds->shm_dtime, .ctime = ds->shm_ctime,
    };
}

/* key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime
 * ctime, then rss and swap where the kernel gives them. */
static void shm_from_proc(void *entry, const long long *v, int n)
{
    (void)n;
    *(struct sg_kseg *)entry = (struct sg_kseg){
        .key = (int32_t)v[0], .id = (int32_t)v[1], .mode = (uint32_t)v[2],
        .size = (uint64_t)v[3], .cpid = (int32_t)v[4], .lpid = (int32_t)v[5],
        .nattch = (uint64_t)v[6], .uid = (uint32_t)v[7], .gid = (uint32_t)v[8],
        .cuid = (uint32_t)v[9], .cgid = (uint32_t)v[10], .atime = v[11],
        .dtime = v[12], .ctime = v[13], .rss = (uint64_t)v[14], .swap = (uint64_t)v[15],
    };
}

const struct sg_kipc_kind sg_kipc_shm = {
    sizeof(struct sg_kseg), shm_info_max, shm_stat_any, shm_stat, shm_from_ds,
    "/proc/sysvipc/shm", 14, 16, shm_from_proc,
};

int sg_ksnap_read(struct sg_ksnap *s)
{
    void *v;
    int rc = sg_kipc_read(&sg_kipc_shm, &v, &s->n);
    s->v = v;
    return rc;
}

void sg_ksnap_free(struct sg_ksnap *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

const struct sg_kseg *sg_ksnap_find(const struct sg_ksnap *s, int id)
{
    return sg_kipc_find(s->v, s->n, sizeof *s->v, id);
}


int sg_kernel_stat(int id, struct shmid_ds *ds)
{
    if (real_shmctl(id, IPC_STAT, ds) == 0)
        return 0;
    if (errno != EACCES)
        return -1;
    return sg_ipc_stat_any(id, shm_stat_any, ds);
}

/* 1 if this process's user namespace owns its IPC namespace, which is
 * where CAP_SYS_ADMIN must be held for it to count. */
static int userns_owns_ipcns(void)
{
    struct stat own, mine;
    int fd = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ufd = ioctl(fd, NS_GET_USERNS);
    close(fd);
    if (ufd < 0)
        return errno == ENOTTY || errno == EINVAL; /* old kernel: assume */
    int ok = fstat(ufd, &own) == 0 && stat("/proc/self/ns/user", &mine) == 0 &&
             own.st_ino == mine.st_ino && own.st_dev == mine.st_dev;
    close(ufd);
    return ok;
}

/* When unsure, answer 0: the caller then passes the call to the kernel,
 * which gives the exact answer. */
static int have_cap_sys_admin(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) != 0)
        return 0;
    if (!((d[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1))
        return 0;
    return userns_owns_ipcns();
}

int sg_kernel_may_remove(const struct ipc_perm *perm)
{
    uid_t e = geteuid();
    if (e == perm->uid || e == perm->cuid)
        return 1;
    return have_cap_sys_admin();
}

SG_COLD uint64_t sg_ipcns_ino(void) { return sg_selfns_ino(SG_SELFNS_IPC); }

uint64_t sg_ipcmni_raise(uint64_t limit, uint64_t used, uint64_t *ceiling)
{
    char line[4096];
    int ext = 0;
    FILE *f = fopen("/proc/cmdline", "re");
    if (f) {
        if (fgets(line, sizeof line, f))
            ext = strstr(line, "ipcmni_extend") != NULL;
        fclose(f);
    }
    uint64_t ceil = ext ? 1ull << 24 : 32768;
    if (ceiling)
        *ceiling = ceil;
    uint64_t want = (limit > used ? limit : used) * 2;
    if (want < 16)
        want = 16;
    if (want > ceil)
        want = ceil;
    return want > limit ? want : 0;
}
