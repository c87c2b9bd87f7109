#!/bin/sh
# deps.sh - make sure the build's Debian packages are present.
# As root, missing packages are installed with apt-get; otherwise one line
# names the command to run, and the build stops.
set -eu

missing=""
need() { # header package
    [ -e "/usr/include/$1" ] || missing="$missing $2"
}
need cmocka.h libcmocka-dev
need uthash.h uthash-dev
need libsmartcols/libsmartcols.h libsmartcols-dev
need elfutils/libdwfl.h libdw-dev
# The tests check the tool's JSON with a real parser (python3's json).
command -v python3 >/dev/null 2>&1 || missing="$missing python3"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1
        apt-get install -y -q $missing >/dev/null
    }
    exit 0
fi
echo "shmguard: missing build dependencies; run: sudo apt-get install$missing" >&2
exit 1
