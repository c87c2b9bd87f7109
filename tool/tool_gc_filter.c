/*
 * tool_gc_filter.c - which objects a gc run considers: --user (what a uid
 * owns or created) and --command (what the ledger says a process of that
 * command created), for segments (tool_gc.c) and sets (tool_gc_sem.c)
 * alike; kept apart so that neither of those calls into the other.
 */
#define _GNU_SOURCE
#include "tool.h"

#include <string.h>

int gc_filter_takes(const struct gc_opts *o, uid_t uid, uid_t cuid, const struct sg_seg *rec)
{
    if (o->have_user && uid != o->user && cuid != o->user)
        return 0;
    if (o->command && !(rec && (rec->flags & SG_SEG_CREATOR) &&
                        strncmp(rec->cr_comm, o->command, SG_COMM_LEN - 1) == 0))
        return 0;
    return 1;
}
