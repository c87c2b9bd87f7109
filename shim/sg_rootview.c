/*
 * sg_rootview.c - root's ledger seen from a process of another uid (see
 * sg_rootview.h).
 *
 * A root master removes a segment while only its workers, which dropped
 * to another uid, are attached: the removal is pending in root's ledger,
 * and the worker's last detach would not see it in its own.  Every uid
 * believes root, and only root can write root's ledger, so a worker may
 * act on what that ledger says (the removal itself is still the kernel's
 * to allow: it runs with the worker's credentials).  Only root's: another
 * uid's ledger could be made to say anything, or truncated under a
 * mapping.  Root's file is read, never mapped, and closed at once: a
 * process that dropped root holds no mapping and no descriptor of root's
 * ledger (SPEC, Security).  A detach reads its header and, when it counts
 * pending removals, its pending index (a few KiB); with none pending the
 * answer is kept for 10 ms, so that a process that detaches often opens
 * the file at most a hundred times a second.
 */
#define _GNU_SOURCE
#include "sg_rootview.h"
#include "sg_kernel.h"
#include "sg_layout.h"
#include "sg_proc.h"
#include "sg_state.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOOK_NS (10ull * 1000000ull)

/* What the last look saw; sg_local_lock held throughout (every call
 * comes from a detach). */
static char root_path[PATH_MAX];  /* root's ledger, "" when none was found */
static uint64_t next_look;        /* coarse mono ns: look again from then */
static uint32_t seen_pending;     /* root's pending count then */
static struct sg_pend *pend_copy; /* its pending index then */
static uint32_t pend_n;

/* A descriptor of root's ledger of this namespace, if complete and only
 * root can write it, with its header in *h; -1 otherwise. */
static int open_root(struct sg_hdr *h)
{
    uint64_t ns = sg_ipcns_ino();
    for (int alt = 0; alt < 2; alt++) {
        char name[128], path[PATH_MAX];
        sg_ledger_name(name, sizeof name, ns, 0, alt);
        if (snprintf(path, sizeof path, "%s/%s", sg_st.cfg->ledger_dir, name) >= (int)sizeof path)
            return -1;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
            !(st.st_mode & 022) && pread(fd, h, sizeof *h, 0) == (ssize_t)sizeof *h &&
            memcmp(h->magic, SG_LEDGER_MAGIC, 8) == 0 && h->version == SG_LEDGER_VERSION &&
            h->ipcns_ino == ns && h->ready && h->file_size == (uint64_t)st.st_size &&
            h->pend_cap > 0 && h->pend_cap <= 65536 &&
            h->pend_off + (uint64_t)h->pend_cap * sizeof(struct sg_pend) <= (uint64_t)st.st_size) {
            memcpy(root_path, path, sizeof root_path);
            return fd;
        }
        close(fd);
    }
    root_path[0] = '\0';
    return -1;
}

uint32_t sg_rootview_pending(void)
{
    uint64_t now = sg_coarse_mono_ns();
    if (now < next_look)
        return seen_pending;
    struct sg_hdr h;
    int fd = open_root(&h);
    seen_pending = 0;
    pend_n = 0;
    if (fd >= 0) {
        seen_pending = h.pending;
        if (seen_pending) {
            struct sg_pend *v = realloc(pend_copy, (size_t)h.pend_cap * sizeof *v);
            if (v) {
                pend_copy = v;
                size_t want = (size_t)h.pend_cap * sizeof *v;
                if (pread(fd, v, want, (off_t)h.pend_off) == (ssize_t)want)
                    pend_n = h.pend_cap;
            }
        }
        close(fd);
    }
    /* With a removal pending, every detach looks again. */
    next_look = seen_pending ? 0 : now + LOOK_NS;
    return seen_pending;
}

int sg_rootview_lists(int id)
{
    for (uint32_t i = 0; i < pend_n; i++)
        if (pend_copy[i].id == id && pend_copy[i].kind == SG_KIND_SHM)
            return 1;
    return 0;
}

int sg_rootview_load(int id, struct sg_ledger *copy)
{
    char err[PATH_MAX + 200];
    const struct sg_objref want = { SG_KIND_SHM, id };
    if (!root_path[0])
        return -1;
    if (sg_ledger_load_objects(copy, root_path, sg_ipcns_ino(), &want, 1, err, sizeof err) != 0)
        return -1;
    if (copy->owner != 0) { /* replaced since it was read */
        sg_ledger_close(copy);
        return -1;
    }
    return 0;
}
