#!/bin/sh
# bench.sh BUILD - run the benchmarks in a private IPC namespace with a
# private ledger directory.  Figures are ratios to the bare calls measured
# in the same run.  Run by `make bench`.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
if [ -z "${SG_BENCH_INNER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare --ipc"; else ns="unshare -r --ipc"; fi
    exec $ns env SG_BENCH_INNER=1 "$0" "$BUILD"
fi
W=$(mktemp -d /tmp/shmguard-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SHMGUARD_LEDGER="$W"
echo "shmguard benchmark on $(uname -srm), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
echo
"$BUILD/bench/bench_calls" "$BUILD/libshmguard.so" "${SG_BENCH_REPS:-15}"
SHMGUARD_LOG=/dev/null "$BUILD/bench/bench_diag" "${SG_BENCH_REPS:-21}"

# shmguard ls over 32,000 segments against ipcs -m -p, in a namespace of
# its own so that nothing else is in it.
unshare --ipc "$(dirname "$0")/bench-ls.sh" "$BUILD"
