#!/bin/bash
# e2e-postgres.sh - PostgreSQL's postmaster under libshmguard.so, end to end.
#
# Debian's PostgreSQL 15 postmaster keeps System V shared memory: by default
# a 56-byte header segment (its "is anyone still attached" interlock; the
# rest is anonymous mmap), with shared_memory_type=sysv all of its shared
# memory in one segment.  The postmaster creates it (shmget IPC_CREAT|
# IPC_EXCL, key from the data directory's inode) and attaches it, five
# helper processes inherit the mapping by fork, and a clean stop detaches
# and removes it.  In a private IPC and pid namespace, as the postgres user,
# with throwaway clusters made by initdb, it checks, and shows:
#   1. bare and under the library, for both kinds of segment: the same size,
#      permissions, owner and nattch once started; select 1 answers; a clean
#      stop leaves no segment;
#   2. under the library, while it runs: shmguard ledger and shmguard ls
#      name the postmaster (postmaster.pid line 1, command postgres) as the
#      creator and list it and its five helpers as the attachers;
#   3. SIGKILL of the postmaster and all its processes (they are each in
#      their own session, so one process-group kill is not enough) leaves the
#      segment with nattch 0; shmguard ls shows it orphaned, its creator
#      postgres dead; shmguard gc removes exactly it, and not the segment of
#      a second cluster running beside it; the killed cluster starts again
#      (crash recovery) and serves, and clean stops leave no System V object.
# Nothing is left behind: the namespaces end with the run (no process, no
# IPC object), and every file is in a temporary work directory that is
# removed; the transcript and the postgres logs are kept in
# build/e2e-postgres/.  No system cluster is started, stopped or read.
#
# Needs root (to enter the namespaces and to run postgres as postgres).
# Installs postgresql-15 with apt-get when it is missing, without starting
# Debian's own cluster.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
lib=$build/libshmguard.so
tool=$build/shmguard
pgbin=/usr/lib/postgresql/15/bin
limit=120 # seconds; a normal run takes well under 20

if [ "${1:-}" != --inside ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "e2e-postgres: needs root (namespaces, and postgres runs as the postgres user); run: sudo $0" >&2
        exit 1
    fi
    if [ ! -e "$lib" ] || [ ! -x "$tool" ]; then
        echo "e2e-postgres: build first (make): $lib, $tool" >&2
        exit 1
    fi
    if [ ! -x "$pgbin/postgres" ] || [ ! -x "$pgbin/psql" ] || ! id postgres >/dev/null 2>&1; then
        # (without starting the system's own cluster)
        "$here/scripts/apt-install.sh" e2e-postgres postgresql-15
    fi
    for cmd in unshare setpriv timeout; do
        command -v "$cmd" >/dev/null || { echo "e2e-postgres: $cmd (util-linux, coreutils) is missing" >&2; exit 1; }
    done
    ipc_before=$(ipcs -a)
    shm_before=$(ls -A /dev/shm)
    work=$(mktemp -d /tmp/shmguard-e2e-postgres.XXXXXX)
    chmod 755 "$work"
    keep=$build/e2e-postgres
    rm -rf "$keep"
    mkdir -p "$keep"
    rc=0
    # SIGKILL, as unshare ignores SIGTERM while it waits and the namespace's
    # first process only takes the signals it handles; --kill-child: should
    # the time limit strike, the namespace's first process dies and takes
    # every process of the namespace with it.
    timeout -s KILL "$limit" unshare --ipc --pid --fork --mount-proc --kill-child \
        "$0" --inside "$work" || rc=$?
    case $rc in 124 | 137) echo "e2e-postgres: FAIL: the run took more than $limit s" >&2 ;; esac
    # The namespaces are gone with their last process: nothing may remain
    # (after a kill, the kernel may take a moment to end them all).
    pidns=$(cat "$work/pidns" 2>/dev/null || true)
    for ((i = 0; i < 50; i++)); do
        left=
        if [ -n "$pidns" ]; then
            for p in /proc/[0-9]*; do
                [ "$(readlink "$p/ns/pid" 2>/dev/null)" != "$pidns" ] || left="$left ${p#/proc/}"
            done
        fi
        left="$left $(pgrep -f "$work/" | tr '\n' ' ' || true)"
        [ -z "${left// /}" ] && break
        sleep 0.1
    done
    cp "$work/transcript.txt" "$work"/postgres-*.log "$keep/" 2>/dev/null || true
    rm -rf "$work"
    if [ -n "${left// /}" ]; then
        echo "e2e-postgres: FAIL: processes outlived the run:$left" >&2
        rc=1
    fi
    . "$here/scripts/e2e-common.sh"
    e2e_end e2e-postgres "$rc" "$keep" "$ipc_before" "$shm_before"
