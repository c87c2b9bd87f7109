#!/bin/sh
# cycles.sh DIR... - fail when the object files of a folder call each other
# in a cycle.  A file "uses" another when one of its undefined symbols is
# defined there (nm); the files are then sorted so that each comes after
# everything it uses.  Whatever cannot be sorted lies on a cycle and is
# named, with the symbols that tie it.  Run by `make check` on build/shim,
# build/core and build/tool (README, "Layout of the source").
set -eu
status=0
for dir in "$@"; do
    ls "$dir"/*.o >/dev/null 2>&1 || { echo "cycles.sh: no objects in $dir" >&2; exit 2; }
    nm -A "$dir"/*.o | awk -v dir="$dir" '
    {
        # "path.o:[addr] TYPE name" (the address is glued to the path)
        f = $1; sub(/:.*/, "", f); sub(/.*\//, "", f); sub(/\.o$/, "", f)
        files[f] = 1
        if ($2 == "U") unames[f] = unames[f] " " $3
        else if ($2 ~ /^[TDBRVWG]$/) def[$3] = f
    }
    END {
        for (f in files) {
            n = split(unames[f], u, " ")
            for (i = 1; i <= n; i++) {
                g = def[u[i]]
                if (g != "" && g != f && !((f, g) in edge)) {
                    edge[f, g] = u[i]; out[f]++
                }
            }
        }
        # Kahn: repeatedly drop files that use nothing still present.
        left = 0
        for (f in files) left++
        do {
            changed = 0
            for (f in files) {
                if (done[f]) continue
                busy = 0
                for (g in files) if (!done[g] && (f, g) in edge) { busy = 1; break }
                if (!busy) { done[f] = 1; left--; changed = 1 }
            }
        } while (changed)
        if (left == 0) { printf "%s: no cycles between files\n", dir; exit 0 }
        printf "%s: files that call each other in a cycle:\n", dir
        for (f in files) if (!done[f])
            for (g in files) if (!done[g] && (f, g) in edge)
                printf "  %s -> %s (%s)\n", f, g, edge[f, g]
        exit 1
    }' || status=1
done
exit $status
