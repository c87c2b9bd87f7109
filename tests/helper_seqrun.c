/*
 * helper_seqrun.c - one named System V shared-memory call sequence, for the
 * differential transparency test (test_transparency.c).
 *
 * `helper_seqrun NAME` runs scenario NAME against whatever shmget/shmat/
 * shmdt/shmctl (and semget/semctl/semop/semtimedop: the sem_ scenarios)
 * the process is linked to (bare libc, or libshmguard.so when
 * preloaded) and prints one line per call: the call, its return value and
 * errno.  errno is set to 12345 before every call, so a success path that
 * changes errno shows up.  Only values that are equal between two runs in a
 * fresh IPC namespace are printed: ids (deterministic there), addresses only
 * relative to a base the scenario chose, and of IPC_STAT and friends the
 * deterministic fields (key, mode, size, nattch, uids, cpid/lpid as
 * self/parent/child, times as set/0).  The run must happen in a fresh IPC
 * namespace (unshare --ipc); scenarios change that namespace's limits and
 * leave their segments behind for the namespace to take away.
 *
 * `--list` prints every scenario name; `--list-diag` the names whose calls
 * hit a limit the library may write a diagnostic about (ENOSPC, size
 * EINVAL).  Exit status: 0 after the scenario ran (whatever its calls
 * returned), 2 for usage, 3 when not in a private IPC namespace, 4 when
 * the harness itself failed (fork, pipe, thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENTINEL 12345
#define K1 ((key_t)0x5eed0001)
#define K2 ((key_t)0x5eed0002)
#define PG 4096ul

/* LeakSanitizer asks this (sanitizer builds only; unused otherwise).  It
 * is turned off in children forked from a threaded process, whose thread
 * registry is stale: there every exit() would report false leaks. */
static int lsan_off;
int __lsan_is_turned_off(void) __attribute__((visibility("default")));
int __lsan_is_turned_off(void) { return lsan_off; }

/* ---- output ------------------------------------------------------------ */

static const char *prefix = "";  /* "child: " in forked children */
static pid_t child_pid;          /* last forked child, for pid names */
static char *base;               /* fixed-address scenarios: chosen base */
static size_t span;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(1, buf + off, (size_t)(n - off));
        if (w <= 0)
            _exit(4);
        off += (int)w;
    }
}

static __attribute__((noreturn)) void harness_fail(const char *what)
{
    out("HARNESS FAILURE: %s: %s", what, strerror(errno));
    _exit(4);
}

/* Rotating buffers for the name helpers (several per output line). */
static char *rbuf(void)
{
    static __thread char b[8][160];
    static __thread unsigned k;
    return b[k++ % 8];
}

