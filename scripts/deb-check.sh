#!/bin/bash
# deb-check.sh - the Debian package end to end (make deb-check, CI): install
# build/deb/shmguard_*.deb into this machine, check its systemd units with
# systemd-analyze verify, check that the installed tool finds the installed
# library, write a drop-in into /etc with the installed tool and the
# metrics file as the timer would, run make e2e-httpd against the installed
# library and tool, then purge it and check that none of its files is left,
# nor that drop-in, nor the metrics file.  Refuses to run when shmguard is already
# installed: that one is not this check's to remove.  Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "deb-check: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "deb-check: needs root (dpkg); run: sudo make deb-check" >&2; exit 1; }
deb=$(ls "$here"/build/deb/shmguard_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no package: make deb first"
if dpkg-query -W -f='${Status}' shmguard 2>/dev/null | grep -q 'install ok'; then
    fail "shmguard is already installed here; not touching it"
fi
files=$(dpkg -c "$deb" | awk '$1 !~ /^d/ {print substr($6, 2)}')
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=/usr/lib/$triplet/shmguard/libshmguard.so

echo "deb-check: installing $deb"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$deb" >/dev/null 2>&1 || dpkg -i "$deb" >/dev/null || fail "install"
trap 'dpkg --purge shmguard >/dev/null 2>&1 || true; rm -rf /etc/systemd/system/shmguard-deb-check-demo.service.d' EXIT
for f in $files; do [ -e "$f" ] || fail "not installed: $f"; done
[ -f "$lib" ] || fail "no library at $lib"

echo "deb-check: systemd-analyze verify of the installed units"
out=$(systemd-analyze verify /lib/systemd/system/shmguard-metrics.service \
    /lib/systemd/system/shmguard-metrics.timer 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
systemctl is-enabled shmguard-metrics.timer >/dev/null 2>&1 && fail "the timer was enabled by the install"

echo "deb-check: the installed tool finds the installed library"
t=$(mktemp -d)
/usr/bin/shmguard enable apache2 --unit-dir "$t" | tee "$t/out"
grep -qxF "Environment=LD_PRELOAD=$lib" "$t/apache2.service.d/shmguard.conf" || fail "enable did not find $lib"
grep -qxF "ExecStartPre=-/usr/bin/env -u LD_PRELOAD /usr/bin/shmguard gc --user root --command apache2" \
    "$t/apache2.service.d/shmguard.conf" || fail "enable wrote an unexpected ExecStartPre"
/usr/bin/shmguard disable apache2 --unit-dir "$t" >/dev/null
rm -rf "$t"

# What the purge must take away besides the package's own files: a drop-in
# that the installed tool writes, and the metrics file the timer writes.
/usr/bin/shmguard enable shmguard-deb-check-demo >/dev/null
[ -f /etc/systemd/system/shmguard-deb-check-demo.service.d/shmguard.conf ] || fail "enable wrote nothing in /etc"
metrics=
if [ -d /var/lib/prometheus/node-exporter ]; then
    metrics=/var/lib/prometheus/node-exporter/shmguard.prom
    [ ! -e "$metrics" ] || fail "$metrics exists before the check: not touching it"
    /usr/bin/shmguard doctor --output "$metrics" || fail "doctor --output $metrics"
fi

echo "deb-check: make e2e-httpd against the installed library and tool"
SHMGUARD_LIB=$lib SHMGUARD_TOOL=/usr/bin/shmguard make -C "$here" e2e-httpd

echo "deb-check: purge"
trap - EXIT
dpkg --purge shmguard >/dev/null || fail "purge"
dpkg-query -W shmguard >/dev/null 2>&1 && dpkg-query -W -f='${Status}\n' shmguard | grep -qv 'not-installed' &&
    fail "dpkg still knows shmguard"
for f in $files; do [ ! -e "$f" ] || fail "left after purge: $f"; done
[ ! -e /usr/lib/$triplet/shmguard ] || fail "left after purge: /usr/lib/$triplet/shmguard"
[ -z "$metrics" ] || [ ! -e "$metrics" ] || fail "the metrics file was left: $metrics"
[ ! -e /etc/systemd/system/shmguard-deb-check-demo.service.d ] || fail "the drop-in was left"
ls /etc/systemd/system/*.service.d/shmguard.conf >/dev/null 2>&1 && fail "a drop-in was left"
echo "deb-check: PASS (installed, units verified, e2e-httpd against the installed files, purged clean)"
