/*
 * sg_ledger.h - open, validate, lock and edit a ledger file.
 *
 * A ledger (layout in sg_layout.h) is one file per IPC namespace and trust
 * domain, in a sticky directory (default /dev/shm/shmguard).  A process
 * maps its own domain's file read-write; files of other domains are only
 * ever copied into private memory (sg_ledger_load), never mapped, so their
 * owner cannot crash a reader by truncating them.
 *
 * Editing functions require the lock (sg_ledger_lock).  Every edit is
 * crash-consistent at the granularity of one store: a record becomes
 * visible when its state word is written, after its fields.  A holder
 * killed mid-edit leaves at worst a duplicate or an unreachable record,
 * which sg_ledger_repair() (run by the next locker) fixes.
 */
#ifndef SG_LEDGER_H
#define SG_LEDGER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sg_compiler.h"
#include "sg_layout.h"

struct sg_ledger {
    unsigned char *base;        /* mapping, or private copy */
    size_t len;
    int fd;                     /* only while opening; -1 once open */
    int mapped;                 /* 1 if base is a shared mapping */
    size_t copy_len;            /* a copy's mapping (sg_ledger_load), or 0 */
    uid_t owner;                /* st_uid of the file: the trust domain */
    struct sg_hdr *hdr;
    struct sg_seg *seg;
    struct sg_att *att;
    /* Capacities: copies of the header's, checked and fixed when the file
     * is opened and never read from the file again (another process of
     * the domain may scribble over the header; every index is bounded by
     * these).  The hot paths need no header line for them either. */
    uint32_t att_mask;          /* att_cap - 1 */
    uint32_t seg_cap;
    uint32_t intent_cap;
    uint32_t att_cap;
    uint32_t pend_cap;
    uint32_t user_cap;
    struct sg_user *users;      /* SG_USER_CAP records */
    struct sg_intent *intent;
    struct sg_pend *pend;
    struct sg_event *ev;        /* ring of SG_EV_CAP */
    struct sg_pidns *pidns;     /* SG_PIDNS_CAP records */
    char path[PATH_MAX];
};

struct sg_caps {
    uint32_t seg, att, intent, pend;
};

/* Default capacities (SG_*_CAP_DEFAULT). */
struct sg_caps sg_caps_default(void);

/* File name (no directory) of the ledger of namespace ns and uid; alt > 0
 * names the fallbacks used when an earlier name is taken by a file that
 * the uid does not own. */
void sg_ledger_name(char *buf, size_t n, uint64_t ns, uid_t uid, int alt);

/* 1 if name looks like a ledger of namespace ns (any uid). */
int sg_ledger_name_matches(const char *name, uint64_t ns);

/* Open this process's own ledger for namespace ns in dir, creating the
 * directory (sticky, 01777) and the file (0644, owned by the euid) when
 * missing.  Symlinks are never followed; files owned by another uid are
 * skipped.  0 on success; -1 with a one-line reason in err otherwise (the
 * caller then passes calls through). */
int sg_ledger_open_own(struct sg_ledger *L, const char *dir, uint64_t ns,
                       const struct sg_caps *caps, char *err, size_t errlen);

/* The same, for a directory that must be in memory (tmpfs or ramfs):
 * -3, with the file system's name in err ("ext2/3/4", or its magic
 * number), and nothing created, when it (or, when missing, the parent it
 * would be made in) is elsewhere.  The library's way: the check is an
 * fstatfs of the directory it opens anyway. */
int sg_ledger_open_own_mem(struct sg_ledger *L, const char *dir, uint64_t ns, char *err,
                           size_t errlen);

/* The kind word glibc gives a mutex that is error-checking (2), robust
 * (16) and process-shared (128): the ledger lock's, checked before anyone
 * locks it. */
#define SG_LEDGER_LOCK_KIND 146


/* Where the ledgers of dir live: 1 on a file system in memory (tmpfs,
 * ramfs), the only kind the library uses (a ledger is shared memory
 * backed by a file: elsewhere every process's stores are written through
 * to disk, and creating one costs milliseconds); 0 on another (its name
 * in fs, as "ext4" or "0x1234"); -1 when neither dir nor its parent
 * (where it would be made) can be examined.  fs names the file system
 * whenever it is known. */
