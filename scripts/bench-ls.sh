#!/bin/sh
# bench-ls.sh BUILD - `shmguard ls` over 32,000 segments against
# `ipcs -m -p` on the same namespace (SPEC: no slower).  Run by bench.sh
# inside a fresh IPC namespace; medians of 5 runs.
set -eu
BUILD=$1
median_ms() { # command...: median wall time of 5 runs, in ms
    for i in 1 2 3 4 5; do
        t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 ))
    done | sort -n | sed -n 3p
}
echo 32000 > /proc/sys/kernel/shmmni
filler=$(LD_PRELOAD= "$BUILD/bench/bench_mkseg" 32000) ||
    { echo "bench-ls: could not make 32,000 segments" >&2; exit 1; }
trap 'kill $filler 2>/dev/null' EXIT
ipcs_ms=$(median_ms ipcs -m -p)
ls_ms=$(median_ms "$BUILD/shmguard" ls)
json_ms=$(median_ms "$BUILD/shmguard" ls --json)
awk -v a="$ls_ms" -v b="$ipcs_ms" -v j="$json_ms" 'BEGIN {
    r = a / b; printf "%-34s %8d ms   ratio %5.2fx to ipcs -m -p (%d ms)  target <= 1.00x  %s\n",
        "shmguard ls, 32,000 segments", a, r, b, r <= 1.0 ? "MET" : "MISSED";
    printf "%-34s %8d ms   ratio %5.2fx\n", "shmguard ls --json, 32,000", j, j / b }'
