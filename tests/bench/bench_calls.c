/*
 * bench_calls.c - the hot-path cost of libshmguard, as ratios to the bare
 * libc calls measured in the same run.
 *
 * The library is dlopen()ed and its hooks are called beside libc's own
 * functions, interleaved block by block (A, B, A, B, ...), so both see the
 * same machine state; each repetition gives one ratio, and the median of
 * the repetitions is reported with its spread (min..max).
 *
 * usage: bench_calls LIBSHMGUARD.so [REPS [ONLY]]   (run in a private
 * namespace; ONLY: measure only the lines whose name contains it)
 */
#include "bench_util.h"

#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>

typedef struct bench_api api_t;

struct seg {
    key_t key;
    int id;
    size_t size;
};

static double op_attach_pair(const api_t *a, int n, void *arg)
{
    struct seg *s = arg;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        void *p = a->at(s->id, NULL, 0);
        a->dt(p);
    }
    return (bench_now_ns() - t0) / n;
}

static double op_get_existing(const api_t *a, int n, void *arg)
{
    struct seg *s = arg;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if (a->get(s->key, s->size, 0600) < 0)
            abort();
    return (bench_now_ns() - t0) / n;
}

static double op_ipc_stat(const api_t *a, int n, void *arg)
{
    struct seg *s = arg;
    struct shmid_ds ds;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        a->ctl(s->id, IPC_STAT, &ds);
    return (bench_now_ns() - t0) / n;
}

/* IPC_RMID of an attached keyed segment (deferred under the library;
 * SHM_DEST bare), and then the shmdt that completes it: each timed on its
 * own, the setup (shmget, shmat) outside the clock. */
static double rmid_or_dt(const api_t *a, int n, int which)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        int id = a->get(0x5eedbe00, 4096, IPC_CREAT | 0600);
        void *p = a->at(id, NULL, 0);
        double t0 = bench_now_ns();
        a->ctl(id, IPC_RMID, NULL);
        double t1 = bench_now_ns();
        a->dt(p);
        double t2 = bench_now_ns();
        total += which ? t2 - t1 : t1 - t0;
    }
    return total / n;
}
static double op_rmid(const api_t *a, int n, void *arg)
{
    (void)arg;
    return rmid_or_dt(a, n, 0);
}
static double op_dt_pending(const api_t *a, int n, void *arg)
{
    (void)arg;
    return rmid_or_dt(a, n, 1);
}

/* One message sent and received again on a queue only this process uses:
 * after its first use, the library's whole cost is a lock-free look at
 * the process's short list of queues on each call. */
static double op_msg_pair(const api_t *a, int n, void *arg)
{
    int q = *(int *)arg;
    struct {
        long type;
        char text[8];
    } m = { 1, "bench" };
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if (a->snd(q, &m, sizeof m.text, 0) != 0 || a->rcv(q, &m, sizeof m.text, 0, 0) < 0)
            abort();
    }
    return (bench_now_ns() - t0) / n;
}

static const char *only;

static void measure(const char *name, bench_op_fn op, void *arg, int n, int reps, const api_t *bare,
                    const api_t *lib, double target)
{
    if (only && !strstr(name, only))
        return;
    struct bench_ratio r = bench_ab(op, arg, n, reps, bare, lib);
    char base[32];
    snprintf(base, sizeof base, "bare %.0f ns", r.bare_ns);
    bench_line(name, base, r.med, r.lo, r.hi, target);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBSHMGUARD.so [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 31;
    only = argc > 3 ? argv[3] : NULL;
    api_t bare, lib;
    bench_apis(argv[1], &bare, &lib);
    bench_pin();
    struct seg small = { 0x5eedb001, -1, 4096 }, big = { 0x5eedb002, -1, 64u << 20 };
    small.id = lib.get(small.key, small.size, IPC_CREAT | 0600);
    big.id = lib.get(big.key, big.size, IPC_CREAT | 0600);
    if (small.id < 0 || big.id < 0) {
        perror("shmget");
        return 1;
    }
    measure("shmat+shmdt pair, 4 KiB", op_attach_pair, &small, 4000, reps, &bare, &lib, 1.05);
    measure("shmat+shmdt pair, 64 MiB", op_attach_pair, &big, 4000, reps, &bare, &lib, 1.05);
    measure("shmget of an existing key", op_get_existing, &small, 20000, reps, &bare, &lib, 1.15);
    measure("shmctl(IPC_STAT)", op_ipc_stat, &small, 20000, reps, &bare, &lib, 1.10);
    int q = msgget(IPC_PRIVATE, 0600);
    if (q < 0) {
        perror("msgget");
        return 1;
    }
    measure("msgsnd+msgrcv", op_msg_pair, &q, 20000, reps, &bare, &lib, 1.05);
    msgctl(q, IPC_RMID, NULL);
    measure("IPC_RMID while attached (deferred)", op_rmid, NULL, 1000, reps, &bare, &lib, 0);
    measure("shmdt with the removal pending", op_dt_pending, NULL, 1000, reps, &bare, &lib, 0);
    lib.ctl(small.id, IPC_RMID, NULL);
    lib.ctl(big.id, IPC_RMID, NULL);
    return 0;
}
