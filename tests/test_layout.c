/*
 * test_layout.c - pins the ledger file format of core/sg_layout.h.
 *
 * Every process carrying the library in one namespace maps the same ledger
 * file, and the tool reads ledgers written by other builds, so the layout
 * is an interface: every field's offset and size, the struct sizes, the
 * constants stored in the file (magic, version, states, kinds, flags) and
 * the file size for given capacities are asserted here against the numbers
 * written in the header's comments.  An accidental change to any of them
 * fails this test; a deliberate one must bump SG_LEDGER_VERSION and update
 * the numbers here.  The last test checks that a freshly created ledger
 * carries those values at those byte offsets in the file itself.
 */
#include "sgtest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>

#include "sg_layout.h"
#include "sg_ledger.h"

struct field {
    const char *name;
    size_t off, size;           /* as compiled */
    char kind;                  /* 's' signed, 'u' unsigned integer, 'a' array */
    size_t want_off, want_size; /* as written in sg_layout.h */
    char want_kind;
};

/* Signedness of an integer field (it changes how every reader interprets
 * the bytes), or 'a' for a byte array. */
#define KIND(type, member)                                                                 \
    _Generic(((struct type *)0)->member, int32_t: 's', int64_t: 's', uint32_t: 'u',        \
             uint64_t: 'u', default: 'a')

#define F(type, member, woff, wsize, wkind)                                                \
    { #type "." #member, offsetof(struct type, member), sizeof(((struct type *)0)->member), \
      KIND(type, member), (woff), (wsize), (wkind) }

/* Check each field against its documented offset and size, and that the
 * fields tile the struct exactly (no hidden padding, nothing after the
 * last field). */
static void check_fields(const struct field *f, size_t n, size_t struct_size,
                         size_t want_struct_size)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].off != f[i].want_off || f[i].size != f[i].want_size)
            fail_msg("%s: offset %zu size %zu, layout says offset %zu size %zu", f[i].name,
                     f[i].off, f[i].size, f[i].want_off, f[i].want_size);
        if (f[i].kind != f[i].want_kind)
            fail_msg("%s: type kind '%c', layout says '%c' (s signed, u unsigned, a array)",
                     f[i].name, f[i].kind, f[i].want_kind);
    }
    for (size_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? f[i + 1].off : struct_size;
        if (f[i].off + f[i].size != end)
            fail_msg("%s: ends at %zu, next field starts at %zu (hidden padding)", f[i].name,
                     f[i].off + f[i].size, end);
    }
    assert_int_equal(f[0].off, 0);
    assert_int_equal(struct_size, want_struct_size);
}

static void test_hdr(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_hdr, magic, 0, 8, 'a'),
        F(sg_hdr, version, 8, 4, 'u'),
        F(sg_hdr, hdr_size, 12, 4, 'u'),
        F(sg_hdr, file_size, 16, 8, 'u'),
        F(sg_hdr, ipcns_ino, 24, 8, 'u'),
        F(sg_hdr, owner_uid, 32, 4, 'u'),
        F(sg_hdr, seg_cap, 36, 4, 'u'),
        F(sg_hdr, att_cap, 40, 4, 'u'),
        F(sg_hdr, intent_cap, 44, 4, 'u'),
        F(sg_hdr, seg_off, 48, 8, 'u'),
        F(sg_hdr, att_off, 56, 8, 'u'),
        F(sg_hdr, intent_off, 64, 8, 'u'),
        F(sg_hdr, created_ns, 72, 8, 'u'),
        F(sg_hdr, static_sum, 80, 4, 'u'),
        F(sg_hdr, ready, 84, 4, 'u'),
        F(sg_hdr, pend_off, 88, 8, 'u'),
        F(sg_hdr, pend_cap, 96, 4, 'u'),
        F(sg_hdr, ev_cap, 100, 4, 'u'),
        F(sg_hdr, ev_off, 104, 8, 'u'),
        F(sg_hdr, ev_total, 112, 4, 'u'),
        F(sg_hdr, pad0, 116, 12, 'a'),
        F(sg_hdr, lock, 128, 64, 'a'),
        F(sg_hdr, seg_live, 192, 4, 'u'),
        F(sg_hdr, att_live, 196, 4, 'u'),
        F(sg_hdr, pending, 200, 4, 'u'),
        F(sg_hdr, intents, 204, 4, 'u'),
        F(sg_hdr, generation, 208, 8, 'u'),
        F(sg_hdr, repairs, 216, 8, 'u'),
        F(sg_hdr, dropped, 224, 8, 'u'),
        F(sg_hdr, intent_overflow_until_ns, 232, 8, 'u'),
        F(sg_hdr, diag_refill_s, 240, 8, 'u'),
        F(sg_hdr, diag_tokens, 248, 4, 'u'),
        F(sg_hdr, diag_suppressed, 252, 4, 'u'),
        F(sg_hdr, user_off, 256, 8, 'u'),
        F(sg_hdr, user_cap, 264, 4, 'u'),
        F(sg_hdr, user_live, 268, 4, 'u'),
        F(sg_hdr, an_refill_s, 272, 8, 'u'),
        F(sg_hdr, an_tokens, 280, 4, 'u'),
        F(sg_hdr, pad1, 284, 4, 'u'),
        F(sg_hdr, pidns_off, 288, 8, 'u'),
        F(sg_hdr, pidns_cap, 296, 4, 'u'),
        F(sg_hdr, pad2, 300, 20, 'a'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_hdr), 320);
    /* The robust mutex lives in the 64 lock bytes, suitably aligned. */
    assert_true(sizeof(pthread_mutex_t) <= 64);
    assert_int_equal(offsetof(struct sg_hdr, lock) % alignof(pthread_mutex_t), 0);
}

