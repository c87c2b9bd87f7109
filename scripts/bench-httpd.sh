#!/bin/bash
# bench-httpd.sh BUILD [ROUNDS] - a real server under load: Debian's
# apache2, prefork, two Listen lines and "Mutex sysvsem default" (so every
# accept takes and gives a System V semaphore: the library's semop path),
# served to ab with 8 concurrent clients on loopback.  Each round runs httpd
# bare and under the library (default mode), in alternating order, each
# given 300 requests of warm-up and then 12,000 measured ones; the figure is
# the median over the rounds of the per-round ratio of requests per second
# (library / bare).  Target: at least 0.98x.  Run by bench.sh, as root, in
# private IPC and pid namespaces (apache2 and apache2-utils installed
# first when missing); skipped, with one line, when not root.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != --inside ]; then
    BUILD=$(cd "${1:-build}" && pwd)
    ROUNDS=${2:-11}
fi
name="httpd prefork+sysvsem under ab -c 8"
if [ "$(id -u)" != 0 ]; then
    echo "$name: skipped (needs root)"
    exit 0
fi
if [ "${1:-}" != --inside ] && { ! command -v ab >/dev/null 2>&1 ||
    { ! command -v apache2 >/dev/null 2>&1 && [ ! -x /usr/sbin/apache2 ]; }; }; then
    # (without starting the system's own apache2 on port 80)
    "$here/scripts/apt-install.sh" bench apache2 apache2-utils ||
        { echo "$name: skipped (apache2 and ab could not be installed)"; exit 0; }
fi
export PATH=$PATH:/usr/sbin
if [ "${1:-}" != --inside ]; then
    . "$here/scripts/memdir.sh"
    work=$(sg_memdir shmguard-bench-httpd)
    chmod 755 "$work"
    rc=0
    unshare --ipc --pid --fork --mount-proc "$0" --inside "$work" "$BUILD" "$ROUNDS" || rc=$?
    rm -rf "$work"
    exit "$rc"
fi

# ---- inside the private IPC and pid namespaces -----------------------------
work=$2
BUILD=$3
ROUNDS=$4
lib=$BUILD/libshmguard.so
. "$here/scripts/httpd-common.sh"
p1=$(free_port 18181)
p2=$(free_port $((p1 + 1)))
httpd_setup "$work" "$p1" "$p2" "hello from the benchmark"
# Enough workers for 8 clients from the start: no process churn measured.
sed -i 's/^StartServers .*/StartServers 10/; s/^MinSpareServers .*/MinSpareServers 10/;
        s/^MaxSpareServers .*/MaxSpareServers 20/' "$work/httpd.conf"

serve() { # PRELOAD: start httpd, wait until it serves; its pid in $pid
    httpd_serve "$work" "$p1" "hello from the benchmark" "$1" && return 0
    echo "$name: httpd did not serve:" >&2
    cat "$work/logs/error.log" >&2
    exit 1
}
stop() {
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
rps() { # PRELOAD: requests per second of one measured run
    serve "$1"
    ab -q -c 8 -n 300 "http://127.0.0.1:$p1/index.html" >/dev/null 2>&1
    local out
    out=$(ab -q -c 8 -n 12000 "http://127.0.0.1:$p1/index.html" 2>&1)
    stop
    grep -q '^Failed requests: *0$' <<<"$out" || { echo "$name: ab reported failures: $out" >&2; exit 1; }
    sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' <<<"$out"
}
ratios=() bare_all=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        b=$(rps "")
        l=$(rps "$lib")
    else
        l=$(rps "$lib")
        b=$(rps "")
    fi
    ratios+=("$(awk -v l="$l" -v b="$b" 'BEGIN { printf "%.4f", l / b }')")
    bare_all+=("$b")
done
! grep -q "passing every call through" "$work/logs/error.log" || {
    echo "$name: the library passed calls through" >&2
    exit 1
}
printf '%s\n' "${ratios[@]}" | sort -n | awk -v n="$name" -v bare="$(printf '%s\n' "${bare_all[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" '
    { v[NR] = $1 }
    END {
        m = v[int((NR + 1) / 2)]
        printf "%-36s %-18s %6.3fx (%5.3f..%5.3f)  %-9s %s\n", n, sprintf("bare %.0f req/s", bare), m,
               v[1], v[NR], ">= 0.98x", (m >= 0.98 ? "MET" : "MISSED")
    }'
