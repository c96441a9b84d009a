#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks docs/tutorial.md: extracts its code exactly as printed and runs it.
#   scripts/tutorial.sh [BUILD_DIR]    (default: the repository's build/)
#
# Every code block marked `file=NAME` becomes the file NAME, byte for byte;
# the only change is in greet.policy, whose @include of the installed
# base.policy is pointed at BUILD_DIR/policies/base.policy.  Every block
# marked `step=NAME` is a command of the tutorial, run as printed from the
# tutorial's working directory (a temporary one), with the environment the
# tutorial's "Before you start" sets for a build directory: BUILD_DIR's
# programs first on PATH, its uninstalled pkg-config files and library.
# No TTY needed; every wait is bounded; any failure prints the supervisor's
# log and exits non-zero.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
doc=$repo/docs/tutorial.md
build=${1:-$repo/build}
[ $# -le 1 ] || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }
[ -d "$build" ] || { echo "tutorial: no build directory $build" >&2; exit 2; }
build=$(cd "$build" && pwd)

INSTALLED_BASE=/usr/local/share/uipc/policies/base.policy # as printed in greet.policy

work=""
log=""
sup_pid=""
log_shown=false

show_log() {
    $log_shown && return 0
    log_shown=true
    if [ -n "$log" ] && [ -f "$log" ]; then
        echo "---- supervisor log ($log) ----" >&2
        cat "$log" >&2
        echo "---- end of supervisor log ----" >&2
    fi
}

fail() {
    echo "tutorial: FAILED: $*" >&2
    show_log
    exit 1
}

alive() { [ -n "$sup_pid" ] && kill -0 "$sup_pid" 2>/dev/null; }

# Module processes the log says were started, if they still run this
# tutorial's binaries (their pid may have been reused otherwise).
leftover_modules() {
    [ -n "$log" ] && [ -f "$log" ] || return 0
    local pid exe
    sed -n 's/.* \(greeter\|caller\): started, pid \([0-9]*\)$/\2/p' "$log" | while read -r pid; do
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
        case $exe in "$work"/*) echo "$pid" ;; esac
    done
}

cleanup() {
    local rc=$? i
    trap - EXIT
    if alive; then
        kill -TERM "$sup_pid" 2>/dev/null || true
        i=0
        while alive && ((i++ < 100)); do sleep 0.05; done
        ! alive || kill -KILL "$sup_pid" 2>/dev/null || true
    fi
    local pids
    mapfile -t pids < <(leftover_modules)
    [ ${#pids[@]} -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
    if [ "$rc" -ne 0 ]; then
        echo "tutorial: FAILED (exit status $rc)" >&2
        show_log
    fi
    [ -z "$work" ] || rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The body of the one code block whose opening line is exactly "```INFO".
# (Often run in $(...): it reports and exits, the caller's set -e does the rest.)
block() {
    local info=$1 n
    n=$(grep -cxF -- "\`\`\`$info" "$doc" || true)
    if [ "$n" -ne 1 ]; then
        echo "tutorial: docs/tutorial.md has $n code blocks marked '$info', not 1" >&2
        exit 1
    fi
    awk -v open="\`\`\`$info" '
        inside && $0 == "```" { done = 1; exit }
        inside { print }
        $0 == open { inside = 1 }
        END { if (!done) exit 1 }' "$doc" || { echo "tutorial: the block '$info' is not closed" >&2; exit 1; }
}

extract() { # info string, file
    block "$1" >"$work/$2"
    [ -s "$work/$2" ] || fail "the block '$1' is empty"
}

# Runs a step=NAME block as printed, from the working directory; its
# output is kept in $out and shown.
step() {
    local name=$1 cmd rc=0
    cmd=$(block "sh step=$name")
    printf '%s\n' "$cmd" | sed 's/^/==> /'
    out=$(cd "$work" && timeout 60 bash -euo pipefail -c "$cmd" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" >&2
        fail "step $name exited with status $rc"
    fi
    [ -z "$out" ] || printf '%s\n' "$out"
}

# Waits up to $2 seconds for $3 lines of the log matching the ERE $1 (for
# $4), while the supervisor runs.
wait_log() {
    local re=$1 secs=$2 count=$3 what=$4 i
    for ((i = 0; i < secs * 20; i++)); do
        [ "$(grep -cE -- "$re" "$log" || true)" -ge "$count" ] && return 0
        alive || fail "the supervisor exited while waiting for $what"
        sleep 0.05
    done
    fail "no $what in the log after $secs s"
}

# The table row of uipcctl's output whose first columns are the words given.
row() {
    printf '%s\n' "$out" | awk -v key="$*" '{ n = split(key, k, " "); ok = 1
        for (i = 1; i <= n; i++) if ($i != k[i]) ok = 0
        if (ok) { print; found = 1 } } END { exit !found }'
}

# ---- the files, exactly as printed ----
[ -f "$doc" ] || fail "no $doc"
for f in "$build/supervisor/uipc-supervisor" "$build/tools/uipcctl" \
         "$build/meson-uninstalled/uipc-module-uninstalled.pc" "$build/policies/base.policy"; do
    [ -e "$f" ] || fail "$f is missing: build first (ninja -C $build)"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/uipc-tutorial.XXXXXX")
log=$work/supervisor.log
echo "==> docs/tutorial.md -> $work"
extract "c file=greeter.c" greeter.c
extract "c file=caller.c" caller.c
extract "text file=greet.policy" greet.policy
extract "ini file=modules.conf" modules.conf
# the one substitution: the installed base policy -> this build's
[ "$(grep -cxF "@include $INSTALLED_BASE" "$work/greet.policy" || true)" -eq 1 ] ||
    fail "greet.policy has no line '@include $INSTALLED_BASE'"
awk -v from="@include $INSTALLED_BASE" -v to="@include $build/policies/base.policy" \
    '{ print ($0 == from ? to : $0) }' "$work/greet.policy" >"$work/greet.policy.new"
mv "$work/greet.policy.new" "$work/greet.policy"
ls -l "$work"

# ---- the environment of "Before you start", for a build directory ----
export PATH="$build/supervisor:$build/tools:$PATH"
export PKG_CONFIG_PATH="$build/meson-uninstalled"
export LD_LIBRARY_PATH="$build/libmodule${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ "$(command -v uipc-supervisor)" = "$build/supervisor/uipc-supervisor" ] ||
    fail "uipc-supervisor on PATH is $(command -v uipc-supervisor), not $build's"
[ "$(command -v uipcctl)" = "$build/tools/uipcctl" ] ||
    fail "uipcctl on PATH is $(command -v uipcctl), not $build's"

# ---- build, check, run ----
step build
if ! [ -x "$work/greeter" ] || ! [ -x "$work/caller" ]; then fail "the build made no greeter and caller"; fi
step check
[ "$out" = "modules.conf: ok, 2 modules, 1 channels" ] || fail "unexpected check: $out"

sup_cmd=$(block "sh step=supervisor")
[ "$(printf '%s\n' "$sup_cmd" | wc -l)" -eq 1 ] || fail "step supervisor is not one command"
echo "==> $sup_cmd &   (log: $log)"
# exec twice: $! is the supervisor itself, for the SIGINT below
(cd "$work" && exec bash -c "exec $sup_cmd") >"$log" 2>&1 </dev/null &
sup_pid=$!
wait_log ' info  caller: call [0-9]+: hello, world$' 10 1 "first reply to the caller"

step status
row greeter ready >/dev/null || fail "greeter is not ready"
row caller ready >/dev/null || fail "caller is not ready"

step kill
wait_log ' warn  greeter: killed by signal SIGKILL after ' 10 1 "death of greeter"
wait_log ' info  greeter: started, pid [0-9]+$' 10 2 "restart of greeter"
# the caller's call made while the greeter was down waited for it (UIPC_WAIT_READY)
for ((i = 0; i < 200; i++)); do
    awk '/ warn  greeter: killed by signal SIGKILL after / { k = 1 }
         k && / info  caller: call [0-9]+: hello, world \(after [0-9]+ ms\)$/ { ok = 1 } END { exit !ok }' "$log" && break
    alive || fail "the supervisor exited while waiting for a call that waited for the greeter"
    sleep 0.05
done
((i < 200)) || fail "no call that waited for the greeter answered within 10 s of its death"
# a reply after the second start
for ((i = 0; i < 200; i++)); do
    awk '/ info  greeter: started, pid / { n++ } n >= 2 && / info  caller: call [0-9]+: hello, world$/ { ok = 1 }
         END { exit !ok }' "$log" && break
    alive || fail "the supervisor exited while waiting for a reply after the restart"
    sleep 0.05
done
((i < 200)) || fail "no reply to the caller after greeter's restart within 10 s"

step status
row greeter ready >/dev/null || fail "greeter is not ready after its restart"
[ "$(row greeter ready | awk '{ print $5 }')" = 1 ] || fail "greeter's RESTARTS is not 1"
row greeter ready | grep -q 'killed by signal SIGKILL$' || fail "greeter's LAST-EXIT is not SIGKILL"

step stats
r=$(row greet caller greeter) || fail "no stats for greet, caller -> greeter"
read -r _ _ _ calls ok _ timed_out proto _ <<<"$r"
if ! { [ "$ok" -gt 0 ] && [ "$ok" -le "$calls" ] && [ "$timed_out" -eq 0 ] && [ "$proto" -eq 0 ]; }; then
    fail "unexpected stats: $r"
fi

# ---- reload ----
step reload
printf '%s\n' "$out" | grep -qx 'greeter: its settings changed: restarts once with them' ||
    fail "reload did not say that the greeter changed"
printf '%s\n' "$out" | grep -q 'caller' && fail "reload touched the caller"
wait_log ' info  greeter: started, pid [0-9]+$' 10 3 "greeter's restart for the new settings"
[ "$(grep -cE ' info  caller: started, pid ' "$log")" -eq 1 ] || fail "the caller was restarted by the reload"

# ---- Ctrl-C ----
echo "==> Ctrl-C (SIGINT to the supervisor, pid $sup_pid)"
kill -INT "$sup_pid"
for ((i = 0; i < 200; i++)); do alive || break; sleep 0.05; done
alive && fail "the supervisor still runs 10 s after SIGINT"
rc=0
wait "$sup_pid" || rc=$?
sup_pid=""
[ "$rc" -eq 0 ] || fail "the supervisor exited with status $rc"
for re in ' info  supervisor: SIGINT received, stopping modules$' ' info  caller: [0-9]+ of [0-9]+ calls answered$' \
          ' info  caller: exited with code 0 after ' ' info  greeter: greetings served: [0-9]+$' \
          ' info  greeter: exited with code 0 after ' ' info  supervisor: stopped$'; do
    grep -qE -- "$re" "$log" || fail "no line matching '$re' in the log"
done
[ -z "$(leftover_modules)" ] || fail "modules still run after the supervisor stopped"
echo "==> the supervisor's log, abridged"
grep -E ' (greeter: (SIGKILL sent|killed by|restart in|started|greetings served)|caller: (call [0-9]+: hello, world \(after|[0-9]+ of)|supervisor: (SIGINT|stopped))' "$log"
echo "tutorial: ok"
