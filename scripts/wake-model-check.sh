#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Model-checks the sleep/wake handshake, docs/wake-protocol.pml, with spin:
#  - the handshake as wait.c has it: no lost wake-up (must pass);
#  - -DSNAP_AFTER_ARM, the futex word read after the flag is set: the
#    search must find the lost wake-up, or the model checks nothing.
# Exits non-zero otherwise; on a failure the temporary directory is kept.
# Needs spin and gcc (Debian: apt-get install spin gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
model=$PWD/docs/wake-protocol.pml
for tool in spin gcc; do
    command -v "$tool" >/dev/null || { echo "wake-model-check: $tool not found" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/wake-model.XXXXXX")
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT

search() { # name, expected (pass|fail), spin -D flags...
    local name=$1 want=$2; shift 2
    mkdir "$work/$name"
    (cd "$work/$name" && spin -a "$@" "$model" >spin.log && gcc -O2 -DSAFETY -o pan pan.c &&
        ./pan -m100000 >pan.log 2>&1) || true
    local errors
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/$name/pan.log")
    if [ -z "$errors" ]; then
        echo "FAIL $name: the search did not run (see $work/$name)"; keep=1; return 1
    fi
    if { [ "$want" = pass ] && [ "$errors" = 0 ]; } || { [ "$want" = fail ] && [ "$errors" != 0 ]; }; then
        echo "ok   $name ($(grep -o '[0-9]* states, stored' "$work/$name/pan.log"), errors: $errors, expected: $want)"
        return 0
    fi
    echo "FAIL $name: errors: $errors, expected: $want (see $work/$name)"; keep=1; return 1
}

rc=0
search handshake pass || rc=1
search snap-after-arm fail -DSNAP_AFTER_ARM || rc=1
exit $rc
