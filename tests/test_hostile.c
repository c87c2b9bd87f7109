/*
 * test_hostile.c - another local user attacks the ledger directory (SPEC,
 * "Security").
 *
 * uid 65534 (the attacker, a forked child that dropped root) may write
 * whatever bytes into every ledger file it can open, and plant files,
 * FIFOs, directories and symlinks under the names root's ledger takes, in
 * the sticky directory they share.  Each round it does one of those
 * things; then root works there: a carrier process under the library
 * (helper_calls, once with the segment limit reached so that the ENOSPC
 * diagnosis reads every ledger), and the tool's ls, ledger, ledger
 * --check, doctor and gc.  After every round:
 *   - no root process crashed or hung (exit status, never a signal);
 *   - root's two victim segments are still there: one in use, one idle
 *     whose creator is alive, mode 0666 (the attacker may attach it but
 *     not remove it; it tries, under the library too);
 *   - the file that the attacker's symlinks point to is unchanged;
 *   - root's ledger is a regular file owned by root, one link, never
 *     another user's file or a symlink.
 * The attacker's writes: random bytes; a copy of root's ledger forged to
 * call every segment orphaned and pending removal (a valid image: only
 * its owner gives it away); that forgery with random bytes changed;
 * truncations; and the same under root's fallback names.
 *
 * test_secure_exec: a set-user-ID copy of helper_setuid, run by uid
 * 65534 with SHMGUARD_LEDGER, SHMGUARD_LOG, SHMGUARD_MODE=off pointing
 * at the attacker's files, must use the defaults (the ledger in
 * /dev/shm/shmguard, a private tmpfs here); a plain copy run the same
 * way shows that the same environment is otherwise obeyed.
 *
 * test_queues: message queues.  What uid 65534 records (a live lookup of
 * root's queue) keeps that queue alive for root's gc; what it forges in
 * its own ledger (root's queues "created" by a dead process) makes none
 * of them removable; its IPC_RMID under the library fails as bare.
 *
 * All need root and uid 65534 (skipped otherwise).
 */
#include "sgtest.h"
#include "sg_pidns.h"

#include <dirent.h>
#include <grp.h>
#include <pthread.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/wait.h>

#define ATTACKER 65534
#define ROUNDS 40

static char dir[PATH_MAX], precious[PATH_MAX + 32];
static uint64_t ns;
static int v_inuse = -1, v_idle = -1;
static pid_t holder;
static struct sgt_result res;
static unsigned long n_writes, n_plants, n_root_runs;
static int cur_round = -1; /* for messages */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The environment of a process under the library, recording in dir. */
static char **lib_env(void)
{
    static char preload[PATH_MAX + 32], ledger[PATH_MAX + 32];
    static char *env[] = { preload, ledger, NULL };
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    return env;
}

static void ledger_path(char *buf, size_t n, uid_t uid, int alt)
{
    char name[128];
    sg_ledger_name(name, sizeof name, ns, uid, alt);
    snprintf(buf, n, "%s/%s", dir, name);
}

/* ---- the attacker ------------------------------------------------------ */

static void drop_to_attacker(void)
{
    if (setgroups(0, NULL) != 0 || setresgid(ATTACKER, ATTACKER, ATTACKER) != 0 ||
        setresuid(ATTACKER, ATTACKER, ATTACKER) != 0)
        _exit(20);
}

/* A copy of root's ledger that says every segment is orphaned (creator
 * dead) and pending removal: a valid image, owned by the attacker.  NULL
 * if root's cannot be read. */
static unsigned char *forged(size_t *len)
{
    char path[PATH_MAX + 200], err[512];
    ledger_path(path, sizeof path, 0, 0);
    struct sg_ledger L;
    if (sg_ledger_load(&L, path, ns, err, sizeof err) != 0)
        return NULL;
    unsigned char *img = malloc(L.len);
    memcpy(img, L.base, L.len);
    *len = L.len;
    struct sg_hdr *h = (struct sg_hdr *)img;
    struct sg_seg *seg = (struct sg_seg *)(img + h->seg_off);
    struct sg_pend *pend = (struct sg_pend *)(img + h->pend_off);
    uint32_t np = 0;
    for (uint32_t i = 0; i < h->seg_cap; i++) {
        if (seg[i].state != SG_REC_LIVE)
            continue;
        seg[i].flags |= SG_SEG_CREATOR | SG_SEG_PENDING;
        seg[i].cr_pid = seg[i].rm_pid = 4190000;
        seg[i].cr_start = seg[i].rm_start = 1;
        seg[i].rm_uid = 0;
        if (np < h->pend_cap) {
            pend[np].kind = seg[i].kind;
            pend[np].id = seg[i].id;
            np++;
        }
    }
    h->pending = np;
    sg_ledger_close(&L);
    return img;
}