int sg_ledger_dir_in_memory(const char *dir, char *fs, size_t n);

/* The name of the file system with statfs magic `magic` (f_type) into fs
 * ("tmpfs", "ext2/3/4", or "0x..."), and 1 if it keeps its files in
 * memory (tmpfs, ramfs). */
int sg_fs_in_memory(unsigned long magic, char *fs, size_t n);

/* Check a ledger image: header, layout, capacities, and that every
 * record's state (and a live segment record's id and kind) is in range.
 * Pure function of the bytes (fuzzable).  0 if usable; -1 with a reason
 * in err.  For copies (the tool). */
int sg_ledger_check_image(const void *img, size_t len, uint64_t ns, char *err,
                          size_t errlen);

/* The same without the three large tables (segments, attachments,
 * semaphore users) and the event ring, which the library only writes:
 * what sg_ledger_open_own checks of a mapped file at every process
 * start, where walking 36 MiB of tables cost up to 30 ms.
 * A bad record there is harmless to the library (a state other than LIVE
 * reads as a free slot, an id no kernel object has is never looked up and
 * is dropped when the table is reconciled), sg_ledger_verify counts it
 * and sg_ledger_repair clears it. */
int sg_ledger_check_layout(const void *img, size_t len, uint64_t ns, char *err,
                           size_t errlen);

/* Whether a record's fields are in range (see sg_ledger_check_image). */
int sg_seg_rec_ok(const struct sg_seg *r);
int sg_att_state_ok(uint32_t state);
int sg_user_state_ok(uint32_t state);

/* Recompute the header's checksum after its fixed fields were changed
 * (tests and the fuzz target build images with it). */
void sg_ledger_seal_header(struct sg_hdr *h);

/* Copy the ledger file at path into private memory, consistently (retries
 * while a writer is mid-update, ~50 ms at most; a ledger whose writer died
 * mid-edit is copied as it was left), and check it.  0 ok; -1 with
 * reason. */
int sg_ledger_load(struct sg_ledger *L, const char *path, uint64_t ns, char *err,
                   size_t errlen);

/* A copy by lookup, for a ledger that somebody else may have filled: the
 * header, the semaphore users, intents, pending index and events, and of
 * the object table only the records of the objects in want (with the
 * slots before them on their probe chains, at most 512); the rest of the
 * object table and the attachment table read as empty.  The work is
 * bounded by the number of objects, whatever the file holds.  0 ok; -1
 * with reason. */
struct sg_objref {
    uint32_t kind;              /* SG_KIND_* */
    int32_t id;
};
int sg_ledger_load_objects(struct sg_ledger *L, const char *path, uint64_t ns,
                           const struct sg_objref *want, size_t n_want, char *err,
                           size_t errlen);

void sg_ledger_close(struct sg_ledger *L);

/* Take the ledger's lock.  Waits at most ~2 s; recovers (and repairs the
 * tables) when the previous holder died.  0 when held, -1 otherwise (the
 * caller must then leave the ledger alone for this call). */
int sg_ledger_lock(struct sg_ledger *L);
void sg_ledger_unlock(struct sg_ledger *L);

/* Recount, deduplicate and re-place records after a holder died.  Lock
 * held.  Returns the number of problems fixed. */
int sg_ledger_repair(struct sg_ledger *L);

/* Segment records.  find: the live record or NULL.  put: copy *rec into
 * the table, replacing a live record with the same (kind, id); returns the
 * slot or NULL when the table is full or the page cannot be allocated.
 * (A caller that gives up on a record after reclaiming room counts the
 * loss with sg_ledger_dropped: hdr->dropped counts real losses only.) */
struct sg_seg *sg_seg_find(struct sg_ledger *L, uint32_t kind, int32_t id);
struct sg_seg *sg_seg_put(struct sg_ledger *L, const struct sg_seg *rec);
void sg_seg_del(struct sg_ledger *L, struct sg_seg *rec);
/* One record given up for want of room (hdr->dropped; any thread). */
void sg_ledger_dropped(struct sg_ledger *L);

/* Attachment records, keyed by (pid, addr).  sg_att_at: the record in
 * slot i (an index from sg_att_slot) if it is still the live record of
 * (pid, addr), else NULL; records move when others are deleted, so a
 * remembered slot is a hint that saves the probe, never a reference. */
