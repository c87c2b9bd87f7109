/*
 * test_ledger.c - unit tests of the ledger module (core/sg_ledger.c),
 * linked directly against the core.
 *
 * Covers: the two hash tables (segments, attachments) under seeded random
 * churn checked against a reference model, including the 7/8 fill limit;
 * sg_ledger_repair() on hand-made crash states (duplicates, records cut
 * off from their probe chain, wrong counters, a stale pending index); the
 * intent table and the pending-removal index; sg_ledger_check_image() on
 * every kind of bad image; sg_ledger_open_own() against planted symlinks,
 * foreign files, half-created, foreign-version, truncated and garbage
 * files and unsafe directories; the robust lock (a holder killed with
 * SIGKILL, a waiter woken by an unlock); and sg_ledger_load().  Every test
 * works in its own directory from sgt_ledger_dir(), removed afterwards.
 * Processes synchronise through pipes; time limits are only upper bounds.
 */
#include "sgtest.h"

#include <pthread.h>
#include <sys/wait.h>

#include <sched.h>
#include <sys/syscall.h>

#include "sg_proc.h"

#define SEED 0x5eed1234abcdull
#define NKEYS 96 /* keys used by the random tests: more than a table holds */

/* ---- small helpers ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd_below(uint32_t n) { return (uint32_t)(rnd() % n); }

static uint64_t mono_ms(void) { return sg_mono_ns() / 1000000u; }

/* Small tables, so that the tests fill them.  The intent table (128 x 32
 * bytes) keeps the file's tail past the attachment table longer than a
 * page, so that these tests do not depend on test_size_stable's case. */
static struct sg_caps small_caps(void)
{
    struct sg_caps c = { 64, 64, 128, 16 };
    return c;
}

static int setup_dir(void **state)
{
    *state = strdup(sgt_ledger_dir());
    return *state ? 0 : -1;
}

static int teardown_dir(void **state)
{
    sgt_rmdir(*state);
    free(*state);
    return 0;
}

static void open_small(struct sg_ledger *L, const char *dir, uint64_t ns)
{
    struct sg_caps c = small_caps();
    char err[PATH_MAX + 256];
    if (sg_ledger_open_own(L, dir, ns, &c, err, sizeof err) != 0)
        fail_msg("sg_ledger_open_own(%s): %s", dir, err);
    assert_non_null(L->hdr);
    assert_int_equal(L->hdr->seg_cap, 64);
    assert_int_equal(L->hdr->att_cap, 64);
}

static void lock_or_fail(struct sg_ledger *L)
{
    if (sg_ledger_lock(L) != 0)
        fail_msg("sg_ledger_lock failed");
}

static void path_in(char *buf, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        fail_msg("path too long: %s/%s", dir, name);
}

static void ledger_name_in(char *buf, size_t n, const char *dir, int alt)
{
    char name[128];
    sg_ledger_name(name, sizeof name, sg_ipcns_ino(), geteuid(), alt);
    path_in(buf, n, dir, name);
}

/* Whole file into malloc'd memory; *len its size.  NULL if unreadable. */
static unsigned char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return b;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* Read one byte from fd within ms milliseconds: the byte, or -1. */
static int read_byte(int fd, int ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, ms) != 1)
        return -1;
    unsigned char c;
    return read(fd, &c, 1) == 1 ? c : -1;
}

static void write_byte(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        _exit(99);
}

/* The header checksum as documented in sg_layout.h: FNV-1a over bytes
 * [0, 80) and [88, 100). */
static uint32_t hdr_sum(const struct sg_hdr *h)
{
    const unsigned char *p = (const unsigned char *)h;
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < 80; i++)
        x = (x ^ p[i]) * 16777619u;
    for (size_t i = 88; i < 112; i++)
        x = (x ^ p[i]) * 16777619u;
    for (size_t i = 256; i < 268; i++)
        x = (x ^ p[i]) * 16777619u;
    for (size_t i = 288; i < 300; i++) /* pidns_off, pidns_cap */
        x = (x ^ p[i]) * 16777619u;
    return x;
}

/* ---- generic view of the two hash tables ------------------------------ */

/* Test keys are numbered k = 0, 1, 2...; each table maps k to a record key
 * and builds records whose every byte depends on (k, payload). */
struct tab {
    const char *name;
    size_t recsz;
    unsigned char *(*base)(struct sg_ledger *L);
    uint32_t (*cap)(struct sg_ledger *L);
    uint32_t *(*live)(struct sg_ledger *L);
    void (*make)(int k, uint64_t payload, void *out);
    void *(*put)(struct sg_ledger *L, const void *rec);
    void *(*find)(struct sg_ledger *L, int k);
    void *(*find_rec)(struct sg_ledger *L, const void *rec);
    void (*del)(struct sg_ledger *L, void *rec);
    int (*same_key)(const void *a, const void *b);
};

static void seg_key(int k, uint32_t *kind, int32_t *id)
{
    *kind = (k & 1) ? SG_KIND_SEM : SG_KIND_SHM;
    *id = (int32_t)((k / 2) * 3); /* ids are >= 0; both kinds share them */
}

static unsigned char *seg_base(struct sg_ledger *L) { return (unsigned char *)L->seg; }
static uint32_t seg_cap(struct sg_ledger *L) { return L->hdr->seg_cap; }
static uint32_t *seg_live(struct sg_ledger *L) { return &L->hdr->seg_live; }
static void seg_make(int k, uint64_t payload, void *out)
{
    struct sg_seg *s = out;
    memset(s, 0, sizeof *s);
    s->state = 0x77; /* put must not copy the state word */
    seg_key(k, &s->kind, &s->id);
    s->key = (int32_t)(payload ^ 0x1234);
    s->flags = SG_SEG_CREATOR;
    s->mode = 0600;
    s->size = payload;
    s->cr_pid = (int32_t)(payload % 100000);
    s->cr_start = payload * 3;
    snprintf(s->cr_comm, sizeof s->cr_comm, "c%llu", (unsigned long long)(payload % 1000000));
    snprintf(s->cr_exe, sizeof s->cr_exe, "/usr/bin/k%d-%llx", k, (unsigned long long)payload);
    memset(s->pad, (int)(payload & 0xff), sizeof s->pad);
}
static void *seg_put_(struct sg_ledger *L, const void *r) { return sg_seg_put(L, r); }
static void *seg_find_(struct sg_ledger *L, int k)
{
    uint32_t kind;
    int32_t id;
    seg_key(k, &kind, &id);
    return sg_seg_find(L, kind, id);
}
static void *seg_find_rec(struct sg_ledger *L, const void *r)
{
    const struct sg_seg *s = r;
    return sg_seg_find(L, s->kind, s->id);
}
static void seg_del_(struct sg_ledger *L, void *r) { sg_seg_del(L, r); }
static int seg_same(const void *a, const void *b)
{
    const struct sg_seg *x = a, *y = b;
    return x->kind == y->kind && x->id == y->id;
}

static void att_key(int k, int32_t *pid, uint64_t *addr)
{
    *pid = 1000 + k % 4;
    *addr = 0x7f0000000000ull + (uint64_t)(k / 4) * 0x1000u;
}
static unsigned char *att_base(struct sg_ledger *L) { return (unsigned char *)L->att; }
static uint32_t att_cap(struct sg_ledger *L) { return L->hdr->att_cap; }
static uint32_t *att_live(struct sg_ledger *L) { return &L->hdr->att_live; }
static void att_make(int k, uint64_t payload, void *out)
{
    struct sg_att *a = out;
    memset(a, 0, sizeof *a);
    a->state = 0x77;
    att_key(k, &a->pid, &a->addr);
    a->shmid = (int32_t)(payload % 1000000);
    a->flags = (uint32_t)(payload & 3);
    a->start = payload * 7;
    a->time_ns = payload;
    memset(a->pad, (int)(payload & 0xff), sizeof a->pad);
}
static void *att_put_(struct sg_ledger *L, const void *r) { return sg_att_put(L, r); }
static void *att_find_(struct sg_ledger *L, int k)
{
    int32_t pid;
    uint64_t addr;
    att_key(k, &pid, &addr);
    return sg_att_find(L, pid, addr);
}
static void *att_find_rec(struct sg_ledger *L, const void *r)
{
    const struct sg_att *a = r;
    return sg_att_find(L, a->pid, a->addr);
}
static void att_del_(struct sg_ledger *L, void *r) { sg_att_del(L, r); }
static int att_same(const void *a, const void *b)
{
    const struct sg_att *x = a, *y = b;
    return x->pid == y->pid && x->addr == y->addr;
}

static const struct tab SEG = { "segment", sizeof(struct sg_seg), seg_base, seg_cap, seg_live,
                                seg_make, seg_put_, seg_find_, seg_find_rec, seg_del_, seg_same };
static const struct tab ATT = { "attachment", sizeof(struct sg_att), att_base, att_cap, att_live,
                                att_make, att_put_, att_find_, att_find_rec, att_del_, att_same };

static void *slot_at(const struct tab *t, struct sg_ledger *L, uint32_t i)
{
    return t->base(L) + (size_t)i * t->recsz;
}
static uint32_t state_at(const struct tab *t, struct sg_ledger *L, uint32_t i)
{
    uint32_t s;
    memcpy(&s, slot_at(t, L, i), sizeof s);
    return s;
}
static void set_state_at(const struct tab *t, struct sg_ledger *L, uint32_t i, uint32_t s)
{
    memcpy(slot_at(t, L, i), &s, sizeof s);
}
static uint32_t index_of(const struct tab *t, struct sg_ledger *L, const void *rec)
{
    return (uint32_t)(((const unsigned char *)rec - t->base(L)) / t->recsz);
}

/* Test key k (< NKEYS) of the record in slot i, -1 if none. */
static int key_at(const struct tab *t, struct sg_ledger *L, uint32_t i)
{
    unsigned char want[512];
    for (int k = 0; k < NKEYS; k++) {
        t->make(k, 0, want);
        if (t->same_key(slot_at(t, L, i), want))
            return k;
    }
    return -1;
}

/* Number of live slots holding key k. */
static int copies_of(const struct tab *t, struct sg_ledger *L, int k)
{
    unsigned char want[512];
    t->make(k, 0, want);
    int n = 0;
    for (uint32_t i = 0; i < t->cap(L); i++)
        if (state_at(t, L, i) == SG_REC_LIVE && t->same_key(slot_at(t, L, i), want))
            n++;
    return n;
}

/* One table is consistent: states in range, every live record is the one
 * its key finds (so reachable and not duplicated), the counter is right. */
static int table_ok(const struct tab *t, struct sg_ledger *L, char *why, size_t n)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < t->cap(L); i++) {
        uint32_t s = state_at(t, L, i);
        if (s > SG_REC_LIVE) {
            snprintf(why, n, "%s slot %u has state %u", t->name, i, s);
            return 0;
        }
        if (s != SG_REC_LIVE)
            continue;
        live++;
        void *r = slot_at(t, L, i);
        void *f = t->find_rec(L, r);
        if (f != r) {
            if (f)
                snprintf(why, n, "%s slot %u duplicates slot %u", t->name, i, index_of(t, L, f));
            else
                snprintf(why, n, "%s slot %u is unreachable", t->name, i);
            return 0;
        }
    }
    if (live != *t->live(L)) {
        snprintf(why, n, "%s counter says %u, %u records live", t->name, *t->live(L), live);
        return 0;
    }
    return 1;
}

/* The whole ledger is consistent: both tables, the pending index equals
 * the set of live segment records flagged pending, the counters agree. */