static int write_all(const char *path, const void *p, size_t n)
{
    /* O_NONBLOCK: the name may be the FIFO planted in an earlier round. */
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ftruncate(fd, 0) != 0) {
        close(fd);
        return -1;
    }
    const unsigned char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n > (1u << 20) ? 1u << 20 : n);
        if (w <= 0)
            break;
        b += w;
        n -= (size_t)w;
    }
    close(fd);
    return 0;
}

/* One round of the attacker, as uid 65534.  Exit status 0; 10 if it could
 * open somebody else's ledger for writing, 11 if it could remove root's
 * idle segment itself (then the test would prove nothing). */
static void attack(int round)
{
    drop_to_attacker();
    /* Every file it can open for writing gets bytes: only its own may. */
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        int fd = open(p, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid != ATTACKER)
            _exit(10);
        close(fd);
    }
    if (d)
        closedir(d);
    if (shmctl(v_idle, IPC_RMID, NULL) == 0)
        _exit(11);

    /* Its writes: into its own ledger and under root's fallback names. */
    char own[PATH_MAX + 200], alt[PATH_MAX + 200];
    ledger_path(own, sizeof own, ATTACKER, 0);
    ledger_path(alt, sizeof alt, 0, 1 + round % 3);
    size_t len = 0;
    unsigned char *img = forged(&len);
    int kind = round % 5;
    if (!img || kind == 0) {
        free(img);
        len = rnd() % 70000;
        img = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            img[i] = (unsigned char)rnd();
    } else if (kind == 2) {
        for (int k = 1 + (int)(rnd() % 16); k > 0; k--)
            img[rnd() % (rnd() % 2 ? 65536 : len)] = (unsigned char)rnd();
    } else if (kind == 3) {
        len = rnd() % len;
    } else if (kind == 4) {
        /* Header fields that the tool prints or sizes buffers by. */
        struct sg_hdr *h = (struct sg_hdr *)img;
        h->ev_total = (uint32_t)rnd();
        h->seg_live = (uint32_t)rnd();
        h->att_live = (uint32_t)rnd();
        h->generation = rnd() | 1;
    }
    write_all(own, img, len);
    write_all(alt, img, len);
    free(img);

    /* Plants under root's names: a symlink to the precious file, a FIFO
     * and a directory (each name, if nothing holds it yet). */
    char p1[PATH_MAX + 200], p2[PATH_MAX + 200], p3[PATH_MAX + 200];
    ledger_path(p1, sizeof p1, 0, 1);
    ledger_path(p2, sizeof p2, 0, 2);
    ledger_path(p3, sizeof p3, 0, 3);
    switch (round % 3) {
    case 0:
        unlink(p1);
        if (symlink(precious, p1) != 0)
            _exit(21);
        break;
    case 1:
        unlink(p2);
        if (mkfifo(p2, 0666) != 0)
            _exit(22);
        break;
    default:
        rmdir(p3);
        unlink(p3);
        if (mkdir(p3, 0777) != 0)
            _exit(23);
        break;
    }
    _exit(0);
}

static void run_attacker(int round)
{
    rnd();
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0)
        attack(round);
    int st;
    assert_int_equal(waitpid(c, &st, 0), c);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("round %d: the attacker ended with status %d (10: it could write another "
                 "user's ledger; 11: it could remove root's segment)",
                 round, st);
    n_writes += 2;
    n_plants += 1;
}

/* ---- root's side ----------------------------------------------------- */

static void expect_no_signal(const char *what)
{
    n_root_runs++;
    if (res.status == -1 || !WIFEXITED(res.status))
        fail_msg("round %d: %s as root did not exit normally (status %d); stdout:\n%s\nstderr:\n%s",
                 cur_round, what, res.status, res.out, res.err);
}

static void root_carrier(int at_limit)
{
    char preload[PATH_MAX + 32], ledger[PATH_MAX + 32];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    char *env[] = { preload, ledger, "SHMGUARD_MODE=defer", "SHMGUARD_LOG=", NULL };
    /* At the limit, helper_calls would write through its failed shmat:
     * a single create, from helper_step, instead. */
    char step[PATH_MAX + 64];
    snprintf(step, sizeof step, "echo 'get 0x48000009 create' | %s", SGT_HELPER("helper_step"));
    char *calls[] = { (char *)SGT_HELPER("helper_calls"), "q", NULL };
    char *one[] = { "sh", "-c", step, NULL };
    char **argv = at_limit ? one : calls;
    FILE *f = NULL;
    char old[64] = "";
    if (at_limit) {
        /* kernel.shmmni at the number in use: the next create gets ENOSPC,
         * and the library reads every ledger to explain it. */
        f = fopen("/proc/sys/kernel/shmmni", "r+");
        assert_non_null(f);
        assert_non_null(fgets(old, sizeof old, f));
        struct sg_ksnap s;
        assert_int_equal(sg_ksnap_read(&s), 0);
        rewind(f);
        fprintf(f, "%zu\n", s.n);
        fflush(f);
        sg_ksnap_free(&s);
    }
    sgt_run(&res, argv, env, 60);
    if (f) {
        rewind(f);
        fputs(old, f);
        fclose(f);
    }
    expect_no_signal("the carrier");
    if (at_limit) {
        ASSERT_HAS(res.out, "err 28");
        ASSERT_HAS(res.err, "kernel.shmmni");
    }
}

