#!/bin/sh
# run-tests.sh BUILD - run every test program in a private IPC namespace,
# under the project's own leak harness.
#
# Each build/tests/test_* program runs under `shmguard check --isolate`
# (as root; otherwise inside `unshare -r`, whose root may make the IPC
# namespace), so it can neither see nor touch the machine's System V
# objects, and a segment it leaves in its namespace fails it, with the
# harness's report.  --no-preload: the test programs are the library's
# drivers and load it into their children themselves.  `ipcs -a` is
# compared before and after: the suite fails if it changed.
# SG_TESTS_FILTER="word ..." runs only the tests whose name contains one
# of the words.  Each test's time follows it ("--- NAME: N s"); the last
# line is the count, "N passed, N failed".
set -u
BUILD=${1:-build}
export SG_BUILD=$(cd "$BUILD" && pwd)
TIMEOUT=${SG_TEST_TIMEOUT:-600}
# Sanitizer builds: the preloaded library comes before the executable's
# own ASan runtime in the link order, which ASan otherwise refuses.
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "$(id -u)" = 0 ]; then USERNS=""; else USERNS="unshare -r"; fi
CHECK="$USERNS $SG_BUILD/shmguard check --isolate --no-preload --mode defer --quiet --error-exitcode 99 --"
if ! $CHECK true 2>/dev/null; then
    echo "run-tests: cannot create a private IPC namespace ($CHECK true); the tests need one" >&2
    exit 1
fi

# A private directory on tmpfs for the whole run (the library uses a
# ledger directory only there): its ledger directory, so that no test can
# reach the machine's real one even by mistake, and each test's own
# (SG_TEST_TMP, tests/sgtest.h); removed with the run.
. "$(dirname "$0")/memdir.sh"
SG_TEST_TMP=$(sg_memdir shmguard-tests)
trap 'rm -rf "$SG_TEST_TMP"' EXIT
chmod 1777 "$SG_TEST_TMP"
SHMGUARD_LEDGER=$SG_TEST_TMP/ledger
mkdir -m 1777 "$SHMGUARD_LEDGER"
export SHMGUARD_LEDGER SG_TEST_TMP

before=$(ipcs -a 2>&1)
pass=0; fail=0; failed=""
for t in "$SG_BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if [ -n "${SG_TESTS_FILTER:-}" ]; then
        hit=""
        for w in $SG_TESTS_FILTER; do
            case "$name" in *"$w"*) hit=1 ;; esac
        done
        [ -n "$hit" ] || continue
    fi
    echo "=== $name"
    t0=$(date +%s)
    timeout -k 5 "$TIMEOUT" $CHECK "$t"
    rc=$?
    echo "--- $name: $(( $(date +%s) - t0 )) s"

    if [ $rc = 0 ]; then
        pass=$((pass + 1))
    else
        [ $rc = 99 ] && echo "run-tests: $name left System V objects behind (report above)" >&2
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
