/*
 * fuzz_ledger.c - libFuzzer target over every reader of a ledger file.
 *
 * A ledger is a file that crashes and other processes of its owner can
 * leave in any state, so every piece of code that reads one is run here
 * on images the fuzzer makes:
 *   - sg_ledger_check_image, the tool's gate, and sg_ledger_check_layout,
 *     the library's (pure);
 *   - sg_ledger_load, sg_ledger_verify and look-ups on the private copy,
 *     as the tool reads ledgers;
 *   - the tool's commands that read ledgers: ledger, ledger --check,
 *     ls (table, JSON, the queue table) and doctor, on a directory
 *     holding the image;
 *   - the library's own path: sg_ledger_open_own maps the file, then, if
 *     the image passed its gate, the lock, the edits the library makes
 *     (records put, found and deleted, pending index, intents, users of
 *     sets and queues, events, attachments), sg_ledger_repair, and the edits again.
 * Beyond "no crash, no hang, no sanitizer report", two properties are
 * asserted: load and open agree with their gates on what is usable, and
 * after sg_ledger_repair (and again after the edits) sg_ledger_verify
 * finds the ledger consistent.
 *
 * The input is small: a byte of flags, then patches applied to one of
 * four real ledgers that the library itself builds at start (empty;
 * populated; crowded with deletions; left mid-edit by a dead process),
 * so that mutations land on structure instead of on 500 KiB of zeroes:
 *   byte 0   bits 0-1 base image; bit 2 raw (the rest of the input is the
 *            whole file); bit 3 keep the header checksum as patched (else
 *            it is resealed, so the checks behind it are reached); bit 4
 *            keep the namespace field; bit 5 keep the lock's words (then
 *            the library path is skipped: a lock word held by nobody
 *            waits 2 s, which the unit tests cover); bit 6 run the tool's
 *            commands (slower: they read /proc)
 *   then     patches: u32 offset (little endian, taken modulo the image
 *            length), u8 n, n bytes; n = 0 truncates the image at the
 *            offset.
 * Kernel objects that the populated bases describe are created at start
 * (run it in a private IPC namespace: scripts/fuzz.sh does).
 */
#define _GNU_SOURCE
#include "sg_kernel.h"
#include "sg_ledger.h"
#include "sg_proc.h"
#include "sg_pidns.h"
#include "sg_verify.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F_BASE 0x03
#define F_RAW 0x04
#define F_KEEP_SUM 0x08
#define F_KEEP_NS 0x10
#define F_KEEP_LOCK 0x20
#define F_TOOL 0x40

#define NBASE 4
static unsigned char *base_img[NBASE];
static size_t base_len[NBASE];
static char dir[PATH_MAX], own_path[PATH_MAX + 128];
static uint64_t ns;
static int shm_ids[3], sem_id = -1, msg_id = -1;
static struct sg_self self;
static int report_fd = 2; /* stderr as it was at start: -close_fd_mask
                           * closes the process's own */

static void die(const char *what, const char *why)
{
    dprintf(report_fd, "fuzz_ledger: %s: %s\n", what, why);
    abort();
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(path, strerror(errno));
    const unsigned char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0)
            die(path, strerror(errno));
        b += w;
        n -= (size_t)w;
    }
    close(fd);
}

static unsigned char *read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        die(path, strerror(errno));
    unsigned char *b = malloc((size_t)st.st_size);
    if (!b || pread(fd, b, (size_t)st.st_size, 0) != st.st_size)
        die(path, "cannot read");
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

/* A segment record for kernel segment id, as the library writes one. */
static void seg_rec(struct sg_seg *r, int id, uint32_t flags)
{
    struct shmid_ds ds;
    memset(r, 0, sizeof *r);
    memset(&ds, 0, sizeof ds);
    shmctl(id, IPC_STAT, &ds);
    r->kind = SG_KIND_SHM;
    r->id = id;
    r->key = (int32_t)ds.shm_perm.__key;
    r->flags = SG_SEG_CREATOR | flags;
    r->mode = ds.shm_perm.mode & 0777;
    r->size = ds.shm_segsz;
    r->kcpid = ds.shm_cpid;
    r->kcuid = ds.shm_perm.cuid;
    r->cr_pid = self.pid;
    r->cr_uid = geteuid();
    r->cr_start = self.start;
    r->cr_time_ns = 1;
    memcpy(r->cr_comm, "fuzz\001\377", 7);
    snprintf(r->cr_exe, sizeof r->cr_exe, "/usr/bin/fuzz");
    snprintf(r->site_obj, sizeof r->site_obj, "/usr/lib/libfuzz.so");
    snprintf(r->site_sym, sizeof r->site_sym, "make_segment");
}

