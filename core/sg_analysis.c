/*
 * sg_analysis.c - join kernel facts, limits and ledgers into one view
 * (see sg_analysis.h).  Runs only when a call has failed or when the tool
 * asks: nothing here is on a hot path, but it must stay fast with
 * thousands of segments (one pass, liveness cached per pid).
 */
#define _GNU_SOURCE
#include "sg_analysis.h"
#include "sg_kmsg.h"
#include "sg_ledger_dir.h"
#include "sg_pidns.h"
#include "sg_proc.h"
#include "sg_real.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uthash.h>

const char *sg_segstate_name(enum sg_segstate s)
{
    switch (s) {
    case SG_ST_IN_USE: return "in-use";
    case SG_ST_IDLE: return "idle";
    case SG_ST_ORPHANED: return "orphaned";
    case SG_ST_PENDING: return "pending";
    default: return "marked";
    }
}

int sg_limits_read(struct sg_limits *l)
{
    memset(l, 0, sizeof *l);
    struct shminfo info;
    struct shm_info use;
    if (real_shmctl(0, IPC_INFO, (struct shmid_ds *)&info) < 0)
        return -1;
    if (real_shmctl(0, SHM_INFO, (struct shmid_ds *)&use) < 0)
        return -1;
    l->shmmax = info.shmmax;
    l->shmmin = info.shmmin;
    l->shmmni = info.shmmni;
    l->shmall = info.shmall;
    l->used_ids = (uint64_t)use.used_ids;
    l->shm_tot = use.shm_tot;
    long ps = sysconf(_SC_PAGESIZE);
    l->page_size = ps > 0 ? (uint64_t)ps : 4096;
    return 0;
}

/* What /proc says about each pid met while building one view: its start
 * time (0: no such process, or exited) and, once asked, its command. */
struct pid_fact {
    int pid;
    uint64_t start;
    int have_comm;
    char comm[SG_COMM_LEN];
    UT_hash_handle hh;
};

static struct pid_fact *fact(struct pid_fact **cache, int pid)
{
    struct pid_fact *f;
    HASH_FIND_INT(*cache, &pid, f);
    if (f)
        return f;
    f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->pid = pid;
    f->start = sg_proc_start_time(pid);
    HASH_ADD_INT(*cache, pid, f);
    return f;
}

/* 1 if (pid, start) of pid namespace ns is alive, 0 if not, -1 if
 * unknown, SG_ALIVE_HIDDEN if not visible from here (sg_pidns.h); /proc
 * facts are cached for the namespace /proc shows. */
static int alive_cached(struct pid_fact **cache, int pid, uint64_t start, uint32_t ns)
{
    if (ns && ns != sg_pidns_view())
        return sg_proc_alive_ns(pid, start, ns);
    struct pid_fact *f = fact(cache, pid);
    if (!f)
        return sg_proc_alive(pid, start);
    if (f->start == 0) {
        static int proc_ok = -1; /* is /proc there at all? asked once */
        if (proc_ok < 0)
            proc_ok = access("/proc/self/stat", R_OK) == 0;
        return proc_ok ? 0 : -1;
    }
    return sg_start_fits(f->start, start);
}

static void comm_cached(struct pid_fact **cache, int pid, char *out)
{
    struct pid_fact *f = fact(cache, pid);
    if (!f) {
        sg_proc_comm(pid, out);
        return;
    }
    if (!f->have_comm) {
        sg_proc_comm(pid, f->comm);
        f->have_comm = 1;
    }
    memcpy(out, f->comm, SG_COMM_LEN);
}

static void facts_free(struct pid_fact **cache)
{
    struct pid_fact *f, *tmp;
    HASH_ITER(hh, *cache, f, tmp) {
        HASH_DEL(*cache, f);
        free(f);
    }
}

/* The ledgers the view consults, its own mapping first: how many, and
 * the i-th (all that were loaded, however many). */
static size_t n_consulted(const struct sg_view *v) { return (v->own ? 1 : 0) + v->n_ledgers; }

static const struct sg_ledger *consulted(const struct sg_view *v, size_t i)
{
    if (v->own)
        return i == 0 ? v->own : &v->ledgers[i - 1];
    return &v->ledgers[i];
}