static int ledger_ok(struct sg_ledger *L, char *why, size_t n)
{
    if (!table_ok(&SEG, L, why, n) || !table_ok(&ATT, L, why, n))
        return 0;
    uint32_t flagged = 0, indexed = 0, intents = 0;
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++) {
        const struct sg_seg *s = &L->seg[i];
        if (s->state != SG_REC_LIVE || !(s->flags & SG_SEG_PENDING))
            continue;
        flagged++;
        int found = 0;
        for (uint32_t j = 0; j < L->hdr->pend_cap; j++)
            found += L->pend[j].id == s->id && L->pend[j].kind == s->kind;
        if (found != 1) {
            snprintf(why, n, "pending segment %d is in the index %d times", s->id, found);
            return 0;
        }
    }
    for (uint32_t j = 0; j < L->hdr->pend_cap; j++) {
        if (L->pend[j].id < 0)
            continue;
        indexed++;
        struct sg_seg *s = sg_seg_find(L, L->pend[j].kind, L->pend[j].id);
        if (!s || !(s->flags & SG_SEG_PENDING)) {
            snprintf(why, n, "pending index entry %u (id %d) names no pending record", j,
                     L->pend[j].id);
            return 0;
        }
    }
    if (flagged != indexed || L->hdr->pending != indexed) {
        snprintf(why, n, "pending: %u flagged, %u indexed, counter %u", flagged, indexed,
                 L->hdr->pending);
        return 0;
    }
    for (uint32_t i = 0; i < L->hdr->intent_cap; i++)
        intents += L->intent[i].state == SG_REC_LIVE;
    if (intents != L->hdr->intents) {
        snprintf(why, n, "intents: %u live, counter %u", intents, L->hdr->intents);
        return 0;
    }
    return 1;
}

#define assert_ledger_ok(L)                                                                \
    do {                                                                                   \
        char why_[256];                                                                    \
        if (!ledger_ok((L), why_, sizeof why_))                                            \
            fail_msg("ledger inconsistent: %s", why_);                                     \
    } while (0)

/* ---- reference model ---------------------------------------------------- */

struct model {
    int present[NKEYS];
    uint64_t payload[NKEYS];
    uint32_t count;
};

/* Does the table hold exactly what the model says, byte for byte? */
static void check_model(const struct tab *t, struct sg_ledger *L, const struct model *m,
                        const char *when)
{
    unsigned char want[512];
    for (int k = 0; k < NKEYS; k++) {
        void *f = t->find(L, k);
        if (!m->present[k]) {
            if (f)
                fail_msg("%s: %s key %d found in slot %u but was deleted", when, t->name, k,
                         index_of(t, L, f));
            continue;
        }
        if (!f)
            fail_msg("%s: %s key %d not found", when, t->name, k);
        t->make(k, m->payload[k], want);
        if (memcmp((unsigned char *)f + 4, want + 4, t->recsz - 4) != 0)
            fail_msg("%s: %s key %d has wrong contents", when, t->name, k);
        if (copies_of(t, L, k) != 1)
            fail_msg("%s: %s key %d stored %d times", when, t->name, k, copies_of(t, L, k));
    }
    if (*t->live(L) != m->count)
        fail_msg("%s: %s counter %u, model %u", when, t->name, *t->live(L), m->count);
    assert_ledger_ok(L);
}

static void model_put(const struct tab *t, struct sg_ledger *L, struct model *m, int k,
                      uint64_t payload, uint64_t *dropped_want)
{
    unsigned char rec[512];
    uint32_t cap = t->cap(L);
    t->make(k, payload, rec);
    void *r = t->put(L, rec);
    if (!m->present[k] && m->count >= cap - cap / 8) {
        /* 7/8 full: a new key is refused (the caller counts a record it
         * finally gives up on: hdr->dropped stays). */
        if (r)
            fail_msg("%s put of key %d accepted with %u of %u live", t->name, k, m->count, cap);
        (*dropped_want)++;
    } else {
        if (!r)
            fail_msg("%s put of key %d refused with %u of %u live", t->name, k, m->count, cap);
        assert_int_equal(*(uint32_t *)r, SG_REC_LIVE);
        if (memcmp((unsigned char *)r + 4, rec + 4, t->recsz - 4) != 0)
            fail_msg("%s put of key %d stored other bytes", t->name, k);
        if (!m->present[k])
            m->count++;
        m->present[k] = 1;
        m->payload[k] = payload;
    }
    assert_int_equal(*t->live(L), m->count);
}

static void model_del(const struct tab *t, struct sg_ledger *L, struct model *m, int k)
{
    void *f = t->find(L, k);
    if (!m->present[k]) {
        if (f)
            fail_msg("%s key %d found but absent", t->name, k);
        return;
    }
    if (!f)
        fail_msg("%s key %d not found before delete", t->name, k);
    t->del(L, f);
    m->present[k] = 0;
    m->count--;
    assert_null(t->find(L, k));
    assert_int_equal(*t->live(L), m->count);
}

/* ---- tables ------------------------------------------------------------- */

static void churn(const struct tab *t, struct sg_ledger *L, int ops)
{
    struct model m;
    memset(&m, 0, sizeof m);
    uint64_t dropped = L->hdr->dropped;
    uint32_t cap = t->cap(L), full_seen = 0, refusals = 0, max_live = 0;
    char when[64];
    for (int op = 0; op < ops; op++) {
        int k = (int)rnd_below(NKEYS);
        uint32_t r = rnd_below(100);
        uint64_t before = dropped;
        if (r < 45)
            model_put(t, L, &m, k, rnd(), &dropped);
        else if (r < 75)
            model_del(t, L, &m, k);
        else {
            void *f = t->find(L, k);
            if ((f != NULL) != m.present[k])
                fail_msg("op %d: %s find of key %d: %s", op, t->name, k,
                         f ? "found a deleted key" : "lost a key");
        }
        refusals += dropped != before;
        full_seen += m.count == cap - cap / 8;
        if (m.count > max_live)
            max_live = m.count;
        if (op % 97 == 0) {
            snprintf(when, sizeof when, "seed %llx op %d", (unsigned long long)SEED, op);
            check_model(t, L, &m, when);
        }
    }
    check_model(t, L, &m, "after churn");
    /* The churn did reach the limit and the table refused there. */
    assert_int_equal(max_live, cap - cap / 8);
    assert_true(full_seen > 0);
    assert_true(refusals > 0);
    /* Empty it completely. */
    for (int k = 0; k < NKEYS; k++)
        if (m.present[k])
            model_del(t, L, &m, k);
    assert_int_equal(*t->live(L), 0);
    for (uint32_t i = 0; i < cap; i++)
        assert_int_equal(state_at(t, L, i), SG_REC_EMPTY);
}

static void test_table_churn(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    rng_state = SEED;
    /* The attachment table has its own rules (test_att_*). */
    churn(&SEG, &L, 20000);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* Fill an empty table: exactly 7/8 of the slots are accepted, then inserts
 * are refused and counted, while replacing and deleting still work. */
static void fill_limit(const struct tab *t, struct sg_ledger *L)
{
    unsigned char rec[512];
    uint32_t cap = t->cap(L), limit = cap - cap / 8;
    uint64_t dropped = L->hdr->dropped;
    for (uint32_t k = 0; k < limit; k++) {
        t->make((int)k, k + 1, rec);
        if (!t->put(L, rec))
            fail_msg("%s insert %u of %u refused", t->name, k + 1, limit);
    }
    assert_int_equal(*t->live(L), limit);
    assert_int_equal(L->hdr->dropped, dropped);
    t->make((int)limit, 1, rec);
    assert_null(t->put(L, rec));
    assert_null(t->put(L, rec));
    assert_int_equal(L->hdr->dropped, dropped); /* refusals are the caller's to count */
    sg_ledger_dropped(L);
    sg_ledger_dropped(L);
    assert_int_equal(L->hdr->dropped, dropped + 2);
    assert_null(t->find(L, (int)limit));
    assert_int_equal(*t->live(L), limit);
    /* Replacing an existing key is not an insert. */
    t->make(3, 999, rec);
    void *r = t->put(L, rec);
    assert_non_null(r);
    assert_ptr_equal(r, t->find(L, 3));
    assert_memory_equal((unsigned char *)r + 4, rec + 4, t->recsz - 4);
    assert_int_equal(*t->live(L), limit);
    assert_int_equal(L->hdr->dropped, dropped + 2);
    /* Delete one: the refused key now fits. */
    t->del(L, t->find(L, 5));
    t->make((int)limit, 1, rec);
    assert_non_null(t->put(L, rec));
    assert_int_equal(*t->live(L), limit);
    for (uint32_t k = 0; k <= limit; k++)
        assert_true((t->find(L, (int)k) != NULL) == (k != 5));
    assert_ledger_ok(L);
}

static void test_table_full(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    fill_limit(&SEG, &L);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* ---- repair ------------------------------------------------------------- */

/* Home slot of key k: where it lands in an empty table (scratch ledger). */
static uint32_t home_of(const struct tab *t, struct sg_ledger *S, int k)
{
    unsigned char rec[512];
    assert_int_equal(*t->live(S), 0);
    t->make(k, 1, rec);
    void *r = t->put(S, rec);
    assert_non_null(r);
    uint32_t h = index_of(t, S, r);
    t->del(S, r);
    return h;
}

/* n keys (from first upwards) whose home slot is h. */
static void keys_with_home(const struct tab *t, struct sg_ledger *S, uint32_t h, int *out,
                           int n, int first)
{
    int got = 0;
    for (int k = first; got < n && k < first + 200000; k++)
        if (home_of(t, S, k) == h)
            out[got++] = k;
    assert_int_equal(got, n);
}

/* Delete every live record of table t, ignoring the pending index. */
static void clear_table(const struct tab *t, struct sg_ledger *L)
{
    for (uint32_t i = 0; i < t->cap(L); i++)
        set_state_at(t, L, i, SG_REC_EMPTY);
    *t->live(L) = 0;
}

static void put_key(const struct tab *t, struct sg_ledger *L, int k, uint64_t payload)
{
    unsigned char rec[512];
    t->make(k, payload, rec);
    assert_non_null(t->put(L, rec));
}

/* Record of key k is found exactly once, with the payload given. */
static void assert_key_once(const struct tab *t, struct sg_ledger *L, int k, uint64_t payload)
{
    unsigned char want[512];
    void *f = t->find(L, k);
    if (!f)
        fail_msg("%s key %d not found after repair", t->name, k);
    assert_int_equal(copies_of(t, L, k), 1);
    t->make(k, payload, want);
    assert_memory_equal((unsigned char *)f + 4, want + 4, t->recsz - 4);
}

/* The crash states a killed lock holder can leave in one probe chain:
 * chain A, B, C (same home h) in slots h, h+1, h+2, plus D elsewhere. */
static void repair_chains(const struct tab *t, struct sg_ledger *L, struct sg_ledger *S,
                          uint32_t h)
{
    uint32_t cap = t->cap(L);
    int c[4];
    keys_with_home(t, S, h, c, 3, 0);
    int A = c[0], B = c[1], C = c[2];
    keys_with_home(t, S, (h + cap / 2) & (cap - 1), c + 3, 1, 0);
    int D = c[3];
#define SLOT(x) (((x) + cap) & (cap - 1))

    for (int scenario = 0; scenario < 5; scenario++) {
        clear_table(t, L);
        put_key(t, L, A, 1);
        put_key(t, L, B, 2);
        put_key(t, L, C, 3);
        put_key(t, L, D, 4);
        assert_ptr_equal(t->find(L, A), slot_at(t, L, SLOT(h)));
        assert_ptr_equal(t->find(L, B), slot_at(t, L, SLOT(h + 1)));
        assert_ptr_equal(t->find(L, C), slot_at(t, L, SLOT(h + 2)));
        assert_ledger_ok(L);
        int a_lives = 1;
        switch (scenario) {
        case 0:
            /* Deleting A, killed after B was copied into A's slot and
             * published, before B's old slot was emptied. */
            memcpy(slot_at(t, L, SLOT(h)), slot_at(t, L, SLOT(h + 1)), t->recsz);
            (*t->live(L))--;
            a_lives = 0;
            assert_int_equal(copies_of(t, L, B), 2);
            break;
        case 1:
            /* Deleting A, killed right after emptying its slot: B and C
             * are cut off from their home. */
            set_state_at(t, L, SLOT(h), SG_REC_EMPTY);
            (*t->live(L))--;
            a_lives = 0;
            assert_null(t->find(L, B));
            assert_null(t->find(L, C));
            break;
        case 2:
            /* A copy of B later on its probe path (after C). */
            memcpy(slot_at(t, L, SLOT(h + 3)), slot_at(t, L, SLOT(h + 1)), t->recsz);
            assert_int_equal(copies_of(t, L, B), 2);
            break;
        case 3:
            /* A copy of A at the end of the chain, and B cut off from
             * the chain by a hole: the counter is wrong too. */
            memcpy(slot_at(t, L, SLOT(h + 4)), slot_at(t, L, SLOT(h)), t->recsz);
            memcpy(slot_at(t, L, SLOT(h + 3)), slot_at(t, L, SLOT(h + 2)), t->recsz);
            memcpy(slot_at(t, L, SLOT(h + 2)), slot_at(t, L, SLOT(h + 1)), t->recsz);
            set_state_at(t, L, SLOT(h + 1), SG_REC_EMPTY);
            *t->live(L) = 1234;
            assert_null(t->find(L, B));
            break;
        case 4:
            /* Only the counter is wrong. */
            *t->live(L) = 0;
            break;
        }
        int fixed = sg_ledger_repair(L);
        if (fixed <= 0)
            fail_msg("%s scenario %d (home %u): repair reported %d problems", t->name,
                     scenario, h, fixed);
        assert_ledger_ok(L);
        if (a_lives)
            assert_key_once(t, L, A, 1);
        else
            assert_int_equal(copies_of(t, L, A), 0);
        assert_key_once(t, L, B, 2);
        assert_key_once(t, L, C, 3);
        assert_key_once(t, L, D, 4);
        assert_int_equal(*t->live(L), 3 + a_lives);
        /* A second repair finds nothing left to fix. */
        assert_int_equal(sg_ledger_repair(L), 0);
    }
#undef SLOT
}

static void test_repair_chains(void **state)
{
    struct sg_ledger L, S;
    open_small(&L, *state, sg_ipcns_ino());
    open_small(&S, *state, sg_ipcns_ino() + 1); /* scratch: finds home slots */
    lock_or_fail(&L);
    lock_or_fail(&S);
    /* A chain in the middle of the table, and one that wraps around. */
    repair_chains(&SEG, &L, &S, 10);
    repair_chains(&SEG, &L, &S, 62);
    sg_ledger_unlock(&S);
    sg_ledger_unlock(&L);
    sg_ledger_close(&S);
    sg_ledger_close(&L);
}

/* Random crash states on random tables: duplicate a record forward on its
 * probe path, punch holes (the record there is lost, later ones may be
 * cut off), garble the counter; after repair, every surviving record is
 * found exactly once with its contents. */
static void repair_fuzz(const struct tab *t, struct sg_ledger *L, int rounds)
{
    struct model m;
    memset(&m, 0, sizeof m);
    uint64_t dropped = L->hdr->dropped;
    uint32_t cap = t->cap(L);
    char when[80];
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < 40; i++) {
            int k = (int)rnd_below(NKEYS);
            if (rnd_below(3))
                model_put(t, L, &m, k, rnd(), &dropped);
            else
                model_del(t, L, &m, k);
        }
        int damage = 1 + (int)rnd_below(4);
        for (int d = 0; d < damage && m.count > 0; d++) {
            uint32_t i;
            do
                i = rnd_below(cap);
            while (state_at(t, L, i) != SG_REC_LIVE);
            switch (rnd_below(3)) {
            case 0: {
                uint32_t j = (i + 1) & (cap - 1);
                while (state_at(t, L, j) == SG_REC_LIVE)
                    j = (j + 1) & (cap - 1);
                memcpy(slot_at(t, L, j), slot_at(t, L, i), t->recsz);
                break;
            }
            case 1: {
                /* The record here is lost.  If a copy of it survives
                 * elsewhere, repair may bring it back (see below). */
                int k = key_at(t, L, i);
                assert_true(k >= 0);
                if (m.present[k]) {
                    m.present[k] = 0;
                    m.count--;
                }
                set_state_at(t, L, i, SG_REC_EMPTY);
                if (rnd_below(2))
                    (*t->live(L))--;
                break;
            }
            default:
                *t->live(L) = (uint32_t)rnd();
                break;
            }
        }
        sg_ledger_repair(L);
        /* A punched-out record that had a duplicate lives on in it: the
         * model takes it back (its contents are checked against the
         * duplicate's payload by check_model's byte comparison). */
        for (int k = 0; k < NKEYS; k++) {
            unsigned char *f = t->find(L, k);
            if (m.present[k] || !f)
                continue;
            m.present[k] = 1;
            m.count++;
            m.payload[k] = t == &SEG ? ((struct sg_seg *)(void *)f)->size
                                     : ((struct sg_att *)(void *)f)->time_ns;
        }
        snprintf(when, sizeof when, "seed %llx repair round %d", (unsigned long long)SEED,
                 round);
        check_model(t, L, &m, when);
        assert_int_equal(sg_ledger_repair(L), 0);
    }
}

