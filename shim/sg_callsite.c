/*
 * sg_callsite.c - resolve a call site with dladdr (see sg_callsite.h).
 */
#define _GNU_SOURCE
#include "sg_callsite.h"
#include "sg_proc.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void sg_callsite_resolve(const void *addr, struct sg_callsite *cs)
{
    memset(cs, 0, sizeof *cs);
    Dl_info di;
    if (!addr || !dladdr(addr, &di))
        return;
    cs->off = (uint64_t)((uintptr_t)addr - (uintptr_t)di.dli_fbase);
    /* The main program may be named as it was invoked ("./prog"). */
    if (di.dli_fname && di.dli_fname[0] == '/')
        sg_copy_tail(cs->obj, sizeof cs->obj, di.dli_fname);
    else {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            sg_copy_tail(cs->obj, sizeof cs->obj, exe);
        }
    }
    if (di.dli_sname && di.dli_saddr)
        snprintf(cs->sym, sizeof cs->sym, "%s+0x%lx", di.dli_sname,
                 (unsigned long)((uintptr_t)addr - (uintptr_t)di.dli_saddr));
}

void sg_callsite_store(const struct sg_callsite *cs, struct sg_seg *rec)
{
    rec->site_off = cs->off;
    memcpy(rec->site_obj, cs->obj, sizeof rec->site_obj);
    memcpy(rec->site_sym, cs->sym, sizeof rec->site_sym);
}
