/*
 * test_kipc.c - the kernel's tables read the two ways sg_kipc.c knows:
 * through *_STAT_ANY and from /proc/sysvipc.  For segments, sets and
 * queues made here, both ways give the same entries (a kind whose
 * *_STAT_ANY answers EINVAL everywhere, as a kernel before 4.17 does,
 * falls back to the production parser of the kind's /proc file); and a
 * planted file's lines, malformed ones among them, read as they say.
 */
#include "sgtest.h"

#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"

/* Every index unused, as before Linux 4.17. */
static int no_stat_any(int idx, void *ds)
{
    (void)idx;
    (void)ds;
    errno = EINVAL;
    return -1;
}

/* The fields both ways give (/proc has no byte limit of a queue, and
 * *_STAT_ANY no rss or swap of a segment). */
static int seg_same(const void *a, const void *b)
{
    const struct sg_kseg *x = a, *y = b;
    return x->key == y->key && x->id == y->id && x->mode == y->mode && x->size == y->size &&
           x->cpid == y->cpid && x->lpid == y->lpid && x->nattch == y->nattch &&
           x->uid == y->uid && x->gid == y->gid && x->cuid == y->cuid && x->cgid == y->cgid &&
           x->atime == y->atime && x->dtime == y->dtime && x->ctime == y->ctime;
}

static int sem_same(const void *a, const void *b)
{
    const struct sg_ksem *x = a, *y = b;
    return x->key == y->key && x->id == y->id && x->mode == y->mode && x->nsems == y->nsems &&
           x->uid == y->uid && x->gid == y->gid && x->cuid == y->cuid && x->cgid == y->cgid &&
           x->otime == y->otime && x->ctime == y->ctime;
}

static int msg_same(const void *a, const void *b)
{
    const struct sg_kmsg *x = a, *y = b;
    return x->key == y->key && x->id == y->id && x->mode == y->mode && x->uid == y->uid &&
           x->gid == y->gid && x->cuid == y->cuid && x->cgid == y->cgid &&
           x->cbytes == y->cbytes && x->qnum == y->qnum && x->lspid == y->lspid &&
           x->lrpid == y->lrpid && x->stime == y->stime && x->rtime == y->rtime &&
           x->ctime == y->ctime;
}

/* The table of kind k read both ways: through *_STAT_ANY, and through
 * /proc with *_STAT_ANY refused.  Their entries must agree in every field
 * both have; at least `want` of them. */
static void both_ways(const struct sg_kipc_kind *k, int (*same)(const void *, const void *),
                      size_t want)
{
    struct sg_kipc_kind old = *k;
    old.stat_any = no_stat_any;
    void *a, *b;
    size_t na, nb;
    assert_int_equal(sg_kipc_read(k, &a, &na), 0);
    assert_int_equal(sg_kipc_read(&old, &b, &nb), 0);
    assert_true(na >= want);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        const unsigned char *x = (const unsigned char *)a + i * k->size;
        const unsigned char *y = (const unsigned char *)b + i * k->size;
        if (!same(x, y))
            fail_msg("entry %zu differs between *_STAT_ANY and %s", i, k->proc);
        const struct sg_kipc_head *h = (const void *)x;
        assert_ptr_equal(sg_kipc_find(a, na, k->size, h->id), x);
    }
    free(a);
    free(b);
}

static void test_segments(void **state)
{
    (void)state;
    int id[3];
    for (int i = 0; i < 3; i++)
        assert_true((id[i] = shmget(0x5eed0c10 + i, 4096 * (i + 1), IPC_CREAT | 0640)) >= 0);
    void *p = shmat(id[1], NULL, 0);
    assert_true(p != (void *)-1);
    assert_int_equal(shmctl(id[2], IPC_RMID, NULL), 0); /* SHM_DEST in its mode */
    both_ways(&sg_kipc_shm, seg_same, 2);
    struct sg_ksnap s;
    assert_int_equal(sg_ksnap_read(&s), 0);
    const struct sg_kseg *e = sg_ksnap_find(&s, id[1]);
    assert_non_null(e);
    assert_int_equal(e->nattch, 1);
    assert_int_equal(e->size, 8192);
    assert_int_equal(e->mode & 0777, 0640);
    sg_ksnap_free(&s);
    shmdt(p);
    shmctl(id[0], IPC_RMID, NULL);
    shmctl(id[1], IPC_RMID, NULL);
}

