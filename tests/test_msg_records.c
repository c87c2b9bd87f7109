/*
 * test_msg_records.c - System V message queues under the library, across
 * real processes: who created a queue and who uses it (lookup by key,
 * fork, msgsnd, msgrcv, IPC_SET), what SIGKILL leaves, and the tool's
 * verdicts on it: ls --msg (in-use, orphaned, held, unknown), gc (removes
 * a proved orphan; keeps a queue with a live creator or user, one whose
 * last sender lives though the ledger never saw it, and one that still
 * holds messages unless --force --msqid).
 *
 * Every process is a helper_actor driven over a pipe (actor.h), with or
 * without the library, in the test's private IPC namespace; the ledger is
 * read back with the core API, and the tool runs as a separate program.
 */
#include "sgtest.h"
#include "actor.h"

#include <sys/msg.h>

static const struct sg_seg *msg_rec(const struct sg_ledger *L, int id)
{
    const struct sg_seg *found = NULL;
    for (uint32_t i = 0; i < L->hdr->seg_cap; i++) {
        const struct sg_seg *s = &L->seg[i];
        if (s->state == SG_REC_LIVE && s->kind == SG_KIND_MSG && s->id == id) {
            assert_null(found);
            found = s;
        }
    }
    return found;
}

static const struct sg_user *user_rec(const struct sg_ledger *L, uint32_t kind, int id, pid_t pid)
{
    const struct sg_user *found = NULL;
    for (uint32_t i = 0; i < L->hdr->user_cap; i++) {
        const struct sg_user *u = &L->users[i];
        if (u->state == SG_REC_LIVE && u->kind == kind && u->id == id && u->pid == pid) {
            assert_null(found);
            found = u;
        }
    }
    return found;
}

static int queue_exists(int id)
{
    struct msqid_ds ds;
    return msgctl(id, IPC_STAT, &ds) == 0;
}

static struct sgt_result res;

static void tool(const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *argv[] = { (char *)SGT_TOOL, (char *)a1, "--dir", g_dir, (char *)a2, (char *)a3,
                     (char *)a4, NULL };
    char *env[] = { "LD_PRELOAD=", NULL };
    sgt_run(&res, argv, env, 60);
    assert_true(res.status != -1 && WIFEXITED(res.status));
}

static int id_of(const char *reply)
{
    return (int)kvx(reply, "id");
}

/* The line of ls --msg --raw for queue id, in out (static), or fail. */
static const char *ls_line(int id)
{
    static char line[1024];
    tool("ls", "--msg", "--raw", "--noheadings");
    assert_true(sgt_exited(&res, 0));
    char want[32];
    for (const char *p = res.out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        int qid = -1;
        if (sscanf(line, "%*s %d", &qid) == 1 && qid == id)
            return line;
        p = e ? e + 1 : NULL;
    }
    snprintf(want, sizeof want, "%d", id);
    fail_msg("ls --msg shows no queue %s:\n%s", want, res.out);
    return NULL;
}

/* ---- creation, lookup, use ----------------------------------------------- */

