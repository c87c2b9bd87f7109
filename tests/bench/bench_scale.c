/*
 * bench_scale.c - does the hot path grow with the namespace?  The costs
 * of bench_calls (as ratios to the bare calls, same run) with 1, 100,
 * 4,096 and 32,000 segments recorded in the ledger, then with 1, 100 and
 * 1,000 other processes attached; and the ledger's size in memory at the
 * largest point.
 *
 * usage: bench_scale LIBSHMGUARD.so LEDGER_DIR [REPS]
 *   (in a private IPC namespace whose kernel.shmmni allows 32,000)
 */
#include "bench_util.h"

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct seg {
    key_t key;
    int id;
};

static double op_pair(const struct bench_api *a, int n, void *arg)
{
    const struct seg *s = arg;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        a->dt(a->at(s->id, NULL, 0));
    return (bench_now_ns() - t0) / n;
}

static double op_get(const struct bench_api *a, int n, void *arg)
{
    const struct seg *s = arg;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if (a->get(s->key, 4096, 0600) < 0)
            abort();
    return (bench_now_ns() - t0) / n;
}

static double op_stat(const struct bench_api *a, int n, void *arg)
{
    const struct seg *s = arg;
    struct shmid_ds ds;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        a->ctl(s->id, IPC_STAT, &ds);
    return (bench_now_ns() - t0) / n;
}

static void row(const char *what, struct seg *s, int reps, const struct bench_api *bare,
                const struct bench_api *lib)
{
    struct bench_ratio p = bench_ab(op_pair, s, 2000, reps, bare, lib);
    struct bench_ratio g = bench_ab(op_get, s, 10000, reps, bare, lib);
    struct bench_ratio c = bench_ab(op_stat, s, 10000, reps, bare, lib);
    printf("%-30s %6.3fx (%5.3f..%5.3f)  %6.3fx (%5.3f..%5.3f)  %6.3fx (%5.3f..%5.3f)\n", what, p.med,
           p.lo, p.hi, g.med, g.lo, g.hi, c.med, c.lo, c.hi);
    fflush(stdout);
}

static off_t ledger_bytes(const char *dir, off_t *alloc)
{
    DIR *d = opendir(dir);
    off_t size = 0;
    *alloc = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".ledger"))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0) {
            size += st.st_size;
            *alloc += (off_t)st.st_blocks * 512;
        }
    }
    if (d)
        closedir(d);
    return size;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LIBSHMGUARD.so LEDGER_DIR [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 11;
    struct bench_api bare, lib;
    bench_apis(argv[1], &bare, &lib);
    bench_pin();
    struct seg s = { 0x5eedd001, -1 };
    s.id = lib.get(s.key, 4096, IPC_CREAT | 0600);
    if (s.id < 0) {
        perror("shmget");
        return 1;
    }
    printf("%-30s %-22s  %-22s  %-22s\n", "ratio to bare, median (spread)", "shmat+shmdt pair",
           "shmget existing key", "shmctl(IPC_STAT)");
    static int ids[32000];
    int have = 1; /* the measured segment */
    const int levels[] = { 1, 100, 4096, 32000 };
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        for (; have < levels[l]; have++)
            if ((ids[have] = lib.get(IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0) {
                perror("bench_scale: shmget (is kernel.shmmni raised?)");
                return 1;
            }
        char what[64];
        snprintf(what, sizeof what, "%d segment%s in the ledger", levels[l], levels[l] > 1 ? "s" : "");
        row(what, &s, reps, &bare, &lib);
    }
    /* Other processes attached (each to one of the segments), recorded. */
    const int procs[] = { 1, 100, 1000 };
    static pid_t kids[1000];
    int nk = 0, hold[2];
    if (pipe(hold))
        return 1;
    for (size_t l = 0; l < sizeof procs / sizeof procs[0]; l++) {
        for (; nk < procs[l]; nk++) {
            int ready[2];
            if (pipe(ready))
                return 1;
            kids[nk] = fork();
            if (kids[nk] == 0) {
                close(hold[1]);
                close(ready[0]);
                void *p = lib.at(ids[1 + nk % (have - 1)], NULL, 0);
                char c = p == (void *)-1 ? 'x' : 'k';
                if (write(ready[1], &c, 1) != 1)
                    _exit(1);
                if (read(hold[0], &c, 1) < 0)
                    _exit(1);
                lib.dt(p);
                _exit(0);
            }
            close(ready[1]);
            char c = 0;
            if (read(ready[0], &c, 1) != 1 || c != 'k') {
                fprintf(stderr, "bench_scale: an attaching process failed\n");
                return 1;
            }
            close(ready[0]);
        }
        char what[64];
        snprintf(what, sizeof what, "+%d process%s attached", procs[l], procs[l] > 1 ? "es" : "");
        row(what, &s, reps, &bare, &lib);
    }
    off_t alloc, size = ledger_bytes(argv[2], &alloc);
    printf("ledger at 32,000 segments and 1,000 attached processes: %.1f MiB file, %.2f MiB in memory "
           "(tmpfs pages allocated)\n",
           size / 1048576.0, alloc / 1048576.0);
    close(hold[1]); /* let them go */
    for (int k = 0; k < nk; k++)
        waitpid(kids[k], NULL, 0);
    for (int i = 1; i < have; i++)
        lib.ctl(ids[i], IPC_RMID, NULL);
    lib.ctl(s.id, IPC_RMID, NULL);
    return 0;
}