/* A ledger speaks only for objects its owner could act on (the file's
 * owner, not a field inside it): otherwise any user could make another's
 * segment or set look pending or orphaned.  The one trust rule of views. */
static int speaks_for(uid_t owner, uint32_t uid, uint32_t cuid)
{
    return owner == 0 || owner == uid || owner == cuid;
}

/* The ledger record of the object (kind, id) owned by uid and created by
 * cuid, from any consulted ledger that speaks for it, for which is(k, r)
 * says that it describes the kernel's object k (ids are reused), or NULL;
 * *domain is the owner of the ledger it came from. */
static const struct sg_seg *find_kind(struct sg_view *v, uint32_t kind, int id, uid_t uid,
                                      uid_t cuid, int (*is)(const void *k, const struct sg_seg *r),
                                      const void *k, uid_t *domain)
{
    size_t n = n_consulted(v);
    for (size_t i = 0; i < n; i++) {
        const struct sg_ledger *L = consulted(v, i);
        if (!speaks_for(L->owner, uid, cuid))
            continue;
        const struct sg_seg *r = sg_seg_find((struct sg_ledger *)L, kind, id);
        if (is(k, r)) {
            *domain = L->owner;
            return r;
        }
    }
    return NULL;
}

static int seg_is(const void *k, const struct sg_seg *r) { return sg_kseg_is(k, r); }
static int sem_is(const void *k, const struct sg_seg *r) { return sg_ksem_is(k, r); }

/* The ledger record describing kernel segment k, or NULL. */
static const struct sg_seg *find_rec(struct sg_view *v, const struct sg_kseg *k, uid_t *domain)
{
    return find_kind(v, SG_KIND_SHM, k->id, k->uid, k->cuid, seg_is, k, domain);
}

/* The same for semaphore set k. */
static const struct sg_seg *find_sem_rec(struct sg_view *v, const struct sg_ksem *k, uid_t *domain)
{
    return find_kind(v, SG_KIND_SEM, k->id, k->uid, k->cuid, sem_is, k, domain);
}

const char *sg_semstate_name(enum sg_semstate s)
{
    return s == SG_SEM_IN_USE ? "in-use" : s == SG_SEM_ORPHANED ? "orphaned" : "unknown";
}

unsigned sg_view_users(const struct sg_view *v, uint32_t kind, int id,
                       void (*fn)(void *arg, const struct sg_user *u, int alive), void *arg)
{
    size_t n = n_consulted(v);
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sg_ledger *L = consulted(v, i);
        if (!L->hdr->user_live)
            continue;
        for (uint32_t j = 0; j < L->user_cap; j++) {
            const struct sg_user *u = &L->users[j];
            if (u->state != SG_REC_LIVE || u->id != id || u->kind != kind)
                continue;
            seen++;
            if (fn)
                fn(arg, u, sg_proc_alive_ns(u->pid, u->start, u->pidns));
        }
    }
    return seen;
}

/* Users per object, sets and queues, counted over every consulted
 * ledger in one pass; keyed by kind and id. */
struct obj_users {
    uint64_t key;
    unsigned users, alive;
    UT_hash_handle hh;
};

static uint64_t obj_key(uint32_t kind, int id) { return (uint64_t)kind << 32 | (uint32_t)id; }

static struct obj_users *count_users(struct sg_view *v, struct pid_fact **facts)
{
    size_t n = n_consulted(v);
    struct obj_users *map = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct sg_ledger *L = consulted(v, i);
        if (!L->hdr->user_live)
            continue;
        for (uint32_t j = 0; j < L->user_cap; j++) {
            const struct sg_user *u = &L->users[j];
            if (u->state != SG_REC_LIVE)
                continue;
            uint64_t key = obj_key(u->kind, u->id);
            struct obj_users *e;
            HASH_FIND(hh, map, &key, sizeof key, e);
            if (!e) {
                if (!(e = calloc(1, sizeof *e)))
                    continue;
                e->key = key;
                HASH_ADD(hh, map, key, sizeof e->key, e);
            }
            e->users++;
            /* Unknown liveness keeps the object, as a live user does. */
            e->alive += alive_cached(facts, u->pid, u->start, u->pidns) != 0;
        }
    }
    return map;
}

