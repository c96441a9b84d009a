#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The quick start, on a fresh Debian 12 machine as root:
#   scripts/dev.sh run    install what is missing, build, run the example
#   scripts/dev.sh test   install what is missing, build, run the whole suite
#                         (plain -Werror build, ASan+UBSan, TSan, out-of-tree module,
#                         the integration suite under valgrind, the libFuzzer targets,
#                         the spin models of the slot protocol and of the
#                         sleep/wake handshake)
#   scripts/dev.sh bench  install what is missing (iceoryx too), build, run uipc-bench
#                         (its options, if any, go to it), then uipc-scale-bench
#                         (N clients on one server) and uipc-fleet-bench (100 modules
#                         under the supervisor, idle for a minute)
#   scripts/dev.sh bench-scale|bench-fleet [options]   only that one, with its options
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DEPS=(meson ninja-build pkg-config gcc libc6-dev libcmocka-dev libinih-dev libseccomp-dev libcap-dev protobuf-c-compiler libprotobuf-c-dev libmicrohttpd-dev libsystemd-dev libnng-dev)
TEST_DEPS=(valgrind clang libclang-rt-14-dev spin prometheus curl jq tmux iproute2 openssl) # what only `test` needs: memcheck, libFuzzer, the model check, a real Prometheus, uipcctl top's terminal, the bridge's namespaces, veth, netem and TLS certificates
BENCH_DEPS=(iceoryx libiceoryx-binding-c-dev)

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() { # dir, meson options...
    local dir=$1; shift
    if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
    else meson setup "$dir" "$@" >/dev/null; fi
    ninja -C "$dir"
}

run_example() {
    build build -Dwerror=true
    echo "==> uipc-supervisor on examples/modules.conf (stopped with SIGINT after 3 s, as Ctrl-C would)"
    timeout --preserve-status --signal=INT --kill-after=10 3 \
        build/supervisor/uipc-supervisor --config build/examples/modules.conf
}

# A module built outside the tree, the way its author would, with the
# uninstalled pkg-config file of the build directory.
out_of_tree() {
    local tmp
    tmp=$(mktemp -d)
    cp examples/echo-client.c "$tmp/mymod.c"
    PKG_CONFIG_PATH="$PWD/build/meson-uninstalled" \
        sh -c "cc -std=c17 -Wall -Wextra -Werror -o '$tmp/mymod' '$tmp/mymod.c' \$(pkg-config --cflags --libs uipc-module)"
    LD_LIBRARY_PATH="$PWD/build/libmodule" build/examples/uipc-launch \
        server=build/examples/echo-server client="$tmp/mymod" -c client:echo:server -w client \
        | grep -q 'reply "hello, synchronously"'
    # and a typed one: the kv server from its schema, with uipc-pb
    cp examples/kv-server.c "$tmp/"
    protoc-c --proto_path=schemas --c_out="$tmp" schemas/kv.proto
    PKG_CONFIG_PATH="$PWD/build/meson-uninstalled" \
        sh -c "cc -std=c17 -Wall -Wextra -Werror -I'$tmp' -o '$tmp/kv-server' '$tmp/kv-server.c' '$tmp/kv.pb-c.c' \$(pkg-config --cflags --libs uipc-pb)"
    LD_LIBRARY_PATH="$PWD/build/libmodule" build/examples/uipc-launch \
        kv="$tmp/kv-server" echo=build/examples/echo-server client=build/examples/demo-client \
        -c client:kv:kv -c client:echo:echo -w client | grep -q 'async get cherry .*"dark red"'
    rm -rf "$tmp"
    echo "out-of-tree modules: built with pkg-config (uipc-module, uipc-pb) and ran: ok"
}

