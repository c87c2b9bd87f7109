/*
 * tool.h - shared pieces of the shmguard command-line tool.
 */
#ifndef SG_TOOL_H
#define SG_TOOL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sg_analysis.h"
#include "sg_kernel.h"
#include "sg_kmsg.h"
#include "sg_ksem.h"
#include "sg_ledger.h"

#define SG_EXIT_OK 0
#define SG_EXIT_FAILURE 1   /* error, or bad usage */
#define SG_EXIT_NOT_REMOVED 2 /* gc: some segments it should remove were left
                               * in place (not permitted, or removal failed) */

extern const char *sg_prog;

/* Print "shmguard: msg" to stderr, plus a pointer to --help. */
void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* All ledgers of this IPC namespace in one directory. */
struct ledger_set {
    struct sg_ledger *v;
    size_t n;
    char unreadable[8][600];    /* files that could not be read, and why */
    size_t n_unreadable;
    int no_dir;                 /* the directory does not exist */
    char dir[4096];
    uint64_t ns;
};

/* Load every readable ledger of this namespace from dir (NULL: the
 * configured one).  0 on success, even when some files were unreadable
 * (listed in the set); -1 if the directory itself cannot be read. */
int ledger_set_load(struct ledger_set *s, const char *dir);
void ledger_set_free(struct ledger_set *s);

/* "LEAD<N> record(s) could not be stored ..." and a newline on f, when
 * dropped (records the ledgers could not store: a table was full) is not
 * 0: what the tool cannot see because of it. */
void tool_note_dropped(FILE *f, const char *lead, uint64_t dropped);

/* The first maxlen bytes of s (or up to its NUL) as a JSON string, shown
 * as ls --json shows names (tt_clean): valid UTF-8 as it is, a control
 * character or a byte that is not UTF-8 as the text \xHH. */
void json_str(FILE *f, const char *s, size_t maxlen);

/* ---- helpers for the subcommands (tool_util.c) -------------------------- */

/* "shmguard: CMD: msg" on stderr, then "Try 'shmguard CMD --help' for more
 * information.": the one way a subcommand reports bad usage. */
/* --dir's value: an absolute path, as the library accepts; else a usage
 * error (said) and -1. */
int tool_dir_arg(const char *cmd, const char *dir);
/* A ledger directory named on the command line must exist and be
 * readable: deciding without it would read kernel facts alone (a typo
 * must not make gc remove what a ledger there keeps).  -1, said, if not. */
int tool_dir_readable(const char *cmd, const char *dir);

void tool_cmd_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report what getopt_long() returned for a bad option (c is ':' for a
 * missing value, '?' otherwise; optstring must start with ':' or "+:"),
 * through tool_cmd_usage_error. */
void tool_getopt_error(const char *cmd, int c, char **argv);

/* "shmguard from shmguard VERSION" on stdout. */
void tool_print_version(void);

/* Strict parsers: the whole string must be used.  0 on success, -1 when
 * malformed or out of range (nothing is printed). */
int tool_parse_long(const char *s, long min, long max, long *out);  /* decimal */
int tool_parse_key(const char *s, int32_t *out);     /* 0xHEX, or decimal (may be
                                                        negative, as /proc prints it) */
int tool_parse_duration(const char *s, uint64_t *secs); /* 90, 30s, 10m, 2h, 1d, 1h30m */
int tool_parse_user(const char *s, uid_t *out);      /* user name or numeric uid */

/* A user's name, or its number when it has none.  The string lives until
 * the next call with 32 other uids (a small cache). */
const char *tool_user_name(uid_t uid);

/* Sizes and durations as util-linux prints them: "512B", "4K", "1.5M";
 * "45s", "12m05s", "3h05m", "2d03h". */
void tool_fmt_size(char *buf, size_t n, uint64_t bytes);
void tool_fmt_age(char *buf, size_t n, int64_t secs);

/* The call site a ledger record holds, resolved as tool_site_format()
 * does ("func (file.c:42)"); "" when it holds none. */
void tool_fmt_site(char *buf, size_t n, const struct sg_seg *rec);

/* Find libshmguard.so for the running binary (tool_util.c): beside it, in
 * ../lib or ../lib/<multiarch triplet>/shmguard.  0 with its absolute path in lib;
 * -1 with the places looked at in tried. */