static void root_tool(const char *sub, const char *a1, const char *a2)
{
    char dirarg[PATH_MAX + 16];
    snprintf(dirarg, sizeof dirarg, "--dir=%s", dir);
    char *argv[] = { (char *)SGT_TOOL, (char *)sub, dirarg, (char *)a1, (char *)a2, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
    char what[64];
    snprintf(what, sizeof what, "shmguard %s", sub);
    expect_no_signal(what);
}

/* Both victims exist and the symlinks' target is unchanged. */
static void victims_intact(int round)
{
    if (!sgt_shm_exists(v_inuse) || !sgt_shm_exists(v_idle))
        fail_msg("round %d: root's segment %d (in use) or %d (idle) is gone", round, v_inuse,
                 v_idle);
    char buf[64] = "";
    FILE *f = fopen(precious, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, "precious\n");
}

static void check_invariants(int round)
{
    victims_intact(round);
    /* Root's ledger: whichever name it took, a plain file of its own. */
    int found = 0;
    for (int alt = 0; alt < 4; alt++) {
        char p[PATH_MAX + 200];
        ledger_path(p, sizeof p, 0, alt);
        struct stat st;
        if (lstat(p, &st) != 0 || st.st_uid != 0)
            continue;
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || (st.st_mode & 022))
            fail_msg("round %d: %s is root's but not a plain private file", round, p);
        found++;
    }
    assert_true(found >= 1);
}