static void test_sets(void **state)
{
    (void)state;
    int id[3];
    for (int i = 0; i < 3; i++)
        assert_true((id[i] = semget(0x5eed0c20 + i, i + 1, IPC_CREAT | 0604)) >= 0);
    struct sembuf op = { 0, 1, 0 };
    assert_int_equal(semop(id[2], &op, 1), 0);
    both_ways(&sg_kipc_sem, sem_same, 3);
    struct sg_ksem k;
    assert_int_equal(sg_ksem_stat(id[2], &k), 0);
    assert_int_equal(k.nsems, 3);
    assert_int_equal(k.mode, 0604);
    assert_true(k.otime > 0);
    for (int i = 0; i < 3; i++)
        semctl(id[i], 0, IPC_RMID);
    assert_int_equal(sg_ksem_stat(id[0], &k), -1);
}

static void test_queues(void **state)
{
    (void)state;
    int id[2];
    for (int i = 0; i < 2; i++)
        assert_true((id[i] = msgget(0x5eed0c30 + i, IPC_CREAT | 0620)) >= 0);
    struct { long type; char text[8]; } m = { 1, "abc" };
    assert_int_equal(msgsnd(id[1], &m, 4, 0), 0);
    both_ways(&sg_kipc_msg, msg_same, 2);
    struct sg_kmsg k;
    assert_int_equal(sg_kmsg_stat(id[1], &k), 0);
    assert_int_equal(k.qnum, 1);
    assert_int_equal(k.cbytes, 4);
    assert_int_equal(k.lspid, getpid());
    for (int i = 0; i < 2; i++)
        msgctl(id[i], IPC_RMID, NULL);
}

/* A planted /proc file: its lines, in any order, malformed or short ones
 * among them, read as they say; and with nothing in use, the file is not
 * read at all. */
static uint64_t fake_used;
static int fake_info(uint64_t *used)
{
    *used = fake_used;
    return 7;
}

static void test_proc_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/sg-kipc.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
                        "         7         65   600          2     0     0     0     0          0 1700000000\n"
                        "garbage\n"
                        "        -1          3  1644          1  1000  1000  1000  1000 1700000005 1700000001\n"
                        "         9          5   600\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct sg_kipc_kind k = sg_kipc_sem;
    k.info = fake_info;
    k.stat_any = no_stat_any;
    k.proc = path;
    fake_used = 2;
    struct sg_ksem *v;
    size_t n;
    assert_int_equal(sg_kipc_read(&k, (void **)&v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, 3); /* sorted by id */
    assert_int_equal(v[0].key, -1);
    assert_int_equal(v[0].mode, 0644);
    assert_int_equal(v[0].uid, 1000);
    assert_int_equal(v[0].otime, 1700000005);
    assert_int_equal(v[1].id, 65);
    assert_int_equal(v[1].nsems, 2);
    assert_int_equal(v[1].ctime, 1700000000);
    assert_null(sg_kipc_find(v, n, sizeof *v, 5));
    free(v);
    fake_used = 0; /* nothing in use: an empty table, the file unread */
    assert_int_equal(sg_kipc_read(&k, (void **)&v, &n), 0);
    assert_int_equal(n, 0);
    unlink(path);
    fake_used = 1; /* gone: an error */
    assert_int_equal(sg_kipc_read(&k, (void **)&v, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_sets),
        cmocka_unit_test(test_queues),
        cmocka_unit_test(test_proc_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
