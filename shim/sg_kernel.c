/*
 * sg_kernel.c - kernel facts about segments (see sg_kernel.h).
 */
#define _GNU_SOURCE
#include "sg_kernel.h"
#include "sg_real.h"

#include <errno.h>
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

static int cmp_id(const void *a, const void *b)
{
    const struct sg_kseg *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

int sg_ksnap_read(struct sg_ksnap *s)
{
    s->v = NULL;
    s->n = 0;
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    if (!f)
        return -1;
    size_t cap = 0;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* heading */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        struct sg_kseg k;
        memset(&k, 0, sizeof k);
        long long key;
        unsigned long long size, nattch, rss = 0, swap = 0;
        long long at, dt, ct;
        int n = sscanf(line, "%lld %d %o %llu %d %d %llu %u %u %u %u %lld %lld %lld %llu %llu",
                       &key, &k.id, &k.mode, &size, &k.cpid, &k.lpid, &nattch, &k.uid,
                       &k.gid, &k.cuid, &k.cgid, &at, &dt, &ct, &rss, &swap);
        if (n < 14)
            continue;
        k.key = (int32_t)key;
        k.size = size;
        k.nattch = nattch;
        k.atime = at;
        k.dtime = dt;
        k.ctime = ct;
        k.rss = rss;
        k.swap = swap;
        if (s->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct sg_kseg *nv = realloc(s->v, nc * sizeof *nv);
            if (!nv) {
                fclose(f);
                sg_ksnap_free(s);
                errno = ENOMEM;
                return -1;
            }
            s->v = nv;
            cap = nc;
        }
        s->v[s->n++] = k;
    }
    fclose(f);
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_id);
    return 0;
}

void sg_ksnap_free(struct sg_ksnap *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

const struct sg_kseg *sg_ksnap_find(const struct sg_ksnap *s, int id)
{
    struct sg_kseg key = { .id = id };
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, cmp_id) : NULL;
}

int sg_kernel_stat(int id, struct shmid_ds *ds)
{
    if (real_shmctl(id, IPC_STAT, ds) == 0)
        return 0;
    if (errno != EACCES)
        return -1;
    /* No read permission: SHM_STAT_ANY takes the table index, which is the
     * id modulo the sequence multiplier (32768, or 2^24 with
     * ipcmni_extend); it returns the full id, which must match. */
    static const int mult[] = { 32768, 1 << 24 };
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++) {
        int got = real_shmctl(id % mult[i], SHM_STAT_ANY, ds);
        if (got == id)
            return 0;
    }
    errno = EACCES;
    return -1;
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

uint64_t sg_ipcns_ino(void)
{
    struct stat st;
    if (stat("/proc/self/ns/ipc", &st) != 0)
        return 0;
    return (uint64_t)st.st_ino;
}