static int setup(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        return 0;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    ns = sg_ipcns_ino();
    snprintf(precious, sizeof precious, "%s/../sgtest-precious.%d", dir, (int)getpid());
    FILE *f = fopen(precious, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    v_inuse = shmget(0x48000001, 4096, IPC_CREAT | 0600);
    v_idle = shmget(0x48000002, 4096, IPC_CREAT | 0666);
    assert_true(v_inuse >= 0 && v_idle >= 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    holder = fork();
    if (holder == 0) {
        close(p[0]);
        if (shmat(v_inuse, NULL, 0) == (void *)-1)
            _exit(1);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    char x;
    assert_int_equal(read(p[0], &x, 1), 1);
    close(p[0]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (holder > 0) {
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
    }
    sgt_clear_ipc();
    if (dir[0])
        sgt_rmdir(dir);
    if (precious[0])
        unlink(precious);
    return 0;
}

static void test_attacker_rounds(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    /* Root's ledger exists before the attack (the attacker forges copies
     * of it), and the attacker has a ledger of its own. */
    root_carrier(0);
    assert_true(sgt_exited(&res, 0));
    for (int round = 0; round < ROUNDS; round++) {
        cur_round = round;
        run_attacker(round);
        /* Every 8th: the library's limit diagnosis (5 in all, its burst
         * of messages per ledger). */
        root_carrier(round % 8 == 7);
        root_tool("ls", NULL, NULL);
        root_tool("ls", "--json", NULL);
        root_tool("ledger", "--all", NULL);
        root_tool("ledger", "--check", NULL);
        root_tool("doctor", NULL, NULL);
        root_tool("gc", NULL, NULL);
        check_invariants(round);
    }
    /* The attacker under the library: it may attach root's 0666 segment,
     * and its IPC_RMID must fail as bare (EPERM), not be deferred. */
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd,
             "printf 'at %d\\nrmid %d\\ndt %d\\nexit\\n' | setpriv --reuid=%d --regid=%d "
             "--clear-groups env LD_PRELOAD=%s SHMGUARD_LEDGER=%s %s",
             v_idle, v_idle, v_idle, ATTACKER, ATTACKER, SGT_LIB, dir, SGT_HELPER("helper_step"));
    char *argv[] = { "sh", "-c", cmd, NULL };
    sgt_run(&res, argv, NULL, 60);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "ok\nerr 1\nok\n");
    check_invariants(ROUNDS);
    fprintf(stderr,
            "hostile: %d rounds: %lu files written and %lu names planted by uid %d, %lu root "
            "processes run among them; no crash, no segment lost, no symlink followed\n",
            ROUNDS, n_writes, n_plants, ATTACKER, n_root_runs);
}

/* Names planted before root's first use: the library takes none of them
 * (symlink, FIFO, directory, the attacker's file) and, with every name
 * taken, passes calls through and says why; nothing is followed. */
static void test_planted_before_first_use(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    pid_t c = fork();
    if (c == 0) {
        drop_to_attacker();
        char p[4][PATH_MAX + 200];
        for (int alt = 0; alt < 4; alt++)
            ledger_path(p[alt], sizeof p[alt], 0, alt);
        int ok = symlink(precious, p[0]) == 0 && mkfifo(p[1], 0666) == 0 && mkdir(p[2], 0777) == 0 &&
                 write_all(p[3], "SHMGLDGR", 8) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    root_carrier(0);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.err, "no usable ledger file name");
    ASSERT_HAS(res.err, "passing every call through");
    root_tool("ls", NULL, NULL);
    root_tool("ledger", "--check", NULL);
    victims_intact(0);
}

/* SHMGUARD_* is ignored in a secure-execution process. */
static void test_secure_exec(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    /* A private mount namespace: /dev/shm a fresh tmpfs (the defaults'
     * ledger directory), and the set-user-ID copy on a tmpfs without
     * nosuid. */
    char cmd[PATH_MAX * 4];
    snprintf(cmd, sizeof cmd,
             "set -e; mount -t tmpfs -o mode=1777 none /dev/shm; "
             "b=$(mktemp -d); mount -t tmpfs -o mode=755 none $b; "
             "cp %s $b/suid; cp %s $b/plain; cp %s $b/lib.so; chmod 4755 $b/suid; chmod 755 $b/plain; "
             "a=$(mktemp -d /dev/shm/sgt.XXXXXX); chmod 777 $a; mkdir $a/ledger; chown %d $a/ledger; "
             "run() { setpriv --reuid=%d --regid=%d --clear-groups env SHMGUARD_LEDGER=$a/ledger "
             "SHMGUARD_LOG=$a/log SHMGUARD_MODE=observe SHMGUARD_DEBUG=3 $b/$1 $b/lib.so; }; "
             "echo \"suid: $(run suid)\"; "
             "echo \"suid ledgers: $(ls /dev/shm/shmguard 2>/dev/null | wc -l) owner $(stat -c %%u /dev/shm/shmguard/*.ledger 2>/dev/null)\"; "
             "echo \"suid attacker files: $(ls $a/ledger | wc -l) log $(test -e $a/log && echo yes || echo no)\"; "
             "echo \"plain: $(run plain)\"; "
             "echo \"plain attacker files: $(ls $a/ledger | wc -l) log $(test -e $a/log && echo yes || echo no)\"; "
             "umount $b; rmdir $b; rm -rf $a",
             SGT_HELPER("helper_setuid"), SGT_HELPER("helper_setuid"), SGT_LIB, ATTACKER, ATTACKER,
             ATTACKER);
    char *argv[] = { "unshare", "--mount", "--propagation", "private", "sh", "-c", cmd, NULL };
    sgt_run(&res, argv, NULL, 60);
    if (!sgt_exited(&res, 0))
        fail_msg("status %d\nstdout:\n%s\nstderr:\n%s", res.status, res.out, res.err);
    /* The set-user-ID run: secure, root, the library worked, on its
     * default directory; nothing of the attacker's was used. */
    ASSERT_HAS(res.out, "suid: secure=1 euid=0 id=");
    ASSERT_LACKS(res.out, "rmid=-1");
    ASSERT_HAS(res.out, "suid ledgers: 1 owner 0");
    ASSERT_HAS(res.out, "suid attacker files: 0 log no");
    /* The same environment without set-user-ID is obeyed. */
    ASSERT_HAS(res.out, "plain: secure=0 euid=65534 id=");
    ASSERT_HAS(res.out, "plain attacker files: 1 log yes");
}


/* ---- a worker that dropped root (helper_drop) --------------------------- */

/* A segment of uid 1234, idle, mode 0600: uid 65534 cannot remove it. */
static int make_victim(key_t key)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t c = fork();
    if (c == 0) {
        if (setresgid(1234, 1234, 1234) != 0 || setresuid(1234, 1234, 1234) != 0)
            _exit(1);
        int id = shmget(key, 4096, IPC_CREAT | 0600);
        _exit(write(fds[1], &id, sizeof id) == sizeof id ? 0 : 1);
    }
    int id = -1;
    assert_int_equal(read(fds[0], &id, sizeof id), (ssize_t)sizeof id);
    close(fds[0]);
    close(fds[1]);
    waitpid(c, NULL, 0);
    assert_true(id >= 0);
    return id;
}

/* The value of "name=" in text, or -99 when absent. */
static int field(const char *text, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", name);
    const char *p = strstr(text, pat);
    return p ? atoi(p + strlen(pat)) : -99;
}

static void run_drop(const char *mode, int victim)
{
    char vid[16], ledger[PATH_MAX + 32], pre[PATH_MAX + 32];
    snprintf(vid, sizeof vid, "%d", victim);
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
    char *argv[] = { (char *)SGT_HELPER("helper_drop"), (char *)mode, vid, NULL };
    char *env[] = { ledger, pre, "SHMGUARD_MODE=", NULL };
    sgt_run(&res, argv, env, 60);
    if (!sgt_exited(&res, 0))
        fail_msg("helper_drop %s: status %d\n%s\n%s", mode, res.status, res.out, res.err);
}

/* Issue: the worker kept root's mapping and descriptor; forging a pending
 * removal made root remove uid 1234's segment, overwriting the header's
 * capacities crashed root (SIGSEGV), truncating the file crashed it too
 * (SIGBUS).  Now the worker holds nothing of root's ledger once setuid
 * returns, records into uid 65534's ledger, and root goes on. */
static void test_dropped_worker(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    const char *modes[] = { "none", "pending", "caps", "truncate", "threads" };
    for (int m = 0; m < 5; m++) {
        int victim = make_victim(0x5eedd000 + m);
        run_drop(modes[m], victim);
        const char *o = res.out;
        if (field(o, "maps_root") != 0 || field(o, "fds_root") != 0 || field(o, "attacked") != 0)
            fail_msg("%s: the worker still holds root's ledger:\n%s", modes[m], o);
        if (field(o, "worker_status") != 0 || field(o, "master_ok") != 1)
            fail_msg("%s: master or worker failed:\n%s\n%s", modes[m], o, res.err);
        if (field(o, "victim") != 1)
            fail_msg("%s: uid 1234's segment was removed:\n%s", modes[m], o);
        /* Its attachment and its use of the set moved to uid 65534's
         * ledger: httpd's workers still count as users. */
        if (field(o, "old_att") != 0 || field(o, "old_user") != 0 || field(o, "new_att") != 1 ||
            field(o, "new_user") != 1)
            fail_msg("%s: records not moved:\n%s", modes[m], o);
        if (m == 4 && field(o, "thread_loops") <= 0)
            fail_msg("threads: the worker's threads made no calls:\n%s", o);
        shmctl(victim, IPC_RMID, NULL);
    }
}

/* seteuid alone: root stays the real and saved uid, so the worker may
 * take root back and has crossed no boundary: it keeps root's ledger. */
static void test_saved_uid_keeps_ledger(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    int victim = make_victim(0x5eedd100);
    run_drop("saved", victim);
    if (field(res.out, "maps_root") != 1 || field(res.out, "old_att") != 1 ||
        field(res.out, "master_ok") != 1)
        fail_msg("seteuid: expected root's ledger kept:\n%s", res.out);
    shmctl(victim, IPC_RMID, NULL);
}

/* ---- descriptors 0-2 (helper_stdio) ------------------------------------- */

static void run_stdio(const char *mode, const char *redir, const char *data, const char *report)
{
    char ledger[PATH_MAX + 32], pre[PATH_MAX + 32], script[256];
    snprintf(ledger, sizeof ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", SGT_LIB);
    snprintf(script, sizeof script, "exec \"$0\" \"$1\" \"$2\" \"$3\" %s", redir);
    char *argv[] = { "sh", "-c", script, (char *)SGT_HELPER("helper_stdio"), (char *)mode,
                     (char *)data, (char *)report, NULL };
    char *env[] = { ledger, pre, "SHMGUARD_MODE=", "SHMGUARD_LOG=", NULL };
    unlink(data);
    unlink(report);
    sgt_run(&res, argv, env, 60);
    if (!sgt_exited(&res, 0))
        fail_msg("helper_stdio %s: status %d\n%s", mode, res.status, res.err);
}

static void slurp(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
}

/* Issue: with 0-2 closed the ledger took descriptor 1, the program's
 * write(1) landed in it and destroyed it for everyone; with stderr closed
 * the library's diagnosis went into the program's data file on 2; after
 * close_range the library ran fallocate on the program's next file and
 * called its ledger full. */
static void test_stdio_closed(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    char data[PATH_MAX + 32], report[PATH_MAX + 32], rep[512];
    snprintf(data, sizeof data, "%s/../sgtest-data.%d", dir, (int)getpid());
    snprintf(report, sizeof report, "%s/../sgtest-report.%d", dir, (int)getpid());
    struct stat st;

    run_stdio("closed", "<&- >&- 2>&-", data, report);
    slurp(report, rep, sizeof rep);
    if (field(rep, "ok") != 1 || field(rep, "ebadf") != 1 || field(rep, "ledger_fds") != 0 ||
        field(rep, "data_fd") != 0)
        fail_msg("closed stdio:\n%s", rep);
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_size, 0);
    struct sg_ledger L;
    assert_int_equal(sgt_load_ledger(dir, &L), 0); /* intact for everyone */
    sg_ledger_close(&L);

    run_stdio("noerr", "2>&-", data, report);
    slurp(report, rep, sizeof rep);
    if (field(rep, "ok") != 1 || field(rep, "ledger_fds") != 0 || field(rep, "data_fd") != 2)
        fail_msg("stderr closed:\n%s", rep);
    assert_int_equal(stat(data, &st), 0);
    if (st.st_size != 0) {
        char d[4096];
        slurp(data, d, sizeof d);
        fail_msg("the library wrote into the program's data file:\n%s", d);
    }

    run_stdio("closerange", "", data, report);
    slurp(report, rep, sizeof rep);
    if (field(rep, "ok") != 1 || field(rep, "ledger_fds") != 0 || field(rep, "data_fd") != 3)
        fail_msg("close_range:\n%s", rep);
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_blocks, 0);
    ASSERT_LACKS(res.err, "full");
    assert_int_equal(sgt_load_ledger(dir, &L), 0);
    sg_ledger_close(&L);
    unlink(data);
    unlink(report);
}