int tool_find_lib(char *lib, size_t n, char *tried, size_t tn);

/* Prepare this process's environment for a command run under the library
 * (run, check): add libshmguard.so to LD_PRELOAD when preload (found next
 * to this program, or in ../lib), and set SHMGUARD_MODE and
 * SHMGUARD_LEDGER (made absolute) when not NULL.  0 on success; -1 after
 * a one-line message naming cmd. */
int tool_preload_env(const char *cmd, int preload, const char *mode, const char *ledger);

/* ---- call sites to function and file:line (tool_site.c, libdwfl) ------- */

struct tool_site {
    char func[128];             /* "" when unknown */
    char file[256];             /* "" when there is no line information */
    int line;                   /* 0 when unknown */
    int changed;                /* the object's mtime is after `since` */
};

/* Resolve a call site as the library stores it (object path, offset of
 * the return address from the object's load base).  since: when the
 * record was written (s since the epoch; 0: do not check).  1 if a
 * function or a line was found; 0 otherwise (missing object, not ELF, no
 * symbols), with *out empty. */
int tool_site_resolve(const char *obj, uint64_t off, int64_t since, struct tool_site *out);

/* The site in words: "func (file.c:42)", "func (obj+0x1a2b)", the stored
 * symbol when the object cannot be read, else "obj+0xOFF"; "" when the
 * record holds no site.  symlen: the width of the sym field. */
void tool_site_format(char *buf, size_t n, const char *obj, uint64_t off, const char *sym,
                      size_t symlen, int64_t since);

/* Close the objects kept open by the two functions above. */
void tool_site_cache_free(void);

/* ---- who maps which segment now: one pass over /proc (tool_scan.c) ---- */

struct scan_map {
    long shmid;             /* inode field of the mapping */
    int pid;
    uint64_t addr;          /* start of the mapping */
    uint32_t key;           /* from the name /SYSV%08x (the key at creation) */
};

struct scan_proc {
    int pid;
    char comm[SG_COMM_LEN];
};

struct proc_scan {
    struct scan_map *map;   /* SysV mappings of this IPC namespace's processes,
                             * sorted by shmid, pid, addr */
    size_t n_map;
    struct scan_proc *proc; /* the processes that have one, sorted by pid */
    size_t n_proc;
    size_t seen;            /* processes looked at */
    size_t unreadable;      /* whose namespace or maps could not be read
                             * (another user's, without privilege) */
};

/* Scan /proc once: every process of this IPC namespace (same inode and
 * device of /proc/PID/ns/ipc as ours) and its System V mappings.
 * Processes that vanish meanwhile are skipped.  0 on success; -1 with
 * errno when /proc cannot be listed or memory runs out (ps is then empty). */
int proc_scan_build(struct proc_scan *ps);
void proc_scan_free(struct proc_scan *ps);

/* The mappings of shmid: returns how many, *first points at the first. */
size_t proc_scan_find(const struct proc_scan *ps, long shmid, const struct scan_map **first);

/* The command name of a scanned process with a mapping, or "". */
const char *proc_scan_comm(const struct proc_scan *ps, int pid);

/* ---- gc's decisions (tool_gc.c) ----------------------------------------- */

struct sg_view;

/* Why gc removes a segment; GC_KEEP when it does not. */
enum gc_kind { GC_KEEP, GC_ORPHAN, GC_PENDING, GC_FORCED };

struct gc_opts {
    int dry_run;
    int force;                  /* with ids: also idle segments, creator alive */
    uint64_t min_age;           /* seconds; keep segments younger than this */
    const long *ids;            /* consider only these (NULL: all) */
    size_t n_ids;
    int have_user;              /* --user: only objects this uid owns or created */
    uid_t user;
    const char *command;        /* --command: only objects whose recorded creator
                                 * ran this command (NULL: any) */
};

/* (tool_gc_filter.c) 1 if an object owned by uid, created by cuid, with
 * ledger record rec (NULL: none) passes o's --user and --command filters.  An object without
 * a creator record has no known command: --command never takes it. */
