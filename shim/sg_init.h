/*
 * sg_init.h - the library's top: first-call setup and the fork and exit
 * handlers, the only code that calls into every other part of the
 * library (sg_state, sg_core, sg_sem, sg_diag).  Nothing else calls up
 * into it except the hooks (sg_hooks.c), which call sg_init() before
 * handing an intercepted call to its sg_* function.
 */
#ifndef SG_INIT_H
#define SG_INIT_H

#include "sg_compiler.h"

extern int sg_init_ready;

void sg_init_slow(void);

/* Set the process up on its first intercepted call (sg_state_init, then
 * the fork handlers of sg_init.c); every later call only reads a flag.
 * Preserves errno.  Runs sg_state_init under pthread_once: a thread that
 * calls meanwhile waits for it. */
SG_HOT static inline void sg_init(void)
{
    if (__builtin_expect(!__atomic_load_n(&sg_init_ready, __ATOMIC_ACQUIRE), 0))
        sg_init_slow();
}

/* At the library's unloading or the process's exit (sg_hooks.c's
 * destructor): sg_core_exit, with calls made meanwhile sent to libc. */
void sg_init_fini(void);

#endif
