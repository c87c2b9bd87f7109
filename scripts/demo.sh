#!/bin/bash
# demo.sh BUILD - show what shmguard does, in under a minute, in a private
# IPC namespace with a private ledger directory (nothing on the machine is
# touched).  Run by `make demo`.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)

if [ -z "${SG_DEMO_INNER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare --ipc"; else ns="unshare -r --ipc"; fi
    exec $ns env SG_DEMO_INNER=1 "$0" "$BUILD"
fi

. "$(dirname "$0")/memdir.sh"
W=$(sg_memdir shmguard-demo)
chmod 1777 "$W"
mkdir -m 1777 "$W/ledger"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
LIB=$BUILD/libshmguard.so
TOOL=$BUILD/shmguard
STEP=$BUILD/tests/helper_step
export SHMGUARD_LEDGER=$W/ledger

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# actor NAME [VAR=value...]: start a helper_step process named NAME, with
# the library preloaded unless LD_PRELOAD= is given.
actor() {
    local name=$1; shift
    mkfifo "$W/$name.in" "$W/$name.out"
    env LD_PRELOAD="$LIB" "$@" "$STEP" <"$W/$name.in" >"$W/$name.out" &
    eval "exec {fd_${name}_in}>\"$W/$name.in\" {fd_${name}_out}<\"$W/$name.out\""
}
# say NAME COMMAND: one call in that process, and its answer.
say() {
    local fi fo
    eval "fi=\$fd_${1}_in fo=\$fd_${1}_out"
    echo "$2" >&"$fi"
    read -r REPLY <&"$fo"
    printf '  %-8s %-28s -> %s\n' "$1" "$2" "$REPLY"
}

section "1. The problem: staggered processes sharing one key, 200 rounds of 8 processes"
echo "  Each process: get -> attach -> read-or-write a number -> detach -> IPC_RMID."
echo "  A round diverges when two processes are attached at the same time to"
echo "  different segments for the same key."
printf '  bare:           '; LD_PRELOAD= unshare --ipc "$BUILD/tests/helper_stagger" 200 8
printf '  with shmguard:  '; LD_PRELOAD="$LIB" "$BUILD/tests/helper_stagger" 200 8
echo "  Bare, IPC_RMID while others are attached makes the key private at once,"
echo "  so a process starting a moment later creates a second segment."

section "2. Who created and who uses a segment: the ledger remembers"
echo "  A 'master' creates key 0x5eed0100 and forks a worker (which inherits the"
echo "  attachment); a separate 'reader' process looks the key up and attaches."
actor master
say master "get 0x5eed0100 create size 65536"; ID=${REPLY#id }
say master "at $ID"
say master "write $ID 6"
mkfifo "$W/worker.ctl"
say master "fork $W/worker.ctl"
exec {fd_worker}>"$W/worker.ctl"
actor reader
say reader "get 0x5eed0100"
say reader "at $ID"
say reader "read $ID"
echo
echo "  ipcs knows only the creator pid and the last pid:"
ipcs -m -p | sed 's/^/    /'
echo
echo "  shmguard ledger knows the creator's command, call site and every attacher:"
"$TOOL" ledger | sed 's/^/    /'

section "3. IPC_RMID while others are attached: deferred, key stays resolvable"
say master "dt $ID"
say master "rmid $ID"
echo "  The master asked for removal; the worker and the reader are still attached."
actor late
say late "get 0x5eed0100 create"
say late "at $ID"
say late "read $ID"
echo "  A process started later still finds the same segment (bare, the kernel"
echo "  would have made the key private and 'late' would have created a new one)."
"$TOOL" ledger | sed 's/^/    /' | grep -E "shmid|pending|attached"
echo "  Everyone detaches; the last detach carries out the removal:"
say late "dt $ID"
say reader "dt $ID"
echo dt >&"$fd_worker"; echo exit >&"$fd_worker"; exec {fd_worker}>&-
sleep 0.2
say reader "stat $ID"
ipcs -m | sed 's/^/    /'

section "4. In CI: shmguard check fails a run that leaks, and says where"
echo "  A test program whose grandchild creates a segment and exits without"
echo "  removing it, run as: shmguard check --isolate -- helper_check grandchild 0x5eed0200"
set +e
"$TOOL" check --isolate -- "$BUILD/tests/helper_check" grandchild 0x5eed0200 >/dev/null 2>"$W/report"
rc=$?
set -e
sed 's/^/    /' "$W/report"
echo "  Exit status: $rc (the run leaked; a clean run gets the command's own status)."

section "5. Semaphores: httpd's \"AH00023 ... No space left on device\", explained"
echo "  kernel.sem lowered to 3 sets in this namespace.  Three times, a server"
echo "  creates its mutex (a private semaphore set), forks a worker, and the"
echo "  whole process group is killed with SIGKILL: nothing removes the set."
echo "250 32000 32 3" >/proc/sys/kernel/sem
ACTOR=$BUILD/tests/helper_actor
sets() { ipcs -s | awk '$2 ~ /^[0-9]+$/' | wc -l; }
for i in 1 2 3; do
    setsid bash -c "{ echo 'semcreate 0 1'; echo fork; sleep 60; } | LD_PRELOAD='$LIB' exec '$ACTOR' >/dev/null 2>&1" &
    p=$!
    for _ in $(seq 100); do [ "$(sets)" -ge "$i" ] && break; sleep 0.05; done
    sleep 0.1
    kill -KILL -- "-$p"
    wait "$p" 2>/dev/null || true
done
echo "  The next start cannot create its set; the program sees ENOSPC as always,"
echo "  and the library says what it really is:"
echo 'semcreate 0 1' | LD_PRELOAD=$LIB "$ACTOR" 2>&1 >/dev/null | sed 's/^/    /'
echo "  shmguard ls --sem:"
"$TOOL" ls --sem | sed 's/^/    /'
echo "  shmguard gc:"
"$TOOL" gc | grep -i 'sem' | sed 's/^/    /'
echo "  and the next start gets its set:"
echo 'semcreate 0 1' | LD_PRELOAD=$LIB "$ACTOR" | grep '^ok' | sed 's/^/    /'

echo
echo "Done. Nothing was left behind: the demo ran in a private IPC namespace."
