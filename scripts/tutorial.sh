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
# The last chapter runs two more supervisors at once, hosts A and B, whose
# bridges meet on 127.0.0.1:7400 (as host-a.conf says); that port must be
# free.  No TTY needed; every wait is bounded; any failure prints the
# supervisors' logs and exits non-zero.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
doc=$repo/docs/tutorial.md
build=${1:-$repo/build}
[ $# -le 1 ] || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }
[ -d "$build" ] || { echo "tutorial: no build directory $build" >&2; exit 2; }
build=$(cd "$build" && pwd)

INSTALLED_BASE=/usr/local/share/uipc/policies/base.policy # as printed in greet.policy

work=""
log=""      # the first supervisor's log (chapters 5 to 9)
sup_pid=""
a_log=""    # hosts A and B (chapter 10)
a_pid=""
b_log=""
b_pid=""
log_shown=false

show_log() {
    local f
    $log_shown && return 0
    log_shown=true
    for f in "$log" "$a_log" "$b_log"; do
        if [ -n "$f" ] && [ -f "$f" ]; then
            echo "---- supervisor log ($f) ----" >&2
            cat "$f" >&2
            echo "---- end of supervisor log ----" >&2
        fi
    done
}

fail() {
    echo "tutorial: FAILED: $*" >&2
    show_log
    exit 1
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
alive() { pid_alive "$sup_pid"; }

# Module processes the logs say were started, if they still run this
# tutorial's binaries or the build's bridge (their pid may have been
# reused otherwise).
leftover_modules() {
    local f pid exe
    for f in "$log" "$a_log" "$b_log"; do
        [ -n "$f" ] && [ -f "$f" ] || continue
        sed -n 's/.* \(greeter\|caller\|bridge\): started, pid \([0-9]*\)$/\2/p' "$f" | while read -r pid; do
            exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
            case $exe in "$work"/* | "$build/tools/uipc-bridge") echo "$pid" ;; esac
        done
    done
}

# SIGTERM to a supervisor, SIGKILL if it still runs 5 s later.
stop_supervisor() {
    local pid=$1 i=0
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while pid_alive "$pid" && ((i++ < 100)); do sleep 0.05; done
    ! pid_alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT
    stop_supervisor "$sup_pid"
    stop_supervisor "$b_pid"
    stop_supervisor "$a_pid"
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

# Waits up to $4 seconds for $5 lines of the log $1 matching the ERE $3
# (for $6), while the supervisor $2 runs.
wait_in() {
    local file=$1 pid=$2 re=$3 secs=$4 count=$5 what=$6 i
    for ((i = 0; i < secs * 20; i++)); do
        [ "$(grep -cE -- "$re" "$file" || true)" -ge "$count" ] && return 0
        pid_alive "$pid" || fail "the supervisor exited while waiting for $what"
        sleep 0.05
    done
    fail "no $what in $(basename "$file") after $secs s"
}
wait_log() { wait_in "$log" "$sup_pid" "$@"; }

# Waits up to $4 seconds until the awk program $3 exits 0 on the log $1
# (for $5), while the supervisor $2 runs.
wait_awk() {
    local file=$1 pid=$2 prog=$3 secs=$4 what=$5 i
    for ((i = 0; i < secs * 20; i++)); do
        awk "$prog" "$file" && return 0
        pid_alive "$pid" || fail "the supervisor exited while waiting for $what"
        sleep 0.05
    done
    fail "no $what in $(basename "$file") after $secs s"
}

# Starts the one-command block step=$1 in the background, from the working
# directory, its output to $2; sets started_pid (the supervisor itself:
# exec twice, so that signals reach it).
start_step() {
    local cmd
    cmd=$(block "sh step=$1")
    [ "$(printf '%s\n' "$cmd" | wc -l)" -eq 1 ] || fail "step $1 is not one command"
    echo "==> $cmd &   (log: $2)"
    (cd "$work" && exec bash -c "exec $cmd") >"$2" 2>&1 </dev/null &
    started_pid=$!
}

# SIGINT to the supervisor $1 (Ctrl-C), which must exit 0 within 10 s.
ctrl_c() {
    local pid=$1 what=$2 i rc=0
    echo "==> Ctrl-C (SIGINT to $what, pid $pid)"
    kill -INT "$pid"
    for ((i = 0; i < 200; i++)); do pid_alive "$pid" || break; sleep 0.05; done
    pid_alive "$pid" && fail "$what still runs 10 s after SIGINT"
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "$what exited with status $rc"
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
[ -x "$build/tools/uipc-bridge" ] ||
    fail "$build/tools/uipc-bridge is missing: the last chapter needs it (meson finds libnng: libnng-dev)"
work=$(mktemp -d "${TMPDIR:-/tmp}/uipc-tutorial.XXXXXX")
log=$work/supervisor.log
echo "==> docs/tutorial.md -> $work"
extract "c file=greeter.c" greeter.c
extract "c file=caller.c" caller.c
extract "text file=greet.policy" greet.policy
extract "ini file=modules.conf" modules.conf
extract "ini file=host-a.conf" host-a.conf
extract "ini file=host-b.conf" host-b.conf
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
[ "$(command -v uipc-bridge)" = "$build/tools/uipc-bridge" ] ||
    fail "uipc-bridge on PATH is $(command -v uipc-bridge), not $build's"
# the bridges' port, as host-a.conf has it, must be free
port=$(sed -n 's|^args = --listen tcp://127\.0\.0\.1:\([0-9]*\) --plain$|\1|p' "$work/host-a.conf")
[ -n "$port" ] || fail "host-a.conf has no 'args = --listen tcp://127.0.0.1:PORT --plain'"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "127.0.0.1:$port is taken: the last chapter's bridges need it"
fi

# ---- build, check, run ----
step build
if ! [ -x "$work/greeter" ] || ! [ -x "$work/caller" ]; then fail "the build made no greeter and caller"; fi
step check
[ "$out" = "modules.conf: ok, 2 modules, 1 channels" ] || fail "unexpected check: $out"

start_step supervisor "$log"
sup_pid=$started_pid
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
ctrl_c "$sup_pid" "the supervisor"
sup_pid=""
for re in ' info  supervisor: SIGINT received, stopping modules$' ' info  caller: [0-9]+ of [0-9]+ calls answered$' \
          ' info  caller: exited with code 0 after ' ' info  greeter: greetings served: [0-9]+$' \
          ' info  greeter: exited with code 0 after ' ' info  supervisor: stopped$'; do
    grep -qE -- "$re" "$log" || fail "no line matching '$re' in the log"
done
[ -z "$(leftover_modules)" ] || fail "modules still run after the supervisor stopped"
echo "==> the supervisor's log, abridged"
grep -E ' (greeter: (SIGKILL sent|killed by|restart in|started|greetings served)|caller: (call [0-9]+: hello, world \(after|[0-9]+ of)|supervisor: (SIGINT|stopped))' "$log"

# ---- two hosts: uipc-bridge ----
a_log=$work/host-a.log
b_log=$work/host-b.log
step bridge
[ "$(readlink -f "$work/uipc-bridge")" = "$(readlink -f "$build/tools/uipc-bridge")" ] ||
    fail "./uipc-bridge is not the build's bridge"
step check-hosts
[ "$out" = "host-a.conf: ok, 2 modules, 1 channels
host-b.conf: ok, 2 modules, 1 channels" ] || fail "unexpected check: $out"

start_step host-a "$a_log"
a_pid=$started_pid
wait_in "$a_log" "$a_pid" ' info  bridge: ready after [0-9]+ ms$' 10 1 "host A's bridge ready"
start_step host-b "$b_log"
b_pid=$started_pid
up_b=' info  bridge: uipc-bridge: link up \(connected to tcp://127\.0\.0\.1:'"$port"'\): 1 services imported, 0 of the 0 the other end imports exported$'
up_a=' info  bridge: uipc-bridge: link up \(listening on tcp://127\.0\.0\.1:'"$port"'\): 0 services imported, 1 of the 1 the other end imports exported$'
wait_in "$b_log" "$b_pid" "$up_b" 10 1 "link up on host B"
wait_in "$a_log" "$a_pid" "$up_a" 10 1 "link up on host A"
# a few replies across the link (a first call made before the link was up
# may have failed with -UIPC_ENOLINK, as the page says)
wait_in "$b_log" "$b_pid" ' info  caller: call [0-9]+: hello, world$' 10 3 "replies to host B's caller"
! grep -E ' info  caller: call [0-9]+: ' "$b_log" | grep -vE 'call [0-9]+: hello, world$|call 1: remote service unreachable: no link, or down there; not run$' ||
    fail "host B's caller got an error other than a first call before the link"

step stats-hosts
r=$(row greet bridge greeter) || fail "no stats on host A for greet, bridge -> greeter"
read -r _ _ _ calls ok died _ <<<"$r"
{ [ "$ok" -gt 0 ] && [ "$ok" -le "$calls" ] && [ "$died" -eq 0 ]; } || fail "unexpected stats on host A: $r"
r=$(row greet caller bridge) || fail "no stats on host B for greet, caller -> bridge"
read -r _ _ _ calls ok _ <<<"$r"
[ "$ok" -gt 0 ] || fail "unexpected stats on host B: $r"

step cut
wait_in "$a_log" "$a_pid" ' warn  bridge: killed by signal SIGKILL after ' 10 1 "death of host A's bridge"
grep -qE ' info  bridge: restart in 1000 ms$' "$a_log" || fail "host A's bridge is not restarted in 1000 ms"
lost=' info  caller: call [0-9]+: link to the remote service lost; the call may have run$'
nolink=' info  caller: call [0-9]+: remote service unreachable: no link, or down there; not run$'
wait_in "$b_log" "$b_pid" ' info  bridge: uipc-bridge: link down: the connection closed; 1 calls out answered -UIPC_ELINKLOST$' \
    10 1 "link down with the slow call out on host B"
wait_in "$b_log" "$b_pid" "$lost" 10 1 "-UIPC_ELINKLOST to host B's caller"
# then -UIPC_ENOLINK while the link is down, the link back, and replies again
wait_awk "$b_log" "$b_pid" '
    $0 ~ /'"${lost//\//\\/}"'/ { l = 1 }
    l && $0 ~ /'"${nolink//\//\\/}"'/ { n = 1 }
    n && / info  bridge: uipc-bridge: link up \(connected to / { u = 1 }
    u && / info  caller: call [0-9]+: hello, world$/ { ok = 1 }
    END { exit !ok }' 15 "-UIPC_ENOLINK, the link back and a reply after it on host B"
wait_in "$a_log" "$a_pid" "$up_a" 10 2 "the link back on host A"
[ "$(grep -cE "$lost" "$b_log")" -eq 1 ] || fail "more than one call lost with the link"

step stats-b
r=$(row greet caller bridge) || fail "no stats on host B for greet, caller -> bridge"
read -r _ _ _ calls ok died timed_out proto _ <<<"$r"
{ [ "$died" -ge 2 ] && [ "$timed_out" -eq 0 ] && [ "$proto" -eq 0 ]; } || fail "unexpected stats on host B: $r"

ctrl_c "$b_pid" "host B's supervisor"
b_pid=""
ctrl_c "$a_pid" "host A's supervisor"
a_pid=""
answered=$(sed -n 's/.* info  caller: \([0-9]*\) of [0-9]* calls answered$/\1/p' "$b_log")
served=$(sed -n 's/.* info  greeter: greetings served: \([0-9]*\)$/\1/p' "$a_log")
[ -n "$answered" ] && [ -n "$served" ] || fail "no caller summary on host B or greeter summary on host A"
# the call lost with the link ran on A: one greeting more than answered
[ "$served" -eq $((answered + 1)) ] ||
    fail "host A's greeter served $served, host B's caller got $answered answers: not one less"
[ -z "$(leftover_modules)" ] || fail "modules still run after the supervisors stopped"
echo "==> hosts A and B, abridged"
grep -hE ' (bridge: (uipc-bridge: |SIGKILL sent|killed by|restart in)|caller: call [0-9]+: [^h]|caller: [0-9]+ of|greeter: (fault|greetings served))' \
    "$a_log" "$b_log"
echo "tutorial: ok"
