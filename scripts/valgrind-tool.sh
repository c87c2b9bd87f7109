#!/bin/bash
# valgrind-tool.sh BUILD - run the tool's commands (ls, doctor, gc, ledger,
# check, run, usage errors) under valgrind's memcheck, over segments and
# semaphore sets in every state, and fail on any memcheck error or definite
# leak, printing that command's valgrind report; then programs with the
# library preloaded (helper_calls in both recording modes, an actor with a
# segment, a set, a queue and a fork), failing on any memcheck error.  Runs in a private IPC
# namespace with a private ledger directory, so nothing on the machine is
# touched.  Needs BUILD/shmguard, BUILD/libshmguard.so,
# BUILD/tests/helper_actor and BUILD/tests/helper_calls.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
if [ -z "${SG_VALGRIND_INNER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare --ipc"; else ns="unshare -r --ipc"; fi
    exec $ns env SG_VALGRIND_INNER=1 "$0" "$BUILD"
fi

LIB=$BUILD/libshmguard.so
TOOL=$BUILD/shmguard
ACTOR=$BUILD/tests/helper_actor
for f in "$LIB" "$TOOL" "$ACTOR"; do
    [ -e "$f" ] || { echo "valgrind: $f missing (make; make $ACTOR)" >&2; exit 1; }
done
command -v valgrind >/dev/null || "$(dirname "$0")/apt-install.sh" "make valgrind" valgrind

. "$(dirname "$0")/memdir.sh"
SHMGUARD_LEDGER=$(sg_memdir shmguard-valgrind)
chmod 1777 "$SHMGUARD_LEDGER"
export SHMGUARD_LEDGER
W=$(mktemp -d /tmp/shmguard-valgrind-logs.XXXXXX)
unset LD_PRELOAD
hin=
# The holder leaves (a normal exit) at the end of its input.
trap 'if [ -n "$hin" ]; then exec {hin}>&-; fi; wait; rm -rf "$SHMGUARD_LEDGER" "$W"' EXIT

# ---- populate the namespace -------------------------------------------------
# The holder: a helper_actor under the library, driven over fifos, that stays
# alive (blocked reading its stdin) until the script exits.
mkfifo "$W/holder.in" "$W/holder.out"
LD_PRELOAD=$LIB "$ACTOR" <"$W/holder.in" >"$W/holder.out" 2>"$W/holder.err" &
exec {hin}>"$W/holder.in" {hout}<"$W/holder.out"
read -r REPLY <&"$hout" # ready pid=...
# ask CMD: one command to the holder; its answer's value in $V.
ask() {
    echo "$1" >&"$hin"
    read -r REPLY <&"$hout"
    case $REPLY in ok*) V=${REPLY#*=} ;; *) echo "valgrind: holder: $1: $REPLY" >&2; exit 1 ;; esac
}
# once CMD...: a short-lived helper_actor under the library, one command a line.
once() { printf '%s\n' "$@" | LD_PRELOAD=$LIB "$ACTOR" 2>>"$W/once.err" | grep -v '^ready'; }

ask "create 0x5eedf001 65536"; INUSE=$V; ask "at $INUSE"          # in use
ask "create 0x5eedf002 8192"; PEND=$V; ask "at $PEND"             # pending below
ask "create 0 4096"                                               # private, idle
ask "semcreate 0x5eedf010 3"; SEM=$V; ask "semop $SEM"            # set in use
ask "semcreate 0 2"                                               # private set
once "rmid $PEND" >/dev/null                 # deferred: the holder is attached
ORPHAN=$(once "create 0x5eedf003 4096")      # creator exits: orphaned
ORPHAN=${ORPHAN#ok id=}
case $ORPHAN in '' | *[!0-9]*) echo "valgrind: the orphan was not created: $ORPHAN" >&2; exit 1 ;; esac
once "create 0 4096" "semcreate 0 1" >/dev/null # private orphan, orphaned set
printf 'create 0x5eedf004 4096\n' | "$ACTOR" >/dev/null # made without the library
# One ENOSPC: kernel.shmmni (per IPC namespace) lowered to what exists now,
# and left there (doctor reports it exhausted; `check` below meets it too).
nseg=$(ipcs -m | awk '$2 ~ /^[0-9]+$/' | wc -l)
enospc=0
if echo "$nseg" 2>/dev/null >/proc/sys/kernel/shmmni; then
    case $(once "create 0x5eedf0ff 4096") in
    "err errno=28") enospc=1 ;;
    *) echo "valgrind: shmget did not fail with ENOSPC at kernel.shmmni=$nseg" >&2; exit 1 ;;
    esac