/* ---- planted ledgers against the tool ------------------------------------ */

/* A valid ledger image with the given capacities (sparse: only the header
 * and the pending index hold data), written at path. */
static void plant_ledger(const char *path, uint32_t seg, uint32_t att, uint32_t intent,
                         uint32_t pend)
{
    uint64_t size = sg_layout_file_size(seg, att, intent, pend);
    struct sg_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SG_LEDGER_MAGIC, 8);
    h.version = SG_LEDGER_VERSION;
    h.hdr_size = sizeof h;
    h.file_size = size;
    h.ipcns_ino = ns;
    h.owner_uid = ATTACKER;
    h.seg_cap = seg;
    h.att_cap = att;
    h.intent_cap = intent;
    h.pend_cap = pend;
    h.seg_off = sizeof h;
    h.att_off = h.seg_off + (uint64_t)seg * sizeof(struct sg_seg);
    h.user_off = h.att_off + (uint64_t)att * sizeof(struct sg_att);
    h.user_cap = SG_USER_CAP;
    h.intent_off = h.user_off + (uint64_t)SG_USER_CAP * sizeof(struct sg_user);
    h.pend_off = h.intent_off + (uint64_t)intent * sizeof(struct sg_intent);
    h.ev_off = h.pend_off + (uint64_t)pend * sizeof(struct sg_pend);
    h.ev_cap = SG_EV_CAP;
    h.ready = 1;
    /* The lock: a robust, process-shared, error-checking mutex. */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init((pthread_mutex_t *)h.lock, &a);
    sg_ledger_seal_header(&h);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        _exit(30);
    int ok = pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && ftruncate(fd, (off_t)size) == 0;
    for (uint32_t i = 0; ok && i < pend; i++) {
        struct sg_pend e = { -1, 0 };
        ok = pwrite(fd, &e, sizeof e, (off_t)(h.pend_off + i * sizeof e)) == (ssize_t)sizeof e;
    }
    close(fd);
    if (!ok)
        _exit(31);
}

