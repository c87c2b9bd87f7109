/*
 * sg_ledger.c - the ledger file: creation, validation, lock, tables.
 *
 * Tables are open-addressing hash tables with linear probing and
 * backward-shift deletion (no tombstones, so probe lengths stay short under
 * churn).  See sg_ledger.h for the crash-consistency contract.
 */
#define _GNU_SOURCE
#include "sg_ledger.h"
#include "sg_compiler.h"
#include "sg_pidns.h"
#include "sg_proc.h"
#include "sg_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_CAP (1u << 24)
#define LOCK_WAIT_S 2

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

struct sg_caps sg_caps_default(void)
{
    struct sg_caps c = { SG_SEG_CAP_DEFAULT, SG_ATT_CAP_DEFAULT,
                         SG_INTENT_CAP_DEFAULT, SG_PEND_CAP_DEFAULT };
    return c;
}

/* Append s, or the decimal v, at buf[*at] (n bytes in all), cut as
 * snprintf cuts, always terminated.  A process's first call names its
 * ledger with these: snprintf's first use faults in libc's formatting
 * code, which nothing else of that call needs. */
static void put_str(char *buf, size_t n, size_t *at, const char *s)
{
    for (; *s && *at + 1 < n; s++)
        buf[(*at)++] = *s;
    if (n)
        buf[*at < n ? *at : n - 1] = '\0';
}

static void put_u64(char *buf, size_t n, size_t *at, uint64_t v)
{
    char d[21];
    int i = (int)sizeof d - 1;
    d[i] = '\0';
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) && i > 0);
    put_str(buf, n, at, d + i);
}

SG_COLD void sg_ledger_name(char *buf, size_t n, uint64_t ns, uid_t uid, int alt)
{
    size_t at = 0;
    put_str(buf, n, &at, "ipc-");
    put_u64(buf, n, &at, ns);
    put_str(buf, n, &at, ".uid-");
    put_u64(buf, n, &at, (unsigned)uid);
    if (alt > 0) {
        put_str(buf, n, &at, ".");
        put_u64(buf, n, &at, (unsigned)alt);
    }
    put_str(buf, n, &at, ".ledger");
}

int sg_ledger_name_matches(const char *name, uint64_t ns)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ipc-%" PRIu64 ".uid-", ns);
    size_t pl = strlen(prefix), nl = strlen(name);
    return strncmp(name, prefix, pl) == 0 && nl > pl + 7 &&
           strcmp(name + nl - 7, ".ledger") == 0;
}

/* ---- layout ------------------------------------------------------------ */

static uint32_t static_sum(const struct sg_hdr *h)
{
    /* FNV-1a over the fields fixed at creation. */
    const unsigned char *p = (const unsigned char *)h;
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < offsetof(struct sg_hdr, static_sum); i++)
        x = (x ^ p[i]) * 16777619u;
    for (size_t i = offsetof(struct sg_hdr, pend_off); i < offsetof(struct sg_hdr, ev_total); i++)
        x = (x ^ p[i]) * 16777619u;
    for (size_t i = offsetof(struct sg_hdr, user_off); i < offsetof(struct sg_hdr, user_live); i++)
        x = (x ^ p[i]) * 16777619u;
    for (size_t i = offsetof(struct sg_hdr, pidns_off); i < offsetof(struct sg_hdr, pad2); i++)
        x = (x ^ p[i]) * 16777619u;
    return x;
}

void sg_ledger_seal_header(struct sg_hdr *h) { h->static_sum = static_sum(h); }

/* The attributes of the ledger's lock: robust, process-shared, error
 * checking (a relock by its holder fails instead of deadlocking). */