static void users_free(struct obj_users **map)
{
    struct obj_users *e, *tmp;
    HASH_ITER(hh, *map, e, tmp) {
        HASH_DEL(*map, e);
        free(e);
    }
}

/* What the ledgers say of a set's or a queue's owners: its creator
 * (alive or not, command) from rec, and its recorded users from map. */
struct owners {
    int creator_alive;              /* 1, 0, -1 unknown (or no record), SG_ALIVE_HIDDEN */
    unsigned users, users_alive;
    char comm[16];
};

/* 1 if a record of the kernel's object k, in any consulted ledger (not
 * only those that speak for it: a user of another uid records its uses
 * in its own), says that a use of it could not be recorded.  Such a use
 * can only keep the object alive, so every ledger counts. */
static int users_lost(struct sg_view *v, uint32_t kind, int id,
                      int (*is)(const void *k, const struct sg_seg *r), const void *k)
{
    size_t n = n_consulted(v);
    for (size_t i = 0; i < n; i++) {
        const struct sg_seg *r = sg_seg_find((struct sg_ledger *)consulted(v, i), kind, id);
        if (r && (r->flags & SG_SEG_USERS_LOST) && is(k, r))
            return 1;
    }
    return 0;
}

static void owners_of(struct pid_fact **facts, struct obj_users *map, uint32_t kind, int id,
                      const struct sg_seg *rec, struct owners *o)
{
    memset(o, 0, sizeof *o);
    o->creator_alive = -1;
    if (rec && (rec->flags & SG_SEG_CREATOR)) {
        o->creator_alive = alive_cached(facts, rec->cr_pid, rec->cr_start, rec->cr_pidns);
        memcpy(o->comm, rec->cr_comm, sizeof o->comm);
        o->comm[sizeof o->comm - 1] = '\0';
    }
    uint64_t key = obj_key(kind, id);
    struct obj_users *e;
    HASH_FIND(hh, map, &key, sizeof key, e);
    if (e) {
        o->users = e->users;
        o->users_alive = e->alive;
    }
}

static void sem_verdict(struct sg_seminfo *s)
{
    if (s->creator_alive == 1 || s->creator_alive == SG_ALIVE_HIDDEN || s->users_alive) {
        s->state = SG_SEM_IN_USE;
        return;
    }
    if (!s->rec || !(s->rec->flags & SG_SEG_CREATOR) || s->users_lost || s->creator_alive != 0) {
        s->state = SG_SEM_UNKNOWN;
        return;
    }
    /* Ledger says: everyone dead.  Ask the kernel who changed it last. */
    s->lastop_pid = sg_ksem_lastop_alive(&s->k);
    s->state = s->lastop_pid == 0 ? SG_SEM_ORPHANED
               : s->lastop_pid > 0 ? SG_SEM_IN_USE : SG_SEM_UNKNOWN;
}

static void build_sems(struct sg_view *v, struct pid_fact **facts, struct obj_users *users)
{
    v->have_semlimits = sg_semlimits_read(&v->slim) == 0;
    struct sg_ksemsnap ks;
    if (sg_ksemsnap_read(&ks) != 0)
        return;
    v->have_sems = 1;
    v->sem = calloc(ks.n ? ks.n : 1, sizeof *v->sem);
    if (!v->sem) {
        v->have_sems = 0;
        sg_ksemsnap_free(&ks);
        return;
    }
    for (size_t i = 0; i < ks.n; i++) {
        struct sg_seminfo *s = &v->sem[v->n_sem++];
        s->k = ks.v[i];
        s->rec = find_sem_rec(v, &s->k, &s->rec_domain);
        struct owners o;
        owners_of(facts, users, SG_KIND_SEM, s->k.id, s->rec, &o);
        s->creator_alive = o.creator_alive;
        s->users = o.users;
        s->users_alive = o.users_alive;
        s->users_lost = users_lost(v, SG_KIND_SEM, s->k.id, sem_is, &s->k);
        memcpy(s->comm, o.comm, sizeof s->comm);
        sem_verdict(s);
    }
    sg_ksemsnap_free(&ks);
}

const char *sg_msgstate_name(enum sg_msgstate s)
{
    switch (s) {
    case SG_MSG_IN_USE: return "in-use";
    case SG_MSG_ORPHANED: return "orphaned";
    case SG_MSG_HELD: return "held";
    default: return "unknown";
    }
}