#define PLANTED 600

/* Issue: uid 65534 planted valid ledgers of the largest declared size
 * (9.6 GB apparent each: root's ls went from 0.02 s to 19 s with eight)
 * and 64 small ones, which filled the tool's 64-file cap and hid root's
 * own ledger: root's pending removal showed as "orphaned", its set as
 * "unknown".  Now a file is read only under its owner's own name and up
 * to the size of any ledger the library makes, root's first. */
static void test_planted_ledgers(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    /* Root: a live holder of a segment and a set, and a deferred removal
     * of that segment. */
    char *holder_argv[] = { (char *)SGT_HELPER("helper_named"), "686f6c646572", "0x5eedd200",
                            NULL };
    char **holder_env = lib_env();
    int to, from;
    pid_t holder_pid = sgt_spawn(holder_argv, holder_env, &to, &from);
    char ready[16] = "";
    assert_true(read(from, ready, sizeof ready - 1) > 0);
    int id = shmget(0x5eedd200, 0, 0);
    assert_true(id >= 0);
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "printf 'rmid %d\\nexit\\n' | %s", id, SGT_HELPER("helper_step"));
    char *rm[] = { "sh", "-c", cmd, NULL };
    char *env[] = { holder_env[0], holder_env[1], "SHMGUARD_MODE=defer", NULL };
    sgt_run(&res, rm, env, 60);
    ASSERT_HAS(res.out, "ok");

    /* The attacker plants: its own four names as ledgers of the largest
     * declared capacities, and PLANTED small valid ledgers under the
     * names of other uids. */
    pid_t c = fork();
    if (c == 0) {
        drop_to_attacker();
        char p[PATH_MAX + 200];
        for (int alt = 0; alt < 4; alt++) {
            ledger_path(p, sizeof p, ATTACKER, alt);
            plant_ledger(p, 1u << 24, 1u << 24, 65536, 65536);
        }
        for (int i = 0; i < PLANTED; i++) {
            ledger_path(p, sizeof p, 2000 + i, 0);
            plant_ledger(p, 1, 1, 1, 1);
        }
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(c, &st, 0), c);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    root_tool("ls", "--pending", NULL);
    if (!sgt_exited(&res, 0) || !strstr(res.out, "pending"))
        fail_msg("root's pending removal not seen:\n%s\n%s", res.out, res.err);
    root_tool("ls", "--sem", NULL);
    ASSERT_HAS(res.out, "in-use");
    ASSERT_LACKS(res.out, "unknown");
    root_tool("doctor", NULL, NULL);
    ASSERT_HAS(res.out, "not read");
    /* A real gc: the planted files must not make it remove what the
     * holder still has attached. */
    root_tool("gc", NULL, NULL);
    if (!sgt_exited(&res, 0) || !sgt_shm_exists(id))
        fail_msg("gc with planted ledgers:\n%s\n%s", res.out, res.err);

    close(to);
    waitpid(holder_pid, NULL, 0);
    close(from);
}