fi

# ---- inside the private IPC and pid namespaces -----------------------------
work=$2
t=$work/transcript.txt
: >"$t"
readlink /proc/self/ns/pid >"$work/pidns"
# POSIX shared memory (PostgreSQL's dynamic segments, /dev/shm/PostgreSQL.*)
# is not isolated by an IPC namespace: this run gets a /dev/shm of its own
# in its private mount namespace, gone with it.
mount -t tmpfs -o mode=1777,size=256m shmguard-e2e /dev/shm ||
    { echo "e2e-postgres: cannot mount a private /dev/shm" >&2; exit 1; }
. "$here/scripts/e2e-common.sh"

cd "$work"
preload=$lib # what the "library" runs preload
pguid=$(id -u postgres)
# The ledger on the run's own /dev/shm (tmpfs, as the library requires).
export SHMGUARD_LEDGER=/dev/shm/shmguard-e2e-ledger
mkdir -p "$SHMGUARD_LEDGER"
chmod 1777 "$SHMGUARD_LEDGER" # postgres writes its own ledger there
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
helpers=$'autovacuum launcher\nbackground writer\ncheckpointer\nlogical replication launcher\nwalwriter'
# No autovacuum worker may come and go while the attachers are compared
# (the launcher, one of the five helpers, still runs).
quiet=(-c autovacuum_naptime=1h)
declare -A pm=()    # cluster -> postmaster pid
declare -A facts=() # "mode how" -> the segment's facts once started

newcluster() { # initdb a throwaway cluster $1 in $work/data-$1
    mkdir -m 700 "$work/data-$1"
    mkdir -m 755 "$work/sock-$1"
    chown postgres: "$work/data-$1" "$work/sock-$1"
    as_pg "$pgbin/initdb" -D "$work/data-$1" -A trust -U postgres --locale=C -E UTF8 -N \
        >"$work/initdb-$1.log" 2>&1 || { cat "$work/initdb-$1.log" >>"$t"; fail "initdb of cluster $1 failed"; }
}

select1() { # select 1 on cluster $1, over its unix socket, as postgres
    as_pg "$pgbin/psql" -X -Atq -h "$work/sock-$1" -U postgres -d postgres -c 'select 1' 2>/dev/null
}

alive() { # pid $1 exists and is not a zombie
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $s != Z* ]]
}

segrow() { # /proc/sysvipc/shm line of shmid $1 (empty when there is none)
    awk -v id="$1" 'NR > 1 && $2 == id' /proc/sysvipc/shm
}
nattch() { segrow "$1" | awk '{print $7}'; }
segfacts() { # what must not differ bare and under the library
    segrow "$1" | awk '{printf "size %s, perms %s, owner uid %s, nattch %s\n", $4, $3, $8, $7}'
}
nsysv() { # System V objects of every kind in this namespace
    cat /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg | grep -vc '^ *key' || true
}