static void test_seg(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_seg, state, 0, 4, 'u'),
        F(sg_seg, kind, 4, 4, 'u'),
        F(sg_seg, id, 8, 4, 's'),
        F(sg_seg, key, 12, 4, 's'),
        F(sg_seg, flags, 16, 4, 'u'),
        F(sg_seg, mode, 20, 4, 'u'),
        F(sg_seg, size, 24, 8, 'u'),
        F(sg_seg, kcpid, 32, 4, 's'),
        F(sg_seg, kcuid, 36, 4, 'u'),
        F(sg_seg, cr_pid, 40, 4, 's'),
        F(sg_seg, cr_uid, 44, 4, 'u'),
        F(sg_seg, cr_start, 48, 8, 'u'),
        F(sg_seg, cr_time_ns, 56, 8, 'u'),
        F(sg_seg, cr_comm, 64, 16, 'a'),
        F(sg_seg, cr_exe, 80, 128, 'a'),
        F(sg_seg, site_off, 208, 8, 'u'),
        F(sg_seg, site_obj, 216, 128, 'a'),
        F(sg_seg, site_sym, 344, 64, 'a'),
        F(sg_seg, rm_pid, 408, 4, 's'),
        F(sg_seg, rm_uid, 412, 4, 'u'),
        F(sg_seg, rm_start, 416, 8, 'u'),
        F(sg_seg, rm_time_ns, 424, 8, 'u'),
        F(sg_seg, nsems, 432, 4, 'u'),
        F(sg_seg, cr_pidns, 436, 4, 'u'),
        F(sg_seg, rm_pidns, 440, 4, 'u'),
        F(sg_seg, kc_pidns, 444, 4, 'u'),
        F(sg_seg, idle_ns, 448, 8, 'u'),
        F(sg_seg, pad, 456, 56, 'a'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_seg), 512);
}

static void test_att(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_att, state, 0, 4, 'u'),
        F(sg_att, shmid, 4, 4, 's'),
        F(sg_att, pid, 8, 4, 's'),
        F(sg_att, flags, 12, 4, 'u'),
        F(sg_att, start, 16, 8, 'u'),
        F(sg_att, addr, 24, 8, 'u'),
        F(sg_att, time_ns, 32, 8, 'u'),
        F(sg_att, pidns, 40, 4, 'u'),
        F(sg_att, pad, 44, 20, 'a'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_att), 64);
}

static void test_users(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_user, state, 0, 4, 'u'),
        F(sg_user, id, 4, 4, 's'),
        F(sg_user, pid, 8, 4, 's'),
        F(sg_user, flags, 12, 4, 'u'),
        F(sg_user, start, 16, 8, 'u'),
        F(sg_user, time_ns, 24, 8, 'u'),
        F(sg_user, pidns, 32, 4, 'u'),
        F(sg_user, kind, 36, 4, 'u'),
        F(sg_user, pad, 40, 8, 'a'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_user), 48);
}

