/*
 * tool_ls_sem.c - the semaphore set table of `shmguard ls`, and what it
 * shares with the message queue table (tool_ls_msg.c): the table itself
 * (ls_table_print) and the creator, users and age cells.
 *
 * A set has no attach count and the kernel keeps no creator pid for it,
 * so beyond the kernel's facts (key, id, owner, permissions, number of
 * semaphores, times) everything here comes from the ledgers: the creator
 * (pid, command, alive or dead, call site) and the processes recorded as
 * using the set, each alive or dead.  A set made without the library
 * shows kernel facts only, in state "unknown".
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_pidns.h"
#include "sg_analysis.h"
#include "tool_table.h"

#include <errno.h>
#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { S_KEY, S_ID, S_OWNER, S_PERMS, S_NSEMS, S_STATE, S_CPID, S_COMMAND, S_ALIVE, S_USERS,
       S_AGE, S_LEDGER, S_SITE, S_NCOLS };

static const struct ls_col sem_cols[S_NCOLS] = {
    [S_KEY] = { "KEY", 10, 0, SCOLS_JSON_STRING },
    [S_ID] = { "SEMID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [S_OWNER] = { "OWNER", 8, 0, SCOLS_JSON_STRING },
    [S_PERMS] = { "PERMS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_STRING },
    [S_NSEMS] = { "NSEMS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [S_STATE] = { "STATE", 8, 0, SCOLS_JSON_STRING },
    [S_CPID] = { "CPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [S_COMMAND] = { "COMMAND", 12, SCOLS_FL_TRUNC, SCOLS_JSON_STRING },
    [S_ALIVE] = { "ALIVE", 5, 0, SCOLS_JSON_BOOLEAN_OPTIONAL },
    [S_USERS] = { "USERS", 20, SCOLS_FL_TRUNC, SCOLS_JSON_ARRAY_STRING },
    [S_AGE] = { "AGE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [S_LEDGER] = { "LEDGER", 6, 0, SCOLS_JSON_BOOLEAN },
    [S_SITE] = { "SITE", 20, SCOLS_FL_TRUNC, SCOLS_JSON_STRING },
};

/* The USERS cell: "PID" for a live user, "PID(dead)" for a dead one,
 * "PID(not-visible)" for one in a pid namespace not visible from here. */
struct users_cell {
    char *s;
    size_t len, cap;
    const char *sep;
    int oom;
};

static void add_user(void *arg, const struct sg_user *u, int alive)
{
    struct users_cell *c = arg;
    char one[48];
    /* A live user's pid as this /proc names it. */
    int pid = alive == 1 ? sg_pidns_translate(u->pid, u->start, u->pidns) : u->pid;
    int w = snprintf(one, sizeof one, "%s%d%s", c->len ? c->sep : "", pid,
                     alive == 0 ? "(dead)" : alive < 0 ? "(?)"
                     : alive == SG_ALIVE_HIDDEN ? "(not-visible)" : "");
    if (c->len + (size_t)w + 1 > c->cap) {
        size_t nc = (c->cap ? c->cap * 2 : 128) + (size_t)w;
        char *ns = realloc(c->s, nc);
        if (!ns) {
            c->oom = 1;
            return;
        }
        c->s = ns;
        c->cap = nc;
    }
    memcpy(c->s + c->len, one, (size_t)w + 1);
    c->len += (size_t)w;
}

int ls_users_cell(const struct sg_view *v, uint32_t kind, int id, int json, char **out)
{
    struct users_cell users = { NULL, 0, 0, json ? "\n" : ",", 0 };
    sg_view_users(v, kind, id, add_user, &users);
    if (users.oom) {
        free(users.s);
        *out = NULL;
        return -1;
    }
    *out = users.s;
    return 0;
}

void ls_cpid_cell(char *buf, size_t n, const struct sg_seg *rec, int creator_alive)
{
    /* As this /proc names it when it is visible from here; else the pid
     * in the creator's own namespace, as the ledger keeps it (ALIVE says
     * which), as for USERS. */
    if (rec && (rec->flags & SG_SEG_CREATOR))
        snprintf(buf, n, "%d",
                 creator_alive == 1 ? sg_pidns_translate(rec->cr_pid, rec->cr_start, rec->cr_pidns)
                                    : rec->cr_pid);
}

const char *ls_alive_cell(const struct sg_seg *rec, int creator_alive, int json)
{
    if (!rec || !(rec->flags & SG_SEG_CREATOR))
        return NULL;
    return creator_alive == 1 ? "yes" : creator_alive == 0 ? "no"
           : creator_alive == SG_ALIVE_HIDDEN && !json ? "not-visible"
           : json ? NULL : "?";
}