static void test_repair_fuzz(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    rng_state = SEED ^ 0xabcdef;
    repair_fuzz(&SEG, &L, 400);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* ---- attachment records: no lock ---------------------------------------
 *
 * Their owner places and removes them without the lock (sg_att_put,
 * sg_att_del); records never move, a lookup scans past freed slots, and
 * only proven-stale records are removed by others (sg_att_drop_stale). */

static struct sg_att att_of_key(int k, uint64_t payload)
{
    struct sg_att a;
    att_make(k, payload, &a);
    a.state = 0;
    return a;
}

/* Fill to 7/8, refuse, delete out of probe chains, find past holes. */
static void test_att_table(void **state)
{
    struct sg_ledger L, S;
    open_small(&L, *state, sg_ipcns_ino());
    open_small(&S, *state, sg_ipcns_ino() + 1);
    uint32_t cap = L.hdr->att_cap, limit = cap - cap / 8;
    uint64_t dropped = L.hdr->dropped;
    struct sg_att *slot[128];
    for (uint32_t k = 0; k < limit; k++) {
        struct sg_att a = att_of_key((int)k, k + 1);
        slot[k] = sg_att_put(&L, &a);
        if (!slot[k])
            fail_msg("attachment insert %u of %u refused", k + 1, limit);
        assert_int_equal(slot[k]->state, SG_REC_LIVE);
        assert_int_equal(sg_att_slot(&L, slot[k]), (uint32_t)(slot[k] - L.att));
    }
    assert_int_equal(L.hdr->att_live, limit);
    struct sg_att extra = att_of_key((int)limit, 1);
    assert_null(sg_att_put(&L, &extra));
    assert_int_equal(L.hdr->dropped, dropped);
    /* Every record is where put said, found by its key and by its slot. */
    for (uint32_t k = 0; k < limit; k++) {
        struct sg_att a = att_of_key((int)k, 0);
        assert_ptr_equal(sg_att_find(&L, a.pid, a.addr), slot[k]);
        assert_ptr_equal(sg_att_at(&L, sg_att_slot(&L, slot[k]), a.pid, a.addr), slot[k]);
        assert_null(sg_att_at(&L, sg_att_slot(&L, slot[k]), a.pid + 1, a.addr));
    }
    /* Delete every other record: the rest stay put and are still found,
     * across the holes; a deleted one is gone, twice deleting is a no-op. */
    for (uint32_t k = 0; k < limit; k += 2) {
        sg_att_del(&L, slot[k]);
        sg_att_del(&L, slot[k]);
    }
    assert_int_equal(L.hdr->att_live, limit - (limit + 1) / 2);
    for (uint32_t k = 0; k < limit; k++) {
        struct sg_att a = att_of_key((int)k, 0);
        assert_ptr_equal(sg_att_find(&L, a.pid, a.addr), k % 2 ? slot[k] : NULL);
        if (k % 2)
            assert_int_equal(slot[k]->time_ns, k + 1);
    }
    /* The freed slots take new records: the refused key now goes into
     * one of them, and is found there. */
    struct sg_att *re = sg_att_put(&L, &extra);
    assert_non_null(re);
    assert_ptr_equal(sg_att_find(&L, extra.pid, extra.addr), re);
    int in_freed = 0;
    for (uint32_t k = 0; k < limit; k += 2)
        in_freed += re == slot[k];
    assert_int_equal(in_freed, 1);
    /* Three records with one home: the first deleted, the other two are
     * still found (a locked table would have had to shift them). */
    for (uint32_t i = 0; i < cap; i++)
        L.att[i].state = SG_REC_EMPTY;
    L.hdr->att_live = 0;
    int c[3];
    uint32_t h = 0;
    for (int k = 0; k < 3; k++) {
        struct sg_att a = att_of_key(1000 + k, 1);
        struct sg_att *r = sg_att_put(&S, &a);
        if (k == 0)
            h = sg_att_slot(&S, r);
        sg_att_del(&S, r);
    }
    int got = 0;
    for (int k = 1000; got < 3 && k < 200000; k++) {
        struct sg_att a = att_of_key(k, 1);
        struct sg_att *r = sg_att_put(&S, &a);
        if (sg_att_slot(&S, r) == h)
            c[got++] = k;
        sg_att_del(&S, r);
    }
    assert_int_equal(got, 3);
    struct sg_att *r3[3];
    for (int k = 0; k < 3; k++) {
        struct sg_att a = att_of_key(c[k], 7);
        r3[k] = sg_att_put(&L, &a);
        assert_int_equal(sg_att_slot(&L, r3[k]), (h + (uint32_t)k) & (cap - 1));
    }
    sg_att_del(&L, r3[0]);
    for (int k = 1; k < 3; k++) {
        struct sg_att a = att_of_key(c[k], 0);
        assert_ptr_equal(sg_att_find(&L, a.pid, a.addr), r3[k]);
    }
    sg_ledger_close(&S);
    sg_ledger_close(&L);
}

/* What others may do: drop a record only if the slot still holds the
 * very record judged; repair frees dead processes' claims, drops the
 * second copy of a key, and recounts. */
static void test_att_repair(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    struct sg_att a = att_of_key(1, 11), b = att_of_key(2, 22);
    struct sg_att *ra = sg_att_put(&L, &a), *rb = sg_att_put(&L, &b);
    struct sg_att seen = *ra;
    /* Judged stale, but its owner removed it and placed a new record of
     * the same key, which lands in the same slot (its home's first free
     * one): the slot is LIVE again with other contents, and is kept. */
    sg_att_del(&L, ra);
    struct sg_att c = att_of_key(1, 33);
    struct sg_att *rc = sg_att_put(&L, &c);
    assert_ptr_equal(rc, ra);
    assert_int_equal(sg_att_drop_stale(&L, rc, &seen), 0);
    assert_int_equal(rc->state, SG_REC_LIVE);
    assert_int_equal(rc->time_ns, 33);
    seen = *rb;
    assert_int_equal(sg_att_drop_stale(&L, rb, &seen), 1);
    assert_int_equal(rb->state, SG_REC_EMPTY);
    assert_int_equal(sg_att_drop_stale(&L, rb, &seen), 0);
    assert_int_equal(L.hdr->att_live, 1);

    /* A claim of a dead process, one of a live one, a duplicate, a wrong
     * counter. */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    uint32_t cap = L.hdr->att_cap, free1 = cap, free2 = cap, free3 = cap;
    for (uint32_t i = 0; i < cap; i++) {
        if (L.att[i].state != SG_REC_EMPTY)
            continue;
        if (free1 == cap)
            free1 = i;
        else if (free2 == cap)
            free2 = i;
        else if (free3 == cap) {
            free3 = i;
            break;
        }
    }
    L.att[free1].state = SG_REC_CLAIM | ((uint32_t)dead & SG_REC_CLAIM_PID);
    L.att[free2].state = SG_REC_CLAIM | ((uint32_t)getpid() & SG_REC_CLAIM_PID);
    memcpy(&L.att[free3], rc, sizeof *rc);
    L.hdr->att_live = 77;
    int fixed = sg_ledger_repair(&L);
    assert_true(fixed >= 3);
    assert_int_equal(L.att[free1].state, SG_REC_EMPTY);
    assert_int_equal(L.att[free2].state, SG_REC_CLAIM | ((uint32_t)getpid() & SG_REC_CLAIM_PID));
    assert_int_equal(L.hdr->att_live, 1);
    assert_int_equal((rc->state == SG_REC_LIVE) + (L.att[free3].state == SG_REC_LIVE), 1);
    L.att[free2].state = SG_REC_EMPTY;
    assert_int_equal(sg_ledger_repair(&L), 0);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* Owners in threads and processes place and remove their records at the
 * same time, without the lock, while repair runs under it: nothing is
 * lost, nothing is doubled, nothing is left claimed, and the counter is
 * right once they stop. */
#define ATT_OWNERS 4
#define ATT_KEYS 6
struct att_owner {
    struct sg_ledger *L;
    int32_t pid;    /* the real pid of its process: repair frees the
                     * claims of pids that are not alive */
    int idx;        /* its own range of addresses */
    int ops;
    int bad;
};

static void *att_owner_main(void *arg)
{
    struct att_owner *o = arg;
    struct sg_att *mine[ATT_KEYS] = { NULL };
    uint64_t x = (uint64_t)(o->pid * 16 + o->idx + 1) * 0x9E3779B97F4A7C15ull;
    uint64_t base = 0x7f0000000000ull + (uint64_t)o->idx * ATT_KEYS * 4096;
    for (int op = 0; op < o->ops; op++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = (int)(x % ATT_KEYS);
        struct sg_att a;
        memset(&a, 0, sizeof a);
        a.pid = o->pid;
        a.addr = base + (uint64_t)k * 4096;
        a.shmid = k;
        a.time_ns = (uint64_t)op;
        if (mine[k]) {
            if (sg_att_at(o->L, sg_att_slot(o->L, mine[k]), a.pid, a.addr) != mine[k])
                o->bad++;
            sg_att_del(o->L, mine[k]);
            mine[k] = NULL;
        } else if (!(mine[k] = sg_att_put(o->L, &a)))
            o->bad++;
    }
    for (int k = 0; k < ATT_KEYS; k++) {
        struct sg_att *f = sg_att_find(o->L, o->pid, base + (uint64_t)k * 4096);
        if (f != mine[k])
            o->bad++;
    }
    return NULL;
}

static void test_att_concurrent(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    /* Two processes sharing the mapping, each with owners in threads. */
    pid_t kid = fork();
    int proc = kid == 0;
    struct att_owner o[ATT_OWNERS];
    pthread_t th[ATT_OWNERS];
    for (int i = 0; i < ATT_OWNERS; i++) {
        o[i] = (struct att_owner){ &L, getpid(), i, 40000, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, att_owner_main, &o[i]), 0);
    }
    int repairs = 0;
    if (!proc) {
        for (int i = 0; i < 200; i++) {
            lock_or_fail(&L);
            sg_ledger_repair(&L);
            sg_ledger_unlock(&L);
            repairs++;
        }
    }
    int bad = 0;
    for (int i = 0; i < ATT_OWNERS; i++) {
        pthread_join(th[i], NULL);
        bad += o[i].bad;
    }
    if (proc)
        _exit(bad ? 1 : 0);
    int st = 0;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(bad, 0);
    assert_int_equal(repairs, 200);
    /* Each owner holds exactly the keys it believes (checked in the
     * owners), once each; no claim is left; repair has nothing to fix
     * but the counter, which it then gets right. */
    uint32_t live = 0;
    for (uint32_t i = 0; i < L.hdr->att_cap; i++) {
        uint32_t s = L.att[i].state;
        assert_true(s == SG_REC_EMPTY || s == SG_REC_LIVE);
        if (s == SG_REC_LIVE) {
            live++;
            assert_ptr_equal(sg_att_find(&L, L.att[i].pid, L.att[i].addr), &L.att[i]);
        }
    }
    lock_or_fail(&L);
    sg_ledger_repair(&L);
    assert_int_equal(L.hdr->att_live, live);
    assert_int_equal(sg_ledger_repair(&L), 0);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* Counters and the pending index are rebuilt from the records. */
static void test_repair_counters_pending(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    for (int k = 0; k < 30; k++) {
        put_key(&SEG, &L, k, 100 + (uint64_t)k);
        put_key(&ATT, &L, k, 100 + (uint64_t)k);
    }
    assert_int_equal(sg_intent_set(&L, getpid(), sg_proc_start_time(getpid()), 5), 0);
    assert_int_equal(sg_intent_set(&L, getpid(), sg_proc_start_time(getpid()), 6), 0);
    assert_ledger_ok(&L);
    assert_int_equal(sg_ledger_repair(&L), 0);

    /* Three records flagged pending behind the index's back, a stale
     * entry in the index, every counter wrong. */
    int pend_keys[3] = { 2, 7, 11 };
    for (int i = 0; i < 3; i++)
        ((struct sg_seg *)SEG.find(&L, pend_keys[i]))->flags |= SG_SEG_PENDING;
    L.pend[5].kind = SG_KIND_SHM;
    L.pend[5].id = 424242;
    L.hdr->pending = 9;
    L.hdr->seg_live = 999;
    L.hdr->att_live = 0;
    L.hdr->intents = 17;
    int fixed = sg_ledger_repair(&L);
    assert_true(fixed >= 4);
    assert_ledger_ok(&L);
    assert_int_equal(L.hdr->seg_live, 30);
    assert_int_equal(L.hdr->att_live, 30);
    assert_int_equal(L.hdr->intents, 2);
    assert_int_equal(L.hdr->pending, 3);
    for (uint32_t j = 0; j < L.hdr->pend_cap; j++)
        assert_int_not_equal(L.pend[j].id, 424242);
    for (int i = 0; i < 3; i++) {
        uint32_t kind;
        int32_t id;
        seg_key(pend_keys[i], &kind, &id);
        int n = 0;
        for (uint32_t j = 0; j < L.hdr->pend_cap; j++)
            n += L.pend[j].id == id && L.pend[j].kind == kind;
        assert_int_equal(n, 1);
    }
    /* Deleting a pending record takes it out of the index. */
    sg_seg_del(&L, SEG.find(&L, 7));
    assert_int_equal(L.hdr->pending, 2);
    assert_ledger_ok(&L);

    /* On a consistent ledger repair changes nothing. */
    unsigned char *copy = malloc(L.len);
    assert_non_null(copy);
    memcpy(copy, L.base, L.len);
    assert_int_equal(sg_ledger_repair(&L), 0);
    /* Every table but the pending index (rebuilt, in another order
     * perhaps): the small tables before it and after it, the big ones. */
    size_t hs = L.hdr->hdr_size, po = L.hdr->pend_off,
           pe = po + (size_t)L.hdr->pend_cap * sizeof(struct sg_pend);
    assert_memory_equal(copy + hs, L.base + hs, po - hs);
    assert_memory_equal(copy + pe, L.base + pe, L.len - pe);
    assert_memory_equal(copy + offsetof(struct sg_hdr, seg_live),
                        L.base + offsetof(struct sg_hdr, seg_live), 16);
    free(copy);

    /* More pending records than the index holds: the index stays the
     * exact set of flagged records. */
    for (int k = 0; k < 30; k++)
        if (k != 7)
            ((struct sg_seg *)SEG.find(&L, k))->flags |= SG_SEG_PENDING;
    sg_ledger_repair(&L);
    assert_int_equal(L.hdr->pending, L.hdr->pend_cap);
    assert_ledger_ok(&L);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* ---- intents and the pending index -------------------------------------- */

static int count_pid_intents(const struct sg_ledger *L, int32_t pid)
{
    int n = 0;
    for (uint32_t i = 0; i < L->hdr->intent_cap; i++)
        n += L->intent[i].state == SG_REC_LIVE && L->intent[i].pid == pid;
    return n;
}

static void test_intents(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    pid_t me = getpid();
    uint64_t my_start = sg_proc_start_time(me);
    assert_true(my_start > 0);

    assert_int_equal(sg_intent_holding(&L, 42, sg_mono_ns()), 0);
    assert_int_equal(sg_intent_set(&L, me, my_start, 42), 0);
    assert_int_equal(L.hdr->intents, 1);
    assert_int_equal(sg_intent_holding(&L, 42, sg_mono_ns()), 1);
    assert_int_equal(sg_intent_holding(&L, 43, sg_mono_ns()), 0);
    /* Setting it again refreshes it, it does not add one. */
    assert_int_equal(sg_intent_set(&L, me, my_start, 42), 0);
    assert_int_equal(L.hdr->intents, 1);
    /* Still holding just before the TTL. */
    assert_int_equal(sg_intent_holding(&L, 42, sg_mono_ns() + SG_INTENT_TTL_NS - 1000000000ull), 1);
    sg_intent_clear(&L, me, sg_pidns_self(), 42);
    assert_int_equal(L.hdr->intents, 0);
    assert_int_equal(sg_intent_holding(&L, 42, sg_mono_ns()), 0);
    /* Clearing what is not there changes nothing. */
    sg_intent_clear(&L, me, sg_pidns_self(), 42);
    assert_int_equal(L.hdr->intents, 0);

    /* Expired: older than SG_INTENT_TTL_NS, dropped when seen. */
    assert_int_equal(sg_intent_set(&L, me, my_start, 50), 0);
    assert_int_equal(sg_intent_holding(&L, 50, sg_mono_ns() + SG_INTENT_TTL_NS + 1000000000ull), 0);
    assert_int_equal(L.hdr->intents, 0);

    /* Same pid, a time before this process started (the record of an
     * earlier holder of the pid): a reused pid holds nothing. */
    assert_int_equal(sg_intent_set(&L, me, my_start - 1, 51), 0);
    assert_int_equal(sg_intent_holding(&L, 51, sg_mono_ns()), 0);
    assert_int_equal(L.hdr->intents, 0);

    /* A process that dies between shmget and shmat stops holding. */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char c;
        close(p[1]);
        _exit(read(p[0], &c, 1) == 0 ? 0 : 1);
    }
    close(p[0]);
    uint64_t child_start = sg_proc_start_time(child);
    assert_true(child_start > 0);
    assert_int_equal(sg_intent_set(&L, child, child_start, 52), 0);
    assert_int_equal(sg_intent_set(&L, me, my_start, 53), 0);
    assert_int_equal(L.hdr->intents, 2);
    assert_int_equal(sg_intent_holding(&L, 52, sg_mono_ns()), 1);
    close(p[1]); /* the child exits */
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(sg_intent_holding(&L, 52, sg_mono_ns()), 0);
    assert_int_equal(L.hdr->intents, 1);
    assert_int_equal(sg_intent_holding(&L, 53, sg_mono_ns()), 1);

    /* clear_pid clears only that pid's intents. */
    assert_int_equal(sg_intent_set(&L, 77777, 1, 60), 0);
    assert_int_equal(sg_intent_set(&L, me, my_start, 61), 0);
    assert_int_equal(L.hdr->intents, 3);
    sg_intent_clear_pid(&L, me, sg_pidns_self());
    assert_int_equal(L.hdr->intents, 1);
    for (uint32_t i = 0; i < L.hdr->intent_cap; i++)
        if (L.intent[i].state == SG_REC_LIVE)
            assert_int_equal(L.intent[i].pid, 77777);
    sg_intent_clear_pid(&L, 77777, sg_pidns_self());
    assert_int_equal(L.hdr->intents, 0);
    assert_ledger_ok(&L);

    /* One process looking up more keys than there is room for gives up
     * its own oldest lookups: it never overflows the table for others. */
    for (int i = 0; i <= 2 * (int)L.hdr->intent_cap; i++)
        assert_int_equal(sg_intent_set(&L, me, my_start, 5000 + i), 0);
    assert_true(L.hdr->intents <= L.hdr->intent_cap);
    assert_true(L.hdr->intent_overflow_until_ns == 0);
    assert_int_equal(count_pid_intents(&L, me), (int)L.hdr->intents);
    sg_intent_clear_pid(&L, me, sg_pidns_self());
    assert_int_equal(L.hdr->intents, 0);

    /* Overflow: lookups of many processes fill the table; when no slot is
     * free, set fails and every removal waits out the TTL. */
    int failed_at = -1;
    for (int i = 0; i <= (int)L.hdr->intent_cap; i++)
        if (sg_intent_set(&L, 200000 + i, 1, 1000 + i) != 0) {
            failed_at = i;
            break;
        }
    assert_true(failed_at > 0);
    assert_true(L.hdr->intents <= L.hdr->intent_cap);
    assert_int_equal(L.hdr->intents, (uint32_t)failed_at);
    uint64_t now = sg_mono_ns();
    assert_true(L.hdr->intent_overflow_until_ns > now);
    assert_true(L.hdr->intent_overflow_until_ns <= now + SG_INTENT_TTL_NS);
    assert_int_equal(sg_intent_holding(&L, 999, now), 1); /* nobody's, but held */
    assert_int_equal(sg_intent_holding(&L, 999, now + 2 * SG_INTENT_TTL_NS), 0);
    for (int i = 0; i < failed_at; i++)
        sg_intent_clear_pid(&L, 200000 + i, sg_pidns_self());
    assert_int_equal(L.hdr->intents, 0);
    assert_ledger_ok(&L);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

static int pend_count(struct sg_ledger *L, uint32_t kind, int32_t id)
{
    int n = 0;
    for (uint32_t j = 0; j < L->hdr->pend_cap; j++)
        n += L->pend[j].id == id && L->pend[j].kind == kind;
    return n;
}

static void test_pending_index(void **state)
{
    struct sg_ledger L;
    open_small(&L, *state, sg_ipcns_ino());
    lock_or_fail(&L);
    uint32_t cap = L.hdr->pend_cap;
    assert_int_equal(cap, 16);
    assert_int_equal(L.hdr->pending, 0);
    assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, 5), 0);
    assert_int_equal(L.hdr->pending, 1);
    assert_int_equal(pend_count(&L, SG_KIND_SHM, 5), 1);
    /* Adding it twice keeps one entry. */
    assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, 5), 0);
    assert_int_equal(L.hdr->pending, 1);
    assert_int_equal(pend_count(&L, SG_KIND_SHM, 5), 1);
    /* Same id, other kind: another entry. */
    assert_int_equal(sg_pend_add(&L, SG_KIND_SEM, 5), 0);
    assert_int_equal(L.hdr->pending, 2);
    /* Id 0 is a real id. */
    assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, 0), 0);
    assert_int_equal(L.hdr->pending, 3);
    for (int32_t id = 100; L.hdr->pending < cap; id++)
        assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, id), 0);
    assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, 9999), -1);
    assert_int_equal(L.hdr->pending, cap);
    assert_int_equal(pend_count(&L, SG_KIND_SHM, 9999), 0);
    /* Re-adding a present one while full is still fine. */
    assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, 5), 0);
    sg_pend_del(&L, SG_KIND_SHM, 5);
    assert_int_equal(L.hdr->pending, cap - 1);
    assert_int_equal(pend_count(&L, SG_KIND_SHM, 5), 0);
    assert_int_equal(pend_count(&L, SG_KIND_SEM, 5), 1);
    sg_pend_del(&L, SG_KIND_SHM, 5); /* not there: no change */
    sg_pend_del(&L, SG_KIND_SHM, 31337);
    assert_int_equal(L.hdr->pending, cap - 1);
    assert_int_equal(sg_pend_add(&L, SG_KIND_SHM, 9999), 0);
    assert_int_equal(L.hdr->pending, cap);
    assert_int_equal(pend_count(&L, SG_KIND_SHM, 9999), 1);
    sg_pend_del(&L, SG_KIND_SHM, 0);
    assert_int_equal(pend_count(&L, SG_KIND_SHM, 0), 0);
    assert_int_equal(L.hdr->pending, cap - 1);
    /* Empty the index. */
    for (uint32_t j = 0; j < cap; j++)
        if (L.pend[j].id >= 0)
            sg_pend_del(&L, L.pend[j].kind, L.pend[j].id);
    assert_int_equal(L.hdr->pending, 0);
    for (uint32_t j = 0; j < cap; j++)
        assert_true(L.pend[j].id < 0);

    /* With a segment record: sg_seg_del of a pending record drops its
     * index entry. */
    struct sg_seg rec;
    seg_make(4, 1, &rec);
    rec.flags |= SG_SEG_PENDING;
    struct sg_seg *s = sg_seg_put(&L, &rec);
    assert_non_null(s);
    assert_int_equal(sg_pend_add(&L, s->kind, s->id), 0);
    assert_ledger_ok(&L);
    sg_seg_del(&L, s);
    assert_int_equal(L.hdr->pending, 0);
    assert_int_equal(pend_count(&L, rec.kind, rec.id), 0);
    assert_ledger_ok(&L);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* ---- image checks ------------------------------------------------------- */

