#!/bin/sh
# run-tests.sh BUILD - run every test program in a private IPC namespace.
#
# Each build/tests/test_* program runs under `unshare --ipc` (as root) or
# `unshare -r --ipc` (otherwise), so it can neither see nor touch the
# machine's System V objects.  `ipcs -a` is compared before and after: the
# suite fails if it changed.  SG_TESTS_FILTER=word runs only tests whose
# name contains word.  The last line is the count, "N passed, N failed".
set -u
BUILD=${1:-build}
export SG_BUILD=$(cd "$BUILD" && pwd)
TIMEOUT=${SG_TEST_TIMEOUT:-600}
# Sanitizer builds: the preloaded library comes before the executable's
# own ASan runtime in the link order, which ASan otherwise refuses.
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "$(id -u)" = 0 ]; then NS="unshare --ipc"; else NS="unshare -r --ipc"; fi
if ! $NS true 2>/dev/null; then
    echo "run-tests: cannot create a private IPC namespace ($NS); the tests need one" >&2
    exit 1
fi

# A private ledger directory for the whole run, so that no test can reach
# the machine's real one even by mistake.
SHMGUARD_LEDGER=$(mktemp -d /tmp/shmguard-tests.XXXXXX)
chmod 1777 "$SHMGUARD_LEDGER"
export SHMGUARD_LEDGER
trap 'rm -rf "$SHMGUARD_LEDGER"' EXIT

before=$(ipcs -a 2>&1)
pass=0; fail=0; failed=""
for t in "$SG_BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    case "$name" in *"${SG_TESTS_FILTER:-}"*) ;; *) continue ;; esac
    echo "=== $name"
    if timeout -k 5 "$TIMEOUT" $NS "$t"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); failed="$failed $name"
    fi
done
after=$(ipcs -a 2>&1)
if [ "$before" != "$after" ]; then
    echo "run-tests: ipcs -a changed during the tests:" >&2
    printf '%s\n' "$after" >&2
    fail=$((fail + 1)); failed="$failed ipcs-unchanged"
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
