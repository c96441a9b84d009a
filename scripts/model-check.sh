#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Model-checks the slot protocol, docs/slot-protocol.pml, with spin
# (docs/architecture.md, "Model check (docs/slot-protocol.pml)").
#   scripts/model-check.sh [--model FILE] [-DNAME[=VALUE]...]
#     --model FILE   check FILE instead of docs/slot-protocol.pml (for
#                    experiments, e.g. a mutated copy)
#     -DNAME=VALUE   passed to spin's preprocessor for every run
#
# Four searches, each in a temporary directory: three exhaustive safety
# searches (assertions, invalid end states) with different bounds, and one
# liveness search (the LTL formula `answered`, acceptance cycles under weak
# fairness).  Prints one line per search and a total; exits non-zero on any
# error, assertion violation, invalid end state, acceptance cycle or
# incomplete search.  On a failure the temporary directory is kept, with the
# counterexample replayed into trail.txt.  Needs spin and gcc; installs
# nothing (Debian: apt-get install spin gcc).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

model=docs/slot-protocol.pml
defs=()
while [ $# -gt 0 ]; do
    case $1 in
    --model) [ $# -ge 2 ] || { echo "model-check: --model needs a file" >&2; exit 2; }
             case $2 in /*) model=$2 ;; *) model=$caller/$2 ;; esac
             shift 2 ;;
    -D*)     defs+=("$1"); shift ;;
    *)       echo "usage: $0 [--model FILE] [-DNAME[=VALUE]...]" >&2; exit 2 ;;
    esac
done
[ -f "$model" ] || { echo "model-check: no model $model" >&2; exit 2; }
for tool in spin gcc; do
    command -v "$tool" >/dev/null || { echo "model-check: $tool not found (Debian: apt-get install spin gcc)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/model-check.XXXXXX")
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT

DEPTH=20000   # -m: far above the deepest path of these bounds (under 1000)
HASH=24       # -w: 2^24 hash slots

# name | mode | bounds (spin -D)
runs=(
    "safety-a|safety|-DNS=2 -DNCALLS=2 -DMAXSC=2 -DMAXCC=1 -DMAXTO=1"
    "safety-b|safety|-DNS=2 -DNCALLS=3 -DMAXSC=1 -DMAXCC=1 -DMAXTO=1"
    "safety-c|safety|-DNS=1 -DNCALLS=3 -DMAXSC=2 -DMAXCC=1 -DMAXTO=1"
    "liveness|liveness|-DNS=2 -DNCALLS=2 -DMAXSC=1 -DMAXCC=1 -DMAXTO=1"
)

failed=0
total_states=0
total_errors=0
max_depth=0
total_ms=0
for run in "${runs[@]}"; do
    IFS='|' read -r name mode bounds <<<"$run"
    dir=$work/$name
    mkdir -p "$dir"
    cp "$model" "$dir/slot-protocol.pml"
    # shellcheck disable=SC2206 # the bounds are words on purpose
    sdefs=($bounds "${defs[@]}")
    if [ "$mode" = safety ]; then
        cflags=(-DSAFETY -DNOCLAIM)
        pflags=()
    else
        cflags=()
        pflags=(-a -f)
    fi
    start=$(date +%s%N)
    if ! (cd "$dir" && spin "${sdefs[@]}" -a slot-protocol.pml >spin.log 2>&1); then
        echo "model-check: $name: spin -a failed:" >&2
        cat "$dir/spin.log" >&2
        keep=1; failed=1; continue
    fi
    if ! (cd "$dir" && gcc -O2 -w "${cflags[@]}" -o pan pan.c 2>gcc.log); then
        echo "model-check: $name: gcc failed:" >&2
        cat "$dir/gcc.log" >&2
        keep=1; failed=1; continue
    fi
    (cd "$dir" && ./pan "${pflags[@]}" -m"$DEPTH" -w"$HASH" >pan.out 2>&1) || true
    ms=$((($(date +%s%N) - start) / 1000000))
    out=$dir/pan.out
    states=$(awk '/states, stored/ { print $1; exit }' "$out")
    depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | head -1)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -1)
    problems=()
    [ -n "$states" ] && [ -n "$depth" ] && [ -n "$errors" ] || problems+=("no statistics from pan")
    [ "${errors:-1}" = 0 ] || problems+=("errors: ${errors:-?}")
    # pan's own reports: "pan:1: assertion violated ...", "pan:1: invalid end
    # state ...", "pan:1: acceptance cycle ..."
    while IFS= read -r line; do problems+=("$line"); done < <(grep -E '^pan:[0-9]+: ' "$out" || true)
    grep -q "max search depth too small" "$out" && problems+=("max search depth too small: raise DEPTH")
    grep -q "Search not completed" "$out" && problems+=("search not completed")
    grep -qi "out of memory" "$out" && problems+=("out of memory")
    printf '%-8s %-9s states %9s  depth %4s  errors %s  %3d.%01ds  (%s)\n' \
        "$name" "$mode" "${states:-?}" "${depth:-?}" "${errors:-?}" $((ms / 1000)) $((ms % 1000 / 100)) "$bounds"
    total_states=$((total_states + ${states:-0}))
    total_errors=$((total_errors + ${errors:-1}))
    [ "${depth:-0}" -le "$max_depth" ] || max_depth=$depth
    total_ms=$((total_ms + ms))
    if [ ${#problems[@]} -gt 0 ]; then
        failed=1; keep=1
        for p in "${problems[@]}"; do echo "  $name: $p" >&2; done
        if ls "$dir"/*.trail >/dev/null 2>&1; then
            (cd "$dir" && spin "${sdefs[@]}" -t -p -g -l slot-protocol.pml >trail.txt 2>&1) || true
            echo "  $name: counterexample: $dir/trail.txt" >&2
            echo "  $name: replay: cd $dir && spin ${sdefs[*]} -t -p -g -l slot-protocol.pml" >&2
        fi
    fi
done

summary=$(printf '%d searches: %d states stored, max depth %d, %d errors, %ds' \
    "${#runs[@]}" "$total_states" "$max_depth" "$total_errors" $((total_ms / 1000)))
if [ "$failed" = 0 ]; then
    echo "model-check: OK: $summary ($model${defs[*]:+ ${defs[*]}})"
else
    echo "model-check: FAILED: $summary ($model${defs[*]:+ ${defs[*]}}); kept $work" >&2
    exit 1
fi
