/*
 * sg_compiler.h - compiler attributes used across the library.
 *
 * SG_HOT marks the functions on the path of every intercepted call: GCC
 * gathers them in .text.hot, so that the few pages of code that run
 * right after a shmat or shmdt (which leave the caches cold) sit together.
 * SG_COLD marks the set-up a process runs once, on its first intercepted
 * call: GCC gathers it in .text.unlikely, which the linker places right
 * before .text.hot, so that the first call faults in a run of adjacent
 * pages of code (the kernel maps a fault's neighbours with it) instead
 * of pages scattered over the library, and calls into it are laid out
 * as the unlikely branch they are.
 * SG_NO_TSAN marks the sequence-lock readers, whose races are by design
 * and settled by the lock's generation, not by the loads.
 */
#ifndef SG_COMPILER_H
#define SG_COMPILER_H

#define SG_HOT     __attribute__((hot))
#define SG_COLD    __attribute__((cold))
#define SG_NO_TSAN __attribute__((no_sanitize_thread))

/* A small variable that a process's first intercepted call (or the
 * library's load or exit) reads or writes: in .data, on the page of the
 * library's writable data that the loader has already written
 * (relocations), not in .bss, where each page of zeros costs a page fault
 * of its own, two when it is read before it is written.  Only for small
 * variables: the first fields of the process state (sg_st) follow .data
 * on that page (Makefile, LIB_OBJ). */
#define SG_FIRST_DATA __attribute__((section(".data.sg_first")))

/* The body of an sg_* entry point, inlined into it: the entry point only
 * sets sg_in_hook around its body (sg_core.h), in one frame. */
#define SG_BODY static inline __attribute__((always_inline))

#endif