struct sg_att *sg_att_find(struct sg_ledger *L, int32_t pid, uint64_t addr);
SG_HOT struct sg_att *sg_att_at(struct sg_ledger *L, uint32_t i, int32_t pid, uint64_t addr);
uint32_t sg_att_slot(const struct sg_ledger *L, const struct sg_att *rec);
/* Unlike the other tables, attachment records are added (sg_att_put) and
 * removed (sg_att_del) by their own process without the lock; see
 * "attachment records" in sg_ledger.c.  put returns NULL when the table
 * is 7/8 full or the page cannot be allocated (hdr->dropped counts it).
 * sg_att_drop_stale is how anyone else removes one (lock held): only if
 * the slot still holds the very record *seen that was judged stale; 1 if
 * it was removed. */
int sg_att_drop_stale(struct sg_ledger *L, struct sg_att *rec, const struct sg_att *seen);
/* Free the slots claimed by processes that died filling them (lock
 * held); returns how many. */
unsigned sg_att_free_dead_claims(struct sg_ledger *L);
struct sg_att *sg_att_put(struct sg_ledger *L, const struct sg_att *rec);
/* sg_att_put in two steps, for a caller that fills the record in place:
 * sg_att_claim claims a free slot for (pid, addr) (NULL: table full, or
 * its page cannot be allocated); the caller sets every field but state
 * (the slot holds stale bytes), then sg_att_publish makes it live. */
SG_HOT struct sg_att *sg_att_claim(struct sg_ledger *L, int32_t pid, uint64_t addr);
SG_HOT void sg_att_publish(struct sg_ledger *L, struct sg_att *r);
void sg_att_del(struct sg_ledger *L, struct sg_att *rec);

/* Users of semaphore sets and message queues, keyed by (kind, id, pid).
 * del_obj drops every user of one object (when it is gone) and returns
 * how many. */
struct sg_user *sg_user_find(struct sg_ledger *L, uint32_t kind, int32_t id, int32_t pid,
                             uint32_t pidns);
struct sg_user *sg_user_put(struct sg_ledger *L, const struct sg_user *rec);
void sg_user_del(struct sg_ledger *L, struct sg_user *rec);
unsigned sg_user_del_obj(struct sg_ledger *L, uint32_t kind, int32_t id);

/* Intents: a carrier between shmget and shmat of a keyed segment.  An
 * intent older than SG_INTENT_TTL_NS no longer holds anything back. */
#define SG_INTENT_TTL_NS (5ull * 1000000000ull)
int sg_intent_set(struct sg_ledger *L, int32_t pid, uint64_t start, int32_t shmid);
/* The same, returning the intent's record (NULL when there was no room),
 * with the pid namespace given (set: the caller's own, read again). */
struct sg_intent *sg_intent_put(struct sg_ledger *L, int32_t pid, uint32_t pidns, uint64_t start,
                                int32_t shmid);
void sg_intent_clear(struct sg_ledger *L, int32_t pid, uint32_t pidns, int32_t shmid);
void sg_intent_clear_pid(struct sg_ledger *L, int32_t pid, uint32_t pidns);
/* Number of intents for shmid that still hold a removal back at mono time
 * now (expired ones and those of dead processes are dropped). */
int sg_intent_holding(struct sg_ledger *L, int32_t shmid, uint64_t now);

/* Pending-removal index. add: 0 ok, -1 full. */
int sg_pend_add(struct sg_ledger *L, uint32_t kind, int32_t id);
void sg_pend_del(struct sg_ledger *L, uint32_t kind, int32_t id);

/* ---- lock-free reads of an own, mapped ledger ------------------------
 *
 * hdr->generation is a sequence lock: odd while a writer holds the lock,
 * advanced by every unlock.  A reader takes gen = sg_ledger_read_begin()
 * (SG_GEN_BUSY, an odd value, while a writer is active), reads, and trusts what it read only if
 * sg_ledger_read_valid(gen) still holds afterwards.  The checks below may
 * only be used inside such a window, and are for hints: their callers
 * fall back to the locked path whenever the answer is "no" or the window
 * closed. */
#define SG_GEN_BUSY UINT64_MAX

