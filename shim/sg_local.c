/*
 * sg_local.c - this process's attachment list: a small open-addressing
 * table keyed by mapping address (see sg_local.h).
 */
#include <stdlib.h>

#include "sg_local.h"
#include "sg_compiler.h"

/* Mapping addresses are page-aligned: a multiplicative hash of the page
 * number spreads them. */
SG_HOT static uint32_t home(uint64_t addr, uint32_t mask)
{
    return (uint32_t)(((addr >> 12) * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

SG_COLD void sg_local_init(struct sg_local_tab *t, struct sg_local *first)
{
    t->e = first;
    t->mask = SG_LOCAL_FIRST - 1;
    t->n = 0;
    t->heap = 0;
}

SG_HOT struct sg_local *sg_local_find(struct sg_local_tab *t, uint64_t addr)
{
    if (!addr)
        return NULL;
    struct sg_local *e = t->e;
    uint32_t mask = t->mask;
    for (uint32_t i = home(addr, mask);; i = (i + 1) & mask) {
        if (e[i].addr == addr)
            return &e[i];
        if (!e[i].addr)
            return NULL; /* the load factor keeps a free slot */
    }
}

/* Double the table; 0 on success, -1 when out of memory (the table is
 * unchanged). */
static int grow(struct sg_local_tab *t)
{
    struct sg_local *old = t->e;
    uint32_t omask = t->mask, mask = omask * 2 + 1;
    struct sg_local *e = calloc((size_t)mask + 1, sizeof *e);
    if (!e)
        return -1;
    for (uint32_t j = 0; j <= omask; j++) {
        if (!old[j].addr)
            continue;
        uint32_t i = home(old[j].addr, mask);
        while (e[i].addr)
            i = (i + 1) & mask;
        e[i] = old[j];
    }
    if (t->heap)
        free(t->e);
    t->e = e;
    t->mask = mask;
    t->heap = 1;
    return 0;
}

SG_HOT struct sg_local *sg_local_add(struct sg_local_tab *t, uint64_t addr, int32_t shmid, uint32_t flags)
{
    struct sg_local *b = t->e;
    uint32_t mask = t->mask, i = home(addr, mask);
    while (b[i].addr && b[i].addr != addr)
        i = (i + 1) & mask;
    struct sg_local *e = &b[i];
    if (!e->addr) {
        /* At most three quarters full; when growing fails, keep adding
         * until one slot is left (lookups stop at a free slot). */
        if ((t->n + 1) * 4 > (mask + 1) * 3) {
            if (grow(t) != 0) {
                if (t->n + 1 >= mask + 1)
                    return NULL;
            } else
                return sg_local_add(t, addr, shmid, flags);
        }
        e->addr = addr;
        t->n++;
    }
    e->shmid = shmid;
    e->flags = flags;
    e->att_slot = 0;
    return e;
}

SG_HOT void sg_local_del(struct sg_local_tab *t, struct sg_local *e)
{
    struct sg_local *b = t->e;
    uint32_t mask = t->mask, hole = (uint32_t)(e - b);
    /* Backward shift: move up every later entry of the probe run whose
     * home does not lie cyclically in (hole, j]. */
    for (uint32_t j = (hole + 1) & mask; b[j].addr; j = (j + 1) & mask) {
        uint32_t h = home(b[j].addr, mask);
        if (((j - h) & mask) >= ((j - hole) & mask)) {
            b[hole] = b[j];
            hole = j;
        }
    }
    b[hole].addr = 0;
    t->n--;
}

int sg_local_count(const struct sg_local_tab *t, int32_t shmid)
{
    int n = 0;
    SG_LOCAL_FOREACH(t, it) n += it->shmid == shmid;
    return n;
}