static void lock_attr(pthread_mutexattr_t *a)
{
    pthread_mutexattr_init(a);
    pthread_mutexattr_setpshared(a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_settype(a, PTHREAD_MUTEX_ERRORCHECK);
}

/* 1 if the lock's bytes are a mutex of that kind (SG_LEDGER_LOCK_KIND, a
 * constant: finding it by making a mutex cost every process's first call
 * seven more functions to bind; test_layout pins it to what glibc makes
 * of lock_attr).  glibc decides how to
 * lock from the kind word alone: a damaged one (priority inheritance, a
 * non-robust kind) sends the locker into paths that assert or wait
 * forever on a dead owner, so it is checked before anyone locks. */
static int lock_kind_ok(const struct sg_hdr *h)
{
    pthread_mutex_t cur;
    memcpy(&cur, h->lock, sizeof cur);
    return cur.__data.__kind == SG_LEDGER_LOCK_KIND;
}

/* The tables in file order (sg_layout.h): the small ones right after the
 * header, the object and attachment tables last. */
static uint64_t pidns_offset(void) { return sizeof(struct sg_hdr); }

static void layout_offsets(const struct sg_caps *c, uint64_t *seg, uint64_t *att,
                           uint64_t *user, uint64_t *intent, uint64_t *pend, uint64_t *ev)
{
    *ev = pidns_offset() + (uint64_t)SG_PIDNS_CAP * sizeof(struct sg_pidns);
    *pend = *ev + (uint64_t)SG_EV_CAP * sizeof(struct sg_event);
    *intent = *pend + (uint64_t)c->pend * sizeof(struct sg_pend);
    *user = *intent + (uint64_t)c->intent * sizeof(struct sg_intent);
    *seg = *user + (uint64_t)SG_USER_CAP * sizeof(struct sg_user);
    *att = *seg + (uint64_t)c->seg * sizeof(struct sg_seg);
}

static int pow2(uint32_t x) { return x && !(x & (x - 1)); }

int sg_seg_rec_ok(const struct sg_seg *r)
{
    /* The kernel's ids are never negative, and a negative id means
     * "empty" in the pending index. */
    return r->state == SG_REC_EMPTY ||
           (r->state == SG_REC_LIVE && r->id >= 0 &&
            (r->kind == SG_KIND_SHM || r->kind == SG_KIND_SEM || r->kind == SG_KIND_MSG));
}

int sg_att_state_ok(uint32_t st)
{
    return st <= SG_REC_LIVE ||
           ((st & SG_REC_CLAIM) && (st & SG_REC_CLAIM_NS) != SG_REC_CLAIM_NS);
}

int sg_user_state_ok(uint32_t st) { return st <= SG_REC_LIVE; }

/* sg_ledger_check_image (big: the large tables too) or
 * sg_ledger_check_layout. */
SG_COLD static int check_image(const void *img, size_t len, uint64_t ns, int big, char *err,
                       size_t errlen)
{
    const struct sg_hdr *h = img;
    if (len < sizeof *h)
        return ERR("truncated (%zu bytes, header needs %zu)", len, sizeof *h);
    if (memcmp(h->magic, SG_LEDGER_MAGIC, 8) != 0)
        return ERR("not a shmguard ledger (bad magic)");
    if (h->version != SG_LEDGER_VERSION)
        return ERR("format version %u, this build reads version %u", h->version,
                   SG_LEDGER_VERSION);
    if (h->hdr_size != sizeof *h)
        return ERR("corrupt header (header size %u)", h->hdr_size);
    if (h->static_sum != static_sum(h))
        return ERR("corrupt header (checksum)");
    if (h->ready != 1)
        return ERR("not initialised (its creator died while creating it)");
    if (!lock_kind_ok(h))
        return ERR("corrupt header (lock)");
    if (ns && h->ipcns_ino != ns)
        return ERR("belongs to IPC namespace %" PRIu64 ", not %" PRIu64, h->ipcns_ino, ns);
    struct sg_caps c = { h->seg_cap, h->att_cap, h->intent_cap, h->pend_cap };
    if (!pow2(c.seg) || !pow2(c.att) || c.seg > MAX_CAP || c.att > MAX_CAP ||
        c.intent == 0 || c.intent > 65536 || c.pend == 0 || c.pend > 65536)
        return ERR("corrupt header (capacities)");
    uint64_t so, ao, uo, io, po, eo;
    layout_offsets(&c, &so, &ao, &uo, &io, &po, &eo);
    if (h->seg_off != so || h->att_off != ao || h->intent_off != io || h->pend_off != po ||
        h->ev_off != eo || h->ev_cap != SG_EV_CAP || h->user_off != uo ||
        h->user_cap != SG_USER_CAP || h->pidns_off != pidns_offset() ||
        h->pidns_cap != SG_PIDNS_CAP)
        return ERR("corrupt header (table offsets)");
    uint64_t want = sg_layout_file_size(c.seg, c.att, c.intent, c.pend);
    if (h->file_size != want)
        return ERR("corrupt header (file size field)");
    if (len != want)
        return ERR("truncated or extended (%zu bytes, expected %" PRIu64 ")", len, want);
    /* Records: their states (and a segment record's id and kind) need to
     * be in range for the code that walks and indexes them; other fields
     * are data, bounded by their widths, and every string is read with its
     * fixed length. */
    const unsigned char *b = img;
    /* big: 1 every table; 2 all but the object and attachment tables (a
     * copy by lookup: zeros there, but the records looked up, which
     * sg_ledger_load_objects checks); 0 only the pid namespace table,
     * which the library reads (the event ring it only writes, by
     * ev_total modulo its size: reading its four pages would be a page
     * fault each on every process's first call). */
    for (uint32_t i = 0; big == 1 && i < c.seg; i++)
        if (!sg_seg_rec_ok((const void *)(b + so + (uint64_t)i * sizeof(struct sg_seg))))
            return ERR("corrupt segment record %u", i);
    for (uint32_t i = 0; big == 1 && i < c.att; i++) {
        const struct sg_att *a = (const void *)(b + ao + (uint64_t)i * sizeof *a);
        if (!sg_att_state_ok(a->state))
            return ERR("corrupt attachment record %u", i);
    }
    for (uint32_t i = 0; big && i < SG_USER_CAP; i++) {
        const struct sg_user *u = (const void *)(b + uo + (uint64_t)i * sizeof *u);
        if (!sg_user_state_ok(u->state))
            return ERR("corrupt user record %u", i);
    }
    for (uint32_t i = 0; big && i < SG_EV_CAP; i++) {
        const struct sg_event *e = (const void *)(b + eo + (uint64_t)i * sizeof *e);
        if (e->state > SG_REC_LIVE)
            return ERR("corrupt event record %u", i);
    }
    for (uint32_t i = 0; i < SG_PIDNS_CAP; i++) {
        const struct sg_pidns *e = (const void *)(b + pidns_offset() + (uint64_t)i * sizeof *e);
        if (e->state > SG_REC_LIVE || e->nanc > SG_PIDNS_ANC)
            return ERR("corrupt pid namespace record %u", i);
    }
    return 0;
}

int sg_ledger_check_image(const void *img, size_t len, uint64_t ns, char *err,
                          size_t errlen)
{
    return check_image(img, len, ns, 1, err, errlen);
}

SG_COLD int sg_ledger_check_layout(const void *img, size_t len, uint64_t ns, char *err,
                           size_t errlen)
{
    return check_image(img, len, ns, 0, err, errlen);
}

/* Point L's tables into L->base.  The capacities are read from the
 * header once, into a copy, and the offsets derived from them (never read
 * from the file): a writer that changes the header after the check cannot
 * make a table reach past the mapping.  -1 if the copy does not fit
 * L->len (the header changed since it was checked). */
SG_COLD static int bind_tables(struct sg_ledger *L)
{
    struct sg_hdr h;
    memcpy(&h, L->base, sizeof h);
    struct sg_caps c = { h.seg_cap, h.att_cap, h.intent_cap, h.pend_cap };
    if (!pow2(c.seg) || !pow2(c.att) || c.seg > MAX_CAP || c.att > MAX_CAP || c.intent == 0 ||
        c.intent > 65536 || c.pend == 0 || c.pend > 65536 ||
        sg_layout_file_size(c.seg, c.att, c.intent, c.pend) != L->len)
        return -1;
    uint64_t so, ao, uo, io, po, eo;
    layout_offsets(&c, &so, &ao, &uo, &io, &po, &eo);
    L->hdr = (struct sg_hdr *)L->base;
    L->seg = (struct sg_seg *)(L->base + so);
    L->att = (struct sg_att *)(L->base + ao);
    L->att_mask = c.att - 1;
    L->seg_cap = c.seg;
    L->intent_cap = c.intent;
    L->att_cap = c.att;
    L->pend_cap = c.pend;
    L->user_cap = SG_USER_CAP;
    L->users = (struct sg_user *)(L->base + uo);
    L->intent = (struct sg_intent *)(L->base + io);
    L->pend = (struct sg_pend *)(L->base + po);
    L->ev = (struct sg_event *)(L->base + eo);
    L->pidns = (struct sg_pidns *)(L->base + pidns_offset());
    return 0;
}

/* After a successful open of an own ledger: the descriptor goes.  The
 * file is allocated whole when it is made (init_file), so no page ever
 * needs allocating through it, and the library holds no descriptor at
 * all (a program may close or reuse descriptors it did not open). */
SG_COLD static void shed_fd(struct sg_ledger *L)
{
    sg_sys_close(L->fd);
    L->fd = -1;
}

/* ---- open / create ---------------------------------------------------- */

/* Names of the file systems a ledger directory is most often put on. */
static const struct {
    unsigned long magic;
    const char *name;
} fs_names[] = {
    { 0x01021994, "tmpfs" }, { 0x858458f6, "ramfs" }, { 0xEF53, "ext2/3/4" },
    { 0x58465342, "xfs" },   { 0x9123683E, "btrfs" }, { 0x794c7630, "overlayfs" },
    { 0x6969, "nfs" },       { 0x2fc12fc1, "zfs" },   { 0xF2F52010, "f2fs" },
    { 0x65735546, "fuse" },
};

SG_COLD int sg_fs_in_memory(unsigned long magic, char *fs, size_t n)
{
    magic &= 0xffffffffUL;
    const char *name = NULL;
    for (size_t i = 0; i < sizeof fs_names / sizeof fs_names[0]; i++)
        if (fs_names[i].magic == magic)
            name = fs_names[i].name;
    /* With put_str, not snprintf: every process's first call passes here. */
    size_t at = 0;
    if (name)
        put_str(fs, n, &at, name);
    else {
        char hex[19], *p = hex + sizeof hex;
        unsigned long m = magic;
        *--p = '\0';
        do
            *--p = "0123456789abcdef"[m & 15];
        while (m >>= 4);
        put_str(fs, n, &at, "0x");
        put_str(fs, n, &at, p);
    }
    return magic == 0x01021994 || magic == 0x858458f6;
}

int sg_ledger_dir_in_memory(const char *dir, char *fs, size_t n)
{
    struct statfs st;
    char parent[PATH_MAX];
    if (statfs(dir, &st) != 0) {
        /* Not there yet: it would be made in its parent. */
        snprintf(parent, sizeof parent, "%s", dir);
        size_t len = strlen(parent);
        while (len > 1 && parent[len - 1] == '/')
            parent[--len] = '\0';
        char *slash = strrchr(parent, '/');
        if (!slash)
            return -1;
        if (slash == parent)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (statfs(parent, &st) != 0)
            return -1;
    }
    return sg_fs_in_memory((unsigned long)st.f_type, fs, n);
}

/* Open (making it when missing) the ledger directory; mem: it must be in
 * memory, else -3 with the file system's name in err. */
SG_COLD static int open_dir(const char *dir, int mem, uid_t me, char *err, size_t errlen)
{
    int fd = sg_sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT && mem) {
        if (sg_ledger_dir_in_memory(dir, err, errlen) == 0)
            return -3;
        errno = ENOENT;
    }
    if (fd < 0 && errno == ENOENT) {
        mode_t old = umask(0);
        int r = mkdir(dir, 01777);
        umask(old);
        if (r != 0 && errno != EEXIST)
            return ERR("cannot create ledger directory %s: %s", dir, strerror(errno));
        fd = sg_sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    }
    if (fd < 0) {
        int e = errno;
        struct stat lst;
        /* O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP). */
        int link = e == ELOOP || (e == ENOTDIR && lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode));
        return ERR("cannot open ledger directory %s: %s", dir,
                   link ? "it is a symbolic link, which is never followed" : strerror(e));
    }
    struct stat st;
    if (sg_sys_fstat(fd, &st) != 0) {
        sg_sys_close(fd);
        return ERR("cannot stat ledger directory %s: %s", dir, strerror(errno));
    }
    if (st.st_uid != 0 && st.st_uid != me) {
        sg_sys_close(fd);
        return ERR("ledger directory %s is owned by uid %u, not by root or uid %u", dir,
                   (unsigned)st.st_uid, (unsigned)me);
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        sg_sys_close(fd);
        return ERR("ledger directory %s is writable by others without the sticky bit", dir);
    }
    struct statfs fst;
    if (mem && sg_sys_fstatfs(fd, &fst) == 0 && !sg_fs_in_memory((unsigned long)fst.f_type, err, errlen)) {
        sg_sys_close(fd);
        return -3;
    }
    return fd;
}

SG_COLD static int map_file(struct sg_ledger *L, int fd, size_t len, char *err, size_t errlen)
{
    void *p = sg_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return ERR("cannot map ledger %s: %s", L->path, strerror(errno));
    L->base = p;
    L->len = len;
    L->fd = fd;
    L->mapped = 1;
    return 0;
}

/* Initialise a new (all-zero) ledger file of the right size.  The caller
 * holds flock(LOCK_EX) on fd. */
