/*
 * sg_compiler.h - compiler attributes used across the library.
 *
 * SG_HOT marks the functions on the path of every intercepted call: GCC
 * gathers them in .text.hot, so that the few pages of code that run
 * right after a shmat or shmdt (which leave the caches cold) sit together.
 * SG_NO_TSAN marks the sequence-lock readers, whose races are by design
 * and settled by the lock's generation, not by the loads.
 */
#ifndef SG_COMPILER_H
#define SG_COMPILER_H

#define SG_HOT     __attribute__((hot))
#define SG_NO_TSAN __attribute__((no_sanitize_thread))

/* The body of an sg_* entry point, inlined into it: the entry point only
 * sets sg_in_hook around its body (sg_core.h), in one frame. */
#define SG_BODY static inline __attribute__((always_inline))

#endif
