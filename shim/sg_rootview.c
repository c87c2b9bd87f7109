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
 * mapping.  Root's file is mapped only once complete (a complete ledger
 * is never truncated): its header page and its pending index, read-only,
 * its descriptor closed at once, so the process keeps nothing through
 * which it could write; a detach looks at the index (a few KiB) before it
 * reads anything else of the file.
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
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIEW_LEN 4096u
#define RETRY_NS (1000ull * 1000000ull)

static const struct sg_hdr *view; /* root's header, read-only; NULL: none */
static const struct sg_pend *view_pend; /* root's pending index, read-only */
static uint32_t view_pend_cap;
static char view_path[PATH_MAX];
static uint64_t retry_at;

/* Map root's ledger header and pending index, read-only, if root has a
 * complete ledger here that only root can write: checked through a read
 * first (a file still being made may be truncated and made again, and a
 * mapping of it would fault), then mapped and checked again.
 * sg_local_lock held. */
static void map_view(void)
{
    uint64_t ns = sg_ipcns_ino();
    for (int alt = 0; alt < 2 && !view; alt++) {
        char name[128], path[PATH_MAX];
        sg_ledger_name(name, sizeof name, ns, 0, alt);
        if (snprintf(path, sizeof path, "%s/%s", sg_st.cfg->ledger_dir, name) >= (int)sizeof path)
            return;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
            continue;
        struct stat st;
        struct sg_hdr h;
        void *m = MAP_FAILED, *pm = MAP_FAILED;
        size_t plen = 0, pskip = 0;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
            !(st.st_mode & 022) && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
            memcmp(h.magic, SG_LEDGER_MAGIC, 8) == 0 && h.version == SG_LEDGER_VERSION &&
            h.ipcns_ino == ns && h.ready && h.file_size == (uint64_t)st.st_size &&
            h.pend_cap > 0 && h.pend_cap <= 65536 &&
            h.pend_off + (uint64_t)h.pend_cap * sizeof(struct sg_pend) <= (uint64_t)st.st_size &&
            st.st_size >= (off_t)VIEW_LEN) {
            m = mmap(NULL, VIEW_LEN, PROT_READ, MAP_SHARED, fd, 0);
            pskip = (size_t)(h.pend_off % VIEW_LEN);
            plen = pskip + (size_t)h.pend_cap * sizeof(struct sg_pend);
            pm = mmap(NULL, plen, PROT_READ, MAP_SHARED, fd, (off_t)(h.pend_off - pskip));
        }
        close(fd);
        if (m == MAP_FAILED || pm == MAP_FAILED) {
            if (m != MAP_FAILED)
                munmap(m, VIEW_LEN);
            if (pm != MAP_FAILED)
                munmap(pm, plen);
            continue;
        }
        memcpy(view_path, path, sizeof view_path);
        view_pend_cap = h.pend_cap;
        view_pend = (const struct sg_pend *)(const void *)((const char *)pm + pskip);
        __atomic_store_n(&view, (const struct sg_hdr *)m, __ATOMIC_RELEASE);
    }
}

uint32_t sg_rootview_pending(void)
{
    const struct sg_hdr *h = __atomic_load_n(&view, __ATOMIC_ACQUIRE);
    if (!h) {
        uint64_t now = sg_coarse_mono_ns();
        if (now < retry_at)
            return 0;
        retry_at = now + RETRY_NS;
        map_view();
        if (!(h = view))
            return 0;
    }
    return __atomic_load_n(&h->pending, __ATOMIC_RELAXED);
}

int sg_rootview_lists(int id)
{
    if (!__atomic_load_n(&view, __ATOMIC_ACQUIRE))
        return 0;
    for (uint32_t i = 0; i < view_pend_cap; i++)
        if (__atomic_load_n(&view_pend[i].id, __ATOMIC_RELAXED) == id &&
            __atomic_load_n(&view_pend[i].kind, __ATOMIC_RELAXED) == SG_KIND_SHM)
            return 1;
    return 0;
}

int sg_rootview_load(int id, struct sg_ledger *copy)
{
    char err[PATH_MAX + 200];
    const struct sg_objref want = { SG_KIND_SHM, id };
    if (!view)
        return -1;
    if (sg_ledger_load_objects(copy, view_path, sg_ipcns_ino(), &want, 1, err, sizeof err) != 0)
        return -1;
    if (copy->owner != 0) { /* replaced since it was mapped */
        sg_ledger_close(copy);
        return -1;
    }
    return 0;
}