static int init_file(struct sg_ledger *L, int fd, uint64_t ns, const struct sg_caps *c,
                     char *err, size_t errlen)
{
    uint64_t size = sg_layout_file_size(c->seg, c->att, c->intent, c->pend);
    uint64_t so, ao, uo, io, po, eo;
    layout_offsets(c, &so, &ao, &uo, &io, &po, &eo);
    /* Truncating to 0 first makes every byte zero, also when re-creating a
     * file whose creator died half-way. */
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0)
        return ERR("cannot size ledger %s: %s", L->path, strerror(errno));
    /* The whole file is allocated now, so that no store into the mapping
     * and no read of it can ever meet a hole: on tmpfs a read fault on a
     * hole of a shared mapping allocates a page too, and both raise
     * SIGBUS in the host when the file system is full.  It costs the
     * capacities' worth of tmpfs, 38 MiB by default, whatever is recorded
     * (format 6 allocated 170 KiB and left the big tables sparse, which a
     * lookup's probe could read).  KEEP_SIZE: the last page may reach
     * past the end of a small file. */
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size) != 0)
        return ERR("cannot allocate ledger %s: %s", L->path, strerror(errno));
    if (map_file(L, fd, size, err, errlen) != 0)
        return -1;
    struct sg_hdr *h = (struct sg_hdr *)L->base;
    memset(h, 0, sizeof *h);
    memcpy(h->magic, SG_LEDGER_MAGIC, 8);
    h->version = SG_LEDGER_VERSION;
    h->hdr_size = sizeof *h;
    h->file_size = size;
    h->ipcns_ino = ns;
    h->owner_uid = sg_sys_geteuid();
    h->seg_cap = c->seg;
    h->att_cap = c->att;
    h->intent_cap = c->intent;
    h->pend_cap = c->pend;
    h->seg_off = so;
    h->att_off = ao;
    h->intent_off = io;
    h->pend_off = po;
    h->ev_cap = SG_EV_CAP;
    h->ev_off = eo;
    h->user_cap = SG_USER_CAP;
    h->user_off = uo;
    h->pidns_off = pidns_offset();
    h->pidns_cap = SG_PIDNS_CAP;
    h->created_ns = sg_now_ns();
    h->static_sum = static_sum(h);
    (void)bind_tables(L); /* our own header: it fits */
    for (uint32_t i = 0; i < c->pend; i++)
        L->pend[i].id = -1;
    pthread_mutexattr_t a;
    lock_attr(&a);
    pthread_mutex_init((pthread_mutex_t *)h->lock, &a);
    pthread_mutexattr_destroy(&a);
    __atomic_store_n(&h->ready, 1u, __ATOMIC_RELEASE);
    return 0;
}

/* flock with a bounded wait: 0 when held. */
static int flock_wait(int fd, int op)
{
    for (int i = 0; i < 200; i++) {
        if (flock(fd, op | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK)
            return -1;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    errno = ETIMEDOUT;
    return -1;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* 1 if the header shows a creation that never finished: all zero (the
 * creator died before writing it) or not yet marked ready. */
static int unfinished(const struct sg_hdr *h, ssize_t r)
{
    if (r == 0)
        return 1;
    if (r != (ssize_t)sizeof *h)
        return 0;
    return all_zero(h, sizeof *h) ||
           (memcmp(h->magic, SG_LEDGER_MAGIC, 8) == 0 && h->ready == 0);
}

/* Open an existing file we own and map it after checking it.  known:
 * the caller's fstat of fd, taken before any lock (NULL: none). */
SG_COLD static int attach_existing(struct sg_ledger *L, int fd, uint64_t ns, const struct sg_caps *c,
                           const struct stat *known, char *err, size_t errlen)
{
    struct sg_hdr h;
    /* The creator holds LOCK_EX until the file is ready, and stores ready
     * last: a file read as ready is complete, and nobody makes a complete
     * file again, so it needs no lock (two system calls fewer on every
     * process's first call).  Otherwise wait for the creator. */
    ssize_t r = sg_sys_pread(fd, &h, sizeof h, 0);
    int shared = 0, complete = 1;
    if (r != (ssize_t)sizeof h || memcmp(h.magic, SG_LEDGER_MAGIC, 8) != 0 || !h.ready) {
        complete = 0;
        if (flock_wait(fd, LOCK_SH) != 0)
            return ERR("ledger %s is locked by its creator for too long", L->path);
        shared = 1;
        r = sg_sys_pread(fd, &h, sizeof h, 0);
    }
    if (unfinished(&h, r)) {
        /* We got the lock, so its creator died mid-creation: nothing was
         * ever recorded in it.  Create it again. */
        flock(fd, LOCK_UN);
        if (flock_wait(fd, LOCK_EX) != 0)
            return ERR("ledger %s is locked by its creator for too long", L->path);
        r = sg_sys_pread(fd, &h, sizeof h, 0);
        int rc = 0;
        if (unfinished(&h, r)) {
            rc = init_file(L, fd, ns, c, err, errlen);
            if (rc == 0)
                L->hdr = (struct sg_hdr *)L->base;
        }
        flock(fd, LOCK_UN);
        if (rc != 0 || L->base)
            return rc;
        shared = flock_wait(fd, LOCK_SH) == 0;
        r = sg_sys_pread(fd, &h, sizeof h, 0);
    }
    struct stat st;
    char why[160];
    /* The caller's fstat serves a file read complete at once, of the size
     * its header says; after a wait for its creator, or when the creator
     * finished between that fstat and the read, ask again. */
    if (known && complete && r == (ssize_t)sizeof h && (uint64_t)known->st_size == h.file_size)
        st = *known;
    else if (sg_sys_fstat(fd, &st) != 0) {
        if (shared)
            flock(fd, LOCK_UN);
        return ERR("cannot stat ledger %s: %s", L->path, strerror(errno));
    }
    /* Another format version (an earlier build's file, left in place while
     * its processes may still use it): not ours to touch; the caller takes
     * the next name. */
    if (r == (ssize_t)sizeof h && memcmp(h.magic, SG_LEDGER_MAGIC, 8) == 0 &&
        h.version != SG_LEDGER_VERSION) {
        if (shared)
            flock(fd, LOCK_UN);
        snprintf(err, errlen, "ledger %s has format version %u, this build uses %u", L->path,
                 h.version, SG_LEDGER_VERSION);
        return -2;
    }
    /* Check the header before mapping, so that a short file is refused
     * instead of faulting later. */
    if (r != (ssize_t)sizeof h) {
        if (shared)
            flock(fd, LOCK_UN);
        return ERR("ledger %s is unusable: truncated (%jd bytes)", L->path, (intmax_t)st.st_size);
    }
    if (h.file_size != (uint64_t)st.st_size) {
        if (sg_ledger_check_image(&h, sizeof h, ns, why, sizeof why) == 0 ||
            strstr(why, "truncated or extended"))
            snprintf(why, sizeof why, "%s (%jd bytes, its header says %" PRIu64 ")",
                     (uint64_t)st.st_size < h.file_size ? "truncated" : "longer than its header says",
                     (intmax_t)st.st_size, h.file_size);
        if (shared)
            flock(fd, LOCK_UN);
        return ERR("ledger %s is unusable: %s", L->path, why);
    }
    if (map_file(L, fd, (size_t)st.st_size, err, errlen) != 0) {
        if (shared)
            flock(fd, LOCK_UN);
        return -1;
    }
    if (shared)
        flock(fd, LOCK_UN);
    int bad = sg_ledger_check_layout(L->base, L->len, ns, why, sizeof why);
    if (!bad && bind_tables(L) != 0) {
        bad = 1;
        snprintf(why, sizeof why, "its header changed while it was being opened");
    }
    if (bad) {
        munmap(L->base, L->len);
        L->base = NULL;
        return ERR("ledger %s is unusable: %s", L->path, why);
    }
    return 0;
}

/* A descriptor of the ledger file name in dfd: opened if it exists, else
 * created (*created = 1); -1 with errno (*created = -1 when the create
 * failed).  The file most often exists, so
 * it is opened first: one failed system call fewer per process than
 * trying the create first. */
SG_COLD static int open_or_create(int dfd, const char *name, int *created)
{
    *created = 0;
    for (int i = 0; i < 3; i++) {
        int fd = sg_sys_openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
        if (fd >= 0 || errno != ENOENT)
            return fd;
        fd = sg_sys_openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
            *created = 1;
            return fd;
        }
        if (errno != EEXIST) {
            *created = -1;
            return -1;
        }
        /* made by another process since we looked: open it */
    }
    return -1;
}

/* 1 if fd's header, read with pread (which reads a hole as zeros, where
 * a read through a mapping would allocate it, and on a full tmpfs raise
 * SIGBUS), is this build's, of a file its creator finished (ready: made
 * whole, and never made again) and as long as st says. */
static int header_ready(int fd, const struct stat *st)
{
    struct sg_hdr h;
    return sg_sys_pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
           memcmp(h.magic, SG_LEDGER_MAGIC, 8) == 0 && h.version == SG_LEDGER_VERSION &&
           h.ready == 1 && h.file_size == (uint64_t)st->st_size;
}

/* The library's way to its ledger when the ledger exists and is sound,
 * as it is for every process but the first: the file opened by its path
 * and checked (a plain file of ours, alone, in memory), its directory
 * checked as open_dir checks it, its header read and found finished, then
 * the file mapped and its layout checked.  Seven system calls where the
 * general way below makes ten.
 *
 * Checking the directory after opening the file through it is as safe as
 * open_dir's order: the file must be ours (st_uid == me, one link), which
 * nobody else can make in a directory they control, nor move into one
 * from the sticky directory holding ours (only the owner of a name there
 * may rename it); the directory's name found sound afterwards was sound
 * when the file was opened, unless it was somebody else's then, which
 * the first point answers.  A file read finished (ready) is never made
 * again, so nobody truncates it under the mapping.  Returns 0 with the
 * ledger open and L->fd still held (the caller sheds it), or 1 when
 * anything at all differs from that sound case: nothing is left open or
 * mapped, and the caller takes the general way, which creates, waits,
 * repairs and explains. */
SG_COLD static int open_fast(struct sg_ledger *L, const char *dir, uint64_t ns, uid_t me)
{
    char name[128];
    size_t at = 0;
    sg_ledger_name(name, sizeof name, ns, me, 0);
    put_str(L->path, sizeof L->path, &at, dir);
    put_str(L->path, sizeof L->path, &at, "/");
    put_str(L->path, sizeof L->path, &at, name);
    if (at + 1 >= sizeof L->path)
        return 1;
    int fd = sg_sys_openat(AT_FDCWD, L->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
    if (fd < 0)
        return 1;
    struct stat st, dst;
    struct statfs fst;
    char fs[32];
    if (sg_sys_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != me || st.st_nlink != 1 ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) || st.st_size < (off_t)PAGE ||
        sg_sys_fstatfs(fd, &fst) != 0 || !sg_fs_in_memory((unsigned long)fst.f_type, fs, sizeof fs) ||
        sg_sys_lstat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode) || (dst.st_uid != 0 && dst.st_uid != me) ||
        ((dst.st_mode & (S_IWGRP | S_IWOTH)) && !(dst.st_mode & S_ISVTX)) ||
        !header_ready(fd, &st) || map_file(L, fd, (size_t)st.st_size, NULL, 0) != 0) {
        sg_sys_close(fd);
        return 1;
    }
    if (sg_ledger_check_layout(L->base, L->len, ns, NULL, 0) != 0 || bind_tables(L) != 0) {
        munmap(L->base, L->len);
        L->base = NULL;
        L->fd = -1;
        sg_sys_close(fd);
        return 1;
    }
    return 0;
}

SG_COLD static int open_own(struct sg_ledger *L, const char *dir, uint64_t ns,
                    const struct sg_caps *caps, int mem, char *err, size_t errlen)
{
    /* All but the path, which is written below: zeroing its 4 KiB would
     * touch a page of the process state that nothing else needs. */
    memset(L, 0, offsetof(struct sg_ledger, path));
    L->path[0] = '\0';
    L->fd = -1;
    struct sg_caps c = caps ? *caps : sg_caps_default();
    uid_t me = sg_sys_geteuid();
    if (mem && !caps && open_fast(L, dir, ns, me) == 0) {
        L->owner = me;
        shed_fd(L);
        return 0;
    }
    int dfd = open_dir(dir, mem, me, err, errlen);
    if (dfd < 0)
        return dfd == -3 ? -3 : -1;
    dfd = sg_fd_above_stdio(dfd);
    char name[128];
    int rc = -1;
    if (errlen)
        err[0] = '\0'; /* the reason of the last name tried, if any */
    for (int alt = 0; alt < 4 && rc != 0; alt++) {
        sg_ledger_name(name, sizeof name, ns, me, alt);
        size_t at = 0;
        put_str(L->path, sizeof L->path, &at, dir);
        put_str(L->path, sizeof L->path, &at, "/");
        put_str(L->path, sizeof L->path, &at, name);
        int created, fd = open_or_create(dfd, name, &created);
        if (created < 0 && errno == EEXIST)
            continue; /* made and gone again and again: next name */
        if (created < 0) {
            snprintf(err, errlen, "cannot create ledger %s: %s", L->path, strerror(errno));
            break;
        }
        if (created) {
            fchmod(fd, 0644);
            /* Between the create and the lock, another process may have
             * found the empty file unlocked, taken it for the leftover of
             * a creator that died, and made it: then it is in use, and
             * making it again (truncating it under its mappings) would
             * fault them.  Attach to it instead. */
            struct sg_hdr h;
            int locked = flock(fd, LOCK_EX) == 0;
            if (locked && !unfinished(&h, sg_sys_pread(fd, &h, sizeof h, 0))) {
                flock(fd, LOCK_UN);
                int ar = attach_existing(L, fd, ns, &c, NULL, err, errlen);
                if (ar != 0) {
                    sg_sys_close(fd);
                    L->fd = -1;
                    break;
                }
                rc = 0;
                break;
            }
            if (!locked || init_file(L, fd, ns, &c, err, errlen) != 0) {
                int e = errno;
                if (L->base)
                    munmap(L->base, L->len);
                L->base = NULL;
                unlinkat(dfd, name, 0);
                sg_sys_close(fd);
                L->fd = -1;
                errno = e;
                break;
            }
            flock(fd, LOCK_UN);
            rc = 0;
            break;
        }
        if (fd < 0) {
            if (errno == ELOOP || errno == EACCES || errno == EPERM || errno == EISDIR ||
                errno == ENXIO || errno == ENOENT || errno == ETXTBSY)
                continue; /* a symlink, directory, socket or someone else's
                             file planted at the name: next name */
            snprintf(err, errlen, "cannot open ledger %s: %s", L->path, strerror(errno));
            break;
        }
        struct stat st;
        if (sg_sys_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != me || st.st_nlink != 1) {
            sg_sys_close(fd);
            continue; /* not ours, or not a plain file: next name */
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH))
            fchmod(fd, st.st_mode & 0644);
        int ar = attach_existing(L, fd, ns, &c, &st, err, errlen);
        if (ar == -2) {
            sg_sys_close(fd);
            L->fd = -1;
            continue; /* another build's format: next name */
        }
        if (ar != 0) {
            sg_sys_close(fd);
            L->fd = -1;
            break;
        }
        rc = 0;
    }
    if (rc != 0 && errlen && !err[0])
        snprintf(err, errlen, "no usable ledger file name in %s", dir);
    sg_sys_close(dfd);
    if (rc == 0) {
        L->owner = me;
        shed_fd(L);
    }
    return rc;
}