static void expect_reject(const unsigned char *img, size_t len, uint64_t ns, const char *word,
                          const char *what)
{
    char err[512] = "";
    if (sg_ledger_check_image(img, len, ns, err, sizeof err) != -1)
        fail_msg("check_image accepted %s", what);
    if (!strstr(err, word))
        fail_msg("check_image on %s: message \"%s\" does not say \"%s\"", what, err, word);
}

static void test_check_image(void **state)
{
    struct sg_ledger L;
    uint64_t ns = sg_ipcns_ino();
    open_small(&L, *state, ns);
    lock_or_fail(&L);
    for (int k = 0; k < 10; k++) {
        put_key(&SEG, &L, k, (uint64_t)k);
        put_key(&ATT, &L, k, (uint64_t)k);
    }
    sg_ledger_unlock(&L);
    size_t len = L.len;
    unsigned char *good = malloc(len + 4096);
    unsigned char *img = malloc(len + 4096);
    assert_non_null(good);
    assert_non_null(img);
    memcpy(good, L.base, len);
    memset(good + len, 0, 4096);
    struct sg_hdr *h = (struct sg_hdr *)img;
    char err[512];
#define FRESH() memcpy(img, good, len + 4096)
#define RESUM() (h->static_sum = hdr_sum(h))

    FRESH();
    assert_int_equal(hdr_sum(h), h->static_sum); /* the documented checksum */
    if (sg_ledger_check_image(img, len, ns, err, sizeof err) != 0)
        fail_msg("fresh ledger rejected: %s", err);

    expect_reject(img, 0, ns, "truncated", "an empty image");
    expect_reject(img, 100, ns, "truncated", "100 bytes");
    expect_reject(img, sizeof(struct sg_hdr) - 1, ns, "truncated", "255 bytes");
    expect_reject(img, sizeof(struct sg_hdr), ns, "truncated", "the header alone");
    expect_reject(img, len - 1, ns, "truncated", "one byte short");
    expect_reject(img, len + 64, ns, "extended", "64 bytes too long");

    FRESH();
    img[3] ^= 0x20;
    expect_reject(img, len, ns, "magic", "a changed magic");
    FRESH();
    h->version = SG_LEDGER_VERSION + 1;
    expect_reject(img, len, ns, "version", "a newer version");
    FRESH();
    h->version = 0;
    expect_reject(img, len, ns, "version", "version 0");
    FRESH();
    h->hdr_size = 128;
    expect_reject(img, len, ns, "header", "hdr_size 128");

    /* Any single byte changed in the checksummed area after the magic,
     * version and header size. */
    for (size_t off = 16; off < 100; off++) {
        if (off >= offsetof(struct sg_hdr, static_sum) && off < offsetof(struct sg_hdr, pend_off))
            continue;
        FRESH();
        img[off] ^= 0x01;
        char what[64];
        snprintf(what, sizeof what, "a flipped header byte at %zu", off);
        expect_reject(img, len, ns, "checksum", what);
    }
    FRESH();
    h->static_sum ^= 0x100;
    expect_reject(img, len, ns, "checksum", "a changed checksum");

    FRESH();
    h->ready = 0;
    expect_reject(img, len, ns, "initialised", "ready == 0");
    FRESH();
    h->ready = 2;
    expect_reject(img, len, ns, "", "ready == 2");

    FRESH();
    expect_reject(img, len, ns + 1, "namespace", "another namespace's ledger");
    FRESH();
    h->ipcns_ino = ns + 1;
    RESUM();
    expect_reject(img, len, ns, "namespace", "a ledger naming another namespace");

    struct {
        uint32_t *field;
        uint32_t value;
        const char *what;
    } caps[] = {
        { &h->seg_cap, 48, "seg_cap 48" },     { &h->seg_cap, 0, "seg_cap 0" },
        { &h->seg_cap, 1u << 25, "seg_cap 2^25" }, { &h->att_cap, 96, "att_cap 96" },
        { &h->att_cap, 0, "att_cap 0" },       { &h->att_cap, 1u << 31, "att_cap 2^31" },
        { &h->intent_cap, 0, "intent_cap 0" }, { &h->intent_cap, 65537, "intent_cap 65537" },
        { &h->pend_cap, 0, "pend_cap 0" },     { &h->pend_cap, 1u << 30, "pend_cap 2^30" },
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        FRESH();
        *caps[i].field = caps[i].value;
        RESUM();
        expect_reject(img, len, ns, "capacities", caps[i].what);
    }
    /* Capacities that are valid but do not match the rest. */
    FRESH();
    h->seg_cap = 128;
    RESUM();
    expect_reject(img, len, ns, "", "seg_cap doubled");

    FRESH();
    h->att_off += 64;
    RESUM();
    expect_reject(img, len, ns, "offsets", "a moved attachment table");
    FRESH();
    h->pend_off = 8;
    RESUM();
    expect_reject(img, len, ns, "offsets", "a pending index inside the header");
    FRESH();
    h->file_size += 512;
    RESUM();
    expect_reject(img, len, ns, "size", "a wrong file size field");
    expect_reject(img, len + 512, ns, "", "an image extended to match its size field");

    /* Records with a state the code does not know. */
    uint32_t states[] = { 2, 0x77, 0xffffffffu };
    uint32_t slots[] = { 0, 17, 63 };
    for (int i = 0; i < 3; i++) {
        FRESH();
        ((struct sg_seg *)(img + h->seg_off))[slots[i]].state = states[i];
        expect_reject(img, len, ns, "segment record", "a bad segment state");
        FRESH();
        ((struct sg_att *)(img + h->att_off))[slots[i]].state = states[i];
        expect_reject(img, len, ns, "attachment record", "a bad attachment state");
    }

    /* A live segment record with a negative id (which the pending index
     * reads as an empty slot) or an unknown kind; and a lock of another
     * kind (glibc would take another locking path). */
    for (uint32_t i = 0; i < h->seg_cap; i++) {
        struct sg_seg *r = &((struct sg_seg *)(img + h->seg_off))[i];
        if (r->state != SG_REC_LIVE)
            continue;
        FRESH();
        r->id = -5;
        expect_reject(img, len, ns, "segment record", "a negative id");
        FRESH();
        r->kind = 4; /* 1..3: shm, sem, msg */
        expect_reject(img, len, ns, "segment record", "an unknown kind");
        break;
    }
    FRESH();
    ((pthread_mutex_t *)(void *)h->lock)->__data.__kind |= 32; /* PTHREAD_MUTEX_PRIO_INHERIT_NP */
    expect_reject(img, len, ns, "lock", "a priority-inheritance lock");
    FRESH();
    ((pthread_mutex_t *)(void *)h->lock)->__data.__kind &= ~16; /* not robust */
    expect_reject(img, len, ns, "lock", "a lock that is not robust");

    /* Random damage to the header and length never crashes the check
     * (run under ASan to make this meaningful) and what it accepts is
     * laid out inside the image. */
    rng_state = SEED ^ 0x1111;
    for (int i = 0; i < 20000; i++) {
        FRESH();
        int n = 1 + (int)rnd_below(4);
        for (int j = 0; j < n; j++)
            img[rnd_below(sizeof(struct sg_hdr))] = (unsigned char)rnd();
        if (rnd_below(2))
            RESUM();
        size_t l = rnd_below(4) ? len : rnd_below((uint32_t)len + 4096);
        if (sg_ledger_check_image(img, l, ns, err, sizeof err) == 0) {
            assert_int_equal(h->file_size, l);
            assert_true(h->pend_off + (uint64_t)h->pend_cap * sizeof(struct sg_pend) <= l);
        } else
            assert_true(err[0] != '\0');
    }
#undef FRESH
#undef RESUM
    free(img);
    free(good);
    sg_ledger_close(&L);
}