# meson install into a scratch prefix, then what an operator and a module
# author do with it: the installed example config checks, an out-of-tree
# module builds with the installed pkg-config file and runs under the
# installed supervisor, uipcctl talks to it.
install_check() {
    local tmp prefix pc libdir log sv i
    tmp=$(mktemp -d)
    prefix="$tmp/prefix"
    meson setup "$tmp/build" --prefix="$prefix" -Dtests=false -Dwerror=true >/dev/null
    ninja -C "$tmp/build" >/dev/null
    meson install -C "$tmp/build" --quiet >/dev/null
    pc=$(dirname "$(find "$prefix" -name uipc-module.pc)")
    libdir=$(dirname "$pc")
    for f in sbin/uipc-supervisor bin/uipcctl bin/uipc-chaos bin/uipc-exporter bin/uipc-bridge share/man/man1/uipc-chaos.1 \
             share/man/man8/uipc-exporter.8 lib/systemd/system/uipc-exporter.service share/uipc/policies/exporter.policy \
             share/man/man8/uipc-bridge.8 \
             include/uipc/module.h include/uipc/pb.h \
             share/uipc/policies/base.policy etc/uipc/modules.conf lib/systemd/system/uipc-supervisor.service \
             share/man/man8/uipc-supervisor.8 share/man/man8/uipcctl.8 share/man/man5/modules.conf.5 \
             share/man/man5/uipc-policy.5 share/man/man3/uipc_call.3 share/man/man3/uipc_cancel.3 \
             share/man/man3/uipc_pb_call.3 share/man/man3/uipc_pb_service_client.3; do
        [ -e "$prefix/$f" ] || { echo "install: $f missing" >&2; return 1; }
    done
    LD_LIBRARY_PATH="$libdir" "$prefix/sbin/uipc-supervisor" --check --config "$prefix/etc/uipc/modules.conf"
    LD_LIBRARY_PATH="$libdir" "$prefix/bin/uipc-chaos" --config "$prefix/etc/uipc/modules.conf" --seed 1 \
        --print-schedule | grep -c ' ms  [a-z]* *\(kv\|echo\)$' >/dev/null
    cp examples/echo-client.c "$tmp/mymod.c"
    PKG_CONFIG_PATH="$pc" sh -c "cc -std=c17 -Wall -Wextra -Werror -o '$tmp/mymod' '$tmp/mymod.c' \$(pkg-config --cflags --libs uipc-module)"
    printf '@default kill\n@include %s\n' "$prefix/share/uipc/policies/base.policy" > "$tmp/mymod.policy"
    printf '%s\n' "[supervisor]" "control_socket = $tmp/control.sock" \
        "[module echo]" "exec = $prefix/libexec/uipc/examples/echo-server" \
        "policy = $prefix/share/uipc/policies/echo.policy" "provides = echo" \
        "[module mymod]" "exec = $tmp/mymod" "policy = mymod.policy" "connects = echo" \
        "after = echo" "restart = never" > "$tmp/modules.conf"
    log="$tmp/supervisor.log"
    LD_LIBRARY_PATH="$libdir" "$prefix/sbin/uipc-supervisor" --config "$tmp/modules.conf" >"$log" 2>&1 &
    sv=$!
    for i in $(seq 100); do grep -q 'mymod: exited with code' "$log" && break; sleep 0.1; done
    LD_LIBRARY_PATH="$libdir" "$prefix/bin/uipcctl" --config "$tmp/modules.conf" status | grep -q '^echo  *ready' ||
        { cat "$log" >&2; kill "$sv"; return 1; }
    kill -TERM "$sv"
    wait "$sv"
    grep -q 'mymod: exited with code 0' "$log" && grep -q 'reply "hello, synchronously"' "$log" ||
        { cat "$log" >&2; return 1; }
    rm -rf "$tmp"
    echo "install: meson install, an out-of-tree module under the installed supervisor, uipcctl: ok"
}

# meson test with its summary kept, for the closing count.
suite() { # build dir, then env assignments
    local dir=$1; shift
    env "$@" meson test -C "$dir" --print-errorlogs --num-processes 2 | tee -a "$SUMMARY"
}

# The integration suite under valgrind's memcheck: the test programs, the
# supervisors they start with their modules, uipcctl; any error or leak
# fails.  What valgrind 3.19 cannot run, why, and what runs natively
# instead: tests/valgrind.md.  Takes about 5 minutes on 2 cores.
valgrind_suite() {
    local vg=(valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full --num-callers=30
              --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
              --suppressions="$PWD/tests/valgrind.supp")
    UIPC_VALGRIND="${vg[*]}" meson test -C build --suite integration --print-errorlogs --num-processes 2 \
        -t 5 --wrapper "$PWD/tests/valgrind.sh" | tee -a "$SUMMARY"
}

run_tests() {
    SUMMARY=$(mktemp)
    trap 'rm -f "$SUMMARY"' EXIT
    build build -Dwerror=true
    suite build
    out_of_tree
    install_check
    bash scripts/tutorial.sh build   # docs/tutorial.md, exactly as printed
    echo "==> ASan+UBSan"
    build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
    suite build-asan UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
    echo "==> TSan"
    build build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
    suite build-tsan TSAN_OPTIONS=halt_on_error=1
    echo "==> valgrind"
    valgrind_suite
    echo "==> libFuzzer, 20 s per target"
    if bash scripts/fuzz.sh 20; then echo "Ok: 1" >> "$SUMMARY"; else echo "Fail: 1" >> "$SUMMARY"; fi
    echo "==> model check of the slot protocol (docs/slot-protocol.pml)"
    if bash scripts/model-check.sh; then echo "Ok: 1" >> "$SUMMARY"; else echo "Fail: 1" >> "$SUMMARY"; fi
    echo "==> model check of the sleep/wake handshake (docs/wake-protocol.pml)"
    if bash scripts/wake-model-check.sh; then echo "Ok: 1" >> "$SUMMARY"; else echo "Fail: 1" >> "$SUMMARY"; fi
    local ok fail
    ok=$(awk '/^Ok:/ {n += $2} END {print n + 0}' "$SUMMARY")
    fail=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$SUMMARY")
    echo "tests: $ok passed, $fail failed"
    [ "$fail" -eq 0 ]
}

case "${1:-}" in
run)   install_missing "${BUILD_DEPS[@]}"; run_example ;;
test)  install_missing "${BUILD_DEPS[@]}" "${TEST_DEPS[@]}"; run_tests ;;
bench) install_missing "${BUILD_DEPS[@]}" "${BENCH_DEPS[@]}"; build build -Dwerror=true
       shift; build/bench/uipc-bench "$@"
       echo; echo "==> uipc-scale-bench"; build/bench/uipc-scale-bench
       echo; echo "==> uipc-fleet-bench"; build/bench/uipc-fleet-bench ;;
bench-scale|bench-fleet)
       install_missing "${BUILD_DEPS[@]}"; build build -Dwerror=true
       prog="build/bench/uipc-${1#bench-}-bench"; shift; "$prog" "$@" ;;
*)     echo "usage: $0 run|test|bench [uipc-bench options]|bench-scale|bench-fleet [options]" >&2; exit 2 ;;
esac