static void test_intent(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_intent, state, 0, 4, 'u'),
        F(sg_intent, shmid, 4, 4, 's'),
        F(sg_intent, pid, 8, 4, 's'),
        F(sg_intent, pidns, 12, 4, 'u'),
        F(sg_intent, start, 16, 8, 'u'),
        F(sg_intent, time_ns, 24, 8, 'u'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_intent), 32);
}

static void test_pend(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_pend, id, 0, 4, 's'),
        F(sg_pend, kind, 4, 4, 'u'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_pend), 8);
}

static void test_event(void **state)
{
    (void)state;
    const struct field f[] = {
        F(sg_event, state, 0, 4, 'u'),
        F(sg_event, kind, 4, 4, 'u'),
        F(sg_event, err, 8, 4, 's'),
        F(sg_event, limit, 12, 4, 'u'),
        F(sg_event, pid, 16, 4, 's'),
        F(sg_event, uid, 20, 4, 'u'),
        F(sg_event, start, 24, 8, 'u'),
        F(sg_event, time_ns, 32, 8, 'u'),
        F(sg_event, key, 40, 4, 's'),
        F(sg_event, flags, 44, 4, 's'),
        F(sg_event, size, 48, 8, 'u'),
        F(sg_event, used, 56, 8, 'u'),
        F(sg_event, max, 64, 8, 'u'),
        F(sg_event, comm, 72, 16, 'a'),
        F(sg_event, site_off, 88, 8, 'u'),
        F(sg_event, site_obj, 96, 128, 'a'),
        F(sg_event, site_sym, 224, 32, 'a'),
    };
    check_fields(f, sizeof f / sizeof f[0], sizeof(struct sg_event), 256);
}

/* Constants whose values are stored in the file. */
static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(SG_LEDGER_VERSION, 10);
    assert_int_equal(SG_PIDNS_CAP, 64);
    assert_int_equal(SG_PIDNS_ANC, 5);
    assert_int_equal(SG_REC_CLAIM_NS, 0x7fc00000u);
    assert_int_equal(SG_REC_CLAIM, 0x80000000u);
    assert_int_equal(SG_REC_CLAIM_PID, 0x003fffffu);
    assert_int_equal(SG_EV_CAP, 64);
    assert_int_equal(SG_USER_CAP, 16384);
    assert_int_equal(SG_USE_LOOKUP, 0x1);
    assert_int_equal(SG_USE_INHERITED, 0x2);
    assert_int_equal(SG_USE_BYID, 0x4);
    assert_int_equal(SG_LIM_OTHER, 0);
    assert_int_equal(SG_LIM_SHMMNI, 1);
    assert_int_equal(SG_LIM_SHMALL, 2);
    assert_int_equal(SG_LIM_SHMMAX, 3);
    assert_int_equal(SG_LIM_SHMMIN, 4);
    assert_int_equal(SG_LIM_SMALLER, 5);
    assert_int_equal(SG_LIM_SEMMNI, 6);
    assert_int_equal(SG_LIM_SEMMNS, 7);
    assert_int_equal(SG_LIM_SEMMSL, 8);
    assert_int_equal(SG_LIM_MSGMNI, 9);
    assert_int_equal(sizeof SG_LEDGER_MAGIC - 1, 8);
    assert_memory_equal(SG_LEDGER_MAGIC, "SHMGLDGR", 8);
    assert_int_equal(SG_REC_EMPTY, 0);
    assert_int_equal(SG_REC_LIVE, 1);
    assert_int_equal(SG_KIND_SHM, 1);
    assert_int_equal(SG_KIND_SEM, 2);
    assert_int_equal(SG_KIND_MSG, 3);
    assert_int_equal(SG_SEG_PENDING, 0x1);
    assert_int_equal(SG_SEG_CREATOR, 0x2);
    assert_int_equal(SG_SEG_PRIVATE, 0x4);
    assert_int_equal(SG_ATT_INHERITED, 0x1);
    assert_int_equal(SG_ATT_RDONLY, 0x2);
    assert_int_equal(SG_COMM_LEN, 16);
    assert_int_equal(SG_PATH_LEN, 128);
    assert_int_equal(SG_SYM_LEN, 64);
}

