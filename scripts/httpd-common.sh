# httpd-common.sh - sourced by e2e-httpd.sh and e2e-pod.sh: the httpd they
# run (Debian's apache2, prefork, two Listen lines on loopback, "Mutex
# sysvsem default": its accept mutex is a System V semaphore set) and how
# they ask it for a page.

# free_port FROM: the first port from FROM that nothing on loopback
# listens on.
free_port() {
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

# httpd_setup WORK PORT1 PORT2 TEXT: WORK/httpd.conf serving TEXT as
# /index.html from WORK/htdocs, logging to WORK/logs/error.log, and
# SHMGUARD_LEDGER=WORK/ledger, made as the library makes
# /dev/shm/shmguard: sticky and world-writable, so that the workers, once
# they are www-data, keep a ledger of their own.
httpd_setup() {
    local work=$1 p1=$2 p2=$3 text=$4 mods=/usr/lib/apache2/modules
    mkdir -p "$work/htdocs" "$work/logs" "$work/run" "$work/ledger"
    chmod 1777 "$work/ledger"
    export SHMGUARD_LEDGER=$work/ledger
    echo "$text" >"$work/htdocs/index.html"
    chmod -R a+rX "$work/htdocs" "$work/logs" "$work/run"
    cat >"$work/httpd.conf" <<CONF
ServerRoot $work
ServerName localhost
LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so
LoadModule authz_core_module $mods/mod_authz_core.so
Listen 127.0.0.1:$p1
Listen 127.0.0.1:$p2
Mutex sysvsem default
User www-data
Group www-data
PidFile $work/run/httpd.pid
DefaultRuntimeDir $work/run
ErrorLog $work/logs/error.log
DocumentRoot $work/htdocs
<Directory $work/htdocs>
    Require all granted
</Directory>
StartServers 2
MinSpareServers 1
MaxSpareServers 3
CONF
}

# http_get PORT TEXT: GET /index.html from PORT; 0 and its status line on
# stdout when the body holds TEXT.
http_get() {
    local body
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    body=$(cat <&3)
    exec 3<&-
    grep -qF "$2" <<<"$body" || return 1
    printf '%s\n' "$body" | head -1
}

# httpd_serve WORK PORT TEXT PRELOAD: start httpd (WORK/httpd.conf) in a
# session of its own with LD_PRELOAD=PRELOAD; its pid in $pid.  0 when it
# serves TEXT on PORT, 1 when it exited first, 2 when neither within 10 s.
httpd_serve() {
    LD_PRELOAD=$4 setsid apache2 -f "$1/httpd.conf" -DFOREGROUND 2>>"$1/logs/error.log" &
    pid=$!
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" || true
            return 1
        fi
        http_get "$2" "$3" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 2
}
