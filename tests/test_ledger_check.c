/*
 * test_ledger_check.c - `shmguard ledger --check [--repair]` on ledgers
 * broken the ways a crash or a stray write breaks them.
 *
 * Each test writes records into a fresh ledger through the library's own
 * functions, then breaks one thing by hand (a header counter, a second
 * copy of a record, a pending flag missing from the index, an attachment
 * slot claimed by a dead process, a lock holder SIGKILLed mid-edit).  The
 * tool must say exactly that and exit 1; --repair must put it right (exit
 * 0, "consistent now"), and a second --check must find nothing, with every
 * record still where a look-up finds it.
 */
#include "sgtest.h"

#include <sys/wait.h>

#include "sg_proc.h"

static struct sgt_result res;
static char dir[PATH_MAX];
static struct sg_ledger L;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    char err[8192];
    if (sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    if (sg_ledger_lock(&L) != 0)
        return -1;
    for (int i = 0; i < 5; i++) {
        struct sg_seg r = { .kind = SG_KIND_SHM, .id = 100 + i, .key = 0x7e570000 + i,
                            .flags = SG_SEG_CREATOR, .cr_pid = getpid() };
        if (!sg_seg_put(&L, &r))
            return -1;
    }
    sg_ledger_unlock(&L);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sg_ledger_close(&L);
    sgt_rmdir(dir);
    return 0;
}

static void check(int want, const char *a1, ...)
{
    va_list ap;
    va_start(ap, a1);
    sgt_tool_v(&res, "ledger", dir, a1, ap);
    va_end(ap);
    if (!sgt_exited(&res, want))
        fail_msg("shmguard ledger: status %d, wanted exit %d\nstdout:\n%s\nstderr:\n%s", res.status,
                 want, res.out, res.err);
}

/* Broken, then repaired, then clean; the five records still found. */
static void broken_then_repaired(const char *says)
{
    check(1, "--check", NULL);
    ASSERT_HAS(res.out, says);
    check(0, "--check", "--repair", NULL);
    ASSERT_HAS(res.out, "consistent now");
    check(0, "--check", NULL);
    ASSERT_HAS(res.out, ": consistent");
    for (int i = 0; i < 5; i++)
        assert_non_null(sg_seg_find(&L, SG_KIND_SHM, 100 + i));
}

static void test_clean(void **state)
{
    (void)state;
    check(0, "--check", NULL);
    ASSERT_HAS(res.out, ": consistent");
    check(1, "--repair", NULL); /* --repair alone is a usage error */
    ASSERT_HAS(res.err, "--repair goes with --check");
}

static void test_counter(void **state)
{
    (void)state;
    L.hdr->seg_live += 7;
    broken_then_repaired("header counter seg_live is 12, the records count 5");
}

/* att_live is a hint kept without the lock: off, it is noted (not an
 * inconsistency) and --repair recounts it. */
static void test_att_drift(void **state)
{
    (void)state;
    L.hdr->att_live += 2;
    check(0, "--check", NULL);
    ASSERT_HAS(res.out, ": consistent (the attachment count is off by +2");
    check(0, "--check", "--repair", NULL);
    ASSERT_HAS(res.out, "repaired 1 problem; consistent now");
    assert_int_equal(L.hdr->att_live, 0);
    check(0, "--check", NULL);
    ASSERT_LACKS(res.out, "off by");
}

static void test_second_copy(void **state)
{
    (void)state;
    struct sg_seg *r = sg_seg_find(&L, SG_KIND_SHM, 102);
    assert_non_null(r);
    uint32_t i = (uint32_t)(r - L.seg), cap = L.hdr->seg_cap;
    uint32_t j = (i + cap / 2) & (cap - 1); /* far from its probe chain */
    assert_int_equal(L.seg[j].state, SG_REC_EMPTY);
    L.seg[j] = *r;
    L.hdr->seg_live++;
    broken_then_repaired("(id 102) is a second copy");
    int copies = 0;
    for (uint32_t k = 0; k < cap; k++)
        copies += L.seg[k].state == SG_REC_LIVE && L.seg[k].id == 102;
    assert_int_equal(copies, 1);
}

