/*
 * sg_msg.c - msgget (see sg_msg.h).
 */
#define _GNU_SOURCE
#include "sg_msg.h"
#include "sg_diag.h"
#include "sg_real.h"
#include "sg_state.h"

#include <errno.h>

int sg_msgget(key_t key, int flg, const void *caller)
{
    sg_in_hook = 1;
    int r = real_msgget(key, flg);
    if (r < 0 && sg_st.cfg && sg_st.cfg->mode != SG_MODE_OFF)
        sg_diag_msgget(key, flg, errno, caller); /* keeps errno */
    sg_in_hook = 0;
    return r;
}