SG_COLD int sg_ledger_open_own(struct sg_ledger *L, const char *dir, uint64_t ns,
                       const struct sg_caps *caps, char *err, size_t errlen)
{
    return open_own(L, dir, ns, caps, 0, err, errlen);
}

SG_COLD int sg_ledger_open_own_mem(struct sg_ledger *L, const char *dir, uint64_t ns, char *err,
                           size_t errlen)
{
    return open_own(L, dir, ns, NULL, 1, err, errlen);
}

/* 1 if the lock in the copied header img has no living holder.  glibc's
 * mutex keeps its holder's thread id at int 2 (__owner); 0 is none. */
static int writer_gone(const unsigned char *img)
{
    int owner;
    memcpy(&owner, img + offsetof(struct sg_hdr, lock) + 2 * sizeof(int), sizeof owner);
    return owner == 0 || (owner > 0 && sg_proc_alive(owner, 0) == 0);
}

#define SMALL_RANGE (256u * 1024u)

/* Read fd's bytes [from, to) into buf; when the file ends first, zero
 * buf up to zero_to.  0 read whole, 1 the file ended first, -1 error. */
static int read_whole(int fd, unsigned char *buf, size_t from, size_t to, size_t zero_to)
{
    while (from < to) {
        ssize_t r = pread(fd, buf + from, to - from, (off_t)from);
        if (r < 0)
            return -1;
        if (r == 0) { /* shorter (or shrank under us): the rest reads as zeros */
            memset(buf + from, 0, zero_to - from);
            return 1;
        }
        from += (size_t)r;
    }
    return 0;
}

/* Read the data extents of fd's bytes [from, to) into buf (which holds
 * zeros there, or an earlier read when again is set: then holes are
 * zeroed).  Bytes past a shorter file stay zero.  0 on success. */
static int read_range(int fd, unsigned char *buf, size_t from, size_t to, int again)
{
    /* A small range is read whole: a hole reads as zeros anyway, and
     * looking for the end of the data costs more than it saves where the
     * file is dense (on tmpfs, SEEK_HOLE walks the page cache to the end
     * of the data, not of the range: a copy by lookup of a dense planted
     * ledger spent most of its time there). */
    if (to - from <= SMALL_RANGE)
        return read_whole(fd, buf, from, to, to) < 0 ? -1 : 0;
    off_t pos = (off_t)from;
    while ((size_t)pos < to) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0) {
            if (errno != ENXIO)
                data = pos; /* no SEEK_DATA here: read everything */
            else
                data = (off_t)to; /* only a hole is left */
        }
        if ((size_t)data > to)
            data = (off_t)to;
        if (again)
            memset(buf + pos, 0, (size_t)(data - pos));
        if ((size_t)data >= to)
            break;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0 || (size_t)hole > to)
            hole = (off_t)to;
        int r = read_whole(fd, buf, (size_t)data, (size_t)hole, to);
        if (r != 0)
            return r < 0 ? -1 : 0;
        pos = hole;
    }
    return 0;
}

/* A zeroed buffer for a copy of len bytes (its mapping's length in
 * *maplen).  Its page table is filled with the zero page in one call
 * (MADV_POPULATE_READ, Linux 5.14): most of a sparse ledger is holes that
 * its readers walk, and a fault for each of its 9,300 pages cost 5 ms a
 * file.  NULL when out of memory. */
static unsigned char *copy_alloc(size_t len, size_t *maplen)
{
    size_t n = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
    unsigned char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    *maplen = n;
    return m;
}