int gc_filter_takes(const struct gc_opts *o, uid_t uid, uid_t cuid, const struct sg_seg *rec);

/* One decision, and what the re-check before the removal needs. */
struct gc_item {
    struct sg_kseg k;           /* the kernel's facts when decided */
    enum gc_kind kind;
    int has_rec;                /* a trusted ledger record describes it */
    uid_t rec_domain;           /* the ledger's owner uid, when has_rec */
    int32_t cr_pid;             /* GC_ORPHAN: the creator pid proven dead */
    uint64_t cr_start;          /* its start time from the ledger, 0 without */
    uint32_t cr_pidns;          /* its pid namespace (0: the reader's own) */
    int not_permitted;          /* the caller may not remove it (predicted) */
    char why[512];              /* the decision, in words */
};

/* Decide about every segment of the view (or only those opts names),
 * using the maps scan for attachers and now (seconds since the epoch) for
 * ages.  Fills out (room for v->n items) in id order; returns how many. */
size_t gc_decide(const struct sg_view *v, const struct proc_scan *ps, const struct gc_opts *o,
                 int64_t now, struct gc_item *out);

/* Check a removal decision again on fresh facts, immediately before the
 * removal: the segment still exists with the same identity (cpid, cuid,
 * size), is not attached (fresh IPC_STAT) nor marked, its creator is still
 * dead (GC_ORPHAN: pid and start time), its pending record is still there
 * (GC_PENDING, when own holds it), and no carrier process has just looked
 * it up (intents in own, whose lock the caller holds, and in the other
 * ledgers of dir).  own and dir may be NULL.  Returns 1 when it may still
 * be removed; 0 when not, with the reason in why; -1 when the segment is
 * gone (why says so). */
int gc_recheck(const struct gc_item *it, struct sg_ledger *own, const char *dir, char *why,
               size_t n);

/* (tool_dead.c) Whether the process (pid, start) of pid namespace ns (0: the caller's
 * own, as the kernel reports pids) is dead: 1 dead (no such pid, a
 * zombie, or with start != 0 another process on that pid), 0 alive, -1
 * cannot tell (also: a namespace not visible from here, sg_pidns.h);
 * *how (may be NULL) says which way it was dead, or why it cannot tell. */
int gc_dead(int32_t pid, uint64_t start, uint32_t ns, const char **how);

/* Semaphore sets (tool_gc_sem.c) and message queues (tool_gc_msg.c):
 * one decision per object; what they share is in tool_gc_obj.c. */
struct gc_obj_item {
    uint32_t kind;              /* SG_KIND_SEM or SG_KIND_MSG */
    struct sg_ksem k;           /* a set: the kernel's facts when decided */
    struct sg_kmsg q;           /* a queue: the same */
    int32_t id;
    uint32_t uid, cuid;         /* owner and creator uids (kernel) */
    int orphan;                 /* to be removed */
    int forced;                 /* a queue that holds messages, removed by
                                 * --force --msqid (its owners all dead) */
    int32_t cr_pid;             /* the creator proven dead */
    uint64_t cr_start;
    uint32_t cr_pidns;
    int not_permitted;
    char why[512];
};
struct gc_obj_totals {
    size_t removed, kept, failed;
};
/* Decide about every set of the view (or those semids names). */
size_t gc_sem_decide(const struct sg_view *v, const struct gc_opts *o, const long *semids,
                     size_t n_semids, int64_t now, struct gc_obj_item *out);
/* Decide about every queue of the view (or those msqids names; with
 * o->force, a named queue that holds messages is removed when its owners
 * are provably gone). */
size_t gc_msg_decide(const struct sg_view *v, const struct gc_opts *o, const long *msqids,
                     size_t n_msqids, int64_t now, struct gc_obj_item *out);
/* Check a set or a queue again just before its removal: on the fresh
 * view, then under own's lock (own may be NULL) for users recorded
 * meanwhile.  1: remove; 0: keep (why says why); -1: gone. */
int gc_sem_recheck(const struct gc_obj_item *it, const struct sg_view *fresh,
                   const struct sg_ledger *own, char *why, size_t n);
int gc_msg_recheck(const struct gc_obj_item *it, const struct sg_view *fresh,
                   const struct sg_ledger *own, char *why, size_t n);

