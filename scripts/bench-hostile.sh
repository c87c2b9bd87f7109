#!/bin/sh
# bench-hostile.sh BUILD - `shmguard ls`, `doctor` and `gc --dry-run` with
# 64 files planted in the ledger directory by one other uid (65534), as
# ratios to the same commands without them (SPEC, Security: at most 2x).
# The plants: the attacker's own four names as dense ledgers of the size
# the library makes (copies of root's, every byte written), and 60 more
# under other uids' names.  Run by bench.sh inside a fresh IPC namespace,
# as root (skipped otherwise); root's ledger records 9 segments and 8 sets.
# 7 rounds, each timing the clean and the planted directory back to back;
# medians of the per-round ratios.
set -eu
BUILD=$1
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
    echo "with 64 hostile ledger files: skipped (needs root and setpriv)"
    exit 0
fi
. "$(dirname "$0")/memdir.sh"
A=$(sg_memdir shmguard-bench-a)
B=$(sg_memdir shmguard-bench-b)
filler=""
trap 'rm -rf "$A" "$B"; [ -z "$filler" ] || kill $filler 2>/dev/null' EXIT
chmod 1777 "$A" "$B"
filler=$(SHMGUARD_LEDGER=$A LD_PRELOAD=$BUILD/libshmguard.so "$BUILD/bench/bench_mkseg" 9)
i=0
while [ $i -lt 8 ]; do
    i=$((i + 1))
    SHMGUARD_LEDGER=$A LD_PRELOAD=$BUILD/libshmguard.so perl -e "semget(0x5eedbe0$i, 1, 01600)"
done
root=$(ls "$A" | grep '\.uid-0\.ledger$')
ns=${root#ipc-}; ns=${ns%%.*}
cp --sparse=always "$A/$root" "$B/$root"
as_attacker() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
own="$B/ipc-$ns.uid-65534"
as_attacker cp --sparse=never "$A/$root" "$own.ledger"
for a in 1 2 3; do as_attacker cp --sparse=never "$own.ledger" "$own.$a.ledger"; done
i=0
while [ $i -lt 60 ]; do
    i=$((i + 1))
    as_attacker cp --sparse=always "$A/$root" "$B/ipc-$ns.uid-$((3000 + i)).ledger"
done
ms() { # command...: wall time of one run, in 0.1 ms
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 100000 ))
}
for cmd in ls doctor "gc --dry-run"; do
    for r in 1 2 3 4 5 6 7; do
        echo "$(ms "$BUILD/shmguard" $cmd --dir="$A") $(ms "$BUILD/shmguard" $cmd --dir="$B")"
    done | awk -v n="shmguard $cmd, 64 hostile files" '{ a[NR] = $1; b[NR] = $2; r[NR] = $2 / ($1 ? $1 : 1) }
        function med(v, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                                      return v[int((k + 1) / 2)] }
        END { m = med(r, NR); printf "%-36s %-18s %6.3fx %-13s  %-9s %s\n", n, sprintf("clean %.1f ms", med(a, NR) / 10), m,
              sprintf("(%.1f ms)", med(b, NR) / 10), "<= 2.00x", m <= 2 ? "MET" : "MISSED" }'
done
