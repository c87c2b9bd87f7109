/*
 * tool_ls_msg.c - the message queue table of `shmguard ls`.
 *
 * What the kernel keeps of a queue: key, id, owner, permissions, the
 * messages and bytes it holds and its byte limit, and the pids of its
 * last sender and last receiver.  The rest comes from the ledgers: the
 * creator (pid, command, alive or dead, call site) and the processes
 * recorded as using the queue, each alive or dead.  The state is the
 * analysis' (sg_analysis.h): in-use, orphaned, held (orphaned, but
 * still holding messages) or unknown; a queue made without the library
 * is in-use while its last sender or receiver lives, else unknown.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_analysis.h"
#include "tool_table.h"

#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { Q_KEY, Q_ID, Q_OWNER, Q_PERMS, Q_MSGS, Q_BYTES, Q_QBYTES, Q_LSPID, Q_LRPID, Q_STATE,
       Q_CPID, Q_COMMAND, Q_ALIVE, Q_USERS, Q_AGE, Q_SITE, Q_NCOLS };

static const struct ls_col msg_cols[Q_NCOLS] = {
    [Q_KEY] = { "KEY", 10, 0, SCOLS_JSON_STRING },
    [Q_ID] = { "MSQID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_OWNER] = { "OWNER", 8, 0, SCOLS_JSON_STRING },
    [Q_PERMS] = { "PERMS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_STRING },
    [Q_MSGS] = { "MESSAGES", 8, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_BYTES] = { "BYTES", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_QBYTES] = { "QBYTES", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_LSPID] = { "LSPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_LRPID] = { "LRPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_STATE] = { "STATE", 8, 0, SCOLS_JSON_STRING },
    [Q_CPID] = { "CPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_COMMAND] = { "COMMAND", 12, SCOLS_FL_TRUNC, SCOLS_JSON_STRING },
    [Q_ALIVE] = { "ALIVE", 5, 0, SCOLS_JSON_BOOLEAN_OPTIONAL },
    [Q_USERS] = { "USERS", 20, SCOLS_FL_TRUNC, SCOLS_JSON_ARRAY_STRING },
    [Q_AGE] = { "AGE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_SITE] = { "SITE", 20, SCOLS_FL_TRUNC, SCOLS_JSON_STRING },
};

static int selected(const struct ls_sem_opts *o, const struct sg_msginfo *m)
{
    /* Orphans: held ones too (their owners are as dead). */
    if (o->only_orphans && m->state != SG_MSG_ORPHANED && m->state != SG_MSG_HELD)
        return 0;
    if (o->have_key && m->k.key != o->key)
        return 0;
    if (o->have_id && m->k.id != o->id)
        return 0;
    if (o->have_user && m->k.uid != o->user && m->k.cuid != o->user)
        return 0;
    return 1;
}

size_t ls_msg_count(const struct ls_sem_opts *o, const struct sg_view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n_msg; i++)
        n += selected(o, &v->msg[i]);
    return n;
}

static int cell(const struct ls_table *t, size_t i, int c, char *buf, size_t n, const char **data,
                char **owned)
{
    const struct sg_msginfo *m = &t->v->msg[i];
    const struct sg_kmsg *k = &m->k;
    const struct sg_seg *rec = m->rec;
    switch (c) {
    case Q_KEY: snprintf(buf, n, "0x%08x", (uint32_t)k->key); break;
    case Q_ID: snprintf(buf, n, "%d", k->id); break;
    case Q_OWNER: *data = tool_user_name(k->uid); break;
    case Q_PERMS: snprintf(buf, n, "%o", k->mode); break;
    case Q_MSGS: snprintf(buf, n, "%" PRIu64, k->qnum); break;
    case Q_BYTES: snprintf(buf, n, "%" PRIu64, k->cbytes); break;
    case Q_QBYTES:
        if (k->qbytes)
            snprintf(buf, n, "%" PRIu64, k->qbytes);
        break;
    case Q_LSPID:
    case Q_LRPID: {
        int pid = c == Q_LSPID ? k->lspid : k->lrpid;
        if (pid > 0)
            snprintf(buf, n, "%d", pid);
        break;
    }
    case Q_STATE: *data = sg_msgstate_name(m->state); break;
    case Q_CPID: ls_cpid_cell(buf, n, rec, m->creator_alive); break;
    case Q_COMMAND: *data = m->comm; break;
    case Q_ALIVE: *data = ls_alive_cell(rec, m->creator_alive, t->o->json); break;
    case Q_USERS:
        if (ls_users_cell(t->v, SG_KIND_MSG, k->id, t->o->json, owned) != 0)
            return -1;
        *data = *owned;
        break;
    case Q_AGE: ls_age_cell(buf, n, rec, k->ctime, t->now, t->o->json); break;
    case Q_SITE: tool_fmt_site(buf, n, rec && (rec->flags & SG_SEG_CREATOR) ? rec : NULL); break;
    }
    return 0;
}

static int take(const struct ls_table *t, size_t i) { return selected(t->o, &t->v->msg[i]); }

int ls_msg_print(const struct ls_sem_opts *o, const struct sg_view *v, FILE *out)
{
    struct ls_table t = { "queues", msg_cols, Q_NCOLS, v->n_msg, take, cell, o, v,
                          (int64_t)time(NULL) };
    return ls_table_print(&t, out);
}