start() { # start cluster $1; $2: default or sysv; $3: bare or library
    local c=$1 how=$3 opts=() i p
    [ "$2" = sysv ] && opts=(-c shared_memory_type=sysv)
    if [ "$how" = library ]; then
        LD_PRELOAD=$preload setsid setpriv --reuid=postgres --regid=postgres --init-groups \
            "$pgbin/postgres" -D "$work/data-$c" -k "$work/sock-$c" -c listen_addresses= \
            -c shared_buffers=1MB -c max_connections=10 "${opts[@]}" "${quiet[@]}" >>"$work/postgres-$c.log" 2>&1 &
    else
        env -u LD_PRELOAD setsid setpriv --reuid=postgres --regid=postgres --init-groups \
            "$pgbin/postgres" -D "$work/data-$c" -k "$work/sock-$c" -c listen_addresses= \
            -c shared_buffers=1MB -c max_connections=10 "${opts[@]}" "${quiet[@]}" >>"$work/postgres-$c.log" 2>&1 &
    fi
    p=$!
    pm[$c]=$p
    for ((i = 0; i < 100; i++)); do
        alive "$p" || { tail -5 "$work/postgres-$c.log" >>"$t"; fail "postgres ($c, $2, $how) exited without serving"; }
        [ "$(select1 "$c")" = 1 ] && break
        sleep 0.1
    done
    [ "$i" -lt 100 ] || fail "postgres ($c, $2, $how) did not serve within 10 s"
    [ "$(sed -n 1p "$work/data-$c/postmaster.pid")" = "$p" ] \
        || fail "postmaster.pid line 1 is not the postmaster we started ($p)"
    # The postmaster's segment: postmaster.pid line 7 is "key shmid".
    read -r _ shmid < <(sed -n 7p "$work/data-$c/postmaster.pid")
    [ -n "$(segrow "$shmid")" ] || fail "postmaster.pid names shmid $shmid, which does not exist"
    # Settled: the five helpers run (startup process gone, psql's backend
    # gone) and each of the six processes is attached once.
    for ((i = 0; i < 100; i++)); do
        [ "$(kids "$p" | sed 's/^postgres: //; s/ *$//' | sort)" = "$helpers" ] \
            && [ "$(nattch "$shmid")" = 6 ] && return 0
        sleep 0.05
    done
    show ps -o pid,ppid,args --ppid "$p"
    show ipcs -m
    fail "postgres ($c, $2, $how) did not settle to its five helpers, all attached, within 5 s"
}
kids() { ps -o args= --ppid "$1"; }
kidpids() { ps -o pid= --ppid "$1" | tr -s ' \n' ' '; }

stop() { # clean stop (SIGINT: fast shutdown) of cluster $1
    local p=${pm[$1]} i
    kill -INT "$p"
    for ((i = 0; i < 150; i++)); do
        alive "$p" || break
        sleep 0.1
    done
    alive "$p" && fail "postgres ($1) did not stop within 15 s of SIGINT"
    wait "$p" || fail "postgres ($1) stopped with status $? after SIGINT"
}

