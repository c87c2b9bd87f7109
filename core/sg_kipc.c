/*
 * sg_kipc.c - the kernel's table of one kind of System V object, read the
 * same way for each kind (see sg_kipc.h).
 */
#define _GNU_SOURCE
#include "sg_kipc.h"
#include "sg_vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* Room for any kind's *id_ds. */
union kds {
    struct shmid_ds shm;
    struct semid_ds sem;
    struct msqid_ds msg;
};

static int cmp_id(const void *a, const void *b)
{
    const struct sg_kipc_head *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Room for entry *n + 1 of size bytes in *v: its address, or NULL. */
static void *next_slot(void **v, size_t *n, size_t *cap, size_t size)
{
    if (sg_grow(v, cap, *n, size, 64) != 0)
        return NULL;
    return (unsigned char *)*v + (*n)++ * size;
}

/* Through *_STAT_ANY, one call per used index.  1 done; 0 when it cannot
 * be read that way (the caller then reads /proc), with nothing kept. */
static int read_stat_any(const struct sg_kipc_kind *k, void **v, size_t *n)
{
    uint64_t used = 0;
    int max = k->info(&used);
    if (max < 0)
        return 0;
    size_t cap = 0;
    int failed = 0;
    for (int idx = 0; idx <= max && !failed; idx++) {
        /* Zeroed: valgrind does not know that *_STAT_ANY fills it. */
        union kds ds;
        memset(&ds, 0, sizeof ds);
        int id = k->stat_any(idx, &ds);
        if (id < 0) {
            /* EINVAL or EIDRM: an unused index (or removed meanwhile);
             * else EFAULT, EPERM from an LSM, ... */
            failed = errno != EINVAL && errno != EIDRM;
            continue;
        }
        void *e = next_slot(v, n, &cap, k->size);
        if (e)
            k->from_ds(e, id, &ds);
        else
            failed = 1;
    }
    /* None found while some are in use: every index answered EINVAL, a
     * kernel without *_STAT_ANY (before Linux 4.17). */
    if (failed || (*n == 0 && used > 0)) {
        free(*v);
        *v = NULL;
        *n = 0;
        return 0;
    }
    return 1;
}

/* Parse one field of a /proc/sysvipc line: a decimal (or, base 8, octal)
 * integer, optionally negative.  Advances *p; 0 when there is none.  By
 * hand: sscanf over 32,000 lines cost `shmguard ls` a tenth of its time. */
static int field(const char **p, int base, long long *out)
{
    const char *q = *p;
    while (*q == ' ' || *q == '\t')
        q++;
    int neg = *q == '-';
    q += neg;
    if (*q < '0' || *q > '9')
        return 0;
    unsigned long long val = 0;
    for (; *q >= '0' && *q < '0' + base && *q <= '9'; q++)
        val = val * (unsigned)base + (unsigned)(*q - '0');
    *out = neg ? -(long long)val : (long long)val;
    *p = q;
    return 1;
}

/* From the kind's /proc/sysvipc file: 0, or -1 with errno. */
static int read_proc(const struct sg_kipc_kind *k, void **v, size_t *n)
{
    FILE *f = fopen(k->proc, "re");
    if (!f)
        return -1;
    size_t cap = 0;
    char line[512];
    int rc = 0;
    if (fgets(line, sizeof line, f)) { /* the heading */
        while (fgets(line, sizeof line, f)) {
            long long val[16] = { 0 };
            const char *p = line;
            int m = 0;
            while (m < k->fields_max && m < 16 && field(&p, m == 2 ? 8 : 10, &val[m]))
                m++;
            if (m < k->fields_min)
                continue;
            void *e = next_slot(v, n, &cap, k->size);
            if (!e) {
                rc = -1;
                break;
            }
            k->from_proc(e, val, m);
        }
    }
    fclose(f);
    if (rc != 0) {
        free(*v);
        *v = NULL;
        *n = 0;
    }
    return rc;
}

int sg_kipc_read(const struct sg_kipc_kind *k, void **v, size_t *n)
{
    *v = NULL;
    *n = 0;
    if (!read_stat_any(k, v, n) && read_proc(k, v, n) != 0)
        return -1;
    if (*n)
        qsort(*v, *n, k->size, cmp_id);
    return 0;
}

const void *sg_kipc_find(const void *v, size_t n, size_t size, int id)
{
    struct sg_kipc_head key = { 0, id };
    return n ? bsearch(&key, v, n, size, cmp_id) : NULL;
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

int sg_kipc_stat(const struct sg_kipc_kind *k, int id, void *entry)
{
    union kds ds;
    memset(&ds, 0, sizeof ds);
    if (k->stat(id, &ds) != 0) {
        if (errno != EACCES)
            return -1;
        if (sg_ipc_stat_any(id, k->stat_any, &ds) != 0)
            return -1; /* EACCES: there, but not readable here */
    }
    k->from_ds(entry, id, &ds);
    return 0;
}
