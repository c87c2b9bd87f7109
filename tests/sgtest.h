/*
 * sgtest.h - helpers shared by the test programs.
 *
 * Tests run inside a private IPC namespace made by scripts/run-tests.sh
 * (unshare --ipc, or unshare -r --ipc when not root), with SG_BUILD naming
 * the build directory.  Each test gets its own ledger directory from
 * sgt_ledger_dir().  Child programs are started with sgt_run(), which
 * captures their output and never waits longer than its timeout.
 */
#ifndef SGTEST_H
#define SGTEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"
#include "sg_ledger.h"
#include "sg_proc.h"

/* 1 if t is a start mark (sg_proc.h) that the process which started at
 * clock tick `started` (its /proc start time) fits: what the library
 * records for a process other than as a creator. */
static inline int sgt_marks(uint64_t t, uint64_t started)
{
    return started && (t & SG_START_MARK) && sg_start_fits(started, t);
}

/* Path of a file in the build directory ($SG_BUILD, default "build"). */
static inline const char *sgt_build_path(const char *rel)
{
    static __thread char buf[4][PATH_MAX + 256];
    static __thread int k;
    const char *b = getenv("SG_BUILD");
    char *out = buf[k++ % 4];
    char dir[PATH_MAX];
    if (!realpath(b && *b ? b : "build", dir))
        snprintf(dir, sizeof dir, "%s", b && *b ? b : "build");
    snprintf(out, PATH_MAX + 256, "%s/%.200s", dir, rel);
    return out;
}
#define SGT_LIB sgt_build_path("libshmguard.so")
#define SGT_TOOL sgt_build_path("shmguard")
#define SGT_HELPER(name) sgt_build_path("tests/" name)

/* A fresh, empty ledger directory for one test, on tmpfs as the library
 * requires: under $SG_TEST_TMP (run-tests.sh's, removed with the run),
 * else /dev/shm. */
static inline const char *sgt_ledger_dir(void)
{
    static char dir[PATH_MAX];
    const char *base = getenv("SG_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/sgtest.XXXXXX", base && base[0] == '/' ? base : "/dev/shm");
    if (!mkdtemp(dir))
        abort();
    chmod(dir, 01777);
    return dir;
}

/* 1 if this process may act as another uid (65534: chown to it, setuid
 * to it): root in a user namespace that maps it, as the initial one does.
 * run-tests.sh as a normal user runs the tests as root of a namespace
 * that maps only one uid, where such cases are skipped. */
static inline int sgt_other_uid_ok(void)
{
    if (geteuid() != 0)
        return 0;
    FILE *f = fopen("/proc/self/uid_map", "r");
    unsigned long in, out, count;
    int ok = f && fscanf(f, "%lu %lu %lu", &in, &out, &count) == 3 && in == 0 && out == 0 &&
             count > 65534;
    if (f)
        fclose(f);
    return ok;
}

