/*
 * tool_check.c - `shmguard check`: run a command (a test suite) under the
 * library with a ledger of its own, then report what it leaked.
 *
 * This file runs the command: options, the private ledger directory, the
 * optional private IPC namespace (--isolate), the child and its exit
 * status, signals sent to shmguard (forwarded), and the exit status of the
 * whole.  What counts as the run's leak and how it is reported is
 * tool_check_report.c.
 *
 * The run's segments (and semaphore sets, alike) are those the run's
 * carrier processes created: they
 * are the only ones recorded in the run's ledger directory, which nothing
 * else on the machine writes to.  Segments that existed before, or that
 * other programs create meanwhile, are not in it.  Under --isolate the
 * namespace holds nothing but the run, so segments made by processes
 * without the library (static binaries, programs that drop LD_PRELOAD)
 * are counted too, with kernel facts only.  shmguard stays inside that
 * namespace, so it reports before the namespace and its segments go away.
 *
 * shmguard makes itself a child subreaper, so the run's orphaned
 * grandchildren are reaped here and those still running when the command
 * ends can be named.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_ledger_dir.h"
#include "tool_check.h"
#include "sg_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_EXIT_ERROR 125       /* shmguard check itself failed */
#define CHECK_EXIT_CANNOT_EXEC 126 /* the command was found but could not run */
#define CHECK_EXIT_NOT_FOUND 127   /* the command was not found */
#define CHECK_EXIT_LEAKED 99       /* default for --error-exitcode */

static void check_usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s check [options] [--] <command> [<argument>...]\n"
            "\n"
            "Run a command (a test suite) and every process it starts under\n"
            "libshmguard.so, with a ledger of its own, and report every System V\n"
            "shared memory segment and semaphore set the run created that still exists\n"
            "when the command ends: its creator, size, key and the call site that created\n"
            "it (function, file:line where debug information exists).  Also reported:\n"
            "removals the run asked for that were deferred and never completed (they\n"
            "are completed now), and every call that failed on an IPC limit.  What\n"
            "existed before the run, or other programs make meanwhile, is never reported.\n"
            "\n"
            "Options:\n"
            "     --isolate             run the command in a private IPC namespace (as root,\n"
            "                             or through a user namespace otherwise)\n"
            "     --cleanup             remove the leaked segments and sets after the report\n"
            "     --error-exitcode <n>  exit status when something leaked (default: %d)\n"
            "     --json                write the report as JSON\n"
            "     --report <file>       write the report to file (default: standard error)\n"
            "     --mode <mode>         observe (the default: record and report, change\n"
            "                             nothing the program sees), defer (the production\n"
            "                             semantics of a deployment with the library:\n"
            "                             IPC_RMID deferred until the last detach), or off\n"
            "                             (sets SHMGUARD_MODE for the run)\n"
            "     --no-preload          do not preload the library into the command; only\n"
            "                             processes that load it themselves are recorded\n"
            " -q, --quiet               no report when nothing leaked\n"
            "\n"
            " -h, --help                display this help\n"
            " -V, --version             display version\n"
            "\n"
            "Exit status:\n"
            " the command's exit status (128+N when killed by signal N) when nothing\n"
            " leaked, or\n"
            " %-3d  something leaked (--error-exitcode)\n"
            " 125  shmguard check failed, or bad usage\n"
            " 126  the command was found but could not be run\n"
            " 127  the command was not found\n"
            "\n"
            "For more details see shmguard(1).\n",
            sg_prog, CHECK_EXIT_LEAKED, CHECK_EXIT_LEAKED);
}

/* ---- the private IPC namespace ----------------------------------------- */

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Move this process into a new IPC namespace.  As root (or with
 * CAP_SYS_ADMIN) directly; otherwise together with a new user namespace
 * that maps the caller's own uid and gid to themselves, so the command
 * keeps its identity and gains no privilege outside.  0 on success; -1
 * after a message saying why and what to do. */