/* The file keeps the size its header states whatever is stored in it:
 * every other opener (and the tool's loader) refuses a file whose size
 * does not match.  Cases: records in the last page of the attachment
 * table when the intent table and pending index after it are shorter than
 * a page, and a ledger smaller than one page. */
static void test_size_stable(void **state)
{
    const char *dir = *state;
    struct sg_caps caps[] = { { 64, 64, 32, 16 }, { 1, 1, 1, 1 }, { 64, 64, 128, 16 } };
    char report[2048] = "";
    size_t used = 0;
#define PROBLEM(...)                                                                       \
    do {                                                                                   \
        used += (size_t)snprintf(report + used, sizeof report - used, __VA_ARGS__);        \
        if (used >= sizeof report)                                                         \
            used = sizeof report - 1;                                                      \
    } while (0)
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        struct sg_caps *c = &caps[i];
        char sub[PATH_MAX], err[PATH_MAX + 256], what[64];
        snprintf(sub, sizeof sub, "%s/caps%zu", dir, i);
        snprintf(what, sizeof what, "caps {%u, %u, %u, %u}", c->seg, c->att, c->intent,
                 c->pend);
        uint64_t want = sg_layout_file_size(c->seg, c->att, c->intent, c->pend);
        struct sg_ledger L, L2;
        struct stat st;
        if (sg_ledger_open_own(&L, sub, sg_ipcns_ino(), c, err, sizeof err) != 0)
            fail_msg("%s: open: %s", what, err);
        assert_int_equal(stat(L.path, &st), 0);
        if ((uint64_t)st.st_size != want)
            PROBLEM("\n  %s: a new ledger file has %jd bytes, its header says %llu", what,
                    (intmax_t)st.st_size, (unsigned long long)want);
        lock_or_fail(&L);
        for (uint32_t k = 0; k < c->seg - c->seg / 8; k++)
            put_key(&SEG, &L, (int)k, k);
        for (uint32_t k = 0; k < c->att - c->att / 8; k++)
            put_key(&ATT, &L, (int)k, k);
        sg_ledger_unlock(&L);
        struct stat st2;
        assert_int_equal(stat(L.path, &st2), 0);
        if (st2.st_size != st.st_size)
            PROBLEM("\n  %s: storing records grew the file from %jd to %jd bytes", what,
                    (intmax_t)st.st_size, (intmax_t)st2.st_size);
        if (sg_ledger_open_own(&L2, sub, sg_ipcns_ino(), c, err, sizeof err) != 0)
            PROBLEM("\n  %s: a second open fails: %s", what, err);
        else
            sg_ledger_close(&L2);
        if (sg_ledger_load(&L2, L.path, sg_ipcns_ino(), err, sizeof err) != 0)
            PROBLEM("\n  %s: load fails: %s", what, err);
        else
            sg_ledger_close(&L2);
        sg_ledger_close(&L);
    }
