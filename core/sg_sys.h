/*
 * sg_sys.h - the system calls of a process's first intercepted call,
 * made through libc's syscall(2) instead of each one's own wrapper.
 *
 * Why: a process's first call opens its ledger and learns its identity,
 * a dozen system calls that the program itself has mostly never made.
 * Through their wrappers each first use costs a lazy symbol binding and,
 * often, a page fault on another page of libc's text: together about a
 * sixth of that first call.  Through syscall(2) they share one binding
 * and one page.  Results and errno are the same as the wrappers' (-1 and
 * errno on failure); none of these calls is a cancellation point here.
 * Only for the library's own files; the calls the program makes go
 * through libc as they always do.
 */
#ifndef SG_SYS_H
#define SG_SYS_H

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <unistd.h>

#if defined(__LP64__) && defined(SYS_newfstatat) && defined(SYS_mmap) && defined(SYS_pread64)
static inline int sg_sys_openat(int dfd, const char *path, int flags, mode_t mode)
{
    return (int)syscall(SYS_openat, dfd, path, flags, mode);
}

static inline int sg_sys_close(int fd) { return (int)syscall(SYS_close, fd); }

/* fstat where the architecture has it: newfstatat's empty path is a
 * string the kernel reads from the library's read-only data, a page that
 * a process that never calls in (the load-time fstat of stderr) would
 * otherwise fault in for it. */
static inline int sg_sys_fstat(int fd, struct stat *st)
{
#ifdef SYS_fstat
    return (int)syscall(SYS_fstat, fd, st);
#else
    return (int)syscall(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH);
#endif
}

static inline int sg_sys_stat(const char *path, struct stat *st)
{
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

static inline int sg_sys_lstat(const char *path, struct stat *st)
{
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

/* The system call libc's readlink makes (readlink where the
 * architecture has it, else readlinkat). */
static inline ssize_t sg_sys_readlink(const char *path, char *buf, size_t n)
{
#ifdef SYS_readlink
    return (ssize_t)syscall(SYS_readlink, path, buf, n);
#else
    return (ssize_t)syscall(SYS_readlinkat, AT_FDCWD, path, buf, n);
#endif
}

static inline int sg_sys_fstatfs(int fd, struct statfs *st)
{
    return (int)syscall(SYS_fstatfs, fd, st);
}

static inline ssize_t sg_sys_pread(int fd, void *buf, size_t n, off_t off)
{
    return (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
}

static inline void *sg_sys_mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, n, prot, flags, fd, off);
}

static inline int sg_sys_madvise(void *addr, size_t n, int advice)
{
    return (int)syscall(SYS_madvise, addr, n, advice);
}

static inline int sg_sys_ioctl(int fd, unsigned long req) { return (int)syscall(SYS_ioctl, fd, req, 0); }

static inline pid_t sg_sys_getpid(void) { return (pid_t)syscall(SYS_getpid); }

static inline uid_t sg_sys_geteuid(void) { return (uid_t)syscall(SYS_geteuid); }

#else /* 32-bit: other system calls and argument splits; libc's wrappers */
#include <sys/ioctl.h>
#include <sys/mman.h>
#define sg_sys_openat openat
#define sg_sys_close close
#define sg_sys_fstat fstat
#define sg_sys_stat stat
#define sg_sys_lstat lstat
#define sg_sys_readlink readlink
#define sg_sys_fstatfs fstatfs
#define sg_sys_pread pread
#define sg_sys_mmap mmap
#define sg_sys_madvise madvise
#define sg_sys_ioctl(fd, req) ioctl(fd, req, 0)
#define sg_sys_getpid getpid
#define sg_sys_geteuid geteuid
#endif
#endif
