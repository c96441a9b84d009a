#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Metrics as an operator gets them: the example config runs under a real
# supervisor until its client is done (the counts stand still then);
#  - `uipcctl metrics` passes `promtool check metrics`;
#  - uipc-exporter serves them to a real Prometheus (Debian's prometheus
#    package), which scrapes it on loopback; what Prometheus stored, queried
#    through its HTTP API, equals `uipcctl stats --json` and `status --json`;
#  - a flood of 100 parallel scrapes is answered in full and leaves the
#    supervisor's longest loop turn (status: loop_max_ms) under its bound;
#  - the exporter runs as a module under its own policy (exporter.policy)
#    and reads the read-only metrics_socket, which refuses anything else.
# Needs promtool, prometheus, curl and jq (scripts/dev.sh test installs
# them); without them the test is skipped (exit 77), saying which.
# Under valgrind (UIPC_VALGRIND, tests/valgrind.sh) uipcctl and the
# exporter run under it; the supervisor runs natively (seccomp policies).
set -euo pipefail

: "${UIPC_SUPERVISOR:?}" "${UIPC_UIPCCTL:?}" "${UIPC_EXPORTER:?}" "${UIPC_EXAMPLES:?}" "${UIPC_POLICIES:?}"
VG=${UIPC_VALGRIND:-}
LOOP_BOUND_MS=1000 # the bound test-attacks holds the loop to, under sanitizers too

for tool in promtool prometheus curl jq; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/dev.sh test installs it)"; exit 77; }
done

