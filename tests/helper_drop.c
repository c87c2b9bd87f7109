/*
 * helper_drop.c - a root master whose forked worker drops to uid 65534
 * and then attacks, as code running in a compromised worker would.
 *
 *   helper_drop MODE VICTIM_ID     (run as root under the library)
 *
 * The master creates and attaches a keyed segment and a semaphore set,
 * forks; the worker calls setgroups(0, NULL), setgid(65534) and
 * setuid(65534) through libc, then reports what it still holds of root's
 * ledger (mappings in /proc/self/maps, descriptors in /proc/self/fd) and,
 * with whatever it holds, attacks (MODE):
 *   pending   forge a pending removal of VICTIM_ID (a segment of another
 *             uid that 65534 cannot remove) in root's ledger;
 *   caps      overwrite the header's table capacities in the mapping;
 *   truncate  ftruncate the ledger through the descriptor;
 *   none      nothing;
 *   threads   nothing, while two threads of the worker keep calling
 *             shmget, shmat, shmdt and semop across the drop;
 *   saved     nothing, and the worker only calls seteuid(65534): root
 *             stays its real and saved uid, it may take root back, and so
 *             keeps root's ledger.
 * It then uses the set (semop) and, still attached to the segment,
 * reports its records in the ledgers of uid 0 and uid 65534.  The master
 * meanwhile goes on with ordinary calls.  Output, one "name=value" a line:
 * maps_root, fds_root, attacked, old_att, old_user, new_att, new_user
 * (worker), then master_ok and victim (1 if VICTIM_ID still exists).
 * SHMGUARD_LEDGER must name the ledger directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sg_kernel.h"
#include "sg_ledger.h"

#define WORKER 65534
#define KEY 0x5eed0d0d

static const char *dir;

/* 1 if path names root's ledger in dir. */
static int is_root_ledger(const char *path)
{
    char name[128];
    sg_ledger_name(name, sizeof name, sg_ipcns_ino(), 0, 0);
    size_t dl = strlen(dir);
    return strncmp(path, dir, dl) == 0 && path[dl] == '/' && strstr(path + dl, ".uid-0.");
}

/* Address and length of a writable mapping of root's ledger, or 0. */
static size_t root_mapping(unsigned char **base)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[PATH_MAX + 200];
    size_t found = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &pos) < 3 || !pos)
            continue;
        char *p = line + pos;
        p[strcspn(p, "\n")] = '\0';
        if (is_root_ledger(p) && perms[1] == 'w' && !found) {
            *base = (unsigned char *)lo;
            found = hi - lo;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* A descriptor open on root's ledger, or -1; *n counts them all. */
static int root_fd(int *n)
{
    int fd = -1;
    *n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[300], t[PATH_MAX];
        snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(p, t, sizeof t - 1);
        if (k <= 0)
            continue;
        t[k] = '\0';
        if (is_root_ledger(t)) {
            (*n)++;
            fd = atoi(de->d_name);
        }
    }
    if (d)
        closedir(d);
    return fd;
}

/* The ledger's own placement of a segment record (the hash in
 * sg_ledger.c, which a forger would copy too). */
static uint32_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* Write a pending removal of shmid victim into the mapped image. */
static int forge_pending(unsigned char *base, int victim)
{
    struct sg_hdr *h = (struct sg_hdr *)base;
    /* The worker may not IPC_STAT it: what /proc/sysvipc/shm shows. */
    struct sg_ksnap ks;
    if (sg_ksnap_read(&ks) != 0)
        return 0;
    const struct sg_kseg *k = sg_ksnap_find(&ks, victim);
    if (!k) {
        sg_ksnap_free(&ks);
        return 0;
    }
    struct sg_seg *seg = (struct sg_seg *)(base + h->seg_off);
    uint32_t mask = h->seg_cap - 1, i = mix(((uint64_t)SG_KIND_SHM << 32) | (uint32_t)victim) & mask;
    while (seg[i].state == SG_REC_LIVE)
        i = (i + 1) & mask;
    struct sg_seg *r = &seg[i];
    memset(r, 0, sizeof *r);
    r->kind = SG_KIND_SHM;
    r->id = victim;
    r->key = k->key;
    r->kcpid = k->cpid;
    r->kcuid = k->cuid;
    sg_ksnap_free(&ks);
    r->flags = SG_SEG_PENDING;
    r->state = SG_REC_LIVE;
    struct sg_pend *pend = (struct sg_pend *)(base + h->pend_off);
    for (uint32_t j = 0; j < h->pend_cap; j++)
        if (pend[j].id < 0) {
            pend[j].kind = SG_KIND_SHM;
            pend[j].id = victim;
            break;
        }
    h->pending++;
    return 1;
}

