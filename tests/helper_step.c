/*
 * helper_step.c - a process that performs System V shm calls one command
 * at a time, so a test can force an exact interleaving across processes.
 *
 * Reads one command per line on stdin, answers one line on stdout:
 *   get KEY [create] [excl] [size N]  -> "id N" | "err ERRNO"
 *   getn COUNT KEY [create] [excl] [size N] -> the last answer of COUNT gets
 *   at ID            -> "ok" | "err E"   (remembers the address for ID)
 *   atn ID N         -> "attached K": N more read-only attachments of ID
 *                       (kept apart from at's; K of them succeeded)
 *   dtn              -> "detached K": detaches every atn attachment
 *   dt ID            -> "ok" | "err E"
 *   write ID V       -> "ok"             (int at offset 0)
 *   read ID          -> "val V"
 *   rmid ID          -> "ok" | "err E"
 *   stat ID          -> "mode OCT nattch N key HEX" | "err E"
 *   setuid U         -> "ok" | "err E"   (setresuid; drops root)
 *   fork FIFO        -> "child PID": the child keeps the inherited
 *                       attachments and obeys lines read from FIFO:
 *                       "dt" (detach all), "exit"
 *   pid              -> "pid P"
 *   poll KEY MS N    -> "polled F": N lookups shmget(KEY, 0, 0), MS ms
 *                       apart; F of them found the key
 *   thr_rm KEY       -> "old O new N oldkey HEX": creates KEY; a second
 *                       thread attaches it; this one removes it, then
 *                       shmget(KEY, 4096, IPC_CREAT) again (new id N); the
 *                       old segment's key as IPC_STAT shows it; the
 *                       thread detaches
 *   cycles KEY N     -> "done N": N times create, attach, IPC_RMID, detach
 *   exit             -> exits 0 (normal exit: destructors run)
 *   _exit            -> _exit(0)
 * Keys are hex (0x...) or decimal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#define MAXATT 64
static void **many;
static size_t n_many;
static struct { int id; void *addr; } att[MAXATT];

static void **slot_for(int id, int create)
{
    for (int i = 0; i < MAXATT; i++)
        if (att[i].addr && att[i].id == id)
            return &att[i].addr;
    if (!create)
        return NULL;
    for (int i = 0; i < MAXATT; i++)
        if (!att[i].addr) {
            att[i].id = id;
            return &att[i].addr;
        }
    return NULL;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* thr_rm: thread A attached while thread B (the caller) removes the
 * segment and creates the key again. */
static int thr_id;
static volatile int thr_state; /* 1 attached, 2 may detach */
static void *thr_attach(void *arg)
{
    (void)arg;
    void *p = shmat(thr_id, NULL, 0);
    __atomic_store_n(&thr_state, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&thr_state, __ATOMIC_ACQUIRE) != 2)
        usleep(1000);
    if (p != (void *)-1)
        shmdt(p);
    return NULL;
}
static void thr_rm(key_t key);
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void child_loop(const char *fifo)
{
    FILE *f = fopen(fifo, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "dt", 2)) {
            for (int i = 0; i < MAXATT; i++)
                if (att[i].addr) {
                    shmdt(att[i].addr);
                    att[i].addr = NULL;
                }
        } else if (!strncmp(line, "exit", 4))
            exit(0);
    }
    exit(0);
}

