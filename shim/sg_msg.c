/*
 * sg_msg.c - msgget (see sg_msg.h).
 */
#define _GNU_SOURCE
#include "sg_msg.h"
#include "sg_diag.h"
#include "sg_state.h"

#include <errno.h>

int sg_msgget_failed(key_t key, int flg, int err, const void *caller)
{
    sg_in_hook = 1;
    if (sg_st.cfg && sg_st.cfg->mode != SG_MODE_OFF)
        sg_diag_msgget(key, flg, err, caller);
    sg_in_hook = 0;
    errno = err;
    return -1;
}
