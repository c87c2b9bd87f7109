/*
 * sg_out.h - a message built piece by piece into a fixed buffer, cut (and
 * always terminated) when it is full: the diagnoses of sg_diag.c and
 * sg_diag_msg.c.  No allocation: they run after a failed call, in any
 * program state.
 */
#ifndef SG_OUT_H
#define SG_OUT_H

#include <stddef.h>

struct sg_out {
    char *buf;
    size_t n, len;
};

/* Append a printf-formatted piece. */
void sg_out_say(struct sg_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