static const char *ename(int e)
{
    static const struct { int e; const char *n; } t[] = {
        { 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
        { EIO, "EIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
        { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
        { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { EINVAL, "EINVAL" },
        { ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { ENOSPC, "ENOSPC" },
        { ERANGE, "ERANGE" }, { ENOSYS, "ENOSYS" }, { EIDRM, "EIDRM" },
        { EOVERFLOW, "EOVERFLOW" }, { ENOTSUP, "ENOTSUP" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].e == e)
            return t[i].n;
    char *b = rbuf();
    snprintf(b, 160, "%d", e);
    return b;
}

static const char *keyname(key_t k)
{
    if (k == IPC_PRIVATE)
        return "IPC_PRIVATE";
    char *b = rbuf();
    snprintf(b, 160, "0x%08x", (unsigned)k);
    return b;
}

/* Flag words: known names, then the mode bits, then anything left in hex. */
static const char *flagname(int flg, int for_shmat)
{
    static const struct { int f; const char *n; } get[] = {
        { IPC_CREAT, "IPC_CREAT" }, { IPC_EXCL, "IPC_EXCL" },
        { SHM_HUGETLB, "SHM_HUGETLB" }, { SHM_NORESERVE, "SHM_NORESERVE" },
    }, at[] = {
        { SHM_RDONLY, "SHM_RDONLY" }, { SHM_RND, "SHM_RND" },
        { SHM_REMAP, "SHM_REMAP" }, { SHM_EXEC, "SHM_EXEC" },
    };
    const __typeof__(get[0]) *t = for_shmat ? at : get;
    size_t nt = for_shmat ? sizeof at / sizeof at[0] : sizeof get / sizeof get[0];
    char *b = rbuf();
    size_t n = 0;
    unsigned left = (unsigned)flg;
    b[0] = '\0';
    for (size_t i = 0; i < nt; i++)
        if (left & (unsigned)t[i].f) {
            n += (size_t)snprintf(b + n, 160 - n, "%s%s", n ? "|" : "", t[i].n);
            left &= ~(unsigned)t[i].f;
        }
    if (!for_shmat && (left & 0777)) {
        n += (size_t)snprintf(b + n, 160 - n, "%s0%o", n ? "|" : "", left & 0777);
        left &= ~0777u;
    }
    if (left || n == 0)
        snprintf(b + n, 160 - n, "%s%#x", n ? "|" : "", left);
    return b;
}

static const char *cmdname(int cmd)
{
    switch (cmd) {
    case IPC_RMID: return "IPC_RMID";
    case IPC_SET: return "IPC_SET";
    case IPC_STAT: return "IPC_STAT";
    case IPC_INFO: return "IPC_INFO";
    case SHM_LOCK: return "SHM_LOCK";
    case SHM_UNLOCK: return "SHM_UNLOCK";
    case SHM_STAT: return "SHM_STAT";
    case SHM_INFO: return "SHM_INFO";
    case SHM_STAT_ANY: return "SHM_STAT_ANY";
    }
    char *b = rbuf();
    snprintf(b, 160, "%d", cmd);
    return b;
}

static const char *pidname(pid_t p)
{
    if (p == 0)
        return "0";
    if (p == getpid())
        return "self";
    if (p == getppid())
        return "parent";
    if (child_pid && p == child_pid)
        return "child";
    return "other";
}

/* An address the scenario passed or got back, relative to its base. */
static const char *addrname(const void *p)
{
    char *b = rbuf();
    if (p == NULL)
        return "NULL";
    if (p == (void *)-1)
        return "-1";
    if (base && (const char *)p >= base && (const char *)p < base + span)
        snprintf(b, 160, "base+%#lx", (unsigned long)((const char *)p - base));
    else if ((uintptr_t)p < 65536)
        snprintf(b, 160, "%#lx", (unsigned long)(uintptr_t)p);
    else
        snprintf(b, 160, "(address)");
    return b;
}

/* ---- the four calls, each printed ------------------------------------ */

static int G(key_t key, size_t size, int flg)
{
    errno = SENTINEL;
    int r = shmget(key, size, flg);
    int e = errno;
    out("shmget(key=%s,%zu,%s) = %d errno=%s", keyname(key), size, flagname(flg, 0), r,
        ename(e));
    return r;
}

/* shmat: the result is printed as "ok" unless the caller fixed the
 * address (addresses chosen by the kernel differ from run to run). */
static void *A(int id, const void *addr, int flg)
{
    errno = SENTINEL;
    void *p = shmat(id, addr, flg);
    int e = errno;
    const char *res = p == (void *)-1 ? "-1" : addr ? addrname(p) : "ok";
    out("shmat(id=%d,%s,%s) = %s errno=%s", id, addrname(addr), flagname(flg, 1), res,
        ename(e));
    return p;
}

static int D(const void *addr, const char *desc)
{
    errno = SENTINEL;
    int r = shmdt(addr);
    int e = errno;
    out("shmdt(%s) = %d errno=%s", desc ? desc : addrname(addr), r, ename(e));
    return r;
}

union ctlbuf {
    struct shmid_ds ds;
    struct shminfo info;
    struct shm_info sinfo;
    unsigned char pad[512];
};

static const char *setname(time_t t) { return t ? "set" : "0"; }

static int C(int id, int cmd, void *buf)
{
    errno = SENTINEL;
    int r = shmctl(id, cmd, (struct shmid_ds *)buf);
    int e = errno;
    char extra[600] = "";
    const char *bufname = buf == NULL ? "NULL" : (uintptr_t)buf < 4096 ? "(bad pointer)" : "buf";
    if (r >= 0 && buf && (uintptr_t)buf >= 4096) {
        const union ctlbuf *u = buf;
        if (cmd == IPC_STAT || cmd == SHM_STAT || cmd == SHM_STAT_ANY) {
            const struct shmid_ds *d = &u->ds;
            snprintf(extra, sizeof extra,
                     " {key=%s mode=0%o size=%zu nattch=%lu uid=%u gid=%u cuid=%u cgid=%u "
                     "cpid=%s lpid=%s atime=%s dtime=%s ctime=%s}",
                     keyname(d->shm_perm.__key), d->shm_perm.mode, (size_t)d->shm_segsz,
                     (unsigned long)d->shm_nattch, d->shm_perm.uid, d->shm_perm.gid,
                     d->shm_perm.cuid, d->shm_perm.cgid, pidname(d->shm_cpid),
                     pidname(d->shm_lpid), setname(d->shm_atime), setname(d->shm_dtime),
                     setname(d->shm_ctime));
        } else if (cmd == IPC_INFO) {
            const struct shminfo *i = &u->info;
            snprintf(extra, sizeof extra, " {shmmax=%lu shmmin=%lu shmmni=%lu shmseg=%lu shmall=%lu}",
                     (unsigned long)i->shmmax, (unsigned long)i->shmmin,
                     (unsigned long)i->shmmni, (unsigned long)i->shmseg,
                     (unsigned long)i->shmall);
        } else if (cmd == SHM_INFO) {
            const struct shm_info *i = &u->sinfo;
            snprintf(extra, sizeof extra, " {used_ids=%d shm_tot=%lu}", i->used_ids,
                     (unsigned long)i->shm_tot);
        }
    }
    const char *idw = (cmd == SHM_STAT || cmd == SHM_STAT_ANY) ? "idx" : "id";
    out("shmctl(%s=%d,%s,%s) = %d errno=%s%s", idw, id, cmdname(cmd), bufname, r, ename(e),
        extra);
    return r;
}

/* IPC_STAT into a private buffer, printed. */
static int S(int id)
{
    union ctlbuf u;
    memset(&u, 0, sizeof u);
    return C(id, IPC_STAT, &u);
}

/* ---- scenario plumbing ------------------------------------------------- */

/* Write a sysctl of this (private) namespace; prints the outcome. */
static void set_sysctl(const char *name, const char *value)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int ok = fd >= 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value);
    int e = errno;
    if (fd >= 0)
        close(fd);
    out("sysctl kernel.%s=%s: %s", name, value, ok ? "ok" : ename(e));
}

/* Fork a child that runs fn and exits with exit(0) (library destructors
 * run) or _exit(0); the parent waits for it.  Output stays in order
 * because the parent prints nothing until the child is gone. */
static void in_child(void (*fn)(void), int use_exit)
{
    pid_t p = fork();
    if (p < 0)
        harness_fail("fork");
    if (p == 0) {
        prefix = "child: ";
        child_pid = 0;
        fn();
        if (use_exit)
            exit(0);
        _exit(0);
    }
    child_pid = p;
    int st;
    if (waitpid(p, &st, 0) != p)
        harness_fail("waitpid");
    out("child exited: %s %d", WIFEXITED(st) ? "status" : "signal",
        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* Become uid 65534 (only possible as real root); 0 on success. */
static int drop_to_nobody(void)
{
    errno = SENTINEL;
    int r = setresuid(65534, 65534, 65534);
    int e = errno;
    out("setresuid(65534) = %d errno=%s%s", r, ename(e),
        r ? " (not root here: skipped)" : "");
    return r;
}

/* ---- semaphore calls ------------------------------------------------------ */

static int SG(key_t key, int n, int flg)
{
    errno = SENTINEL;
    int r = semget(key, n, flg);
    int e = errno;
    out("semget(key=%s,%d,%s) = %d errno=%s", keyname(key), n, flagname(flg, 0), r, ename(e));
    return r;
}

/* semctl with an int argument (SETVAL), none, or a buffer printed by its
 * deterministic fields. */
static int SCV(int id, int num, int cmd, const char *cname, int val)
{
    errno = SENTINEL;
    int r = semctl(id, num, cmd, val);
    int e = errno;
    out("semctl(id=%d,%d,%s,%d) = %d errno=%s", id, num, cname, val, r, ename(e));
    return r;
}

static int SCS(int id, int cmd, const char *cname)
{
    struct semid_ds ds;
    memset(&ds, 0, sizeof ds);
    errno = SENTINEL;
    int r = semctl(id, 0, cmd, &ds);
    int e = errno;
    if (r < 0)
        out("semctl(id=%d,0,%s,&ds) = %d errno=%s", id, cname, r, ename(e));
    else
        out("semctl(id=%d,0,%s,&ds) = %d errno=%s {key=%s mode=0%o nsems=%lu otime=%s}", id,
            cname, r, ename(e), keyname(ds.sem_perm.__key), ds.sem_perm.mode,
            (unsigned long)ds.sem_nsems, ds.sem_otime ? "set" : "0");
    return r;
}

static int SOP(int id, short num, short op, short flg, int timed)
{
    struct sembuf b = { (unsigned short)num, op, flg };
    struct timespec ts = { 0, 1000000 };
    errno = SENTINEL;
    int r = timed ? semtimedop(id, &b, 1, &ts) : semop(id, &b, 1);
    int e = errno;
    out("%s(id=%d,{%d,%d,%#x}) = %d errno=%s", timed ? "semtimedop" : "semop", id, num, op,
        flg, r, ename(e));
    return r;
}

/* ---- scenarios: semaphores (the library changes none of these) ------- */

static void sc_sem_get(void)
{
    int id = SG(K1, 2, IPC_CREAT | 0600);
    SG(K1, 2, IPC_CREAT | 0600);        /* create-or-open: the same set */
    SG(K1, 1, 0);
    SG(K1, 3, 0);                       /* more than it has: EINVAL */
    SG(K1, 2, IPC_CREAT | IPC_EXCL | 0600);
    SG(K2, 1, 0);                       /* ENOENT */
    SG(K2, 0, IPC_CREAT | 0600);        /* 0 semaphores to create: EINVAL */
    SG(IPC_PRIVATE, 1, 0600);
    SG(IPC_PRIVATE, -1, IPC_CREAT | 0600);
    SCS(id, IPC_STAT, "IPC_STAT");
}

static void sc_sem_ops(void)
{
    int id = SG(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    SCV(id, 0, SETVAL, "SETVAL", 1);
    SCV(id, 0, GETVAL, "GETVAL", 0);
    SOP(id, 0, -1, 0, 0);
    SOP(id, 0, -1, IPC_NOWAIT, 0);      /* EAGAIN */
    SOP(id, 1, -1, 0, 1);               /* times out: EAGAIN */
    SOP(id, 2, 1, 0, 0);                /* no such semaphore: EFBIG */
    SOP(id, 0, 1, 0, 0);
    SCV(id, 0, GETNCNT, "GETNCNT", 0);
    SCS(id, IPC_STAT, "IPC_STAT");
    SCV(id, 0, IPC_RMID, "IPC_RMID", 0);
    SCV(id, 0, IPC_RMID, "IPC_RMID", 0); /* EINVAL */
    SOP(id, 0, 1, 0, 0);                 /* EINVAL: gone */
    SCS(12345678, IPC_STAT, "IPC_STAT");
}

static void sem_child(void)
{
    SOP(0, 0, 1, 0, 0);
    SCV(0, 0, GETVAL, "GETVAL", 0);
}

static void sc_sem_fork(void)
{
    SG(IPC_PRIVATE, 1, IPC_CREAT | 0600); /* id 0 in a fresh namespace */
    in_child(sem_child, 1);
    in_child(sem_child, 0);
    SCV(0, 0, GETVAL, "GETVAL", 0);
}

static void sc_sem_enospc(void)
{
    set_sysctl("sem", "4 5 32 2");
    SG(IPC_PRIVATE, 5, IPC_CREAT | 0600);  /* above SEMMSL: EINVAL */
    SG(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    SG(K1, 3, IPC_CREAT | 0600);           /* SEMMNS: ENOSPC */
    SG(K1, 2, IPC_CREAT | 0600);
    SG(K2, 1, IPC_CREAT | 0600);           /* SEMMNI: ENOSPC */
    SG(K1, 2, IPC_CREAT | 0600);           /* existing key: fine */
}

/* ---- message queues: msgget, msgsnd, msgrcv, msgctl ------------------- */

static int MG(key_t key, int flg)
{
    errno = SENTINEL;
    int r = msgget(key, flg);
    int e = errno;
    out("msgget(key=%s,%s) = %d errno=%s", keyname(key), flagname(flg, 0), r, ename(e));
    return r;
}

static void MRM(int id)
{
    errno = SENTINEL;
    int r = msgctl(id, IPC_RMID, NULL);
    int e = errno;
    out("msgctl(id=%d,IPC_RMID) = %d errno=%s", id, r, ename(e));
}

static void sc_msg_get(void)
{
    int q = MG(K1, IPC_CREAT | 0600);
    MG(K1, 0);
    MG(K1, IPC_CREAT | IPC_EXCL | 0600); /* EEXIST */
    MG(K2, 0);                           /* ENOENT */
    int p = MG(IPC_PRIVATE, 0600);
    MRM(q);
    MG(K1, 0);
    MRM(p);
    MRM(p); /* EINVAL */
}

struct msg64 {
    long type;
    char text[64];
};

static void MSND(int id, long type, size_t n, int flg)
{
    struct msg64 m = { type, "0123456789abcdef" };
    errno = SENTINEL;
    int r = msgsnd(id, &m, n, flg);
    int e = errno;
    out("msgsnd(id=%d,type=%ld,%zu,%s) = %d errno=%s", id, type, n,
        flg & IPC_NOWAIT ? "IPC_NOWAIT" : "0", r, ename(e));
}

static void MRCV(int id, size_t n, long type, int flg)
{
    struct msg64 m;
    memset(&m, 0, sizeof m);
    errno = SENTINEL;
    ssize_t r = msgrcv(id, &m, n, type, flg);
    int e = errno;
    out("msgrcv(id=%d,%zu,type=%ld,%s%s) = %zd errno=%s type=%ld text=%.*s", id, n, type,
        flg & IPC_NOWAIT ? "IPC_NOWAIT" : "0", flg & MSG_NOERROR ? "|MSG_NOERROR" : "", r, ename(e),
        r >= 0 ? m.type : 0L, r > 0 ? (int)r : 0, m.text);
}

/* msgctl IPC_STAT (the deterministic fields: no times, no pids), or
 * IPC_SET of a byte limit. */
static void MCTL(int id, int cmd, const char *name, unsigned long qbytes)
{
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (cmd == IPC_SET && msgctl(id, IPC_STAT, &ds) == 0)
        ds.msg_qbytes = qbytes;
    errno = SENTINEL;
    int r = msgctl(id, cmd, &ds);
    int e = errno;
    if (cmd == IPC_STAT && r == 0)
        out("msgctl(id=%d,%s) = %d errno=%s {key=%s mode=%o qnum=%lu cbytes=%lu qbytes=%lu}", id,
            name, r, ename(e), keyname(ds.msg_perm.__key), (unsigned)ds.msg_perm.mode,
            (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
            (unsigned long)ds.msg_qbytes);
    else
        out("msgctl(id=%d,%s) = %d errno=%s", id, name, r, ename(e));
}

static void sc_msg_ops(void)
{
    int q = MG(K1, IPC_CREAT | 0600);
    MSND(q, 1, 6, 0);
    MSND(q, 2, 16, IPC_NOWAIT);
    MSND(q, 0, 6, 0);                   /* type 0: EINVAL */
    MSND(q, 1, (size_t)-1, 0);          /* above msgmax: EINVAL */
    MSND(12345678, 1, 6, 0);            /* no such queue: EINVAL */
    MCTL(q, IPC_STAT, "IPC_STAT", 0);
    MRCV(q, 64, 2, 0);                  /* by type */
    MRCV(q, 3, 0, IPC_NOWAIT);          /* too small: E2BIG, kept */
    MRCV(q, 3, 0, IPC_NOWAIT | MSG_NOERROR);
    MRCV(q, 64, 0, IPC_NOWAIT);         /* empty: ENOMSG */
    MRCV(q, 64, -5, IPC_NOWAIT);
    MCTL(q, IPC_SET, "IPC_SET", 8);
    MSND(q, 1, 6, IPC_NOWAIT);
    MSND(q, 1, 6, IPC_NOWAIT);          /* full (8 bytes): EAGAIN */
    MCTL(q, IPC_STAT, "IPC_STAT", 0);
    MCTL(q, 12345, "12345", 0);         /* no such command: EINVAL */
    MCTL(q, IPC_RMID, "IPC_RMID", 0);
    MCTL(q, IPC_STAT, "IPC_STAT", 0);   /* gone: EINVAL */
    MSND(q, 1, 6, IPC_NOWAIT);          /* gone: EINVAL */
    MRCV(q, 64, 0, IPC_NOWAIT);         /* gone: EINVAL */
    MCTL(q, IPC_SET, "IPC_SET", 8);
    MG(K1, 0);                          /* ENOENT */
}

static void msg_child(void)
{
    MSND(0, 7, 6, 0);
    MRCV(0, 64, 3, IPC_NOWAIT);
}

/* A child inherits the queue (id 0 in a fresh namespace), sends, and
 * receives what the parent sent; a killed child too. */
static void sc_msg_fork(void)
{
    MG(IPC_PRIVATE, 0600);
    MSND(0, 3, 6, 0);
    in_child(msg_child, 1);
    in_child(msg_child, 0);
    MRCV(0, 64, 0, IPC_NOWAIT);
    MRCV(0, 64, 0, IPC_NOWAIT);
    MRCV(0, 64, 0, IPC_NOWAIT);         /* empty */
    MCTL(0, IPC_STAT, "IPC_STAT", 0);
    MCTL(0, IPC_RMID, "IPC_RMID", 0);
}

static void sc_msg_enospc(void)
{
    set_sysctl("msgmni", "2");
    MG(IPC_PRIVATE, 0600);
    MG(K1, IPC_CREAT | 0600);
    MG(K2, IPC_CREAT | 0600); /* kernel.msgmni: ENOSPC */
    MG(K1, IPC_CREAT | 0600); /* existing key: fine */
}

/* ---- scenarios: shmget ------------------------------------------------ */

static void sc_get_create(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    S(id);
    int id2 = G((key_t)-1, 3 * PG + 1, IPC_CREAT | 0644);
    S(id2);
    G(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    S(2);
}

static void sc_get_lookup(void)
{
    int id = G(K1, 2 * PG, IPC_CREAT | 0640);
    G(K1, 0, 0);
    G(K1, 2 * PG, 0640);
    G(K1, 1, 0);
    G(K1, 2 * PG, IPC_CREAT | 0600);
    G(K1, 2 * PG - 1, IPC_CREAT);
    S(id);
}

static void sc_get_enoent(void)
{
    G(K1, PG, 0600);
    G(K1, 0, 0);
    G(K1, PG, IPC_EXCL | 0600);
    /* IPC_PRIVATE always creates, with or without IPC_CREAT. */
    int id = G(IPC_PRIVATE, PG, 0600);
    S(id);
}

static void sc_get_eexist(void)
{
    G(K1, PG, IPC_CREAT | 0600);
    G(K1, PG, IPC_CREAT | IPC_EXCL | 0600);
    G(K1, 0, IPC_CREAT | IPC_EXCL);
    G(K1, PG, IPC_EXCL | 0600); /* IPC_EXCL without IPC_CREAT: a lookup */
    G(IPC_PRIVATE, PG, IPC_CREAT | IPC_EXCL | 0600);
}

static void sc_get_size_larger(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    G(K1, PG + 1, 0);
    G(K1, 2 * PG, IPC_CREAT | 0600);
    G(K1, PG, 0);
    S(id);
}

static void sc_get_size_zero(void)
{
    G(K1, 0, IPC_CREAT | 0600);
    G(IPC_PRIVATE, 0, IPC_CREAT | 0600);
    G(K1, 0, 0);
    G(K1, 0, IPC_CREAT | IPC_EXCL | 0600);
}

static void sc_get_size_shmmax(void)
{
    G(IPC_PRIVATE, SIZE_MAX, IPC_CREAT | 0600);
    G(K1, (size_t)LONG_MAX + 1, IPC_CREAT | 0600);
    set_sysctl("shmmax", "65536");
    union ctlbuf u;
    C(0, IPC_INFO, &u);
    G(K1, 65537, IPC_CREAT | 0600);
    int id = G(K1, 65536, IPC_CREAT | 0600);
    G(K1, 65537, 0);
    S(id);
}

static void sc_get_enospc_shmmni(void)
{
    set_sysctl("shmmni", "2");
    G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    G(K1, PG, IPC_CREAT | 0600);
    G(K2, PG, IPC_CREAT | 0600);
    G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    G(K1, PG, IPC_CREAT | 0600); /* existing key: no new id needed */
    union ctlbuf u;
    C(0, SHM_INFO, &u);
    C(0, IPC_RMID, NULL);
    G(K2, PG, IPC_CREAT | 0600);
}

static void sc_get_enospc_shmall(void)
{
    set_sysctl("shmall", "3");
    G(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
    G(K1, 2 * PG, IPC_CREAT | 0600);
    G(K1, PG, IPC_CREAT | 0600);
    G(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    union ctlbuf u;
    C(0, SHM_INFO, &u);
}

static void sc_get_flags(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0777);
    S(id);
    G(IPC_PRIVATE, PG, IPC_CREAT | SHM_NORESERVE | 0600);
    G(IPC_PRIVATE, PG, IPC_CREAT | SHM_HUGETLB | 0600);
    G(K1, PG, IPC_CREAT | 0x7f000000 | 0600);
    G(K2, PG, (int)(0x80000000u | IPC_CREAT | 0600));
    G(K1, PG, 0x00ff0000);
    S(0);
    S(1);
}

static void sc_get_private_multi(void)
{
    for (int i = 0; i < 4; i++)
        G(IPC_PRIVATE, PG * (size_t)(i + 1), IPC_CREAT | 0600);
    for (int i = 0; i < 4; i++)
        S(i);
}

static void sc_get_recreate(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    D(p, "p");
    C(id, IPC_RMID, NULL);
    int id2 = G(K1, 2 * PG, IPC_CREAT | 0600);
    S(id);
    S(id2);
    G(K1, 2 * PG, 0);
}

/* ---- permissions ------------------------------------------------------ */

static int perm_id, perm_id2;

static void perm_child(void)
{
    S(perm_id);
    if (drop_to_nobody() != 0)
        return;
    G(K1, 0, 0);
    G(K1, 0, 0600);
    G(K1, 0, 0400);
    G(K2, 0, 0);
    G(K2, 0, 0400);
    A(perm_id, NULL, 0);
    A(perm_id, NULL, SHM_RDONLY);
    A(perm_id2, NULL, SHM_RDONLY);
    S(perm_id);
    union ctlbuf u;
    memset(&u, 0, sizeof u);
    C(0, SHM_STAT, &u);
    C(0, SHM_STAT_ANY, &u);
    u.ds.shm_perm.mode = 0666;
    C(perm_id, IPC_SET, &u);
    C(perm_id, SHM_LOCK, NULL);
    C(perm_id, IPC_RMID, NULL); /* attached (inherited) keyed segment */
    C(perm_id2, IPC_RMID, NULL);
    G(K1, PG, IPC_CREAT | 0600);
    int own = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    S(own);
}

static void sc_perm_nonowner(void)
{
    perm_id = G(K1, PG, IPC_CREAT | 0600);
    perm_id2 = G(K2, PG, IPC_CREAT | 0444);
    A(perm_id, NULL, 0);
    in_child(perm_child, 1);
    S(perm_id);
    S(perm_id2);
    G(K1, 0, 0);
}

/* ---- shmat ------------------------------------------------------------ */

static void sc_at_basic(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    S(id);
    char *p = A(id, NULL, 0);
    S(id);
    if (p != (void *)-1) {
        p[0] = 42;
        out("write p[0]=42, read back %d", p[0]);
    }
    D(p, "p");
    S(id);
}

static void sc_at_bad_id(void)
{
    A(-1, NULL, 0);
    A(0, NULL, 0);
    A(12345, NULL, 0);
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    A(id + 1, NULL, 0);
    A(id + 32768, NULL, 0);
    A(INT_MAX, NULL, SHM_RDONLY);
    S(id);
}

static void sc_at_flags(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    char *p = A(id, NULL, SHM_RDONLY);
    if (p != (void *)-1)
        out("read p[0] = %d", p[0]);
    A(id, NULL, SHM_RDONLY | SHM_EXEC);
    A(id, NULL, SHM_EXEC);
    A(id, NULL, SHM_RND);
    A(id, NULL, SHM_REMAP);
    A(id, NULL, 0x7f000000);
    S(id);
    int ro = G(IPC_PRIVATE, PG, IPC_CREAT | 0400);
    A(ro, NULL, SHM_RDONLY);
    A(ro, NULL, 0);
    S(ro);
}

/* Reserve an aligned, inaccessible region as `base` for fixed addresses. */
static void reserve_base(void)
{
    size_t len = 1u << 20;
    char *r = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        harness_fail("mmap");
    uintptr_t b = ((uintptr_t)r + 0xffff) & ~(uintptr_t)0xffff;
    base = (char *)b;
    span = 256u << 10;
    out("reserved base (PROT_NONE)");
}

static void sc_at_fixed_addr(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    reserve_base();
    /* A hole of 64 KiB at base; the rest of the reservation stays mapped.
     * Nothing is mapped between the munmap and the shmat below. */
    if (munmap(base, 64u << 10) != 0)
        harness_fail("munmap");
    out("unmapped [base, base+0x10000)");
    A(id, base + 1, 0);
    A(id, base + 2048, 0);
    A(id, base + 1, SHM_RND);
    S(id);
    A(id, base, 0);
    A(id, base + 0x10000, 0);
    A(id, base + 0x10000 + 1, SHM_RND);
    A(id, base + 0x10000, SHM_REMAP);
    S(id);
    A(id, base, SHM_REMAP);
    S(id);
    A(id, (void *)1, SHM_RND | SHM_REMAP);
    D(base + 1, "base+0x1");
    D(base + PG, "base+0x1000");
    D(base, "base");
    D(base, "base");
    D(base + 0x10000, "base+0x10000");
    S(id);
}

/* ---- shmdt ------------------------------------------------------------ */

static void sc_dt_not_attached(void)
{
    int local = 0;
    D(NULL, "NULL");
    D((void *)1, "(void*)1");
    D(&local, "&stack");
    void *m = malloc(64);
    D(m, "malloc'd");
    free(m);
    D((void *)(uintptr_t)sc_dt_not_attached, "a function");
    char *mm = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mm == MAP_FAILED)
        harness_fail("mmap");
    D(mm, "an anonymous mapping");
    int id = G(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
    char *p = A(id, NULL, 0);
    D(p + PG, "p+0x1000");
    D(p + 1, "p+0x1");
    S(id);
}

static void sc_dt_twice(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    void *q = A(id, NULL, 0);
    S(id);
    D(p, "p");
    D(p, "p");
    S(id);
    D(q, "q");
    D(q, "q");
    S(id);
}

static void sc_dt_munmap(void)
{
    int id = G(IPC_PRIVATE, 3 * PG, IPC_CREAT | 0600);
    char *p = A(id, NULL, 0);
    if (p == (void *)-1)
        return;
    out("munmap(p+0x1000, 0x1000) = %d", munmap(p + PG, PG));
    S(id);
    D(p + 2 * PG, "p+0x2000");
    D(p, "p");
    S(id);
    D(p + 2 * PG, "p+0x2000");
    char *q = A(id, NULL, 0);
    out("munmap(q, 0x3000) = %d", munmap(q, 3 * PG));
    S(id);
    D(q, "q");
}

/* ---- IPC_RMID ----------------------------------------------------------- */

static void sc_rmid_private_unattached(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    C(id, IPC_RMID, NULL);
    S(id);
    C(id, IPC_RMID, NULL);
    A(id, NULL, 0);
    G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
}

static void sc_rmid_private_attached(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    C(id, IPC_RMID, NULL);
    S(id);
    C(id, IPC_RMID, NULL);
    void *q = A(id, NULL, 0); /* Linux lets a SHM_DEST segment be attached */
    S(id);
    D(p, "p");
    S(id);
    D(q, "q");
    S(id);
    C(id, IPC_RMID, NULL);
}

/* Keyed, nattch 0: the kernel destroys it at once, in every mode. */
static void sc_rmid_keyed_unattached(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
    C(id, IPC_RMID, NULL);
    G(K1, PG, IPC_CREAT | 0600);
}

static void sc_rmid_keyed_after_detach(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    D(p, "p");
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
}

/* Looked up again while attached, then detached and removed. */
static void sc_rmid_keyed_lookup_detach(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    G(K1, 0, 0);
    D(p, "p");
    S(id);
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
}

static void child_lookup(void) { G(K1, 0, 0); }

static void sc_rmid_keyed_child_lookup(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    D(p, "p");
    in_child(child_lookup, 1);
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
}

static void sc_rmid_keyed_child_lookup_noexit(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    D(p, "p");
    in_child(child_lookup, 0);
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
}

/* The one deliberate difference (defer mode): the removal of an attached
 * keyed segment is held back, so the key stays resolvable until the last
 * detach.  Bare, observe and off: the kernel turns the key into
 * IPC_PRIVATE at once. */
/* Removed by a process attached alone (its own attachment defers
 * nothing): as bare, the key is private at once and a new IPC_CREAT makes
 * a new segment. */
static void sc_rmid_keyed_self(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
    C(id, IPC_RMID, NULL);
    void *q = A(id, NULL, 0);
    S(id);
    D(p, "p");
    D(q, "q");
    S(id);
    G(K1, 0, 0);
    G(K1, PG, IPC_CREAT | 0600);
}

/* Removed while another process (a forked child, holding the inherited
 * attachment) is attached: the documented difference of defer mode (the
 * key stays resolvable); after the child's exit, the next call completes
 * the removal and both runs agree again. */
static void sc_rmid_keyed_attached(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    int go[2];
    if (pipe(go) != 0)
        harness_fail("pipe");
    pid_t c = fork();
    if (c < 0)
        harness_fail("fork");
    if (c == 0) { /* silent: holds the inherited attachment until told */
        char b;
        close(go[1]);
        ssize_t n = read(go[0], &b, 1);
        _exit(n < 0);
    }
    close(go[0]);
    D(p, "p");
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
    C(id, IPC_RMID, NULL);
    close(go[1]);
    int st;
    if (waitpid(c, &st, 0) != c)
        harness_fail("waitpid");
    out("holder exited");
    S(id);
    G(K1, 0, 0);
    G(K1, PG, IPC_CREAT | 0600);
}

/* A child looks the key up, attaches, removes and leaves without detaching
 * (exit() runs the library's destructor): the removal is complete once it
 * is gone, in every mode.  The parent attached and detached first, so it
 * is not itself between a shmget and a shmat. */
static int ck_id;

static void child_lookup_attach_rmid(void)
{
    int id = G(K1, 0, 0);
    A(id, NULL, 0);
    C(id, IPC_RMID, NULL);
}

static void sc_rmid_keyed_child_exit(void)
{
    ck_id = G(K1, PG, IPC_CREAT | 0600);
    D(A(ck_id, NULL, 0), "p");
    in_child(child_lookup_attach_rmid, 1);
    S(ck_id);
    G(K1, 0, 0);
    G(K1, PG, IPC_CREAT | 0600);
}

/* The same, but the child is killed with SIGKILL after its IPC_RMID. */
static void sc_rmid_keyed_child_killed(void)
{
    ck_id = G(K1, PG, IPC_CREAT | 0600);
    D(A(ck_id, NULL, 0), "p");
    int up[2], down[2];
    if (pipe(up) || pipe(down))
        harness_fail("pipe");
    pid_t p = fork();
    if (p < 0)
        harness_fail("fork");
    if (p == 0) {
        prefix = "child: ";
        close(up[0]);
        close(down[1]);
        child_lookup_attach_rmid();
        char c = 1;
        if (write(up[1], &c, 1) != 1)
            _exit(4);
        while (read(down[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    child_pid = p;
    close(up[1]);
    close(down[0]);
    char c;
    if (read(up[0], &c, 1) != 1)
        harness_fail("read from child");
    kill(p, SIGKILL);
    int st;
    waitpid(p, &st, 0);
    out("child killed: %s", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "SIGKILL" : "??");
    close(up[0]);
    close(down[1]);
    S(ck_id);
    G(K1, 0, 0);
}

/* As rmid_keyed_child_killed, but the parent makes a harmless call
 * (IPC_INFO) while the child is still attached; then the child, the last
 * attacher, goes away without running any library code: killed by
 * SIGKILL, or by exec'ing /bin/true.  The kernel destroys the segment at
 * that moment, so the parent's very next calls find it gone. */
static void rmid_child_gone_after_call(int by_exec)
{
    ck_id = G(K1, PG, IPC_CREAT | 0600);
    D(A(ck_id, NULL, 0), "p");
    int up[2], down[2];
    if (pipe(up) || pipe(down))
        harness_fail("pipe");
    pid_t p = fork();
    if (p < 0)
        harness_fail("fork");
    if (p == 0) {
        prefix = "child: ";
        close(up[0]);
        close(down[1]);
        child_lookup_attach_rmid();
        char c = 1;
        if (write(up[1], &c, 1) != 1)
            _exit(4);
        while (read(down[0], &c, 1) < 0 && errno == EINTR)
            ;
        if (by_exec) {
            execl("/bin/true", "true", (char *)NULL);
            out("exec /bin/true failed: %s", ename(errno));
        }
        _exit(0);
    }
    child_pid = p;
    close(up[1]);
    close(down[0]);
    char c = 1;
    if (read(up[0], &c, 1) != 1)
        harness_fail("read from child");
    union ctlbuf u;
    C(0, IPC_INFO, &u);
    if (by_exec) {
        if (write(down[1], &c, 1) != 1)
            harness_fail("write to child");
    } else {
        kill(p, SIGKILL);
    }
    int st;
    waitpid(p, &st, 0);
    S(ck_id);
    G(K1, 0, 0);
    out("child gone: %s", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "SIGKILL"
                          : WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "exit 0" : "??");
    close(up[0]);
    close(down[1]);
}

static void sc_rmid_keyed_killed_after_call(void) { rmid_child_gone_after_call(0); }
static void sc_rmid_keyed_exec_after_call(void) { rmid_child_gone_after_call(1); }

/* The last attachment of a removed keyed segment goes away without shmdt:
 * munmap(), or shmat(SHM_REMAP) of another segment over it.  Nothing is
 * printed while the removal may be pending (that window is the one
 * deliberate difference); afterwards the segment is gone in every mode. */
static void sc_rmid_keyed_munmap(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    void *p = A(id, NULL, 0);
    C(id, IPC_RMID, NULL);
    out("munmap(p, 0x1000) = %d", munmap(p, PG));
    S(id);
    G(K1, 0, 0);
}

static void sc_rmid_keyed_remap(void)
{
    int other = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    int id = G(K1, PG, IPC_CREAT | 0600);
    reserve_base();
    if (munmap(base, 64u << 10) != 0)
        harness_fail("munmap");
    out("unmapped [base, base+0x10000)");
    A(id, base, 0);
    C(id, IPC_RMID, NULL);
    A(other, base, SHM_REMAP);
    S(id);
    G(K1, 0, 0);
    S(other);
}

/* Many keyed segments created (and never attached) by this process, then
 * the removal of an unattached keyed segment: immediate for the kernel. */
#define NMANY 300
static void sc_rmid_keyed_after_many_gets(void)
{
    int ok = 0;
    for (int i = 0; i < NMANY; i++) {
        errno = SENTINEL;
        int r = shmget((key_t)(0x5eed1000 + i), PG, IPC_CREAT | 0600);
        ok += r >= 0 && errno == SENTINEL;
    }
    out("%d x shmget(key=0x5eed1000+i,4096,IPC_CREAT|0600): %d succeeded, errno kept", NMANY, ok);
    int id = G(K1, PG, IPC_CREAT | 0600);
    D(A(id, NULL, 0), "p");
    C(id, IPC_RMID, NULL);
    S(id);
    G(K1, 0, 0);
    G(K1, PG, IPC_CREAT | 0600);
}

/* ---- other shmctl commands -------------------------------------------- */

static void sc_ctl_set(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    union ctlbuf u;
    memset(&u, 0, sizeof u);
    C(id, IPC_STAT, &u);
    u.ds.shm_perm.mode = 0640;
    C(id, IPC_SET, &u);
    S(id);
    u.ds.shm_perm.mode = 07777;
    C(id, IPC_SET, &u);
    S(id);
    u.ds.shm_perm.uid = 65534;
    u.ds.shm_perm.gid = 65534;
    C(id, IPC_SET, &u);
    S(id);
    u.ds.shm_perm.uid = (uid_t)-1;
    C(id, IPC_SET, &u);
    u.ds.shm_perm.uid = 0;
    u.ds.shm_perm.gid = 0;
    u.ds.shm_perm.mode = 0600;
    C(id, IPC_SET, &u);
    S(id);
    C(id, IPC_SET, NULL);
    C(id + 1, IPC_SET, &u);
}

static void sc_ctl_lock(void)
{
    int id = G(K1, PG, IPC_CREAT | 0600);
    C(id, SHM_LOCK, NULL);
    S(id);
    C(id, SHM_LOCK, NULL);
    C(id, SHM_UNLOCK, NULL);
    S(id);
    C(id, SHM_UNLOCK, NULL);
    C(id + 1, SHM_LOCK, NULL);
    C(-1, SHM_UNLOCK, NULL);
}

static void sc_ctl_info(void)
{
    union ctlbuf u;
    memset(&u, 0, sizeof u);
    C(0, IPC_INFO, &u);
    C(0, SHM_INFO, &u);
    G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    int id = G(K1, 3 * PG, IPC_CREAT | 0600);
    A(id, NULL, 0);
    C(0, IPC_INFO, &u);
    C(0, SHM_INFO, &u);
    C(12345, IPC_INFO, &u);
    C(-1, SHM_INFO, &u);
    C(0, IPC_INFO, NULL);
    C(0, SHM_INFO, NULL);
}

static void sc_ctl_shm_stat(void)
{
    union ctlbuf u;
    memset(&u, 0, sizeof u);
    C(0, SHM_STAT, &u);
    int a = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    G(K1, 2 * PG, IPC_CREAT | 0000);
    C(0, SHM_STAT, &u);
    C(1, SHM_STAT, &u);
    C(2, SHM_STAT, &u);
    C(1, SHM_STAT_ANY, &u);
    C(-1, SHM_STAT, &u);
    C(0, SHM_STAT, NULL);
    C(a, IPC_RMID, NULL);
    C(0, SHM_STAT, &u);
    G(IPC_PRIVATE, 3 * PG, IPC_CREAT | 0600);
    C(0, SHM_STAT, &u);
    C(2, SHM_STAT_ANY, &u);
}

static void sc_ctl_bad(void)
{
    int id = G(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    union ctlbuf u;
    memset(&u, 0, sizeof u);
    C(id, 12345, &u);
    C(id, -1, &u);
    C(id, 99, NULL);
    C(-1, IPC_STAT, &u);
    C(id + 1, IPC_STAT, &u);
    C(id + 32768, IPC_STAT, &u);
    C(id, IPC_STAT, NULL);
    C(id, IPC_SET, NULL);
    C(-1, IPC_RMID, NULL);
    C(12345, IPC_RMID, NULL);
    C(id + 32768, IPC_RMID, NULL);
    C(id, IPC_RMID | 0x100, NULL);
    S(id);
}

/* ---- fork and exec ---------------------------------------------------- */

static int fk_id;
static void *fk_p;

static void child_detach(void)
{
    S(fk_id);
    D(fk_p, "p (inherited)");
    S(fk_id);
    D(fk_p, "p (inherited)");
}

static void sc_fork_child_detach(void)
{
    fk_id = G(K1, PG, IPC_CREAT | 0600);
    fk_p = A(fk_id, NULL, 0);
    S(fk_id);
    in_child(child_detach, 1);
    S(fk_id);
    D(fk_p, "p");
    S(fk_id);
}

static void child_attach_and_leave(void)
{
    A(fk_id, NULL, 0);
    S(fk_id);
}

static void sc_fork_child_exit(void)
{
    fk_id = G(K1, PG, IPC_CREAT | 0600);
    fk_p = A(fk_id, NULL, 0);
    in_child(child_attach_and_leave, 1); /* exit(): destructors run */
    S(fk_id);
    in_child(child_attach_and_leave, 0); /* _exit() */
    S(fk_id);
}

static void sc_fork_child_sigkill(void)
{
    fk_id = G(K1, PG, IPC_CREAT | 0600);
    fk_p = A(fk_id, NULL, 0);
    int up[2], down[2];
    if (pipe(up) || pipe(down))
        harness_fail("pipe");
    pid_t p = fork();
    if (p < 0)
        harness_fail("fork");
    if (p == 0) {
        prefix = "child: ";
        close(up[0]);
        close(down[1]);
        A(fk_id, NULL, 0);
        S(fk_id);
        char c = 1;
        if (write(up[1], &c, 1) != 1)
            _exit(4);
        /* Blocks until killed: the parent never writes. */
        while (read(down[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    child_pid = p;
    close(up[1]);
    close(down[0]);
    char c;
    if (read(up[0], &c, 1) != 1)
        harness_fail("read from child");
    S(fk_id);
    kill(p, SIGKILL);
    int st;
    waitpid(p, &st, 0);
    out("child killed: %s", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "SIGKILL" : "??");
    close(up[0]);
    close(down[1]);
    S(fk_id);
    D(fk_p, "p");
    S(fk_id);
}

static void child_exec_true(void)
{
    execl("/bin/true", "true", (char *)NULL);
    out("exec /bin/true failed: %s", ename(errno));
}

static void child_exec_self(void)
{
    execl("/proc/self/exe", "helper_seqrun", "--after-exec", (char *)NULL);
    out("exec self failed: %s", ename(errno));
}

/* What the re-executed helper does (scenario exec_self). */
static void after_exec(void)
{
    prefix = "exec'd child: ";
    int id = G(K1, 0, 0);
    S(id);
    void *p = A(id, NULL, 0);
    S(id);
    D(p, "p");
    S(id);
}

static void sc_exec_true(void)
{
    fk_id = G(K1, PG, IPC_CREAT | 0600);
    fk_p = A(fk_id, NULL, 0);
    in_child(child_exec_true, 0);
    S(fk_id);
    D(fk_p, "p");
    S(fk_id);
}

static void sc_exec_self(void)
{
    fk_id = G(K1, PG, IPC_CREAT | 0600);
    fk_p = A(fk_id, NULL, 0);
    in_child(child_exec_self, 0);
    S(fk_id);
    D(fk_p, "p");
    S(fk_id);
}

/* ---- threads ------------------------------------------------------------ */

#define NTHREADS 8
#define NITER 200

static pthread_barrier_t bar;
static int th_id;
static _Atomic int th_fail, th_errno_changed;
static void *th_keep[NTHREADS];
static int th_got[NTHREADS];

static void *thread_atdt(void *arg)
{
    int k = (int)(intptr_t)arg;
    pthread_barrier_wait(&bar);
    for (int i = 0; i < NITER; i++) {
        errno = SENTINEL;
        void *p = shmat(th_id, NULL, 0);
        if (p == (void *)-1) {
            th_fail++;
            continue;
        }
        if (errno != SENTINEL)
            th_errno_changed++;
        errno = SENTINEL;
        if (shmdt(p) != 0)
            th_fail++;
        else if (errno != SENTINEL)
            th_errno_changed++;
    }
    errno = SENTINEL;
    th_keep[k] = shmat(th_id, NULL, k % 2 ? SHM_RDONLY : 0);
    if (th_keep[k] == (void *)-1)
        th_fail++;
    else if (errno != SENTINEL)
        th_errno_changed++;
    pthread_barrier_wait(&bar); /* main looks at nattch now */
    pthread_barrier_wait(&bar);
    return NULL;
}

static void start_threads(void *(*fn)(void *), pthread_t *t)
{
    if (pthread_barrier_init(&bar, NULL, NTHREADS + 1))
        harness_fail("pthread_barrier_init");
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i))
            harness_fail("pthread_create");
}

static void sc_threads_at_dt(void)
{
    th_id = G(K1, PG, IPC_CREAT | 0600);
    pthread_t t[NTHREADS];
    start_threads(thread_atdt, t);
    pthread_barrier_wait(&bar); /* go */
    pthread_barrier_wait(&bar); /* every thread holds one attachment */
    S(th_id);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    out("threads: %d x %d shmat/shmdt: failures=%d errno-changed=%d", NTHREADS, NITER,
        (int)th_fail, (int)th_errno_changed);
    int bad = 0;
    for (int i = 0; i < NTHREADS; i++) {
        errno = SENTINEL;
        if (th_keep[i] != (void *)-1 && (shmdt(th_keep[i]) != 0 || errno != SENTINEL))
            bad++;
    }
    out("main: detached the %d kept attachments: failures=%d", NTHREADS, bad);
    S(th_id);
}

static void *thread_get(void *arg)
{
    int k = (int)(intptr_t)arg;
    pthread_barrier_wait(&bar);
    errno = SENTINEL;
    th_got[k] = shmget(K2, PG, IPC_CREAT | 0600);
    if (th_got[k] >= 0 && errno != SENTINEL)
        th_errno_changed++;
    void *p = shmat(th_got[k], NULL, 0);
    if (p == (void *)-1)
        th_fail++;
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    return NULL;
}

static void sc_threads_get(void)
{
    pthread_t t[NTHREADS];
    th_fail = th_errno_changed = 0;
    start_threads(thread_get, t);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    int same = 1;
    for (int i = 1; i < NTHREADS; i++)
        same &= th_got[i] == th_got[0];
    out("threads: %d concurrent shmget(key=%s,IPC_CREAT): ids %s (%d), attach failures=%d "
        "errno-changed=%d",
        NTHREADS, keyname(K2), same ? "all equal" : "DIFFER", th_got[0], (int)th_fail,
        (int)th_errno_changed);
    S(th_got[0]);
    G(K2, 0, 0);
}

#define NFORKS 16
static _Atomic int th_stop;
static _Atomic int th_cycles; /* completed shmat/shmdt pairs */

static void *thread_hammer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&bar);
    while (!th_stop) {
        errno = SENTINEL;
        void *p = shmat(th_id, NULL, 0);
        if (p == (void *)-1) {
            th_fail++;
            continue;
        }
        if (errno != SENTINEL)
            th_errno_changed++;
        if (shmdt(p) != 0)
            th_fail++;
        th_cycles++;
    }
    return NULL;
}

/* fork() from a program whose other threads are inside the hooks. */
static void sc_threads_fork(void)
{
    th_id = G(K1, PG, IPC_CREAT | 0600);
    void *mine = A(th_id, NULL, 0);
    th_fail = th_errno_changed = 0;
    pthread_t t[NTHREADS];
    start_threads(thread_hammer, t);
    pthread_barrier_wait(&bar);
    int child_bad = 0;
    for (int i = 0; i < NFORKS; i++) {
        pid_t p = fork();
        if (p < 0)
            harness_fail("fork");
        if (p == 0) {
            /* Child: only this thread exists; it inherited `mine`. */
            lsan_off = 1;
            int bad = 0;
            errno = SENTINEL;
            void *q = shmat(th_id, NULL, 0);
            if (q == (void *)-1 || errno != SENTINEL)
                bad = 1;
            else if (shmdt(q) != 0 || errno != SENTINEL)
                bad = 1;
            if (shmdt(mine) != 0 || errno != SENTINEL)
                bad = 1;
            if (i % 2)
                exit(bad);
            _exit(bad);
        }
        int st;
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            child_bad++;
    }
    th_stop = 1;
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    out("%d forks while %d threads ran shmat/shmdt: failing children=%d, thread failures=%d "
        "errno-changed=%d",
        NFORKS, NTHREADS, child_bad, (int)th_fail, (int)th_errno_changed);
    S(th_id);
    D(mine, "mine");
    S(th_id);
}

/* exit() (library destructors run) while other threads are inside
 * shmat/shmdt: the program must still exit normally, and the kernel
 * detaches what those threads held. */
static void child_exit_while_busy(void)
{
    th_stop = 0;
    pthread_t t[NTHREADS];
    th_cycles = 0;
    start_threads(thread_hammer, t);
    pthread_barrier_wait(&bar);
    /* At least one pair done (so the segment's times and last pid are the
     * same in every run, however the threads are scheduled), then
     * in_child() calls exit(0) with the threads still running. */
    while (th_cycles < 1)
        sched_yield();
}

static void sc_threads_exit_busy(void)
{
    th_id = G(K1, PG, IPC_CREAT | 0600);
    in_child(child_exit_while_busy, 1);
    S(th_id);
    void *p = A(th_id, NULL, 0);
    D(p, "p");
    S(th_id);
}

/* ---- table ---------------------------------------------------------------- */

static const struct scenario {
    const char *name;
    void (*fn)(void);
    int diag; /* hits a limit the library may write a diagnostic about */
} scenarios[] = {
    { "get_create", sc_get_create, 0 },
    { "get_lookup", sc_get_lookup, 0 },
    { "get_enoent", sc_get_enoent, 0 },
    { "get_eexist", sc_get_eexist, 0 },
    { "get_size_larger", sc_get_size_larger, 1 },
    { "get_size_zero", sc_get_size_zero, 1 },
    { "get_size_shmmax", sc_get_size_shmmax, 1 },
    { "get_enospc_shmmni", sc_get_enospc_shmmni, 1 },
    { "get_enospc_shmall", sc_get_enospc_shmall, 1 },
    { "get_flags", sc_get_flags, 0 },
    { "get_private_multi", sc_get_private_multi, 0 },
    { "get_recreate", sc_get_recreate, 0 },
    { "perm_nonowner", sc_perm_nonowner, 0 },
    { "at_basic", sc_at_basic, 0 },
    { "at_bad_id", sc_at_bad_id, 0 },
    { "at_flags", sc_at_flags, 0 },
    { "at_fixed_addr", sc_at_fixed_addr, 0 },
    { "dt_not_attached", sc_dt_not_attached, 0 },
    { "dt_twice", sc_dt_twice, 0 },
    { "dt_munmap", sc_dt_munmap, 0 },
    { "rmid_private_unattached", sc_rmid_private_unattached, 0 },
    { "rmid_private_attached", sc_rmid_private_attached, 0 },
    { "rmid_keyed_unattached", sc_rmid_keyed_unattached, 0 },
    { "rmid_keyed_after_detach", sc_rmid_keyed_after_detach, 0 },
    { "rmid_keyed_lookup_detach", sc_rmid_keyed_lookup_detach, 0 },
    { "rmid_keyed_child_lookup", sc_rmid_keyed_child_lookup, 0 },
    { "rmid_keyed_child_lookup_noexit", sc_rmid_keyed_child_lookup_noexit, 0 },
    { "rmid_keyed_child_exit", sc_rmid_keyed_child_exit, 0 },
    { "rmid_keyed_child_killed", sc_rmid_keyed_child_killed, 0 },
    { "rmid_keyed_munmap", sc_rmid_keyed_munmap, 0 },
    { "rmid_keyed_remap", sc_rmid_keyed_remap, 0 },
    { "rmid_keyed_killed_after_call", sc_rmid_keyed_killed_after_call, 0 },
    { "rmid_keyed_exec_after_call", sc_rmid_keyed_exec_after_call, 0 },
    { "rmid_keyed_after_many_gets", sc_rmid_keyed_after_many_gets, 0 },
    { "rmid_keyed_self", sc_rmid_keyed_self, 0 },
    { "rmid_keyed_attached", sc_rmid_keyed_attached, 0 },
    { "ctl_set", sc_ctl_set, 0 },
    { "ctl_lock", sc_ctl_lock, 0 },
    { "ctl_info", sc_ctl_info, 0 },
    { "ctl_shm_stat", sc_ctl_shm_stat, 0 },
    { "ctl_bad", sc_ctl_bad, 0 },
    { "fork_child_detach", sc_fork_child_detach, 0 },
    { "fork_child_exit", sc_fork_child_exit, 0 },
    { "fork_child_sigkill", sc_fork_child_sigkill, 0 },
    { "exec_true", sc_exec_true, 0 },
    { "exec_self", sc_exec_self, 0 },
    { "threads_at_dt", sc_threads_at_dt, 0 },
    { "threads_get", sc_threads_get, 0 },
    { "threads_fork", sc_threads_fork, 0 },
    { "threads_exit_busy", sc_threads_exit_busy, 0 },
    { "sem_get", sc_sem_get, 1 },
    { "sem_ops", sc_sem_ops, 0 },
    { "sem_fork", sc_sem_fork, 0 },
    { "sem_enospc", sc_sem_enospc, 1 },
    { "msg_get", sc_msg_get, 0 },
    { "msg_ops", sc_msg_ops, 0 },
    { "msg_fork", sc_msg_fork, 0 },
    { "msg_enospc", sc_msg_enospc, 1 },
};

/* 1 if this process's IPC namespace is not its parent's (or, when the
 * parent's cannot be read, if the namespace holds no segments). */
static int private_namespace(void)
{
    char mine[64], theirs[64], path[64];
    ssize_t a = readlink("/proc/self/ns/ipc", mine, sizeof mine - 1);
    snprintf(path, sizeof path, "/proc/%d/ns/ipc", (int)getppid());
    ssize_t b = readlink(path, theirs, sizeof theirs - 1);
    if (a > 0 && b > 0) {
        mine[a] = theirs[b] = '\0';
        return strcmp(mine, theirs) != 0;
    }
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    if (!f)
        return 0;
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    return lines <= 1;
}

int main(int argc, char **argv)
{
    size_t n = sizeof scenarios / sizeof scenarios[0];
    if (argc == 2 && (!strcmp(argv[1], "--list") || !strcmp(argv[1], "--list-diag"))) {
        int diag_only = !strcmp(argv[1], "--list-diag");
        for (size_t i = 0; i < n; i++)
            if (!diag_only || scenarios[i].diag)
                printf("%s\n", scenarios[i].name);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--after-exec")) {
        after_exec();
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: helper_seqrun NAME | --list | --list-diag\n");
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], scenarios[i].name) != 0)
            continue;
        if (!private_namespace()) {
            fprintf(stderr, "helper_seqrun: run me in a fresh IPC namespace "
                            "(unshare --ipc); I change its limits\n");
            return 3;
        }
        out("scenario %s", scenarios[i].name);
        scenarios[i].fn();
        out("end");
        return 0;
    }
    fprintf(stderr, "helper_seqrun: no scenario %s (see --list)\n", argv[1]);
    return 2;
}