/* must: building a base image, where there is room; in the library's
 * edits a full table (or a wrong count of it) leaves the call unrecorded,
 * as in the library. */
static void add_att_(struct sg_ledger *L, int shmid, int32_t pid, uint64_t start, uint64_t addr,
                     int must)
{
    struct sg_att *a = sg_att_claim(L, pid, addr);
    if (!a && !must)
        return;
    if (!a)
        die("base", "no attachment slot");
    a->shmid = shmid;
    a->pid = pid;
    a->flags = 0;
    a->start = start;
    a->addr = addr;
    a->time_ns = 2;
    memset(a->pad, 0, sizeof a->pad);
    sg_att_publish(L, a);
}

#define add_att(L, shmid, pid, start, addr) add_att_(L, shmid, pid, start, addr, 1)

static void add_event(struct sg_ledger *L, uint32_t limit)
{
    struct sg_event e;
    memset(&e, 0, sizeof e);
    e.kind = SG_KIND_SHM;
    e.err = ENOSPC;
    e.limit = limit;
    e.pid = self.pid;
    e.start = self.start;
    e.time_ns = 3;
    e.size = 1 << 20;
    e.used = 4096;
    e.max = 4096;
    memcpy(e.comm, "httpd", 6);
    snprintf(e.site_obj, sizeof e.site_obj, "/usr/sbin/httpd");
    sg_event_add(L, &e);
}