expect_ledger() { # cluster $1, shmid $2: ledger and ls name the postmaster and its helpers
    local c=$1 id=$2 p=${pm[$1]} n block want got
    n=$(nattch "$id")
    want=$({ echo "$p"; kidpids "$p" | tr ' ' '\n'; } | grep . | sort -n | tr '\n' ' ')
    block=$("$tool" ledger | awk -v id="$id" '/^shmid /{on = ($2 == id)} /^$/{on = 0} on')
    [ -n "$block" ] || fail "shmguard ledger has no record of shmid $id"
    grep -qE "^  created .* by pid $p \(postgres, uid $pguid, alive\)\$" <<<"$block" \
        || fail "shmguard ledger does not name postmaster $p (postgres, uid $pguid, alive) as the creator of shmid $id"
    got=$(grep -E '^  attached  pid ' <<<"$block" | awk '{print $3}' | sort -n | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "shmguard ledger's attachers of shmid $id are [$got], the processes are [$want]"
    [ "$(grep -c '^  attached  pid .*, inherited$' <<<"$block")" = $((n - 1)) ] \
        || fail "shmguard ledger does not show the $((n - 1)) helpers' attachments as inherited"
    grep -qE "^  attached  pid $p \(postgres\) at 0x[0-9a-f]+ since [-0-9]+ [:0-9]+\$" <<<"$block" \
        || fail "shmguard ledger does not show the postmaster's own shmat"
    got=$("$tool" ls -m --raw --noheadings -o STATE,CPID,COMMAND,ALIVE,LEDGER,NATTCH,APIDS --id "$id")
    [ "$got" = "in-use $p postgres yes yes $n $(tr ' ' ',' <<<"${want% }")" ] \
        || fail "shmguard ls shows shmid $id as [$got]"
}

t0=$SECONDS
say "# private IPC and pid namespace; PostgreSQL: $("$pgbin/postgres" --version); ledger $SHMGUARD_LEDGER"
newcluster a
newcluster b
say "# throwaway clusters a and b made by initdb, run as postgres (uid $pguid) with"
say "#   -c listen_addresses= -c shared_buffers=1MB -c max_connections=10 ${quiet[*]}, unix socket only"

# ---- 1 and 2: bare and under the library, both kinds of segment ------------
for mode in default sysv; do
    for how in bare library; do
        say ""
        say "# ---- cluster a, shared_memory_type=$([ $mode = sysv ] && echo sysv || echo 'mmap (default)'), $how"
        start a "$mode" "$how"
        facts[$mode $how]=$(segfacts "$shmid")
        say "# postmaster pid ${pm[a]} serves select 1 = $(select1 a); its segment shmid $shmid: ${facts[$mode $how]}"
        show ipcs -m
        case $mode in
        default) segrow "$shmid" | awk '$4 == 56 {ok = 1} END {exit !ok}' || fail "the header segment is not 56 bytes: ${facts[$mode $how]}" ;;
        sysv) segrow "$shmid" | awk '$4 > 1048576 {ok = 1} END {exit !ok}' || fail "the sysv segment is not the whole shared memory: ${facts[$mode $how]}" ;;
        esac
        if [ "$how" = library ]; then
            show "$tool" ls -m
            show "$tool" ledger
            expect_ledger a "$shmid"
            say "# ledger and ls: created by postmaster ${pm[a]} (postgres, postmaster.pid line 1), attached by it and its 5 helpers (inherited)"
        else
            ! grep -q "^shmid $shmid " <<<"$("$tool" ledger)" || fail "the ledger has a record of the bare run's segment"
        fi
        stop a
        [ "$(nsysv)" = 0 ] || { show ipcs -a; fail "a clean stop ($mode, $how) left a System V object"; }
        say "# clean stop (SIGINT): the namespace has no System V object"
        if [ "$how" = library ]; then
            grep -q '0 segments, 0 attachments, 0 pending removals' <<<"$("$tool" ledger)" \
                || { show "$tool" ledger; fail "the ledger still records a segment after the clean stop"; }
        fi
    done
    fb=${facts[$mode bare]} fl=${facts[$mode library]}
    [ "$fb" = "$fl" ] || fail "$mode: bare ($fb) and under the library ($fl) differ"
    say "# $mode: bare and under the library alike: $fb"
done

# ---- 3: unclean kill, gc, crash recovery -----------------------------------
say ""
say "# ---- cluster a (shared_memory_type=sysv) and cluster b (default) both under the library"
start b default library
idb=$shmid
factsb=$(segfacts "$idb")
start a sysv library
ida=$shmid
say "# cluster a: postmaster ${pm[a]}, shmid $ida; cluster b: postmaster ${pm[b]}, shmid $idb"
# The helpers learn of the postmaster's death at once (PR_SET_PDEATHSIG) and
# exit by themselves: stop them all first, so that SIGKILL ends every one.
disown "${pm[a]}" # no job report ("Killed") from bash; it is reaped all the same
kill -STOP "${pm[a]}"
read -r -a helperpids <<<"$(kidpids "${pm[a]}")"
kill -STOP "${helperpids[@]}"
victims=("${pm[a]}" "${helperpids[@]}")
say "# SIGKILL to cluster a's postmaster's process group and to its helpers (each in a session of its own): ${victims[*]}"
kill -KILL -- "-${pm[a]}" "${helperpids[@]}"
for ((i = 0; i < 100; i++)); do
    still=
    for p in "${victims[@]}"; do alive "$p" && still="$still $p"; done
    [ -z "$still" ] && [ "$(nattch "$ida")" = 0 ] && break
    sleep 0.05