/* The loads are atomic so that none is torn; the window, not the loads,
 * decides whether what was read counts (SG_NO_TSAN). */
SG_NO_TSAN static inline uint64_t sg_ledger_read_begin(const struct sg_ledger *L)
{
    uint64_t g = __atomic_load_n(&L->hdr->generation, __ATOMIC_ACQUIRE);
    return (g & 1) ? SG_GEN_BUSY : g;
}

SG_NO_TSAN static inline int sg_ledger_read_valid(const struct sg_ledger *L, uint64_t gen)
{
#if defined(__SANITIZE_THREAD__)
    /* TSan has no fences: a release read-modify-write orders the reads. */
    return gen != SG_GEN_BUSY &&
           __atomic_fetch_add((uint64_t *)&L->hdr->generation, 0, __ATOMIC_ACQ_REL) == gen;
#else
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return gen != SG_GEN_BUSY && __atomic_load_n(&L->hdr->generation, __ATOMIC_RELAXED) == gen;
#endif
}

/* 1 if slot i of the object table holds the live record of (kind, id)
 * with this key. */
SG_NO_TSAN static inline int sg_seg_at_is(const struct sg_ledger *L, uint32_t i, uint32_t kind,
                                          int32_t id, int32_t key)
{
    if (i >= L->seg_cap)
        return 0;
    const struct sg_seg *r = &L->seg[i];
    return __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == SG_REC_LIVE &&
           __atomic_load_n(&r->kind, __ATOMIC_RELAXED) == kind &&
           __atomic_load_n(&r->id, __ATOMIC_RELAXED) == id &&
           __atomic_load_n(&r->key, __ATOMIC_RELAXED) == key;
}

static inline uint32_t sg_seg_slot(const struct sg_ledger *L, const struct sg_seg *rec)
{
    return (uint32_t)(rec - L->seg);
}

/* If slot i of the intent table holds the live intent of (pid, start,
 * shmid), stamp it with mono time now and return 1; else 0.  Only the
 * owner ever stamps its intent this way: the store lands on its own
 * record, or (if the window then turns out invalid) on a slot that a
 * locked writer was recycling at that instant, whose time it sets to the
 * same "now". */
SG_NO_TSAN static inline int sg_intent_touch(struct sg_ledger *L, uint32_t i, int32_t pid,
                                             uint32_t pidns, uint64_t start, int32_t shmid,
                                             uint64_t now)
{
    if (i >= L->intent_cap)
        return 0;
    struct sg_intent *x = &L->intent[i];
    if (__atomic_load_n(&x->state, __ATOMIC_ACQUIRE) != SG_REC_LIVE ||
        __atomic_load_n(&x->pid, __ATOMIC_RELAXED) != pid ||
        __atomic_load_n(&x->pidns, __ATOMIC_RELAXED) != pidns ||
        __atomic_load_n(&x->shmid, __ATOMIC_RELAXED) != shmid ||
        __atomic_load_n(&x->start, __ATOMIC_RELAXED) != start)
        return 0;
    __atomic_store_n(&x->time_ns, now, __ATOMIC_RELAXED);
    return 1;
}

static inline uint32_t sg_intent_slot(const struct sg_ledger *L, const struct sg_intent *rec)
{
    return (uint32_t)(rec - L->intent);
}

/* Note pid namespace ino and its ancestors (nearest first) in the table
 * (lock held); a known one is kept unless this chain is longer. */
void sg_pidns_note(struct sg_ledger *L, uint32_t ino, const uint32_t *anc, uint32_t nanc);

/* Claims of attachment slots (see sg_layout.h): the tag of a pid
 * namespace, and whether the process a claim state names is provably
 * dead from here (a claim of another namespace never is). */
uint32_t sg_claim_tag(uint32_t pidns);
/* The pid namespace this process's claims name from now on (the library:
 * at its first call, and again in a fork child). */
void sg_ledger_claim_ns(uint32_t pidns);
int sg_claim_dead(uint32_t claim_state);

/* Event ring: record one failed call (lock held).  rec's state is set
 * here; the oldest event is overwritten when the ring is full. */
void sg_event_add(struct sg_ledger *L, const struct sg_event *rec);

/* Iterate live records: for (i = 0; i < cap; i++) if (state == LIVE) ... */

#endif