/* Build base image i with the library's own code, in a scratch dir. */
static void make_base(int i)
{
    char sub[PATH_MAX + 16], err[512];
    snprintf(sub, sizeof sub, "%s/base%d", dir, i);
    struct sg_caps caps = { 8, 8, 4, 4 };
    if (i == 2)
        caps = (struct sg_caps){ 16, 16, 8, 8 };
    struct sg_ledger L;
    if (sg_ledger_open_own(&L, sub, ns, &caps, err, sizeof err) != 0)
        die("base", err);
    if (i > 0) {
        if (sg_ledger_lock(&L) != 0)
            die("base", "lock");
        struct sg_seg r;
        for (int k = 0; k < 3; k++) {
            seg_rec(&r, shm_ids[k], k == 1 ? SG_SEG_PENDING : 0);
            if (k == 1) {
                r.rm_pid = self.pid;
                r.rm_start = self.start;
                sg_pend_add(&L, SG_KIND_SHM, r.id);
            }
            sg_seg_put(&L, &r);
        }
        memset(&r, 0, sizeof r);
        r.kind = SG_KIND_SEM;
        r.id = sem_id;
        r.key = 0x5347;
        r.flags = SG_SEG_CREATOR;
        r.nsems = 2;
        r.cr_pid = self.pid;
        r.cr_start = self.start;
        sg_seg_put(&L, &r);
        struct sg_user u = { .kind = SG_KIND_SEM, .id = sem_id, .pid = self.pid, .flags = SG_USE_LOOKUP,
                                .start = self.start, .time_ns = 4, .pidns = self.pidns };
        sg_user_put(&L, &u);
        u.pid = 1;
        u.start = sg_proc_start_time(1);
        sg_user_put(&L, &u);
        /* A queue (its id the set's, in a fresh namespace: both 0), with
         * users of its own kind. */
        memset(&r, 0, sizeof r);
        r.kind = SG_KIND_MSG;
        r.id = msg_id;
        r.key = 0x5347;
        r.flags = SG_SEG_CREATOR;
        r.cr_pid = self.pid;
        r.cr_start = self.start;
        sg_seg_put(&L, &r);
        u.kind = SG_KIND_MSG;
        u.id = msg_id;
        sg_user_put(&L, &u);
        u.pid = self.pid;
        u.start = self.start;
        u.flags = SG_USE_BYID;
        sg_user_put(&L, &u);
        sg_intent_set(&L, self.pid, self.start, shm_ids[0]);
        add_att(&L, shm_ids[0], self.pid, self.start, 0x7f0000000000ull);
        add_att(&L, shm_ids[1], 1, sg_proc_start_time(1), 0x7f0000100000ull);
        add_event(&L, SG_LIM_SEMMNI);
        add_event(&L, 1);
        if (i == 2) {
            /* Crowd the table, then delete some: probe chains that
             * wrap, and backward shifts. */
            for (int k = 0; k < 12; k++) {
                seg_rec(&r, shm_ids[k % 3], 0);
                r.id = 1000 + k * 16;
                r.kind = SG_KIND_SHM;
                sg_seg_put(&L, &r);
            }
            for (int k = 0; k < 12; k += 3) {
                /* (A full table stored fewer.) */
                struct sg_seg *x = sg_seg_find(&L, SG_KIND_SHM, 1000 + k * 16);
                if (x)
                    sg_seg_del(&L, x);
            }
            for (int k = 0; k < 70; k++)
                add_event(&L, (uint32_t)(k % 8) + 1);
        }
        sg_ledger_unlock(&L);
        if (i == 3) {
            /* Mid-edit: a child claims an attachment slot and dies, and
             * the generation is left odd. */
            pid_t c = fork();
            if (c == 0) {
                sg_att_claim(&L, getpid(), 0x1000);
                _exit(0);
            }
            waitpid(c, NULL, 0);
            L.hdr->generation |= 1;
        }
    }
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s", L.path);
    sg_ledger_close(&L);
    base_img[i] = read_file(path, &base_len[i]);
    if (sg_ledger_check_image(base_img[i], base_len[i], ns, err, sizeof err) != 0)
        die("base image refused", err);
    unlink(path);
    rmdir(sub);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    report_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (report_fd < 0)
        report_fd = 2;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sg-fuzz.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir))
        die(dir, strerror(errno));
    setenv("SHMGUARD_LEDGER", dir, 1);
    ledger_check_settle_ms = 0; /* nothing else writes these files */
    ns = sg_ipcns_ino();
    sg_proc_self(&self);
    self.pidns = sg_pidns_self();
    for (int k = 0; k < 3; k++) {
        shm_ids[k] = shmget(0x5347000 + k, 4096 * (size_t)(k + 1), IPC_CREAT | 0600);
        if (shm_ids[k] < 0)
            die("shmget", strerror(errno));
    }
    if (!shmat(shm_ids[0], NULL, 0))
        die("shmat", strerror(errno));
    sem_id = semget(0x5347, 2, IPC_CREAT | 0600);
    msg_id = msgget(0x5347, IPC_CREAT | 0600);
    if (sem_id < 0 || msg_id < 0)
        die("semget/msgget", strerror(errno));
    for (int i = 0; i < NBASE; i++)
        make_base(i);
    char name[128];
    sg_ledger_name(name, sizeof name, ns, geteuid(), 0);
    snprintf(own_path, sizeof own_path, "%s/%s", dir, name);
    return 0;
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* The image for this input, in a fresh allocation (*n bytes). */
static unsigned char *build_image(const uint8_t *d, size_t size, size_t *n)
{
    uint8_t f = d[0];
    if (f & F_RAW) {
        *n = size - 1;
        unsigned char *img = malloc(*n ? *n : 1);
        memcpy(img, d + 1, *n);
        return img;
    }
    size_t len = base_len[f & F_BASE];
    unsigned char *img = malloc(len);
    memcpy(img, base_img[f & F_BASE], len);
    for (size_t p = 1; p + 5 <= size && len > 0;) {
        size_t off = rd32(d + p) % len, k = d[p + 4];
        p += 5;
        if (k == 0) {
            len = off;
            continue;
        }
        if (k > size - p)
            k = size - p;
        if (k > len - off)
            k = len - off;
        memcpy(img + off, d + p, k);
        p += k;
    }
    *n = len;
    return img;
}

