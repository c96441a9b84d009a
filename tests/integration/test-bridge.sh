#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# uipc-bridge between two hosts, for real: two supervisors in two network
# namespaces joined by a veth pair (created here, always removed), host A
# running a server (modules/bridge-server.c) behind a listening bridge,
# host B a client (modules/bridge-client.c: async and sync calls, about 50
# in flight) behind a dialing bridge, both bridges under
# policies/bridge.policy.  With the load running, one scenario at a time:
# the server on A killed, either bridge killed, the veth link down 2 s,
# 5% packet loss and 20 ms delay (tc netem; where the kernel has no
# sch_netem, a classic BPF filter dropping 5% and a token bucket), A's
# supervisor killed (its keeper replaces it), garbage and an NNG peer on
# the listening port while the link is up, hostile frames from a peer that
# holds the link (tests/integration/bridge-poke.c), uipc-chaos on A's
# server and then on A's bridge; then over TLS (and a stranger's
# certificate), and over IPC.
# Every call is judged by bridge-check from the client's and server's
# records: completed exactly once, within its timeout plus the link's
# bound, with an error the fault explains (-UIPC_ENOLINK only for calls
# that never ran), never run twice; and calls work again after each fault
# without anyone restarting anything.  The failure table is printed at
# the end.
# Root only (network namespaces); skipped (77) without ip, tc, openssl or
# where namespaces cannot be made.
# Under valgrind (UIPC_VALGRIND, tests/valgrind.sh) the bridges run under
# it, without a policy (valgrind cannot run under one), with a slower
# heartbeat and longer bounds, through the scenarios that exercise their
# code (not the loss nor uipc-chaos), and any report fails the test; the
# rest runs natively (tests/valgrind.md).
# UIPC_BRIDGE_SCENARIOS (a regex) runs only the scenarios it matches.
# UIPC_BRIDGE_KEEP=DIR keeps the logs and records there.
# UIPC_BRIDGE_POLICY replaces bridge.policy (an "@default log" one lists
# what the bridge calls beyond it: printed at the end).
set -euo pipefail

: "${UIPC_SUPERVISOR:?}" "${UIPC_CHAOS:?}" "${UIPC_POLICIES:?}" "${UIPC_BRIDGE:?}"
: "${UIPC_BRIDGE_SERVER:?}" "${UIPC_BRIDGE_CLIENT:?}" "${UIPC_BRIDGE_CHECK:?}" "${UIPC_BRIDGE_POKE:?}"
POLICY=${UIPC_BRIDGE_POLICY:-$UIPC_POLICIES/bridge.policy}
BRIDGE=$UIPC_BRIDGE
TIMEOUT_MS=1000   # each call's
BOUND_MS=500      # the link's silence bound (--link-timeout-ms)
SLACK_MS=300      # scheduling, on two busy cores
[ -n "${UIPC_SANITIZED:-}" ] && SLACK_MS=1000
DEPTH=48          # async calls in flight on B, plus two sync callers
PORT=7000
TLS_PORT=7001

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth, tc)"
for tool in ip tc openssl; do
    command -v "$tool" > /dev/null || skip "$tool is not installed (scripts/dev.sh test installs it)"
done

