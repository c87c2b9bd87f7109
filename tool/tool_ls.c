/*
 * tool_ls.c - `shmguard ls`: every System V shared memory segment of this
 * IPC namespace with its owner, creator, attachers and state.
 *
 * The kernel's facts, the ledgers and the processes' memory maps are
 * joined by the analysis view (sg_analysis.h) and one scan of /proc
 * (tool_scan.c); the result is a table, raw or JSON (tool_table.c), with
 * lsipc/lsblk's column options.  A segment created without the
 * library shows kernel facts only and says so (LEDGER "no"; its COMMAND is
 * whatever process holds the creator's pid now, and ALIVE is unknown when
 * that pid is in use, since pid reuse cannot be ruled out).  What the
 * caller could not see (other users' maps or ledgers) is said on stderr,
 * never in the table.  Semaphore sets follow in a table of their own
 * (tool_ls_sem.c), or alone with --sem.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_kmsg.h"
#include "sg_pidns.h"
#include "sg_analysis.h"
#include "sg_config.h"
#include "tool_table.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
    COL_KEY, COL_ID, COL_OWNER, COL_PERMS, COL_SIZE, COL_NATTCH, COL_STATUS, COL_STATE,
    COL_CPID, COL_COMMAND, COL_ALIVE, COL_AGE, COL_LEDGER, COL_ATTACHERS, COL_APIDS,
    COL_SITE, COL_EXE, COL_LPID, COL_UID, COL_GID, COL_CUID, COL_CGID, COL_CUSER,
    COL_ATIME, COL_DTIME, COL_CTIME, COL_RSS, COL_SWAP, COL_LEDGERUID,
    NCOLS
};

struct ls_coldesc {
    const char *name;
    double whint;           /* libsmartcols width hint */
    int flags;              /* SCOLS_FL_* */
    int json;               /* SCOLS_JSON_* */
    const char *help;
};

