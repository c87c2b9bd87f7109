/*
 * test_capacity.c - a ledger table that fills up: the host is unaffected,
 * the library says so once, and the tool says what it cannot see.
 *
 * The attachment table keeps 1/8 of its 65,536 slots free, so one process
 * attaching a segment 60,000 times (vm.max_map_count allows 65,530 maps)
 * leaves 2,656 attachments unrecorded.  Every attach and detach must still
 * succeed as bare; an IPC_RMID from another process while they are held is
 * still deferred (the kernel's nattch decides, not the records) and the key
 * stays resolvable; the removal completes once every holder is gone;
 * the library's log has exactly one "is full" line; ls, gc, doctor (text
 * and JSON), ledger and ledger --check all report the records not stored,
 * and --check still finds the ledger consistent.
 */
#include "step.h"

#include "sg_layout.h"

#include <inttypes.h>

#define MANY 60000
#define KEY 0x5eedca90

static char dir[PATH_MAX], log_path[PATH_MAX + 32];
static struct sgt_result res;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    snprintf(log_path, sizeof log_path, "%s.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sgt_clear_ipc();
    sgt_rmdir(dir);
    unlink(log_path);
    return 0;
}

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = 0;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void tool(const char *sub, const char *a1, const char *a2)
{
    char dirarg[PATH_MAX + 16];
    snprintf(dirarg, sizeof dirarg, "--dir=%s", dir);
    char *argv[] = { (char *)SGT_TOOL, (char *)sub, dirarg, (char *)a1, (char *)a2, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
}

static void test_attachment_table_full(void **state)
{
    (void)state;
    if (max_map_count() < MANY + 1000)
        skip();
    char preload[PATH_MAX + 32], ledger[PATH_MAX + 32], log[PATH_MAX + 48];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(log, sizeof log, "SHMGUARD_LOG=%s", log_path);
    char *env[] = { preload, ledger, log, "SHMGUARD_MODE=defer", NULL };

    struct step a, b;
    step_start(&a, env);
    int id = step_id(step(&a, "get %#x create", KEY));
    assert_true(id >= 0);
    char want[64];
    snprintf(want, sizeof want, "attached %d", MANY);
    assert_string_equal(step(&a, "atn %d %d", id, MANY), want);
    struct shmid_ds ds;
    assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
    assert_int_equal(ds.shm_nattch, MANY);

    /* The table stopped at 7/8 of its slots; the rest were counted. */
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    uint32_t cap = L.hdr->att_cap;
    int recorded = sgt_count_att(&L, a.pid, id);
    uint64_t dropped = L.hdr->dropped;
    sg_ledger_close(&L);
    assert_int_equal(recorded, cap - cap / 8);
    assert_int_equal(dropped, MANY - recorded);

    /* Another process removes it: deferred, the key still resolves. */
    step_start(&b, env);
    assert_int_equal(step_id(step(&b, "get %#x", KEY)), id);
    assert_string_equal(step(&b, "rmid %d", id), "ok");
    assert_int_equal(step_id(step(&b, "get %#x create", KEY)), id);
    assert_true(sgt_shm_exists(id));

    /* What the tool cannot see, it says. */
    char note[64];
    snprintf(note, sizeof note, "%" PRIu64 " records could not be stored", dropped);
    tool("ls", NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.err, note);
    tool("gc", "--dry-run", NULL);
    ASSERT_HAS(res.err, note);
    ASSERT_LACKS(res.out, "would remove shmid");
    tool("doctor", NULL, NULL);
    ASSERT_HAS(res.out, note);
    tool("doctor", "--json", NULL);
    char js[64];
    snprintf(js, sizeof js, "\"dropped\": %" PRIu64, dropped);
    ASSERT_HAS(res.out, js);
    tool("ledger", NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, note);
    tool("ledger", "--check", NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, ": consistent");
    ASSERT_HAS(res.out, note);

    /* Every detach succeeds.  b's look-up after its removal holds the
     * segment for b (an intent) until b is gone or the intent expires
     * (which a slow run, under ASan, can reach here); then the next
     * process's first call completes the removal and the key is free. */
    snprintf(want, sizeof want, "detached %d", MANY);
    assert_string_equal(step(&a, "dtn"), want);
    assert_int_equal(step_end(&a, "exit"), 0);
    assert_int_equal(step_end(&b, "exit"), 0);
    struct step c;
    step_start(&c, env);
    assert_string_equal(step(&c, "get %#x", KEY), "err 2");
    assert_false(sgt_shm_exists(id));
    assert_int_equal(step_end(&c, "exit"), 0);

    /* Said once, by the process whose records did not fit. */
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_int_equal(count(buf, "is full (its attachment table)"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attachment_table_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