static int isolate(void)
{
    if (unshare(CLONE_NEWIPC) == 0)
        return 0;
    int e = errno;
    if (e != EPERM) {
        fprintf(stderr, "%s: check: --isolate: cannot create an IPC namespace: %s\n", sg_prog,
                strerror(e));
        return -1;
    }
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWIPC) != 0) {
        e = errno;
        fprintf(stderr,
                "%s: check: --isolate: cannot create a private IPC namespace: not root, and this "
                "system does not let unprivileged users create user namespaces (%s); run as root, "
                "allow them (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces), "
                "or run without --isolate\n",
                sg_prog, strerror(e));
        return -1;
    }
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0 ||
        write_file("/proc/self/setgroups", "deny\n") != 0 ||
        (snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid),
         write_file("/proc/self/gid_map", map) != 0)) {
        fprintf(stderr, "%s: check: --isolate: cannot set up the user namespace: %s\n", sg_prog,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the run's ledger directory ---------------------------------------- */

/* A fresh directory for the run's ledgers, sticky and world-writable like
 * the default one, so a process of the run that changes uid can keep its
 * own ledger there.  On tmpfs, as the library requires
 * (sg_ledger_dir_in_memory): $TMPDIR when it is there, else /dev/shm,
 * else /tmp.  0 with its path in dir. */
static int make_run_dir(char *dir, size_t n)
{
    const char *cand[] = { getenv("TMPDIR"), "/dev/shm", "/tmp" };
    const char *tmp = NULL;
    char fs[32];
    for (size_t i = 0; i < sizeof cand / sizeof cand[0] && !tmp; i++)
        if (cand[i] && cand[i][0] == '/' && sg_ledger_dir_in_memory(cand[i], fs, sizeof fs) == 1)
            tmp = cand[i];
    if (!tmp) {
        fprintf(stderr, "%s: check: no directory on tmpfs for the run's ledgers (tried $TMPDIR, "
                        "/dev/shm and /tmp); set TMPDIR to one\n", sg_prog);
        return -1;
    }
    if (snprintf(dir, n, "%s/shmguard-check.XXXXXX", tmp) >= (int)n || !mkdtemp(dir) ||
        chmod(dir, 01777) != 0) {
        fprintf(stderr, "%s: check: cannot make a ledger directory under %s: %s\n", sg_prog, tmp,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Remove the run's ledger directory and the files in it. */
static void remove_run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    if (rmdir(dir) != 0 && errno != ENOENT)
        fprintf(stderr, "%s: check: could not remove %s: %s\n", sg_prog, dir, strerror(errno));
}

/* ---- running the command ------------------------------------------------ */

static volatile sig_atomic_t child_pid;

/* SIGTERM/SIGHUP to shmguard (a CI job cancelled) go to the command; the
 * report still follows when it ends.  SIGINT and SIGQUIT from a terminal
 * reach the command's process group by themselves. */
static void forward(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

/* Fork and exec argv with the prepared environment.  Returns the child's
 * pid; on an exec failure *exec_errno is set after the child has been
 * reaped (the status is then meaningless).  -1 if fork failed. */
static pid_t start(char **argv, int *exec_errno)
{
    int p[2];
    *exec_errno = 0;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execvp(argv[0], argv);
        int e = errno;
        if (write(p[1], &e, sizeof e) != (ssize_t)sizeof e)
            _exit(CHECK_EXIT_CANNOT_EXEC);
        _exit(e == ENOENT ? CHECK_EXIT_NOT_FOUND : CHECK_EXIT_CANNOT_EXEC);
    }
    close(p[1]);
    int e;
    ssize_t n;
    do
        n = read(p[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof e)
        *exec_errno = e;
    return pid;
}

/* Wait for pid; reap every other child (the run's orphans, reparented to
 * this subreaper) on the way.  Returns pid's wait status. */
static int wait_command(pid_t pid)
{
    int st = 0;
    for (;;) {
        int s;
        pid_t w = waitpid(-1, &s, 0);
        if (w == pid) {
            st = s;
            break;
        }
        if (w < 0 && errno != EINTR)
            break;
    }
    /* Orphans that have exited by now: reap them without waiting. */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return st;
}

/* The run's processes still alive: this subreaper's remaining children
 * (each may have descendants of its own). */
static void still_running(struct check_run *r)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(d)) && r->n_running < CHECK_MAX_RUNNING) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != self || state == 'Z')
            continue;
        r->running[r->n_running].pid = (int)pid;
        sg_proc_comm((pid_t)pid, r->running[r->n_running].comm);
        r->n_running++;
    }
    closedir(d);
}

