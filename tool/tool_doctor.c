/*
 * tool_doctor.c - `shmguard doctor`: usage of this IPC namespace against
 * every System V shared memory limit, what the next shmget would fail
 * with and why, orphans and due removals, the largest holders, and the
 * exact commands that fix it.
 *
 * One analysis pass over the view that sg_analysis builds (the same one
 * behind the library's ENOSPC message); everything printed comes from the
 * struct doctor filled by that pass, so the text and the JSON always carry
 * the same numbers.
 *
 * The kernel's checks when a segment is created (ipc/shm.c newseg, then
 * ipc_addid), in this order:
 *   size < shmmin or size > shmmax        EINVAL
 *   shm_tot + pages(size) > shmall        ENOSPC
 *   used ids >= shmmni                    ENOSPC
 * so the largest segment a new shmget can still get is
 * min(shmmax, (shmall - shm_tot) pages), and none at all once shmmni is
 * used up.
 *
 * Exit status: 0 healthy; 1 error or bad usage; 2 orphaned segments or
 * sets or due pending removals, no limit at or above the threshold; 3
 * kernel.shmmni, kernel.shmall or kernel.sem's SEMMNI/SEMMNS at or above
 * DOCTOR_NEAR_PCT percent (or exhausted).  The semaphore section is
 * tool_doctor_sem.c's.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_ledger_dir.h"
#include "sg_pidns.h"
#include "sg_analysis.h"
#include "sg_config.h"
#include "sg_proc.h"

#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef SG_VERSION
#define SG_VERSION "unknown"
#endif

#define DOCTOR_NEAR_PCT 90          /* "nearly exhausted" from this use on */
#define DOCTOR_EXIT_ORPHANS 2
#define DOCTOR_EXIT_LIMIT 3
#define HOLDERS_TEXT 5              /* holders shown as text */
#define HOLDERS_JSON 32             /* holders given in JSON */
#define FAILS_MAX 4

/* Limits this large are the kernel's "no limit" defaults
 * (ULONG_MAX - 2^24 for shmmax and shmall): say so instead of 16 EiB. */
#define UNLIMITED_BYTES (1ull << 62)

enum level { LV_OK, LV_NEAR, LV_EXHAUSTED };

static const char *level_name(enum level l)
{
    return l == LV_EXHAUSTED ? "exhausted" : l == LV_NEAR ? "near" : "ok";
}

struct fail {
    const char *err;                /* "ENOSPC", "EINVAL" */
    const char *limit;              /* "kernel.shmmni", ... */
    uint64_t above;                 /* sizes above this fail; 0: any size */
    char msg[256];
};

struct action {
    char cmd[PATH_MAX + 64];
    char why[200];
};

struct doctor {
    struct sg_view v;
    const char *dir;
    int dir_given;
    uint64_t ns, ps;

    /* kernel.shmmni */
    double mni_pct;
    enum level mni;
    /* kernel.shmall */
    uint64_t all_left;              /* pages */
    uint64_t all_used_b, all_limit_b;
    double all_pct;
    enum level all;
    /* kernel.shmmax */
    const struct sg_seginfo *largest;
    double max_pct;
    uint64_t new_max;               /* largest new segment, bytes (0: none) */
    const char *new_max_by;         /* the limit that sets new_max */

    /* segments */
    struct sg_tally total, st[5], due, waiting;
    unsigned char *is_due;          /* per segment of the view */
    struct sg_holder hold[HOLDERS_JSON];
    size_t n_hold;

    struct fail fails[FAILS_MAX];
    size_t n_fails;
    struct action acts[4];
    size_t n_acts;

    enum level worst;
    int exit;
    char verdict[512];

    struct doctor_sem sem;          /* kernel.sem (tool_doctor_sem.c) */
    struct doctor_msg msg;          /* kernel.msgmni (tool_doctor_msg.c) */
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    return p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
}

/* Percent used, rounded down to a tenth, so that a use shown as 90.0% is
 * at the threshold. */
static double pct(uint64_t used, uint64_t limit)
{
    if (limit == 0)
        return 100.0; /* nothing can be created */
    unsigned __int128 permille = (unsigned __int128)used * 1000 / limit;
    return permille > 1000000 ? 100000.0 : (double)(uint64_t)permille / 10.0;
}

/* Exhausted when nothing is left, near from DOCTOR_NEAR_PCT percent on
 * (exact integer arithmetic, no rounding at the threshold). */
static enum level level_of(uint64_t used, uint64_t limit)
{
    if (used >= limit)
        return LV_EXHAUSTED;
    if ((unsigned __int128)used * 100 >= (unsigned __int128)limit * DOCTOR_NEAR_PCT)
        return LV_NEAR;
    return LV_OK;
}

static void fmt_bytes(char *buf, size_t n, uint64_t b)
{
    if (b >= UNLIMITED_BYTES)
        snprintf(buf, n, "no limit");
    else
        sg_fmt_bytes(buf, n, b);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void fmt_uid(char *buf, size_t n, uid_t uid)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, n, "%s (%u)", res->pw_name, (unsigned)uid);
    else
        snprintf(buf, n, "uid %u", (unsigned)uid);
}