static void test_file_size(void **state)
{
    (void)state;
    assert_int_equal(SG_SEG_CAP_DEFAULT, 65536);
    assert_int_equal(SG_ATT_CAP_DEFAULT, 65536);
    assert_int_equal(SG_INTENT_CAP_DEFAULT, 4096);
    assert_int_equal(SG_PEND_CAP_DEFAULT, 1024);
    /* 320 + 65536*512 + 65536*64 + 16384*48 (users of sets and queues) + 4096*32
     * + 1024*8 + 64*256 (events) + 64*32 (pid namespaces) */
    const uint64_t fixed = 320 + 16384 * 48 + 64 * 256 + 64 * 32;
    assert_int_equal(sg_layout_file_size(SG_SEG_CAP_DEFAULT, SG_ATT_CAP_DEFAULT,
                                         SG_INTENT_CAP_DEFAULT, SG_PEND_CAP_DEFAULT),
                     38693184ull);
    assert_int_equal(sg_layout_file_size(64, 64, 32, 16), 38016ull + fixed);
    assert_int_equal(sg_layout_file_size(0, 0, 0, 0), fixed);
    assert_int_equal(sg_layout_file_size(1, 0, 0, 0), 512 + fixed);
    assert_int_equal(sg_layout_file_size(0, 1, 0, 0), 64 + fixed);
    assert_int_equal(sg_layout_file_size(0, 0, 1, 0), 32 + fixed);
    assert_int_equal(sg_layout_file_size(0, 0, 0, 1), 8 + fixed);
    /* No 32-bit overflow at the largest capacities. */
    assert_int_equal(sg_layout_file_size(1u << 24, 1u << 24, 65536, 65536),
                     (1ull << 24) * 512 + (1ull << 24) * 64 + 65536ull * 32 + 65536ull * 8 +
                         fixed);
    struct sg_caps c = sg_caps_default();
    assert_int_equal(c.seg, SG_SEG_CAP_DEFAULT);
    assert_int_equal(c.att, SG_ATT_CAP_DEFAULT);
    assert_int_equal(c.intent, SG_INTENT_CAP_DEFAULT);
    assert_int_equal(c.pend, SG_PEND_CAP_DEFAULT);
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A ledger written by the code has the documented bytes at the documented
 * offsets: header fields, table offsets, file size. */
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

/* Ledger file names (formatted by hand, not by snprintf): what snprintf
 * would make, cut the same way in a short buffer. */
static void test_file_names(void **state)
{
    (void)state;
    const uint64_t nss[] = { 0, 7, 4026531839ull, UINT64_MAX };
    const unsigned uids[] = { 0, 33, 65534, UINT32_MAX };
    const size_t lens[] = { 1, 8, 20, 128 };
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (int alt = 0; alt < 4; alt++)
                for (size_t l = 0; l < 4; l++) {
                    char got[128], want[128];
                    memset(got, 'x', sizeof got);
                    sg_ledger_name(got, lens[l], nss[a], uids[b], alt);
                    if (alt)
                        snprintf(want, lens[l], "ipc-%" PRIu64 ".uid-%u.%d.ledger", nss[a], uids[b], alt);
                    else
                        snprintf(want, lens[l], "ipc-%" PRIu64 ".uid-%u.ledger", nss[a], uids[b]);
                    assert_string_equal(got, want);
                }
}

/* The ledger lock's kind word, which every open checks against a
 * constant: what this glibc makes of the lock's attributes, and what a
 * new ledger's lock holds. */
static void test_lock_kind(void **state)
{
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    assert_int_equal(pthread_mutex_init(&m, &a), 0);
    pthread_mutexattr_destroy(&a);
    assert_int_equal(m.__data.__kind, SG_LEDGER_LOCK_KIND);
    pthread_mutex_destroy(&m);

    struct sg_caps caps = { 64, 128, 32, 16 };
    struct sg_ledger L;
    char err[512];
    if (sg_ledger_open_own(&L, *state, sg_ipcns_ino(), &caps, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    pthread_mutex_t cur;
    memcpy(&cur, L.hdr->lock, sizeof cur);
    assert_int_equal(cur.__data.__kind, SG_LEDGER_LOCK_KIND);
    sg_ledger_close(&L);
}

static void test_file_bytes(void **state)
{
    const char *dir = *state;
    struct sg_caps caps = { 64, 128, 32, 16 };
    struct sg_ledger L;
    char err[512];
    uint64_t ns = sg_ipcns_ino();
    if (sg_ledger_open_own(&L, dir, ns, &caps, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    const unsigned char *b = L.base;
    uint64_t size = sg_layout_file_size(64, 128, 32, 16);
    assert_int_equal(L.len, size);
    struct stat st;
    assert_int_equal(stat(L.path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, size);

    assert_memory_equal(b, "SHMGLDGR", 8);
    assert_int_equal(rd32(b + 8), 10);                /* version */
    assert_int_equal(rd32(b + 12), 320);              /* hdr_size */
    assert_int_equal(rd64(b + 16), size);             /* file_size */
    assert_int_equal(rd64(b + 24), ns);               /* ipcns_ino */
    assert_int_equal(rd32(b + 32), geteuid());        /* owner_uid */
    assert_int_equal(rd32(b + 36), 64);               /* seg_cap */
    assert_int_equal(rd32(b + 40), 128);              /* att_cap */
    assert_int_equal(rd32(b + 44), 32);               /* intent_cap */
    /* The small tables first, the object and attachment tables last. */
    assert_int_equal(rd64(b + 288), 320);                                /* pidns_off */
    assert_int_equal(rd32(b + 296), 64);                                 /* pidns_cap */
    assert_int_equal(rd64(b + 104), 320 + 64 * 32);                      /* ev_off */
    assert_int_equal(rd32(b + 100), 64);                                 /* ev_cap */
    assert_int_equal(rd64(b + 88), rd64(b + 104) + 64 * 256);            /* pend_off */
    assert_int_equal(rd32(b + 96), 16);                                  /* pend_cap */
    assert_int_equal(rd64(b + 64), rd64(b + 88) + 16 * 8);               /* intent_off */
    assert_int_equal(rd64(b + 256), rd64(b + 64) + 32 * 32);             /* user_off */
    assert_int_equal(rd32(b + 264), 16384);                              /* user_cap */
    assert_int_equal(rd64(b + 48), rd64(b + 256) + 16384 * 48);          /* seg_off */
    assert_int_equal(rd64(b + 56), rd64(b + 48) + 64 * 512);             /* att_off */
    assert_int_equal(rd64(b + 56) + 128 * 64, size);  /* the attachments end the file */
    assert_true(rd64(b + 72) > 1500000000ull * 1000000000ull);           /* created_ns */
    assert_int_equal(rd32(b + 84), 1);                                   /* ready */
    assert_int_equal(rd32(b + 112), 0);                                  /* ev_total */
    for (size_t i = 116; i < 128; i++)
        assert_int_equal(b[i], 0);                                       /* pad0 */
    for (size_t i = 192; i < 256; i++)
        assert_int_equal(b[i], 0);          /* counters start at zero */
    for (size_t i = 268; i < 288; i++)
        assert_int_equal(b[i], 0);          /* user_live, an_*, pad1 */
    for (size_t i = 300; i < 320; i++)
        assert_int_equal(b[i], 0);          /* pad2 */
    /* The pending index starts empty (id -1). */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal((int32_t)rd32(b + rd64(b + 88) + i * 8), -1);
    /* The typed views point where the header says. */
    assert_ptr_equal((unsigned char *)L.seg, b + rd64(b + 48));
    assert_ptr_equal((unsigned char *)L.att, b + rd64(b + 56));
    assert_ptr_equal((unsigned char *)L.users, b + rd64(b + 256));
    assert_ptr_equal((unsigned char *)L.intent, b + rd64(b + 64));
    assert_ptr_equal((unsigned char *)L.pend, b + rd64(b + 88));
    assert_ptr_equal((unsigned char *)L.pidns, b + rd64(b + 288));
    assert_ptr_equal((unsigned char *)L.ev, b + rd64(b + 104));

    sg_ledger_close(&L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr),
        cmocka_unit_test(test_seg),
        cmocka_unit_test(test_att),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_intent),
        cmocka_unit_test(test_pend),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_file_size),
        cmocka_unit_test_setup_teardown(test_file_bytes, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_lock_kind, setup_dir, teardown_dir),
        cmocka_unit_test(test_file_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