done
[ -z "$still" ] || fail "processes of cluster a survived SIGKILL:$still"
[ -n "$(segrow "$ida")" ] || fail "cluster a's segment $ida went with its processes"
[ "$(nattch "$ida")" = 0 ] || fail "cluster a's segment $ida is still attached ($(nattch "$ida"))"
say "# cluster a's segment $ida remains, nattch 0: $(segfacts "$ida")"
show ipcs -m
show "$tool" ls -m
got=$("$tool" ls -m --raw --noheadings -o STATE,CPID,COMMAND,ALIVE,LEDGER,NATTCH --id "$ida")
[ "$got" = "orphaned ${pm[a]} postgres no yes 0" ] || fail "shmguard ls shows the killed cluster's segment as [$got]"
got=$("$tool" ls -m --raw --noheadings -o STATE,CPID,COMMAND,ALIVE --id "$idb")
[ "$got" = "in-use ${pm[b]} postgres yes" ] || fail "shmguard ls shows the running cluster's segment as [$got]"
show "$tool" ledger
grep -qE "^  created .* by pid ${pm[a]} \(postgres, uid $pguid, dead\)\$" <<<"$("$tool" ledger)" \
    || fail "shmguard ledger does not show cluster a's creator dead"
say "# ls: a's segment orphaned, creator postgres (pid ${pm[a]}) dead; b's in use"

say ""
show "$tool" gc --dry-run
[ -n "$(segrow "$ida")" ] || fail "gc --dry-run removed a segment"
say "\$ $tool gc"
gcrc=0
gc_out=$("$tool" gc 2>&1) || gcrc=$?
printf '%s\n' "$gc_out" | tee -a "$t"
[ "$gcrc" = 0 ] || fail "shmguard gc exited with $gcrc"
[ "$(grep -c '^removed' <<<"$gc_out")" = 1 ] || fail "gc did not remove exactly one segment"
grep -qE "^removed +shmid $ida \(" <<<"$gc_out" || fail "gc did not remove cluster a's segment $ida"
grep -q '^Removed 1 segment ' <<<"$gc_out" || fail "gc's summary does not say 1 segment"
[ -z "$(segrow "$ida")" ] || fail "cluster a's segment $ida is still there after gc"
[ "$(segfacts "$idb")" = "$factsb" ] || fail "cluster b's segment changed: $(segfacts "$idb"), was $factsb"
[ "$(nsysv)" = 1 ] || { show ipcs -a; fail "after gc the namespace holds other than cluster b's segment"; }
[ "$(select1 b)" = 1 ] || fail "cluster b no longer serves after gc"
gc_out=$("$tool" gc)
! grep -q "^removed" <<<"$gc_out" || fail "a second gc found more to remove: $gc_out"
show ipcs -m
say "# gc removed exactly cluster a's segment; cluster b's (shmid $idb) is untouched and b still serves"

say ""
mark=$(wc -l <"$work/postgres-a.log")
start a sysv library
grep -q "not properly shut down; automatic recovery in progress" <<<"$(tail -n +"$((mark + 1))" "$work/postgres-a.log")" \
    || fail "cluster a started again without crash recovery"
say "# cluster a starts again (postmaster ${pm[a]}, shmid $shmid) after crash recovery and serves select 1 = $(select1 a):"
tail -n +"$((mark + 1))" "$work/postgres-a.log" | grep -E 'interrupted|not properly|redo|ready to accept' \
    | sed 's/^[-0-9]* [:.0-9]* [A-Z]* //' | tee -a "$t"
expect_ledger a "$shmid"
show "$tool" ls -m
stop a
stop b
[ "$(nsysv)" = 0 ] || { show ipcs -a; fail "the clean stops left a System V object"; }
grep -q '0 segments, 0 attachments, 0 pending removals' <<<"$("$tool" ledger)" \
    || { show "$tool" ledger; fail "the ledger still records a segment after the clean stops"; }
show ipcs -a
say "# clean stops: postgres removed its own segments; the namespace is empty"
say "PASS: postgres alike bare and under the library (56-byte and sysv segments), ledger and ls name the postmaster and its 5 helpers, a SIGKILLed cluster's segment orphaned and gc'd alone, crash recovery serves, nothing left ($((SECONDS - t0)) s)"
