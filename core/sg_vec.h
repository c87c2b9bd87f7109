/*
 * sg_vec.h - room for one more element in a growing array.
 */
#ifndef SG_VEC_H
#define SG_VEC_H

#include <errno.h>
#include <stdlib.h>

/* Make *v (n elements of size bytes, room for *cap) hold at least n + 1:
 * doubled, or first elements at the start.  0 ok; -1 with ENOMEM, *v
 * unchanged. */
static inline int sg_grow(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : first;
    void *nv = realloc(*v, nc * size);
    if (!nv) {
        errno = ENOMEM;
        return -1;
    }
    *v = nv;
    *cap = nc;
    return 0;
}

#endif