/* Quote a word for a shell command line when it needs it. */
static void shell_quote(char *buf, size_t n, const char *s)
{
    if (s[0] && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+=:,@%")
                    == strlen(s)) {
        snprintf(buf, n, "%s", s);
        return;
    }
    size_t o = 0;
    if (o + 1 < n)
        buf[o++] = '\'';
    for (; *s && o + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(buf + o, "'\\''", 4);
            o += 4;
        } else
            buf[o++] = *s;
    }
    if (o + 1 < n)
        buf[o++] = '\'';
    buf[o] = '\0';
}

/* ---- due pending removals ---------------------------------------------- */

/* A pending removal is due when nobody is attached and no carrier is
 * between its lookup and its attach: the removal is owed, and only a
 * later carrier or `shmguard gc` will carry it out. */
struct intents {
    int32_t *id;
    size_t n;
    int overflow;                   /* a ledger holds every removal back for now */
};

static void intents_collect(struct intents *in, const struct sg_view *v)
{
    memset(in, 0, sizeof *in);
    uint64_t now = sg_mono_ns();
    size_t cap = 0;
    for (size_t l = 0; l < v->n_ledgers; l++) {
        const struct sg_ledger *L = &v->ledgers[l];
        if (L->hdr->intent_overflow_until_ns > now)
            in->overflow = 1;
        for (uint32_t i = 0; L->intent && i < L->intent_cap; i++) {
            const struct sg_intent *t = &L->intent[i];
            if (t->state != SG_REC_LIVE || now - t->time_ns >= SG_INTENT_TTL_NS)
                continue;
            if (sg_proc_alive_ns(t->pid, t->start, t->pidns) == 0)
                continue; /* alive or unknown: it holds, as gc sees it */
            if (in->n == cap) {
                cap = cap ? cap * 2 : 16;
                int32_t *nv = realloc(in->id, cap * sizeof *nv);
                if (!nv)
                    return;
                in->id = nv;
            }
            in->id[in->n++] = t->shmid;
        }
    }
}

static int intents_hold(const struct intents *in, int32_t id)
{
    if (in->overflow)
        return 1;
    for (size_t i = 0; i < in->n; i++)
        if (in->id[i] == id)
            return 1;
    return 0;
}

/* ---- the analysis ------------------------------------------------------- */

static void add_tally(struct sg_tally *t, const struct sg_seginfo *s)
{
    t->count++;
    t->bytes += s->k.size;
    t->pages += s->pages;
}

