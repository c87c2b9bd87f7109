/*
 * sg_kipc.h - the kernel's table of one kind of System V object (segments,
 * semaphore sets, message queues), read the same way for each: every used
 * index through the kind's *_STAT_ANY (Linux 4.17; no read permission
 * needed, and much cheaper than having the kernel format text), else its
 * /proc/sysvipc file; the entries sorted by id.  The kinds (sg_kernel.c,
 * sg_ksem.c, sg_kmsg.c) say how to ask the kernel and how to fill their
 * entries, which all begin with the object's key and id.
 */
#ifndef SG_KIPC_H
#define SG_KIPC_H

#include <stddef.h>
#include <stdint.h>

/* The first fields of every kind's entry. */
struct sg_kipc_head {
    int32_t key;
    int32_t id;
};

struct sg_kipc_kind {
    size_t size; /* one entry */
    /* *_INFO: the highest index in use, or -1; *used: how many objects
     * are in use (a stat loop that finds none of them is a kernel without
     * *_STAT_ANY, where every index answers EINVAL). */
    int (*info)(uint64_t *used);
    /* *_STAT_ANY of index idx into ds: the object's full id, or -1. */
    int (*stat_any)(int idx, void *ds);
    /* IPC_STAT of id into ds: 0, or -1 with errno. */
    int (*stat)(int id, void *ds);
    void (*from_ds)(void *entry, int id, const void *ds);
    const char *proc;            /* /proc/sysvipc/... */
    int fields_min, fields_max;  /* numbers on its lines; the third octal */
    void (*from_proc)(void *entry, const long long *v, int n);
};

/* The table into *v (malloc'd; free() it), *n entries sorted by id.  0 on
 * success, -1 with errno when neither way can be read. */
int sg_kipc_read(const struct sg_kipc_kind *k, void **v, size_t *n);

/* The entry for id among n entries of size bytes sorted by id, or NULL. */
const void *sg_kipc_find(const void *v, size_t n, size_t size, int id);

/* Object id into *entry: IPC_STAT, else, without read permission,
 * through *_STAT_ANY.  0; -1 with errno (EINVAL/EIDRM: no such object;
 * EACCES: there, but not readable here either way). */
int sg_kipc_stat(const struct sg_kipc_kind *k, int id, void *entry);

/* Without read permission (IPC_STAT gave EACCES): find object id through
 * stat_any(index, arg), a call of SHM_STAT_ANY, SEM_STAT_ANY or
 * MSG_STAT_ANY that returns the full id of the object at that index.
 * 0 when one of the id's possible indexes holds it; -1 with EACCES. */
int sg_ipc_stat_any(int id, int (*stat_any)(int idx, void *arg), void *arg);

#endif