/* Review: a chain of pid namespaces read from another uid's ledger made
 * gc, run in a child namespace C, call root's live but unseen creator
 * (in this namespace, P) dead: uid 65534 wrote "P lies below C" into its
 * own ledger.  Only root's chains and the reader's own are believed now,
 * so the creator stays "not visible" and its idle set and segment are
 * kept. */
static void test_forged_pidns_chain(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok() || system("unshare --pid --fork true 2>/dev/null") != 0)
        skip();
    char *holder_argv[] = { (char *)SGT_HELPER("helper_named"), "686f6c646572", "0x5eedd300",
                            "idle", NULL };
    char **holder_env = lib_env();
    int to, from;
    pid_t holder_pid = sgt_spawn(holder_argv, holder_env, &to, &from);
    char ready[16] = "";
    assert_true(read(from, ready, sizeof ready - 1) > 0);

    /* C: a pid namespace (with its own /proc) kept alive by a sleeper. */
    pid_t u = fork();
    if (u == 0) {
        close(to); /* the holder ends when the test closes its stdin */
        close(from);
        execlp("unshare", "unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sleep",
               "600", (char *)NULL);
        _exit(127);
    }
    char pfc[64], mnt[64];
    snprintf(pfc, sizeof pfc, "/proc/%d/ns/pid_for_children", (int)u);
    snprintf(mnt, sizeof mnt, "/proc/%d/ns/mnt", (int)u);
    uint32_t p_ino = sg_pidns_self(), c_ino = 0;
    for (int i = 0; i < 500 && (!c_ino || c_ino == p_ino); i++) {
        struct stat st;
        c_ino = stat(pfc, &st) == 0 ? (uint32_t)st.st_ino : 0;
        usleep(10000);
    }
    assert_true(c_ino && c_ino != p_ino);

    /* The attacker's own ledger, with the forged chain. */
    pid_t a = fork();
    if (a == 0) {
        drop_to_attacker();
        struct sg_ledger L;
        char err[PATH_MAX + 256];
        if (sg_ledger_open_own(&L, dir, ns, NULL, err, sizeof err) != 0)
            _exit(40);
        sg_pidns_note(&L, p_ino, &c_ino, 1);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(a, &st, 0), a);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* gc from inside C (after its /proc is mounted). */
    char dirarg[PATH_MAX + 16], pidarg[PATH_MAX], mntarg[PATH_MAX];
    snprintf(dirarg, sizeof dirarg, "--dir=%s", dir);
    snprintf(pidarg, sizeof pidarg, "--pid=%s", pfc);
    snprintf(mntarg, sizeof mntarg, "--mount=%s", mnt);
    char *gc[] = { "nsenter", pidarg, mntarg, "--", (char *)SGT_TOOL, "gc", dirarg, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    for (int i = 0; i < 100; i++) {
        sgt_run(&res, gc, env, 60);
        if (!strstr(res.err, "proc")) /* /proc not mounted yet in C */
            break;
        usleep(20000);
    }
    int kept = semget(0x5eedd300, 0, 0) >= 0 && shmget(0x5eedd300, 0, 0) >= 0;
    kill(u, SIGKILL);
    waitpid(u, NULL, 0);
    close(to);
    waitpid(holder_pid, NULL, 0);
    close(from);
    if (!kept)
        fail_msg("gc in a child pid namespace believed uid %d's chain and removed root's live "
                 "set or segment:\n%s%s",
                 ATTACKER, res.out, res.err);
    ASSERT_HAS(res.out, "not visible");
}