static void msg_verdict(struct sg_msginfo *m)
{
    if (m->creator_alive == 1 || m->creator_alive == SG_ALIVE_HIDDEN || m->users_alive) {
        m->state = SG_MSG_IN_USE;
        return;
    }
    m->last_alive = sg_kmsg_last_alive(&m->k);
    if (m->last_alive > 0) {
        m->state = SG_MSG_IN_USE;
        return;
    }
    /* Orphaned only on the ledger's word that everyone is dead, and the
     * kernel's that its last sender and receiver are gone too. */
    if (!m->rec || !(m->rec->flags & SG_SEG_CREATOR) || m->users_lost || m->creator_alive != 0 ||
        m->last_alive) {
        m->state = SG_MSG_UNKNOWN;
        return;
    }
    m->state = m->k.qnum ? SG_MSG_HELD : SG_MSG_ORPHANED;
}

static int msg_is(const void *k, const struct sg_seg *r) { return sg_kmsg_is(k, r); }

static void build_msgs(struct sg_view *v, struct pid_fact **facts, struct obj_users *users)
{
    struct sg_kmsgsnap kq;
    if (sg_kmsgsnap_read(&kq) != 0)
        return;
    v->have_msgs = 1;
    v->msg = calloc(kq.n ? kq.n : 1, sizeof *v->msg);
    if (!v->msg) {
        v->have_msgs = 0;
        sg_kmsgsnap_free(&kq);
        return;
    }
    for (size_t i = 0; i < kq.n; i++) {
        struct sg_msginfo *m = &v->msg[v->n_msg++];
        m->k = kq.v[i];
        m->rec = find_kind(v, SG_KIND_MSG, m->k.id, m->k.uid, m->k.cuid, msg_is, &m->k,
                           &m->rec_domain);
        struct owners o;
        owners_of(facts, users, SG_KIND_MSG, m->k.id, m->rec, &o);
        m->creator_alive = o.creator_alive;
        m->users = o.users;
        m->users_alive = o.users_alive;
        m->users_lost = users_lost(v, SG_KIND_MSG, m->k.id, msg_is, &m->k);
        memcpy(m->comm, o.comm, sizeof m->comm);
        msg_verdict(m);
    }
    sg_kmsgsnap_free(&kq);
}

static int cmp_msginfo_id(const void *a, const void *b)
{
    const struct sg_msginfo *x = a, *y = b;
    return (x->k.id > y->k.id) - (x->k.id < y->k.id);
}

const struct sg_msginfo *sg_view_find_msg(const struct sg_view *v, int id)
{
    struct sg_msginfo key = { .k.id = id };
    return v->n_msg ? bsearch(&key, v->msg, v->n_msg, sizeof *v->msg, cmp_msginfo_id) : NULL;
}

static int cmp_seminfo_id(const void *a, const void *b)
{
    const struct sg_seminfo *x = a, *y = b;
    return (x->k.id > y->k.id) - (x->k.id < y->k.id);
}

const struct sg_seminfo *sg_view_find_sem(const struct sg_view *v, int id)
{
    struct sg_seminfo key = { .k.id = id };
    return v->n_sem ? bsearch(&key, v->sem, v->n_sem, sizeof *v->sem, cmp_seminfo_id) : NULL;
}

static int cmp_semholder(const void *a, const void *b)
{
    const struct sg_semholder *x = a, *y = b;
    if (x->sets != y->sets)
        return x->sets < y->sets ? 1 : -1;
    if (x->sems != y->sems)
        return x->sems < y->sems ? 1 : -1;
    return strcmp(x->comm, y->comm);
}

/* Holders, of segments or of sets, are grouped by creator uid and
 * command: both structs begin with those two fields, at the same
 * offsets, so one lookup serves both. */
_Static_assert(offsetof(struct sg_holder, comm) == 0 && offsetof(struct sg_semholder, comm) == 0 &&
                   offsetof(struct sg_holder, uid) == offsetof(struct sg_semholder, uid) &&
                   sizeof(((struct sg_holder *)0)->comm) == sizeof(((struct sg_semholder *)0)->comm),
               "holder structs share their key");
#define HOLDER_COMM sizeof(((struct sg_holder *)0)->comm)

