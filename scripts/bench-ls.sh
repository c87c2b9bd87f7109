#!/bin/sh
# bench-ls.sh BUILD - `shmguard ls` over 32,000 segments, each attached by
# one of two processes, against `ipcs -m -p` (SPEC: no slower) and against
# `lsof` finding the attachers.  Run by bench.sh inside a fresh IPC
# namespace; 7 rounds, each timing the baseline and the tool back to back;
# medians of the times and of the per-round ratios.  lsof is installed
# when missing (as root), or its line says how.
set -eu
BUILD=$1
ms() { # command...: wall time of one run, in ms
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}
# rounds BASE_CMD -- CMD_A -- CMD_B: 7 rounds, each timing the baseline
# and both commands back to back (in turn, so that they see the same
# drift of the machine); prints "base_ms a_ms b_ms ratio_a ratio_b": the
# medians of the times and of the per-round ratios to the baseline.
rounds() {
    base=$1 a=$2 b=$3
    for r in 1 2 3 4 5 6 7; do
        tb=$(ms sh -c "$base"); ta=$(ms sh -c "$a"); tc=$(ms sh -c "$b")
        echo "$tb $ta $tc"
    done | awk '{ b[NR] = $1; a[NR] = $2; c[NR] = $3; ra[NR] = $2 / ($1 ? $1 : 1); rc[NR] = $3 / ($1 ? $1 : 1) }
        function med(v, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                                      return v[int((n + 1) / 2)] }
        END { printf "%d %d %d %.4f %.4f\n", med(b, NR), med(a, NR), med(c, NR), med(ra, NR), med(rc, NR) }'
}
if ! command -v lsof >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing lsof (the baseline of one figure)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q lsof >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q lsof >/dev/null 2>&1; } || true
fi
echo 32768 > /proc/sys/kernel/shmmni
line() { # name ms ratio base_ms base_name target
    awk -v n="$1" -v a="$2" -v r="$3" -v b="$4" -v bn="$5" -v t="$6" 'BEGIN {
        v = t == "" ? "(reported)" : (r <= t ? "MET" : "MISSED");
        printf "%-36s %-18s %6.3fx %-13s  %-9s %s\n", n, sprintf("%s %d ms", bn, b), r,
            sprintf("(%d ms)", a), t == "" ? "" : sprintf("<= %.2fx", t), v }'
}
filler=$(LD_PRELOAD= "$BUILD/bench/bench_mkseg" 32000) ||
    { echo "bench-ls: could not make 32,000 segments" >&2; exit 1; }
trap 'kill $filler 2>/dev/null' EXIT
set -- $(rounds "ipcs -m -p" "'$BUILD/shmguard' ls" "'$BUILD/shmguard' ls --json")
line "shmguard ls, 32,000 segments" "$2" "$4" "$1" "ipcs -m -p" 1.00
line "shmguard ls --json, 32,000" "$3" "$5" "$1" "ipcs -m -p" ""
kill $filler; wait $filler 2>/dev/null || true
ipcrm -a 2>/dev/null || true
# 2. With attachers to find: 16,000 of them attached by a live process.
filler=$(LD_PRELOAD= "$BUILD/bench/bench_mkseg" 32000 attach) ||
    { echo "bench-ls: could not make 32,000 attached segments" >&2; exit 1; }
set -- $(rounds "ipcs -m -p" "'$BUILD/shmguard' ls" "'$BUILD/shmguard' ls --json")
line "  16,000 of them attached: ls" "$2" "$4" "$1" "ipcs -m -p" ""
line "  16,000 attached: ls --json" "$3" "$5" "$1" "ipcs -m -p" ""
if command -v lsof >/dev/null 2>&1; then
    set -- $(rounds "lsof -n -P" "'$BUILD/shmguard' ls --json" "true")
    line "  16,000 attached: ls --json vs lsof" "$2" "$4" "$1" "lsof -n -P" ""
else
    echo "  against lsof: skipped, lsof is not installed (apt-get install lsof)"
fi