/* This process's attachment and semaphore-user records in uid's ledger. */
static void count_records(uid_t uid, const char *tag)
{
    char name[128], path[PATH_MAX + 200], err[512];
    sg_ledger_name(name, sizeof name, sg_ipcns_ino(), uid, 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct sg_ledger L;
    int att = -1, user = -1;
    if (sg_ledger_load(&L, path, sg_ipcns_ino(), err, sizeof err) == 0) {
        att = user = 0;
        for (uint32_t i = 0; i < L.att_cap; i++)
            att += L.att[i].state == SG_REC_LIVE && L.att[i].pid == getpid();
        for (uint32_t i = 0; i < L.user_cap; i++)
            user += L.users[i].state == SG_REC_LIVE && L.users[i].pid == getpid();
        sg_ledger_close(&L);
    }
    printf("%s_att=%d\n%s_user=%d\n", tag, att, tag, user);
}

/* "threads": two threads keep calling into the library (get, attach,
 * detach, semop) while the main thread drops root. */
static volatile int stop;
static int t_semid;
static void *busy(void *arg)
{
    (void)arg;
    long n = 0;
    while (!stop) {
        int id = shmget(KEY, 0, 0);
        void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        if (p != (void *)-1)
            shmdt(p);
        struct sembuf op[2] = { { 0, 1, 0 }, { 0, -1, 0 } };
        semop(t_semid, op, 2);
        n++;
    }
    return (void *)n;
}

static void worker(const char *mode, int victim, int semid, int done_w)
{
    pthread_t t[2];
    int threads = !strcmp(mode, "threads");
    if (threads) {
        t_semid = semid;
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, busy, NULL);
        usleep(50 * 1000);
    }
    if (!strcmp(mode, "saved") ? seteuid(WORKER) != 0
                               : setgroups(0, NULL) != 0 || setgid(WORKER) != 0 || setuid(WORKER) != 0) {
        printf("drop failed: %s\n", strerror(errno));
        _exit(3);
    }
    if (threads) {
        usleep(50 * 1000);
        stop = 1;
        long calls = 0;
        for (int i = 0; i < 2; i++) {
            void *r;
            pthread_join(t[i], &r);
            calls += (long)r;
        }
        printf("thread_loops=%ld\n", calls);
    }
    unsigned char *base = NULL;
    size_t len = root_mapping(&base);
    int nfd, fd = root_fd(&nfd);
    printf("maps_root=%d\nfds_root=%d\n", len ? 1 : 0, nfd);
    int attacked = 0;
    if (!strcmp(mode, "pending") && len)
        attacked = forge_pending(base, victim);
    else if (!strcmp(mode, "caps") && len) {
        struct sg_hdr *h = (struct sg_hdr *)base;
        h->seg_cap = h->att_cap = 1u << 24;
        h->intent_cap = h->pend_cap = 65536;
        attacked = 1;
    } else if (!strcmp(mode, "truncate") && fd >= 0)
        attacked = ftruncate(fd, 4096) == 0;
    printf("attacked=%d\n", attacked);
    struct sembuf op = { 0, 1, 0 };
    if (semop(semid, &op, 1) != 0)
        printf("semop: %s\n", strerror(errno));
    count_records(0, "old");
    count_records(WORKER, "new");
    fflush(stdout);
    if (write(done_w, "x", 1) != 1)
        _exit(4);
    _exit(0);
}

int main(int argc, char **argv)
{
    dir = getenv("SHMGUARD_LEDGER");
    if (argc < 3 || !dir) {
        fprintf(stderr, "usage: SHMGUARD_LEDGER=DIR helper_drop pending|caps|truncate|none VICTIM\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int victim = atoi(argv[2]);
    int id = shmget(KEY, 4096, IPC_CREAT | 0600);
    void *p = shmat(id, NULL, 0);
    int semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0666);
    if (id < 0 || p == (void *)-1 || semid < 0) {
        perror("setup");
        return 2;
    }
    int done[2];
    if (pipe(done) != 0)
        return 2;
    pid_t w = fork();
    if (w == 0) {
        close(done[0]);
        worker(argv[1], victim, semid, done[1]);
    }
    close(done[1]);
    char c;
    ssize_t got = read(done[0], &c, 1);
    (void)got;
    /* The master goes on as usual: a lookup, a status, an attach and a
     * detach, a semaphore operation. */
    struct shmid_ds ds;
    int again = shmget(KEY, 0, 0);
    shmctl(id, IPC_STAT, &ds);
    void *q = shmat(id, NULL, 0);
    if (q != (void *)-1)
        shmdt(q);
    struct sembuf op = { 0, -1, IPC_NOWAIT };
    semop(semid, &op, 1);
    int st;
    waitpid(w, &st, 0);
    printf("worker_status=%d\n", st);
    printf("master_ok=%d\n", again == id);
    printf("victim=%d\n", shmctl(victim, IPC_STAT, &ds) == 0);
    shmdt(p);
    shmctl(id, IPC_RMID, NULL);
    semctl(semid, 0, IPC_RMID);
    return 0;
}