static void test_create_lookup_use(void **state)
{
    (void)state;
    struct actor *a = actor_start(1), *b = actor_start(1), *c = actor_start(1);
    struct actor *d = actor_start(1), *bare = actor_start(0);
    int id = id_of(DO(a, "msgcreate 0x6d5e1001"));

    struct sg_ledger L;
    load(&L);
    const struct sg_seg *r = msg_rec(&L, id);
    assert_non_null(r);
    assert_true(r->flags & SG_SEG_CREATOR);
    assert_false(r->flags & SG_SEG_PRIVATE);
    assert_int_equal(r->cr_pid, a->pid);
    assert_int_equal(r->cr_start, a->start);
    assert_int_equal((uint32_t)r->key, 0x6d5e1001u);
    assert_int_equal(r->mode, 0600);
    assert_int_equal(r->nsems, 0);
    assert_int_equal(r->kcuid, geteuid());
    assert_string_equal(r->cr_comm, "helper_actor");
    assert_non_null(strstr(r->cr_exe, "helper_actor"));
    assert_non_null(strstr(r->site_obj, "helper_actor"));
    assert_null(user_rec(&L, SG_KIND_MSG, id, a->pid)); /* the creator is not also a user */
    /* Queue ids and set ids overlap: no set record, no set user. */
    assert_null(user_rec(&L, SG_KIND_SEM, id, a->pid));
    sg_ledger_close(&L);

    /* The same create-or-open call from B finds A's queue; errors as bare. */
    assert_int_equal(id_of(DO(b, "msgcreate 0x6d5e1001")), id);
    assert_string_equal(actor_do(b, 0, 20000, "msgexcl 0x6d5e1001"), "err errno=17");
    assert_string_equal(actor_do(bare, 0, 20000, "msgexcl 0x6d5e1001"), "err errno=17");
    assert_string_equal(actor_do(b, 0, 20000, "msglookup 0x6d5e1002"), "err errno=2");
    assert_string_equal(actor_do(bare, 0, 20000, "msglookup 0x6d5e1002"), "err errno=2");
    /* C sends by id, D receives by id (an empty queue: ENOMSG, as bare). */
    DO(c, "msgsnd %d", id);
    assert_int_equal(kvx(DO(d, "msgrcv %d", id), "n"), 6);
    assert_string_equal(actor_do(d, 0, 20000, "msgrcv %d", id), "err errno=42");
    assert_string_equal(actor_do(bare, 0, 20000, "msgrcv %d", id), "err errno=42");
    /* A queue made without the library is not recorded; a set with the
     * same id as the queue does not mix with it. */
    int bid = id_of(DO(bare, "msgcreate 0x6d5e1003"));
    int sid = id_of(DO(c, "semcreate 0 1"));

    load(&L);
    assert_non_null(msg_rec(&L, id));
    const struct sg_user *u = user_rec(&L, SG_KIND_MSG, id, b->pid);
    assert_non_null(u);
    assert_true(sgt_marks(u->start, b->start));
    assert_true(u->flags & SG_USE_LOOKUP);
    u = user_rec(&L, SG_KIND_MSG, id, c->pid);
    assert_non_null(u);
    assert_true(u->flags & SG_USE_BYID);
    assert_non_null(user_rec(&L, SG_KIND_MSG, id, d->pid));
    assert_null(msg_rec(&L, bid));
    if (sid == id)
        assert_null(user_rec(&L, SG_KIND_SEM, id, c->pid)); /* C created the set */
    sg_ledger_close(&L);
    DO(c, "semrmid %d", sid);

    /* The creator leaves; the queue is in use while its users live. */
    actor_exit(a);
    const char *l = ls_line(id);
    ASSERT_HAS(l, " in-use ");
    ASSERT_HAS(l, " helper_actor ");
    char want[64];
    snprintf(want, sizeof want, "%d", b->pid);
    ASSERT_HAS(l, want);
    ASSERT_HAS(ls_line(bid), " unknown ");
    tool("gc", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "in use: 3 of its 3 recorded users are alive");
    ASSERT_HAS(res.out, "unknown: made without the library");
    assert_true(queue_exists(id) && queue_exists(bid));

    /* JSON: creator, users. */
    tool("ls", "--msg", "--json", NULL);
    ASSERT_HAS(res.out, "\"command\": \"helper_actor\"");
    ASSERT_HAS(res.out, "\"alive\": false");
    ASSERT_HAS(res.out, "\"users\": [");

    /* A normal exit drops a user's record; IPC_SET records a use. */
    actor_exit(b);
    struct actor *e = actor_start(1);
    DO(e, "msgset %d", id);
    load(&L);
    assert_null(user_rec(&L, SG_KIND_MSG, id, b->pid));
    assert_non_null(user_rec(&L, SG_KIND_MSG, id, e->pid));
    sg_ledger_close(&L);

    /* IPC_RMID passes through at once and forgets the queue and its users. */
    DO(c, "msgrmid %d", id);
    assert_false(queue_exists(id));
    load(&L);
    assert_null(msg_rec(&L, id));
    assert_null(user_rec(&L, SG_KIND_MSG, id, c->pid));
    assert_null(user_rec(&L, SG_KIND_MSG, id, e->pid));
    sg_ledger_close(&L);
    DO(bare, "msgrmid %d", bid);
}

