/*
 * tool_ledger_check.c - `shmguard ledger --check [--repair]`: is every
 * ledger of this IPC namespace consistent, and, with --repair, put this
 * user's own ledger right.
 *
 * Each ledger file is read as `ls` reads it (a private copy, validated by
 * sg_ledger_check_image) and then checked by sg_ledger_verify; a copy that
 * shows a problem is read and checked once more after 100 ms, so that a
 * live process caught between two lock-free stores (an attachment
 * published, its counter not yet raised) is not reported.  A file
 * that cannot be used is reported with the reason, except one the caller
 * may not read (another user's), which is only noted.  --repair opens the
 * caller's own ledger as the library does, takes its lock (which recovers
 * a lock whose holder died), repairs the tables (sg_ledger_repair, which
 * also frees the attachment slots of dead claimants), and checks again.  Other users'
 * ledgers are never written.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_config.h"
#include "sg_verify.h"

#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One line on one ledger's verdict.  Returns its inconsistencies. */
static unsigned report(const char *path, const struct sg_verify *v, unsigned bad)
{
    char drift[160] = "";
    if (v->att_drift)
        snprintf(drift, sizeof drift, " (the attachment count is off by %+" PRId64 ": a process "
                 "was killed between two stores; --repair recounts it)", v->att_drift);
    if (!bad) {
        printf("%s: consistent%s%s%s\n", path,
               v->lock_dead ? " (its lock's holder died: recovered at the next lock)" : "",
               v->dead_intents ? " (intents of dead processes: dropped at the next look-up)" : "",
               drift);
        return 0;
    }
    printf("%s: %u problem%s: %s\n", path, bad, bad == 1 ? "" : "s", v->first);
    printf("  duplicate records %u, unreachable %u, out of range %u, pending index %u, "
           "counters %u, dead claims %u%s\n",
           v->dup_seg + v->dup_att + v->dup_user, v->lost_seg + v->lost_user,
           v->bad_records, v->pend_missing + v->pend_extra, v->counters, v->dead_claims,
           v->gen_odd ? ", generation left odd" : "");
    return bad;
}

/* --repair: the caller's own ledger, under its lock.  0 when it is
 * consistent afterwards. */
static int repair_own(const char *dir)
{
    char err[8192];
    struct sg_ledger L;
    if (sg_ledger_open_own(&L, dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s: ledger: cannot repair: %s\n", sg_prog, err);
        return -1;
    }
    int rc = -1;
    if (sg_ledger_lock(&L) != 0) {
        fprintf(stderr, "%s: ledger: cannot repair %s: its lock is not available (held by a live "
                        "process for over 2 s)\n", sg_prog, L.path);
    } else {
        int fixed = sg_ledger_repair(&L);
        struct sg_verify v;
        unsigned bad = sg_ledger_verify(&L, &v);
        sg_ledger_unlock(&L);
        printf("%s: repaired %d problem%s; %s\n", L.path, fixed, fixed == 1 ? "" : "s",
               bad ? "still inconsistent:" : "consistent now");
        if (bad)
            printf("  %s\n", v.first);
        rc = bad ? -1 : 0;
    }
    sg_ledger_close(&L);
    return rc;
}

unsigned ledger_check_settle_ms = 100;

int ledger_check(const char *dir, int repair)
{
    const char *d = dir ? dir : sg_config_get()->ledger_dir;
    int rc = SG_EXIT_OK;
    if (repair && repair_own(d) != 0)
        rc = SG_EXIT_FAILURE;
    uint64_t ns = sg_ipcns_ino();
    DIR *dd = opendir(d);
    if (!dd) {
        if (errno == ENOENT) {
            printf("%s: no ledger directory (nothing recorded)\n", d);
            return rc;
        }
        fprintf(stderr, "%s: ledger: cannot read ledger directory %s: %m\n", sg_prog, d);
        return SG_EXIT_FAILURE;
    }
    unsigned files = 0, bad = 0, skipped = 0;
    struct dirent *de;
    while ((de = readdir(dd))) {
        if (!sg_ledger_name_matches(de->d_name, ns))
            continue;
        char path[8192], err[8192 + 256];
        snprintf(path, sizeof path, "%s/%s", d, de->d_name);
        files++;
        if (access(path, R_OK) != 0 && errno == EACCES) {
            printf("%s: not readable by you (another user's; root can check it)\n", path);
            skipped++;
            continue;
        }
        struct sg_verify v;
        unsigned problems = 0;
        int loaded = 0;
        uint64_t dropped = 0;
        for (int pass = 0; pass < 2 && (pass == 0 || problems); pass++) {
            struct sg_ledger L;
            if (pass)
                nanosleep(&(struct timespec){ 0, (long)ledger_check_settle_ms * 1000000 }, NULL);
            loaded = sg_ledger_load(&L, path, ns, err, sizeof err) == 0;
            if (!loaded)
                break;
            problems = sg_ledger_verify(&L, &v);
            dropped = L.hdr->dropped;
            sg_ledger_close(&L);
        }
        if (!loaded) {
            printf("%s\n", err); /* names the file */
            bad++;
            continue;
        }
        bad += report(path, &v, problems) != 0;
        tool_note_dropped(stdout, "  note: ", dropped);
    }
    closedir(dd);
    if (!files)
        printf("%s: no ledger of this IPC namespace\n", d);
    if (bad)
        rc = SG_EXIT_FAILURE;
    return rc;
}
