/*
 * tool_ls_msg.c - the message queue table of `shmguard ls`.
 *
 * What the kernel keeps of a queue: key, id, owner, permissions, the
 * messages and bytes it holds and its byte limit, and the pids of its
 * last sender and last receiver.  The library does not record queues
 * (yet), so there is no creator and no ledger record: a queue is "in-use"
 * while its last sender or receiver lives (started before that send or
 * receive: a reused pid does not count), else "unknown".
 */
#define _GNU_SOURCE
#include "tool.h"
#include "sg_kmsg.h"
#include "tool_table.h"

#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { Q_KEY, Q_ID, Q_OWNER, Q_PERMS, Q_MSGS, Q_BYTES, Q_QBYTES, Q_LSPID, Q_LRPID, Q_STATE,
       Q_AGE, Q_NCOLS };

static const struct {
    const char *name;
    double whint;
    int flags, json;
} msg_cols[Q_NCOLS] = {
    [Q_KEY] = { "KEY", 10, 0, SCOLS_JSON_STRING },
    [Q_ID] = { "MSQID", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_OWNER] = { "OWNER", 8, 0, SCOLS_JSON_STRING },
    [Q_PERMS] = { "PERMS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_STRING },
    [Q_MSGS] = { "MESSAGES", 8, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_BYTES] = { "BYTES", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_QBYTES] = { "QBYTES", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_LSPID] = { "LSPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_LRPID] = { "LRPID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
    [Q_STATE] = { "STATE", 7, 0, SCOLS_JSON_STRING },
    [Q_AGE] = { "AGE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
};

const char *ls_msg_state(const struct sg_kmsg *k)
{
    return sg_kmsg_last_alive(k) > 0 ? "in-use" : "unknown";
}

static int selected(const struct ls_sem_opts *o, const struct sg_kmsg *k)
{
    if (o->only_orphans)
        return 0; /* no queue is proved orphaned without a creator record */
    if (o->have_key && k->key != o->key)
        return 0;
    if (o->have_id && k->id != o->id)
        return 0;
    if (o->have_user && k->uid != o->user && k->cuid != o->user)
        return 0;
    return 1;
}

size_t ls_msg_count(const struct ls_sem_opts *o, const struct sg_kmsgsnap *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += selected(o, &q->v[i]);
    return n;
}

int ls_msg_print(const struct ls_sem_opts *o, const struct sg_kmsgsnap *q, FILE *out)
{
    struct tt_mode m = { .json = o->json, .raw = o->raw, .noheadings = o->noheadings, .term = -1 };
    struct tt *tb = tt_new(out, "queues", &m);
    if (!tb)
        return -1;
    int rc = 0;
    for (int c = 0; c < Q_NCOLS && rc == 0; c++)
        if (tt_add_column(tb, msg_cols[c].name, msg_cols[c].whint, msg_cols[c].flags,
                          msg_cols[c].json) != 0)
            rc = -1;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < q->n && rc == 0; i++) {
        const struct sg_kmsg *k = &q->v[i];
        if (!selected(o, k))
            continue;
        if (tt_new_line(tb) != 0) {
            rc = -1;
            break;
        }
        for (int c = 0; c < Q_NCOLS && rc == 0; c++) {
            char buf[64];
            const char *data = buf;
            switch (c) {
            case Q_KEY: snprintf(buf, sizeof buf, "0x%08x", (uint32_t)k->key); break;
            case Q_ID: snprintf(buf, sizeof buf, "%d", k->id); break;
            case Q_OWNER: data = tool_user_name(k->uid); break;
            case Q_PERMS: snprintf(buf, sizeof buf, "%o", k->mode); break;
            case Q_MSGS: snprintf(buf, sizeof buf, "%" PRIu64, k->qnum); break;
            case Q_BYTES: snprintf(buf, sizeof buf, "%" PRIu64, k->cbytes); break;
            case Q_QBYTES:
                if (k->qbytes)
                    snprintf(buf, sizeof buf, "%" PRIu64, k->qbytes);
                else
                    data = NULL;
                break;
            case Q_LSPID:
            case Q_LRPID: {
                int pid = c == Q_LSPID ? k->lspid : k->lrpid;
                if (pid > 0)
                    snprintf(buf, sizeof buf, "%d", pid);
                else
                    data = NULL;
                break;
            }
            case Q_STATE: data = ls_msg_state(k); break;
            case Q_AGE: {
                int64_t age = now - k->ctime < 0 ? 0 : now - k->ctime;
                if (o->json)
                    snprintf(buf, sizeof buf, "%" PRId64, age);
                else
                    tool_fmt_age(buf, sizeof buf, age);
                break;
            }
            }
            if (tt_set(tb, (size_t)c, data) != 0)
                rc = -1;
        }
    }
    if (rc == 0 && tt_print(tb) != 0)
        rc = -1;
    tt_free(tb);
    return rc;
}
