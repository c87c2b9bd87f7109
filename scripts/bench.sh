#!/bin/sh
# bench.sh BUILD - the benchmark of SPEC's performance section, run by
# `make bench`.  Every figure is a ratio to its baseline measured in the
# same run (the bare calls, an empty preload library, ipcs, lsof), the
# median of several interleaved repetitions with their spread, its target
# and whether it is met.  Runs in a private IPC namespace with a private
# ledger directory; SG_BENCH_REPS scales the repetitions.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
if [ -z "${SG_BENCH_INNER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare --ipc"; else ns="unshare -r --ipc"; fi
    exec $ns env SG_BENCH_INNER=1 "$0" "$BUILD"
fi
HERE=$(cd "$(dirname "$0")" && pwd)
# The ledger directory on tmpfs, as the library requires.
. "$HERE/memdir.sh"
W=$(sg_memdir shmguard-bench)
trap 'rm -rf "$W"' EXIT
export SHMGUARD_LEDGER="$W"
REPS=${SG_BENCH_REPS:-31}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "shmguard benchmark: $(uname -srm), ${cpu:-unknown CPU}, $(nproc) CPUs, $(date -u +%Y-%m-%d)"
echo "ratio = measured / baseline of the same run: median of the repetitions (min..max)"
echo
echo "== calls ($REPS repetitions, library dlopen()ed beside libc, interleaved)"
# Each program in an IPC namespace of its own: what one leaves (the
# ENOSPC analysis fills the namespace) cannot weigh on the next.
unshare --ipc "$BUILD/bench/bench_calls" "$BUILD/libshmguard.so" "$REPS"
SHMGUARD_LOG=/dev/null unshare --ipc "$BUILD/bench/bench_diag" 21
echo
echo "== contention (11 repetitions)"
unshare --ipc "$BUILD/bench/bench_contend" "$BUILD/libshmguard.so" 11
echo
echo "== process start (21 repetitions of 40 starts each way: /bin/true, then one get/attach/detach)"
unshare --ipc "$BUILD/bench/bench_start" "$BUILD/libshmguard.so" "$BUILD/bench/libempty.so" /bin/true 21 \
    "$BUILD/bench/oneshot"
echo
echo "== a real server (11 rounds, bare and under the library in turn)"
"$HERE/bench-httpd.sh" "$BUILD"
echo
# Growth and the tool over 32,000 segments: each in a namespace of its
# own, with kernel.shmmni raised there only.
echo "== growth: the hot path with more segments and attached processes (11 repetitions)"
unshare --ipc sh -c 'echo 32768 > /proc/sys/kernel/shmmni && exec "$@"' sh \
    env SHMGUARD_LEDGER="$W/scale" sh -c 'mkdir -p "$SHMGUARD_LEDGER" && exec "$0" "$@"' \
    "$BUILD/bench/bench_scale" "$BUILD/libshmguard.so" "$W/scale" 11
echo
echo "== the tool"
unshare --ipc "$HERE/bench-ls.sh" "$BUILD"
unshare --ipc "$HERE/bench-hostile.sh" "$BUILD"
