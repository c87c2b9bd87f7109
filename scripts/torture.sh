#!/bin/sh
# torture.sh BUILD KILLS - run the SIGKILL torture (tests/torture/torture.c)
# in a private IPC namespace with a private ledger directory, so that
# nothing on the machine is touched.  Run by `make torture`.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
KILLS=${2:-1200}
if [ -z "${SG_TORTURE_INNER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare --ipc"; else ns="unshare -r --ipc"; fi
    exec $ns env SG_TORTURE_INNER=1 "$0" "$BUILD" "$KILLS"
fi
. "$(dirname "$0")/memdir.sh"
SHMGUARD_LEDGER=$(sg_memdir shmguard-torture)
chmod 1777 "$SHMGUARD_LEDGER"
export SHMGUARD_LEDGER
trap 'rm -rf "$SHMGUARD_LEDGER"' EXIT
timeout -k 5 600 "$BUILD/torture" "$BUILD" "$KILLS"