void ls_age_cell(char *buf, size_t n, const struct sg_seg *rec, int64_t ctime, int64_t now,
                 int json)
{
    int64_t born = rec && (rec->flags & SG_SEG_CREATOR) ? (int64_t)(rec->cr_time_ns / 1000000000u)
                                                         : ctime;
    int64_t age = now - born < 0 ? 0 : now - born;
    if (json)
        snprintf(buf, n, "%" PRId64, age);
    else
        tool_fmt_age(buf, n, age);
}

int ls_table_print(const struct ls_table *t, FILE *out)
{
    const struct ls_sem_opts *o = t->o;
    struct tt_mode m = { .json = o->json, .raw = o->raw, .noheadings = o->noheadings, .term = -1 };
    struct tt *tb = tt_new(out, t->name, &m);
    if (!tb)
        return -1;
    int rc = 0;
    for (int c = 0; c < t->ncols && rc == 0; c++)
        if (tt_add_column(tb, t->cols[c].name, t->cols[c].whint, t->cols[c].flags,
                          t->cols[c].json) != 0)
            rc = -1;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        if (!t->take(t, i))
            continue;
        if (tt_new_line(tb) != 0) {
            rc = -1;
            break;
        }
        for (int c = 0; c < t->ncols && rc == 0; c++) {
            char buf[512] = "";
            const char *data = buf;
            char *owned = NULL;
            if (t->cell(t, i, c, buf, sizeof buf, &data, &owned) != 0)
                rc = -1;
            /* An empty cell is no value (JSON null), but for the key. */
            else if (tt_set(tb, (size_t)c, data && !data[0] && c != 0 ? NULL : data) != 0)
                rc = -1;
            free(owned);
        }
    }
    if (rc == 0 && tt_print(tb) != 0)
        rc = -1;
    tt_free(tb);
    return rc;
}

static int cell(const struct ls_table *t, size_t i, int c, char *buf, size_t n, const char **data,
                char **owned)
{
    const struct sg_seminfo *s = &t->v->sem[i];
    const struct sg_seg *rec = s->rec;
    int creator = rec && (rec->flags & SG_SEG_CREATOR);
    switch (c) {
    case S_KEY: snprintf(buf, n, "0x%08x", (uint32_t)s->k.key); break;
    case S_ID: snprintf(buf, n, "%d", s->k.id); break;
    case S_OWNER: *data = tool_user_name(s->k.uid); break;
    case S_PERMS: snprintf(buf, n, "%o", s->k.mode); break;
    case S_NSEMS: snprintf(buf, n, "%u", s->k.nsems); break;
    case S_STATE: *data = sg_semstate_name(s->state); break;
    case S_CPID: ls_cpid_cell(buf, n, rec, s->creator_alive); break;
    case S_COMMAND: *data = s->comm; break;
    case S_ALIVE: *data = ls_alive_cell(rec, s->creator_alive, t->o->json); break;
    case S_USERS:
        if (ls_users_cell(t->v, SG_KIND_SEM, s->k.id, t->o->json, owned) != 0)
            return -1;
        *data = *owned;
        break;
    case S_AGE: ls_age_cell(buf, n, rec, s->k.ctime, t->now, t->o->json); break;
    case S_LEDGER: *data = creator ? "yes" : "no"; break;
    case S_SITE: tool_fmt_site(buf, n, creator ? rec : NULL); break;
    }
    return 0;
}

static int selected(const struct ls_sem_opts *o, const struct sg_seminfo *s)
{
    if (o->only_orphans && s->state != SG_SEM_ORPHANED)
        return 0;
    if (o->have_key && s->k.key != o->key)
        return 0;
    if (o->have_id && s->k.id != o->id)
        return 0;
    if (o->have_user && s->k.uid != o->user && s->k.cuid != o->user)
        return 0;
    return 1;
}

size_t ls_sem_count(const struct ls_sem_opts *o, const struct sg_view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n_sem; i++)
        n += selected(o, &v->sem[i]);
    return n;
}

static int take(const struct ls_table *t, size_t i) { return selected(t->o, &t->v->sem[i]); }

int ls_sem_print(const struct ls_sem_opts *o, const struct sg_view *v, FILE *out)
{
    struct ls_table t = { "semaphores", sem_cols, S_NCOLS, v->n_sem, take, cell, o, v,
                          (int64_t)time(NULL) };
    return ls_table_print(&t, out);
}
