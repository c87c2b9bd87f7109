/*
 * tool_ledger.c - `shmguard ledger`: print what the ledgers recorded,
 * reconciled with the kernel.
 *
 * A segment record is shown when the kernel still has a segment with that
 * id and the same creator pid and uid (ids are reused); an attachment when
 * its process is alive (pid and start time) and /proc/<pid>/maps still
 * shows that segment at that address (exec and exit drop mappings without
 * telling anyone).  Everything else is stale and only counted, unless
 * --all asks for it.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "sg_proc.h"
#include "sg_reconcile.h"
#include "sg_config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct att_view {
    const struct sg_att *a;
    int alive;      /* process alive and mapping present */
};

struct seg_view {
    const struct sg_seg *s;
    uid_t ledger_uid;
    int in_kernel;
    int creator_alive;          /* 1, 0, -1 unknown */
    struct att_view *att;
    size_t n_att, cap_att;
};

/* Segment views by id, for the attachments' look-up: (id, index in sv). */
struct by_id {
    int32_t id;
    size_t i;
};

static int by_id_cmp(const void *a, const void *b)
{
    const struct by_id *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The first view (in sv's order) of shmid id that the kernel still has,
 * or NULL: a binary search in idx (n entries, sorted by by_id_cmp). */
static struct seg_view *owner_of(struct seg_view *sv, const struct by_id *idx, size_t n, int32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && idx[lo].id == id; lo++)
        if (sv[idx[lo].i].in_kernel)
            return &sv[idx[lo].i];
    return NULL;
}

static void fmt_time(char *buf, size_t n, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Records of one kind in one ledger (sets and queues are shown by ls
 * --sem and --msg, and only counted here). */
static size_t count_kind(const struct sg_ledger *L, uint32_t kind)
{
    size_t n = 0;
    for (uint32_t i = 0; i < L->seg_cap; i++)
        n += L->seg[i].state == SG_REC_LIVE && L->seg[i].kind == kind;
    return n;
}

static void ledger_usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s ledger [options]\n"
            "\n"
            "Print what the shmguard ledgers of this IPC namespace recorded: each\n"
            "segment's creator and call site, its attachers and pending removals,\n"
            "checked against the kernel and /proc.\n"
            "\n"
            "Options:\n"
            " -J, --json       JSON output\n"
            " -a, --all        also show stale records (segment or process gone)\n"
            "     --prune      first remove stale records from this user's own ledger\n"
            "     --check      check each ledger's consistency instead (exit 1 if one is not)\n"
            "     --repair     with --check: first repair this user's own ledger\n"
            "     --dir DIR    ledger directory, absolute and existing\n"
            "                  (default: $SHMGUARD_LEDGER or /dev/shm/shmguard)\n"
            " -h, --help       display this help\n",
            sg_prog);
}

