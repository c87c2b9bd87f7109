#!/bin/sh
# deb.sh - build the Debian package (make deb): the sources as git has them
# (git archive HEAD, or the working tree when not a git checkout) are
# unpacked in build/deb/, built there with dpkg-buildpackage (debhelper),
# and checked with lintian, which must report no error.  Output:
# build/deb/shmguard_<version>_<arch>.deb.  As root, missing packaging tools
# (debhelper, dpkg-dev, lintian) are installed with apt-get.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/build/deb
need=""
command -v dpkg-buildpackage >/dev/null 2>&1 || need="$need dpkg-dev"
command -v dh >/dev/null 2>&1 || need="$need debhelper"
command -v lintian >/dev/null 2>&1 || need="$need lintian"
[ -z "$need" ] || "$here/scripts/apt-install.sh" deb $need
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
rm -rf "$out"
mkdir -p "$out/src"
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$here" archive HEAD | tar -x -C "$out/src"
else
    tar -C "$here" --exclude=./build --exclude='./build-*' -cf - . | tar -x -C "$out/src"
fi
(cd "$out/src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) || {
    tail -30 "$out/build.log" >&2
    echo "deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
    exit 1
}
deb=$(ls "$out"/shmguard_"${version}"_*.deb)
# lintian: errors fail the build; warnings are shown.
lintian --tag-display-limit 0 "$deb" >"$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
if grep -q '^E: ' "$out/lintian.txt"; then
    echo "deb: lintian reports errors" >&2
    exit 1
fi
rm -rf "$out/src"
echo "deb: $deb"