else
    echo "valgrind: kernel.shmmni not writable here, no ENOSPC event" >&2
fi
echo "create 0x5eedf0fe 4096" >"$W/enospc.in"
ipcmk -Q >/dev/null 2>&1 || true # a message queue, for ls and doctor
"$TOOL" ls >"$W/ls.txt"
for s in in-use idle orphaned pending; do
    grep -qw "$s" "$W/ls.txt" || { echo "valgrind: no $s segment:" >&2; cat "$W/ls.txt" >&2; exit 1; }
done

# ---- the tool under memcheck ------------------------------------------------
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite -q)
n=0 errors=0 leaks=0 failed=0
# vg STATUSES ARGS...: run `shmguard ARGS` under memcheck; its own exit status
# must be one of STATUSES; 99 (or a signal) from valgrind fails the run.
vg() {
    local ok=$1 rc=0 log
    shift
    n=$((n + 1))
    log=$W/$n.vg
    timeout -k 5 60 "${VG[@]}" ${VGX:+"$VGX"} --log-file="$log" "$TOOL" "$@" >"$W/$n.out" 2>"$W/$n.err" || rc=$?
    # With -q the log holds only reports; each starts with an unindented
    # line ("Invalid read of size 4", "N bytes ... definitely lost ...").
    local e l
    l=$(grep -c '^==[0-9]*== [^ ].*definitely lost in loss record' "$log" || true)
    e=$(grep '^==[0-9]*== [^ ]' "$log" | grep -cv 'definitely lost in loss record\|== Warning: ' || true)
    errors=$((errors + e)) leaks=$((leaks + l))
    if [ "$rc" = 99 ] || [ "$rc" -gt 128 ] || [ "$rc" = 124 ] || [ $((e + l)) != 0 ]; then
        failed=$((failed + 1))
        echo "valgrind: FAILED (status $rc): shmguard $*" >&2
        cat "$log" >&2
    elif ! case " $ok " in *" $rc "*) true ;; *) false ;; esac; then
        failed=$((failed + 1))
        echo "valgrind: shmguard $* exited $rc, expected one of: $ok" >&2
        cat "$W/$n.err" "$log" >&2
    fi
}

vg 0 --help
vg 0 --version
vg 0 ls
vg 0 ls --json
vg 0 ls --raw
vg 0 ls --output-all --bytes
vg 0 ls --orphans --pending
vg 0 ls --sem --json
vg 0 ls --msg
vg 0 ls --msg --json
vg 0 ls -H
vg "0 2 3" doctor
vg "0 2 3" doctor --json
vg 0 doctor --prometheus
vg 0 doctor --output "$W/metrics.prom"
vg 0 enable demo --unit-dir "$W"
vg 0 disable demo --unit-dir "$W"
vg "0 2" gc --dry-run
vg 0 ledger
vg 0 ledger --all
vg 0 ledger --json
vg "0 1" ledger --check
vg 0 check -- true
# A run that meets the ENOSPC: check's report reads it from its ledger's
# events.  The command sets LD_PRELOAD itself: valgrind, at an exec it does
# not follow, strips its own entries from LD_PRELOAD and with them the
# library check appended.
vg 0 check --json --no-preload -- env LD_PRELOAD="$LIB" "$ACTOR" <"$W/enospc.in"
if [ "$enospc" = 1 ] && ! grep -q ENOSPC "$W/$n.err"; then
    failed=$((failed + 1)); echo "valgrind: check reported no limit error:" >&2; cat "$W/$n.err" >&2