/* ---- fork, SIGKILL, gc ------------------------------------------------- */

static void test_fork_sigkill_gc(void **state)
{
    (void)state;
    struct actor *a = actor_start(1);
    int id = id_of(DO(a, "msgcreate 0"));
    struct sg_ledger L;
    load(&L);
    assert_true(msg_rec(&L, id)->flags & SG_SEG_PRIVATE);
    sg_ledger_close(&L);

    /* A child inherits the queue and is recorded as its user. */
    const char *rep = DO(a, "fork");
    pid_t child = (pid_t)kvx(rep, "pid");
    load(&L);
    const struct sg_user *u = user_rec(&L, SG_KIND_MSG, id, child);
    assert_non_null(u);
    assert_true(u->flags & SG_USE_INHERITED);
    sg_ledger_close(&L);
    /* The child, killed, stays recorded and dead. */
    assert_int_equal(kill(child, SIGKILL), 0);
    char line[256];
    assert_int_equal(actor_line(a, line, sizeof line, 20000), 0);
    ASSERT_HAS(line, "reaped");
    char want[64];
    snprintf(want, sizeof want, "%d(dead)", child);
    ASSERT_HAS(ls_line(id), want);

    /* The creator alive keeps it. */
    tool("gc", "--dry-run", NULL, NULL);
    ASSERT_HAS(res.out, "in use: its creator pid");
    /* The creator sends and receives, then is SIGKILLed: orphaned. */
    DO(a, "msgsnd %d", id);
    DO(a, "msgrcv %d", id);
    actor_sigkill(a);
    ASSERT_HAS(ls_line(id), " orphaned ");
    tool("ls", "--msg", "--orphans", NULL);
    snprintf(want, sizeof want, " %d ", id);
    ASSERT_HAS(res.out, want);
    tool("gc", "--dry-run", NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    snprintf(want, sizeof want, "would remove msqid %d", id);
    ASSERT_HAS(res.out, want);
    ASSERT_HAS(res.out, "and its 1 recorded user are dead");
    ASSERT_HAS(res.out, "Would remove 1 message queue, keep 0.");
    assert_true(queue_exists(id));
    /* doctor: an orphaned queue, as an orphaned set, is status 2. */
    tool("doctor", NULL, NULL, NULL);
    if (!sgt_exited(&res, 2))
        fail_msg("doctor: status %d, wanted 2\n%s", res.status, res.out);
    ASSERT_HAS(res.out, "ORPHANS: 1 orphaned message queue; kernel.msgmni below 90%");
    /* --user and --command filter as for sets. */
    tool("gc", "--dry-run", "--command", "nosuchcmd");
    assert_true(sgt_exited(&res, 0)); /* not a usage error, whose output is empty too */
    ASSERT_LACKS(res.out, "would remove msqid");
    tool("gc", "--command", "helper_actor", NULL);
    assert_true(sgt_exited(&res, 0));
    snprintf(want, sizeof want, "removed      msqid %d", id);
    ASSERT_HAS(res.out, want);
    assert_false(queue_exists(id));
    load(&L);
    assert_null(msg_rec(&L, id));
    assert_null(user_rec(&L, SG_KIND_MSG, id, child));
    sg_ledger_close(&L);
}

/* ---- what keeps a queue --------------------------------------------------- */

static void test_kept(void **state)
{
    (void)state;
    struct actor *a = actor_start(1), *b = actor_start(1), *bare = actor_start(0);
    int id = id_of(DO(a, "msgcreate 0x6d5e2001"));
    DO(b, "msgsnd %d", id);
    actor_sigkill(a);
    /* A live user keeps it. */
    ASSERT_HAS(ls_line(id), " in-use ");
    tool("gc", NULL, NULL, NULL);
    ASSERT_HAS(res.out, "in use: 1 of its 1 recorded user is alive");
    assert_true(queue_exists(id));

    /* Every owner dead, a message left: held, kept, said. */
    actor_sigkill(b);
    ASSERT_HAS(ls_line(id), " held ");
    tool("gc", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    char want[128];
    snprintf(want, sizeof want, "kept         msqid %d (key 0x6d5e2001, 1 message, 6 bytes", id);
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "still holds 1 message (6 bytes): orphaned");
    ASSERT_HAS(res.out, want);
    snprintf(want, sizeof want, "--force --msqid %d", id);
    ASSERT_HAS(res.out, want);
    assert_true(queue_exists(id));
    /* --force needs the queue named. */
    tool("gc", "--force", NULL, NULL);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "--force needs the segments named with --id, or the queues with --msqid");

    /* A process without the library that sends last keeps it while it
     * lives (the kernel's last sender); after it, held again. */
    DO(bare, "msgsnd %d", id);
    ASSERT_HAS(ls_line(id), " in-use ");
    tool("gc", NULL, NULL, NULL);
    ASSERT_HAS(res.out, "sent to it or received from it last");
    assert_true(queue_exists(id));
    actor_exit(bare);
    ASSERT_HAS(ls_line(id), " held ");

    /* --force --msqid removes it, and its messages. */
    char idb[16];
    snprintf(idb, sizeof idb, "%d", id);
    tool("gc", "--force", "--msqid", idb);
    assert_true(sgt_exited(&res, 0));
    ASSERT_HAS(res.out, "its 2 messages (12 bytes) go with it (--force)");
    assert_false(queue_exists(id));
    tool("gc", "--msqid", idb, NULL);
    assert_true(sgt_exited(&res, 1));
    ASSERT_HAS(res.err, "no message queue has id");
}

