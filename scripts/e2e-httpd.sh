#!/bin/bash
# e2e-httpd.sh - httpd killed uncleanly, end to end (make e2e-httpd).
#
# Debian's apache2 (prefork MPM, two Listen lines, "Mutex sysvsem default")
# runs on loopback under libshmguard.so, in a private IPC and pid namespace
# with kernel.sem lowered to 4 sets.  It serves real requests and is killed
# with SIGKILL (the whole process group) again and again: every kill leaves
# its accept mutex, a semaphore set, until httpd fails to start with
# "(28)No space left on device: AH00023".  Then it checks, and shows:
#   - the library's message beside AH00023 in httpd's error log, naming
#     kernel.sem SEMMNI and the orphaned sets of the dead httpd processes;
#   - shmguard ls: those sets, created by apache2, creator dead, orphaned;
#   - shmguard doctor --prometheus: SEMMNI at 100%, those orphans, the
#     failure's time;
#   - what systemd would run before the next start, from the drop-in
#     `shmguard enable apache2` writes (ExecStartPre: shmguard gc --user
#     root --command apache2, the service's own orphans): it frees exactly
#     those;
#   - httpd starts and serves again, and a clean stop removes its set.
# SHMGUARD_LIB and SHMGUARD_TOOL name another library and tool to test (the
# installed ones: CI runs it against the Debian package).
# Nothing is left behind: the namespaces end with the run (no process, no
# IPC object), and every file is in a temporary work directory that is
# removed; the transcript and error log are kept in build/e2e-httpd/.
#
# Needs root (httpd starts as root and drops to www-data, as in
# production).  Installs apache2 with apt-get when it is missing, without
# starting Debian's own apache2 service.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
lib=${SHMGUARD_LIB:-$build/libshmguard.so}
tool=${SHMGUARD_TOOL:-$build/shmguard}
SEMMNI=4

