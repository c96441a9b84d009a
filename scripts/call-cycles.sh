#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Which .c file of one directory calls functions defined in which other,
# from the compiled objects (nm), and the call cycles between them.
#
#   scripts/call-cycles.sh SRCDIR [OBJECTS...]
#
# SRCDIR: the directory whose .c files are checked (libmodule, supervisor).
# OBJECTS: object files, static archives or build directories searched for
# *.o; default: the build directory's copy of SRCDIR (build/SRCDIR, or
# $UIPC_BUILD/SRCDIR).  An object counts for SRCDIR/X.c if it is named
# X.c.o, as meson names them; a file compiled into several targets counts
# once, with the union of its symbols.
#
# Prints every file's calls into the others (with the functions called),
# then either the cycles (groups of files that reach each other through
# calls, with the calls inside each group) or, if there is none, the
# layers: layer 0 calls no other file, layer k calls only files of lower
# layers.  Exit status: 0 no cycle, 1 a cycle, 2 usage error, or a .c file
# with no object (a check that skips files would pass for the wrong reason).
#
# Objects, not the sources: they show the calls the compiler kept, after
# macros and inline headers, and no regex has to guess what a call is.
# Only functions count (global text symbols, T/W); shared data does not.
set -euo pipefail

usage() {
    echo "usage: $0 SRCDIR [OBJECT|ARCHIVE|BUILDDIR]..." >&2
    exit 2
}
[ $# -ge 1 ] || usage
srcdir=$1
shift
[ -d "$srcdir" ] || { echo "$0: $srcdir: not a directory" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
    rel=$(realpath --relative-to="$root" "$srcdir")
    set -- "${UIPC_BUILD:-$root/build}/$rel"
fi

objects=()
for o in "$@"; do
    if [ -d "$o" ]; then
        while IFS= read -r f; do objects+=("$f"); done < <(find "$o" -name '*.o' | sort)
    elif [ -f "$o" ]; then
        objects+=("$o")
    else
        echo "$0: $o: no such object, archive or directory (build first)" >&2
        exit 2
    fi
done
[ ${#objects[@]} -gt 0 ] || { echo "$0: no object files in $*" >&2; exit 2; }

sources=$(cd "$srcdir" && ls -1 -- *.c 2>/dev/null) || true
[ -n "$sources" ] || { echo "$0: no .c files in $srcdir" >&2; exit 2; }

# nm -A -P: "FILE: NAME TYPE ..." or, for an archive member,
# "ARCHIVE[MEMBER]: NAME TYPE ...".
symbols=$(nm -A -P "${objects[@]}") || { echo "$0: nm failed" >&2; exit 2; }
awk -v sources="$sources" -v srcdir="$srcdir" '
function file_of(where,    f, n, parts) {
    sub(/: *$/, "", where)
    if (match(where, /\[[^]]*\]$/))
        where = substr(where, RSTART + 1, RLENGTH - 2)
    n = split(where, parts, "/")
    f = parts[n]
    sub(/\.o$/, "", f)
    return f
}
BEGIN {
    nf = split(sources, names, "\n")
    for (i = 1; i <= nf; i++)
        known[names[i]] = i
}
{
    f = file_of($1)
    if (!(f in known))
        next
    seen[f] = 1
    if ($3 == "T" || $3 == "W") {
        if (!((f, $2) in defs)) {
            defs[f, $2] = 1
            definers[$2] = definers[$2] " " f
        }
    } else if ($3 == "U") {
        undef[f, $2] = 1
    }
}
END {
    missing = 0
    for (i = 1; i <= nf; i++)
        if (!(names[i] in seen)) {
            printf "%s/%s: no object file: not checked\n", srcdir, names[i] > "/dev/stderr"
            missing++
        }
    # edges: caller -> definer, with the functions called
    for (key in undef) {
        split(key, ku, SUBSEP)
        caller = ku[1]; sym = ku[2]
        if (!(sym in definers))
            continue
        nd = split(definers[sym], ds, " ")
        for (k = 1; k <= nd; k++) {
            if (ds[k] == caller)
                continue
            a = known[caller]; b = known[ds[k]]
            edge[a, b] = 1
            via[a, b] = via[a, b] " " sym
        }
    }
    for (i = 1; i <= nf; i++)
        for (j = 1; j <= nf; j++)
            reach[i, j] = ((i, j) in edge)
    for (k = 1; k <= nf; k++)
        for (i = 1; i <= nf; i++)
            if (reach[i, k])
                for (j = 1; j <= nf; j++)
                    if (reach[k, j])
                        reach[i, j] = 1

    print "calls (file -> file: functions):"
    for (i = 1; i <= nf; i++) {
        if (!(names[i] in seen))
            continue
        any = 0
        for (j = 1; j <= nf; j++)
            if ((i, j) in edge) {
                printf "  %s -> %s:%s\n", names[i], names[j], sorted(via[i, j])
                any = 1
            }
        if (!any)
            printf "  %s -> (none)\n", names[i]
    }

    cycles = 0
    for (i = 1; i <= nf; i++) {
        if (done[i] || !reach[i, i])
            continue
        members = ""
        for (j = 1; j <= nf; j++)
            if (reach[i, j] && reach[j, i]) {
                done[j] = 1
                members = members " " names[j]
                scc[j] = i
            }
        cycles++
        printf "cycle:%s\n", members
        for (a = 1; a <= nf; a++)
            for (b = 1; b <= nf; b++)
                if ((a, b) in edge && scc[a] == i && scc[b] == i)
                    printf "  %s -> %s:%s\n", names[a], names[b], sorted(via[a, b])
    }
    if (cycles) {
        printf "%d cycle(s) between the .c files of %s\n", cycles, srcdir
        exit missing ? 2 : 1
    }

    # layer = length of the longest call chain down to a file that calls none
    for (round = 0; round < nf; round++)
        for (i = 1; i <= nf; i++)
            for (j = 1; j <= nf; j++)
                if ((i, j) in edge && layer[i] < layer[j] + 1)
                    layer[i] = layer[j] + 1
    top = 0
    for (i = 1; i <= nf; i++)
        if (layer[i] > top)
            top = layer[i]
    print "layers (each file calls only files of lower layers):"
    for (l = 0; l <= top; l++) {
        line = ""
        for (i = 1; i <= nf; i++)
            if ((names[i] in seen) && layer[i] + 0 == l)
                line = line " " names[i]
        printf "  %d:%s\n", l, line
    }
    if (missing) {
        printf "no cycle between the .c files of %s that have objects; %d have none\n", srcdir, missing
        exit 2
    }
    printf "no cycle between the .c files of %s\n", srcdir
    exit 0
}
# the words of s, sorted (insertion sort: a handful of names)
function sorted(s,    w, n, i, j, t, out) {
    n = split(s, w, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && w[j - 1] > w[j]; j--) {
            t = w[j]; w[j] = w[j - 1]; w[j - 1] = t
        }
    out = ""
    for (i = 1; i <= n; i++)
        out = out " " w[i]
    return out
}
' <<<"$symbols"