static void print_json(const struct ledger_set *ls, struct seg_view *sv, size_t n, int all,
                       size_t stale_seg, size_t stale_att)
{
    FILE *f = stdout;
    fprintf(f, "{\n  \"namespace\": %" PRIu64 ",\n  \"dir\": ", ls->ns);
    json_str(f, ls->dir, sizeof ls->dir);
    fprintf(f, ",\n  \"ledgers\": [");
    for (size_t i = 0; i < ls->n; i++) {
        const struct sg_hdr *h = ls->v[i].hdr;
        fprintf(f, "%s\n    {\"path\": ", i ? "," : "");
        json_str(f, ls->v[i].path, sizeof ls->v[i].path);
        fprintf(f, ", \"uid\": %u, \"version\": %u, \"segments\": %zu, \"attachments\": %u, "
                   "\"pending\": %u, \"intents\": %u, \"repairs\": %" PRIu64 ", \"dropped\": %" PRIu64
                   ", \"semaphore_sets\": %zu, \"message_queues\": %zu, \"users\": %u}",
                (unsigned)ls->v[i].owner, h->version, count_kind(&ls->v[i], SG_KIND_SHM),
                h->att_live, h->pending, h->intents, h->repairs, h->dropped,
                count_kind(&ls->v[i], SG_KIND_SEM), count_kind(&ls->v[i], SG_KIND_MSG), h->user_live);
    }
    fprintf(f, "\n  ],\n  \"unreadable\": [");
    for (size_t i = 0; i < ls->n_unreadable; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, ls->unreadable[i], sizeof ls->unreadable[i]);
    }
    fprintf(f, "],\n  \"segments\": [");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const struct sg_seg *s = sv[i].s;
        if (!sv[i].in_kernel && !all)
            continue;
        fprintf(f, "%s\n    {\"kind\": \"%s\", \"id\": %d, \"key\": \"0x%08x\", \"size\": %" PRIu64
                   ", \"mode\": \"%03o\", \"in_kernel\": %s, \"ledger_uid\": %u,\n",
                first ? "" : ",", s->kind == SG_KIND_SEM ? "sem" : "shm", s->id, (unsigned)s->key,
                s->size, s->mode, sv[i].in_kernel ? "true" : "false", (unsigned)sv[i].ledger_uid);
        first = 0;
        fprintf(f, "     \"creator\": {\"known\": %s, \"pid\": %d, \"uid\": %u",
                (s->flags & SG_SEG_CREATOR) ? "true" : "false", s->cr_pid, s->cr_uid);
        if (s->flags & SG_SEG_CREATOR) {
            fprintf(f, ", \"%s\": %" PRIu64 ", \"alive\": %s, \"comm\": ",
                    s->cr_start & SG_START_MARK ? "start_mark" : "start", sg_start_ticks(s->cr_start),
                    sv[i].creator_alive == 1 ? "true" : sv[i].creator_alive == 0 ? "false" : "null");
            json_str(f, s->cr_comm, sizeof s->cr_comm);
            fprintf(f, ", \"exe\": ");
            json_str(f, s->cr_exe, sizeof s->cr_exe);
            fprintf(f, ", \"time_ns\": %" PRIu64, s->cr_time_ns);
        }
        fprintf(f, "},\n     \"site\": ");
        if (s->site_obj[0]) {
            fprintf(f, "{\"object\": ");
            json_str(f, s->site_obj, sizeof s->site_obj);
            fprintf(f, ", \"offset\": \"0x%" PRIx64 "\", \"symbol\": ", s->site_off);
            json_str(f, s->site_sym, sizeof s->site_sym);
            fprintf(f, "}");
        } else
            fprintf(f, "null");
        fprintf(f, ",\n     \"pending\": ");
        if (s->flags & SG_SEG_PENDING)
            fprintf(f, "{\"pid\": %d, \"uid\": %u, \"time_ns\": %" PRIu64 "}", s->rm_pid, s->rm_uid,
                    s->rm_time_ns);
        else
            fprintf(f, "null");
        fprintf(f, ",\n     \"attachments\": [");
        int af = 1;
        for (size_t k = 0; k < sv[i].n_att; k++) {
            const struct sg_att *a = sv[i].att[k].a;
            if (!sv[i].att[k].alive && !all)
                continue;
            fprintf(f, "%s{\"pid\": %d, \"%s\": %" PRIu64 ", \"addr\": \"0x%" PRIx64
                       "\", \"time_ns\": %" PRIu64 ", \"inherited\": %s, \"rdonly\": %s, \"live\": %s}",
                    af ? "" : ", ", a->pid, a->start & SG_START_MARK ? "start_mark" : "start",
                    sg_start_ticks(a->start), a->addr, a->time_ns,
                    (a->flags & SG_ATT_INHERITED) ? "true" : "false",
                    (a->flags & SG_ATT_RDONLY) ? "true" : "false", sv[i].att[k].alive ? "true" : "false");
            af = 0;
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ],\n  \"stale\": {\"segments\": %zu, \"attachments\": %zu}\n}\n", stale_seg,
            stale_att);
}