/* Records out of range in the large tables (a state no code writes, a
 * negative id, an unknown kind): the library keeps using the file (they
 * read as free slots), the tool refuses its copy and says which record,
 * --repair clears them. */
static void test_bad_records(void **state)
{
    (void)state;
    uint32_t cap = L.hdr->seg_cap, k = 0;
    uint32_t bad[3];
    for (uint32_t j = cap / 3; k < 3; j++)
        if (L.seg[j].state == SG_REC_EMPTY)
            bad[k++] = j;
    L.seg[bad[0]].state = 7;
    L.seg[bad[1]] = (struct sg_seg){ .state = SG_REC_LIVE, .kind = SG_KIND_SHM, .id = -5 };
    L.seg[bad[2]] = (struct sg_seg){ .state = SG_REC_LIVE, .kind = 9, .id = 5 };
    L.att[L.hdr->att_cap / 2].state = 5;
    char err[8192];
    struct sg_ledger again;
    assert_int_equal(sg_ledger_open_own(&again, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    sg_ledger_close(&again);
    check(1, "--check", NULL);
    ASSERT_HAS(res.out, "corrupt segment record");
    check(0, "--check", "--repair", NULL);
    ASSERT_HAS(res.out, "repaired 4 problems; consistent now");
    check(0, "--check", NULL);
    ASSERT_HAS(res.out, ": consistent");
    for (int i = 0; i < 3; i++)
        assert_int_equal(L.seg[bad[i]].state, SG_REC_EMPTY);
    assert_int_equal(L.att[L.hdr->att_cap / 2].state, SG_REC_EMPTY);
    for (int i = 0; i < 5; i++)
        assert_non_null(sg_seg_find(&L, SG_KIND_SHM, 100 + i));
}

/* A bad event record: the library opens the ledger all the same (it only
 * writes the ring, by its total modulo its size), the tool refuses to
 * read it and says why. */
static void test_bad_event(void **state)
{
    (void)state;
    L.ev[5].state = 9;
    char err[8192];
    struct sg_ledger again;
    assert_int_equal(sg_ledger_open_own(&again, dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    sg_ledger_close(&again);
    check(1, "--check", NULL);
    ASSERT_HAS(res.out, "corrupt event record 5");
    L.ev[5].state = SG_REC_EMPTY;
}

static void test_pending_not_indexed(void **state)
{
    (void)state;
    struct sg_seg *r = sg_seg_find(&L, SG_KIND_SHM, 103);
    r->flags |= SG_SEG_PENDING;
    L.hdr->pending++;
    broken_then_repaired("the removal of 103 is pending but not in the pending index");
    int listed = 0;
    for (uint32_t p = 0; p < L.hdr->pend_cap; p++)
        listed += L.pend[p].id == 103;
    assert_int_equal(listed, 1);
}

static void test_dead_claim(void **state)
{
    (void)state;
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    L.att[3].state = SG_REC_CLAIM | (uint32_t)dead;
    char says[64];
    snprintf(says, sizeof says, "claimed by pid %d, which is dead", (int)dead);
    broken_then_repaired(says);
    assert_int_equal(L.att[3].state, SG_REC_EMPTY);
}

/* A lock holder killed mid-edit: its generation stays odd, but with the
 * holder dead the copy is read as it was left (not "kept changing"):
 * --check reads it and notes the dead holder; --repair recovers the lock
 * and closes the generation. */
static void test_holder_killed(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t c = fork();
    if (c == 0) {
        if (sg_ledger_lock(&L) != 0)
            _exit(1);
        struct sg_seg r = { .kind = SG_KIND_SHM, .id = 200, .key = 0x7e570200 };
        sg_seg_put(&L, &r);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char x;
    assert_int_equal(read(p[0], &x, 1), 1);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    close(p[0]);
    close(p[1]);
    check(0, "--check", NULL);
    ASSERT_HAS(res.out, "its lock's holder died");
    assert_int_equal(L.hdr->generation & 1, 1);
    check(0, "--check", "--repair", NULL);
    ASSERT_HAS(res.out, "consistent now");
    check(0, "--check", NULL);
    assert_non_null(sg_seg_find(&L, SG_KIND_SHM, 200));
    assert_int_equal(L.hdr->generation & 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_att_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_not_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_holder_killed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
