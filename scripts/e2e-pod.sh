#!/bin/bash
# e2e-pod.sh - a pod, end to end (make e2e-pod): pid namespaces, each with
# its own /proc, sharing one IPC namespace and one ledger directory, as the
# containers of a Kubernetes pod or `docker run --ipc=host` do.
#
# In a private IPC namespace (the host's pid namespace stays the parent):
#   pod A  Debian's apache2 (prefork, two Listen lines, "Mutex sysvsem
#          default": its accept mutex is a semaphore set) under the
#          library, serving on loopback; it drops to www-data as usual;
#   pod B  a creator that holds a segment and a set and never touches them
#          again, and a process attached to a segment;
#   host   the same kind of creator, a remover, and the tool.
# Then:
#   1. gc from the host, from inside pod A, from inside pod B and from a
#      new pod C (which sees no process of the others) removes nothing, and
#      httpd still serves; `shmguard ls` as each side sees it goes into the
#      transcript;
#   2. a removal asked on the host while pod B's process is attached is
#      deferred, survives a library call made in pod A, and completes at
#      pod B's last detach;
#   3. after SIGKILL of everyone, gc from pod C still keeps everything (it
#      cannot prove anybody dead), and gc from the host, whose pid
#      namespace is above every other, proves the creators dead and frees
#      every orphan: the namespace ends empty.
# Nothing is left behind (processes, IPC objects, files); the transcript
# is kept in build/e2e-pod/.  Needs root; installs apache2 when missing
# (scripts/apt-install.sh, without starting Debian's own service).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
lib=$build/libshmguard.so
tool=$build/shmguard
step=$build/tests/helper_step
named=$build/tests/helper_named

if [ "${1:-}" != --inside ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "e2e-pod: needs root (pid namespaces, httpd as root); run: sudo make e2e-pod" >&2
        exit 1
    fi
    if ! command -v apache2 >/dev/null 2>&1 && [ ! -x /usr/sbin/apache2 ]; then
        "$here/scripts/apt-install.sh" e2e-pod apache2
    fi
    for c in unshare nsenter; do
        command -v $c >/dev/null || { echo "e2e-pod: $c (util-linux) is missing" >&2; exit 1; }
    done
    ipc_before=$(ipcs -a)
    . "$here/scripts/memdir.sh"
    work=$(sg_memdir shmguard-e2e-pod)
    chmod 755 "$work"
    keep=$build/e2e-pod
    rm -rf "$keep"
    mkdir -p "$keep"
    rc=0
    unshare --ipc "$0" --inside "$work" || rc=$?
    cp "$work/transcript.txt" "$keep/" 2>/dev/null || true
    cp "$work/logs/error.log" "$keep/" 2>/dev/null || true
    # Whatever the run left (it kills everything it started on failure).
    pkill -KILL -f "$work" 2>/dev/null || true
    sleep 0.2
    if pgrep -f "$work" >/dev/null; then
        echo "e2e-pod: FAIL: processes outlived the run" >&2
        rc=1
    fi
    rm -rf "$work"
    . "$here/scripts/e2e-common.sh"
    e2e_end e2e-pod "$rc" "$keep" "$ipc_before"
fi

# ---- inside the private IPC namespace (the host's pid namespace) ---------
work=$2
t=$work/transcript.txt
: >"$t"
say() { printf '%s\n' "$*" | tee -a "$t"; }
cleanup() { # every process of the run but this script
    local p
    for p in $(pgrep -f "$work"); do
        [ "$p" = $$ ] || kill -KILL "$p" 2>/dev/null || true
    done
}
fail() { say "FAIL: $*"; cleanup; exit 1; }
show() { # a title and a command's output, into the transcript
    say "\$ $1"
    shift
    "$@" 2>&1 | tee -a "$t" || true
}
export SHMGUARD_MODE=defer # the ledger: httpd_setup's
mkdir -p "$work/fifo"

. "$here/scripts/httpd-common.sh"
port=$(free_port 18181)
port2=$(free_port $((port + 1)))
httpd_setup "$work" "$port" "$port2" "hello from a pod under shmguard"
get() { http_get "$port" "hello from a pod under shmguard" >/dev/null; }

# A pod: a pid namespace with its own /proc whose init is $2...; its
# init's pid (as the host sees it) in the variable named $1.
pod() {
    local var=$1
    shift
    unshare --pid --fork --mount-proc --kill-child "$@" &
    local u=$! init=""
    for _ in $(seq 50); do
        init=$(pgrep -P "$u" | head -1) && [ -n "$init" ] && break
        sleep 0.1
    done
    [ -n "$init" ] || fail "pod $var did not start"
    printf -v "$var" '%s' "$init"
}
# Run a command inside pod $1 (its pid namespace and its /proc).
in_pod() {
    local init=$1
    shift
    nsenter -t "$init" -p -m -- "$@"
}
# An actor: a process reading commands on a FIFO, answering on another.
actor() { # NAME COMMAND...
    local n=$1
    shift
    mkfifo "$work/fifo/$n.in" "$work/fifo/$n.out"
    "$@" <"$work/fifo/$n.in" >"$work/fifo/$n.out" &
    eval "exec {w_$n}>\"$work/fifo/$n.in\" {r_$n}<\"$work/fifo/$n.out\""
}
ask() { # NAME LINE: one answer line on stdout
    local w r ans
    eval "w=\$w_$1 r=\$r_$1"
    printf '%s\n' "$2" >&"$w"
    IFS= read -r -t 20 ans <&"$r" || ans="(no answer)"
    printf '%s\n' "$ans"
}
objects() { ipcs -m -s | awk '$2 ~ /^[0-9]+$/ { print $1, $2 }' | sort; }

# ---- the pod ----------------------------------------------------------------
pod A env LD_PRELOAD="$lib" apache2 -f "$work/httpd.conf" -DFOREGROUND
for _ in $(seq 100); do get && break; sleep 0.1; done
get || fail "httpd in pod A does not serve"
[ -n "$(ipcs -s | awk '$2 ~ /^[0-9]+$/')" ] || fail "httpd in pod A made no semaphore set"
pod B sleep 100000
in_pod "$B" true || fail "cannot enter pod B"
actor bcreate in_pod "$B" env LD_PRELOAD="$lib" "$named" 706f6442 0x5eed0b01 idle
[ "$(IFS= read -r -t 20 l <&"$r_bcreate"; echo "$l")" = ready ] || fail "pod B's creator did not start"
actor hcreate env LD_PRELOAD="$lib" "$named" 686f7374 0x5eed0a01 idle
[ "$(IFS= read -r -t 20 l <&"$r_hcreate"; echo "$l")" = ready ] || fail "the host's creator did not start"
say "# pod A (init pid $A on the host): apache2 on 127.0.0.1:$port; pod B (init pid $B): a creator of"
say "# segment and set 0x5eed0b01; the host: a creator of segment and set 0x5eed0a01; all alive, idle"
live=$(objects)
show "ipcs -m -s" ipcs -m -s

# ---- 1. gc from every side removes nothing live ---------------------------
for side in host A B C; do
    case $side in
    host) show "shmguard gc   (host)" "$tool" gc ;;
    A) show "shmguard gc   (inside pod A)" in_pod "$A" "$tool" gc ;;
    B) show "shmguard gc   (inside pod B)" in_pod "$B" "$tool" gc ;;
    C) show "shmguard gc   (a new pod C)" unshare --pid --fork --mount-proc "$tool" gc ;;
    esac
    [ "$(objects)" = "$live" ] || fail "gc from $side removed something live"
    get || fail "httpd stopped serving after gc from $side"