/* Fill the page table of [lo, hi) of a copy with the zero page. */
static void copy_populate(unsigned char *buf, size_t lo, size_t hi)
{
    lo &= ~(size_t)(PAGE - 1);
    if (hi > lo)
        madvise(buf + lo, hi - lo, MADV_POPULATE_READ);
}

static uint32_t seg_home(const void *r);

/* Probes longer than this many slots end there: the record is taken as
 * absent from that file (a ledger the library keeps has an eighth of its
 * slots free, and its probes are a few slots long). */
#define PROBE_MAX 512u
#define PROBE_CHUNK 8u /* slots read at once: one page */
/* Slots a file's lookups may read in all: 64 per object (a table 7/8 full
 * averages 32 for a record that is absent) and 8,192 more. */
#define PROBE_BUDGET(n) (64u * (uint64_t)(n) + 8192u)

/* Copy, from fd into buf, the probe chain of each wanted object record:
 * from its home slot up to the record or the first empty slot.  The
 * slots copied keep their places, so that sg_seg_find on the copy finds
 * what it would find in the file.  *bad: a copied record out of range
 * (its slot).  0; 1 when the lookups would read more than PROBE_BUDGET
 * slots (no ledger the library keeps needs that many); -1 on a read
 * error. */
static int read_objects(int fd, unsigned char *buf, uint64_t seg_off, uint32_t cap,
                        const struct sg_objref *want, size_t n_want, long *bad)
{
    struct sg_seg *seg = (struct sg_seg *)(buf + seg_off);
    uint32_t mask = cap - 1;
    uint64_t budget = PROBE_BUDGET(n_want);
    for (size_t w = 0; w < n_want; w++) {
        struct sg_seg key = { .kind = want[w].kind, .id = want[w].id };
        uint32_t i = seg_home(&key) & mask, seen = 0;
        int done = 0;
        while (!done && seen < PROBE_MAX && seen < cap) {
            uint32_t k = PROBE_CHUNK - (i % PROBE_CHUNK); /* to the chunk's end */
            if (k > cap - i)
                k = cap - i;
            if (budget < k)
                return 1;
            budget -= k;
            size_t sz = (size_t)k * sizeof *seg;
            off_t off = (off_t)(seg_off + (uint64_t)i * sizeof *seg);
            ssize_t r = pread(fd, &seg[i], sz, off);
            if (r < 0)
                return -1;
            if ((size_t)r < sz)
                memset((unsigned char *)&seg[i] + r, 0, sz - (size_t)r);
            for (uint32_t j = 0; j < k; j++, seen++) {
                const struct sg_seg *x = &seg[i + j];
                if (!sg_seg_rec_ok(x) && *bad < 0)
                    *bad = (long)(i + j);
                if (x->state != SG_REC_LIVE || (x->kind == key.kind && x->id == key.id)) {
                    done = 1;
                    break;
                }
            }
            i = (i + k) & mask;
        }
    }
    return 0;
}

static int load(struct sg_ledger *L, const char *path, uint64_t ns, int full,
                const struct sg_objref *want, size_t n_want, char *err, size_t errlen);

int sg_ledger_load(struct sg_ledger *L, const char *path, uint64_t ns, char *err,
                   size_t errlen)
{
    return load(L, path, ns, 1, NULL, 0, err, errlen);
}

int sg_ledger_load_objects(struct sg_ledger *L, const char *path, uint64_t ns,
                           const struct sg_objref *want, size_t n_want, char *err,
                           size_t errlen)
{
    return load(L, path, ns, 0, want, n_want, err, errlen);
}

static int load(struct sg_ledger *L, const char *path, uint64_t ns, int full,
                const struct sg_objref *want, size_t n_want, char *err, size_t errlen)
{
    memset(L, 0, sizeof *L);
    L->fd = -1;
    snprintf(L->path, sizeof L->path, "%s", path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return ERR("cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ERR("%s is not a regular file", path);
    }
    /* Bounded work whatever the file declares: no ledger this build
     * makes is larger than one of the default capacities. */
    if (st.st_size > (off_t)sg_layout_file_size(SG_SEG_CAP_DEFAULT, SG_ATT_CAP_DEFAULT,
                                                SG_INTENT_CAP_DEFAULT, SG_PEND_CAP_DEFAULT)) {
        close(fd);
        return ERR("%s is larger than any ledger this build makes: not read", path);
    }
    L->owner = st.st_uid;
    size_t len = (size_t)st.st_size, maplen = 0;
    /* Fresh zero pages: only the file's data is read into them. */
    unsigned char *buf = copy_alloc(len ? len : 1, &maplen);
    if (!buf) {
        close(fd);
        return ERR("out of memory reading %s", path);
    }
    /* By lookup (want set): the header, the small tables, and the wanted
     * object records; the object and attachment tables ([mid_lo, mid_hi),
     * the file's end) are otherwise left as zeros, every record there
     * empty. */
    size_t mid_lo = len, mid_hi = len;
    struct sg_hdr hh;
    struct sg_caps c = { 0, 0, 0, 0 };
    uint64_t so = 0, ao, uo, io, po, eo;
    if (!full && pread(fd, &hh, sizeof hh, 0) == (ssize_t)sizeof hh) {
        c = (struct sg_caps){ hh.seg_cap, hh.att_cap, hh.intent_cap, hh.pend_cap };
        if (pow2(c.seg) && pow2(c.att) && c.seg <= MAX_CAP && c.att <= MAX_CAP &&
            c.intent && c.intent <= 65536 && c.pend && c.pend <= 65536 &&
            sg_layout_file_size(c.seg, c.att, c.intent, c.pend) == len) {
            layout_offsets(&c, &so, &ao, &uo, &io, &po, &eo);
            mid_lo = (size_t)so;
            mid_hi = (size_t)(ao + (uint64_t)c.att * sizeof(struct sg_att));
        }
    }
    int lookup = mid_hi > mid_lo;
    copy_populate(buf, 0, mid_lo);
    copy_populate(buf, mid_hi, len);
    int rc = -1, left = 0, over = 0;
    long bad = -1;
    for (int attempt = 0; attempt < 50; attempt++) {
        uint64_t g0 = 0, g1 = 1;
        if (len >= sizeof(struct sg_hdr) &&
            pread(fd, &g0, sizeof g0, offsetof(struct sg_hdr, generation)) != sizeof g0)
            break;
        bad = -1;
        if (read_range(fd, buf, 0, mid_lo, attempt > 0) != 0 ||
            read_range(fd, buf, mid_hi, len, attempt > 0) != 0 ||
            (lookup && (over = read_objects(fd, buf, so, c.seg, want, n_want, &bad)) != 0))
            break;
        if (len >= sizeof(struct sg_hdr))
            memcpy(&g1, buf + offsetof(struct sg_hdr, generation), sizeof g1);
        else
            g1 = g0;
        if (g0 == g1 && !(g0 & 1)) {
            rc = 0;
            break;
        }
        /* Odd, and no live holder: a writer died mid-edit and the next
         * locker will repair it.  Two such reads in a row (a copy may
         * have caught the lock word before a live writer took it) and
         * the copy is taken as it was left. */
        if (g0 == g1 && writer_gone(buf)) {
            if (++left == 2) {
                rc = 0;
                break;
            }
        } else {
            left = 0;
        }
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    close(fd);
    if (rc != 0) {
        munmap(buf, maplen);
        if (over == 1)
            return ERR("%s is unusable: its lookups would read more of it than any ledger the "
                       "library keeps needs", path);
        return ERR("%s kept changing while being read", path);
    }
    L->base = buf;
    L->len = len;
    L->copy_len = maplen;
    char why[160];
    int bad_img = check_image(buf, len, ns, lookup ? 2 : 1, why, sizeof why) != 0;
    if (!bad_img && bad >= 0) {
        bad_img = 1;
        snprintf(why, sizeof why, "corrupt segment record %ld", bad);
    }
    if (bad_img || bind_tables(L) != 0) {
        munmap(buf, maplen);
        L->base = NULL;
        return ERR("%s is unusable: %s", path, why);
    }
    return 0;
}

void sg_ledger_close(struct sg_ledger *L)
{
    if (L->base) {
        if (L->mapped)
            munmap(L->base, L->len);
        else if (L->copy_len)
            munmap(L->base, L->copy_len);
        else
            free(L->base);
    }
    if (L->fd >= 0)
        close(L->fd);
    memset(L, 0, sizeof *L);
    L->fd = -1;
}

/* ---- lock ------------------------------------------------------------- */

int sg_ledger_lock(struct sg_ledger *L)
{
    pthread_mutex_t *m = (pthread_mutex_t *)L->hdr->lock;
    /* A lock of another kind (scribbled since the file was opened) would
     * make glibc assert or wait forever. */
    if (!lock_kind_ok(L->hdr))
        return -1;
    int r = pthread_mutex_trylock(m);
    if (r == EBUSY) {
        struct timespec ts;
#if defined(__SANITIZE_THREAD__)
        /* TSan does not intercept pthread_mutex_clocklock (GCC 12) and
         * would not see the lock taken: use the wall-clock variant. */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += LOCK_WAIT_S;
        r = pthread_mutex_timedlock(m, &ts);
#else
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += LOCK_WAIT_S;
        r = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
#endif
    }
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(m);
        L->hdr->repairs++;
        sg_ledger_repair(L);
        r = 0;
    }
    if (r != 0)
        return -1;
    /* Lock-free readers must see the odd generation before any edit: an
     * acquire read-modify-write keeps the edits after it. */
    __atomic_exchange_n(&L->hdr->generation, L->hdr->generation | 1, __ATOMIC_ACQ_REL);
    return 0;
}

void sg_ledger_unlock(struct sg_ledger *L)
{
    __atomic_store_n(&L->hdr->generation, (L->hdr->generation | 1) + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock((pthread_mutex_t *)L->hdr->lock);
}

/* ---- generic open-addressing table ------------------------------------ */

struct table {
    unsigned char *base;
    size_t recsz;
    uint32_t mask;
    uint32_t *live;
    uint32_t (*home)(const void *rec);
    int (*same)(const void *a, const void *b);
};

static inline uint32_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* An object's home slot: a hash of its kind and id.  Not its kernel
 * index, which would put a namespace's first objects next to the small
 * tables: the kernel hands indices out cyclically over a window (ipc/util.c
 * ipc_idr_alloc), so the stale records of objects removed behind the
 * library's back (ipcrm, programs without it) would pile up in one probe
 * run at the table's start, and every creation would walk it. */
static uint32_t seg_home(const void *r)
{
    const struct sg_seg *s = r;
    return mix(((uint64_t)s->kind << 32) | (uint32_t)s->id);
}
static int seg_same(const void *a, const void *b)
{
    const struct sg_seg *x = a, *y = b;
    return x->kind == y->kind && x->id == y->id;
}
static uint32_t att_home(const void *r)
{
    const struct sg_att *a = r;
    return mix(((uint64_t)(uint32_t)a->pid << 40) ^ a->addr ^ ((uint64_t)a->addr >> 40));
}

static struct table seg_table(struct sg_ledger *L)
{
    struct table t = { (unsigned char *)L->seg, sizeof(struct sg_seg), L->seg_cap - 1,
                       &L->hdr->seg_live, seg_home, seg_same };
    return t;
}
static uint32_t user_home(const void *r)
{
    const struct sg_user *u = r;
    return mix(((uint64_t)(uint32_t)u->pid << 32) ^ ((uint64_t)u->kind << 29) ^ (uint32_t)u->id);
}
static int user_same(const void *a, const void *b)
{
    const struct sg_user *x = a, *y = b;
    return x->pid == y->pid && x->pidns == y->pidns && x->id == y->id && x->kind == y->kind;
}
static struct table user_table(struct sg_ledger *L)
{
    struct table t = { (unsigned char *)L->users, sizeof(struct sg_user),
                       L->user_cap - 1, &L->hdr->user_live, user_home,
                       user_same };
    return t;
}

static inline void *slot(const struct table *t, uint32_t i) { return t->base + (size_t)i * t->recsz; }
/* Acquire: a record's fields are read only after its state says LIVE
 * (attachment states change without the lock). */
static inline uint32_t state_of(const void *rec) { return __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE); }
static inline void set_state(void *rec, uint32_t s) { __atomic_store_n((uint32_t *)rec, s, __ATOMIC_RELEASE); }

/* Counters that carriers read without the lock (pending, intents): the
 * lock holder, their only writer, stores them atomically.  Never below 0. */
static void counter_set(uint32_t *c, uint32_t v) { __atomic_store_n(c, v, __ATOMIC_RELEASE); }
static void counter_add(uint32_t *c, int d)
{
    uint32_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
    if (d >= 0 || v)
        counter_set(c, v + (uint32_t)d);
}

static void *t_find(const struct table *t, const void *key)
{
    uint32_t i = t->home(key) & t->mask;
    for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
        void *r = slot(t, i);
        if (state_of(r) != SG_REC_LIVE)
            return NULL;
        if (t->same(r, key))
            return r;
    }
    return NULL;
}

