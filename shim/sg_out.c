/*
 * sg_out.c - a message built into a fixed buffer (see sg_out.h).
 */
#include "sg_out.h"

#include <stdarg.h>
#include <stdio.h>

void sg_out_say(struct sg_out *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->len, o->n - o->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        o->len = o->len + (size_t)w < o->n ? o->len + (size_t)w : o->n - 1;
}
