/*
 * sg_kernel.c - kernel facts about segments (see sg_kernel.h).
 */
#define _GNU_SOURCE
#include "sg_kernel.h"
#include "sg_compiler.h"
#include "sg_selfns.h"
#include "sg_real.h"
#include "sg_vec.h"

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

static int ksnap_push(struct sg_ksnap *s, size_t *cap, const struct sg_kseg *k)
{
    void *v = s->v;
    if (sg_grow(&v, cap, s->n, sizeof *k, 64) != 0)
        return -1;
    s->v = v;
    s->v[s->n++] = *k;
    return 0;
}

/* The kernel's table through SHM_STAT_ANY, one call per used index (Linux
 * 4.17 and later): much cheaper than having the kernel format
 * /proc/sysvipc/shm as text.  1 on success, 0 when unsupported. */
static int ksnap_stat_any(struct sg_ksnap *s)
{
    struct shm_info info;
    memset(&info, 0, sizeof info);
    int max = real_shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
    if (max < 0)
        return 0;
    size_t cap = 0;
    for (int idx = 0; idx <= max; idx++) {
        /* Zeroed: valgrind does not know that SHM_STAT_ANY fills it. */
        struct shmid_ds ds;
        memset(&ds, 0, sizeof ds);
        int id = real_shmctl(idx, SHM_STAT_ANY, &ds);
        if (id < 0) {
            if (errno == EINVAL || errno == EIDRM)
                continue; /* unused index (or removed meanwhile) */
            sg_ksnap_free(s);
            return 0; /* EFAULT, EPERM from an LSM, no SHM_STAT_ANY... */
        }
        struct sg_kseg k = {
            .key = ds.shm_perm.__key, .id = id, .mode = ds.shm_perm.mode,
            .size = ds.shm_segsz, .cpid = ds.shm_cpid, .lpid = ds.shm_lpid,
            .nattch = ds.shm_nattch, .uid = ds.shm_perm.uid, .gid = ds.shm_perm.gid,
            .cuid = ds.shm_perm.cuid, .cgid = ds.shm_perm.cgid, .atime = ds.shm_atime,
            .dtime = ds.shm_dtime, .ctime = ds.shm_ctime,
        };
        if (ksnap_push(s, &cap, &k) != 0) {
            sg_ksnap_free(s);
            return 0;
        }
    }
    return 1;
}

/* Parse one field of a /proc/sysvipc line: a decimal (or, base 8, octal)
 * integer, optionally negative.  Advances *p; 0 when there is none. */
static int field(const char **p, int base, long long *out)
{
    const char *q = *p;
    while (*q == ' ' || *q == '\t')
        q++;
    int neg = *q == '-';
    q += neg;
    if (*q < '0' || *q > '9')
        return 0;
    unsigned long long v = 0;
    for (; *q >= '0' && *q < '0' + base && *q <= '9'; q++)
        v = v * (unsigned)base + (unsigned)(*q - '0');
    *out = neg ? -(long long)v : (long long)v;
    *p = q;
    return 1;
}

static int ksnap_proc(struct sg_ksnap *s)
{
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
        long long v[16] = { 0 };
        const char *p = line;
        int n = 0;
        while (n < 16 && field(&p, n == 2 ? 8 : 10, &v[n]))
            n++;
        if (n < 14)
            continue;
        struct sg_kseg k = {
            .key = (int32_t)v[0], .id = (int32_t)v[1], .mode = (uint32_t)v[2],
            .size = (uint64_t)v[3], .cpid = (int32_t)v[4], .lpid = (int32_t)v[5],
            .nattch = (uint64_t)v[6], .uid = (uint32_t)v[7], .gid = (uint32_t)v[8],
            .cuid = (uint32_t)v[9], .cgid = (uint32_t)v[10], .atime = v[11],
            .dtime = v[12], .ctime = v[13], .rss = (uint64_t)v[14], .swap = (uint64_t)v[15],
        };
        if (ksnap_push(s, &cap, &k) != 0) {
            fclose(f);
            sg_ksnap_free(s);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int sg_ksnap_read(struct sg_ksnap *s)
{
    s->v = NULL;
    s->n = 0;
    if (!ksnap_stat_any(s) && ksnap_proc(s) != 0)
        return -1;
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

int sg_ipc_stat_any(int id, int (*stat_any)(int idx, void *arg), void *arg)
{
    /* *_STAT_ANY takes the table index, which is the id modulo the
     * sequence multiplier (32768, or 2^24 with ipcmni_extend); it returns
     * the full id, which must match. */
    static const int mult[] = { 32768, 1 << 24 };
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
        if (stat_any(id % mult[i], arg) == id)
            return 0;
    errno = EACCES;
    return -1;
}

static int shm_stat_any(int idx, void *ds) { return real_shmctl(idx, SHM_STAT_ANY, ds); }

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
