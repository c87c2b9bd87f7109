/*
 * sg_diag_msg.c - the diagnosis of a failed msgget (see sg_diag.h).
 *
 * msgget creating a queue fails with ENOSPC when the namespace holds
 * kernel.msgmni queues (ipc/msg.c newque, ipc_addid).  The message names
 * the limit and its use, the queues' owners with what they hold, the
 * queues the records prove orphaned (the analysis, sg_analysis.h: creator,
 * every recorded user and the kernel's last sender and receiver dead) and
 * the command that frees them, the queues made without the library whose
 * last sender and receiver are gone (candidates only), and the sysctl
 * that raises the limit.
 */
#define _GNU_SOURCE
#include "sg_diag.h"
#include "sg_analysis.h"
#include "sg_out.h"
#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_state.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <unistd.h>

int sg_diag_classify_msg(int err, uint64_t *used, uint64_t *max)
{
    *used = *max = 0;
    if (err != ENOSPC)
        return -1;
    struct sg_msglimits l;
    if (sg_msglimits_read(&l) != 0)
        return SG_LIM_OTHER;
    *used = l.used_queues;
    *max = l.msgmni;
    return l.used_queues >= l.msgmni ? SG_LIM_MSGMNI : SG_LIM_OTHER;
}

static void flags_words(char *b, size_t n, int flg)
{
    snprintf(b, n, "%s%s%s0%o", (flg & IPC_CREAT) ? "IPC_CREAT|" : "",
             (flg & IPC_EXCL) ? "IPC_EXCL|" : "", "", (unsigned)(flg & 0777));
}

/* Up to 4 owners, largest first, by queues. */
static void owners(struct sg_out *o, const struct sg_kmsgsnap *q)
{
    uint32_t uid[4];
    size_t cnt[4] = { 0 }, k = 0;
    uint64_t bytes[4] = { 0 };
    for (size_t i = 0; i < q->n; i++) {
        size_t j;
        for (j = 0; j < k && uid[j] != q->v[i].uid; j++)
            ;
        if (j == k) {
            if (k == 4)
                continue;
            uid[k++] = q->v[i].uid;
        }
        cnt[j]++;
        bytes[j] += q->v[i].cbytes;
    }
    if (!k)
        return;
    sg_out_say(o, "\n  Owners:");
    for (size_t r = 0; r < k; r++) {
        size_t best = r;
        for (size_t j = r + 1; j < k; j++)
            if (cnt[j] > cnt[best])
                best = j;
        uint32_t tu = uid[r]; uid[r] = uid[best]; uid[best] = tu;
        size_t tc = cnt[r]; cnt[r] = cnt[best]; cnt[best] = tc;
        uint64_t tb = bytes[r]; bytes[r] = bytes[best]; bytes[best] = tb;
        sg_out_say(o, "%s uid %u: %zu queue%s (%" PRIu64 " bytes held)", r ? ";" : "", (unsigned)uid[r],
            cnt[r], cnt[r] == 1 ? "" : "s", bytes[r]);
    }
    sg_out_say(o, ".");
}

/* The queues the view proves orphaned, and those without records whose
 * last sender and receiver are gone. */
static void orphans(struct sg_out *o, const struct sg_view *v)
{
    size_t orph = 0, held = 0, quiet = 0;
    for (size_t i = 0; i < v->n_msg; i++) {
        const struct sg_msginfo *m = &v->msg[i];
        orph += m->state == SG_MSG_ORPHANED || m->state == SG_MSG_HELD;
        held += m->state == SG_MSG_HELD;
        /* Without a record: used once, and whoever sent or received last
         * is gone (a queue nobody used yet says nothing either way). */
        quiet += !m->rec && (m->k.lspid > 0 || m->k.lrpid > 0) && sg_kmsg_last_alive(&m->k) == 0;
    }
    if (orph) {
        sg_out_say(o, "\n  Orphaned: %zu queue%s whose creator and every process that used them are "
                "dead:", orph, orph == 1 ? "" : "s");
        size_t shown = 0;
        for (size_t i = 0; i < v->n_msg && shown < 8; i++) {
            const struct sg_msginfo *m = &v->msg[i];
            if (m->state != SG_MSG_ORPHANED && m->state != SG_MSG_HELD)
                continue;
            sg_out_say(o, "%s id %d by pid %d (%s)%s", shown ? "," : "", m->k.id, m->rec->cr_pid,
                m->comm[0] ? m->comm : "?", m->state == SG_MSG_HELD ? ", holding messages" : "");
            shown++;
        }
        sg_out_say(o, "%s.\n  Free them safely: shmguard gc --dry-run, then shmguard gc", orph > shown ? ", ..." : "");
        if (held)
            sg_out_say(o, " (gc keeps a queue that holds messages unless it is named: shmguard gc "
                    "--force --msqid ID)");
    }
    if (quiet)
        sg_out_say(o, "\n  %zu queue%s made without the library: %s last sender and receiver are "
                "gone, leftovers of processes killed uncleanly, perhaps; see: shmguard ls --msg",
            quiet, quiet == 1 ? "" : "s", quiet == 1 ? "its" : "their");
    if (!orph && !quiet)
        sg_out_say(o, "\n  No orphaned queues: each has a live creator, user, sender or receiver, or "
                "was never used.");
}

int sg_diag_compose_msg(char *buf, size_t n, key_t key, int flg, int err,
                        const struct sg_ledger *own, int debug)
{
    struct sg_out o = { buf, n, 0 };
    buf[0] = '\0';
    char fl[64];
    flags_words(fl, sizeof fl, flg);
    char k[32];
    if (key == IPC_PRIVATE)
        snprintf(k, sizeof k, "IPC_PRIVATE");
    else
        snprintf(k, sizeof k, "0x%08x", (unsigned)key);
    if (err != ENOSPC && debug < 1)
        return 0;
    sg_out_say(&o, "msgget(key=%s, flags=%s) failed with %s (\"%s\")", k, fl,
        err == ENOSPC ? "ENOSPC" : "an error", strerror(err));
    if (err != ENOSPC)
        return 1;
    struct sg_msglimits l;
    struct sg_kmsgsnap q;
    struct sg_view v;
    if (sg_msglimits_read(&l) != 0 || sg_kmsgsnap_read(&q) != 0) {
        sg_out_say(&o, "\n  This is not a full disk: the System V message queue limit kernel.msgmni is "
                "likely exhausted; see: shmguard doctor");
        return 1;
    }
    sg_out_say(&o, "\n  This is not a full disk: the System V message queue limit kernel.msgmni is "
            "exhausted: %" PRIu64 " of %" PRIu64 " queues in use (%" PRIu64 " messages, %" PRIu64
            " bytes held).",
        l.used_queues, l.msgmni, l.used_msgs, l.used_bytes);
    owners(&o, &q);
    sg_kmsgsnap_free(&q);
    if (sg_view_build(&v, NULL, own) == 0) {
        if (v.have_msgs)
            orphans(&o, &v);
        sg_view_free(&v);
    }
    uint64_t ceil, want = sg_ipcmni_raise(l.msgmni, l.used_queues, &ceil);
    if (want)
        sg_out_say(&o, "\n  Or raise the limit: sysctl -w kernel.msgmni=%" PRIu64, want);
    else
        sg_out_say(&o, "\n  kernel.msgmni is at the kernel's ceiling (%" PRIu64 "): only removing queues "
                "helps.", ceil);
    return 1;
}