/* The group of (uid, comm) among the *n groups in all (each size bytes),
 * appended (and counted) when new; all has room for one more. */
static void *group_of(void *all, size_t size, size_t *n, uid_t uid, const char *comm)
{
    for (size_t j = 0; j < *n; j++) {
        char *g = (char *)all + j * size;
        uid_t *gu = (uid_t *)(g + offsetof(struct sg_holder, uid));
        if (*gu == uid && !strcmp(g, comm))
            return g;
    }
    char *g = (char *)all + (*n)++ * size;
    memcpy(g, comm, HOLDER_COMM);
    *(uid_t *)(g + offsetof(struct sg_holder, uid)) = uid;
    return g;
}

/* Sort the n groups of all, largest first (cmp), copy the first max to
 * out, free all; how many were copied. */
static size_t top_groups(void *all, size_t n, size_t size, int (*cmp)(const void *, const void *),
                         void *out, size_t max)
{
    qsort(all, n, size, cmp);
    size_t k = n < max ? n : max;
    memcpy(out, all, k * size);
    free(all);
    return k;
}

size_t sg_view_semholders(const struct sg_view *v, struct sg_semholder *out, size_t max)
{
    struct sg_semholder *all = calloc(v->n_sem ? v->n_sem : 1, sizeof *all);
    if (!all)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < v->n_sem; i++) {
        const struct sg_seminfo *s = &v->sem[i];
        struct sg_semholder *h = group_of(all, sizeof *all, &n, s->k.cuid, s->comm);
        h->sets++;
        h->sems += s->k.nsems;
        h->orphaned += s->state == SG_SEM_ORPHANED;
    }
    return top_groups(all, n, sizeof *all, cmp_semholder, out, max);
}

void sg_view_semtally(const struct sg_view *v, size_t sets[3], size_t sems[3])
{
    for (int i = 0; i < 3; i++)
        sets[i] = sems[i] = 0;
    for (size_t i = 0; i < v->n_sem; i++) {
        sets[v->sem[i].state]++;
        sems[v->sem[i].state] += v->sem[i].k.nsems;
    }
}

static void note_unreadable(struct sg_view *v, const char *what)
{
    if (v->n_unreadable < 8)
        snprintf(v->unreadable[v->n_unreadable++], sizeof v->unreadable[0], "%s", what);
}

static void note_cb(void *ctx, const char *what) { note_unreadable(ctx, what); }

/* The ledgers worth reading, best first (sg_ledgers_load): the reader's
 * own in full, the others by lookup of the objects that exist. */
static void load_ledgers(struct sg_view *v, const char *dir)
{
    size_t first = v->n_ledgers;
    if (sg_ledgers_load(dir, sg_ipcns_ino(), v->own ? v->own->path : NULL, 0, &v->ledgers,
                        &v->n_ledgers, note_cb, v) != 0)
        return;
    for (size_t i = first; i < v->n_ledgers; i++) {
        v->dropped += v->ledgers[i].hdr->dropped;
        sg_pidns_learn(v->ledgers[i].pidns, SG_PIDNS_CAP, v->ledgers[i].owner);
    }
}