static int queue_there(int id)
{
    struct msqid_ds ds;
    return msgctl(id, IPC_STAT, &ds) == 0;
}

static void test_queues(void **state)
{
    (void)state;
    if (!sgt_other_uid_ok())
        skip();
    /* Root's queue, recorded: its creator (root, under the library) has
     * exited, nothing was ever sent: orphaned on root's own records. */
    char *make[] = { (char *)SGT_HELPER("helper_check"), "msgmake", "0x48000010", NULL };
    sgt_run(&res, make, lib_env(), 30);
    int q = -1;
    assert_int_equal(sscanf(res.out, "msqid %d", &q), 1);
    /* Root's queue made without the library: unknown. */
    int q2 = msgget(0x48000011, IPC_CREAT | 0666);
    assert_true(q2 >= 0);

    /* uid 65534 looks q up under the library and stays: a user record in
     * its own ledger, which keeps q alive for root. */
    int to, from;
    char *look[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                     (char *)SGT_HELPER("helper_check"), "msglook", "0x48000010", NULL };
    pid_t a = sgt_spawn(look, lib_env(), &to, &from);
    char line[64] = "";
    assert_true(read(from, line, sizeof line - 1) > 0);
    ASSERT_HAS(line, "msqid");
    root_tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "in use: 1 of its 1 recorded user is alive");
    assert_true(queue_there(q));

    /* It forges, in its own ledger, both queues "created" by a dead
     * process of root's: root's gc believes none of it. */
    pid_t f = fork();
    if (f == 0) {
        drop_to_attacker();
        struct sg_ledger L;
        char err[PATH_MAX + 256];
        if (sg_ledger_open_own(&L, dir, ns, NULL, err, sizeof err) != 0 || sg_ledger_lock(&L) != 0)
            _exit(40);
        for (int i = 0; i < 2; i++) {
            struct sg_seg r;
            memset(&r, 0, sizeof r);
            r.kind = SG_KIND_MSG;
            r.id = i ? q2 : q;
            r.key = i ? 0x48000011 : 0x48000010;
            r.flags = SG_SEG_CREATOR;
            r.cr_pid = 4190000;
            r.cr_start = 1;
            if (!sg_seg_put(&L, &r))
                _exit(41);
        }
        sg_ledger_unlock(&L);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(f, &st, 0), f);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Its IPC_RMID of root's queue fails under the library as bare: a
     * helper run as uid 65534 each way (the test itself has no hooks). */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "echo 'msgrmid %d' | %s", q2, SGT_HELPER("helper_actor"));
    char *rm[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                   "sh", "-c", cmd, NULL };
    char *bare_env[] = { "LD_PRELOAD=", NULL };
    for (int under = 0; under < 2; under++) {
        struct sgt_result out;
        sgt_run(&out, rm, under ? lib_env() : bare_env, 30);
        ASSERT_HAS(out.out, under ? "preload=1" : "preload=0");
        if (!strstr(out.out, "err errno=1"))
            fail_msg("IPC_RMID of root's queue as uid 65534 %s: %s",
                     under ? "under the library" : "bare", out.out);
    }
    assert_true(queue_there(q2));
    root_tool("gc", NULL, NULL);
    ASSERT_HAS(res.out, "unknown: made without the library");
    ASSERT_HAS(res.out, "in use: 1 of its 1 recorded user is alive");
    assert_true(queue_there(q) && queue_there(q2));

    /* The attacker gone, q is root's orphan on root's records (gc may
     * remove it); q2 still has no record root trusts. */
    close(to);
    assert_int_equal(waitpid(a, &st, 0), a);
    close(from);
    root_tool("gc", NULL, NULL);
    char want[64];
    snprintf(want, sizeof want, "removed      msqid %d", q);
    ASSERT_HAS(res.out, want);
    assert_false(queue_there(q));
    assert_true(queue_there(q2));
    assert_int_equal(msgctl(q2, IPC_RMID, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attacker_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_pidns_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_before_first_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secure_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saved_uid_keeps_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_ledgers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queues, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