tmp=$(mktemp -d)
# The metrics socket where a module sees it too (its /tmp is its own).
rdir=$(mktemp -d -p /run uipc-test.XXXXXX 2>/dev/null || mktemp -d)
chmod 755 "$rdir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp" "$rdir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done
    exit 1
}
# Until "$@" succeeds, every 100 ms, at most $1 seconds.
until_ok() {
    local secs=$1; shift
    for _ in $(seq $((secs * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}
free_port() { # a port nothing listens on now
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { echo "$p"; return; }
    done
}
ctl() { $VG "$UIPC_UIPCCTL" --socket "$tmp/control.sock" "$@"; }
# Whether the exporter on port $1 says uipc_up 1.  The page is read whole
# first: `curl | grep -q` fails under pipefail when grep stops reading early.
page_up() {
    local page
    page=$(curl -sf "http://127.0.0.1:$1/metrics") && grep -q '^uipc_up 1$' <<< "$page"
}

# ---- the example, until its client is done ----
cat > "$tmp/modules.conf" <<EOF
[supervisor]
control_socket = $tmp/control.sock
heartbeat_interval_ms = 100
hang_timeout_ms = 5000
[module kv]
exec = $UIPC_EXAMPLES/kv-server
policy = $UIPC_POLICIES/kv.policy
provides = kv
[module echo]
exec = $UIPC_EXAMPLES/echo-server
policy = $UIPC_POLICIES/echo.policy
provides = echo
[module client]
exec = $UIPC_EXAMPLES/demo-client
policy = $UIPC_POLICIES/demo-client.policy
connects = kv, echo:16x256
after = kv, echo
restart = never
EOF
"$UIPC_SUPERVISOR" --config "$tmp/modules.conf" > "$tmp/supervisor.log" 2>&1 &
pids+=($!)
until_ok 60 grep -q 'client: exited with code 0' "$tmp/supervisor.log" || fail "the example's client did not finish"

# ---- promtool ----
ctl metrics > "$tmp/metrics.txt" || fail "uipcctl metrics failed"
promtool check metrics < "$tmp/metrics.txt" > "$tmp/promtool.log" 2>&1 ||
    fail "promtool check metrics: $(cat "$tmp/promtool.log")"
grep -q '^uipc_channel_calls_total{service="kv",client="client",server="kv"} [1-9]' "$tmp/metrics.txt" ||
    fail "no calls counted on kv"
echo "promtool check metrics: ok ($(grep -vc '^#' "$tmp/metrics.txt") samples)"

# ---- the exporter and a real Prometheus ----
port=$(free_port)
$VG "$UIPC_EXPORTER" --socket "$tmp/control.sock" --listen "127.0.0.1:$port" > "$tmp/exporter.log" 2>&1 &
exporter=$!
pids+=($exporter)
until_ok 60 curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" || fail "the exporter does not answer"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nothing")" = 404 ] || fail "no 404 for /nothing"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" = 405 ] || fail "no 405 for POST"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$port/metrics")
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "Content-Type: $ctype"

pport=$(free_port)
cat > "$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: uipc
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
promtool check config "$tmp/prometheus.yml" > /dev/null || fail "promtool check config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$pport" > "$tmp/prometheus.log" 2>&1 &
pids+=($!)
query() { # an instant query's result array
    curl -sf --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'
}
scraped() { [ "$(query 'uipc_channel_calls_total' 2>/dev/null | jq length 2>/dev/null)" = 2 ]; }
until_ok 90 scraped || fail "Prometheus stored no uipc_channel_calls_total for both channels"
[ "$(query 'up{job="uipc"}' | jq -r '.[0].value[1]')" = 1 ] || fail "Prometheus says the target is down"

ctl stats --json > "$tmp/stats.json"
ctl status --json > "$tmp/status.json"
for svc in kv echo; do
    want=$(jq -r ".channels[] | select(.service == \"$svc\") | .calls" "$tmp/stats.json")
    got=$(query "uipc_channel_calls_total{service=\"$svc\"}" | jq -r '.[0].value[1]')
    [ "$want" = "$got" ] || fail "$svc: Prometheus stored $got calls, uipcctl stats says $want"
    want=$(jq -r ".channels[] | select(.service == \"$svc\") | .ok" "$tmp/stats.json")
    got=$(query "uipc_channel_completions_total{service=\"$svc\",kind=\"ok\"}" | jq -r '.[0].value[1]')
    [ "$want" = "$got" ] || fail "$svc: Prometheus stored $got ok completions, uipcctl stats says $want"
    want=$(jq -r ".channels[] | select(.service == \"$svc\") | .latency_samples" "$tmp/stats.json")
    got=$(query "uipc_channel_latency_seconds_count{service=\"$svc\"}" | jq -r '.[0].value[1]')
    [ "$want" = "$got" ] || fail "$svc: Prometheus stored $got latency samples, uipcctl stats says $want"
    echo "$svc: Prometheus stored $got latency samples and the calls uipcctl stats counts: ok"
done
want=$(jq -r '.modules[] | select(.name == "client") | .exits.clean' "$tmp/status.json")
got=$(query 'uipc_module_exits_total{module="client",reason="clean"}' | jq -r '.[0].value[1]')
[ "$want" = "$got" ] && [ "$got" = 1 ] || fail "client's clean exits: Prometheus $got, uipcctl status $want"
got=$(query 'uipc_modules{state="ready"}' | jq -r '.[0].value[1]')
[ "$got" = 2 ] || fail "Prometheus says $got modules are ready, not 2"
got=$(query 'histogram_quantile(0.5, uipc_channel_latency_seconds_bucket{service="kv"})' | jq -r '.[0].value[1]')
[ "$got" != null ] && [ "$got" != NaN ] || fail "histogram_quantile over the kv latency: $got"
echo "Prometheus: up, modules by state, exits, and the kv p50 latency ($got s): ok"

# ---- a flood of scrapes ----
before=$(jq -r '.supervisor.loop_max_ms' "$tmp/status.json")
start=$(date +%s%N)
seq 100 | xargs -P 100 -I{} curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/metrics" \
    > "$tmp/flood.txt"
ms=$((($(date +%s%N) - start) / 1000000))
n=$(grep -c '^200$' "$tmp/flood.txt" || true)
[ "$n" = 100 ] || fail "$n of 100 parallel scrapes answered 200: $(sort "$tmp/flood.txt" | uniq -c | tr '\n' ' ')"
after=$(ctl status --json | jq -r '.supervisor.loop_max_ms')
echo "100 parallel scrapes: all 200 in $ms ms; the supervisor's longest loop turn: $before ms before, $after ms after"
[ "$after" -lt "$LOOP_BOUND_MS" ] || fail "the longest loop turn grew to $after ms (bound $LOOP_BOUND_MS)"
page_up "$port" || fail "uipc_up is not 1 after the flood"

# ---- the supervisor gone: uipc_up 0, still a valid page ----
kill -TERM "${pids[0]}"
wait "${pids[0]}" || true
curl -sf "http://127.0.0.1:$port/metrics" > "$tmp/down.txt" || fail "no page once the supervisor is gone"
grep -q '^uipc_up 0$' "$tmp/down.txt" || fail "uipc_up is not 0 once the supervisor is gone"
promtool check metrics < "$tmp/down.txt" > /dev/null 2>&1 || fail "the page without a supervisor fails promtool"
echo "without a supervisor: uipc_up 0: ok"
# SIGTERM stops the exporter cleanly: exit 0 (under valgrind: no error, no leak)
kill -TERM "$exporter"
code=0
wait "$exporter" || code=$?
[ "$code" = 0 ] || fail "the exporter exited with $code on SIGTERM"
! grep -Eq '^(==|--)[0-9]+(==|--) ' "$tmp/exporter.log" || fail "valgrind reported on the exporter"
echo "the exporter stops on SIGTERM with exit status 0: ok"

# ---- the exporter as a module, through the read-only metrics socket ----
mport=$(free_port)
cat > "$tmp/module.conf" <<EOF
[supervisor]
control_socket = $tmp/control2.sock
metrics_socket = $rdir/metrics.sock
[module echo]
exec = $UIPC_EXAMPLES/echo-server
policy = $UIPC_POLICIES/echo.policy
provides = echo
[module exporter]
exec = $UIPC_EXPORTER
args = --socket $rdir/metrics.sock --listen 127.0.0.1:$mport
policy = $UIPC_POLICIES/exporter.policy
EOF
"$UIPC_SUPERVISOR" --config "$tmp/module.conf" > "$tmp/supervisor2.log" 2>&1 &
pids+=($!)
until_ok 60 page_up "$mport" || fail "the exporter module does not serve uipc_up 1"
seq 100 | xargs -P 100 -I{} curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$mport/metrics" \
    > "$tmp/flood2.txt"
n=$(grep -c '^200$' "$tmp/flood2.txt" || true)
[ "$n" = 100 ] || fail "the exporter module answered $n of 100 parallel scrapes"
curl -sf "http://127.0.0.1:$mport/metrics" | promtool check metrics > /dev/null 2>&1 ||
    fail "the module's page fails promtool"
viol=$($VG "$UIPC_UIPCCTL" --socket "$tmp/control2.sock" status --json |
       jq -r '.modules[] | select(.name == "exporter") | .violations')
[ "$viol" = 0 ] || fail "the exporter module made $viol syscalls its policy does not allow"
$VG "$UIPC_UIPCCTL" --socket "$rdir/metrics.sock" status > /dev/null || fail "status through the metrics socket"
if $VG "$UIPC_UIPCCTL" --socket "$rdir/metrics.sock" stop echo 2> "$tmp/refused.txt"; then
    fail "the metrics socket stopped a module"
fi
grep -q 'permission denied: the metrics socket answers status and stats only' "$tmp/refused.txt" ||
    fail "the metrics socket's refusal: $(cat "$tmp/refused.txt")"
[ "$(stat -c %a "$rdir/metrics.sock")" = 666 ] || fail "the metrics socket is not mode 0666"
echo "the exporter as a module: 100 parallel scrapes answered, no seccomp violation; the metrics socket refuses stop: ok"
