#!/bin/bash
# e2e-prometheus.sh - shmguard's metrics through Debian's real Prometheus
# node exporter, end to end.
#
# In a private IPC and pid namespace, with a private /dev/shm, it makes a
# scene with known figures: two orphaned segments (8 KiB created under the
# library, 4 KiB created bare, both creators gone), one orphaned
# semaphore set of 3 (created under the library, creator gone), a live
# process holding a 4 KiB segment attached and a set it operates on, and
# one ENOSPC from kernel.shmmni that the library records.  Then it runs what the systemd timer runs,
# `shmguard doctor --output DIR/shmguard.prom`, checks the file with
# `promtool check metrics`, starts prometheus-node-exporter on a loopback
# port with only the textfile collector reading DIR, scrapes it over HTTP
# and finds every figure, and node_textfile_scrape_error 0.
# Nothing is left behind: the namespaces end with the run, the work
# directory is removed, `ipcs -a` and /dev/shm are checked unchanged; the
# transcript is kept in build/e2e-prometheus/.
#
# Needs root (namespaces, the kernel.shmmni of the private namespace).
# Installs prometheus-node-exporter and prometheus (for promtool) with
# apt-get when missing, without starting their services.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
lib=$build/libshmguard.so
tool=$build/shmguard
limit=120 # seconds; a normal run takes a few