/* Write rec's fields into the empty slot s, then publish it. */
static void t_fill(const struct table *t, void *s, const void *rec)
{
    memcpy((unsigned char *)s + 4, (const unsigned char *)rec + 4, t->recsz - 4);
    set_state(s, SG_REC_LIVE);
}

static void *t_put(const struct table *t, const void *rec)
{
    uint32_t i = t->home(rec) & t->mask;
    for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
        void *r = slot(t, i);
        if (state_of(r) == SG_REC_LIVE) {
            if (t->same(r, rec)) {
                memcpy((unsigned char *)r + 4, (const unsigned char *)rec + 4, t->recsz - 4);
                return r;
            }
            continue;
        }
        /* Keep at least 1/8 of the table empty so probes stay short. */
        if (*t->live >= (t->mask + 1) - (t->mask + 1) / 8)
            return NULL;
        t_fill(t, r, rec);
        (*t->live)++;
        return r;
    }
    return NULL;
}

/* Backward-shift deletion.  Order of stores: the hole is emptied, then a
 * later record is copied into it and published, then its old slot is
 * emptied; a crash in between leaves a duplicate or an unreachable record,
 * both fixed by repair. */
static void t_del(const struct table *t, void *rec)
{
    uint32_t i = (uint32_t)(((unsigned char *)rec - t->base) / t->recsz);
    set_state(slot(t, i), SG_REC_EMPTY);
    if (*t->live)
        (*t->live)--;
    uint32_t j = i;
    for (uint32_t n = 0; n <= t->mask; n++) {
        j = (j + 1) & t->mask;
        void *r = slot(t, j);
        if (state_of(r) != SG_REC_LIVE)
            return;
        uint32_t h = t->home(r) & t->mask;
        /* r may move to hole i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (h > i && h <= j) : (h > i || h <= j);
        if (stays)
            continue;
        void *hole = slot(t, i);
        memcpy((unsigned char *)hole + 4, (unsigned char *)r + 4, t->recsz - 4);
        set_state(hole, SG_REC_LIVE);
        set_state(r, SG_REC_EMPTY);
        i = j;
    }
}

/* Repair one table: drop duplicates, re-place unreachable records,
 * recount.  Returns problems fixed. */
static int t_repair(const struct table *t)
{
    int fixed = 0;
    uint32_t live = 0;
    unsigned char *tmp = malloc(t->recsz);
    if (!tmp)
        return 0;
    for (uint32_t i = 0; i <= t->mask; i++) {
        void *r = slot(t, i);
        if (state_of(r) != SG_REC_LIVE)
            continue;
        void *f = t_find(t, r);
        if (f == r) {
            live++;
            continue;
        }
        /* A duplicate (f is another copy) or unreachable (f == NULL). */
        memcpy(tmp, r, t->recsz);
        set_state(r, SG_REC_EMPTY);
        fixed++;
        if (!f) {
            uint32_t saved = *t->live;
            *t->live = 0; /* room is certain: we just freed a slot */
            t_put(t, tmp);
            *t->live = saved;
        }
        i = (uint32_t)-1; /* placements moved: start over */
        live = 0;
        if (fixed > 100000)
            break;
    }
    free(tmp);
    if (*t->live != live)
        fixed++;
    *t->live = live;
    return fixed;
}

static int att_repair(struct sg_ledger *L);

/* Free every record whose fields are out of range (sg_seg_rec_ok and the
 * state checks): they read as free slots already, and t_repair then
 * re-places what followed them in a probe chain.  Returns how many. */
static int clear_bad_records(struct sg_ledger *L)
{
    int n = 0;
    for (uint32_t i = 0; i < L->seg_cap; i++)
        if (!sg_seg_rec_ok(&L->seg[i])) {
            set_state(&L->seg[i], SG_REC_EMPTY);
            n++;
        }
    for (uint32_t i = 0; i < L->att_cap; i++) {
        uint32_t st = state_of(&L->att[i]);
        /* Compare-and-swap: live processes place attachments unlocked. */
        if (!sg_att_state_ok(st) &&
            __atomic_compare_exchange_n(&L->att[i].state, &st, SG_REC_EMPTY, 0, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            n++;
    }
    for (uint32_t i = 0; i < SG_USER_CAP; i++)
        if (!sg_user_state_ok(L->users[i].state)) {
            set_state(&L->users[i], SG_REC_EMPTY);
            n++;
        }
    return n;
}

int sg_ledger_repair(struct sg_ledger *L)
{
    struct table s = seg_table(L), u = user_table(L);
    int fixed = clear_bad_records(L);
    fixed += t_repair(&s) + att_repair(L) + t_repair(&u);
    /* Rebuild the pending index and the counters from the records. */
    uint32_t pending = 0, intents = 0;
    for (uint32_t i = 0; i < L->pend_cap; i++)
        L->pend[i].id = -1;
    for (uint32_t i = 0; i < L->seg_cap; i++) {
        struct sg_seg *r = &L->seg[i];
        if (r->state == SG_REC_LIVE && (r->flags & SG_SEG_PENDING)) {
            if (pending < L->pend_cap) {
                L->pend[pending].kind = r->kind;
                L->pend[pending].id = r->id;
                pending++;
            } else
                r->flags &= ~SG_SEG_PENDING;
        }
    }
    for (uint32_t i = 0; i < L->intent_cap; i++)
        intents += L->intent[i].state == SG_REC_LIVE;
    fixed += (L->hdr->pending != pending) + (L->hdr->intents != intents);
    counter_set(&L->hdr->pending, pending);
    counter_set(&L->hdr->intents, intents);
    return fixed;
}

/* ---- typed wrappers --------------------------------------------------- */

struct sg_seg *sg_seg_find(struct sg_ledger *L, uint32_t kind, int32_t id)
{
    struct sg_seg key = { .kind = kind, .id = id };
    struct table t = seg_table(L);
    return t_find(&t, &key);
}

struct sg_seg *sg_seg_put(struct sg_ledger *L, const struct sg_seg *rec)
{
    struct table t = seg_table(L);
    return t_put(&t, rec);
}

void sg_seg_del(struct sg_ledger *L, struct sg_seg *rec)
{
    if (rec->flags & SG_SEG_PENDING)
        sg_pend_del(L, rec->kind, rec->id);
    struct table t = seg_table(L);
    t_del(&t, rec);
}

/* ---- attachment records: placed and removed without the lock ----------
 *
 * A process adds and removes only its own attachment records, and does
 * so without the ledger lock, so that the shmat/shmdt pair never waits
 * for another process.  A record goes into the first free slot probing
 * from its home: the slot is claimed by a compare-and-swap of its state
 * (EMPTY -> SG_REC_CLAIM|pid), filled, then published (LIVE).  Records
 * never move, so their owner keeps the slot (sg_att_at) and removes the
 * record by a compare-and-swap (LIVE -> EMPTY).  As freed slots leave
 * holes in probe chains, a lookup by key scans (from the home slot, so a
 * present record is found early).  Others remove a record, under the
 * lock, only when it is proven stale (sg_reconcile) - never one that its
 * live owner may still touch - and repair frees the claims of processes
 * that died while filling a slot. */

/* A claim names its process by pid and by a 9-bit tag of its pid
 * namespace, 1 to 510 (0: a claim that names no namespace; 511, all
 * ones, is no claim: a state of all ones is refused). */
uint32_t sg_claim_tag(uint32_t pidns) { return 1 + pidns % 510; }

/* The tag this process's claims carry (sg_ledger_claim_ns; 0 until set:
 * the tool's and tests' claims name no namespace).  Kept, not computed on
 * every claim: shmat's claim is on the attach/detach hot path. */
SG_FIRST_DATA static uint32_t claim_ns_bits;

SG_COLD void sg_ledger_claim_ns(uint32_t pidns)
{
    __atomic_store_n(&claim_ns_bits, pidns ? sg_claim_tag(pidns) << SG_REC_CLAIM_NS_SHIFT : 0,
                     __ATOMIC_RELAXED);
}

SG_HOT static uint32_t att_claim(int32_t pid)
{
    return SG_REC_CLAIM | __atomic_load_n(&claim_ns_bits, __ATOMIC_RELAXED) |
           ((uint32_t)pid & SG_REC_CLAIM_PID);
}

int sg_claim_dead(uint32_t st)
{
    uint32_t tag = (st & SG_REC_CLAIM_NS) >> SG_REC_CLAIM_NS_SHIFT;
    if (tag && tag != sg_claim_tag(sg_pidns_view()))
        return 0; /* another pid namespace's: not provable from here */
    return sg_proc_alive((int)(st & SG_REC_CLAIM_PID), 0) == 0;
}

SG_HOT static void att_live_sub(struct sg_ledger *L)
{
    uint32_t v = __atomic_load_n(&L->hdr->att_live, __ATOMIC_RELAXED);
    while (v && !__atomic_compare_exchange_n(&L->hdr->att_live, &v, v - 1, 1, __ATOMIC_RELAXED,
                                             __ATOMIC_RELAXED))
        ;
}

struct sg_att *sg_att_find(struct sg_ledger *L, int32_t pid, uint64_t addr)
{
    struct sg_att key = { .pid = pid, .addr = addr };
    uint32_t mask = L->att_mask, i = att_home(&key) & mask;
    for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
        struct sg_att *r = &L->att[i];
        if (state_of(r) == SG_REC_LIVE && r->pid == pid && r->addr == addr)
            return r;
    }
    return NULL;
}

SG_HOT struct sg_att *sg_att_claim(struct sg_ledger *L, int32_t pid, uint64_t addr)
{
    struct sg_att key = { .pid = pid, .addr = addr };
    uint32_t mask = L->att_mask, i = att_home(&key) & mask;
    uint32_t claim = att_claim(pid), cap = mask + 1;
    /* Keep at least 1/8 of the table free so probes stay short. */
    if (__atomic_load_n(&L->hdr->att_live, __ATOMIC_RELAXED) < cap - cap / 8) {
        for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
            struct sg_att *r = &L->att[i];
            uint32_t st = state_of(r);
            if (st != SG_REC_EMPTY)
                continue;
            if (__atomic_compare_exchange_n(&r->state, &st, claim, 0, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return r;
            /* another process took it first: go on probing */
        }
    }
    return NULL;
}

void sg_ledger_dropped(struct sg_ledger *L) { __atomic_fetch_add(&L->hdr->dropped, 1, __ATOMIC_RELAXED); }

SG_HOT void sg_att_publish(struct sg_ledger *L, struct sg_att *r)
{
    set_state(r, SG_REC_LIVE);
    __atomic_fetch_add(&L->hdr->att_live, 1, __ATOMIC_RELAXED);
}

struct sg_att *sg_att_put(struct sg_ledger *L, const struct sg_att *rec)
{
    struct sg_att *r = sg_att_claim(L, rec->pid, rec->addr);
    if (r) {
        memcpy((unsigned char *)r + 4, (const unsigned char *)rec + 4, sizeof *r - 4);
        sg_att_publish(L, r);
    }
    return r;
}

uint32_t sg_att_slot(const struct sg_ledger *L, const struct sg_att *rec) { return (uint32_t)(rec - L->att); }

SG_HOT struct sg_att *sg_att_at(struct sg_ledger *L, uint32_t i, int32_t pid, uint64_t addr)
{
    if (i > L->att_mask)
        return NULL;
    struct sg_att *r = &L->att[i];
    return state_of(r) == SG_REC_LIVE && r->pid == pid && r->addr == addr ? r : NULL;
}

SG_HOT void sg_att_del(struct sg_ledger *L, struct sg_att *rec)
{
    /* A reconciler may hold the slot for a moment (sg_att_drop_stale):
     * wait for it to give it back, a bounded while. */
    for (int spins = 0; spins < 1000; spins++) {
        uint32_t st = SG_REC_LIVE;
        if (__atomic_compare_exchange_n(&rec->state, &st, SG_REC_EMPTY, 0, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
            att_live_sub(L);
            return;
        }
        if (!(st & SG_REC_CLAIM))
            return; /* already gone */
        sched_yield();
    }
}

/* Hold the live record r for a judgment by someone other than its owner:
 * while it is claimed by this process, its owner cannot remove it
 * (sg_att_del waits) and nobody can refill the slot.  1 if held. */
static int att_hold(struct sg_att *r)
{
    uint32_t st = SG_REC_LIVE;
    return __atomic_compare_exchange_n(&r->state, &st, att_claim(getpid()), 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

/* End a hold: drop the record, or give it back live.  Returns drop. */
static int att_release(struct sg_ledger *L, struct sg_att *r, int drop)
{
    set_state(r, drop ? SG_REC_EMPTY : SG_REC_LIVE);
    if (drop)
        att_live_sub(L);
    return drop;
}

int sg_att_drop_stale(struct sg_ledger *L, struct sg_att *rec, const struct sg_att *seen)
{
    if (!att_hold(rec))
        return 0;
    /* Still the record that was judged, or a new one placed since? */
    return att_release(L, rec,
                       rec->pid == seen->pid && rec->addr == seen->addr && rec->shmid == seen->shmid &&
                           rec->start == seen->start && rec->time_ns == seen->time_ns);
}

/* Free slot r, claimed (state st) by a process that is dead.  A process
 * still exiting counts as alive: its claim goes at a later repair or
 * reconcile. */
static int att_free_claim(struct sg_att *r, uint32_t st)
{
    return sg_claim_dead(st) &&
           __atomic_compare_exchange_n(&r->state, &st, SG_REC_EMPTY, 0, __ATOMIC_RELEASE,
                                       __ATOMIC_RELAXED);
}

unsigned sg_att_free_dead_claims(struct sg_ledger *L)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < L->att_cap; i++) {
        uint32_t st = state_of(&L->att[i]);
        if ((st & SG_REC_CLAIM) != 0)
            n += (unsigned)att_free_claim(&L->att[i], st);
    }
    return n;
}

/* Drop r if another live record has its key, judged while r is held
 * claimed: its owner cannot remove it meanwhile, and so cannot be placing
 * it again elsewhere (an owner never has two records of one key live). */
static int att_drop_dup(struct sg_ledger *L, struct sg_att *r)
{
    return att_hold(r) && att_release(L, r, sg_att_find(L, r->pid, r->addr) != NULL);
}

/* Repair of the attachment table (lock held; owners may be adding and
 * removing their own records meanwhile): free the claims of dead
 * processes, drop the second copy of a (pid, addr), recount. */
static int att_repair(struct sg_ledger *L)
{
    int fixed = 0;
    uint32_t live = 0, cap = L->att_cap;
    for (uint32_t i = 0; i < cap; i++) {
        struct sg_att *r = &L->att[i];
        uint32_t st = state_of(r);
        if ((st & SG_REC_CLAIM) != 0) {
            fixed += att_free_claim(r, st);
            continue;
        }
        if (st != SG_REC_LIVE)
            continue;
        struct sg_att *first = sg_att_find(L, r->pid, r->addr);
        if (first && first != r && att_drop_dup(L, r)) {
            fixed++;
            continue;
        }
        live++;
    }
    if (__atomic_load_n(&L->hdr->att_live, __ATOMIC_RELAXED) != live)
        fixed++;
    __atomic_store_n(&L->hdr->att_live, live, __ATOMIC_RELAXED);
    return fixed;
}

struct sg_user *sg_user_find(struct sg_ledger *L, uint32_t kind, int32_t id, int32_t pid,
                             uint32_t pidns)
{
    struct sg_user key = { .id = id, .pid = pid, .pidns = pidns, .kind = kind };
    struct table t = user_table(L);
    return t_find(&t, &key);
}

struct sg_user *sg_user_put(struct sg_ledger *L, const struct sg_user *rec)
{
    struct table t = user_table(L);
    return t_put(&t, rec);
}

void sg_user_del(struct sg_ledger *L, struct sg_user *rec)
{
    struct table t = user_table(L);
    t_del(&t, rec);
}

unsigned sg_user_del_obj(struct sg_ledger *L, uint32_t kind, int32_t id)
{
    unsigned n = 0;
    if (!L->hdr->user_live)
        return 0;
    struct table t = user_table(L);
    for (uint32_t i = 0; i < L->user_cap; i++) {
        struct sg_user *u = &L->users[i];
        /* Deletion shifts later records back into slot i: look again. */
        while (u->state == SG_REC_LIVE && u->id == id && u->kind == kind) {
            t_del(&t, u);
            n++;
        }
    }
    return n;
}

/* ---- intents ---------------------------------------------------------- */

/* Intents live in a small table probed over a window of INTENT_WINDOW
 * slots from a hash of (pid, shmid): setting and clearing one (the
 * shmget/shmat hot path) touch at most that many slots. */
#define INTENT_WINDOW 32u

static uint32_t intent_home(int32_t pid, int32_t shmid)
{
    return mix(((uint64_t)(uint32_t)pid << 32) | (uint32_t)shmid);
}

int sg_intent_set(struct sg_ledger *L, int32_t pid, uint64_t start, int32_t shmid)
{
    return sg_intent_put(L, pid, sg_pidns_self(), start, shmid) ? 0 : -1;
}

struct sg_intent *sg_intent_put(struct sg_ledger *L, int32_t pid, uint32_t pidns, uint64_t start,
                                int32_t shmid)
{
    uint64_t now = sg_coarse_mono_ns();
    uint32_t cap = L->intent_cap, h = intent_home(pid, shmid);
    struct sg_intent *free_slot = NULL, *own_oldest = NULL;
    for (uint32_t k = 0; k < INTENT_WINDOW && k < cap; k++) {
        struct sg_intent *x = &L->intent[(h + k) % cap];
        if (x->state == SG_REC_LIVE) {
            if (x->pid == pid && x->pidns == pidns && x->shmid == shmid) {
                x->start = start;
                x->time_ns = now;
                return x;
            }
            if (!free_slot && now - x->time_ns > SG_INTENT_TTL_NS)
                free_slot = x; /* expired: reusable */
            if (x->pid == pid && x->pidns == pidns &&
                (!own_oldest || x->time_ns < own_oldest->time_ns))
                own_oldest = x;
        } else if (!free_slot)
            free_slot = x;
    }
    /* No room: give up this process's own oldest lookup before anyone
     * else's (a process that looks many keys up without attaching). */
    if (!free_slot)
        free_slot = own_oldest;
    if (!free_slot) {
        /* Still none: every removal waits out the TTL instead. */
        L->hdr->intent_overflow_until_ns = now + SG_INTENT_TTL_NS;
        return NULL;
    }
    if (free_slot->state != SG_REC_LIVE)
        counter_add(&L->hdr->intents, 1);
    set_state(free_slot, SG_REC_EMPTY);
    free_slot->shmid = shmid;
    free_slot->pid = pid;
    free_slot->pidns = pidns;
    free_slot->start = start;
    free_slot->time_ns = now;
    set_state(free_slot, SG_REC_LIVE);
    return free_slot;
}

void sg_intent_clear(struct sg_ledger *L, int32_t pid, uint32_t pidns, int32_t shmid)
{
    uint32_t cap = L->intent_cap, h = intent_home(pid, shmid);
    for (uint32_t k = 0; k < INTENT_WINDOW && k < cap; k++) {
        struct sg_intent *x = &L->intent[(h + k) % cap];
        if (x->state == SG_REC_LIVE && x->pid == pid && x->pidns == pidns && x->shmid == shmid) {
            set_state(x, SG_REC_EMPTY);
            counter_add(&L->hdr->intents, -1);
        }
    }
}

void sg_intent_clear_pid(struct sg_ledger *L, int32_t pid, uint32_t pidns)
{
    for (uint32_t i = 0; i < L->intent_cap && L->hdr->intents; i++) {
        struct sg_intent *x = &L->intent[i];
        if (x->state == SG_REC_LIVE && x->pid == pid && x->pidns == pidns) {
            set_state(x, SG_REC_EMPTY);
            counter_add(&L->hdr->intents, -1);
        }
    }
}

int sg_intent_holding(struct sg_ledger *L, int32_t shmid, uint64_t now)
{
    int n = 0;
    if (L->pidns)
        sg_pidns_learn(L->pidns, SG_PIDNS_CAP, L->owner);
    if (now < L->hdr->intent_overflow_until_ns)
        n++;
    for (uint32_t i = 0; i < L->intent_cap && L->hdr->intents; i++) {
        struct sg_intent *x = &L->intent[i];
        if (x->state != SG_REC_LIVE || x->shmid != shmid)
            continue;
        if (now - x->time_ns > SG_INTENT_TTL_NS || sg_proc_alive_ns(x->pid, x->start, x->pidns) == 0) {
            set_state(x, SG_REC_EMPTY);
            counter_add(&L->hdr->intents, -1);
            continue;
        }
        n++;
    }
    return n;
}

/* ---- pending index ---------------------------------------------------- */

int sg_pend_add(struct sg_ledger *L, uint32_t kind, int32_t id)
{
    struct sg_pend *free_slot = NULL;
    for (uint32_t i = 0; i < L->pend_cap; i++) {
        struct sg_pend *p = &L->pend[i];
        if (p->id == id && p->kind == kind)
            return 0;
        if (p->id < 0 && !free_slot)
            free_slot = p;
    }
    if (!free_slot)
        return -1;
    free_slot->kind = kind;
    __atomic_store_n(&free_slot->id, id, __ATOMIC_RELEASE);
    counter_add(&L->hdr->pending, 1);
    return 0;
}

void sg_pend_del(struct sg_ledger *L, uint32_t kind, int32_t id)
{
    for (uint32_t i = 0; i < L->pend_cap; i++) {
        struct sg_pend *p = &L->pend[i];
        if (p->id == id && p->kind == kind) {
            __atomic_store_n(&p->id, -1, __ATOMIC_RELEASE);
            counter_add(&L->hdr->pending, -1);
        }
    }
}

/* ---- pid namespace table ---------------------------------------------- */

void sg_pidns_note(struct sg_ledger *L, uint32_t ino, const uint32_t *anc, uint32_t nanc)
{
    if (!ino || !L->pidns)
        return;
    if (nanc > SG_PIDNS_ANC)
        nanc = SG_PIDNS_ANC;
    struct sg_pidns *free_slot = NULL;
    for (uint32_t i = 0; i < SG_PIDNS_CAP; i++) {
        struct sg_pidns *e = &L->pidns[i];
        if (e->state == SG_REC_LIVE && e->ino == ino && e->nanc >= nanc)
            return;
        if (e->state == SG_REC_LIVE && e->ino == ino) {
            free_slot = e;
            break;
        }
        if (e->state != SG_REC_LIVE && !free_slot)
            free_slot = e;
    }
    if (!free_slot) /* full: the slot this one hashes to */
        free_slot = &L->pidns[ino % SG_PIDNS_CAP];
    set_state(free_slot, SG_REC_EMPTY);
    free_slot->ino = ino;
    free_slot->nanc = nanc;
    memset(free_slot->anc, 0, sizeof free_slot->anc);
    memcpy(free_slot->anc, anc, nanc * sizeof *anc);
    set_state(free_slot, SG_REC_LIVE);
}

/* ---- event ring -------------------------------------------------------- */

void sg_event_add(struct sg_ledger *L, const struct sg_event *rec)
{
    struct sg_event *e = &L->ev[L->hdr->ev_total % SG_EV_CAP];
    set_state(e, SG_REC_EMPTY);
    memcpy((unsigned char *)e + sizeof e->state, (const unsigned char *)rec + sizeof rec->state,
           sizeof *e - sizeof e->state);
    set_state(e, SG_REC_LIVE);
    L->hdr->ev_total++;
}