/* Remove a directory made by sgt_ledger_dir and what is in it. */
static inline void sgt_rmdir(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Apply NAME=value entries (NULL-terminated) to this process's
 * environment; "NAME=" with an empty value removes NAME.  For children,
 * between fork and exec. */
static inline void sgt_apply_env(char *const env[])
{
    for (int i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        if (eq[1] == '\0')
            unsetenv(name);
        else
            setenv(name, eq + 1, 1);
    }
}

/* Start argv (argv[0] a path) with env entries applied, its stdin and
 * stdout on pipes: *to (write end) and *from (read end) are the test's
 * ends.  Returns the pid; the caller closes both ends and reaps it. */
static inline pid_t sgt_spawn(char *const argv[], char *const env[], int *to, int *from)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        abort();
    pid_t c = fork();
    if (c == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        sgt_apply_env(env);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *to = in[1];
    *from = out[0];
    return c;
}

/* Fail unless needle is (is not) in the text hay, showing hay. */
#define ASSERT_HAS(hay, needle)                                                               \
    do {                                                                                      \
        if (!strstr((hay), (needle)))                                                         \
            fail_msg("expected \"%s\" in:\n%s", (needle), (hay));                              \
    } while (0)
#define ASSERT_LACKS(hay, needle)                                                             \
    do {                                                                                      \
        if (strstr((hay), (needle)))                                                          \
            fail_msg("did not expect \"%s\" in:\n%s", (needle), (hay));                        \
    } while (0)

/* Large: declare it static or allocate it, never on the stack. */
struct sgt_result {
    int status;         /* as from waitpid; -1 if it timed out (killed) */
    int truncated;      /* output beyond the buffers was read and dropped */
    char out[4 << 20];  /* stdout */
    char err[256 << 10]; /* stderr */
};

static inline int sgt_exited(const struct sgt_result *r, int code)
{
    return r->status != -1 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

/* Run argv with extra environment entries (NAME=value, NULL-terminated;
 * "LD_PRELOAD=" with an empty value removes it), capturing output.
 * Kills it (and its process group) after timeout_s seconds. */
static inline void sgt_run(struct sgt_result *r, char *const argv[], char *const env[], int timeout_s)
{
    int po[2], pe[2];
    r->status = 0;
    r->truncated = 0;
    r->out[0] = r->err[0] = '\0';
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        sgt_apply_env(env);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t no = 0, ne = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int open_o = 1, open_e = 1, killed = 0;
    while (open_o || open_e) {
        struct pollfd p[2] = { { open_o ? po[0] : -1, POLLIN, 0 }, { open_e ? pe[0] : -1, POLLIN, 0 } };
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left = timeout_s * 1000L - ((t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        if (poll(p, 2, (int)left) <= 0)
            continue;
        /* Keep draining when a buffer is full, so the child never blocks. */
        char sink[4096];
        if (p[0].revents) {
            int full = no == sizeof r->out - 1;
            ssize_t n = full ? read(po[0], sink, sizeof sink) : read(po[0], r->out + no, sizeof r->out - 1 - no);
            if (n <= 0) open_o = 0; else if (full) r->truncated = 1; else no += (size_t)n;
        }
        if (p[1].revents) {
            int full = ne == sizeof r->err - 1;
            ssize_t n = full ? read(pe[0], sink, sizeof sink) : read(pe[0], r->err + ne, sizeof r->err - 1 - ne);
            if (n <= 0) open_e = 0; else if (full) r->truncated = 1; else ne += (size_t)n;
        }
    }
    r->out[no] = '\0';
    r->err[ne] = '\0';
    close(po[0]);
    close(pe[0]);
    int st;
    waitpid(pid, &st, 0);
    r->status = killed ? -1 : st;
}

/* Run `shmguard SUB --dir=DIR A1 ...` (the arguments from a1 on, up to a
 * NULL, taken from ap) without the library, capturing output in *r. */
static inline void sgt_tool_v(struct sgt_result *r, const char *sub, const char *dir, const char *a1,
                              va_list ap)
{
    char *argv[24];
    int n = 0;
    static char dirarg[PATH_MAX + 16];
    snprintf(dirarg, sizeof dirarg, "--dir=%s", dir);
    argv[n++] = (char *)SGT_TOOL;
    argv[n++] = (char *)sub;
    argv[n++] = dirarg;
    for (const char *a = a1; a && n < 23; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    argv[n] = NULL;
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(r, argv, env, 60);
}

/* Load this namespace's ledger of the current euid from dir. */
static inline int sgt_load_ledger(const char *dir, struct sg_ledger *L)
{
    char name[128], path[PATH_MAX + 200], err[512];
    sg_ledger_name(name, sizeof name, sg_ipcns_ino(), geteuid(), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = sg_ledger_load(L, path, sg_ipcns_ino(), err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "sgt_load_ledger: %s\n", err);
    return rc;
}

/* Count live attachment records for (pid, shmid); pid or shmid -1 = any. */
static inline int sgt_count_att(const struct sg_ledger *L, int pid, int shmid)
{
    int n = 0;
    for (uint32_t i = 0; i < L->hdr->att_cap; i++) {
        const struct sg_att *a = &L->att[i];
        if (a->state == SG_REC_LIVE && (pid < 0 || a->pid == pid) && (shmid < 0 || a->shmid == shmid))
            n++;
    }
    return n;
}

/* 1 if the kernel still has a segment with this id. */
static inline int sgt_shm_exists(int id)
{
    struct shmid_ds ds;
    return shmctl(id, IPC_STAT, &ds) == 0;
}

/* Remove every segment and semaphore set in this (private) namespace. */
static inline void sgt_clear_ipc(void)
{
    struct sg_ksnap s;
    if (sg_ksnap_read(&s) == 0) {
        for (size_t i = 0; i < s.n; i++)
            shmctl(s.v[i].id, IPC_RMID, NULL);
        sg_ksnap_free(&s);
    }
    struct sg_ksemsnap ss;
    if (sg_ksemsnap_read(&ss) == 0) {
        for (size_t i = 0; i < ss.n; i++)
            semctl(ss.v[i].id, 0, IPC_RMID);
        sg_ksemsnap_free(&ss);
    }
    struct sg_kmsgsnap q;
    if (sg_kmsgsnap_read(&q) == 0) {
        for (size_t i = 0; i < q.n; i++)
            msgctl(q.v[i].id, IPC_RMID, NULL);
        sg_kmsgsnap_free(&q);
    }
}

/* What kernel.msgmni was before a test first set it (0: never set). */
static unsigned long sgt_msgmni_was;

/* Set kernel.msgmni of this IPC namespace to v; returns what it was.
 * Root only: fails the test otherwise.  A test puts it back itself, and
 * sgt_msgmni_restore() after a failure does. */
__attribute__((unused)) static unsigned long sgt_set_msgmni(unsigned long v)
{
    FILE *f = fopen("/proc/sys/kernel/msgmni", "r");
    unsigned long old = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu", &old), 1);
    fclose(f);
    f = fopen("/proc/sys/kernel/msgmni", "w");
    assert_non_null(f);
    fprintf(f, "%lu\n", v);
    assert_int_equal(fclose(f), 0);
    if (!sgt_msgmni_was)
        sgt_msgmni_was = old;
    return old;
}

/* kernel.msgmni back to what it was before any sgt_set_msgmni (for a
 * teardown: an assertion that failed in between left it lowered). */
__attribute__((unused)) static void sgt_msgmni_restore(void)
{
    FILE *f;
    if (sgt_msgmni_was && (f = fopen("/proc/sys/kernel/msgmni", "w"))) {
        fprintf(f, "%lu\n", sgt_msgmni_was);
        fclose(f);
    }
}

#endif