tmp=$(mktemp -d -p /run uipc-bridge.XXXXXX) # not under /tmp: the modules' /tmp is their own
chmod 755 "$tmp"
rec=$tmp/rec # the client's and server's records
# TLS certificates and the IPC socket at short paths: a TLS bridge's args
# line holds three, and a line of modules.conf is at most 198 characters
# (modules.conf(5)).
short=/run/ubr$$ certs=/run/ubr$$
mkdir -m 1777 "$rec"
if [ -n "${UIPC_VALGRIND:-}" ]; then
    POLICY=none
    BRIDGE=$tmp/vg-bridge
    # the timing here, not in modules.conf: a TLS bridge's line is long enough
    printf '#!/bin/sh\nexec %s %s "$@" --heartbeat-ms 250 --link-timeout-ms 2500\n' \
        "$UIPC_VALGRIND" "$UIPC_BRIDGE" > "$BRIDGE"
    chmod 755 "$BRIDGE"
    BOUND_MS=2500 TIMEOUT_MS=5000 SLACK_MS=2000
    : "${UIPC_BRIDGE_SCENARIOS:=^(baseline|server-kill|bridge-[ab]-kill|link-down-2s|garbage-link-up|peer-frames|tls-baseline|tls-peers|ipc-bridge-a-kill)$}"
    echo "valgrind: the bridges run under it without a policy (a strict one would stop valgrind);" \
         "heartbeat 250 ms, link bound 2500 ms, calls' timeout 5 s; scenarios $UIPC_BRIDGE_SCENARIOS"
fi
# NNG 1.5.2 leaks the one frame PAIR1 hands a connection the peer has just
# closed (tests/valgrind.supp says how): LSan leaves those frames out of its
# verdict and counts them, and the test allows a few per bridge process.
printf 'leak:bridge_msg\n' > "$tmp/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$tmp/lsan.supp:print_suppressions=1"
ns_a=uipcbr-a-$$ ns_b=uipcbr-b-$$ veth_a=ubra$$ veth_b=ubrb$$
addr_a=10.77.0.1 addr_b=10.77.0.2
keepers=() # the supervisors started (their keepers)
failed=0

# On any exit: the supervisors stopped (they stop their modules), whatever
# still runs in the namespaces killed (uipc-chaos, bridge-poke), the
# namespaces deleted (the veth pair with them), the files removed.
cleanup() {
    set +e
    local p alive
    for p in "${keepers[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 100); do
        alive=0
        for p in "${keepers[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for ns in "$ns_a" "$ns_b"; do
        [ -e "/run/netns/$ns" ] || continue
        for p in $(ip netns pids "$ns"); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns"
    done
    if [ -n "${UIPC_BRIDGE_KEEP:-}" ]; then
        rm -rf "$UIPC_BRIDGE_KEEP"
        cp -a "$tmp" "$UIPC_BRIDGE_KEEP"
    fi
    rm -rf "$tmp" "$short"
}
trap cleanup EXIT
trap "exit 143" TERM INT # the EXIT trap runs then too

ip netns add "$ns_a" 2>/dev/null || skip "network namespaces cannot be made here (ip netns add)"
ip netns add "$ns_b"
ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add $addr_a/24 dev "$veth_a"
ip -n "$ns_b" addr add $addr_b/24 dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up

