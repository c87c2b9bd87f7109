#!/bin/sh
# apt-install.sh WHO PACKAGE... - install Debian packages that a make
# target needs, the one way every script here does it: as root with
# apt-get (apt-get update first only if the install fails), with a
# policy-rc.d that keeps a package's own service (apache2, PostgreSQL's
# cluster) from starting; not root, one line naming the command to run.
# WHO prefixes the messages (e.g. "e2e-httpd").  Exit status 0 when
# installed, 1 otherwise.
set -eu
who=$1
shift
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "shmguard: $who needs $*; run: sudo apt-get install $*" >&2
    exit 1
fi
echo "$who: installing $*" >&2
planted=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    planted=1
fi
export DEBIAN_FRONTEND=noninteractive
rc=0
apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    apt-get install -y -q --no-install-recommends "$@" >/dev/null
} || rc=$?
if [ -n "$planted" ]; then rm -f /usr/sbin/policy-rc.d; fi
if [ "$rc" != 0 ]; then
    echo "$who: cannot install $*" >&2
    exit 1
fi