int sg_view_build(struct sg_view *v, const char *ledger_dir, const struct sg_ledger *own)
{
    memset(v, 0, sizeof *v);
    v->own = own;
    if (own) {
        v->dropped = __atomic_load_n(&own->hdr->dropped, __ATOMIC_RELAXED);
        sg_pidns_learn(own->pidns, SG_PIDNS_CAP, own->owner);
    }
    /* Processes of other pid namespaces, as /proc shows them now (the
     * tool caches the scan for one view; sg_pidns.h). */
    sg_pidns_rescan();
    v->have_limits = sg_limits_read(&v->lim) == 0;
    uint64_t ps = v->have_limits ? v->lim.page_size : 4096;
    struct sg_ksnap ks;
    if (sg_ksnap_read(&ks) != 0)
        return -1;
    if (ledger_dir)
        load_ledgers(v, ledger_dir);
    v->seg = calloc(ks.n ? ks.n : 1, sizeof *v->seg);
    if (!v->seg) {
        sg_ksnap_free(&ks);
        errno = ENOMEM;
        return -1;
    }
    struct pid_fact *facts = NULL;
    for (size_t i = 0; i < ks.n; i++) {
        struct sg_seginfo *s = &v->seg[v->n++];
        s->k = ks.v[i];
        s->pages = (s->k.size + ps - 1) / ps;
        s->rec = find_rec(v, &s->k, &s->rec_domain);
        s->creator_alive = -1;
        if (s->rec && (s->rec->flags & SG_SEG_CREATOR)) {
            s->creator_alive = alive_cached(&facts, s->rec->cr_pid, s->rec->cr_start, s->rec->cr_pidns);
            memcpy(s->comm, s->rec->cr_comm, sizeof s->comm);
            s->comm[sizeof s->comm - 1] = '\0';
        } else if (s->k.cpid > 0) {
            /* No start time: only "no such process" proves death.  The
             * kernel gives cpid in the reader's own pid namespace. */
            int a = alive_cached(&facts, s->k.cpid, 0, sg_pidns_self());
            s->creator_alive = a == SG_ALIVE_HIDDEN ? a : a ? -1 : 0;
            if (s->creator_alive == -1 && sg_pidns_self() == sg_pidns_view())
                comm_cached(&facts, s->k.cpid, s->comm);
        } else if (s->k.cpid == 0) {
            /* 0: its creator is not in the reader's pid namespace. */
            s->creator_alive = SG_ALIVE_HIDDEN;
        }
        if (s->rec && (s->rec->flags & SG_SEG_PENDING))
            s->state = SG_ST_PENDING;
        else if (s->k.mode & SHM_DEST)
            s->state = SG_ST_MARKED;
        else if (s->k.nattch > 0)
            s->state = SG_ST_IN_USE;
        else if (s->creator_alive == 0)
            s->state = SG_ST_ORPHANED;
        else
            s->state = SG_ST_IDLE;
    }
    struct obj_users *users = count_users(v, &facts);
    build_sems(v, &facts, users);
    build_msgs(v, &facts, users);
    users_free(&users);
    facts_free(&facts);
    sg_ksnap_free(&ks);
    return 0;
}

void sg_view_free(struct sg_view *v)
{
    for (size_t i = 0; i < v->n_ledgers; i++)
        sg_ledger_close(&v->ledgers[i]);
    free(v->ledgers);
    free(v->seg);
    free(v->sem);
    free(v->msg);
    memset(v, 0, sizeof *v);
}

static int cmp_seginfo_id(const void *a, const void *b)
{
    const struct sg_seginfo *x = a, *y = b;
    return (x->k.id > y->k.id) - (x->k.id < y->k.id);
}

const struct sg_seginfo *sg_view_find(const struct sg_view *v, int id)
{
    struct sg_seginfo key = { .k.id = id };
    return v->n ? bsearch(&key, v->seg, v->n, sizeof *v->seg, cmp_seginfo_id) : NULL;
}

static void add(struct sg_tally *t, const struct sg_seginfo *s)
{
    t->count++;
    t->bytes += s->k.size;
    t->pages += s->pages;
}

static int cmp_holder(const void *a, const void *b)
{
    const struct sg_holder *x = a, *y = b;
    if (x->t.pages != y->t.pages)
        return x->t.pages < y->t.pages ? 1 : -1;
    if (x->t.count != y->t.count)
        return x->t.count < y->t.count ? 1 : -1;
    return strcmp(x->comm, y->comm);
}

size_t sg_view_holders(const struct sg_view *v, struct sg_holder *out, size_t max)
{
    struct sg_holder *all = calloc(v->n ? v->n : 1, sizeof *all);
    if (!all)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct sg_seginfo *s = &v->seg[i];
        struct sg_holder *h = group_of(all, sizeof *all, &n, s->k.cuid, s->comm);
        add(&h->t, s);
    }
    return top_groups(all, n, sizeof *all, cmp_holder, out, max);
}

void sg_view_tally(const struct sg_view *v, struct sg_tally out[5])
{
    memset(out, 0, 5 * sizeof *out);
    for (size_t i = 0; i < v->n; i++)
        add(&out[v->seg[i].state], &v->seg[i]);
}

void sg_fmt_bytes(char *buf, size_t n, uint64_t b)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    double x = (double)b;
    int u = 0;
    while (x >= 1024 && u < 6) {
        x /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, n, "%.1f %s", x, unit[u]);
}
