/*
 * helper_stdio.c - a program whose descriptors 0-2 are not what a library
 * would expect, run under the library.
 *
 *   helper_stdio MODE DATA REPORT
 *
 * closed      started with stdin, stdout and stderr closed: one
 *             get/attach/detach, then write(1, ...) must fail with EBADF
 *             (nothing of the library may sit there), and the program's
 *             data file, opened next, takes descriptor 0.
 * noerr       started with stderr closed: the data file, opened first,
 *             takes descriptor 2; then a call that the library explains
 *             (EINVAL: the key's segment is smaller), whose message must
 *             not land in the data file.
 * closerange  a daemon that closes every descriptor from 3 on after its
 *             first call, then opens its data file (descriptor 3) and
 *             goes on: new segments, attachments (new ledger pages); the
 *             library must neither touch that file nor call its ledger
 *             full.
 *
 * Afterwards it writes to REPORT (a file it opens last): ebadf (1 if the
 * write to descriptor 1 failed with EBADF; closed only), ledger_fds (its
 * descriptors that name a file in $SHMGUARD_LEDGER), data_fd, and ok.
 * The test then checks DATA and the ledger.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#define KEY 0x5eed57d0

static int ledger_fds(void)
{
    const char *dir = getenv("SHMGUARD_LEDGER");
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (dir && d && (de = readdir(d))) {
        char p[300], t[PATH_MAX];
        snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(p, t, sizeof t - 1);
        if (k > 0) {
            t[k] = '\0';
            n += strncmp(t, dir, strlen(dir)) == 0;
        }
    }
    if (d)
        closedir(d);
    return n;
}

static int cycle(key_t key, size_t size)
{
    int id = shmget(key, size, IPC_CREAT | 0600);
    void *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
    if (p == (void *)-1)
        return -1;
    return shmdt(p) == 0 ? id : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const char *mode = argv[1];
    int ebadf = -1, data = -1, ok = 1;
    if (!strcmp(mode, "closed")) {
        ok &= cycle(KEY, 4096) >= 0;
        errno = 0;
        ebadf = write(1, "program output\n", 15) < 0 && errno == EBADF;
        data = open(argv[2], O_RDWR | O_CREAT, 0644);
        ok &= cycle(KEY + 1, 4096) >= 0;
    } else if (!strcmp(mode, "noerr")) {
        data = open(argv[2], O_RDWR | O_CREAT, 0644);
        int id = shmget(KEY, 4096, IPC_CREAT | 0600);
        ok &= id >= 0;
        ok &= shmget(KEY, 1 << 20, 0600) < 0 && errno == EINVAL;
        shmctl(id, IPC_RMID, NULL);
    } else if (!strcmp(mode, "closerange")) {
        ok &= cycle(KEY, 4096) >= 0;
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        data = open(argv[2], O_RDWR | O_CREAT, 0644);
        /* Enough records to need new ledger pages. */
        for (int i = 0; i < 64; i++) {
            int id = cycle(IPC_PRIVATE, 4096);
            ok &= id >= 0;
            shmctl(id, IPC_RMID, NULL);
        }
    } else
        return 2;
    int n = ledger_fds();
    FILE *r = fopen(argv[3], "w");
    if (!r)
        return 3;
    fprintf(r, "ebadf=%d\nledger_fds=%d\ndata_fd=%d\nok=%d\n", ebadf, n, data, ok);
    fclose(r);
    shmctl(shmget(KEY, 0, 0), IPC_RMID, NULL);
    shmctl(shmget(KEY + 1, 0, 0), IPC_RMID, NULL);
    return 0;
}