static void run_tool(int (*fn)(int, char **), int argc, const char **argv)
{
    optind = 0;
    fn(argc, (char **)argv);
    fflush(stdout);
}

static void check_consistent(struct sg_ledger *L, const char *when)
{
    struct sg_verify v;
    if (sg_ledger_verify(L, &v) != 0)
        die(when, v.first);
}

/* The edits the library makes. */
static void library_edits(struct sg_ledger *L)
{
    struct sg_seg rec;
    seg_rec(&rec, shm_ids[2], SG_SEG_PENDING);
    struct sg_seg *s = sg_seg_put(L, &rec);
    if (s && sg_pend_add(L, SG_KIND_SHM, rec.id) != 0)
        s->flags &= ~SG_SEG_PENDING;
    s = sg_seg_find(L, SG_KIND_SHM, shm_ids[1]);
    if (s) {
        if (s->flags & SG_SEG_PENDING)
            sg_pend_del(L, SG_KIND_SHM, s->id);
        sg_seg_del(L, s);
    }
    for (uint32_t i = 0; i < L->seg_cap; i++)
        if (L->seg[i].state == SG_REC_LIVE && (L->seg[i].flags & SG_SEG_PENDING) == 0 &&
            L->seg[i].id % 3 == 0) {
            sg_seg_del(L, &L->seg[i]);
            break;
        }
    sg_intent_put(L, self.pid, self.pidns, self.start, shm_ids[2]);
    sg_intent_holding(L, shm_ids[0], sg_mono_ns());
    sg_intent_clear_pid(L, self.pid, self.pidns);
    struct sg_user u = { .kind = SG_KIND_SEM, .id = sem_id, .pid = 2, .start = 9, .time_ns = 9 };
    sg_user_put(L, &u);
    sg_user_del_obj(L, SG_KIND_SEM, sem_id);
    u.kind = SG_KIND_MSG;
    u.id = msg_id;
    sg_user_put(L, &u);
    struct sg_user *mu = sg_user_find(L, SG_KIND_MSG, msg_id, self.pid, self.pidns);
    if (mu)
        sg_user_del(L, mu);
    add_event(L, 2);
    struct sg_att *a = sg_att_find(L, self.pid, 0x7f0000000000ull);
    if (a)
        sg_att_del(L, a);
    /* A mapping at this address ends before another begins there. */
    a = sg_att_find(L, self.pid, 0x7f0000200000ull);
    if (a)
        sg_att_del(L, a);
    add_att_(L, shm_ids[2], self.pid, self.start, 0x7f0000200000ull, 0);
}

/* The library's path: map the file and, when it passes the layout check,
 * lock and edit it as the library would (bad records in the large tables
 * included: it opens such files), then repair, and edit again. */
