/*
 * helper_config.c - print the configuration this process reads
 * (sg_config_get), whether it runs in secure mode (AT_SECURE), and what
 * the library's first call checks first (sg_config_mode_off), for
 * test_config.c.  "helper_config late MODE": set SHMGUARD_MODE to MODE
 * (empty: unset it), then make, attach, detach and remove a private
 * segment, as a program would that changes its environment before its
 * first call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/shm.h>

#include "sg_config.h"

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "late")) {
        if (argv[2][0])
            setenv("SHMGUARD_MODE", argv[2], 1);
        else
            unsetenv("SHMGUARD_MODE");
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
        int ok = id >= 0 && p != (void *)-1 && shmdt(p) == 0 && shmctl(id, IPC_RMID, NULL) == 0;
        printf("late %s\n", ok ? "ok" : "failed");
        return !ok;
    }
    const struct sg_config *c = sg_config_get();
    printf("off=%d secure=%lu mode=%s sink=%d debug=%d ledger=%s log=%s problems=%s\n",
           sg_config_mode_off(), getauxval(AT_SECURE), sg_mode_name(c->mode), (int)c->sink,
           c->debug, c->ledger_dir, c->sink == SG_SINK_FILE ? c->log_path : "-", c->problems);
    return 0;
}