static void print_text(const struct ledger_set *ls, struct seg_view *sv, size_t n, int all,
                       size_t stale_seg, size_t stale_att)
{
    size_t shown = 0, pend = 0, atts = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sv[i].in_kernel && !all)
            continue;
        shown++;
        pend += !!(sv[i].s->flags & SG_SEG_PENDING);
        for (size_t k = 0; k < sv[i].n_att; k++)
            atts += sv[i].att[k].alive || all;
    }
    printf("Ledger of IPC namespace %" PRIu64 " in %s: %zu file%s, %zu segment%s, %zu attachment%s, "
           "%zu pending removal%s\n",
           ls->ns, ls->dir, ls->n, ls->n == 1 ? "" : "s", shown, shown == 1 ? "" : "s", atts,
           atts == 1 ? "" : "s", pend, pend == 1 ? "" : "s");
    size_t sets = 0, queues = 0, users = 0;
    for (size_t l = 0; l < ls->n; l++) {
        sets += count_kind(&ls->v[l], SG_KIND_SEM);
        queues += count_kind(&ls->v[l], SG_KIND_MSG);
        users += ls->v[l].hdr->user_live;
    }
    if (sets || queues || users)
        printf("  and %zu semaphore set record%s, %zu message queue record%s, with %zu user "
               "record%s: shmguard ls --sem and --msg show them against the kernel\n",
               sets, sets == 1 ? "" : "s", queues, queues == 1 ? "" : "s", users,
               users == 1 ? "" : "s");
    if (ls->no_dir)
        printf("  %s does not exist: nothing was recorded there (is the library preloaded, with "
               "this SHMGUARD_LEDGER?)\n", ls->dir);
    for (size_t i = 0; i < ls->n_unreadable; i++)
        printf("  not readable: %s\n", ls->unreadable[i]);
    for (size_t l = 0; l < ls->n; l++)
        if (ls->v[l].hdr->dropped) {
            printf("  in %s: ", ls->v[l].path);
            tool_note_dropped(stdout, "", ls->v[l].hdr->dropped);
        }
    for (size_t i = 0; i < n; i++) {
        const struct sg_seg *s = sv[i].s;
        if (!sv[i].in_kernel && !all)
            continue;
        char t[64];
        printf("\nshmid %d  key 0x%08x  %" PRIu64 " bytes  mode %03o%s\n", s->id, (unsigned)s->key,
               s->size, s->mode, sv[i].in_kernel ? "" : "  [gone from the kernel]");
        if (s->flags & SG_SEG_CREATOR) {
            fmt_time(t, sizeof t, s->cr_time_ns);
            printf("  created   %s by pid %d (%.*s, uid %u, %s)\n", t, s->cr_pid, SG_COMM_LEN,
                   s->cr_comm, s->cr_uid,
                   sv[i].creator_alive == 1 ? "alive" : sv[i].creator_alive == 0 ? "dead"
                   : sv[i].creator_alive == SG_ALIVE_HIDDEN ? "not visible from this pid namespace"
                                                            : "unknown");
            printf("  program   %.*s\n", SG_PATH_LEN, s->cr_exe);
            if (s->site_obj[0])
                printf("  call site %s%s%.*s+0x%" PRIx64 "\n", s->site_sym[0] ? s->site_sym : "",
                       s->site_sym[0] ? " in " : "", SG_PATH_LEN, s->site_obj, s->site_off);
        } else
            printf("  created   by pid %d (uid %u), not through shmguard: kernel facts only\n",
                   s->cr_pid, s->cr_uid);
        for (size_t k = 0; k < sv[i].n_att; k++) {
            const struct sg_att *a = sv[i].att[k].a;
            if (!sv[i].att[k].alive && !all)
                continue;
            char comm[SG_COMM_LEN] = "";
            int here = !a->pidns || a->pidns == sg_pidns_view();
            if (here) /* another namespace's pid is not /proc/PID here */
                sg_proc_comm(a->pid, comm);
            fmt_time(t, sizeof t, a->time_ns);
            printf("  attached  pid %d (%s) at 0x%" PRIx64 " since %s%s%s%s%s\n", a->pid,
                   comm[0] ? comm : "?", a->addr, t, (a->flags & SG_ATT_INHERITED) ? ", inherited" : "",
                   (a->flags & SG_ATT_RDONLY) ? ", read-only" : "",
                   here ? "" : ", in another pid namespace",
                   sv[i].att[k].alive ? "" : "  [stale]");
        }
        if (s->flags & SG_SEG_PENDING) {
            fmt_time(t, sizeof t, s->rm_time_ns);
            printf("  pending   IPC_RMID asked by pid %d (uid %u%s) at %s; done at the last detach\n",
                   s->rm_pid, s->rm_uid,
                   s->rm_pidns && s->rm_pidns != sg_pidns_view() ? ", in another pid namespace" : "",
                   t);
        }
    }
    if ((stale_seg || stale_att) && !all)
        printf("\n(%zu stale segment record%s and %zu stale attachment%s hidden: --all shows them)\n",
               stale_seg, stale_seg == 1 ? "" : "s", stale_att, stale_att == 1 ? "" : "s");
}