# ---- helpers ----
now_us() { date +%s%6N; }
log() { echo "$(date +%T.%3N) $*"; }
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 40 "$f" >&2; done
    exit 1
}
# Until "$@" succeeds, every 100 ms, at most $1 seconds.
until_ok() {
    local secs=$1; shift
    for _ in $(seq $((secs * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
# The pid of module $2 in supervisor log $1 (its latest start).
mod_pid() { grep -o "$2: started, pid [0-9]*" "$1" | tail -n 1 | awk '{print $4}'; }
# The supervisor under keeper $1: its child running the same program.
sup_pid() {
    local c
    for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        [ "$(cat "/proc/$c/comm" 2>/dev/null)" = uipc-supervisor ] && { echo "$c"; return; }
    done
}
more() { [ "$(count "$1" "$2")" -gt "$3" ]; } # log $1 has more than $3 lines with $2
links() { count "$1" 'uipc-bridge: link up ('; }
# The bridges' link is up again after $1 and $2 link-ups were logged on A and B.
link_back() { [ "$(links "$tmp/a.log")" -gt "$1" ] && [ "$(links "$tmp/b.log")" -gt "$2" ]; }
# The last 200 completions on B are ok calls issued after $1.
recovered() { "$UIPC_BRIDGE_CHECK" -r "$1" -n 200 "$rec/calls" 2>/dev/null; }

# ---- the two hosts ----
make_certs() { # a CA, a certificate for each host, and a rogue CA's for a stranger
    mkdir -p "$certs"
    (
        cd "$certs"
        for ca in ca rogue-ca; do
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=uipc test $ca" \
                -keyout $ca.key -out $ca.pem 2>/dev/null
        done
        for who in a:ca b:ca stranger:rogue-ca; do
            name=${who%%:*} ca=${who#*:}
            openssl req -newkey rsa:2048 -nodes -subj "/CN=host-$name" -keyout "$name.key" \
                -out "$name.csr" 2>/dev/null
            printf 'subjectAltName = DNS:host-%s, IP:%s\n' "$name" "$([ "$name" = a ] && echo $addr_a || echo $addr_b)" \
                > "$name.ext"
            openssl x509 -req -in "$name.csr" -CA $ca.pem -CAkey $ca.key -CAcreateserial -days 2 \
                -extfile "$name.ext" -out "$name.pem" 2>/dev/null
        done
    )
    chmod 755 "$certs"
    chmod 644 "$certs"/* # the bridges run as uids of their own
}

# write_confs plain|tls|ipc: each host's modules.conf
write_confs() {
    local mode=$1 la lb extra=
    if [ "$mode" = ipc ]; then
        # one path for both: the bridges share a uid, which may connect
        # to the socket the other made
        la="--listen ipc://$short/ipc/bridge.sock"
        lb="--connect ipc://$short/ipc/bridge.sock"
        extra="user = 65534
group = 65534
writable = $short/ipc"
    elif [ "$mode" = tls ]; then
        la="--listen tls+tcp://0.0.0.0:$TLS_PORT --tls-cert $certs/a.pem --tls-key $certs/a.key --tls-ca $certs/ca.pem"
        lb="--connect tls+tcp://$addr_a:$TLS_PORT --tls-cert $certs/b.pem --tls-key $certs/b.key --tls-ca $certs/ca.pem"
        lb="$lb --tls-server-name host-a"
    else
        la="--listen tcp://0.0.0.0:$PORT --plain"
        lb="--connect tcp://$addr_a:$PORT --plain"
    fi
    cat > "$tmp/a.conf" <<EOF
[supervisor]
control_socket = $tmp/a.sock
heartbeat_interval_ms = 100
hang_timeout_ms = 1000
[module server]
exec = $UIPC_BRIDGE_SERVER
args = bx $rec/runs 1000
provides = bx
writable = $rec
max_restarts = 1000
backoff_max_ms = 200
[module bridge]
exec = $BRIDGE
args = $la
policy = $POLICY
connects = bx:128x1024
max_restarts = 1000
backoff_max_ms = 200
$extra
EOF
    cat > "$tmp/b.conf" <<EOF
[supervisor]
control_socket = $tmp/b.sock
heartbeat_interval_ms = 100
hang_timeout_ms = 1000
[module bridge]
exec = $BRIDGE
args = $lb
policy = $POLICY
provides = bx
max_restarts = 1000
backoff_max_ms = 200
$extra
; three slots per caller: a call that timed out holds its slot until the
; bridge answers it (bridge-client.c)
[module client]
exec = $UIPC_BRIDGE_CLIENT
args = bx $rec/calls $DEPTH 2 $TIMEOUT_MS
connects = bx:160x1024
writable = $rec
after = bridge
restart = never
EOF
}

# start HOST: its supervisor in its namespace, the log appended to HOST.log
start() {
    local ns=$ns_a
    [ "$1" = b ] && ns=$ns_b
    ip netns exec "$ns" "$UIPC_SUPERVISOR" --config "$tmp/$1.conf" >> "$tmp/$1.log" 2>&1 &
    keepers+=("$!")
    eval "keeper_$1=$!"
}

# stop HOST: SIGTERM to its supervisor (the keeper), waited for.
stop() {
    local v=keeper_$1
    kill -TERM "${!v}"
    wait "${!v}" || true
}

# ---- scenarios ----
scenarios=$tmp/scenarios
: > "$scenarios"
hostile_frames=0 # connections dropped for a malformed frame that bridge-poke sent
hostile_late=0   # and tries it gave up on, whose garbage may be dropped later
# scenario NAME ALLOWED FAULT [HOLD_S RECOVER]: 2 s of load, FAULT (a
# command), HOLD_S seconds, RECOVER, then the load until the last 200
# calls were ok (at most 30 s), and one more second.  The calls issued in
# all that time are judged at the end (bridge-check), errors from ALLOWED.
scenario() {
    local name=$1 allowed=$2 fault=$3 hold=${4:-0} recover=${5:-true}
    local start tf tr ms
    [[ $name =~ ${UIPC_BRIDGE_SCENARIOS:-.} ]] || return 0
    start=$(now_us)
    sleep 2
    log "$name: $fault"
    tf=$(now_us)
    eval "$fault" || fail "$name: the fault could not be made: $fault"
    sleep "$hold"
    eval "$recover" || fail "$name: could not recover: $recover"
    tr=$(now_us)
    if until_ok 30 recovered "$tr"; then
        ms=$((($(now_us) - tr) / 1000))
    else
        echo "FAIL: $name: calls did not work again within 30 s" >&2
        failed=1
    fi
    sleep 1
    echo "$name $start $tf $(now_us) $allowed" >> "$scenarios"
    log "$name: the last 200 calls ok ${ms:+$ms ms after the fault ended}"
}

# The calls of the last scenario have all completed when this returns
# (they are judged; those still out when the client stops are not).
settle() { sleep $(((TIMEOUT_MS + BOUND_MS + SLACK_MS) / 1000 + 1)); }

kill_mod() { # HOST MODULE
    local pid
    pid=$(mod_pid "$tmp/$1.log" "$2")
    [ -n "$pid" ] && kill -KILL "$pid"
}
kill_sup() { # HOST
    local v=keeper_$1 pid
    pid=$(sup_pid "${!v}")
    [ -n "$pid" ] && kill -KILL "$pid"
}
link_set() { ip -n "$ns_a" link set "$veth_a" "$1"; }

# Loss and delay both ways: netem on both ends' egress where the kernel
# has it; else (no sch_netem) a classic BPF filter dropping 5% at both
# ends' ingress (dropped at the sender's egress, TCP would only send it
# again at once: a local drop is no loss to it) and a token bucket on
# their egress whose queue delays bursts.
qdisc_kind=netem
loss_on() {
    local ns dev
    retrans0=$(retrans)
    for ns in "$ns_a:$veth_a" "$ns_b:$veth_b"; do
        dev=${ns#*:} ns=${ns%%:*}
        if [ $qdisc_kind = netem ]; then
            tc -n "$ns" qdisc add dev "$dev" root netem loss 5% delay 20ms
        else
            # A = random u32; drop (TC_ACT_SHOT) when A >= 0.95 * 2^32
            tc -n "$ns" qdisc add dev "$dev" clsact
            tc -n "$ns" filter add dev "$dev" ingress bpf da \
                bytecode '4,32 0 0 4294963256,53 0 1 4080218931,6 0 0 2,6 0 0 0'
            tc -n "$ns" qdisc add dev "$dev" root tbf rate 4mbit burst 8kb latency 20ms
        fi
    done
}
# TCP segments retransmitted in both namespaces (/proc/net/snmp), to
# show the loss was real.
retrans() {
    local ns n=0 v
    for ns in "$ns_a" "$ns_b"; do
        v=$(ip netns exec "$ns" awk '$1 == "Tcp:" && $13 ~ /^[0-9]+$/ {print $13}' /proc/net/snmp)
        n=$((n + v))
    done
    echo $n
}
loss_off() {
    local ns dev
    log "loss: $(($(retrans) - retrans0)) TCP segments retransmitted"
    for ns in "$ns_a:$veth_a" "$ns_b:$veth_b"; do
        dev=${ns#*:} ns=${ns%%:*}
        tc -n "$ns" qdisc del dev "$dev" root
        [ $qdisc_kind = netem ] || tc -n "$ns" qdisc del dev "$dev" clsact
    done
}
if ! tc -n "$ns_a" qdisc add dev "$veth_a" root netem delay 1ms 2>/dev/null; then
    qdisc_kind=cbpf+tbf
    echo "no netem in this kernel (sch_netem): loss by a classic BPF filter, delay by a token bucket"
else
    tc -n "$ns_a" qdisc del dev "$veth_a" root
fi

# Garbage at the listening port while the link is up: raw bytes (NNG's SP
# handshake fails), an SP header of another protocol (REQ), and a second
# PAIR1 peer (refused: PAIR1 has one); the link must not notice.
garbage_up() { # PORT
    local i
    for i in $(seq 10); do
        ip netns exec "$ns_b" bash -c "exec 3<>/dev/tcp/$addr_a/$1 && head -c 65536 /dev/urandom >&3" \
            2>/dev/null || true
        ip netns exec "$ns_b" bash -c "exec 3<>/dev/tcp/$addr_a/$1 && printf '\x00SP\x00\x00\x30\x00\x00' >&3 &&
            head -c 100 /dev/urandom >&3 && sleep 0.2" 2>/dev/null || true
    done
    ip netns exec "$ns_b" "$UIPC_BRIDGE_POKE" "tcp://$addr_a:$1" second >> "$tmp/poke.log" 2>&1
}

# Hostile frames from a peer that holds the link: the veth down until A
# drops B's connection, then bridge-poke connects from inside A (through
# loopback) and breaks the protocol six ways; each must cost it the
# connection and never a crash, and the replayed CALL must not run.  And
# what a reconnecting bridge sends first: a CALL of an earlier session
# before its HELLO, which must be dropped unrun, the connection kept.
peer_frames() {
    local drops silent
    silent=$(count "$tmp/a.log" 'link down: the other end went silent')
    link_set down
    until_ok 5 more "$tmp/a.log" 'link down: the other end went silent' "$silent" ||
        fail "A did not notice B's silence"
    drops=$(count "$tmp/a.log" 'uipc-bridge: dropped the connection')
    for mode in garbage badtype oversize replay badservice stalespam stale; do
        ip netns exec "$ns_a" "$UIPC_BRIDGE_POKE" "tcp://127.0.0.1:$PORT" $mode >> "$tmp/poke.log" 2>&1 ||
            fail "bridge-poke $mode: $(tail -n 3 "$tmp/poke.log")"
    done
    # garbage, badtype, replay, badservice and stalespam are dropped by
    # the bridge (oversize by NNG, which never hands the frame over)
    [ "$(count "$tmp/a.log" 'uipc-bridge: dropped the connection')" -ge $((drops + 5)) ] ||
        fail "A logged $(($(count "$tmp/a.log" 'uipc-bridge: dropped the connection') - drops)) drops, not 5"
    hostile_frames=$((hostile_frames + 4))
    link_set up
}

# Over TLS, a peer while B's connection is down: one whose certificate
# another CA signed (it trusts A's) gets no connection at all; one with
# B's certificate gets one, and loses it for its garbage.
tls_peers() {
    local silent r=0
    silent=$(count "$tmp/a.log" 'link down: the other end went silent')
    link_set down
    until_ok 5 more "$tmp/a.log" 'link down: the other end went silent' "$silent" ||
        fail "A did not notice B's silence"
    ip netns exec "$ns_a" "$UIPC_BRIDGE_POKE" "tls+tcp://127.0.0.1:$TLS_PORT" garbage \
        "$certs/stranger.pem" "$certs/stranger.key" "$certs/ca.pem" host-a >> "$tmp/poke.log" 2>&1 || r=$?
    [ $r = 2 ] || fail "a certificate of another CA: bridge-poke exited $r, not 2 (no connection)"
    # A's old connection to B, cut off by the veth, may still hold PAIR1's
    # one place while its TLS close runs out (seen once under ASan in CI:
    # the poke's connection was held, not served): a few tries, 2 s apart.
    # A try that gave up may still have its garbage read, and dropped, later.
    local try
    for try in 1 2 3; do
        ip netns exec "$ns_a" "$UIPC_BRIDGE_POKE" "tls+tcp://127.0.0.1:$TLS_PORT" garbage \
            "$certs/b.pem" "$certs/b.key" "$certs/ca.pem" host-a >> "$tmp/poke.log" 2>&1 && break
        [ $try = 3 ] && fail "bridge-poke garbage with B's certificate, 3 tries: $(tail -n 3 "$tmp/poke.log")"
        hostile_late=$((hostile_late + 1))
        sleep 2
    done
    hostile_frames=$((hostile_frames + 1))
    link_set up
}

# ---- phase 1: plain TCP ----
log "network namespaces $ns_a ($addr_a) and $ns_b ($addr_b), veth $veth_a - $veth_b; $qdisc_kind"
write_confs plain
start a
start b
until_ok 30 link_back 0 0 || fail "the bridges' link did not come up"
until_ok 30 recovered 0 || fail "no calls went through the bridges"
log "link up; calls go through"

scenario baseline none true
scenario server-kill enolink,elinklost 'kill_mod a server'
scenario bridge-a-kill enolink,elinklost 'kill_mod a bridge'
scenario bridge-b-kill peerdied,enolink 'kill_mod b bridge'
scenario link-down-2s enolink,elinklost 'link_set down' 2 'link_set up'
scenario "loss5%-delay20ms" enolink,elinklost,etimedout loss_on 5 loss_off
scenario supervisor-a-kill none 'kill_sup a'
scenario garbage-link-up none "garbage_up $PORT"
scenario peer-frames enolink,elinklost peer_frames

# ---- phase 2: uipc-chaos on host A ----
# uipc-chaos runs host A's config as it is, with a supervisor of its own in
# A's namespace, hurts one module there by a seeded schedule while B's
# client makes the load through the bridges, and judges A's accounting
# (exit 0: nothing lost, duplicated or hung on A, no other module died);
# B's is judged here.  Then A's own supervisor again.
chaos_phase() { # TARGET FAULTS SECONDS
    settle
    stop a
    ip netns exec "$ns_a" "$UIPC_CHAOS" --config "$tmp/a.conf" --supervisor "$UIPC_SUPERVISOR" \
        --target "$1" --faults "$2" --duration "$3" --seed 19 --json \
        --log "$tmp/chaos-$1.log" > "$tmp/chaos-$1.json" 2> "$tmp/chaos-$1.err" || {
        cat "$tmp/chaos-$1.json" "$tmp/chaos-$1.err"
        return 1
    }
    log "uipc-chaos on A's $1: $(cat "$tmp/chaos-$1.json")"
    start a
}
scenario chaos-a-server enolink,elinklost,etimedout 'chaos_phase server kill,segv,stop,abort 20'
# abort and slow act in a handler, and A's bridge serves none
scenario chaos-a-bridge enolink,elinklost,etimedout 'chaos_phase bridge kill,segv,stop 10'

# ---- phase 3: TLS ----
settle
stop b
stop a
make_certs
write_confs tls
a0=$(links "$tmp/a.log") b0=$(links "$tmp/b.log")
start a
start b
until_ok 30 link_back "$a0" "$b0" || fail "the TLS link did not come up"
until_ok 30 recovered "$(now_us)" || fail "no calls went through the TLS link"
log "TLS link up; calls go through"
scenario tls-baseline none true
scenario tls-bridge-a-kill enolink,elinklost 'kill_mod a bridge'
scenario tls-link-down-2s enolink,elinklost 'link_set down' 2 'link_set up'
scenario tls-garbage-link-up none "garbage_up $TLS_PORT"
scenario tls-peers enolink,elinklost tls_peers

# ---- phase 4: IPC (a path both namespaces see), for what its bridges call ----
settle
stop b
stop a
mkdir -p "$short"
mkdir -m 1777 "$short/ipc"
write_confs ipc
a0=$(links "$tmp/a.log") b0=$(links "$tmp/b.log")
start a
start b
until_ok 30 link_back "$a0" "$b0" || fail "the IPC link did not come up"
until_ok 30 recovered "$(now_us)" || fail "no calls went through the IPC link"
log "IPC link up; calls go through"
scenario ipc-bridge-a-kill enolink,elinklost 'kill_mod a bridge'
scenario ipc-bridge-b-kill peerdied,enolink 'kill_mod b bridge'

# ---- the end: the client's summary, then every call judged ----
settle
stop b
stop a
summary=$(grep -o 'bridge-client: summary .*' "$tmp/b.log" || true)
echo "$summary"
echo
echo "Failure table ($qdisc_kind; timeout $TIMEOUT_MS ms per call, hung: not completed within" \
     "$TIMEOUT_MS + $BOUND_MS + $SLACK_MS ms):"
"$UIPC_BRIDGE_CHECK" -t "$TIMEOUT_MS" -b $((BOUND_MS + SLACK_MS)) "$rec/calls" "$rec/runs" < "$scenarios" ||
    failed=1
grep -h ANOMALY "$tmp"/*.log && failed=1
# Any other such drop is an honest bridge's frame taken for garbage (as a
# frame of an earlier session was, before its HELLO, on a reconnect).
malformed=$(cat "$tmp"/*.log | grep -c 'dropped the connection: a malformed or unexpected frame' || true)
if [ "$malformed" -lt "$hostile_frames" ] || [ "$malformed" -gt $((hostile_frames + hostile_late)) ]; then
    echo "FAIL: $malformed connections dropped for a malformed frame, $hostile_frames of them bridge-poke's" >&2
    failed=1
fi
if grep -q '^@default log' "$POLICY"; then
    echo "not in $POLICY:"
    cat "$tmp"/*.log | grep -o 'bridge: not in its policy, allowed (@default log): .*' | sed 's/.*: //' |
        sort | uniq -c || true
fi
grep -h 'bridge: stopped by seccomp' "$tmp"/*.log && failed=1
# A sanitizer's or valgrind's report from a bridge or the client, and a
# bridge that did not stop cleanly; not where uipc-chaos sent the bridge
# its SIGSEGVs (ASan reports them, and exits 1), nor from the server.
honest=("$tmp/a.log" "$tmp/b.log")
[ -e "$tmp/chaos-server.log" ] && honest+=("$tmp/chaos-server.log")
grep -hE '(bridge|client): (==[0-9]+==ERROR|.*runtime error|WARNING: ThreadSanitizer)' "${honest[@]}" && failed=1
grep -hE 'bridge: ==[0-9]+== ' "${honest[@]}" && failed=1
grep -hE '(bridge|client): exited with code [1-9]' "${honest[@]}" && failed=1
# LSan's count of the frames NNG leaked (two objects each: the message and
# its body), per bridge process: at most one per connection it saw close
# while frames flowed; a leak of ours would be one per call.
while read -r n _; do
    echo "LSan: $((n / 2)) frame(s) leaked by NNG 1.5.2 in one bridge process (tests/valgrind.supp)"
    [ "$n" -le 8 ] || { echo "FAIL: too many for NNG's race: a leak of the bridge's own?" >&2; failed=1; }
done < <(cat "${honest[@]}" | grep -oE 'bridge: +[0-9]+ +[0-9]+ bridge_msg$' | awk '{print $2, $3}')
[ "$failed" = 0 ] || fail "see above"
echo "ok"