int main(void)
{
    char line[512];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = "";
        char a1[256] = "", a2[64] = "", a3[64] = "", a4[64] = "";
        sscanf(line, "%31s %255s %63s %63s %63s", cmd, a1, a2, a3, a4);
        int id = (int)strtol(a1, NULL, 0);
        int count = 1;
        if (!strcmp(cmd, "getn")) {
            /* shift: getn COUNT KEY opts... */
            count = atoi(a1);
            sscanf(line, "%31s %*s %255s %63s %63s %63s", cmd, a1, a2, a3, a4);
            strcpy(cmd, "get");
        }
        if (!strcmp(cmd, "get")) {
            key_t key = (key_t)strtoul(a1, NULL, 0);
            int flg = 0600;
            size_t size = 4096;
            const char *opt[] = { a2, a3, a4 };
            for (int i = 0; i < 3; i++) {
                if (!strcmp(opt[i], "create"))
                    flg |= IPC_CREAT;
                else if (!strcmp(opt[i], "excl"))
                    flg |= IPC_EXCL;
                else if (!strcmp(opt[i], "size") && i < 2)
                    size = strtoul(opt[i + 1], NULL, 0);
            }
            int r = -1, e = 0;
            for (int i = 0; i < count; i++) {
                r = shmget(key, size, flg);
                e = errno;
            }
            r >= 0 ? reply("id %d", r) : reply("err %d", e);
        } else if (!strcmp(cmd, "at")) {
            void **s = slot_for(id, 1);
            void *p = shmat(id, NULL, 0);
            if (p == (void *)-1)
                reply("err %d", errno);
            else {
                *s = p;
                reply("ok");
            }
        } else if (!strcmp(cmd, "atn")) {
            long n = strtol(a2, NULL, 0), k = 0;
            void **nv = realloc(many, (n_many + (size_t)n) * sizeof *many);
            if (n <= 0 || !nv) {
                reply("err %d", ENOMEM);
                continue;
            }
            many = nv;
            for (long i = 0; i < n; i++) {
                void *p = shmat(id, NULL, SHM_RDONLY);
                if (p != (void *)-1) {
                    many[n_many++] = p;
                    k++;
                }
            }
            reply("attached %ld", k);
        } else if (!strcmp(cmd, "dtn")) {
            size_t k = 0;
            for (size_t i = 0; i < n_many; i++)
                k += shmdt(many[i]) == 0;
            n_many = 0;
            reply("detached %zu", k);
        } else if (!strcmp(cmd, "dt")) {
            void **s = slot_for(id, 0);
            if (!s) {
                reply("err %d", EINVAL);
                continue;
            }
            int r = shmdt(*s);
            *s = NULL;
            r == 0 ? reply("ok") : reply("err %d", errno);
        } else if (!strcmp(cmd, "write") || !strcmp(cmd, "read")) {
            void **s = slot_for(id, 0);
            if (!s) {
                reply("err %d", EINVAL);
                continue;
            }
            if (cmd[0] == 'w') {
                *(volatile int *)*s = atoi(a2);
                reply("ok");
            } else
                reply("val %d", *(volatile int *)*s);
        } else if (!strcmp(cmd, "rmid")) {
            int r = shmctl(id, IPC_RMID, NULL);
            r == 0 ? reply("ok") : reply("err %d", errno);
        } else if (!strcmp(cmd, "stat")) {
            struct shmid_ds ds;
            if (shmctl(id, IPC_STAT, &ds) != 0)
                reply("err %d", errno);
            else
                reply("mode %o nattch %lu key 0x%x", ds.shm_perm.mode, (unsigned long)ds.shm_nattch,
                      (unsigned)ds.shm_perm.__key);
        } else if (!strcmp(cmd, "setuid")) {
            uid_t u = (uid_t)atoi(a1);
            setresuid(u, u, u) == 0 ? reply("ok") : reply("err %d", errno);
        } else if (!strcmp(cmd, "fork")) {
            pid_t c = fork();
            if (c == 0)
                child_loop(a1);
            reply("child %d", (int)c);
        } else if (!strcmp(cmd, "pid")) {
            reply("pid %d", (int)getpid());
        } else if (!strcmp(cmd, "poll")) {
            int ms = atoi(a2), n = atoi(a3), found = 0;
            for (int i = 0; i < n; i++) {
                found += shmget((key_t)strtol(a1, NULL, 0), 0, 0) >= 0;
                usleep((useconds_t)ms * 1000);
            }
            reply("polled %d", found);
        } else if (!strcmp(cmd, "thr_rm")) {
            thr_rm((key_t)strtol(a1, NULL, 0));
        } else if (!strcmp(cmd, "cycles")) {
            int n = atoi(a2), done = 0;
            key_t k = (key_t)strtol(a1, NULL, 0);
            for (int i = 0; i < n; i++) {
                int sid = shmget(k, 4096, IPC_CREAT | 0600);
                void *p = sid >= 0 ? shmat(sid, NULL, 0) : (void *)-1;
                if (p == (void *)-1)
                    break;
                shmctl(sid, IPC_RMID, NULL);
                shmdt(p);
                done++;
            }
            reply("done %d", done);
        } else if (!strcmp(cmd, "exit")) {
            exit(0);
        } else if (!strcmp(cmd, "_exit")) {
            _exit(0);
        } else
            reply("err unknown-command");
    }
    return 0;
}

static void thr_rm(key_t key)
{
    thr_id = shmget(key, 4096, IPC_CREAT | 0600);
    thr_state = 0;
    pthread_t t;
    pthread_create(&t, NULL, thr_attach, NULL);
    while (__atomic_load_n(&thr_state, __ATOMIC_ACQUIRE) != 1)
        usleep(1000);
    shmctl(thr_id, IPC_RMID, NULL);
    int again = shmget(key, 4096, IPC_CREAT | 0600);
    struct shmid_ds ds;
    int k = shmctl(thr_id, IPC_STAT, &ds) == 0 ? ds.shm_perm.__key : -1;
    __atomic_store_n(&thr_state, 2, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    reply("old %d new %d oldkey 0x%x", thr_id, again, (unsigned)k);
    if (again >= 0 && again != thr_id)
        shmctl(again, IPC_RMID, NULL);
}
