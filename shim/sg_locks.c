/*
 * sg_locks.c - the in-process locks and the fork handlers (see sg_locks.h).
 */
#define _GNU_SOURCE
#include "sg_locks.h"
#include "sg_core.h"

pthread_mutex_t sg_local_lock = PTHREAD_MUTEX_INITIALIZER;

static void prepare(void) { pthread_mutex_lock(&sg_local_lock); }
static void parent(void) { pthread_mutex_unlock(&sg_local_lock); }
static void child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    sg_local_lock = fresh;
    sg_core_after_fork_child();
}

void sg_locks_register_atfork(void) { pthread_atfork(prepare, parent, child); }
