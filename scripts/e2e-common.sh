# e2e-common.sh - what the end-to-end scripts (e2e-httpd, e2e-pod, e2e-postgres,
# e2e-prometheus) share; sourced by bash.
#
# Outside the namespaces, after the run:
#   e2e_end NAME RC KEEP IPC_BEFORE [SHM_BEFORE]
# fails the run when the host's System V objects (`ipcs -a`), or with
# SHM_BEFORE its /dev/shm, differ from before; prints NAME's verdict with
# the transcript kept in KEEP; exits with the status.
#
# Inside, with $t the transcript: say (a line, also into the transcript),
# fail (a FAIL line, exit 1), show (a command and its output).

e2e_end() {
    local name=$1 rc=$2 keep=$3 ipc_before=$4
    if [ "$(ipcs -a)" != "$ipc_before" ]; then
        echo "$name: FAIL: the host's System V objects changed" >&2
        rc=1
    fi
    if [ $# -ge 5 ] && [ "$(ls -A /dev/shm)" != "$5" ]; then
        echo "$name: FAIL: the host's /dev/shm changed: $(ls -A /dev/shm | tr '\n' ' ')" >&2
        rc=1
    fi
    if [ "$rc" = 0 ]; then
        echo "$name: PASS (transcript: $keep/transcript.txt)"
    else
        echo "$name: FAIL (transcript: $keep/transcript.txt)" >&2
    fi
    exit "$rc"
}

say() { printf '%s\n' "$*" | tee -a "$t"; }
fail() { say "FAIL: $*"; exit 1; }
show() { # a command and its output, into the transcript
    say "\$ $*"
    "$@" 2>&1 | tee -a "$t" || true
}
