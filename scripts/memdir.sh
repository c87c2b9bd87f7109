# memdir.sh - sourced by the scripts: sg_memdir PREFIX makes a fresh
# directory on tmpfs (the library uses a ledger directory only there:
# $TMPDIR when it is on tmpfs, else /dev/shm, else /tmp) and prints its
# path; exits 1 with one line when there is none.  The caller removes it.
sg_memdir() {
    for base in "${TMPDIR:-}" /dev/shm /tmp; do
        [ -n "$base" ] && [ -d "$base" ] || continue
        case $(stat -f -c %T "$base" 2>/dev/null) in
        tmpfs | ramfs) mktemp -d "$base/$1.XXXXXX" && return 0 ;;
        esac
    done
    echo "$0: no directory on tmpfs for the ledgers (tried \$TMPDIR, /dev/shm, /tmp); set TMPDIR to one" >&2
    exit 1
}
