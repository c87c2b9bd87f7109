/*
 * tool_scan.c - who maps which System V segment right now.
 *
 * The kernel counts attachments (nattch) but does not say whose they are;
 * /proc/PID/maps does: a SysV mapping is named /SYSV<key> (the key at
 * creation, kept after IPC_RMID) and its inode field is the shmid.  (Linux
 * 6.x appends " (deleted)" to every SysV mapping, removed or not, so that
 * suffix says nothing.)  One pass over /proc builds an index from
 * shmid to mappings, so `ls` and `gc` never read /proc once per segment.
 *
 * Shmids are per IPC namespace while /proc shows every process of the pid
 * namespace, so only processes whose /proc/PID/ns/ipc is ours count; a
 * process whose namespace or maps cannot be read (another user's, without
 * privilege) is counted as unreadable so callers can say the list is
 * partial.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read a whole /proc file into *buf (grown as needed).  Returns the
 * length, or -1 with errno. */
static ssize_t scan_slurp(const char *path, char **buf, size_t *cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        if (*cap - len < 4096) {
            size_t nc = *cap ? *cap * 2 : 65536;
            char *nb = realloc(*buf, nc);
            if (!nb) {
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            *buf = nb;
            *cap = nc;
        }
        ssize_t r = read(fd, *buf + len, *cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    (*buf)[len] = '\0';
    return (ssize_t)len;
}

static int scan_push_map(struct proc_scan *ps, size_t *cap, const struct scan_map *m)
{
    if (ps->n_map == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct scan_map *nv = realloc(ps->map, nc * sizeof *nv);
        if (!nv)
            return -1;
        ps->map = nv;
        *cap = nc;
    }
    ps->map[ps->n_map++] = *m;
    return 0;
}

/* Parse the SysV lines of one maps file.  Line format:
 * "start-end perms offset dev inode   /SYSV0000abcd (deleted)". */
static int scan_parse_maps(struct proc_scan *ps, size_t *cap, int pid, char *text)
{
    int found = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *name = strstr(line, " /SYSV");
        if (name) {
            char *p = line, *end;
            struct scan_map m = { .pid = pid };
            m.addr = strtoull(p, &end, 16);
            p = end;
            int ok = *p == '-';
            for (int field = 0; ok && field < 4; field++) { /* to perms, offset, dev, inode */
                p = strchr(p, ' ');
                ok = p != NULL;
                if (ok)
                    p++;
            }
            if (ok) {
                m.shmid = strtol(p, &end, 10);
                ok = end != p && end <= name;
            }
            if (ok) {
                name += 6; /* past " /SYSV" */
                unsigned long key = strtoul(name, &end, 16);
                ok = end == name + 8;
                m.key = (uint32_t)key;
            }
            if (ok) {
                if (scan_push_map(ps, cap, &m) != 0)
                    return -1;
                found = 1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return found;
}

static int scan_cmp_map(const void *a, const void *b)
{
    const struct scan_map *x = a, *y = b;
    if (x->shmid != y->shmid)
        return x->shmid < y->shmid ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

static int scan_cmp_proc(const void *a, const void *b)
{
    const struct scan_proc *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

int proc_scan_build(struct proc_scan *ps)
{
    memset(ps, 0, sizeof *ps);
    struct stat self_ns;
    if (stat("/proc/self/ns/ipc", &self_ns) != 0)
        return -1;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    char *buf = NULL;
    size_t bufcap = 0, mapcap = 0, proccap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid > INT32_MAX)
            continue;
        ps->seen++;
        char path[64];
        struct stat ns;
        snprintf(path, sizeof path, "/proc/%ld/ns/ipc", pid);
        if (stat(path, &ns) != 0) {
            if (errno == EACCES || errno == EPERM)
                ps->unreadable++;
            continue; /* gone, or a kernel thread being reaped */
        }
        if (ns.st_ino != self_ns.st_ino || ns.st_dev != self_ns.st_dev)
            continue; /* its shmids are another namespace's */
        snprintf(path, sizeof path, "/proc/%ld/maps", pid);
        if (scan_slurp(path, &buf, &bufcap) < 0) {
            if (errno == ENOMEM) {
                rc = -1;
                break;
            }
            if (errno == EACCES || errno == EPERM)
                ps->unreadable++;
            continue;
        }
        int found = scan_parse_maps(ps, &mapcap, (int)pid, buf);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (!found)
            continue;
        if (ps->n_proc == proccap) {
            size_t nc = proccap ? proccap * 2 : 32;
            struct scan_proc *nv = realloc(ps->proc, nc * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            ps->proc = nv;
            proccap = nc;
        }
        struct scan_proc *sp = &ps->proc[ps->n_proc++];
        sp->pid = (int)pid;
        sg_proc_comm(sp->pid, sp->comm);
    }
    closedir(d);
    free(buf);
    if (rc != 0) {
        proc_scan_free(ps);
        errno = ENOMEM;
        return -1;
    }
    if (ps->n_map)
        qsort(ps->map, ps->n_map, sizeof *ps->map, scan_cmp_map);
    if (ps->n_proc)
        qsort(ps->proc, ps->n_proc, sizeof *ps->proc, scan_cmp_proc);
    return 0;
}

void proc_scan_free(struct proc_scan *ps)
{
    free(ps->map);
    free(ps->proc);
    memset(ps, 0, sizeof *ps);
}

size_t proc_scan_find(const struct proc_scan *ps, long shmid, const struct scan_map **first)
{
    size_t lo = 0, hi = ps->n_map;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->map[mid].shmid < shmid)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    while (lo + n < ps->n_map && ps->map[lo + n].shmid == shmid)
        n++;
    *first = n ? &ps->map[lo] : NULL;
    return n;
}

const char *proc_scan_comm(const struct proc_scan *ps, int pid)
{
    struct scan_proc key = { .pid = pid };
    const struct scan_proc *p =
        ps->n_proc ? bsearch(&key, ps->proc, ps->n_proc, sizeof *ps->proc, scan_cmp_proc) : NULL;
    return p ? p->comm : "";
}
