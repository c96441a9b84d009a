#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The libFuzzer targets of tests/fuzz (README.md there), built and run:
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 20
# build-fuzz/ is set up with clang, -Dfuzz=true, ASan+UBSan and the fuzzer's
# coverage instrumentation over the whole build (reconfigured if it exists).
# Each target runs for the given time on a copy of its committed corpus
# (tests/fuzz/corpus/TARGET, never modified), one line per target; a crash,
# leak, timeout or out-of-memory leaves its input under
# build-fuzz/fuzz-artifacts/TARGET/ and its log under build-fuzz/fuzz-logs/,
# and the script exits non-zero.  Installs nothing: it needs clang and
# libclang-rt-14-dev (Debian) besides the usual build dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (Debian: clang libclang-rt-14-dev)" >&2; exit 2; }

build=build-fuzz
targets=(config policy control region bridge)
opts=(-Dfuzz=true -Dtests=true -Dbuildtype=debugoptimized
      -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link)

# A build directory made with another compiler cannot switch to clang.
if [ -f "$build/build.ninja" ] && grep -q 'C compiler for the host machine: clang' "$build/meson-logs/meson-log.txt" 2>/dev/null; then
    CC=clang meson setup --reconfigure "$build" "${opts[@]}" >/dev/null
else
    rm -rf "$build"
    CC=clang meson setup "$build" "${opts[@]}" >/dev/null
fi
if ! out=$(ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz-}" 2>&1); then
    printf '%s\n' "$out" | tail -n 40 >&2
    echo "fuzz.sh: the build failed" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/uipc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tmp" "$build/fuzz-logs"
# UBSan stops at the first report, so libFuzzer keeps the input.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1
export TMPDIR=$work/tmp # the targets' scratch directories

failed=0
echo "fuzzing ${#targets[@]} targets, ${secs} s each"
for t in "${targets[@]}"; do
    corpus=$work/$t
    artifacts=$build/fuzz-artifacts/$t
    log=$build/fuzz-logs/$t.log
    mkdir -p "$corpus" "$artifacts"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    rc=0
    timeout --kill-after=30 $((secs + 300)) \
        "$build/tests/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n1 || true)
    units=$(find "$corpus" -type f | wc -l)
    result=ok
    if [ "$rc" -ne 0 ]; then
        failed=1
        found=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n1)
        kind=FAILED
        case "$(basename "${found:-none}")" in
            crash-*) kind=CRASH ;; leak-*) kind=LEAK ;; timeout-*) kind=TIMEOUT ;; oom-*) kind=OOM ;;
        esac
        [ "$rc" -eq 124 ] && kind="HUNG (killed)"
        result="$kind (exit $rc): ${found:-no input saved}, log $log"
    fi
    printf '%-8s %8s execs %6s/s  %-22s corpus %4s  %s\n' \
        "$t" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$units" "$result"
    if [ "$rc" -ne 0 ]; then
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error:)' "$log" | head -n5 | sed 's/^/         /' || true
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: a target failed; reproduce with: $build/tests/fuzz/fuzz-TARGET ARTIFACT (tests/fuzz/README.md)"
    exit 1
fi