static void library_path(int usable, int unfinished)
{
    struct sg_ledger L;
    char err[PATH_MAX + 256];
    int r = sg_ledger_open_own(&L, dir, ns, NULL, err, sizeof err);
    if (r == 0 && strcmp(L.path, own_path) != 0) {
        /* It refused the image and made a new ledger beside it: only
         * allowed when the image was not usable. */
        if (usable)
            die("open", "a usable ledger was passed over");
        unlink(L.path);
        sg_ledger_close(&L);
        return;
    }
    if (r == 0 && !usable && unfinished) {
        /* A creation that never finished (header all zero, or not marked
         * ready): nothing was ever recorded in it, and open makes it anew. */
        char why[512];
        if (sg_ledger_check_layout(L.base, L.len, ns, why, sizeof why) != 0)
            die("open", "made a file anew that is not usable");
        usable = 1;
    }
    if (r != 0 || !usable) {
        if (r == 0)
            die("open", "accepted an image that check_layout refuses");
        if (usable)
            die("open", err);
        return;
    }
    if (sg_ledger_lock(&L) != 0)
        die("lock", "a free lock was not taken");
    library_edits(&L);
    sg_ledger_repair(&L);
    check_consistent(&L, "after repair");
    library_edits(&L);
    check_consistent(&L, "after the library's edits");
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t f = d[0];
    size_t len;
    unsigned char *img = build_image(d, size, &len);
    struct sg_hdr *h = (struct sg_hdr *)img;
    if (!(f & F_RAW) && len >= sizeof *h) {
        if (!(f & F_KEEP_NS))
            h->ipcns_ino = ns;
        if (!(f & F_KEEP_SUM))
            sg_ledger_seal_header(h);
        if (!(f & F_KEEP_LOCK)) {
            pthread_mutex_t *m = (pthread_mutex_t *)h->lock;
            m->__data.__lock = 0;
            m->__data.__owner = 0;
            m->__data.__nusers = 0;
            h->generation &= ~1ull;
        }
    }
    char err[512];
    int usable = sg_ledger_check_image(img, len, ns, err, sizeof err) == 0;
    write_file(own_path, img, len);

    struct sg_ledger L;
    int loaded = sg_ledger_load(&L, own_path, ns, err, sizeof err) == 0;
    if (loaded != usable && (loaded || len < sizeof *h || !(h->generation & 1)))
        die("load", loaded ? "loaded an image that check_image refuses" : err);
    /* The copy by lookup (the tool's read of other uids' ledgers) finds
     * exactly what the full copy finds, and refuses no image that the
     * full check accepts but for its bounded reading. */
    struct sg_objref refs[5] = { { SG_KIND_SHM, shm_ids[0] }, { SG_KIND_SHM, shm_ids[1] },
                                 { SG_KIND_SHM, shm_ids[2] }, { SG_KIND_SEM, sem_id },
                                 { SG_KIND_MSG, msg_id } };
    struct sg_ledger P;
    char perr[512];
    int part = sg_ledger_load_objects(&P, own_path, ns, refs, 5, perr, sizeof perr) == 0;
    if (loaded && !part && !strstr(perr, "lookups would read"))
        die("load_objects", perr);
    if (part) {
        for (int k = 0; k < 5; k++) {
            const struct sg_seg *a = sg_seg_find(&P, refs[k].kind, refs[k].id);
            const struct sg_seg *b = loaded ? sg_seg_find(&L, refs[k].kind, refs[k].id) : a;
            if (loaded && (!a != !b || (a && memcmp(a, b, sizeof *a) != 0)))
                die("load_objects", "a record differs from the full copy's");
        }
        sg_user_find(&P, SG_KIND_SEM, sem_id, self.pid, self.pidns);
        sg_user_find(&P, SG_KIND_MSG, msg_id, self.pid, self.pidns);
        sg_ledger_close(&P);
    }
    if (loaded) {
        struct sg_verify v;
        sg_ledger_verify(&L, &v);
        for (int k = 0; k < 3; k++)
            sg_seg_find(&L, SG_KIND_SHM, shm_ids[k]);
        sg_seg_find(&L, SG_KIND_SEM, sem_id);
        sg_user_find(&L, SG_KIND_SEM, sem_id, self.pid, self.pidns);
        sg_seg_find(&L, SG_KIND_MSG, msg_id);
        sg_user_find(&L, SG_KIND_MSG, msg_id, self.pid, self.pidns);
        sg_att_find(&L, self.pid, 0x7f0000000000ull);
        sg_ledger_close(&L);
    }
    if (f & F_TOOL) {
        run_tool(cmd_ledger, 2, (const char *[]){ "ledger", "--all", NULL });
        run_tool(cmd_ledger, 2, (const char *[]){ "ledger", "--json", NULL });
        run_tool(cmd_ls, 1, (const char *[]){ "ls", NULL });
        run_tool(cmd_ls, 2, (const char *[]){ "ls", "--json", NULL });
        run_tool(cmd_ls, 2, (const char *[]){ "ls", "--msg", NULL });
        run_tool(cmd_doctor, 1, (const char *[]){ "doctor", NULL });
        ledger_check(dir, 0);
        fflush(stdout);
    }
    if (!(f & F_KEEP_LOCK) && len >= sizeof *h) {
        static const struct sg_hdr zero;
        int unfinished = memcmp(h, &zero, sizeof zero) == 0 ||
                         (memcmp(h->magic, SG_LEDGER_MAGIC, 8) == 0 && h->ready == 0);
        library_path(sg_ledger_check_layout(img, len, ns, err, sizeof err) == 0, unfinished);
    }
    unlink(own_path);
    free(img);
    return 0;
}
