/*
 * sg_init.c - first-call setup, the fork handlers and the exit handler
 * (see sg_init.h).  The fork handlers guard sg_local_lock (sg_locks.h,
 * lock 2): prepare takes it, the parent gives it back, the child starts
 * with it free and then lets each part of the library renew what a child
 * must not inherit as is.
 */
#define _GNU_SOURCE
#include "sg_init.h"
#include "sg_compiler.h"
#include "sg_config.h"
#include "sg_core.h"
#include "sg_diag.h"
#include "sg_locks.h"
#include "sg_pidns.h"
#include "sg_state.h"

#include <errno.h>
#include <pthread.h>

SG_FIRST_DATA int sg_init_ready;

SG_FIRST_DATA static pthread_once_t once = PTHREAD_ONCE_INIT;

/* 1 once setup ran in a mode that keeps process state (not off): only
 * then has the exit anything to end.  Here, on the page the loader has
 * written, so that an exit in off mode reads nothing else. */
SG_FIRST_DATA static int exit_has_state;

static int prepare_how;
static void prepare(void) { prepare_how = sg_local_take(); }
static void parent(void) { sg_local_give(prepare_how); }
static void child(void)
{
    __atomic_store_n(&sg_local_lock, 0, __ATOMIC_RELAXED);
    sg_state_after_fork_child();
    sg_pidns_after_fork_child();
    sg_diag_after_fork_child();
    sg_core_after_fork_child();
}

/* pthread_atfork itself: glibc's is a stub in libc_nonshared.a, which
 * the linker puts at the end of the library's code, a page that only this
 * call would fault in; it hands the handlers, with this object's handle,
 * to libc's __register_atfork (exported since glibc 2.3.2, the call every
 * program's pthread_atfork makes).  Elsewhere, pthread_atfork. */
#ifdef __GLIBC__
extern int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *);
extern void *__dso_handle __attribute__((weak, visibility("hidden")));
SG_COLD static int register_atfork(void (*p)(void), void (*a)(void), void (*c)(void))
{
    return __register_atfork(p, a, c, __dso_handle);
}
#else
#define register_atfork pthread_atfork
#endif

SG_COLD static void setup(void)
{
    sg_state_init();
    /* With SHMGUARD_MODE=off every call passes through and nothing is
     * kept that a fork would have to renew. */
    if (sg_config_get()->mode != SG_MODE_OFF) {
        register_atfork(prepare, parent, child);
        exit_has_state = 1;
    }
}

SG_COLD void sg_init_slow(void)
{
    int saved = errno;
    sg_in_hook = 1; /* the hooks call in only when it is clear */
    /* SHMGUARD_MODE=off: nothing is set up at all.  The state stays zero
     * (inactive, cfg NULL: off), so every hook hands its call to libc; no
     * fork handlers, nothing at exit.  A pure pass-through spent 6 us of
     * its first call in the set-up only to find the mode. */
    if (!sg_config_mode_off())
        pthread_once(&once, setup);
    __atomic_store_n(&sg_init_ready, 1, __ATOMIC_RELEASE);
    sg_in_hook = 0;
    errno = saved;
}

void sg_init_fini(void)
{
    /* A process that never called in, or did with SHMGUARD_MODE=off, has
     * nothing to end here, and the process state's page would be faulted
     * in at its exit just to read that.  One that is setting up in another thread now ends with its
     * records left, which others judge by its death. */
    if (!__atomic_load_n(&sg_init_ready, __ATOMIC_ACQUIRE) || !exit_has_state)
        return;
    sg_in_hook = 1;
    sg_core_exit();
    sg_in_hook = 0;
}
