/*
 * sg_log.c - one write per message, rate-limited (see sg_log.h).
 *
 * Rate limit: a token bucket of SG_LOG_BURST messages refilled at one per
 * second.  Suppressed messages are counted and the count is reported in
 * the next message that does go out.
 */
#define _GNU_SOURCE
#include "sg_log.h"
#include "sg_compiler.h"
#include "sg_sys.h"
#include "sg_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SG_LOG_BURST 10
#define SG_LOG_MAX 4096

SG_FIRST_DATA static const struct sg_config *log_cfg;
static atomic_long bucket_sec;      /* second of the last refill */
static atomic_int bucket_tokens = SG_LOG_BURST;
static atomic_long suppressed;

SG_COLD void sg_log_use(const struct sg_config *c) { log_cfg = c; }

static const struct sg_config *cfg(void)
{
    return log_cfg ? log_cfg : sg_config_get();
}

/* 1 if a message may go out now, 0 if it must be suppressed. */
static int take_token(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    long now = ts.tv_sec, last = atomic_load(&bucket_sec);
    if (now > last && atomic_compare_exchange_strong(&bucket_sec, &last, now)) {
        int add = (int)(now - last);
        int cur = atomic_load(&bucket_tokens);
        int next = cur + add > SG_LOG_BURST ? SG_LOG_BURST : cur + add;
        atomic_store(&bucket_tokens, next);
    }
    int t = atomic_load(&bucket_tokens);
    while (t > 0)
        if (atomic_compare_exchange_weak(&bucket_tokens, &t, t - 1))
            return 1;
    atomic_fetch_add(&suppressed, 1);
    return 0;
}

/* The stderr the process started with (note_stderr, at load):
 * its identity, or none when descriptor 2 was closed then. */
SG_FIRST_DATA static int start_err_ok;
SG_FIRST_DATA static dev_t start_err_dev;
SG_FIRST_DATA static ino_t start_err_ino;

/* At load (of the library, or of a program linking this file): an
 * fstat, the only work done before the first intercepted call. */
__attribute__((constructor)) static void note_stderr(void)
{
    struct stat st;
    start_err_ok = sg_sys_fstat(2, &st) == 0; /* binds syscall(2), which the first call uses */
    if (start_err_ok) {
        start_err_dev = st.st_dev;
        start_err_ino = st.st_ino;
    }
}

/* 1 if descriptor 2 may take a message: it is the stderr the process
 * started with, or a file opened write-only for appending (a log the
 * program made its stderr, as httpd does with its error log).  A file the
 * program opened for its data, that landed on 2 after it closed its
 * stderr, is neither. */
static int stderr_usable(void)
{
    struct stat st;
    if (fstat(2, &st) != 0)
        return 0;
    if (start_err_ok && st.st_dev == start_err_dev && st.st_ino == start_err_ino)
        return 1;
    int fl = fcntl(2, F_GETFL);
    return fl >= 0 && S_ISREG(st.st_mode) && (fl & O_ACCMODE) == O_WRONLY && (fl & O_APPEND);
}

/* One datagram to the system log (/dev/log), on a socket opened and
 * closed here: unlike syslog(3), no descriptor is kept. */
static void to_syslog(const char *msg, size_t len)
{
    char buf[SG_LOG_MAX + 16];
    /* <12>: facility user, severity warning; the tag is in msg. */
    int n = snprintf(buf, sizeof buf, "<12>%.*s", (int)len, msg);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    int fd = sg_fd_above_stdio(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd < 0)
        return;
    struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
    ssize_t w = sendto(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a,
                       sizeof a);
    (void)w;
    close(fd);
}

static void emit(const char *msg, size_t len)
{
    const struct sg_config *c = cfg();
    if (c->sink == SG_SINK_SYSLOG) {
        to_syslog(msg, len);
        return;
    }
    if (c->sink == SG_SINK_FILE) {
        int fd = sg_fd_above_stdio(
            open(c->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
        if (fd >= 0) {
            ssize_t w = write(fd, msg, len);
            (void)w;
            close(fd);
            return;
        }
    }
    if (!stderr_usable()) {
        to_syslog(msg, len);
        return;
    }
    ssize_t w = write(2, msg, len);
    (void)w;
}

static void vlog(const char *fmt, va_list ap)
{
    char buf[SG_LOG_MAX];
    int n = snprintf(buf, sizeof buf, "shmguard[%d]: ", (int)getpid());
    long sup = atomic_exchange(&suppressed, 0);
    if (sup > 0)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "(%ld earlier message%s suppressed by rate limit) ", sup,
                      sup == 1 ? "" : "s");
    if (n < (int)sizeof buf)
        n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    if (n > 0 && buf[n - 1] != '\n')
        buf[n++] = '\n';
    emit(buf, (size_t)n);
}

void sg_log(int level, const char *fmt, ...)
{
    int saved = errno;
    if (level > cfg()->debug || !take_token()) {
        errno = saved;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    errno = saved;
}

void sg_log_once(int *once, const char *fmt, ...)
{
    int saved = errno;
    if (__atomic_exchange_n(once, 1, __ATOMIC_ACQ_REL)) {
        errno = saved;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    errno = saved;
}
