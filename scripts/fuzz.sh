#!/bin/sh
# fuzz.sh - the fuzz run of `make fuzz`.
#   fuzz.sh deps              make sure clang and its libFuzzer runtime are
#                             present (apt-get as root; else one line naming
#                             the command)
#   fuzz.sh run BUILD SECONDS fuzz BUILD/fuzz_ledger for SECONDS from the
#                             seed corpus (tests/fuzz/seeds) plus what
#                             earlier runs kept (BUILD/fuzz-corpus), in a
#                             private IPC namespace with a private ledger
#                             directory; fails on any crash, hang, leak,
#                             sanitizer report or broken property, and
#                             leaves the input that did it in
#                             BUILD/fuzz-artifacts.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)

case "${1:-}" in
deps)
    probe=$(mktemp -d)
    trap 'rm -rf "$probe"' EXIT
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
    if command -v clang >/dev/null 2>&1 &&
        clang -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" >/dev/null 2>&1; then
        exit 0
    fi
    exec "$here/scripts/apt-install.sh" "make fuzz" clang
    ;;
run) ;;
*)
    echo "usage: fuzz.sh deps | run BUILD SECONDS" >&2
    exit 1
    ;;
esac

BUILD=$(cd "$2" && pwd)
SECONDS_=${3:-60}
if [ -z "${SG_FUZZ_INNER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare --ipc"; else ns="unshare -r --ipc"; fi
    exec $ns env SG_FUZZ_INNER=1 "$0" run "$BUILD" "$SECONDS_"
fi
corpus=$BUILD/fuzz-corpus
art=$BUILD/fuzz-artifacts
mkdir -p "$corpus" "$art"
scratch=$(mktemp -d /tmp/shmguard-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
log=$BUILD/fuzz.log
rc=0
# -close_fd_mask=3: the tool's commands print to stdout and stderr on
# every input; libFuzzer and the sanitizers keep their own descriptor.
TMPDIR=$scratch timeout -k 10 $((SECONDS_ + 120)) "$BUILD/fuzz_ledger" \
    -max_total_time="$SECONDS_" -timeout=20 -rss_limit_mb=4096 -max_len=4096 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$art/" \
    "$corpus" "$here/tests/fuzz/seeds" >"$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
if [ "$rc" != 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz: FAIL after ${execs:-?} executions (log: $log; input kept in $art)" >&2
    exit 1
fi
echo "fuzz: ${execs:-?} executions in ${SECONDS_} s, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) inputs; no crash, hang, leak or broken property"