/* Reconcile this euid's own ledger with the kernel, under its lock.
 * Says what it dropped on stderr.  0 on success. */
static int prune_own(const char *dir)
{
    char err[8192];
    struct sg_ledger L;
    const char *d = dir ? dir : sg_config_get()->ledger_dir;
    struct stat dst;
    if (stat(d, &dst) != 0) { /* never made here: nothing to prune */
        fprintf(stderr, "%s: nothing to prune: no ledger directory %s\n", sg_prog, d);
        return 0;
    }
    if (sg_ledger_open_own(&L, d, sg_ipcns_ino(), NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s: cannot prune: %s\n", sg_prog, err);
        return -1;
    }
    struct sg_reconcile_stats st;
    int rc = -1;
    if (sg_ledger_lock(&L) != 0)
        fprintf(stderr, "%s: cannot prune %s: its lock is not available\n", sg_prog, L.path);
    else {
        rc = sg_reconcile(&L, &st);
        sg_ledger_unlock(&L);
        if (rc != 0)
            fprintf(stderr, "%s: cannot prune: cannot read /proc/sysvipc/shm: %m\n", sg_prog);
        else
            fprintf(stderr, "%s: pruned %u stale segment, %u stale attachment, %u stale semaphore "
                            "set, %u stale message queue and %u stale user records from %s\n",
                    sg_prog, st.segs_dropped, st.atts_dropped, st.sems_dropped, st.msgs_dropped,
                    st.users_dropped, L.path);
    }
    sg_ledger_close(&L);
    return rc;
}

int cmd_ledger(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'J' }, { "all", no_argument, NULL, 'a' },
        { "dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
        { "prune", no_argument, NULL, 'p' },
        { "check", no_argument, NULL, 'c' }, { "repair", no_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, all = 0, prune = 0, check = 0, repair = 0, c;
    const char *dir = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "Jah", opts, NULL)) != -1) {
        switch (c) {
        case 'J': json = 1; break;
        case 'a': all = 1; break;
        case 'd': dir = optarg; break;
        case 'p': prune = 1; break;
        case 'c': check = 1; break;
        case 'r': repair = 1; break;
        case 'h': ledger_usage(stdout); return SG_EXIT_OK;
        default:
            tool_usage_error("ledger: unrecognized option '%s'", argv[optind - 1]);
            return SG_EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        tool_usage_error("ledger: unexpected argument '%s'", argv[optind]);
        return SG_EXIT_FAILURE;
    }
    if (repair && !check) {
        tool_usage_error("ledger: --repair goes with --check");
        return SG_EXIT_FAILURE;
    }
    if (dir && (tool_dir_arg("ledger", dir) != 0 || tool_dir_readable("ledger", dir) != 0))
        return SG_EXIT_FAILURE;
    if (check)
        return ledger_check(dir, repair);
    if (prune && prune_own(dir) != 0)
        return SG_EXIT_FAILURE;
    struct ledger_set ls;
    if (ledger_set_load(&ls, dir) != 0) {
        fprintf(stderr, "%s: cannot read ledger directory %s: %m\n", sg_prog, ls.dir);
        return SG_EXIT_FAILURE;
    }
    struct sg_ksnap ks;
    if (sg_ksnap_read(&ks) != 0) {
        fprintf(stderr, "%s: cannot read /proc/sysvipc/shm: %m\n", sg_prog);
        ledger_set_free(&ls);
        return SG_EXIT_FAILURE;
    }
    size_t n = 0, cap = 0, stale_seg = 0, stale_att = 0;
    struct seg_view *sv = NULL;
    for (size_t l = 0; l < ls.n; l++)
        sg_pidns_learn(ls.v[l].pidns, SG_PIDNS_CAP, ls.v[l].owner);
    for (size_t l = 0; l < ls.n; l++) {
        struct sg_ledger *L = &ls.v[l];
        for (uint32_t i = 0; i < L->seg_cap; i++) {
            const struct sg_seg *s = &L->seg[i];
            if (s->state != SG_REC_LIVE || s->kind != SG_KIND_SHM)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                sv = realloc(sv, cap * sizeof *sv);
                if (!sv)
                    abort();
            }
            struct seg_view *v = &sv[n++];
            memset(v, 0, sizeof *v);
            v->s = s;
            v->ledger_uid = L->owner;
            const struct sg_kseg *k = sg_ksnap_find(&ks, s->id);
            v->in_kernel = sg_kseg_is(k, s);
            v->creator_alive = (s->flags & SG_SEG_CREATOR)
                                   ? sg_proc_alive_ns(s->cr_pid, s->cr_start, s->cr_pidns)
                                   : -1;
            stale_seg += !v->in_kernel;
        }
    }
    struct sg_maps_cache mc = { NULL, 0 };
    struct by_id *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        abort();
    for (size_t k = 0; k < n; k++)
        idx[k] = (struct by_id){ sv[k].s->id, k };
    qsort(idx, n, sizeof *idx, by_id_cmp);
    for (size_t l = 0; l < ls.n; l++) {
        struct sg_ledger *L = &ls.v[l];
        for (uint32_t i = 0; i < L->att_cap; i++) {
            const struct sg_att *a = &L->att[i];
            if (a->state != SG_REC_LIVE)
                continue;
            int alive = sg_att_live(&mc, a) != 0; /* stale only when proven */
            struct seg_view *owner = owner_of(sv, idx, n, a->shmid);
            if (!alive || !owner)
                stale_att++;
            if (!owner)
                continue;
            if (owner->n_att == owner->cap_att) {
                owner->cap_att = owner->cap_att ? owner->cap_att * 2 : 4;
                owner->att = realloc(owner->att, owner->cap_att * sizeof *owner->att);
                if (!owner->att)
                    abort();
            }
            owner->att[owner->n_att].a = a;
            owner->att[owner->n_att].alive = alive;
            owner->n_att++;
        }
    }
    if (json)
        print_json(&ls, sv, n, all, stale_seg, stale_att);
    else
        print_text(&ls, sv, n, all, stale_seg, stale_att);
    for (size_t i = 0; i < n; i++)
        free(sv[i].att);
    free(sv);
    free(idx);
    sg_maps_cache_free(&mc);
    sg_ksnap_free(&ks);
    ledger_set_free(&ls);
    return SG_EXIT_OK;
}
