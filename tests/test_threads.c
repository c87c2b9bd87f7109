/*
 * test_threads.c - the library's logic under threads, linked directly so
 * that sanitizers (TSan in `make tsan`) see all of it: 8 threads doing
 * 10,000 attach/detach pairs each on one segment while others look the key
 * up; afterwards nattch is 0, no attachment of this process is left in the
 * ledger, and the counters agree with the records.
 */
#include "sgtest.h"

#include <pthread.h>
#include <stdatomic.h>

#include "sg_core.h"
#include "sg_init.h"

#define THREADS 8
#define PAIRS 10000

static int seg_id;
static atomic_int failures;

static void *worker(void *arg)
{
    long me = (long)arg;
    for (int i = 0; i < PAIRS; i++) {
        void *p = sg_shmat(seg_id, NULL, 0);
        if (p == (void *)-1) {
            atomic_fetch_add(&failures, 1);
            continue;
        }
        ((volatile char *)p)[me] = (char)i;
        if (sg_shmdt(p) != 0)
            atomic_fetch_add(&failures, 1);
        if (i % 64 == 0 && sg_shmget(0x5eed7777, 4096, 0600, NULL) != seg_id)
            atomic_fetch_add(&failures, 1);
    }
    return NULL;
}

static void test_threads_churn(void **state)
{
    (void)state;
    const char *dir = sgt_ledger_dir();
    setenv("SHMGUARD_LEDGER", dir, 1);
    sg_init();
    seg_id = sg_shmget(0x5eed7777, 4096, IPC_CREAT | 0600, NULL);
    assert_true(seg_id >= 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);

    struct shmid_ds ds;
    assert_int_equal(sg_shmctl(seg_id, IPC_STAT, &ds), 0);
    assert_int_equal(ds.shm_nattch, 0);
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    assert_int_equal(sgt_count_att(&L, getpid(), -1), 0);
    assert_int_equal(L.hdr->att_live, (uint32_t)sgt_count_att(&L, -1, -1));
    assert_int_equal(L.hdr->repairs, 0);
    assert_int_equal(L.hdr->dropped, 0);
    assert_false(L.hdr->generation & 1);
    sg_ledger_close(&L);
    assert_int_equal(sg_shmctl(seg_id, IPC_RMID, NULL), 0);
    assert_false(sgt_shm_exists(seg_id));
    sgt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_threads_churn) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
