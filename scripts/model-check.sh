#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Model-checks the slot protocol, docs/slot-protocol.pml, with spin
# (docs/architecture.md, "Model check (docs/slot-protocol.pml)").
#   scripts/model-check.sh [--model FILE] [--only NAME,...] [-DNAME[=VALUE]...]
#     --model FILE   check FILE instead of docs/slot-protocol.pml (for
#                    experiments, e.g. a mutated copy)
#     --only NAMES   run only these searches (comma-separated names, or
#                    prefixes ending in '*': --only 'safety-*,liveness')
#     -DNAME=VALUE   passed to spin's preprocessor for every run
#   MC_JOBS=N        searches run N at a time (default: 2, or 1 on one CPU)
#
# The searches, each exhaustive, in a temporary directory:
#  - honest peers: three safety searches (assertions, invalid end states)
#    with different bounds, and one liveness search (the LTL formula
#    `answered`, acceptance cycles under weak fairness);
#  - a byzantine server (-DBYZ_SERVER) and a lying client (-DBYZ_CLIENT):
#    safety searches, with every property, and every lie but the open
#    finding's (positions and stamps anywhere: architecture.md, finding 7);
#  - one search per open finding, expected to FAIL with that finding's
#    assertion: it shows the counterexample still exists.  When the code is
#    fixed and the model follows, the search passes and is reported as a
#    failure, so the finding and this list are updated together.
# Prints one line per search and a total; exits non-zero on any error,
# assertion violation, invalid end state, acceptance cycle or incomplete
# search (or a missing expected counterexample).  On a failure the
# temporary directory is kept, with the counterexample replayed into
# trail.txt.  Needs spin and gcc; installs nothing (Debian: apt-get install
# spin gcc).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