static void add_fail(struct doctor *d, const char *err, const char *limit, uint64_t above,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_fail(struct doctor *d, const char *err, const char *limit, uint64_t above,
                     const char *fmt, ...)
{
    if (d->n_fails == FAILS_MAX)
        return;
    struct fail *f = &d->fails[d->n_fails++];
    f->err = err;
    f->limit = limit;
    f->above = above;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
}

static void add_action(struct doctor *d, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_action(struct doctor *d, const char *cmd, const char *fmt, ...)
{
    if (d->n_acts == sizeof d->acts / sizeof d->acts[0])
        return;
    struct action *a = &d->acts[d->n_acts++];
    snprintf(a->cmd, sizeof a->cmd, "%s", cmd);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof a->why, fmt, ap);
    va_end(ap);
}

static void analyse(struct doctor *d)
{
    const struct sg_limits *l = &d->v.lim;
    d->ps = l->page_size ? l->page_size : 4096;

    /* One pass over the segments: tallies, the largest, due removals. */
    struct intents in;
    int have_intents = 0;
    for (size_t i = 0; i < d->v.n; i++) {
        const struct sg_seginfo *s = &d->v.seg[i];
        add_tally(&d->total, s);
        add_tally(&d->st[s->state], s);
        if (!d->largest || s->k.size > d->largest->k.size)
            d->largest = s;
        if (s->state == SG_ST_PENDING) {
            /* Due: nobody attached, no carrier about to attach, and asked
             * for in a ledger whose owner may remove the segment (what gc
             * requires before it acts on a pending record). */
            int trusted = s->rec_domain == 0 || s->rec_domain == s->k.uid || s->rec_domain == s->k.cuid;
            if (s->k.nattch == 0 && trusted && !have_intents) {
                intents_collect(&in, &d->v);
                have_intents = 1;
            }
            if (s->k.nattch == 0 && trusted && !intents_hold(&in, s->k.id)) {
                d->is_due[i] = 1;
                add_tally(&d->due, s);
            } else
                add_tally(&d->waiting, s);
        }
    }
    if (have_intents)
        free(in.id);
    d->n_hold = sg_view_holders(&d->v, d->hold, HOLDERS_JSON);

    /* kernel.shmmni */
    d->mni_pct = pct(l->used_ids, l->shmmni);
    d->mni = level_of(l->used_ids, l->shmmni);
    /* kernel.shmall */
    d->all_left = l->shm_tot < l->shmall ? l->shmall - l->shm_tot : 0;
    d->all_used_b = mul_sat(l->shm_tot, d->ps);
    d->all_limit_b = mul_sat(l->shmall, d->ps);
    d->all_pct = pct(l->shm_tot, l->shmall);
    d->all = level_of(l->shm_tot, l->shmall);
    /* kernel.shmmax, and the largest segment that can still be created */
    d->max_pct = d->largest ? pct(d->largest->k.size, l->shmmax) : 0.0;
    uint64_t by_all = mul_sat(d->all_left, d->ps);
    if (d->mni == LV_EXHAUSTED) {
        d->new_max = 0;
        d->new_max_by = "kernel.shmmni";
    } else if (by_all < l->shmmax) {
        d->new_max = by_all;
        d->new_max_by = "kernel.shmall";
    } else {
        d->new_max = l->shmmax;
        d->new_max_by = "kernel.shmmax";
    }
    d->worst = d->mni > d->all ? d->mni : d->all;

    /* What fails next, most pressing first. */
    char b1[32], b2[32];
    if (d->mni == LV_EXHAUSTED)
        add_fail(d, "ENOSPC", "kernel.shmmni", 0,
                 "the next shmget that creates a segment fails with ENOSPC: kernel.shmmni is "
                 "exhausted (%" PRIu64 "/%" PRIu64 " segments)",
                 l->used_ids, l->shmmni);
    if (d->all == LV_EXHAUSTED) {
        sg_fmt_bytes(b1, sizeof b1, d->all_limit_b);
        add_fail(d, "ENOSPC", "kernel.shmall", 0,
                 "every shmget that creates a segment fails with ENOSPC: kernel.shmall is "
                 "exhausted (%" PRIu64 "/%" PRIu64 " pages, %s)",
                 l->shm_tot, l->shmall, b1);
    } else if (d->mni != LV_EXHAUSTED && by_all < l->shmmax) {
        sg_fmt_bytes(b1, sizeof b1, by_all);
        add_fail(d, "ENOSPC", "kernel.shmall", by_all,
                 "a new segment larger than %s fails with ENOSPC (kernel.shmall has %" PRIu64
                 " %s left)",
                 b1, d->all_left, plural(d->all_left, "page", "pages"));
    }
    if (d->mni == LV_NEAR) {
        uint64_t left = l->shmmni - l->used_ids;
        add_fail(d, "ENOSPC", "kernel.shmmni", 0,
                 "after %" PRIu64 " more %s, the next shmget that creates one fails with ENOSPC "
                 "(kernel.shmmni %" PRIu64 "/%" PRIu64 ")",
                 left, plural(left, "segment", "segments"), l->used_ids, l->shmmni);
    }
    if (l->shmmax < UNLIMITED_BYTES && d->all != LV_EXHAUSTED && d->mni != LV_EXHAUSTED &&
        by_all >= l->shmmax) {
        sg_fmt_bytes(b1, sizeof b1, l->shmmax);
        add_fail(d, "EINVAL", "kernel.shmmax", l->shmmax,
                 "a segment larger than kernel.shmmax (%s) fails with EINVAL", b1);
    }

    /* The verdict. */
    char lim[300] = "", extra[200] = "";
    if (d->worst != LV_OK) {
        size_t o = 0;
        if (d->mni == d->worst)
            o += (size_t)snprintf(lim + o, sizeof lim - o,
                                  "kernel.shmmni %" PRIu64 "/%" PRIu64 " segments (%.1f%%)",
                                  l->used_ids, l->shmmni, d->mni_pct);
        if (d->all == d->worst && o < sizeof lim) {
            sg_fmt_bytes(b1, sizeof b1, d->all_used_b);
            fmt_bytes(b2, sizeof b2, d->all_limit_b);
            snprintf(lim + o, sizeof lim - o,
                     "%skernel.shmall %" PRIu64 "/%" PRIu64 " pages, %s of %s (%.1f%%)",
                     o ? " and " : "", l->shm_tot, l->shmall, b1, b2, d->all_pct);
        }
    }
    if (d->st[SG_ST_ORPHANED].count || d->due.count) {
        size_t o = 0;
        if (d->st[SG_ST_ORPHANED].count) {
            sg_fmt_bytes(b1, sizeof b1, d->st[SG_ST_ORPHANED].bytes);
            o += (size_t)snprintf(extra, sizeof extra, "%zu orphaned %s %s %s",
                                  d->st[SG_ST_ORPHANED].count,
                                  plural(d->st[SG_ST_ORPHANED].count, "segment", "segments"),
                                  plural(d->st[SG_ST_ORPHANED].count, "holds", "hold"), b1);
        }
        if (d->due.count && o < sizeof extra)
            snprintf(extra + o, sizeof extra - o, "%s%zu pending %s due", o ? ", " : "",
                     d->due.count, plural(d->due.count, "removal is", "removals are"));
    }
    if (d->worst == LV_EXHAUSTED) {
        snprintf(d->verdict, sizeof d->verdict, "EXHAUSTED: %s: %s%s%s", lim,
                 d->mni == LV_EXHAUSTED ? "the next shmget that creates a segment fails with ENOSPC"
                                        : "every new segment fails with ENOSPC",
                 extra[0] ? "; " : "", extra);
        d->exit = DOCTOR_EXIT_LIMIT;
    } else if (d->worst == LV_NEAR) {
        snprintf(d->verdict, sizeof d->verdict, "NEARLY EXHAUSTED: %s, at or above %d%%%s%s", lim,
                 DOCTOR_NEAR_PCT, extra[0] ? "; " : "", extra);
        d->exit = DOCTOR_EXIT_LIMIT;
    } else if (extra[0]) {
        snprintf(d->verdict, sizeof d->verdict, "ORPHANS: %s; every limit below %d%%", extra,
                 DOCTOR_NEAR_PCT);
        d->exit = DOCTOR_EXIT_ORPHANS;
    } else {
        sg_fmt_bytes(b1, sizeof b1, d->total.bytes);
        int mni_top = d->mni_pct >= d->all_pct;
        snprintf(d->verdict, sizeof d->verdict,
                 "HEALTHY: %zu %s (%s), every limit below %d%% (highest: %s %.1f%%), no orphans",
                 d->total.count, plural(d->total.count, "segment", "segments"), b1,
                 DOCTOR_NEAR_PCT, mni_top ? "kernel.shmmni" : "kernel.shmall",
                 mni_top ? d->mni_pct : d->all_pct);
        d->exit = SG_EXIT_OK;
    }

    /* The safe commands, safest first. */
    char dirarg[PATH_MAX + 16] = "";
    if (d->dir_given) {
        char q[PATH_MAX + 8];
        shell_quote(q, sizeof q, d->dir);
        snprintf(dirarg, sizeof dirarg, " --dir %s", q);
    }
    char cmd[PATH_MAX + 64];
    size_t freeable = d->st[SG_ST_ORPHANED].count + d->due.count;
    if (freeable) {
        uint64_t pages = d->st[SG_ST_ORPHANED].pages + d->due.pages;
        snprintf(cmd, sizeof cmd, "%s gc --dry-run%s", sg_prog, dirarg);
        add_action(d, cmd, "shows what gc would remove and why; removes nothing");
        snprintf(cmd, sizeof cmd, "%s gc%s", sg_prog, dirarg);
        const char *what = !d->due.count ? plural(freeable, "orphaned segment", "orphaned segments")
                           : !d->st[SG_ST_ORPHANED].count ? plural(freeable, "due removal", "due removals")
                                                          : "orphans and due removals";
        add_action(d, cmd, "removes the %zu %s (%" PRIu64 " %s), re-checking each first", freeable,
                   what, pages, plural(pages, "page", "pages"));
    }
    if (d->mni != LV_OK) {
        uint64_t ceil;
        uint64_t want = sg_ipcmni_raise(l->shmmni, l->used_ids, &ceil);
        if (want) {
            snprintf(cmd, sizeof cmd, "sysctl -w kernel.shmmni=%" PRIu64, want);
            add_action(d, cmd, "raises the segment limit from %" PRIu64 " (this IPC namespace, until reboot)",
                       l->shmmni);
        } else
            add_action(d, "", "kernel.shmmni is at the kernel's ceiling (%" PRIu64
                              "): only removing segments helps", ceil);
    }
    if (d->all != LV_OK) {
        uint64_t want = l->shmall > l->shm_tot ? l->shmall : l->shm_tot;
        want = want > UINT64_MAX / 4 ? UINT64_MAX / 2 : want * 2;
        sg_fmt_bytes(b1, sizeof b1, mul_sat(want, d->ps));
        snprintf(cmd, sizeof cmd, "sysctl -w kernel.shmall=%" PRIu64, want);
        add_action(d, cmd, "raises the page limit from %" PRIu64 " to %s (this IPC namespace, until reboot)",
                   l->shmall, b1);
    }
}

/* ---- text --------------------------------------------------------------- */

static void print_text(const struct doctor *d)
{
    const struct sg_limits *l = &d->v.lim;
    char b1[32], b2[32], b3[32], used[96];
    printf("%s\n\n", d->verdict);

    printf("Limits (IPC namespace %" PRIu64 ", warn at %d%%):\n", d->ns, DOCTOR_NEAR_PCT);
    snprintf(used, sizeof used, "%" PRIu64 " / %" PRIu64 " segments", l->used_ids, l->shmmni);
    printf("  kernel.shmmni  %-44s %6.1f%%%s\n", used, d->mni_pct,
           d->mni == LV_EXHAUSTED ? "  EXHAUSTED" : d->mni == LV_NEAR ? "  NEARLY EXHAUSTED" : "");
    sg_fmt_bytes(b1, sizeof b1, d->all_used_b);
    fmt_bytes(b2, sizeof b2, d->all_limit_b);
    if (d->all_limit_b >= UNLIMITED_BYTES)
        snprintf(used, sizeof used, "%" PRIu64 " pages (%s), no limit", l->shm_tot, b1);
    else
        snprintf(used, sizeof used, "%" PRIu64 " / %" PRIu64 " pages (%s / %s)", l->shm_tot,
                 l->shmall, b1, b2);
    printf("  kernel.shmall  %-44s %6.1f%%%s\n", used, d->all_pct,
           d->all == LV_EXHAUSTED ? "  EXHAUSTED" : d->all == LV_NEAR ? "  NEARLY EXHAUSTED" : "");
    sg_fmt_bytes(b1, sizeof b1, d->largest ? d->largest->k.size : 0);
    fmt_bytes(b2, sizeof b2, l->shmmax);
    if (d->largest)
        snprintf(used, sizeof used, "largest %s / %s", b1, b2);
    else
        snprintf(used, sizeof used, "no segment / %s", b2);
    printf("  kernel.shmmax  %-44s %6.1f%%\n", used, d->max_pct);
    fmt_bytes(b3, sizeof b3, d->new_max);
    if (d->new_max == 0)
        printf("  a new segment  none can be created (%s)\n", d->new_max_by);
    else if (d->new_max >= UNLIMITED_BYTES)
        printf("  a new segment  any size (kernel.shmmax and kernel.shmall set no limit)\n");
    else
        printf("  a new segment  can have up to %s (%s)\n", b3, d->new_max_by);

    if (d->n_fails) {
        printf("\nWhat fails next:\n");
        for (size_t i = 0; i < d->n_fails; i++)
            printf("  - %s\n", d->fails[i].msg);
    }

    sg_fmt_bytes(b1, sizeof b1, d->total.bytes);
    printf("\nSegments: %zu (%s):", d->total.count, b1);
    static const enum sg_segstate order[] = { SG_ST_IN_USE, SG_ST_IDLE, SG_ST_ORPHANED,
                                              SG_ST_PENDING, SG_ST_MARKED };
    static const char *label[] = { "in use", "idle", "orphaned", "pending removal", "marked for destruction" };
    int any = 0;
    for (size_t i = 0; i < 5; i++)
        if (d->st[order[i]].count) {
            printf("%s %zu %s", any ? "," : "", d->st[order[i]].count, label[i]);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    if (d->st[SG_ST_ORPHANED].count) {
        sg_fmt_bytes(b1, sizeof b1, d->st[SG_ST_ORPHANED].bytes);
        printf("  orphaned         %zu %s, %s (%" PRIu64 " %s): creator dead, nobody attached\n",
               d->st[SG_ST_ORPHANED].count, plural(d->st[SG_ST_ORPHANED].count, "segment", "segments"),
               b1, d->st[SG_ST_ORPHANED].pages, plural(d->st[SG_ST_ORPHANED].pages, "page", "pages"));
    }
    if (d->due.count) {
        sg_fmt_bytes(b1, sizeof b1, d->due.bytes);
        printf("  removals due     %zu, %s: removal asked for, nobody attached, nobody left to do it\n",
               d->due.count, b1);
    }
    if (d->waiting.count) {
        sg_fmt_bytes(b1, sizeof b1, d->waiting.bytes);
        printf("  removals waiting %zu, %s: done at the last detach\n", d->waiting.count, b1);
    }
    if (d->st[SG_ST_MARKED].count) {
        sg_fmt_bytes(b1, sizeof b1, d->st[SG_ST_MARKED].bytes);
        printf("  marked           %zu, %s: removed by the kernel at the last detach\n",
               d->st[SG_ST_MARKED].count, b1);
    }
    size_t hidden = 0;
    for (size_t i = 0; i < d->v.n; i++)
        hidden += d->v.seg[i].creator_alive == SG_ALIVE_HIDDEN && d->v.seg[i].k.nattch == 0;
    if (hidden)
        printf("  elsewhere        %zu idle, kept: %s not visible from this pid namespace\n",
               hidden, hidden == 1 ? "its creator is" : "their creators are");

    if (d->n_hold) {
        printf("\nLargest holders (creator command, uid):\n");
        int w = 12;
        for (size_t i = 0; i < d->n_hold && i < HOLDERS_TEXT; i++) {
            int n = d->hold[i].comm[0] ? (int)strnlen(d->hold[i].comm, sizeof d->hold[i].comm)
                                       : (int)strlen("(created without shmguard)");
            w = n > w ? n : w;
        }
        for (size_t i = 0; i < d->n_hold && i < HOLDERS_TEXT; i++) {
            const struct sg_holder *h = &d->hold[i];
            char who[300];
            fmt_uid(who, sizeof who, h->uid);
            sg_fmt_bytes(b1, sizeof b1, h->t.bytes);
            char comm[sizeof h->comm + 1];
            snprintf(comm, sizeof comm, "%.*s", (int)sizeof h->comm, h->comm);
            printf("  %-*s  %-16s %6zu %-8s %10s\n", w, comm[0] ? comm : "(created without shmguard)",
                   who, h->t.count, plural(h->t.count, "segment", "segments"), b1);
        }
        if (d->n_hold > HOLDERS_TEXT)
            printf("  ... %zu%s more (--json lists them)\n", d->n_hold - HOLDERS_TEXT,
                   d->n_hold == HOLDERS_JSON ? " or" : "");
    }

    if (d->n_acts) {
        printf("\nWhat to do:\n");
        for (size_t i = 0; i < d->n_acts; i++) {
            if (d->acts[i].cmd[0])
                printf("  %-30s  # %s\n", d->acts[i].cmd, d->acts[i].why);
            else
                printf("  %s\n", d->acts[i].why);
        }
    }

    doctor_sem_text(&d->sem, &d->v, stdout);
    doctor_msg_text(&d->msg, stdout);

    char fs[32] = "unknown file system";
    int mem = sg_ledger_dir_in_memory(d->dir, fs, sizeof fs);
    if (mem == 1)
        printf("\nLedger: %s, on %s: sound\n", d->dir, fs);
    else if (mem < 0)
        printf("\nLedger: %s: its file system cannot be examined (neither it nor its parent "
               "exists or is readable)\n", d->dir);
    else
        printf("\nLedger: %s, on %s: NOT USED by the library, which keeps its ledgers only on "
               "tmpfs (elsewhere every process would write them through to disk); set "
               "SHMGUARD_LEDGER to a directory on tmpfs, such as %s\n",
               d->dir, fs, SG_LEDGER_DIR_DEFAULT);
    tool_note_dropped(stdout, "\nNote: ", d->v.dropped);
    if (d->v.n_unreadable) {
        printf("\nNote: %zu ledger %s could not be read (creators unknown there): %s\n",
               d->v.n_unreadable, plural(d->v.n_unreadable, "file", "files"), d->v.unreadable[0]);
    } else if (d->v.n_ledgers == 0 && d->v.n) {
        printf("\nNote: no shmguard ledger for this IPC namespace in %s: creators are known only "
               "while they run\n", d->dir);
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void json_tally(FILE *f, const char *name, const struct sg_tally *t, const char *sep)
{
    fprintf(f, "\"%s\": {\"count\": %zu, \"bytes\": %" PRIu64 ", \"pages\": %" PRIu64 "}%s", name,
            t->count, t->bytes, t->pages, sep);
}

static void json_seg_common(FILE *f, const struct sg_seginfo *s)
{
    fprintf(f, "{\"id\": %d, \"key\": \"0x%08x\", \"bytes\": %" PRIu64 ", \"pages\": %" PRIu64
               ", \"nattch\": %" PRIu64 ", \"creator_pid\": %d, \"creator_uid\": %u, \"comm\": ",
            s->k.id, (unsigned)s->k.key, s->k.size, s->pages, s->k.nattch,
            s->rec && (s->rec->flags & SG_SEG_CREATOR) ? s->rec->cr_pid : s->k.cpid,
            (unsigned)s->k.cuid);
    if (s->comm[0])
        json_str(f, s->comm, sizeof s->comm);
    else
        fprintf(f, "null");
    fprintf(f, ", \"recorded\": %s",
            s->rec && (s->rec->flags & SG_SEG_CREATOR) ? "true" : "false");
}

static void print_json(const struct doctor *d)
{
    FILE *f = stdout;
    const struct sg_limits *l = &d->v.lim;
    const char *sem = doctor_sem_tag(&d->sem);
    fprintf(f, "{\n  \"verdict\": \"%s\",\n  \"exit_status\": %d,\n  \"summary\": ",
            d->worst == LV_EXHAUSTED ? "exhausted"
            : sem && !strcmp(sem, "exhausted") ? sem
            : d->msg.mni == 2 ? "exhausted"
            : d->worst == LV_NEAR ? "nearly-exhausted"
            : sem ? sem
            : d->msg.mni == 1 ? "nearly-exhausted"
            : d->exit == DOCTOR_EXIT_ORPHANS ? "orphans" : "healthy",
            d->exit);
    json_str(f, d->verdict, sizeof d->verdict);
    fprintf(f, ",\n  \"threshold_percent\": %d,\n  \"namespace\": %" PRIu64
               ",\n  \"page_size\": %" PRIu64 ",\n",
            DOCTOR_NEAR_PCT, d->ns, d->ps);
    fprintf(f, "  \"limits\": {\n");
    fprintf(f, "    \"shmmni\": {\"used\": %" PRIu64 ", \"limit\": %" PRIu64
               ", \"left\": %" PRIu64 ", \"percent\": %.1f, \"status\": \"%s\"},\n",
            l->used_ids, l->shmmni, l->used_ids < l->shmmni ? l->shmmni - l->used_ids : 0,
            d->mni_pct, level_name(d->mni));
    fprintf(f, "    \"shmall\": {\"used_pages\": %" PRIu64 ", \"limit_pages\": %" PRIu64
               ", \"left_pages\": %" PRIu64 ", \"used_bytes\": %" PRIu64 ", \"limit_bytes\": %" PRIu64
               ", \"percent\": %.1f, \"status\": \"%s\"},\n",
            l->shm_tot, l->shmall, d->all_left, d->all_used_b, d->all_limit_b, d->all_pct,
            level_name(d->all));
    fprintf(f, "    \"shmmax\": {\"limit_bytes\": %" PRIu64 ", \"largest_segment_bytes\": %" PRIu64
               ", \"largest_segment_id\": ",
            l->shmmax, d->largest ? d->largest->k.size : 0);
    if (d->largest)
        fprintf(f, "%d", d->largest->k.id);
    else
        fprintf(f, "null");
    fprintf(f, ", \"percent\": %.1f},\n", d->max_pct);
    fprintf(f, "    \"shmmin\": {\"limit_bytes\": %" PRIu64 "}\n  },\n", l->shmmin);
    fprintf(f, "  \"new_segment\": {\"max_bytes\": %" PRIu64 ", \"limited_by\": \"%s\"},\n",
            d->new_max, d->new_max_by);
    fprintf(f, "  \"fails_next\": [");
    for (size_t i = 0; i < d->n_fails; i++) {
        const struct fail *x = &d->fails[i];
        fprintf(f, "%s\n    {\"errno\": \"%s\", \"limit\": \"%s\", \"larger_than_bytes\": ",
                i ? "," : "", x->err, x->limit);
        if (x->above)
            fprintf(f, "%" PRIu64, x->above);
        else
            fprintf(f, "null");
        fprintf(f, ", \"message\": ");
        json_str(f, x->msg, sizeof x->msg);
        fprintf(f, "}");
    }
    fprintf(f, "%s],\n", d->n_fails ? "\n  " : "");

    fprintf(f, "  \"segments\": {");
    json_tally(f, "total", &d->total, ", ");
    json_tally(f, "in_use", &d->st[SG_ST_IN_USE], ", ");
    json_tally(f, "idle", &d->st[SG_ST_IDLE], ",\n    ");
    json_tally(f, "orphaned", &d->st[SG_ST_ORPHANED], ", ");
    json_tally(f, "pending", &d->st[SG_ST_PENDING], ", ");
    json_tally(f, "pending_due", &d->due, ",\n    ");
    json_tally(f, "marked", &d->st[SG_ST_MARKED], "},\n");

    fprintf(f, "  \"orphans\": [");
    int first = 1;
    for (size_t i = 0; i < d->v.n; i++) {
        const struct sg_seginfo *s = &d->v.seg[i];
        if (s->state != SG_ST_ORPHANED)
            continue;
        fprintf(f, "%s\n    ", first ? "" : ",");
        first = 0;
        json_seg_common(f, s);
        fprintf(f, ", \"why\": \"%s\"}",
                s->rec && (s->rec->flags & SG_SEG_CREATOR) ? "creator-dead" : "no-such-pid");
    }
    fprintf(f, "%s],\n  \"pending_due\": [", first ? "" : "\n  ");
    first = 1;
    for (size_t i = 0; i < d->v.n; i++) {
        const struct sg_seginfo *s = &d->v.seg[i];
        if (!d->is_due[i])
            continue;
        fprintf(f, "%s\n    ", first ? "" : ",");
        first = 0;
        json_seg_common(f, s);
        fprintf(f, ", \"requested_by_pid\": %d, \"requested_by_uid\": %u}", s->rec->rm_pid,
                (unsigned)s->rec->rm_uid);
    }
    fprintf(f, "%s],\n  \"holders\": [", first ? "" : "\n  ");
    for (size_t i = 0; i < d->n_hold; i++) {
        const struct sg_holder *h = &d->hold[i];
        fprintf(f, "%s\n    {\"comm\": ", i ? "," : "");
        if (h->comm[0])
            json_str(f, h->comm, sizeof h->comm);
        else
            fprintf(f, "null");
        fprintf(f, ", \"uid\": %u, \"count\": %zu, \"bytes\": %" PRIu64 ", \"pages\": %" PRIu64 "}",
                (unsigned)h->uid, h->t.count, h->t.bytes, h->t.pages);
    }
    fprintf(f, "%s],\n  \"actions\": [", d->n_hold ? "\n  " : "");
    for (size_t i = 0; i < d->n_acts; i++) {
        fprintf(f, "%s\n    {\"command\": ", i ? "," : "");
        if (d->acts[i].cmd[0])
            json_str(f, d->acts[i].cmd, sizeof d->acts[i].cmd);
        else
            fprintf(f, "null");
        fprintf(f, ", \"why\": ");
        json_str(f, d->acts[i].why, sizeof d->acts[i].why);
        fprintf(f, "}");
    }
    fprintf(f, "%s],\n", d->n_acts ? "\n  " : "");
    doctor_sem_json(&d->sem, &d->v, f);
    doctor_msg_json(&d->msg, f);
    char fs[32] = "";
    int mem = sg_ledger_dir_in_memory(d->dir, fs, sizeof fs);
    fprintf(f, "  \"ledgers\": {\"dir\": ");
    json_str(f, d->dir, PATH_MAX);
    fprintf(f, ", \"fs\": ");
    if (fs[0])
        json_str(f, fs, sizeof fs);
    else
        fprintf(f, "null");
    fprintf(f, ", \"in_memory\": %s", mem == 1 ? "true" : "false");
    fprintf(f, ", \"read\": %zu, \"dropped\": %" PRIu64 ", \"unreadable\": [", d->v.n_ledgers,
            d->v.dropped);
    for (size_t i = 0; i < d->v.n_unreadable; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, d->v.unreadable[i], sizeof d->v.unreadable[i]);
    }
    fprintf(f, "]}\n}\n");
}

/* ---- command ------------------------------------------------------------ */

static void doctor_usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s doctor [options]\n"
            "\n"
            "Show System V shared memory usage of this IPC namespace against every limit\n"
            "(kernel.shmmni, kernel.shmall, kernel.shmmax), what the next shmget would fail\n"
            "with and why, orphaned segments and due removals, the largest holders, and\n"
            "the commands that fix it; then the same for semaphore sets (kernel.sem:\n"
            "SEMMNI sets, SEMMNS semaphores) and message queues (kernel.msgmni).\n"
            "\n"
            "Options:\n"
            " -J, --json         JSON output (fields: see shmguard(1))\n"
            " -P, --prometheus   Prometheus text format (metrics: see shmguard(1));\n"
            "                        exit status 0 once printed, the verdict is a metric\n"
            " -o, --output <file>  write the Prometheus text to file atomically (a\n"
            "                        temporary file renamed over it), for node\n"
            "                        exporter's textfile collector; implies -P\n"
            "     --dir <dir>    ledger directory, absolute and existing\n"
            "                        (default: $SHMGUARD_LEDGER or %s)\n"
            "\n"
            " -h, --help         display this help\n"
            " -V, --version      display version\n"
            "\n"
            "Exit status:\n"
            " 0  healthy: every limit below %d%%, no orphans, no due removals\n"
            " 1  error, or bad usage\n"
            " 2  orphaned segments or sets, or due pending removals, and every limit below %d%%\n"
            " 3  kernel.shmmni, kernel.shmall, SEMMNI, SEMMNS or kernel.msgmni at %d%% of its\n"
            "    limit or more\n"
            "    (orphans or not)\n"
            "\n"
            "For more details see shmguard(1).\n",
            sg_prog, SG_LEDGER_DIR_DEFAULT, DOCTOR_NEAR_PCT, DOCTOR_NEAR_PCT, DOCTOR_NEAR_PCT);
}

int cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'J' },
        { "prometheus", no_argument, NULL, 'P' },
        { "output", required_argument, NULL, 'o' },
        { "dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, prom = 0, c;
    const char *dir = NULL, *output = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":JPo:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'J': json = 1; break;
        case 'P': prom = 1; break;
        case 'o': output = optarg; prom = 1; break;
        case 'd': dir = optarg; break;
        case 'h': doctor_usage(stdout); return SG_EXIT_OK;
        case 'V': printf("%s from shmguard %s\n", sg_prog, SG_VERSION); return SG_EXIT_OK;
        case ':':
            tool_cmd_usage_error("doctor", "option '%s' requires an argument", argv[optind - 1]);
            return SG_EXIT_FAILURE;
        default:
            if (optopt)
                tool_cmd_usage_error("doctor", "invalid option -- '%c'", optopt);
            else
                tool_cmd_usage_error("doctor", "unrecognized option '%s'", argv[optind - 1]);
            return SG_EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        tool_cmd_usage_error("doctor", "unexpected argument '%s'", argv[optind]);
        return SG_EXIT_FAILURE;
    }
    if (json && prom) {
        tool_cmd_usage_error("doctor", "--json and --prometheus (or --output) exclude each other");
        return SG_EXIT_FAILURE;
    }
    if (output && !*output) {
        tool_cmd_usage_error("doctor", "--output needs a file name");
        return SG_EXIT_FAILURE;
    }
    if (dir && (tool_dir_arg("doctor", dir) != 0 || tool_dir_readable("doctor", dir) != 0)) {
        return SG_EXIT_FAILURE;
    }

    static struct doctor d; /* large: keep it off the stack */
    memset(&d, 0, sizeof d);
    d.dir_given = dir != NULL;
    d.dir = dir ? dir : sg_config_get()->ledger_dir;
    d.ns = sg_ipcns_ino();
    if (sg_view_build(&d.v, d.dir, NULL) != 0) {
        fprintf(stderr, "%s: doctor: cannot read /proc/sysvipc/shm: %m\n", sg_prog);
        return SG_EXIT_FAILURE;
    }
    if (!d.v.have_limits) {
        fprintf(stderr, "%s: doctor: cannot read the shared memory limits (shmctl IPC_INFO, SHM_INFO)\n",
                sg_prog);
        sg_view_free(&d.v);
        return SG_EXIT_FAILURE;
    }
    d.is_due = calloc(d.v.n ? d.v.n : 1, 1);
    if (!d.is_due) {
        fprintf(stderr, "%s: doctor: out of memory\n", sg_prog);
        sg_view_free(&d.v);
        return SG_EXIT_FAILURE;
    }
    analyse(&d);
    doctor_sem_analyse(&d.v, &d.sem);
    /* One status for both: a limit beats orphans, either beats healthy. */
    doctor_sem_verdict(&d.sem, &d.v, d.verdict, sizeof d.verdict, d.exit);
    if (d.sem.exit > d.exit)
        d.exit = d.sem.exit;
    doctor_msg_analyse(&d.v, &d.msg);
    doctor_msg_verdict(&d.msg, d.verdict, sizeof d.verdict, d.exit);
    if (d.msg.exit > d.exit)
        d.exit = d.msg.exit;
    int rc = d.exit;
    struct doctor_metrics m = { &d.v, &d.sem, &d.msg, d.st, &d.due, d.exit };
    if (output) {
        rc = doctor_prom_write(&m, output) == 0 ? SG_EXIT_OK : SG_EXIT_FAILURE;
        free(d.is_due);
        sg_view_free(&d.v);
        return rc;
    }
    if (prom) {
        doctor_prom_print(&m, stdout);
        rc = SG_EXIT_OK;
    } else if (json)
        print_json(&d);
    else
        print_text(&d);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: doctor: write error: %m\n", sg_prog);
        rc = SG_EXIT_FAILURE;
    }
    free(d.is_due);
    sg_view_free(&d.v);
    return rc;
}