/* (tool_gc_obj.c) Print each decision about sets or queues (items, all of
 * one kind); unless dry_run, re-check each candidate with recheck (that
 * kind's) on a fresh view (under own's lock when own is not NULL) and
 * remove it. */
typedef int (*gc_obj_recheck_fn)(const struct gc_obj_item *it, const struct sg_view *fresh,
                                 const struct sg_ledger *own, char *why, size_t n);
void gc_obj_apply(const struct gc_obj_item *items, size_t n, gc_obj_recheck_fn recheck,
                  struct sg_ledger *own, const char *dir, int dry_run, struct gc_obj_totals *t);
/* 1 if id is among the n ids. */
int gc_obj_named(const long *ids, size_t n, long id);
/* The recorded users of (kind, id) in the view: how many, how many dead. */
void gc_obj_users(const struct sg_view *v, uint32_t kind, int id, unsigned *n, unsigned *dead);
/* A live user of (kind, id) recorded in own (its lock held): its pid, or 0. */
int32_t gc_obj_new_user(const struct sg_ledger *own, uint32_t kind, int32_t id);
/* Fill it as an orphan of creator rec (comm: " (cmd)" or ""), with nusers
 * dead users; unless o->min_age keeps it young (it->why says so, 0).
 * 1 when it is a candidate. */
int gc_obj_orphan(struct gc_obj_item *it, const struct sg_seg *rec, const char *comm,
                  unsigned nusers, const struct gc_opts *o, int64_t now);

/* The semaphore section of doctor (tool_doctor_sem.c). */
#define DOCTOR_SEM_EXIT_ORPHANS 2
#define DOCTOR_SEM_EXIT_LIMIT 3
struct doctor_sem {
    int have;                   /* 0: the kernel's sets or kernel.sem unreadable */
    int mni, mns;               /* 0 ok, 1 near (>= 90%), 2 exhausted */
    size_t sets[3], sems[3];    /* per sg_semstate */
    struct sg_semholder hold[32];
    size_t n_hold;
    int exit;                   /* 0, or DOCTOR_SEM_EXIT_* */
};
void doctor_sem_analyse(const struct sg_view *v, struct doctor_sem *d);
void doctor_sem_text(const struct doctor_sem *d, const struct sg_view *v, FILE *f);
/* Fold the semaphore verdict into doctor's one-line verdict (the worse
 * one first); shm_exit is the shared memory part's status. */
void doctor_sem_verdict(const struct doctor_sem *d, const struct sg_view *v, char *verdict,
                        size_t n, int shm_exit);
/* "exhausted", "nearly-exhausted", or NULL when no kernel.sem limit is near. */
const char *doctor_sem_tag(const struct doctor_sem *d);
/* Prints the member "semaphores": {...}, with a trailing comma. */
void doctor_sem_json(const struct doctor_sem *d, const struct sg_view *v, FILE *f);

/* ---- doctor's figures as Prometheus metrics (tool_doctor_prom.c) ------- */

struct doctor_metrics {
    const struct sg_view *v;
    const struct doctor_sem *sem;
    const struct doctor_msg *msg;
    const struct sg_tally *seg_state;   /* [SG_ST_MARKED + 1], by sg_segstate */
    const struct sg_tally *due;         /* pending removals that are due */
    int exit;                           /* doctor's exit status */
};
/* Print m in the Prometheus text format; 0, or -1 on a write error. */
int doctor_prom_print(const struct doctor_metrics *m, FILE *f);
/* Write it to path atomically (a temporary file beside it, renamed over
 * it); 0, or -1 with a message on stderr and nothing left behind. */
int doctor_prom_write(const struct doctor_metrics *m, const char *path);