if [ "${1:-}" != --inside ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "e2e-httpd: needs root (httpd starts as root and switches to www-data); run: sudo make e2e-httpd" >&2
        exit 1
    fi
    if ! command -v apache2 >/dev/null 2>&1 && [ ! -x /usr/sbin/apache2 ]; then
        # (without starting the system's own apache2 on port 80)
        "$here/scripts/apt-install.sh" e2e-httpd apache2
    fi
    command -v unshare >/dev/null || { echo "e2e-httpd: unshare (util-linux) is missing" >&2; exit 1; }
    ipc_before=$(ipcs -a)
    . "$here/scripts/memdir.sh"
    work=$(sg_memdir shmguard-e2e-httpd)
    chmod 755 "$work"
    keep=$build/e2e-httpd
    rm -rf "$keep"
    mkdir -p "$keep"
    rc=0
    unshare --ipc --pid --fork --mount-proc "$0" --inside "$work" || rc=$?
    cp "$work/transcript.txt" "$keep/" 2>/dev/null || true
    cp "$work/logs/error.log" "$keep/" 2>/dev/null || true
    rm -rf "$work"
    # The namespaces are gone with their last process: nothing may remain.
    if pgrep -f "$work/httpd.conf" >/dev/null; then
        echo "e2e-httpd: FAIL: httpd processes outlived the run" >&2
        rc=1
    fi
    . "$here/scripts/e2e-common.sh"
    e2e_end e2e-httpd "$rc" "$keep" "$ipc_before"
fi

# ---- inside the private IPC and pid namespaces -----------------------------
work=$2
t=$work/transcript.txt
: >"$t"
. "$here/scripts/e2e-common.sh"

. "$here/scripts/httpd-common.sh"
p1=$(free_port 18081)
p2=$(free_port $((p1 + 1)))
httpd_setup "$work" "$p1" "$p2" "hello from httpd under shmguard"
echo "250 32000 32 $SEMMNI" >/proc/sys/kernel/sem
say "# private IPC namespace, kernel.sem = \"$(cat /proc/sys/kernel/sem | tr '\t' ' ')\"; httpd on 127.0.0.1:$p1 and :$p2"

get() { http_get "$1" "hello from httpd under shmguard"; }

start() { # start httpd under the library; 0 when it serves, 1 when it died
    local rc=0
    httpd_serve "$work" "$p1" "hello from httpd under shmguard" "$lib" || rc=$?
    [ "$rc" != 2 ] || fail "httpd neither served nor exited within 10 s"
    return "$rc"
}

kills=0
failed=0
for round in $(seq 1 $((SEMMNI + 3))); do
    if ! start; then
        failed=1
        say "# start $round: httpd exited without serving"
        break
    fi
    a=$(get "$p1") || fail "no answer on port $p1"
    b=$(get "$p2") || fail "no answer on port $p2"
    say "# start $round: httpd (pid $pid) serves: $a (:$p1), $b (:$p2); SIGKILL to its process group"
    kill -KILL -- "-$pid"
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
done
[ "$failed" = 1 ] || fail "httpd still started after $kills kills"
[ "$kills" = "$SEMMNI" ] || fail "httpd failed after $kills kills, expected $SEMMNI (one set each)"
! grep -q "passing every call through" "$work/logs/error.log" || fail "the library passed calls through"
ls "$work/ledger" | grep -q '\.uid-33\.ledger$' || fail "the workers (www-data) kept no ledger of their own"

say ""
say "# httpd's error log after the failed start:"
grep -v 'AH00163\|AH00094\|AH00098' "$work/logs/error.log" | tee -a "$t"
log=$(cat "$work/logs/error.log")
for want in "(28)No space left on device: AH00023: Couldn't create the mpm-accept mutex" \
            "semget(key=IPC_PRIVATE, nsems=1, flags=IPC_CREAT|0600) failed with ENOSPC" \
            "not a full disk" "kernel.sem SEMMNI (sets, 4th field) is exhausted: $SEMMNI of $SEMMNI sets" \
            "apache2 (uid 0) $SEMMNI sets, $SEMMNI semaphores, all orphaned" \
            "Orphaned: $SEMMNI sets" "shmguard gc --dry-run, then shmguard gc"; do
    grep -qF -- "$want" <<<"$log" || fail "the error log lacks: $want"
done

say ""
show ipcs -s
show "$tool" ls --sem
ls_out=$("$tool" ls --sem --raw --noheadings)
[ "$(grep -c ' orphaned ' <<<"$ls_out")" = "$SEMMNI" ] || fail "ls does not show $SEMMNI orphaned sets"
[ "$(grep -c ' apache2 no ' <<<"$ls_out")" = "$SEMMNI" ] || fail "ls does not show apache2 as their dead creator"

say ""
# What a fleet's Prometheus would see now (the metrics timer's output).
show "$tool" doctor --prometheus
prom=$("$tool" doctor --prometheus)
grep -qxF "shmguard_sem_sets{state=\"orphaned\"} $SEMMNI" <<<"$prom" || fail "the metrics lack $SEMMNI orphaned sets"
grep -qxF "shmguard_ipc_used_ratio{limit=\"semmni\"} 1.000000" <<<"$prom" || fail "the metrics lack SEMMNI at 100%"
grep -q "^shmguard_limit_failure_last_timestamp_seconds{limit=\"semmni\"} " <<<"$prom" ||
    fail "the metrics lack the time of the SEMMNI failure"
show "$tool" gc --dry-run
# What systemd runs before the next start, from the drop-in that
# `shmguard enable apache2` writes.
mkdir "$work/units"
show "$tool" enable apache2 --unit-dir "$work/units" --library "$lib"
dropin=$work/units/apache2.service.d/shmguard.conf
show cat "$dropin"
grep -qxF "Environment=LD_PRELOAD=$(realpath "$lib")" "$dropin" || fail "the drop-in does not preload $lib"
pre=$(sed -n 's/^ExecStartPre=-//p' "$dropin")
# gc itself without the library (its own calls would meet its own ledger lock).
[[ $pre == "/usr/bin/env -u LD_PRELOAD "*" gc --user root --command apache2" ]] ||
    fail "unexpected ExecStartPre (not run without the library?): $pre"
read -r -a pre_argv <<<"$pre"
# As systemd runs it: with the service's environment, the preload too.
show env LD_PRELOAD="$lib" "${pre_argv[@]}"
gc_out=$("$tool" gc)
! grep -q "^removed" <<<"$gc_out" || fail "a second gc found more to remove: $gc_out"
[ -z "$(ipcs -s | awk '$2 ~ /^[0-9]+$/')" ] || fail "sets remain after gc"

say ""
start || fail "httpd does not start after gc"
a=$(get "$p1") || fail "no answer after gc"
b=$(get "$p2") || fail "no answer after gc on :$p2"
say "# after gc: httpd (pid $pid) starts and serves: $a (:$p1), $b (:$p2)"
show "$tool" ls --sem
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
[ -z "$(ipcs -s | awk '$2 ~ /^[0-9]+$/')" ] || fail "a clean stop left a set"
say "# clean stop: httpd removed its own set; the namespace is empty"
say "PASS: $kills kills, AH00023 with the library's diagnosis, the drop-in's gc freed $SEMMNI sets, httpd serves again"
