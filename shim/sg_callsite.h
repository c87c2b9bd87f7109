/*
 * sg_callsite.h - where in the program a segment was created.
 *
 * The hook passes its return address; dladdr() turns it into an object
 * path, an offset inside that object and, when exported, a symbol.  The
 * offset is the return address (the instruction after the call), as
 * backtraces print it; the tool subtracts one before asking for a line.
 */
#ifndef SG_CALLSITE_H
#define SG_CALLSITE_H

#include <stdint.h>

#include "sg_layout.h"

struct sg_callsite {
    uint64_t off;
    char obj[SG_PATH_LEN];
    char sym[SG_SYM_LEN];
};

/* Resolve addr (may be NULL: everything left empty).  Takes the dynamic
 * loader's lock: never call it while holding the ledger lock. */
void sg_callsite_resolve(const void *addr, struct sg_callsite *cs);

/* Copy a resolved call site into a segment record. */
void sg_callsite_store(const struct sg_callsite *cs, struct sg_seg *rec);

#endif