/* A queue whose creator is dead but whose last sender is a live process
 * the ledger never saw is never orphaned; one made and used only without
 * the library is unknown once its users are gone. */
static void test_unknown(void **state)
{
    (void)state;
    struct actor *bare = actor_start(0);
    int id = id_of(DO(bare, "msgcreate 0"));
    ASSERT_HAS(ls_line(id), " unknown ");
    DO(bare, "msgsnd %d", id);
    ASSERT_HAS(ls_line(id), " in-use ");
    actor_exit(bare);
    ASSERT_HAS(ls_line(id), " unknown ");
    tool("gc", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    assert_true(queue_exists(id));
    assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
}

/* A child that no fork handler renewed (_Fork) carries its parent's
 * identity.  Its exit must not delete the parent's user record (gc would
 * take the queue from under the live parent); nor its credential change
 * (rawfork UID: the child drops to UID first) move the parent's records
 * to the new uid's ledger, where the parent never finds them again. */
static void rawfork_keeps_parent(const char *key, const char *rawfork)
{
    struct actor *c = actor_start(1);
    int id = id_of(DO(c, "msgcreate %s", key));
    actor_exit(c);
    struct actor *p = actor_start(1);
    DO(p, "msglookup %s", key);
    ASSERT_HAS(DO(p, "%s", rawfork), "reaped status=0");
    struct sg_ledger L;
    char err[PATH_MAX + 256];
    assert_int_equal(sg_ledger_open_own(&L, g_dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    int kept = sg_user_find(&L, SG_KIND_MSG, id, p->pid, sg_pidns_self()) != NULL;
    sg_ledger_close(&L);
    if (!kept)
        fail_msg("after '%s', the parent's use is gone from root's ledger", rawfork);
    char want[64];
    snprintf(want, sizeof want, "%d", p->pid);
    ASSERT_HAS(ls_line(id), want);
    ASSERT_HAS(ls_line(id), " in-use ");
    tool("gc", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    assert_true(queue_exists(id));
    actor_exit(p);
    assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
}

static void test_rawfork_child_exit(void **state)
{
    (void)state;
    rawfork_keeps_parent("0x5eed0042", "rawfork");
}

static void test_rawfork_child_drops_root(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    rawfork_keeps_parent("0x5eed0044", "rawfork 65534");
}

/* A use that the full user table could not store: the queue's record
 * says so, and the queue is never proved orphaned while its user lives
 * (gc would have taken it from under the live, unrecorded user). */
static void test_users_lost(void **state)
{
    (void)state;
    struct actor *c = actor_start(1);
    int id = id_of(DO(c, "msgcreate 0x5eed0043"));
    actor_exit(c);
    /* Fill the user table with records of a live process (this one). */
    struct sg_ledger L;
    char err[PATH_MAX + 256];
    assert_int_equal(sg_ledger_open_own(&L, g_dir, sg_ipcns_ino(), NULL, err, sizeof err), 0);
    assert_int_equal(sg_ledger_lock(&L), 0);
    uint32_t n = 0;
    for (;; n++) {
        struct sg_user u = { .kind = SG_KIND_SEM, .id = 1000000 + (int32_t)n, .pid = getpid(),
                             .start = sg_proc_self_start(), .pidns = sg_pidns_self() };
        if (!sg_user_put(&L, &u))
            break;
    }
    sg_ledger_unlock(&L);
    assert_true(n > SG_USER_CAP / 2);
    struct actor *u = actor_start(1);
    DO(u, "msglookup 0x5eed0043");
    load(&L);
    const struct sg_seg *r = msg_rec(&L, id);
    assert_non_null(r);
    assert_true(r->flags & SG_SEG_USERS_LOST);
    assert_null(user_rec(&L, SG_KIND_MSG, id, u->pid));
    sg_ledger_close(&L);
    ASSERT_HAS(ls_line(id), " unknown ");
    tool("gc", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    assert_true(queue_exists(id));
    actor_exit(u);
    assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
}

/* The same with the user of another uid: its lost use is marked in its
 * own ledger, which does not speak for root's queue; root's view must
 * see the mark all the same (it took the record root's ledger gives, and
 * proved the queue orphaned while the unrecorded user lived). */
static void test_users_lost_other_uid(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct actor *c = actor_start(1);
    int id = id_of(DO(c, "msgcreate 0x5eed0045"));
    actor_exit(c);
    struct msqid_ds ds;
    assert_int_equal(msgctl(id, IPC_STAT, &ds), 0);
    ds.msg_perm.mode = 0666;
    assert_int_equal(msgctl(id, IPC_SET, &ds), 0);
    /* Uid 65534's user table, filled with records of a live process. */
    pid_t me = getpid();
    uint64_t mstart = sg_proc_self_start();
    pid_t f = fork();
    if (f == 0) {
        struct sg_ledger L;
        char err[PATH_MAX + 256];
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0 ||
            sg_ledger_open_own(&L, g_dir, sg_ipcns_ino(), NULL, err, sizeof err) != 0 ||
            sg_ledger_lock(&L) != 0)
            _exit(2);
        uint32_t n = 0;
        for (;; n++) {
            struct sg_user u = { .kind = SG_KIND_SEM, .id = 1000000 + (int32_t)n, .pid = me,
                                 .start = mstart, .pidns = sg_pidns_self() };
            if (!sg_user_put(&L, &u))
                break;
        }
        sg_ledger_unlock(&L);
        _exit(n > SG_USER_CAP / 2 ? 0 : 3);
    }
    int st;
    assert_int_equal(waitpid(f, &st, 0), f);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Its live user, under the library: the use cannot be stored. */
    char pre[PATH_MAX + 16], led[PATH_MAX + 32];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", g_lib);
    snprintf(led, sizeof led, "SHMGUARD_LEDGER=%s", g_dir);
    char *env[] = { pre, led, NULL };
    char *look[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                     (char *)SGT_HELPER("helper_check"), "msglook", "0x5eed0045", NULL };
    int to, from;
    pid_t u = sgt_spawn(look, env, &to, &from);
    char line[64] = "";
    assert_true(read(from, line, sizeof line - 1) > 0);
    ASSERT_HAS(line, "msqid");
    ASSERT_HAS(ls_line(id), " unknown ");
    tool("gc", NULL, NULL, NULL);
    assert_true(sgt_exited(&res, 0));
    int kept = queue_exists(id);
    close(to);
    kill(u, SIGKILL);
    waitpid(u, NULL, 0);
    close(from);
    if (!kept)
        fail_msg("gc removed a queue whose user of another uid could not be recorded:\n%s", res.out);
    assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
}

/* A pod: the queue's creator, recorded, lived and died in pid namespace
 * P1; a process of pid namespace P2 without the library sends and
 * receives on it and lives on.  From P1 the kernel names that sender and
 * receiver pid 0 (not visible there): gc in P1 must not take them for
 * gone and remove the queue (they are unknown, the queue kept). */
static void test_pod_sender_invisible(void **state)
{
    (void)state;
    if (geteuid() != 0 || system("unshare --pid --fork --mount-proc true 2>/dev/null") != 0 ||
        system("perl -e 1 2>/dev/null") != 0)
        skip();
    char script[8192];
    snprintf(script, sizeof script,
             "d='%.900s'; lib='%.900s'; tool='%.900s'; helper='%.900s'\n"
             "unshare --pid --fork --mount-proc sh -c '\n"
             "  LD_PRELOAD=\"$2\" SHMGUARD_LEDGER=\"$1\" \"$4\" msgmake 0x5eed0044 | awk \"{print \\$NF}\" > \"$1/qid\"\n"
             "  i=0; while [ ! -e \"$1/sent\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
             "  \"$3\" gc --dir \"$1\"; \"$3\" ls --msg --dir \"$1\" --raw --noheadings' sh \"$d\" \"$lib\" \"$tool\" \"$helper\" "
             "> \"$d/p1.out\" 2>&1 &\n"
             "p1=$!; i=0; while [ ! -s \"$d/qid\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
             "unshare --pid --fork --mount-proc perl -e '\n"
             "  my $id = $ARGV[0]; my $m = pack(\"l! a*\", 1, \"hi\"); my $b;\n"
             "  msgsnd($id, $m, 0) or exit 2; msgrcv($id, $b, 16, 0, 0) or exit 3;\n"
             "  open(F, \">\", \"$ARGV[1]/sent\"); close F; sleep 3;\n"
             "  exit(msgsnd($id, $m, 0) ? 0 : 4)' \"$(cat \"$d/qid\")\" \"$d\"; s=$?\n"
             "wait $p1; cat \"$d/p1.out\"; echo \"sender $s\"\n",
             g_dir, g_lib, SGT_TOOL, SGT_HELPER("helper_check"));
    char *argv[] = { "sh", "-c", script, NULL };
    char *env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    sgt_run(&res, argv, env, 60);
    if (!sgt_exited(&res, 0))
        fail_msg("status %d\n%s\n%s", res.status, res.out, res.err);
    ASSERT_LACKS(res.out, "removed");
    ASSERT_HAS(res.out, " unknown ");
    ASSERT_HAS(res.out, "sender 0"); /* its last msgsnd found the queue */
    char qid[PATH_MAX + 8];
    snprintf(qid, sizeof qid, "%s/qid", g_dir);
    FILE *f = fopen(qid, "r");
    int id = -1;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &id), 1);
    fclose(f);
    assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
}

/* A process that uses many queues (past the 64 its list keeps inline,
 * where an index takes over): each is recorded once, the ones it removed
 * are forgotten, the rest stay recorded and are used as bare; and a
 * process that uses, by id, 200 queues another made is recorded as the
 * user of every one, once (an index that answered "listed" for an id it
 * does not hold would leave some unrecorded). */
static void test_many_queues(void **state)
{
    (void)state;
    char pre[PATH_MAX + 16], led[PATH_MAX + 32];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", g_lib);
    snprintf(led, sizeof led, "SHMGUARD_LEDGER=%s", g_dir);
    char *env[] = { pre, led, NULL };
    char *argv[] = { (char *)SGT_HELPER("helper_check"), "msgmany", "300", NULL };
    sgt_run(&res, argv, env, 60);
    assert_true(sgt_exited(&res, 0));
    assert_int_equal(strncmp(res.out, "ids", 3), 0);
    struct sg_ledger L;
    load(&L);
    unsigned kept = 0, recs = 0;
    for (const char *p = res.out + 3; *p == ' '; kept++) {
        int id = (int)strtol(p, (char **)&p, 10);
        const struct sg_seg *r = msg_rec(&L, id);
        assert_non_null(r);
        assert_true(r->flags & SG_SEG_CREATOR);
        assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
    }
    for (uint32_t i = 0; i < L.seg_cap; i++)
        recs += L.seg[i].state == SG_REC_LIVE && L.seg[i].kind == SG_KIND_MSG;
    sg_ledger_close(&L);
    assert_int_equal(kept, 150);
    assert_int_equal(recs, 150); /* the 150 it removed left no record */

    enum { N = 200 };
    int q[N];
    for (int i = 0; i < N; i++)
        assert_true((q[i] = msgget(IPC_PRIVATE, IPC_CREAT | 0600)) >= 0);
    struct actor *u = actor_start(1);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N; i++) {
            DO(u, "msgsnd %d", q[i]);
            DO(u, "msgrcv %d", q[i]);
        }
    load(&L);
    unsigned users = 0;
    for (uint32_t i = 0; i < L.user_cap; i++)
        users += L.users[i].state == SG_REC_LIVE && L.users[i].kind == SG_KIND_MSG &&
                 L.users[i].pid == u->pid;
    for (int i = 0; i < N; i++) {
        const struct sg_user *r = user_rec(&L, SG_KIND_MSG, q[i], u->pid);
        assert_non_null(r);
        assert_true(r->flags & SG_USE_BYID);
    }
    sg_ledger_close(&L);
    assert_int_equal(users, N);
    actor_exit(u);
    for (int i = 0; i < N; i++)
        assert_int_equal(msgctl(q[i], IPC_RMID, NULL), 0);
}

/* msgget's ENOSPC message names the queues the records prove orphaned
 * and the command that frees them, and counts apart those made without
 * the library whose last sender and receiver are gone. */
static void test_enospc_names_orphans(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* lowers this namespace's kernel.msgmni */
    struct actor *a = actor_start(1);
    int orphan = id_of(DO(a, "msgcreate 0"));
    DO(a, "msgsnd %d", orphan);
    DO(a, "msgrcv %d", orphan);
    pid_t creator = a->pid;
    actor_sigkill(a);
    struct actor *bare = actor_start(0);
    int quiet = id_of(DO(bare, "msgcreate 0"));
    DO(bare, "msgsnd %d", quiet);
    actor_exit(bare);

    unsigned long old = sgt_set_msgmni(2);
    char pre[PATH_MAX + 16], led[PATH_MAX + 32];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", g_lib);
    snprintf(led, sizeof led, "SHMGUARD_LEDGER=%s", g_dir);
    char *env[] = { pre, led, NULL };
    char *argv[] = { (char *)SGT_HELPER("helper_check"), "msgenospc", NULL };
    sgt_run(&res, argv, env, 30);
    sgt_set_msgmni(old);
    assert_true(sgt_exited(&res, 0));
    assert_string_equal(res.out, "errno 28\n");
    char want[160];
    snprintf(want, sizeof want, "Orphaned: 1 queue whose creator and every process that used them "
             "are dead: id %d by pid %d (helper_actor).", orphan, (int)creator);
    ASSERT_HAS(res.err, want);
    ASSERT_HAS(res.err, "Free them safely: shmguard gc --dry-run, then shmguard gc");
    ASSERT_HAS(res.err, "1 queue made without the library: its last sender and receiver are gone");
    assert_int_equal(msgctl(orphan, IPC_RMID, NULL), 0);
    assert_int_equal(msgctl(quiet, IPC_RMID, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_lookup_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_sigkill_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_names_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rawfork_child_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rawfork_child_drops_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_lost_other_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_sender_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_queues, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