/* The message queue part of doctor (tool_doctor_msg.c). */
#define DOCTOR_MSG_STATES 4     /* by enum sg_msgstate */
struct doctor_msg {
    int have;                   /* 0: the kernel's queues or limits unreadable */
    struct sg_msglimits l;
    int mni;                    /* 0 ok, 1 near (>= 90%), 2 exhausted */
    size_t queues[DOCTOR_MSG_STATES];
    uint64_t msgs[DOCTOR_MSG_STATES], bytes[DOCTOR_MSG_STATES];
    int exit;                   /* 0, DOCTOR_SEM_EXIT_ORPHANS or DOCTOR_SEM_EXIT_LIMIT */
};
void doctor_msg_analyse(const struct sg_view *v, struct doctor_msg *d);
void doctor_msg_text(const struct doctor_msg *d, FILE *f);
/* Prints the member "queues": {...}, with a trailing comma. */
void doctor_msg_json(const struct doctor_msg *d, FILE *f);
/* Put a kernel.msgmni verdict before doctor's one-line verdict. */
void doctor_msg_verdict(const struct doctor_msg *d, char *verdict, size_t n, int others_exit);

/* Subcommands: argv[0] is the subcommand's name; return the exit status. */
/* ---- the semaphore set table of ls (tool_ls_sem.c) -------------------- */

struct ls_sem_opts {
    int json, raw, noheadings;
    int only_orphans;
    int have_key, have_id, have_user;
    int32_t key;
    long id;
    uid_t user;
};
/* Sets of the view that pass the filters; print them as a table (or a
 * JSON object named "semaphores") to out.  0, or -1 out of memory. */
size_t ls_sem_count(const struct ls_sem_opts *o, const struct sg_view *v);
int ls_sem_print(const struct ls_sem_opts *o, const struct sg_view *v, FILE *out);

/* Cells the set and queue tables share (tool_ls_sem.c).  USERS: the
 * recorded users of (kind, id), "PID", "PID(dead)", "PID(?)" or
 * "PID(not-visible)", joined by "," (by "\n" for JSON arrays), into *out
 * (malloc'd, NULL when none; -1 out of memory).  CPID: the creator's pid
 * of rec ("" without a creator record).  ALIVE: "yes", "no", ... or NULL. */
int ls_users_cell(const struct sg_view *v, uint32_t kind, int id, int json, char **out);
/* AGE: since the recorded creation, else since the kernel's ctime;
 * seconds for JSON. */
void ls_age_cell(char *buf, size_t n, const struct sg_seg *rec, int64_t ctime, int64_t now,
                 int json);

/* A table of sets or queues: its columns, and for each of the n objects
 * that take() selects, cell() gives column c's text: in buf (n bytes),
 * or *data pointed elsewhere (NULL: no value), or a malloc'd *owned that
 * the table frees; -1 when out of memory.  Column 0 is the key. */
struct ls_col {
    const char *name;
    double whint;
    int flags, json;
};
struct ls_table {
    const char *name;           /* the JSON array's name */
    const struct ls_col *cols;
    int ncols;
    size_t n;
    int (*take)(const struct ls_table *t, size_t i);
    int (*cell)(const struct ls_table *t, size_t i, int c, char *buf, size_t n,
                const char **data, char **owned);
    const struct ls_sem_opts *o;
    const struct sg_view *v;
    int64_t now;
};
/* Print it as a table (or a JSON object) to out.  0, or -1. */
int ls_table_print(const struct ls_table *t, FILE *out);
void ls_cpid_cell(char *buf, size_t n, const struct sg_seg *rec, int creator_alive);
const char *ls_alive_cell(const struct sg_seg *rec, int creator_alive, int json);

/* ---- the message queue table of ls (tool_ls_msg.c) --------------------- */
/* Queues of the view that pass the filters of o (--orphans: orphaned and
 * held ones); print them as a table (or a JSON object named "queues").
 * 0, or -1 out of memory. */
size_t ls_msg_count(const struct ls_sem_opts *o, const struct sg_view *v);
int ls_msg_print(const struct ls_sem_opts *o, const struct sg_view *v, FILE *out);

int cmd_ledger(int argc, char **argv);
/* `ledger --check [--repair]` (tool_ledger_check.c); dir NULL: the
 * configured one.  SG_EXIT_OK when every readable ledger is consistent. */
int ledger_check(const char *dir, int repair);
/* How long ledger_check waits before reading a file with a problem again
 * (100; the fuzz target, which has no other writer, sets 0). */
extern unsigned ledger_check_settle_ms;
int cmd_ls(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* enable and disable (tool_enable.c): argv[0] says which. */
int cmd_enable(int argc, char **argv);

#endif
