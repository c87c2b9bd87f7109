/*
 * tool_ls_sem.c - the semaphore set table of `shmguard ls`.
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

static const struct {
    const char *name;
    double whint;
    int flags, json;
} sem_cols[S_NCOLS] = {
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

static int fill(struct tt *tb, const struct sg_view *v, const struct sg_seminfo *s,
                const struct ls_sem_opts *o, int64_t now)
{
    const struct sg_seg *rec = s->rec;
    int creator = rec && (rec->flags & SG_SEG_CREATOR);
    for (int c = 0; c < S_NCOLS; c++) {
        char buf[512];
        const char *data = buf;
        char *users = NULL;
        buf[0] = '\0';
        switch (c) {
        case S_KEY: snprintf(buf, sizeof buf, "0x%08x", (uint32_t)s->k.key); break;
        case S_ID: snprintf(buf, sizeof buf, "%d", s->k.id); break;
        case S_OWNER: data = tool_user_name(s->k.uid); break;
        case S_PERMS: snprintf(buf, sizeof buf, "%o", s->k.mode); break;
        case S_NSEMS: snprintf(buf, sizeof buf, "%u", s->k.nsems); break;
        case S_STATE: data = sg_semstate_name(s->state); break;
        case S_CPID: ls_cpid_cell(buf, sizeof buf, rec, s->creator_alive); break;
        case S_COMMAND: data = s->comm; break;
        case S_ALIVE: data = ls_alive_cell(rec, s->creator_alive, o->json); break;
        case S_USERS:
            if (ls_users_cell(v, SG_KIND_SEM, s->k.id, o->json, &users) != 0)
                return -1;
            data = users;
            break;
        case S_AGE: {
            int64_t born = creator ? (int64_t)(rec->cr_time_ns / 1000000000u) : s->k.ctime;
            int64_t age = now - born < 0 ? 0 : now - born;
            if (o->json)
                snprintf(buf, sizeof buf, "%" PRId64, age);
            else
                tool_fmt_age(buf, sizeof buf, age);
            break;
        }
        case S_LEDGER: data = creator ? "yes" : "no"; break;
        case S_SITE: tool_fmt_site(buf, sizeof buf, creator ? rec : NULL); break;
        }
        if (data && !data[0] && c != S_KEY)
            data = NULL;
        int r = tt_set(tb, (size_t)c, data);
        free(users);
        if (r != 0)
            return -1;
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

int ls_sem_print(const struct ls_sem_opts *o, const struct sg_view *v, FILE *out)
{
    struct tt_mode m = { .json = o->json, .raw = o->raw, .noheadings = o->noheadings, .term = -1 };
    struct tt *tb = tt_new(out, "semaphores", &m);
    if (!tb)
        return -1;
    int rc = 0;
    for (int c = 0; c < S_NCOLS && rc == 0; c++)
        if (tt_add_column(tb, sem_cols[c].name, sem_cols[c].whint, sem_cols[c].flags, sem_cols[c].json) != 0)
            rc = -1;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < v->n_sem && rc == 0; i++) {
        if (!selected(o, &v->sem[i]))
            continue;
        if (tt_new_line(tb) != 0 || fill(tb, v, &v->sem[i], o, now) != 0)
            rc = -1;
    }
    if (rc == 0 && tt_print(tb) != 0)
        rc = -1;
    tt_free(tb);
    return rc;
}