if [ "${1:-}" != --inside ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "e2e-prometheus: needs root (namespaces, kernel.shmmni); run: sudo $0" >&2
        exit 1
    fi
    if [ ! -e "$lib" ] || [ ! -x "$tool" ]; then
        echo "e2e-prometheus: build first (make): $lib, $tool" >&2
        exit 1
    fi
    need=()
    command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
    command -v promtool >/dev/null || need+=(prometheus)
    command -v ipcmk >/dev/null || need+=(util-linux)
    if [ ${#need[@]} -gt 0 ]; then
        "$here/scripts/apt-install.sh" e2e-prometheus "${need[@]}"
    fi
    ipc_before=$(ipcs -a)
    shm_before=$(ls -A /dev/shm)
    work=$(mktemp -d /tmp/shmguard-e2e-prometheus.XXXXXX)
    keep=$build/e2e-prometheus
    rm -rf "$keep"
    mkdir -p "$keep"
    rc=0
    timeout -s KILL "$limit" unshare --ipc --pid --fork --mount-proc --kill-child \
        "$0" --inside "$work" || rc=$?
    case $rc in 124 | 137) echo "e2e-prometheus: FAIL: the run took more than $limit s" >&2 ;; esac
    for ((i = 0; i < 50; i++)); do
        left=$(pgrep -f "$work/" | tr '\n' ' ' || true)
        [ -z "${left// /}" ] && break
        sleep 0.1
    done
    cp "$work/transcript.txt" "$work"/*.prom "$keep/" 2>/dev/null || true
    rm -rf "$work"
    if [ -n "${left// /}" ]; then
        echo "e2e-prometheus: FAIL: processes outlived the run: $left" >&2
        rc=1
    fi
    . "$here/scripts/e2e-common.sh"
    e2e_end e2e-prometheus "$rc" "$keep" "$ipc_before" "$shm_before"
fi

# ---- inside the private IPC and pid namespaces -----------------------------
work=$2
t=$work/transcript.txt
: >"$t"
mount -t tmpfs -o mode=1777,size=64m shmguard-e2e /dev/shm ||
    { echo "e2e-prometheus: cannot mount a private /dev/shm" >&2; exit 1; }
. "$here/scripts/e2e-common.sh"

export SHMGUARD_LEDGER=/dev/shm/shmguard
mkdir -m 1777 "$SHMGUARD_LEDGER"
textdir=$work/textfile
mkdir "$textdir"

say "== the scene"
LD_PRELOAD=$lib ipcmk -M 8192 | tee -a "$t"   # orphan, creator recorded
ipcmk -M 4096 | tee -a "$t"                   # orphan, created bare
LD_PRELOAD=$lib ipcmk -S 3 | tee -a "$t"      # orphaned set, creator recorded
# A live user: the tests' helper_named creates and attaches a 4 KiB
# segment and a set of 1, operates on it, and waits for EOF on stdin.
helper=$build/tests/helper_named
[ -x "$helper" ] || fail "build the test helpers first (make check builds them): $helper"
coproc LIVE { LD_PRELOAD=$lib exec "$helper" 6c697665 0x5e0b0042; }
read -r -u "${LIVE[0]}" ready || fail "the live attacher did not start"
say "live attacher: pid $LIVE_PID ($ready)"
# kernel.shmmni of this namespace down to what is used: the next create
# fails with ENOSPC, which the library records.
used=$(($(ipcs -m | grep -c '^0x')))
echo "$used" >/proc/sys/kernel/shmmni
say "\$ LD_PRELOAD=libshmguard.so ipcmk -M 4096   (kernel.shmmni=$used)"
LD_PRELOAD=$lib ipcmk -M 4096 >>"$t" 2>&1 && fail "ipcmk succeeded past kernel.shmmni"
echo 4096 >/proc/sys/kernel/shmmni
show ipcs -m -s

say "== what the timer runs"
show "$tool" doctor --output "$textdir/shmguard.prom"
[ -s "$textdir/shmguard.prom" ] || fail "doctor --output wrote nothing"
cp "$textdir/shmguard.prom" "$work/doctor.prom"
ls -A "$textdir" | grep -qv '^shmguard.prom$' && fail "a temporary file was left beside the output"
show promtool check metrics <"$textdir/shmguard.prom"
promtool check metrics <"$textdir/shmguard.prom" >/dev/null 2>&1 || fail "promtool check metrics"

say "== node exporter, textfile collector only, on loopback"
port=
for p in $(shuf -i 20000-60000 -n 20); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || fail "no free loopback port"
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
    --collector.textfile --collector.textfile.directory="$textdir" >"$work/exporter.log" 2>&1 &
exporter=$!
scrape() {
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    cat <&3
    exec 3<&-
}
got=
for ((i = 0; i < 100; i++)); do
    if got=$(scrape 2>/dev/null) && [[ $got == *shmguard_doctor_status* ]]; then break; fi
    got=
    sleep 0.1
done
kill "$exporter" 2>/dev/null || true
wait "$exporter" 2>/dev/null || true
[ -n "$got" ] || { cat "$work/exporter.log" >>"$t"; fail "no scrape from node exporter"; }
printf '%s\n' "$got" | grep -E '^(shmguard_|node_textfile)' >"$work/scraped.prom"
say "scraped from 127.0.0.1:$port (shmguard_ and node_textfile_ lines):"
cat "$work/scraped.prom" | tee -a "$t"

want=(
    'node_textfile_scrape_error 0'
    'shmguard_shm_segments{state="orphaned"} 2'
    'shmguard_shm_segment_bytes{state="orphaned"} 12288'
    'shmguard_shm_segments{state="in_use"} 1'
    'shmguard_shm_segment_bytes{state="in_use"} 4096'
    'shmguard_sem_sets{state="orphaned"} 1'
    'shmguard_sem_semaphores{state="orphaned"} 3'
    'shmguard_sem_sets{state="in_use"} 1'
    'shmguard_limit_failures 1'
    'shmguard_doctor_status 2'
)
for w in "${want[@]}"; do
    grep -qxF "$w" "$work/scraped.prom" || fail "not scraped: $w"
done
grep -q '^shmguard_limit_failure_last_timestamp_seconds{limit="shmmni"} ' "$work/scraped.prom" ||
    fail "not scraped: the time of the shmmni failure"
grep -q '^shmguard_ipc_used{limit="shmmni"} 3$' "$work/scraped.prom" || fail "not scraped: shmmni used 3"
say "every figure of the scene scraped"

# The live attacher ends on EOF, removing its segment; the rest goes with
# the namespace.
exec {LIVE[1]}>&-
wait "$LIVE_PID" 2>/dev/null || true
say "PASS"
