/*
 * sg_selfns.c - this process's namespace identities (see sg_selfns.h).
 */
#define _GNU_SOURCE
#include "sg_selfns.h"
#include "sg_sys.h"

#include <errno.h>

uint64_t sg_selfns_ino(enum sg_selfns which)
{
    int saved = errno;
    struct stat st;
    uint64_t ino = 0;
    const char *path = which == SG_SELFNS_PID ? "/proc/self/ns/pid" : "/proc/self/ns/ipc";
    if (sg_sys_stat(path, &st) == 0)
        ino = (uint64_t)st.st_ino;
    errno = saved;
    return ino;
}