#undef PROBLEM
    if (used)
        fail_msg("the file size does not stay as its header says:%s", report);
}

static void test_names(void **state)
{
    (void)state;
    char b[128];
    sg_ledger_name(b, sizeof b, 4026531839ull, 1000, 0);
    assert_string_equal(b, "ipc-4026531839.uid-1000.ledger");
    sg_ledger_name(b, sizeof b, 4026531839ull, 1000, 2);
    assert_string_equal(b, "ipc-4026531839.uid-1000.2.ledger");
    assert_true(sg_ledger_name_matches("ipc-5.uid-0.ledger", 5));
    assert_true(sg_ledger_name_matches("ipc-5.uid-1000.1.ledger", 5));
    assert_false(sg_ledger_name_matches("ipc-5.uid-0.ledger", 55));
    assert_false(sg_ledger_name_matches("ipc-55.uid-0.ledger", 5));
    assert_false(sg_ledger_name_matches("ipc-5.uid-0.ledger.tmp", 5));
    assert_false(sg_ledger_name_matches("ipc-5.uid-.ledger", 5));
    assert_false(sg_ledger_name_matches("", 5));
}

/* ---- opening ------------------------------------------------------------ */

/* Open in dir; must succeed on file `alt`. */
static void open_expect_alt(struct sg_ledger *L, const char *dir, int alt)
{
    char want[PATH_MAX];
    open_small(L, dir, sg_ipcns_ino());
    ledger_name_in(want, sizeof want, dir, alt);
    assert_string_equal(L->path, want);
    struct stat st;
    assert_int_equal(lstat(want, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(st.st_mode & 07777, 0644);
    struct sg_caps c = small_caps();
    assert_int_equal((uint64_t)st.st_size, sg_layout_file_size(c.seg, c.att, c.intent, c.pend));
    /* Usable. */
    lock_or_fail(L);
    put_key(&SEG, L, 1, 11);
    assert_key_once(&SEG, L, 1, 11);
    assert_ledger_ok(L);
    sg_ledger_unlock(L);
}

static void assert_file_is(const char *path, const unsigned char *bytes, size_t len)
{
    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    if (!b)
        fail_msg("%s unreadable", path);
    if (n != len || memcmp(b, bytes, len) != 0)
        fail_msg("%s was modified (%zu bytes, was %zu)", path, n, len);
    free(b);
}

static void test_open_new(void **state)
{
    const char *dir = *state;
    struct sg_ledger L, L2;
    open_expect_alt(&L, dir, 0);
    assert_int_equal(L.owner, geteuid());
    assert_true(L.mapped);
    /* A second open shares the same file and memory. */
    struct sg_caps other = { 128, 128, 64, 64 };
    char err[PATH_MAX + 256];
    if (sg_ledger_open_own(&L2, dir, sg_ipcns_ino(), &other, err, sizeof err) != 0)
        fail_msg("reopen: %s", err);
    assert_string_equal(L2.path, L.path);
    assert_int_equal(L2.hdr->seg_cap, 64); /* the file's capacities win */
    assert_key_once(&SEG, &L2, 1, 11);
    lock_or_fail(&L2);
    put_key(&SEG, &L2, 2, 22);
    sg_ledger_unlock(&L2);
    assert_key_once(&SEG, &L, 2, 22);
    sg_ledger_close(&L2);
    sg_ledger_close(&L);
}

/* (a) A symlink at the ledger's name is never followed. */
static void test_open_symlink(void **state)
{
    const char *dir = *state;
    char name0[PATH_MAX], target[PATH_MAX], absent[PATH_MAX];
    static const unsigned char precious[] = "precious data, not a ledger\n";
    ledger_name_in(name0, sizeof name0, dir, 0);
    path_in(target, sizeof target, dir, "target");
    write_file(target, precious, sizeof precious, 0644);
    assert_int_equal(symlink(target, name0), 0);
    struct sg_ledger L;
    open_expect_alt(&L, dir, 1);
    sg_ledger_close(&L);
    assert_file_is(target, precious, sizeof precious);
    struct stat st;
    assert_int_equal(lstat(name0, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* A dangling symlink: its target is not created. */
    char name1[PATH_MAX];
    ledger_name_in(name1, sizeof name1, dir, 1);
    assert_int_equal(unlink(name1), 0);
    assert_int_equal(unlink(name0), 0);
    path_in(absent, sizeof absent, dir, "absent");
    assert_int_equal(symlink(absent, name0), 0);
    open_expect_alt(&L, dir, 1);
    sg_ledger_close(&L);
    assert_int_equal(lstat(absent, &st), -1);
    assert_int_equal(errno, ENOENT);

    /* Every name taken by a symlink: a clear error. */
    assert_int_equal(unlink(name1), 0);
    for (int alt = 0; alt < 4; alt++) {
        char n[PATH_MAX];
        ledger_name_in(n, sizeof n, dir, alt);
        unlink(n);
        assert_int_equal(symlink(absent, n), 0);
    }
    struct sg_caps c = small_caps();
    char err[PATH_MAX + 256] = "";
    assert_int_equal(sg_ledger_open_own(&L, dir, sg_ipcns_ino(), &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no usable ledger"));
    assert_non_null(strstr(err, dir));
    assert_int_equal(lstat(absent, &st), -1);
}

/* (b) Files at the ledger's name that are not this uid's own plain file
 * are skipped: another uid's file (even a valid ledger), a hard link, a
 * FIFO, a directory. */
static void test_open_foreign(void **state)
{
    const char *dir = *state;
    char name0[PATH_MAX], name1[PATH_MAX], other[PATH_MAX];
    ledger_name_in(name0, sizeof name0, dir, 0);
    ledger_name_in(name1, sizeof name1, dir, 1);
    struct sg_ledger L;
    struct stat st;

    /* A hard link to a ledger of ours (nlink 2). */
    open_expect_alt(&L, dir, 0);
    sg_ledger_close(&L);
    path_in(other, sizeof other, dir, "other-link");
    assert_int_equal(link(name0, other), 0);
    open_expect_alt(&L, dir, 1);
    sg_ledger_close(&L);
    assert_int_equal(unlink(name1), 0);
    assert_int_equal(unlink(other), 0);
    assert_int_equal(unlink(name0), 0);

    /* A FIFO: skipped without blocking. */
    assert_int_equal(mkfifo(name0, 0666), 0);
    open_expect_alt(&L, dir, 1);
    sg_ledger_close(&L);
    assert_int_equal(lstat(name0, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(unlink(name1), 0);
    assert_int_equal(unlink(name0), 0);

    if (!sgt_other_uid_ok()) {
        fprintf(stderr, "test_open_foreign: cannot act as uid 65534: foreign-uid cases skipped\n");
        skip();
    }
    /* Another uid's file that is a perfectly valid ledger (a forgery). */
    open_expect_alt(&L, dir, 0);
    sg_ledger_close(&L);
    assert_int_equal(chown(name0, 65534, 65534), 0);
    size_t n = 0;
    unsigned char *before = slurp(name0, &n);
    assert_non_null(before);
    open_expect_alt(&L, dir, 1);
    sg_ledger_close(&L);
    assert_file_is(name0, before, n);
    assert_int_equal(stat(name0, &st), 0);
    assert_int_equal(st.st_uid, 65534);
    free(before);
    assert_int_equal(unlink(name1), 0);
    assert_int_equal(unlink(name0), 0);

    /* Another uid's junk file, writable by us. */
    write_file(name0, "junk", 4, 0666);
    assert_int_equal(chown(name0, 65534, 65534), 0);
    open_expect_alt(&L, dir, 1);
    sg_ledger_close(&L);
    assert_file_is(name0, (const unsigned char *)"junk", 4);
}

/* A directory planted at the ledger's name (by another uid, in the shared
 * sticky directory) is skipped like any other file that is not this
 * uid's plain file (sg_ledger.h: "files owned by another uid are
 * skipped"), instead of making the ledger unusable. */
static void test_open_planted_dir(void **state)
{
    const char *dir = *state;
    char name0[PATH_MAX], name1[PATH_MAX];
    ledger_name_in(name0, sizeof name0, dir, 0);
    ledger_name_in(name1, sizeof name1, dir, 1);
    struct sg_ledger L;
    assert_int_equal(mkdir(name0, 0755), 0);
    if (sgt_other_uid_ok())
        assert_int_equal(chown(name0, 65534, 65534), 0);
    struct sg_caps c = small_caps();
    char err[PATH_MAX + 256] = "";
    if (sg_ledger_open_own(&L, dir, sg_ipcns_ino(), &c, err, sizeof err) != 0)
        fail_msg("a directory planted at the ledger's name disables the ledger: %s", err);
    assert_string_equal(L.path, name1);
    sg_ledger_close(&L);
}

/* (c) A file left by a creator that died mid-creation is created again. */
static void test_open_unfinished(void **state)
{
    const char *dir = *state;
    char name0[PATH_MAX];
    ledger_name_in(name0, sizeof name0, dir, 0);
    struct sg_caps c = small_caps();
    size_t size = (size_t)sg_layout_file_size(c.seg, c.att, c.intent, c.pend);
    unsigned char *zero = calloc(1, size);
    assert_non_null(zero);
    struct sg_ledger L;

    for (int variant = 0; variant < 3; variant++) {
        if (variant == 0) {
            write_file(name0, zero, size, 0644); /* all zero, right size */
        } else if (variant == 1) {
            write_file(name0, zero, 0, 0644);    /* empty */
        } else {
            /* Header written, never marked ready: a complete header
             * with ready == 0, the tables still zero. */
            open_expect_alt(&L, dir, 0);
            unsigned char hdr[sizeof(struct sg_hdr)];
            memcpy(hdr, L.base, sizeof hdr);
            ((struct sg_hdr *)(void *)hdr)->ready = 0;
            sg_ledger_close(&L);
            write_file(name0, zero, size, 0644);
            int fd = open(name0, O_WRONLY | O_CLOEXEC);
            assert_true(fd >= 0);
            assert_int_equal(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
            close(fd);
        }
        open_expect_alt(&L, dir, 0);
        assert_int_equal(L.hdr->ready, 1);
        assert_int_equal(L.hdr->version, SG_LEDGER_VERSION);
        assert_int_equal(L.hdr->seg_live, 1); /* only the record just put */
        char err[256];
        if (sg_ledger_check_image(L.base, L.len, sg_ipcns_ino(), err, sizeof err) != 0)
            fail_msg("variant %d: re-created ledger fails its check: %s", variant, err);
        sg_ledger_close(&L);
        assert_int_equal(unlink(name0), 0);
    }
    free(zero);
}

/* (d) A ledger that exists but cannot be used: the open fails, says which
 * file and why, and leaves the file exactly as it was. */
static void test_open_unusable(void **state)
{
    const char *dir = *state;
    char name0[PATH_MAX];
    ledger_name_in(name0, sizeof name0, dir, 0);
    struct sg_ledger L;
    open_expect_alt(&L, dir, 0);
    size_t len = 0;
    unsigned char *good = slurp(name0, &len);
    assert_non_null(good);
    sg_ledger_close(&L);
    unsigned char *img = malloc(len);
    assert_non_null(img);
    struct sg_hdr *h = (struct sg_hdr *)img;

    struct {
        const char *what, *word;
    } cases[] = {
        { "a newer version", "version" },
        { "version 1 with another size", "version" },
        { "truncated to half", "truncated" },
        { "truncated to 100 bytes", "truncated" },
        { "header only", "truncated" },
        { "extended", "longer" },
        { "garbage", "magic" },
        { "bad checksum", "checksum" },
        { "another namespace", "namespace" },
        { "bad record", "record" },
    };
    rng_state = SEED ^ 0x2222;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = len;
        memcpy(img, good, len);
        switch (i) {
        case 0:
            h->version = SG_LEDGER_VERSION + 1;
            break;
        case 1:
            h->version = 1;
            n = len / 2;
            break;
        case 2:
            n = len / 2;
            break;
        case 3:
            n = 100;
            break;
        case 4:
            n = sizeof(struct sg_hdr);
            break;
        case 5:
            img = realloc(img, len + 8192);
            assert_non_null(img);
            h = (struct sg_hdr *)img;
            memset(img + len, 0, 8192);
            n = len + 8192;
            break;
        case 6:
            for (size_t j = 0; j < n; j++)
                img[j] = (unsigned char)rnd();
            break;
        case 7:
            img[20] ^= 0x40;
            break;
        case 8:
            h->ipcns_ino += 1;
            h->static_sum = hdr_sum(h);
            break;
        case 9: /* (a bad record in the large tables or the event ring is
                 * not refused at open: test_ledger_check, test_bad_records) */
            ((struct sg_pidns *)(img + h->pidns_off))[3].state = 9;
            break;
        }
        write_file(name0, img, n, 0644);
        struct sg_caps c = small_caps();
        char err[PATH_MAX + 256] = "";
        memset(&L, 0x5a, sizeof L);
        int rc = sg_ledger_open_own(&L, dir, sg_ipcns_ino(), &c, err, sizeof err);
        char name1[PATH_MAX];
        ledger_name_in(name1, sizeof name1, dir, 1);
        if (i <= 1) {
            /* Another build's format is left alone, and the next name
             * taken instead. */
            if (rc != 0 || strcmp(L.path, name1) != 0)
                fail_msg("%s: expected the next name %s, got rc %d (%s)", cases[i].what, name1, rc,
                         rc == 0 ? L.path : err);
            sg_ledger_close(&L);
            assert_file_is(name0, img, n);
            unlink(name1);
            continue;
        }
        if (rc == 0)
            fail_msg("open accepted a ledger with %s (using %s)", cases[i].what, L.path);
        if (!strstr(err, name0))
            fail_msg("%s: message \"%s\" does not name the file", cases[i].what, err);
        if (!strstr(err, cases[i].word))
            fail_msg("%s: message \"%s\" does not say \"%s\"", cases[i].what, err, cases[i].word);
        assert_null(L.base);
        assert_file_is(name0, img, n);
        /* No other name was taken instead. */
        assert_int_equal(access(name1, F_OK), -1);
    }
    free(img);
    free(good);
}

/* (e) and (f): the ledger directory. */
static void test_open_dir(void **state)
{
    const char *dir = *state;
    char sub[PATH_MAX], err[PATH_MAX + 256];
    struct sg_caps c = small_caps();
    struct sg_ledger L;
    struct stat st;

    /* (f) Missing: created sticky and world-writable, whatever the umask. */
    path_in(sub, sizeof sub, dir, "new");
    mode_t old = umask(022);
    open_small(&L, sub, sg_ipcns_ino());
    assert_int_equal(umask(old), 022);
    sg_ledger_close(&L);
    assert_int_equal(lstat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 01777);
    assert_int_equal(st.st_uid, geteuid());

    /* (e) Writable by others without the sticky bit: refused. */
    mode_t bad[] = { 0777, 0775, 0757 };
    for (int i = 0; i < 3; i++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/open%o", dir, (unsigned)bad[i]);
        assert_int_equal(mkdir(d, 0700), 0);
        assert_int_equal(chmod(d, bad[i]), 0);
        err[0] = '\0';
        assert_int_equal(sg_ledger_open_own(&L, d, sg_ipcns_ino(), &c, err, sizeof err), -1);
        if (!strstr(err, "sticky") || !strstr(err, d))
            fail_msg("directory mode %o: message \"%s\"", (unsigned)bad[i], err);
        char name0[PATH_MAX];
        ledger_name_in(name0, sizeof name0, d, 0);
        assert_int_equal(access(name0, F_OK), -1); /* nothing created */
        assert_int_equal(stat(d, &st), 0);
        assert_int_equal(st.st_mode & 07777, bad[i]);
    }
    /* Sticky and world-writable, or private: fine. */
    snprintf(sub, sizeof sub, "%s/private", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    open_small(&L, sub, sg_ipcns_ino());
    sg_ledger_close(&L);

    /* A directory owned by another uid: refused. */
    if (sgt_other_uid_ok()) {
        snprintf(sub, sizeof sub, "%s/foreign", dir);
        assert_int_equal(mkdir(sub, 01777), 0);
        assert_int_equal(chmod(sub, 01777), 0);
        assert_int_equal(chown(sub, 65534, 65534), 0);
        err[0] = '\0';
        assert_int_equal(sg_ledger_open_own(&L, sub, sg_ipcns_ino(), &c, err, sizeof err), -1);
        assert_non_null(strstr(err, "owned by"));
    }
}

/* A symlink as the ledger directory: refused, with a message that says
 * so, and nothing is created in its target. */
static void test_open_dir_symlink(void **state)
{
    const char *dir = *state;
    char sub[PATH_MAX], link_[PATH_MAX], err[PATH_MAX + 256];
    struct sg_caps c = small_caps();
    struct sg_ledger L;
    snprintf(sub, sizeof sub, "%s/real", dir);
    snprintf(link_, sizeof link_, "%s/link", dir);
    assert_int_equal(mkdir(sub, 01777), 0);
    assert_int_equal(chmod(sub, 01777), 0);
    assert_int_equal(symlink(sub, link_), 0);
    err[0] = '\0';
    assert_int_equal(sg_ledger_open_own(&L, link_, sg_ipcns_ino(), &c, err, sizeof err), -1);
    char name0[PATH_MAX];
    ledger_name_in(name0, sizeof name0, sub, 0);
    assert_int_equal(access(name0, F_OK), -1);
    if (!strstr(err, link_) || !strstr(err, "symbolic link"))
        fail_msg("refused, but the message does not say the directory is a symbolic link: "
                 "\"%s\"", err);
}

/* The library's way in (sg_ledger_open_own_mem: a first call's, which
 * tries the file by its path before the general way): it makes the file
 * whole (every page allocated, so that no read or store of the mapping
 * can meet a hole and SIGBUS on a full tmpfs), opens it again, and gives
 * way to the general checks for everything they refuse or repair: a
 * symlinked directory around a sound ledger of ours, a directory that
 * others may write without the sticky bit, a file that others may write,
 * a file with a second link. */
static void test_open_mem(void **state)
{
    const char *dir = *state;
    char sub[PATH_MAX], link_[PATH_MAX], name0[PATH_MAX], name1[PATH_MAX], extra[PATH_MAX];
    char err[PATH_MAX + 256];
    struct sg_ledger L;
    struct stat st;
    uint64_t ns = sg_ipcns_ino();
    snprintf(sub, sizeof sub, "%s/real", dir);
    snprintf(link_, sizeof link_, "%s/link", dir);
    path_in(extra, sizeof extra, sub, "second-link");
    assert_int_equal(mkdir(sub, 01777), 0);
    assert_int_equal(chmod(sub, 01777), 0);
    ledger_name_in(name0, sizeof name0, sub, 0);
    ledger_name_in(name1, sizeof name1, sub, 1);

    /* Made whole, then found again (the path taken by every process but
     * the first), with the same tables. */
    if (sg_ledger_open_own_mem(&L, sub, ns, err, sizeof err) != 0)
        fail_msg("first open: %s", err);
    size_t seg_off = (size_t)((unsigned char *)L.seg - L.base), att_off = (size_t)((unsigned char *)L.att - L.base);
    sg_ledger_close(&L);
    assert_int_equal(stat(name0, &st), 0);
    if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size)
        fail_msg("ledger not allocated whole: %jd of %jd bytes", (intmax_t)st.st_blocks * 512,
                 (intmax_t)st.st_size);
    if (sg_ledger_open_own_mem(&L, sub, ns, err, sizeof err) != 0)
        fail_msg("second open: %s", err);
    assert_string_equal(L.path, name0);
    assert_int_equal(L.fd, -1); /* pages need no descriptor */
    assert_int_equal((size_t)((unsigned char *)L.seg - L.base), seg_off);
    assert_int_equal((size_t)((unsigned char *)L.att - L.base), att_off);
    sg_ledger_close(&L);

    /* Through a symlink to that directory: refused as the general way
     * refuses it, though the file behind is sound and ours. */
    assert_int_equal(symlink(sub, link_), 0);
    err[0] = '\0';
    assert_int_equal(sg_ledger_open_own_mem(&L, link_, ns, err, sizeof err), -1);
    assert_non_null(strstr(err, "symbolic link"));

    /* A directory that others may write, without the sticky bit. */
    assert_int_equal(chmod(sub, 0777), 0);
    err[0] = '\0';
    assert_int_equal(sg_ledger_open_own_mem(&L, sub, ns, err, sizeof err), -1);
    assert_non_null(strstr(err, "writable by others"));
    assert_int_equal(chmod(sub, 01777), 0);

    /* A file that others may write: opened, and its mode repaired. */
    assert_int_equal(chmod(name0, 0666), 0);
    if (sg_ledger_open_own_mem(&L, sub, ns, err, sizeof err) != 0)
        fail_msg("open of a group/world-writable ledger: %s", err);
    assert_string_equal(L.path, name0);
    sg_ledger_close(&L);
    assert_int_equal(stat(name0, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* A second link to the file: it is not used; the next name is. */
    assert_int_equal(link(name0, extra), 0);
    if (sg_ledger_open_own_mem(&L, sub, ns, err, sizeof err) != 0)
        fail_msg("open beside a doubly linked ledger: %s", err);
    assert_string_equal(L.path, name1);
    sg_ledger_close(&L);
    unlink(extra);
    unlink(name1);
}

/* ---- the robust lock ---------------------------------------------------- */

/* Copy one live segment record forward on its probe path, as a holder
 * killed in the middle of a backward shift can leave it, and garble the
 * counters. */
static void damage(struct sg_ledger *L)
{
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++) {
        if (L->seg[i].state != SG_REC_LIVE)
            continue;
        uint32_t j = i;
        do
            j = (j + 1) & (L->hdr->seg_cap - 1);
        while (L->seg[j].state == SG_REC_LIVE);
        memcpy(&L->seg[j], &L->seg[i], sizeof L->seg[i]);
        break;
    }
    L->hdr->seg_live += 5;
    L->hdr->att_live = 1;
    L->hdr->pending = 0;
}

static void populate(struct sg_ledger *L)
{
    lock_or_fail(L);
    for (int k = 0; k < 20; k++) {
        put_key(&SEG, L, k, 500 + (uint64_t)k);
        put_key(&ATT, L, k, 500 + (uint64_t)k);
    }
    struct sg_seg *s = SEG.find(L, 4);
    s->flags |= SG_SEG_PENDING;
    assert_int_equal(sg_pend_add(L, s->kind, s->id), 0);
    assert_ledger_ok(L);
    sg_ledger_unlock(L);
}

static void assert_populated(struct sg_ledger *L)
{
    assert_ledger_ok(L);
    for (int k = 0; k < 20; k++) {
        struct sg_seg *s = SEG.find(L, k);
        assert_non_null(s);
        assert_int_equal(copies_of(&SEG, L, k), 1);
        assert_int_equal(s->size, 500 + (uint64_t)k);
        assert_key_once(&ATT, L, k, 500 + (uint64_t)k);
    }
    assert_int_equal(L->hdr->seg_live, 20);
    assert_int_equal(L->hdr->att_live, 20);
    assert_int_equal(L->hdr->pending, 1);
}

/* A holder killed with SIGKILL: the next locker gets the lock at once,
 * counts one repair and finds consistent tables. */
static void test_lock_owner_dead(void **state)
{
    const char *dir = *state;
    struct sg_ledger L;
    open_small(&L, dir, sg_ipcns_ino());
    populate(&L);
    uint64_t repairs = L.hdr->repairs;

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(p[0]);
        struct sg_ledger C;
        struct sg_caps c = small_caps();
        char err[PATH_MAX + 256];
        if (sg_ledger_open_own(&C, dir, sg_ipcns_ino(), &c, err, sizeof err) != 0)
            write_byte(p[1], 'O');
        else if (sg_ledger_lock(&C) != 0)
            write_byte(p[1], 'L');
        else {
            damage(&C); /* killed mid-edit */
            write_byte(p[1], 'K');
        }
        for (;;)
            pause();
    }
    close(p[1]);
    int c = read_byte(p[0], 10000);
    if (c != 'K') {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        fail_msg("child did not take the lock (%c)", c);
    }
    /* While the holder lives, the lock is not given away: a bounded wait
     * (about 2 s) that fails. */
    uint64_t t0 = mono_ms();
    int rc = sg_ledger_lock(&L);
    uint64_t waited = mono_ms() - t0;
    if (rc == 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        fail_msg("got the lock while its holder was alive");
    }
    assert_true(waited >= 1000 && waited < 5000);
    assert_int_equal(L.hdr->repairs, repairs);

    assert_int_equal(kill(child, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(p[0]);

    t0 = mono_ms();
    rc = sg_ledger_lock(&L);
    waited = mono_ms() - t0;
    assert_int_equal(rc, 0);
    if (waited >= 1000)
        fail_msg("lock after the holder died took %llu ms", (unsigned long long)waited);
    assert_int_equal(L.hdr->repairs, repairs + 1);
    assert_populated(&L);
    sg_ledger_unlock(&L);
    assert_int_equal(L.hdr->generation & 1, 0);
    /* The lock is healthy again: no further repair. */
    lock_or_fail(&L);
    assert_int_equal(L.hdr->repairs, repairs + 1);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* 1 once process pid sleeps in a futex wait (blocked on the lock). */
static int blocked_in_futex(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || rp[2] != 'S')
        return 0;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1; /* cannot tell more: sleeping is all we can see */
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    long nr = strtol(buf, NULL, 10);
#ifdef SYS_futex_time64
    if (nr == SYS_futex_time64)
        return 1;
#endif
#ifdef SYS_futex
    if (nr == SYS_futex)
        return 1;
#endif
    return 0;
}

/* A process blocked in sg_ledger_lock gets the lock when the holder
 * unlocks, and sees what the holder wrote. */
static void test_lock_waiter(void **state)
{
    const char *dir = *state;
    struct sg_ledger L;
    open_small(&L, dir, sg_ipcns_ino());
    lock_or_fail(&L);
    uint64_t repairs = L.hdr->repairs;

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(p[0]);
        struct sg_ledger C;
        struct sg_caps c = small_caps();
        char err[PATH_MAX + 256];
        if (sg_ledger_open_own(&C, dir, sg_ipcns_ino(), &c, err, sizeof err) != 0) {
            write_byte(p[1], 'O');
            _exit(1);
        }
        write_byte(p[1], 'R');
        int rc = sg_ledger_lock(&C);
        write_byte(p[1], rc == 0 ? 'G' : 'F');
        if (rc != 0)
            _exit(1);
        write_byte(p[1], SEG.find(&C, 9) ? 'Y' : 'N');
        sg_ledger_unlock(&C);
        _exit(0);
    }
    close(p[1]);
    int c = read_byte(p[0], 10000);
    if (c != 'R') {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        fail_msg("child could not open the ledger (%c)", c);
    }
    /* Wait (bounded) until the child sleeps in the lock. */
    uint64_t t0 = mono_ms();
    while (!blocked_in_futex(child) && mono_ms() - t0 < 1000)
        sched_yield();
    int blocked = blocked_in_futex(child);
    /* It has not got the lock. */
    struct pollfd pf = { p[0], POLLIN, 0 };
    int early = poll(&pf, 1, 0);
    put_key(&SEG, &L, 9, 99); /* written under the lock */
    sg_ledger_unlock(&L);
    t0 = mono_ms();
    c = read_byte(p[0], 1500);
    uint64_t waited = mono_ms() - t0;
    int found = read_byte(p[0], 1000);
    int st = 0;
    if (c != 'G')
        kill(child, SIGKILL);
    waitpid(child, &st, 0);
    close(p[0]);
    if (!blocked)
        fail_msg("the child never blocked in sg_ledger_lock");
    assert_int_equal(early, 0);
    if (c != 'G')
        fail_msg("waiter did not get the lock after unlock (%c)", c);
    assert_true(waited < 1000);
    assert_int_equal(found, 'Y');
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(L.hdr->repairs, repairs);
    lock_or_fail(&L);
    assert_key_once(&SEG, &L, 9, 99);
    assert_ledger_ok(&L);
    sg_ledger_unlock(&L);
    sg_ledger_close(&L);
}

/* ---- sg_ledger_load ----------------------------------------------------- */

static void test_load(void **state)
{
    const char *dir = *state;
    struct sg_ledger L, P;
    char err[PATH_MAX + 256];
    uint64_t ns = sg_ipcns_ino();
    open_small(&L, dir, ns);
    populate(&L);
    lock_or_fail(&L);
    assert_int_equal(sg_intent_set(&L, getpid(), sg_proc_start_time(getpid()), 77), 0);
    sg_ledger_unlock(&L);

    if (sg_ledger_load(&P, L.path, ns, err, sizeof err) != 0)
        fail_msg("load: %s", err);
    assert_false(P.mapped);
    assert_int_equal(P.fd, -1);
    assert_int_equal(P.owner, geteuid());
    assert_int_equal(P.len, L.len);
    assert_true(P.base != L.base);
    assert_memory_equal(P.base, L.base, L.len);
    assert_int_equal(P.hdr->seg_live, L.hdr->seg_live);
    assert_int_equal(P.hdr->att_live, L.hdr->att_live);
    assert_int_equal(P.hdr->pending, 1);
    assert_int_equal(P.hdr->intents, 1);
    assert_populated(&P);
    for (uint32_t i = 0; i < L.hdr->seg_cap; i++) {
        if (L.seg[i].state != SG_REC_LIVE)
            continue;
        struct sg_seg *s = sg_seg_find(&P, L.seg[i].kind, L.seg[i].id);
        assert_non_null(s);
        assert_memory_equal(s, &L.seg[i], sizeof *s);
    }
    for (uint32_t i = 0; i < L.hdr->att_cap; i++) {
        if (L.att[i].state != SG_REC_LIVE)
            continue;
        struct sg_att *a = sg_att_find(&P, L.att[i].pid, L.att[i].addr);
        assert_non_null(a);
        assert_memory_equal(a, &L.att[i], sizeof *a);
    }
    /* A copy: later changes to the file do not show in it. */
    lock_or_fail(&L);
    put_key(&SEG, &L, 40, 1);
    sg_ledger_unlock(&L);
    assert_null(SEG.find(&P, 40));
    sg_ledger_close(&P);
    assert_null(P.base);

    /* Mid-update (lock held): refused rather than read torn. */
    lock_or_fail(&L);
    assert_int_equal(sg_ledger_load(&P, L.path, ns, err, sizeof err), -1);
    assert_non_null(strstr(err, "changing"));
    sg_ledger_unlock(&L);
    if (sg_ledger_load(&P, L.path, ns, err, sizeof err) != 0)
        fail_msg("load after unlock: %s", err);
    assert_non_null(SEG.find(&P, 40));
    sg_ledger_close(&P);

    /* Wrong namespace, symlink, FIFO, missing file, bad image. */
    assert_int_equal(sg_ledger_load(&P, L.path, ns + 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "namespace"));
    assert_non_null(strstr(err, L.path));
    char sl[PATH_MAX], fifo[PATH_MAX], junk[PATH_MAX];
    path_in(sl, sizeof sl, dir, "symlink.ledger");
    assert_int_equal(symlink(L.path, sl), 0);
    assert_int_equal(sg_ledger_load(&P, sl, ns, err, sizeof err), -1);
    path_in(fifo, sizeof fifo, dir, "fifo.ledger");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(sg_ledger_load(&P, fifo, ns, err, sizeof err), -1);
    assert_non_null(strstr(err, "regular"));
    path_in(junk, sizeof junk, dir, "missing.ledger");
    assert_int_equal(sg_ledger_load(&P, junk, ns, err, sizeof err), -1);
    path_in(junk, sizeof junk, dir, "junk.ledger");
    write_file(junk, "0123456789", 10, 0644);
    assert_int_equal(sg_ledger_load(&P, junk, ns, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_null(P.base);
    sg_ledger_close(&L);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
    const struct CMUnitTest tests[] = {
        T(test_table_churn),
        T(test_table_full),
        T(test_repair_chains),
        T(test_repair_fuzz),
        T(test_repair_counters_pending),
        T(test_intents),
        T(test_pending_index),
        T(test_check_image),
        cmocka_unit_test(test_names),
        T(test_size_stable),
        T(test_open_new),
        T(test_open_symlink),
        T(test_open_foreign),
        T(test_open_unfinished),
        T(test_open_unusable),
        T(test_open_planted_dir),
        T(test_open_dir),
        T(test_open_dir_symlink),
        T(test_open_mem),
        T(test_att_table),
        T(test_att_repair),
        T(test_att_concurrent),
        T(test_lock_owner_dead),
        T(test_lock_waiter),
        T(test_load),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