int cmd_check(int argc, char **argv)
{
    enum { OPT_ISOLATE = 256, OPT_CLEANUP, OPT_EXITCODE, OPT_JSON, OPT_REPORT, OPT_MODE, OPT_NOPRELOAD };
    static const struct option opts[] = {
        { "isolate", no_argument, NULL, OPT_ISOLATE },
        { "cleanup", no_argument, NULL, OPT_CLEANUP },
        { "error-exitcode", required_argument, NULL, OPT_EXITCODE },
        { "json", no_argument, NULL, OPT_JSON },
        { "report", required_argument, NULL, OPT_REPORT },
        { "mode", required_argument, NULL, OPT_MODE },
        { "no-preload", no_argument, NULL, OPT_NOPRELOAD },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct check_opts o = { .error_exitcode = CHECK_EXIT_LEAKED };
    const char *mode = "observe";
    int preload = 1, c;
    optind = 1;
    opterr = 0;
    /* "+": options end at the command, whose own options are its own. */
    while ((c = getopt_long(argc, argv, "+:qhV", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ISOLATE: o.isolate = 1; break;
        case OPT_CLEANUP: o.cleanup = 1; break;
        case OPT_JSON: o.json = 1; break;
        case OPT_NOPRELOAD: preload = 0; break;
        case 'q': o.quiet = 1; break;
        case OPT_EXITCODE: {
            long v;
            if (tool_parse_long(optarg, 1, 255, &v) != 0) {
                tool_cmd_usage_error("check", "invalid --error-exitcode '%s': use a number from 1 to 255",
                                     optarg);
                return CHECK_EXIT_ERROR;
            }
            o.error_exitcode = (int)v;
            break;
        }
        case OPT_REPORT:
            if (!optarg[0]) {
                tool_cmd_usage_error("check", "empty --report file name");
                return CHECK_EXIT_ERROR;
            }
            o.report = optarg;
            break;
        case OPT_MODE:
            if (strcmp(optarg, "off") && strcmp(optarg, "observe") && strcmp(optarg, "defer")) {
                tool_cmd_usage_error("check", "invalid --mode '%s': use off, observe or defer", optarg);
                return CHECK_EXIT_ERROR;
            }
            mode = optarg;
            break;
        case 'h': check_usage(stdout); return SG_EXIT_OK;
        case 'V': tool_print_version(); return SG_EXIT_OK;
        default: tool_getopt_error("check", c, argv); return CHECK_EXIT_ERROR;
        }
    }
    if (optind >= argc) {
        tool_cmd_usage_error("check", "no command given");
        return CHECK_EXIT_ERROR;
    }
    /* The report file is opened before the run: a bad path fails now. */
    FILE *out = stderr;
    if (o.report && !(out = fopen(o.report, "we"))) {
        fprintf(stderr, "%s: check: cannot write the report to %s: %s\n", sg_prog, o.report,
                strerror(errno));
        return CHECK_EXIT_ERROR;
    }
    struct check_run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "%s: check: out of memory\n", sg_prog);
        return CHECK_EXIT_ERROR;
    }
    r->argv = argv + optind;
    r->argc = argc - optind;
    r->mode = mode;
    r->isolated = o.isolate;
    int rc = CHECK_EXIT_ERROR;
    if (o.isolate && isolate() != 0)
        goto out;
    if (make_run_dir(r->dir, sizeof r->dir) != 0)
        goto out;
    if (tool_preload_env("check", preload, mode, r->dir) != 0 || check_before(r) != 0) {
        remove_run_dir(r->dir);
        goto out;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct sigaction sa = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGQUIT, &ign, NULL);
    r->start_ns = sg_now_ns();
    uint64_t t0 = sg_mono_ns();
    fflush(NULL);
    int exec_errno;
    pid_t pid = start(r->argv, &exec_errno);
    if (pid < 0) {
        fprintf(stderr, "%s: check: cannot fork: %s\n", sg_prog, strerror(errno));
        remove_run_dir(r->dir);
        goto out;
    }
    child_pid = pid;
    r->pid = pid;
    r->status = wait_command(pid);
    child_pid = 0;
    r->secs = (double)(sg_mono_ns() - t0) / 1e9;
    if (exec_errno) {
        fprintf(stderr, "%s: check: failed to execute '%s': %s\n", sg_prog, r->argv[0],
                strerror(exec_errno));
        remove_run_dir(r->dir);
        rc = exec_errno == ENOENT ? CHECK_EXIT_NOT_FOUND : CHECK_EXIT_CANNOT_EXEC;
        goto out;
    }
    still_running(r);
    if (check_collect(r) != 0) {
        remove_run_dir(r->dir);
        goto out;
    }
    if (o.cleanup)
        check_cleanup(r);
    check_report(out, r, &o);
    remove_run_dir(r->dir);
    if (r->n_leaks || r->n_sleaks || r->n_qleaks)
        rc = o.error_exitcode;
    else if (WIFEXITED(r->status))
        rc = WEXITSTATUS(r->status);
    else if (WIFSIGNALED(r->status))
        rc = 128 + WTERMSIG(r->status);
    else
        rc = CHECK_EXIT_ERROR;
out:
    check_free(r);
    free(r);
    if (out != stderr && fclose(out) != 0) {
        fprintf(stderr, "%s: check: cannot write the report to %s: %s\n", sg_prog, o.report,
                strerror(errno));
        rc = CHECK_EXIT_ERROR;
    }
    tool_site_cache_free();
    return rc;
}
