#!/bin/sh
# bench-ls.sh BUILD - `shmguard ls` over 32,000 segments, each attached by
# one of two processes, against `ipcs -m -p` (SPEC: no slower) and against
# `lsof` finding the attachers.  Run by bench.sh inside a fresh IPC
# namespace; medians of 5 runs.  lsof is installed when missing (as root),
# or its line says how.
set -eu
BUILD=$1
median_ms() { # command...: median wall time of 5 runs, in ms
    for i in 1 2 3 4 5; do
        t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 ))
    done | sort -n | sed -n 3p
}
if ! command -v lsof >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing lsof (the baseline of one figure)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q lsof >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q lsof >/dev/null 2>&1; } || true
fi
echo 32768 > /proc/sys/kernel/shmmni
line() { # name ms base_ms base_name target
    awk -v n="$1" -v a="$2" -v b="$3" -v bn="$4" -v t="$5" 'BEGIN {
        r = a / b; v = t == "" ? "(reported)" : (r <= t ? "MET" : "MISSED");
        printf "%-36s %-18s %6.3fx %-13s  %-9s %s\n", n, sprintf("%s %d ms", bn, b), r,
            sprintf("(%d ms)", a), t == "" ? "" : sprintf("<= %.2fx", t), v }'
}
# 1. The SPEC's figure: 32,000 segments, half orphaned, half idle.
filler=$(LD_PRELOAD= "$BUILD/bench/bench_mkseg" 32000) ||
    { echo "bench-ls: could not make 32,000 segments" >&2; exit 1; }
trap 'kill $filler 2>/dev/null' EXIT
ipcs_ms=$(median_ms ipcs -m -p)
ls_ms=$(median_ms "$BUILD/shmguard" ls)
json_ms=$(median_ms "$BUILD/shmguard" ls --json)
line "shmguard ls, 32,000 segments" "$ls_ms" "$ipcs_ms" "ipcs -m -p" 1.00
line "shmguard ls --json, 32,000" "$json_ms" "$ipcs_ms" "ipcs -m -p" ""
kill $filler; wait $filler 2>/dev/null || true
ipcrm -a 2>/dev/null || true
# 2. With attachers to find: 16,000 of them attached by a live process.
filler=$(LD_PRELOAD= "$BUILD/bench/bench_mkseg" 32000 attach) ||
    { echo "bench-ls: could not make 32,000 attached segments" >&2; exit 1; }
ipcs_ms=$(median_ms ipcs -m -p)
ls_ms=$(median_ms "$BUILD/shmguard" ls)
json_ms=$(median_ms "$BUILD/shmguard" ls --json)
line "  16,000 of them attached: ls" "$ls_ms" "$ipcs_ms" "ipcs -m -p" ""
line "  16,000 attached: ls --json" "$json_ms" "$ipcs_ms" "ipcs -m -p" ""
if command -v lsof >/dev/null 2>&1; then
    lsof_ms=$(median_ms lsof -n -P)
    line "  16,000 attached: ls --json vs lsof" "$json_ms" "$lsof_ms" "lsof -n -P" ""
else
    echo "  against lsof: skipped, lsof is not installed (apt-get install lsof)"
fi