fi
vg 0 run -- true
# A command that cannot be run.  Only the parent's report is wanted: in the
# forked child, which leaves by _exit when exec fails, memory the parent
# still holds may look unreferenced (the pointer's register is reused).
VGX=--child-silent-after-fork=yes vg 127 check -- /nonexistent
vg 1 ls --bogus
grep -q 'unrecognized option' "$W/$n.err" || {
    failed=$((failed + 1)); echo "valgrind: ls --bogus gave no usage error:" >&2; cat "$W/$n.err" >&2
}
vg "0 2" gc
if ipcs -m | awk -v id="$ORPHAN" '$2 == id { f = 1 } END { exit !f }'; then
    failed=$((failed + 1)); echo "valgrind: gc left the orphan $ORPHAN:" >&2; cat "$W/$n.out" >&2
fi

# ---- the library under memcheck ---------------------------------------------
# Host processes with the library preloaded (memcheck keeps LD_PRELOAD for
# its guest): any memcheck error in them fails the run; their leaks are the
# host programs' and are not counted.
VGL=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=no -q)
hosts=0
# vglib NAME CMD...: CMD under the library and memcheck, its input from $W/NAME.in.
vglib() {
    local name=$1 rc=0 log=$W/lib-$1.vg e
    shift
    hosts=$((hosts + 1))
    [ -e "$W/$name.in" ] || : >"$W/$name.in"
    LD_PRELOAD=$LIB timeout -k 5 120 "${VGL[@]}" --log-file="$log" "$@" <"$W/$name.in" \
        >"$W/lib-$name.out" 2>&1 || rc=$?
    e=$(grep '^==[0-9]*== [^ ]' "$log" | grep -cv '== Warning: ' || true)
    errors=$((errors + e))
    # The program must finish (not be stopped by timeout: 124) with 0, and
    # none of the actor's steps may have failed.
    if [ "$rc" != 0 ] || [ "$e" != 0 ] || grep -q '^err' "$W/lib-$name.out"; then
        failed=$((failed + 1))
        echo "valgrind: FAILED (status $rc): $* under the library" >&2
        cat "$log" "$W/lib-$name.out" >&2
    fi
}
vglib calls "$BUILD/tests/helper_calls"
SHMGUARD_MODE=observe vglib calls-observe "$BUILD/tests/helper_calls"
# The actor: the kinds and paths helper_calls does not take (a set, a
# queue, a fork with an attachment, an exec), each id read from its key.
{
    echo "create 0x5eedf020 8192"
    echo "semcreate 0x5eedf021 2"
    echo "msgcreate 0x5eedf022"
} | LD_PRELOAD=$LIB "$ACTOR" | grep -v '^ready' >"$W/ids.txt"
ids=$(sed -n 's/^ok id=//p' "$W/ids.txt" | tr '\n' ' ')
read -r SEG SET QUE <<<"$ids"
if [ -z "${QUE:-}" ]; then
    failed=$((failed + 1)); echo "valgrind: the actor made no segment, set and queue: $(cat "$W/ids.txt")" >&2
else
    # After "fork" the child reads the commands up to its "exit" (the
    # actor reads its input a byte at a time), then the parent the rest.
    printf '%s\n' "lookup 0x5eedf020" "at $SEG" "semop $SET" "msgsnd $QUE" "msgrcv $QUE" \
        "fork" "dtall" "semop $SET" "exit 0" "dtall" "rmid $SEG" "semrmid $SET" \
        "msgrmid $QUE" >"$W/actor.in"
    vglib actor "$ACTOR"
fi

echo "valgrind: $n tool commands and $hosts programs under the library, $errors memcheck errors, $leaks definite leaks"
[ "$failed" = 0 ]