done
show "shmguard ls   (host)" "$tool" ls
show "shmguard ls   (inside pod A)" in_pod "$A" "$tool" ls
show "shmguard ls   (inside pod B)" in_pod "$B" "$tool" ls
show "shmguard gc --dry-run   (a new pod C)" unshare --pid --fork --mount-proc "$tool" gc --dry-run
say "# 1: gc from the host, pod A, pod B and a new pod C removed nothing; httpd serves"

# ---- 2. a removal across the pod ---------------------------------------------
actor battach in_pod "$B" env LD_PRELOAD="$lib" "$step"
id=$(ask battach "get 0x5eed0c01 create" | sed -n 's/^id //p')
[ -n "$id" ] || fail "pod B could not create segment 0x5eed0c01"
[ "$(ask battach "at $id")" = ok ] || fail "pod B could not attach"
actor hremove env LD_PRELOAD="$lib" "$step"
[ "$(ask hremove "rmid $id")" = ok ] || fail "the host's IPC_RMID failed"
ipcs -m | grep -q "^0x5eed0c01 " || fail "the key does not resolve while pod B is attached"
printf 'stat %s\nexit\n' "$id" | in_pod "$A" env LD_PRELOAD="$lib" "$step" >/dev/null
"$tool" ledger | grep -q "1 pending" || fail "pod A's call dropped the pending removal"
show "shmguard ledger   (pending: asked on the host, pod B attached)" "$tool" ledger
[ "$(ask battach "dt $id")" = ok ] || fail "pod B could not detach"
ipcs -m | awk '{ print $2 }' | grep -qx "$id" && fail "pod B's last detach did not complete the removal"
ask battach exit >/dev/null || true
ask hremove exit >/dev/null || true
say "# 2: removal asked on the host, deferred while pod B was attached, survived a call in pod A,"
say "#    done at pod B's last detach"

# ---- 3. SIGKILL of everyone ----------------------------------------------------
live=$(objects)
kill -KILL "$A" "$B"
pkill -KILL -f "$named" || true
for _ in $(seq 100); do # killed is not yet gone
    pgrep -f "$named|apache2 -f $work" >/dev/null || break
    sleep 0.05
done
get 2>/dev/null && fail "httpd still serves after SIGKILL"
show "shmguard gc   (a new pod C, after SIGKILL of everyone)" unshare --pid --fork --mount-proc "$tool" gc
[ "$(objects)" = "$live" ] || fail "gc in pod C removed what it cannot prove orphaned"
show "shmguard gc   (host, after SIGKILL of everyone)" "$tool" gc
left=$(objects)
[ -z "$left" ] || fail "orphans left after the host's gc: $left"
say "# 3: after SIGKILL, pod C kept everything (it sees none of the others); the host proved every"
say "#    creator dead and freed every orphan; the namespace is empty"
say "PASS: pod of 3 pid namespaces: nothing live removed from any side, a removal across the pod done"
say "      at the last detach, every orphan freed after SIGKILL"
cleanup
