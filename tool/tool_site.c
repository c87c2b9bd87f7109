/*
 * tool_site.c - turn a recorded call site into "function (file:line)".
 *
 * The library stores where a segment was created as an object path and the
 * offset of the return address from the object's load base (dladdr's
 * dli_fbase), plus an exported symbol when dladdr knew one.  This file
 * opens the object offline with elfutils' libdwfl (separate debug files
 * found by build id or .gnu_debuglink, as gdb finds them), maps the offset
 * back to a link-time address, and asks the symbol table for the function
 * and the DWARF line table for file and line.  It runs in the tool only:
 * the library itself links nothing beyond glibc.
 *
 * Objects are opened once per process and kept in a small cache.  Nothing
 * here is trusted more than a file on disk: an object that is missing, not
 * ELF, or changed since the record was written degrades to the stored
 * "symbol in object+offset" form, never to an error.
 */
#define _GNU_SOURCE
#include "tool.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SITE_CACHE 16

struct site_obj {
    char path[SG_PATH_LEN];
    Dwfl *dwfl;                 /* NULL: could not be opened */
    Dwfl_Module *mod;
    GElf_Addr base;             /* link-time address of dli_fbase: the first
                                 * PT_LOAD's page-aligned vaddr, plus the bias */
    int64_t mtime;              /* the file's mtime (s) */
};

static struct site_obj cache[SITE_CACHE];
static size_t n_cache, next_evict;
static char *debuginfo_path;

static const Dwfl_Callbacks site_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static void site_close(struct site_obj *o)
{
    if (o->dwfl)
        dwfl_end(o->dwfl);
    memset(o, 0, sizeof *o);
}

/* Open path offline; fills o (o->dwfl NULL when it cannot be used). */
static void site_open(struct site_obj *o, const char *path)
{
    memset(o, 0, sizeof *o);
    snprintf(o->path, sizeof o->path, "%s", path);
    struct stat st;
    /* Only regular files: never a FIFO or a device named in a record. */
    if (path[0] != '/' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    o->mtime = st.st_mtime;
    Dwfl *d = dwfl_begin(&site_callbacks);
    if (!d)
        return;
    dwfl_report_begin(d);
    Dwfl_Module *m = dwfl_report_offline(d, path, path, -1);
    dwfl_report_end(d, NULL, NULL);
    GElf_Addr bias = 0;
    Elf *elf = m ? dwfl_module_getelf(m, &bias) : NULL;
    size_t nph = 0;
    if (!elf || elf_getphdrnum(elf, &nph) != 0) {
        dwfl_end(d);
        return;
    }
    int found = 0;
    for (size_t i = 0; i < nph && !found; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
            /* dli_fbase is where the first loadable segment's page starts. */
            GElf_Addr align = ph.p_align > 1 ? ph.p_align : 1;
            GElf_Addr page = (GElf_Addr)sysconf(_SC_PAGESIZE);
            if (align > page)
                align = page;
            o->base = (ph.p_vaddr & ~(align - 1)) + bias;
            found = 1;
        }
    }
    if (!found) {
        dwfl_end(d);
        return;
    }
    o->dwfl = d;
    o->mod = m;
}

static struct site_obj *site_get(const char *path)
{
    for (size_t i = 0; i < n_cache; i++)
        if (!strcmp(cache[i].path, path))
            return &cache[i];
    struct site_obj *o;
    if (n_cache < SITE_CACHE)
        o = &cache[n_cache++];
    else {
        o = &cache[next_evict++ % SITE_CACHE];
        site_close(o);
    }
    site_open(o, path);
    return o;
}

int tool_site_resolve(const char *obj, uint64_t off, int64_t since, struct tool_site *out)
{
    memset(out, 0, sizeof *out);
    if (!obj || !obj[0] || off == 0)
        return 0;
    char path[SG_PATH_LEN];
    snprintf(path, sizeof path, "%.*s", SG_PATH_LEN - 1, obj);
    struct site_obj *o = site_get(path);
    if (!o->dwfl)
        return 0;
    out->changed = since > 0 && o->mtime > since;
    /* off is a return address: the call is the instruction before it. */
    GElf_Addr addr = o->base + off - 1;
    const char *fn = dwfl_module_addrname(o->mod, addr);
    if (fn)
        snprintf(out->func, sizeof out->func, "%s", fn);
    Dwfl_Line *ln = dwfl_module_getsrc(o->mod, addr);
    int line = 0;
    const char *file = ln ? dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL) : NULL;
    if (file && line > 0) {
        snprintf(out->file, sizeof out->file, "%s", file);
        out->line = line;
    }
    return out->func[0] || out->line;
}

void tool_site_format(char *buf, size_t n, const char *obj, uint64_t off, const char *sym,
                      size_t symlen, int64_t since)
{
    if (!n)
        return;
    buf[0] = '\0';
    if (!obj || !obj[0])
        return;
    struct tool_site s;
    const char *base = strrchr(obj, '/');
    base = base ? base + 1 : obj;
    if (tool_site_resolve(obj, off, since, &s)) {
        const char *note = s.changed ? " [the object changed since]" : "";
        if (s.line)
            snprintf(buf, n, "%s (%s:%d)%s", s.func[0] ? s.func : "??", s.file, s.line, note);
        else
            snprintf(buf, n, "%s (%s+0x%" PRIx64 ")%s", s.func, base, off, note);
        return;
    }
    if (sym && sym[0])
        snprintf(buf, n, "%.*s (%s+0x%" PRIx64 ")", (int)symlen, sym, base, off);
    else
        snprintf(buf, n, "%s+0x%" PRIx64, obj, off);
}

void tool_site_cache_free(void)
{
    for (size_t i = 0; i < n_cache; i++)
        site_close(&cache[i]);
    n_cache = next_evict = 0;
}
