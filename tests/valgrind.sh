#!/bin/sh
# SPDX-License-Identifier: MIT
# meson test --wrapper for the integration suite under valgrind
# (scripts/dev.sh valgrind_suite).  $UIPC_VALGRIND is the valgrind command
# line; the tests read it too (tests/lib/svtest.h): they run the supervisor,
# its modules and uipcctl under it.
#
# Most tests are programs that run under it as they are.  Two need more,
# because valgrind 3.19 (Debian 12) implements neither pidfd_open nor
# seccomp(2):
#  - example-echo: uipc-launch starts its modules through libmodule's test
#    bed, which needs pidfd_open (syscall 434), so the launcher runs
#    natively and its modules (echo-server, echo-client) run under
#    valgrind, with futex_waitv emulated (tests/lib/vg-preload.c);
#  - uipc-supervisor --check on a config with seccomp policies (the
#    example-conf test): libseccomp cannot build a notifying filter
#    without seccomp(2), so it runs natively, and says so.
# Valgrind's reports from programs whose exit status the test does not see
# (the echo server, stopped by the launcher) fail the test too.
set -eu
: "${UIPC_VALGRIND:?UIPC_VALGRIND must hold the valgrind command line}"
exe=$1

case ${exe##*/} in
uipc-launch)
    if [ -z "${UIPC_VG_PRELOAD:-}" ]; then
        echo "valgrind.sh: UIPC_VG_PRELOAD is not set (tests/meson.build sets it): without" \
             "the futex_waitv stand-in the modules would spin under valgrind; all run natively" >&2
        exec "$@"
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    shift
    n=0
    count=$#
    for a in "$@"; do # NAME=PROGRAM -> NAME=a script that runs PROGRAM under valgrind
        case $a in
        -*|*:*|"") ;;
        *=*)
            n=$((n + 1))
            printf '#!/bin/sh\nLD_PRELOAD=%s exec %s %s "$@"\n' \
                "$UIPC_VG_PRELOAD" "$UIPC_VALGRIND" "${a#*=}" > "$tmp/m$n"
            chmod +x "$tmp/m$n"
            a="${a%%=*}=$tmp/m$n" ;;
        esac
        set -- "$@" "$a"
    done
    shift "$count" # the originals, now followed by their rewritten copies
    ;;
uipc-supervisor)
    conf=
    prev=
    for a in "$@"; do
        [ "$prev" = --config ] && conf=$a
        prev=$a
    done
    if [ -n "$conf" ] && grep -Eq '^[[:space:]]*policy[[:space:]]*=' "$conf"; then
        echo "valgrind.sh: uipc-supervisor runs natively: $conf has seccomp policies, and" \
             "valgrind 3.19 does not implement seccomp(2), which libseccomp needs to build a" \
             "filter that notifies the supervisor" >&2
        exec "$@"
    fi
    exec $UIPC_VALGRIND "$@" ;;
bash)
    # a test script (test-prometheus.sh): it runs our programs under
    # $UIPC_VALGRIND itself, and promtool, Prometheus and curl natively
    exec "$@" ;;
*)
    exec $UIPC_VALGRIND "$@" ;;
esac

# uipc-launch, natively, its modules under valgrind
status=0
"$exe" "$@" 2>"$tmp/stderr" || status=$?
cat "$tmp/stderr" >&2
if grep -Eq '^(==|--)[0-9]+(==|--) ' "$tmp/stderr"; then
    echo "valgrind.sh: valgrind reported on a module (above)" >&2
    [ "$status" -ne 0 ] || status=99
fi
exit "$status"