model=docs/slot-protocol.pml
defs=()
only=
while [ $# -gt 0 ]; do
    case $1 in
    --model) [ $# -ge 2 ] || { echo "model-check: --model needs a file" >&2; exit 2; }
             case $2 in /*) model=$2 ;; *) model=$caller/$2 ;; esac
             shift 2 ;;
    --only)  [ $# -ge 2 ] || { echo "model-check: --only needs names" >&2; exit 2; }
             only=$2; shift 2 ;;
    -D*)     defs+=("$1"); shift ;;
    *)       echo "usage: $0 [--model FILE] [--only NAME,...] [-DNAME[=VALUE]...]" >&2; exit 2 ;;
    esac
done
[ -f "$model" ] || { echo "model-check: no model $model" >&2; exit 2; }
for tool in spin gcc; do
    command -v "$tool" >/dev/null || { echo "model-check: $tool not found (Debian: apt-get install spin gcc)" >&2; exit 2; }
done
cpus=$(nproc 2>/dev/null || echo 1)
jobs=${MC_JOBS:-$([ "$cpus" -ge 2 ] && echo 2 || echo 1)}

work=$(mktemp -d "${TMPDIR:-/tmp}/model-check.XXXXXX")
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT

DEPTH=20000   # -m: far above the deepest path of these bounds (under 1000)
HASH=24       # -w: 2^24 hash slots (pan grows the table when it fills)

# name | mode | expected | bounds (spin -D)
# expected: pass, or the text (an extended regex) of the assertion pan must
# report first (an open finding).
runs=(
    "safety-a|safety|pass|-DNS=2 -DNCALLS=2 -DMAXSC=2 -DMAXCC=1 -DMAXTO=1"
    "safety-b|safety|pass|-DNS=2 -DNCALLS=3 -DMAXSC=1 -DMAXCC=1 -DMAXTO=1"
    "safety-c|safety|pass|-DNS=1 -DNCALLS=3 -DMAXSC=2 -DMAXCC=1 -DMAXTO=1"
    "liveness|liveness|pass|-DNS=2 -DNCALLS=2 -DMAXSC=1 -DMAXCC=1 -DMAXTO=1"
    "byzsrv-a|safety|pass|-DNS=1 -DNCALLS=3 -DMAXSC=1 -DMAXCC=1 -DMAXTO=1 -DBYZ_SERVER"
    "byzsrv-b|safety|pass|-DNS=2 -DNCALLS=2 -DMAXSC=1 -DMAXCC=0 -DMAXTO=0 -DBYZ_SERVER"
    "byzsrv-c|safety|pass|-DNS=1 -DNCALLS=2 -DMAXSC=2 -DMAXCC=0 -DMAXTO=1 -DBYZ_SERVER"
    "byzsrv-d|safety|pass|-DNS=1 -DNCALLS=2 -DMAXSC=1 -DMAXCC=0 -DMAXTO=1 -DBYZ_STEPS=2 -DBYZ_SERVER"
    "byzsrv-e|safety|pass|-DNS=1 -DNCALLS=2 -DMAXSC=2 -DMAXCC=1 -DMAXTO=0 -DBYZ_SERVER -DBYZ_WHAT=1"
    "byzsrv-f|safety|pass|-DNS=1 -DNCALLS=3 -DMAXSC=1 -DMAXCC=0 -DMAXTO=2 -DBYZ_STEPS=2 -DBYZ_SERVER -DBYZ_WHAT=4"
    "byzcli-a|safety|pass|-DNS=1 -DNCALLS=2 -DMAXSC=1 -DMAXCC=1 -DMAXTO=1 -DBYZ_CLIENT"
    "byzcli-b|safety|pass|-DNS=2 -DNCALLS=2 -DMAXSC=1 -DMAXCC=0 -DMAXTO=0 -DBYZ_CLIENT"
    "open-7|safety|npending==0|-DNS=1 -DNCALLS=2 -DMAXSC=1 -DMAXCC=0 -DMAXTO=0 -DBYZ_SERVER -DBYZ_POS -DBYZ_WHAT=16"
)

selected() {
    [ -z "$only" ] && return 0
    local pat
    IFS=',' read -ra pats <<<"$only"
    for pat in "${pats[@]}"; do
        # shellcheck disable=SC2053 # a glob on purpose
        [[ $1 == $pat ]] && return 0
    done
    return 1
}

# One search, in $work/NAME; writes NAME/result: "status|states|depth|errors|ms".
search() {
    local name=$1 mode=$2 expect=$3 bounds=$4
    local dir=$work/$name
    mkdir -p "$dir"
    cp "$model" "$dir/slot-protocol.pml"
    # shellcheck disable=SC2206 # the bounds are words on purpose
    local sdefs=($bounds "${defs[@]}")
    local cflags pflags
    if [ "$mode" = safety ]; then
        cflags=(-DSAFETY -DNOCLAIM -DCOLLAPSE)
        pflags=()
    else
        cflags=(-DCOLLAPSE)
        pflags=(-a -f)
    fi
    local start ms
    start=$(date +%s%N)
    if ! (cd "$dir" && spin "${sdefs[@]}" -a slot-protocol.pml >spin.log 2>&1); then
        { echo "spin -a failed:"; cat "$dir/spin.log"; } >"$dir/problems"
        echo "fail|?|?|?|0" >"$dir/result"; return
    fi
    if ! (cd "$dir" && gcc -O2 -w "${cflags[@]}" -o pan pan.c 2>gcc.log); then
        { echo "gcc failed:"; cat "$dir/gcc.log"; } >"$dir/problems"
        echo "fail|?|?|?|0" >"$dir/result"; return
    fi
    (cd "$dir" && ./pan "${pflags[@]}" -m"$DEPTH" -w"$HASH" >pan.out 2>&1) || true
    ms=$((($(date +%s%N) - start) / 1000000))
    local out=$dir/pan.out states depth errors
    states=$(awk '/states, stored/ { print $1; exit }' "$out")
    depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | head -1)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -1)
    : >"$dir/problems"
    [ -n "$states" ] && [ -n "$depth" ] && [ -n "$errors" ] || echo "no statistics from pan" >>"$dir/problems"
    # pan's own reports: "pan:1: assertion violated ...", "pan:1: invalid end
    # state ...", "pan:1: acceptance cycle ..."
    local reports
    reports=$(grep -E '^pan:[0-9]+: ' "$out" || true)
    grep -q "max search depth too small" "$out" && echo "max search depth too small: raise DEPTH" >>"$dir/problems"
    grep -qi "out of memory" "$out" && echo "out of memory" >>"$dir/problems"
    if [ "$expect" = pass ]; then
        [ "${errors:-1}" = 0 ] || echo "errors: ${errors:-?}" >>"$dir/problems"
        [ -z "$reports" ] || echo "$reports" >>"$dir/problems"
        grep -q "Search not completed" "$out" && echo "search not completed" >>"$dir/problems"
    else
        if [ "${errors:-0}" = 0 ] || ! head -1 <<<"$reports" | grep -Eq -- "$expect"; then
            echo "expected the open finding's counterexample (assertion matching '$expect'), got: ${reports:-none}" >>"$dir/problems"
        fi
    fi
    if [ -s "$dir/problems" ] && [ "$expect" = pass ] && ls "$dir"/*.trail >/dev/null 2>&1; then
        (cd "$dir" && spin "${sdefs[@]}" -t -p -g -l slot-protocol.pml >trail.txt 2>&1) || true
        echo "counterexample: $dir/trail.txt" >>"$dir/problems"
        echo "replay: cd $dir && spin ${sdefs[*]} -t -p -g -l slot-protocol.pml" >>"$dir/problems"
    fi
    local status=ok
    [ -s "$dir/problems" ] && status=fail
    echo "$status|${states:-?}|${depth:-?}|${errors:-?}|$ms" >"$dir/result"
}

names=()
running=0
start_all=$(date +%s%N)
for run in "${runs[@]}"; do
    IFS='|' read -r name mode rest <<<"$run"
    # the expected text may hold '|': the bounds are the last field
    bounds=${rest##*|}
    expect=${rest%|*}
    selected "$name" || continue
    names+=("$name|$mode|$expect|$bounds")
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    search "$name" "$mode" "$expect" "$bounds" &
    running=$((running + 1))
done
wait || true
wall_ms=$((($(date +%s%N) - start_all) / 1000000))
[ ${#names[@]} -gt 0 ] || { echo "model-check: no search matches --only $only" >&2; exit 2; }

failed=0
total_states=0
max_depth=0
total_ms=0
nopen=0
for entry in "${names[@]}"; do
    IFS='|' read -r name mode rest <<<"$entry"
    bounds=${rest##*|}
    expect=${rest%|*}
    IFS='|' read -r status states depth errors ms <"$work/$name/result"
    what=$mode
    [ "$expect" = pass ] || { what="open"; nopen=$((nopen + 1)); }
    printf '%-9s %-9s states %9s  depth %4s  errors %s  %3d.%01ds  (%s)\n' \
        "$name" "$what" "$states" "$depth" "$errors" $((ms / 1000)) $((ms % 1000 / 100)) "$bounds"
    case $states in *[!0-9]*|'') ;; *) total_states=$((total_states + states)) ;; esac
    case $depth in *[!0-9]*|'') ;; *) [ "$depth" -le "$max_depth" ] || max_depth=$depth ;; esac
    total_ms=$((total_ms + ms))
    if [ "$status" != ok ]; then
        failed=1; keep=1
        while IFS= read -r p; do echo "  $name: $p" >&2; done <"$work/$name/problems"
    fi
done

summary=$(printf '%d searches (%d open findings shown): %d states stored, max depth %d, %ds of search, %ds wall with %d jobs' \
    "${#names[@]}" "$nopen" "$total_states" "$max_depth" $((total_ms / 1000)) $((wall_ms / 1000)) "$jobs")
if [ "$failed" = 0 ]; then
    echo "model-check: OK: $summary ($model${defs[*]:+ ${defs[*]}})"
else
    echo "model-check: FAILED: $summary ($model${defs[*]:+ ${defs[*]}}); kept $work" >&2
    exit 1
fi
