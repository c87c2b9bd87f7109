/*
 * helper_setuid.c - a program that test_hostile installs set-user-ID root
 * to show that a secure-execution process ignores SHMGUARD_* from its
 * environment.
 *
 * glibc does not preload by path into a secure-execution process, so this
 * loads the library itself (dlopen of argv[1], an absolute path) and calls
 * its shmget and shmctl, which configure the library from the environment
 * on first use.  Prints "secure=S euid=E id=I rmid=R" and exits 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "helper_setuid: %s\n", dlerror());
        return 3;
    }
    int (*get)(key_t, size_t, int) = (int (*)(key_t, size_t, int))dlsym(lib, "shmget");
    int (*ctl)(int, int, struct shmid_ds *) = (int (*)(int, int, struct shmid_ds *))dlsym(lib, "shmctl");
    if (!get || !ctl)
        return 4;
    int id = get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int rm = id >= 0 ? ctl(id, IPC_RMID, NULL) : -1;
    printf("secure=%lu euid=%d id=%d rmid=%d\n", getauxval(AT_SECURE), (int)geteuid(), id, rm);
    return 0;
}