static const struct ls_coldesc ls_cols[NCOLS] = {
    [COL_KEY] = { "KEY", 10, 0, SCOLS_JSON_STRING, "key (0xHEX), as given at creation" },
    [COL_ID] = { "ID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "shared memory id (shmid)" },
    [COL_OWNER] = { "OWNER", 8, 0, SCOLS_JSON_STRING, "owner's user name or UID" },
    [COL_PERMS] = { "PERMS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_STRING,
                    "permissions in octal, with 1000 (dest) and 2000 (locked) as the kernel shows them" },
    [COL_SIZE] = { "SIZE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "size (bytes with --bytes, and in JSON)" },
    [COL_NATTCH] = { "NATTCH", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
                     "attachments the kernel counts (mappings, not processes)" },
    [COL_STATUS] = { "STATUS", 6, 0, SCOLS_JSON_STRING, "kernel flags: dest, locked" },
    [COL_STATE] = { "STATE", 8, 0, SCOLS_JSON_STRING,
                    "in-use, idle, orphaned, pending or marked (see shmguard(1))" },
    [COL_CPID] = { "CPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "creator's pid (kernel)" },
    [COL_COMMAND] = { "COMMAND", 12, SCOLS_FL_TRUNC, SCOLS_JSON_STRING,
                      "creator's command: from the ledger, else from /proc while its pid is in use" },
    [COL_ALIVE] = { "ALIVE", 5, 0, SCOLS_JSON_BOOLEAN_OPTIONAL,
                    "creator alive: yes, no, or ? (no ledger record and its pid is in use)" },
    [COL_AGE] = { "AGE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
                  "time since creation or last IPC_SET (kernel ctime; seconds in JSON)" },
    [COL_LEDGER] = { "LEDGER", 6, 0, SCOLS_JSON_BOOLEAN,
                     "yes: created through the library, its creator is recorded; no: kernel facts only" },
    [COL_ATTACHERS] = { "ATTACHERS", 20, SCOLS_FL_TRUNC, SCOLS_JSON_ARRAY_STRING,
                        "processes attached now, PID(COMMAND), from /proc/PID/maps" },
    [COL_APIDS] = { "APIDS", 8, SCOLS_FL_TRUNC, SCOLS_JSON_ARRAY_NUMBER, "pids of the processes attached now" },
    [COL_SITE] = { "SITE", 20, SCOLS_FL_TRUNC, SCOLS_JSON_STRING, "call site that created it (ledger)" },
    [COL_EXE] = { "EXE", 20, SCOLS_FL_TRUNC, SCOLS_JSON_STRING, "creator's executable (ledger)" },
    [COL_LPID] = { "LPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "pid of the last shmat or shmdt" },
    [COL_UID] = { "UID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "owner's user ID" },
    [COL_GID] = { "GID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "owner's group ID" },
    [COL_CUID] = { "CUID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "creator's user ID" },
    [COL_CGID] = { "CGID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "creator's group ID" },
    [COL_CUSER] = { "CUSER", 8, 0, SCOLS_JSON_STRING, "creator's user name or UID" },
    [COL_ATIME] = { "ATIME", 19, 0, SCOLS_JSON_NUMBER, "time of the last shmat (seconds since the epoch in JSON)" },
    [COL_DTIME] = { "DTIME", 19, 0, SCOLS_JSON_NUMBER, "time of the last shmdt (likewise)" },
    [COL_CTIME] = { "CTIME", 19, 0, SCOLS_JSON_NUMBER,
                    "time of creation or of the last IPC_SET (likewise)" },
    [COL_RSS] = { "RSS", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "resident size (bytes with --bytes, and in JSON)" },
    [COL_SWAP] = { "SWAP", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "swapped-out size (likewise)" },
    [COL_LEDGERUID] = { "LEDGERUID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
                        "uid (trust domain) of the ledger that holds its record" },
};

static const int ls_default_cols[] = {
    COL_KEY, COL_ID, COL_OWNER, COL_PERMS, COL_SIZE, COL_NATTCH, COL_STATE, COL_CPID,
    COL_COMMAND, COL_ALIVE, COL_AGE, COL_LEDGER, COL_ATTACHERS, COL_SITE,
};

static void ls_list_columns(FILE *f)
{
    for (int i = 0; i < NCOLS; i++)
        fprintf(f, " %11s  %s\n", ls_cols[i].name, ls_cols[i].help);
}

static void ls_usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            " %s ls [options]\n"
            "\n"
            "List every System V shared memory segment of this IPC namespace with its\n"
            "owner, its creator (pid, command, alive or dead), the processes attached\n"
            "now, its state and age, and the call site that created it when the\n"
            "shmguard ledger recorded it.  Then, when there are any, the semaphore\n"
            "sets and the message queues, with their creator and the processes recorded\n"
            "as using them.\n"
            "\n"
            "Kind:\n"
            " -m, --shm             only shared memory segments\n"
            " -s, --sem             only semaphore sets (the columns are fixed: KEY SEMID\n"
            "                       OWNER PERMS NSEMS STATE CPID COMMAND ALIVE USERS AGE\n"
            "                       LEDGER SITE; -o applies to segments)\n"
            " -q, --msg             only message queues (fixed columns: KEY MSQID OWNER\n"
            "                       PERMS MESSAGES BYTES QBYTES LSPID LRPID STATE CPID\n"
            "                       COMMAND ALIVE USERS AGE SITE; STATE in-use, orphaned,\n"
            "                       held (orphaned, messages still in it) or unknown)\n"
            "\n"
            "Filters (a segment, set or queue is listed when it passes all of them):\n"
            "     --orphans         only orphaned segments (with --pending: either)\n"
            "     --pending         only segments with a pending (deferred) removal\n"
            "     --key <key>       only the segment with this key (0xHEX or decimal)\n"
            "     --id <id>         only the segment with this id\n"
            "     --user <user>     only segments owned or created by this user (name or UID)\n"
            "\n"
            "Output:\n"
            " -o, --output <list>   columns to print, comma-separated (+<list> adds to the default)\n"
            "     --output-all      print every column\n"
            " -n, --noheadings      don't print headings\n"
            " -r, --raw             raw output, no alignment\n"
            " -J, --json            JSON output (sizes in bytes, times in seconds since the epoch)\n"
            " -b, --bytes           print SIZE, RSS and SWAP in bytes\n"
            " -H, --list-columns    list the available columns\n"
            "     --dir <dir>       ledger directory, absolute and existing\n"
            "                        (default: $SHMGUARD_LEDGER or %s)\n"
            "\n"
            " -h, --help            display this help\n"
            " -V, --version         display version\n"
            "\n"
            "States: in-use (attached), idle (nobody attached, creator alive or not provably\n"
            "dead), orphaned (nobody attached, creator dead), pending (a deferred IPC_RMID\n"
            "waits for the last detach), marked (the kernel has it marked for destruction).\n"
            "Semaphore sets: in-use (the creator or a recorded user is alive), orphaned\n"
            "(creator and every recorded user dead, pid reuse ruled out), unknown (made\n"
            "without the library, or liveness cannot be told; never removed by gc).\n"
            "\n"
            "Available output columns:\n",
            sg_prog, SG_LEDGER_DIR_DEFAULT);
    ls_list_columns(f);
    fprintf(f, "\nDefault columns:");
    for (size_t i = 0; i < sizeof ls_default_cols / sizeof ls_default_cols[0]; i++)
        fprintf(f, " %s", ls_cols[ls_default_cols[i]].name);
    fprintf(f, "\n\nFor more details see shmguard(1).\n");
}

/* Parse a column list into cols (at most NCOLS); "+LIST" appends to the
 * defaults.  0 on success; -1 after reporting the bad name. */
static int ls_parse_columns(const char *list, int *cols, size_t *n)
{
    if (list[0] == '+')
        list++;
    else
        *n = 0;
    char *copy = strdup(list), *save = NULL;
    if (!copy) {
        fprintf(stderr, "%s: ls: out of memory\n", sg_prog);
        return -1;
    }
    int any = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int i = 0; i < NCOLS; i++)
            if (!strcasecmp(tok, ls_cols[i].name))
                found = i;
        if (found < 0) {
            tool_cmd_usage_error("ls", "unknown column: %s", tok);
            free(copy);
            return -1;
        }
        if (*n >= NCOLS) {
            tool_cmd_usage_error("ls", "too many columns");
            free(copy);
            return -1;
        }
        cols[(*n)++] = found;
        any = 1;
    }
    free(copy);
    if (!any) {
        tool_cmd_usage_error("ls", "no columns given to --output");
        return -1;
    }
    return 0;
}

/* rss and swap by id, read from /proc/sysvipc/shm (the only place the
 * kernel shows them), only when those columns are asked for. */
struct ls_mem {
    int32_t id;
    uint64_t rss, swap;
};

static int ls_cmp_mem(const void *a, const void *b)
{
    const struct ls_mem *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static struct ls_mem *ls_read_mem(size_t *n)
{
    *n = 0;
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    if (!f)
        return NULL;
    struct ls_mem *v = NULL;
    size_t cap = 0;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* heading */
        fclose(f);
        return NULL;
    }
    while (fgets(line, sizeof line, f)) {
        long long key, at, dt, ct;
        int id, cpid, lpid;
        unsigned mode, uid, gid, cuid, cgid;
        unsigned long long size, nattch, rss, swap;
        if (sscanf(line, "%lld %d %o %llu %d %d %llu %u %u %u %u %lld %lld %lld %llu %llu", &key,
                   &id, &mode, &size, &cpid, &lpid, &nattch, &uid, &gid, &cuid, &cgid, &at, &dt,
                   &ct, &rss, &swap) != 16)
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct ls_mem *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        v[*n].id = id;
        v[*n].rss = rss;
        v[*n].swap = swap;
        (*n)++;
    }
    fclose(f);
    if (*n)
        qsort(v, *n, sizeof *v, ls_cmp_mem);
    return v;
}

struct ls_opts {
    int json, raw, noheadings, bytes;
    int shm_only, sem_only, msg_only; /* -m, -s, -q */
    int want_orphans, want_pending;
    int have_key, have_id, have_user;
    int32_t key;
    long id;
    uid_t user;
    const char *dir;
    int cols[NCOLS];
    size_t ncols;
};

static int ls_selected(const struct ls_opts *o, const struct sg_seginfo *s)
{
    if ((o->want_orphans || o->want_pending) &&
        !((o->want_orphans && s->state == SG_ST_ORPHANED) ||
          (o->want_pending && s->state == SG_ST_PENDING)))
        return 0;
    if (o->have_key && s->k.key != o->key)
        return 0;
    if (o->have_id && s->k.id != o->id)
        return 0;
    if (o->have_user && s->k.uid != o->user && s->k.cuid != o->user)
        return 0;
    return 1;
}

/* A growable string for list cells. */
struct ls_buf {
    char *s;
    size_t len, cap;
};

static int ls_buf_add(struct ls_buf *b, const char *sep, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ls_buf_add(struct ls_buf *b, const char *sep, const char *fmt, ...)
{
    char item[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    size_t need = b->len + strlen(sep) + strlen(item) + 1;
    if (need > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 128;
        while (nc < need)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns)
            return -1;
        b->s = ns;
        b->cap = nc;
    }
    b->len += (size_t)sprintf(b->s + b->len, "%s%s", b->len ? sep : "", item);
    return 0;
}

static void ls_fmt_time(char *buf, size_t n, int64_t t, int json)
{
    if (json) {
        snprintf(buf, n, "%" PRId64, t);
        return;
    }
    if (t == 0) {
        buf[0] = '\0';
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* Fill the table's current line.  Returns 0, or -1 out of memory. */
static int ls_fill_line(const struct ls_opts *o, struct tt *tb,
                        const struct sg_seginfo *s, const struct proc_scan *ps,
                        const struct ls_mem *mem, size_t n_mem, int64_t now)
{
    const struct sg_seg *rec = s->rec;
    int creator = rec && (rec->flags & SG_SEG_CREATOR);
    const struct scan_map *maps;
    size_t nmaps = proc_scan_find(ps, s->k.id, &maps);
    for (size_t c = 0; c < o->ncols; c++) {
        char buf[512];
        const char *data = buf;
        struct ls_buf list = { NULL, 0, 0 };
        buf[0] = '\0';
        switch (o->cols[c]) {
        case COL_KEY: snprintf(buf, sizeof buf, "0x%08x", (uint32_t)s->k.key); break;
        case COL_ID: snprintf(buf, sizeof buf, "%d", s->k.id); break;
        case COL_OWNER: data = tool_user_name(s->k.uid); break;
        case COL_PERMS: snprintf(buf, sizeof buf, "%o", s->k.mode); break;
        case COL_SIZE:
        case COL_RSS:
        case COL_SWAP: {
            uint64_t v = s->k.size;
            if (o->cols[c] != COL_SIZE) {
                struct ls_mem key = { .id = s->k.id }, *m = NULL;
                if (n_mem)
                    m = bsearch(&key, mem, n_mem, sizeof *mem, ls_cmp_mem);
                v = o->cols[c] == COL_RSS ? (m ? m->rss : s->k.rss) : (m ? m->swap : s->k.swap);
            }
            if (o->json || o->bytes)
                snprintf(buf, sizeof buf, "%" PRIu64, v);
            else
                tool_fmt_size(buf, sizeof buf, v);
            break;
        }
        case COL_NATTCH: snprintf(buf, sizeof buf, "%" PRIu64, s->k.nattch); break;
        case COL_STATUS:
            snprintf(buf, sizeof buf, "%s%s%s", (s->k.mode & SHM_DEST) ? "dest" : "",
                     (s->k.mode & SHM_DEST) && (s->k.mode & SHM_LOCKED) ? "," : "",
                     (s->k.mode & SHM_LOCKED) ? "locked" : "");
            if (!buf[0])
                data = NULL;
            break;
        case COL_STATE: data = sg_segstate_name(s->state); break;
        case COL_CPID: snprintf(buf, sizeof buf, "%d", s->k.cpid); break;
        case COL_COMMAND: data = s->comm[0] ? s->comm : NULL; break;
        case COL_ALIVE:
            data = s->creator_alive == 1 ? "yes" : s->creator_alive == 0 ? "no"
                   : s->creator_alive == SG_ALIVE_HIDDEN && !o->json ? "not-visible"
                   : o->json ? NULL : "?";
            break;
        case COL_AGE:
            if (o->json)
                snprintf(buf, sizeof buf, "%" PRId64, now - s->k.ctime < 0 ? 0 : now - s->k.ctime);
            else
                tool_fmt_age(buf, sizeof buf, now - s->k.ctime);
            break;
        case COL_LEDGER: data = creator ? "yes" : "no"; break;
        case COL_ATTACHERS:
        case COL_APIDS: {
            int prev = -1;
            for (size_t i = 0; i < nmaps; i++) {
                if (maps[i].pid == prev)
                    continue; /* one entry per process */
                prev = maps[i].pid;
                int r;
                if (o->cols[c] == COL_APIDS)
                    r = ls_buf_add(&list, o->json ? "\n" : ",", "%d", maps[i].pid);
                else {
                    /* A name with the list's separator in it. */
                    char *comm = tt_clean(proc_scan_comm(ps, maps[i].pid), 0);
                    r = comm ? ls_buf_add(&list, o->json ? "\n" : ",", "%d(%s)", maps[i].pid, comm)
                             : -1;
                    free(comm);
                }
                if (r != 0) {
                    free(list.s);
                    return -1;
                }
            }
            data = list.s;
            break;
        }
        case COL_SITE:
            tool_fmt_site(buf, sizeof buf, rec);
            if (!buf[0])
                data = NULL;
            break;
        case COL_EXE:
            if (creator && rec->cr_exe[0])
                snprintf(buf, sizeof buf, "%.*s", SG_PATH_LEN, rec->cr_exe);
            else
                data = NULL;
            break;
        case COL_LPID: snprintf(buf, sizeof buf, "%d", s->k.lpid); break;
        case COL_UID: snprintf(buf, sizeof buf, "%u", s->k.uid); break;
        case COL_GID: snprintf(buf, sizeof buf, "%u", s->k.gid); break;
        case COL_CUID: snprintf(buf, sizeof buf, "%u", s->k.cuid); break;
        case COL_CGID: snprintf(buf, sizeof buf, "%u", s->k.cgid); break;
        case COL_CUSER: data = tool_user_name(s->k.cuid); break;
        case COL_ATIME: ls_fmt_time(buf, sizeof buf, s->k.atime, o->json); break;
        case COL_DTIME: ls_fmt_time(buf, sizeof buf, s->k.dtime, o->json); break;
        case COL_CTIME: ls_fmt_time(buf, sizeof buf, s->k.ctime, o->json); break;
        case COL_LEDGERUID:
            if (rec)
                snprintf(buf, sizeof buf, "%u", (unsigned)s->rec_domain);
            else
                data = NULL;
            break;
        }
        if (data && !data[0] && o->cols[c] != COL_KEY)
            data = NULL;
        int r = tt_set(tb, c, data);
        free(list.s);
        if (r != 0)
            return -1;
    }
    return 0;
}

/* Say on stderr what the listing could not include. */
static void ls_notes(const struct sg_view *v, const struct proc_scan *ps, size_t incomplete)
{
    for (size_t i = 0; i < v->n_unreadable; i++)
        fprintf(stderr, "%s: ls: note: a ledger could not be read (%s); its segments show kernel facts only\n",
                sg_prog, v->unreadable[i]);
    if (v->n_unreadable == sizeof v->unreadable / sizeof v->unreadable[0])
        fprintf(stderr, "%s: ls: note: there may be more unreadable ledgers\n", sg_prog);
    char lead[64];
    snprintf(lead, sizeof lead, "%s: ls: note: ", sg_prog);
    tool_note_dropped(stderr, lead, v->dropped);
    if (incomplete) {
        if (ps->unreadable)
            fprintf(stderr,
                    "%s: ls: note: the attachers of %zu segment%s are incomplete: the memory maps of "
                    "%zu process%s could not be read (other users' processes; root sees them all)\n",
                    sg_prog, incomplete, incomplete == 1 ? "" : "s", ps->unreadable,
                    ps->unreadable == 1 ? "" : "es");
        else
            fprintf(stderr,
                    "%s: ls: note: the attachers of %zu segment%s are incomplete: some attached "
                    "processes are not visible here (hidden /proc, or another namespace)\n",
                    sg_prog, incomplete, incomplete == 1 ? "" : "s");
    }
}

/* Segments table to out (may be a memory stream). */
static int ls_print(const struct ls_opts *o, const struct sg_view *v, const struct proc_scan *ps,
                    FILE *out)
{
    int need_mem = 0;
    for (size_t c = 0; c < o->ncols; c++)
        need_mem |= o->cols[c] == COL_RSS || o->cols[c] == COL_SWAP;
    size_t n_mem = 0;
    struct ls_mem *mem = need_mem ? ls_read_mem(&n_mem) : NULL;

    struct tt_mode m = { .json = o->json, .raw = o->raw, .noheadings = o->noheadings, .term = -1 };
    struct tt *tb = tt_new(out, "segments", &m);
    if (!tb) {
        free(mem);
        fprintf(stderr, "%s: ls: out of memory\n", sg_prog);
        return SG_EXIT_FAILURE;
    }
    int rc = SG_EXIT_OK;
    for (size_t c = 0; c < o->ncols && rc == SG_EXIT_OK; c++) {
        const struct ls_coldesc *d = &ls_cols[o->cols[c]];
        if (tt_add_column(tb, d->name, d->whint, d->flags, d->json) != 0)
            rc = SG_EXIT_FAILURE;
    }
    int64_t now = (int64_t)time(NULL);
    size_t incomplete = 0;
    for (size_t i = 0; i < v->n && rc == SG_EXIT_OK; i++) {
        const struct sg_seginfo *s = &v->seg[i];
        if (!ls_selected(o, s))
            continue;
        const struct scan_map *maps;
        incomplete += proc_scan_find(ps, s->k.id, &maps) < s->k.nattch;
        if (tt_new_line(tb) != 0 || ls_fill_line(o, tb, s, ps, mem, n_mem, now) != 0)
            rc = SG_EXIT_FAILURE;
    }
    if (rc != SG_EXIT_OK)
        fprintf(stderr, "%s: ls: out of memory\n", sg_prog);
    else if (tt_print(tb) != 0) {
        fprintf(stderr, "%s: ls: cannot print the table: %s\n", sg_prog, strerror(errno));
        rc = SG_EXIT_FAILURE;
    }
    tt_free(tb);
    free(mem);
    if (rc == SG_EXIT_OK) {
        fflush(out);
        ls_notes(v, ps, incomplete);
    }
    return rc;
}

static void ls_sem_opts_from(const struct ls_opts *o, struct ls_sem_opts *so)
{
    memset(so, 0, sizeof *so);
    so->json = o->json;
    so->raw = o->raw;
    so->noheadings = o->noheadings;
    so->only_orphans = o->want_orphans;
    so->have_key = o->have_key;
    so->key = o->key;
    so->have_id = o->have_id;
    so->id = o->id;
    so->have_user = o->have_user;
    so->user = o->user;
}

/* The tables as one JSON object: {"segments": [...], "semaphores": [...],
 * "queues": [...]}, sets and queues when asked for. */
static int ls_print_json_all(const struct ls_opts *o, const struct ls_sem_opts *so,
                             const struct sg_view *v, const struct proc_scan *ps, int sets,
                             int queues)
{
    char *t[3] = { NULL, NULL, NULL };
    size_t len[3] = { 0, 0, 0 };
    FILE *f[3] = { NULL, NULL, NULL };
    int n = 0, rc = SG_EXIT_FAILURE;
    for (int i = 0; i < 3; i++)
        if (!(f[i] = open_memstream(&t[i], &len[i])))
            goto out;
    if (ls_print(o, v, ps, f[n++]) != SG_EXIT_OK)
        goto out;
    if (sets && ls_sem_print(so, v, f[n++]) != 0)
        goto out;
    if (queues && ls_msg_print(so, v, f[n++]) != 0)
        goto out;
    for (int i = 0; i < 3; i++) {
        fclose(f[i]);
        f[i] = NULL;
    }
    /* Each is "{\n   \"name\": [...]\n}\n": join the insides. */
    for (int i = 0; i < n; i++) {
        char *s = strchr(t[i], '{'), *e = strrchr(t[i], '}');
        if (!s || !e || e < s)
            goto out;
        while (e > s && (e[-1] == '\n' || e[-1] == ' '))
            e--;
        if (i == 0)
            fwrite(t[i], 1, (size_t)(e - t[i]), stdout);
        else {
            fputs(",", stdout);
            fwrite(s + 1, 1, (size_t)(e - s - 1), stdout);
        }
    }
    fputs("\n}\n", stdout);
    rc = SG_EXIT_OK;
out:
    for (int i = 0; i < 3; i++) {
        if (f[i])
            fclose(f[i]);
        free(t[i]);
    }
    if (rc != SG_EXIT_OK)
        fprintf(stderr, "%s: ls: cannot print the tables as one JSON object\n", sg_prog);
    return rc;
}

static int ls_output_shm_sem(const struct ls_opts *o, const struct ls_sem_opts *sop,
                             const struct sg_view *v, const struct proc_scan *ps, int queues);

/* What ls prints: segments, then semaphore sets and message queues when
 * there are any (or only one kind with -m / -s / -q). */
static int ls_output(const struct ls_opts *o, const struct sg_view *v, const struct proc_scan *ps)
{
    struct ls_sem_opts so;
    ls_sem_opts_from(o, &so);
    int have_q = !o->shm_only && !o->sem_only && !o->want_pending && v->have_msgs;
    if (o->msg_only) {
        if (!have_q) {
            fprintf(stderr, "%s: ls: cannot read the kernel's list of message queues "
                            "(/proc/sysvipc/msg)\n", sg_prog);
            return SG_EXIT_FAILURE;
        }
        if (ls_msg_print(&so, v, stdout) != 0) {
            fprintf(stderr, "%s: ls: cannot print the table: out of memory\n", sg_prog);
            return SG_EXIT_FAILURE;
        }
        return SG_EXIT_OK;
    }
    return ls_output_shm_sem(o, &so, v, ps, have_q && ls_msg_count(&so, v) > 0);
}

/* Segments, then sets when there are any (or only sets with -s), then the
 * queues when asked. */
static int ls_output_shm_sem(const struct ls_opts *o, const struct ls_sem_opts *sop,
                             const struct sg_view *v, const struct proc_scan *ps, int queues)
{
    struct ls_sem_opts so = *sop;
    int sets = !o->shm_only && v->have_sems && (o->sem_only || !o->want_pending) &&
               (o->sem_only || ls_sem_count(&so, v) > 0);
    if (o->sem_only && !v->have_sems) {
        fprintf(stderr, "%s: ls: cannot read the kernel's list of semaphore sets "
                        "(/proc/sysvipc/sem)\n", sg_prog);
        return SG_EXIT_FAILURE;
    }
    if (o->sem_only) {
        if (ls_sem_print(&so, v, stdout) != 0) {
            fprintf(stderr, "%s: ls: cannot print the table: out of memory\n", sg_prog);
            return SG_EXIT_FAILURE;
        }
        return SG_EXIT_OK;
    }
    if ((sets || queues) && o->json)
        return ls_print_json_all(o, &so, v, ps, sets, queues);
    int rc = ls_print(o, v, ps, stdout);
    if (rc == SG_EXIT_OK && sets) {
        fputs("\n", stdout);
        if (ls_sem_print(&so, v, stdout) != 0) {
            fprintf(stderr, "%s: ls: cannot print the table: out of memory\n", sg_prog);
            rc = SG_EXIT_FAILURE;
        }
    }
    if (rc == SG_EXIT_OK && queues) {
        fputs("\n", stdout);
        if (ls_msg_print(&so, v, stdout) != 0) {
            fprintf(stderr, "%s: ls: cannot print the table: out of memory\n", sg_prog);
            rc = SG_EXIT_FAILURE;
        }
    }
    return rc;
}

int cmd_ls(int argc, char **argv)
{
    enum { OPT_ORPHANS = 256, OPT_PENDING, OPT_KEY, OPT_ID, OPT_USER, OPT_DIR, OPT_ALL };
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' }, { "output-all", no_argument, NULL, OPT_ALL },
        { "noheadings", no_argument, NULL, 'n' },   { "raw", no_argument, NULL, 'r' },
        { "json", no_argument, NULL, 'J' },         { "bytes", no_argument, NULL, 'b' },
        { "list-columns", no_argument, NULL, 'H' }, { "orphans", no_argument, NULL, OPT_ORPHANS },
        { "pending", no_argument, NULL, OPT_PENDING }, { "key", required_argument, NULL, OPT_KEY },
        { "id", required_argument, NULL, OPT_ID },  { "user", required_argument, NULL, OPT_USER },
        { "dir", required_argument, NULL, OPT_DIR }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },      { "shm", no_argument, NULL, 'm' },
        { "sem", no_argument, NULL, 's' },          { "msg", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
    };
    struct ls_opts o;
    memset(&o, 0, sizeof o);
    o.ncols = sizeof ls_default_cols / sizeof ls_default_cols[0];
    memcpy(o.cols, ls_default_cols, sizeof ls_default_cols);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:nrJbHhVmsq", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.shm_only = 1; break;
        case 's': o.sem_only = 1; break;
        case 'q': o.msg_only = 1; break;
        case 'o':
            if (ls_parse_columns(optarg, o.cols, &o.ncols) != 0)
                return SG_EXIT_FAILURE;
            break;
        case OPT_ALL:
            o.ncols = NCOLS;
            for (int i = 0; i < NCOLS; i++)
                o.cols[i] = i;
            break;
        case 'n': o.noheadings = 1; break;
        case 'r': o.raw = 1; break;
        case 'J': o.json = 1; break;
        case 'b': o.bytes = 1; break;
        case 'H': ls_list_columns(stdout); return SG_EXIT_OK;
        case OPT_ORPHANS: o.want_orphans = 1; break;
        case OPT_PENDING: o.want_pending = 1; break;
        case OPT_KEY:
            if (tool_parse_key(optarg, &o.key) != 0) {
                tool_cmd_usage_error("ls", "invalid key: '%s' (use 0xHEX or a decimal number)", optarg);
                return SG_EXIT_FAILURE;
            }
            o.have_key = 1;
            break;
        case OPT_ID:
            if (tool_parse_long(optarg, 0, INT32_MAX, &o.id) != 0) {
                tool_cmd_usage_error("ls", "invalid id: '%s' (a segment id is a number from 0 to %d)",
                                     optarg, INT32_MAX);
                return SG_EXIT_FAILURE;
            }
            o.have_id = 1;
            break;
        case OPT_USER:
            if (tool_parse_user(optarg, &o.user) != 0) {
                tool_cmd_usage_error("ls", "unknown user: '%s'", optarg);
                return SG_EXIT_FAILURE;
            }
            o.have_user = 1;
            break;
        case OPT_DIR:
            if (!optarg[0]) {
                tool_cmd_usage_error("ls", "empty ledger directory");
                return SG_EXIT_FAILURE;
            }
            o.dir = optarg;
            break;
        case 'h': ls_usage(stdout); return SG_EXIT_OK;
        case 'V': tool_print_version(); return SG_EXIT_OK;
        default: tool_getopt_error("ls", c, argv); return SG_EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        tool_cmd_usage_error("ls", "unexpected argument '%s'", argv[optind]);
        return SG_EXIT_FAILURE;
    }
    if (o.dir && (tool_dir_arg("ls", o.dir) != 0 || tool_dir_readable("ls", o.dir) != 0))
        return SG_EXIT_FAILURE;
    if (o.json && o.raw) {
        tool_cmd_usage_error("ls", "--json and --raw exclude each other");
        return SG_EXIT_FAILURE;
    }
    if (o.msg_only && o.want_pending) {
        tool_cmd_usage_error("ls", "--pending selects segments; --msg lists queues");
        return SG_EXIT_FAILURE;
    }
    if (o.shm_only + o.sem_only + o.msg_only > 1) {
        tool_cmd_usage_error("ls", "--shm, --sem and --msg exclude each other (without any, all are listed)");
        return SG_EXIT_FAILURE;
    }

    struct sg_view v;
    if (sg_view_build(&v, o.dir ? o.dir : sg_config_get()->ledger_dir, NULL) != 0) {
        fprintf(stderr, "%s: ls: cannot read the kernel's list of segments (/proc/sysvipc/shm): %s\n",
                sg_prog, strerror(errno));
        return SG_EXIT_FAILURE;
    }
    struct proc_scan ps;
    if (proc_scan_build(&ps) != 0) {
        fprintf(stderr, "%s: ls: cannot scan /proc for attached processes: %s\n", sg_prog,
                strerror(errno));
        sg_view_free(&v);
        return SG_EXIT_FAILURE;
    }
    int rc = ls_output(&o, &v, &ps);
    proc_scan_free(&ps);
    sg_view_free(&v);
    return rc;
}
