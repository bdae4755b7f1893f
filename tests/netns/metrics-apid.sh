#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-apid's /metrics, /healthz and /readyz (docs/observability.md), for real: the daemon in
# a "node" network namespace relays to the TLS API server fixture; the test makes a known set
# of relay requests, scrapes with curl, checks the exposition with promtool and the exact
# counts (a busy answer included); then bad HTTP clients (wrong method or path, huge head,
# slowloris, more connections than the cap) while the relay keeps serving; /readyz turning 503
# at SIGTERM while a request is still in flight; the flag's errors. Needs root, node, python3,
# curl, promtool.
source "$(dirname "$0")/../lib.sh"
need_root
for t in node openssl curl jq python3 promtool; do
	command -v "$t" >/dev/null || { fail "metrics-apid: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
TMP=$(t_tmpdir)
SOCK=$TMP/run/api.sock
NODE=plxmx$T_ID
MADDR=127.0.0.1:9453
API_PID='' APID_PID=''
stop_procs() {
	local p
	for p in $APID_PID $API_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	APID_PID='' API_PID=''
}
trap 'stop_procs; t_cleanup' EXIT
t_netns "$NODE"
ip -n "$NODE" link set lo up
in_node() { ip netns exec "$NODE" "$@"; }

TOKEN=plexus-metrics-token-$T_ID
jq -cn '{items:[{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:"pod-a",uid:"uid-a"},
	spec:{containers:[{name:"c",image:"pause"}]}},
	{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
	metadata:{namespace:"default",name:"net-a",uid:"uid-n"},spec:{config:"{}"}}]}' >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN" 120
check "metrics-apid: API server fixture is up" test -n "$PORT"

N=0
start_apid() { # start_apid [OPTION...]: a new daemon logging to $ALOG; waits until it relays
	N=$((N + 1)) ALOG=$TMP/apid$N.log
	# Not through in_node: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" "$@" 2>"$ALOG" &
	APID_PID=$!
	for _ in $(seq 100); do grep -q 'relaying to' "$ALOG" && break; sleep 0.05; done
}
# relay JSON: one relay exchange; prints the answer's first line after the ack. A busy daemon
# answers without reading: sending may then fail (EPIPE), and receiving end in a reset.
relay() {
	in_node python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); b = b""
try:
    s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)
except BrokenPipeError: pass
try:
    while (d := s.recv(65536)): b += d
except ConnectionResetError: pass
print([l for l in b.decode().split("\n") if l and l != "{\"accepted\":true}"][0])' "$SOCK" "$1"
}
# get PATH: curl the endpoint in the node; prints the body, HTTP status in $TMP/code.
get() { in_node curl -s -o - -w '%{stderr}%{http_code}' --max-time 5 "http://$MADDR$1" 2>"$TMP/code"; }
code() { cat "$TMP/code"; }
# sample SERIES: the value of one exposition line (exact series text), or "none".
sample() { awk -v s="$1" '$1 == s { v = $2 } END { print v == "" ? "none" : v }' "$TMP/metrics"; }
scrape() { get /metrics >"$TMP/metrics"; }

# ---- start-up, health ---------------------------------------------------------------------------
# One client at a time: a second one while a request is held is answered "busy" (below).
start_apid --max-clients 1
check "metrics-apid: the daemon says where it serves metrics" grep -q "metrics on $MADDR" "$ALOG"
check "metrics-apid: /healthz is 200 ok" bash -c "[ \"\$(ip netns exec $NODE curl -s http://$MADDR/healthz)\" = ok ]"
get /readyz >/dev/null
check "metrics-apid: /readyz is 200 once the socket listens and the credentials are loaded" test "$(code)" = 200
check "metrics-apid: it listens on loopback only" \
	bash -c "ip netns exec $NODE ss -Hltn 'sport = :9453' | awk '{print \$4}' | grep -qx '$MADDR'"

# ---- exact counts -------------------------------------------------------------------------------
POD='{"method":"GET","path":"/api/v1/namespaces/default/pods/pod-a"}'
MISSING='{"method":"GET","path":"/api/v1/namespaces/default/pods/no-such-pod"}'
NAD='{"method":"GET","path":"/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/net-a"}'
R1=$(relay "$POD") R2=$(relay "$POD") R3=$(relay "$MISSING") R4=$(relay "$NAD")
R5=$(relay '{"method":"DELETE","path":"/api/v1/namespaces/default/pods/pod-a"}')
R6=$(relay 'not json')
check "metrics-apid: the relay answered 200, 200, 404, 200, refused, undecodable" \
	test "$(for r in "$R1" "$R2" "$R3" "$R4" "$R5" "$R6"; do jq -r '.status // .error.code' <<<"$r"; done | paste -sd' ')" = "200 200 404 200 101 6"
scrape
check "metrics-apid: /metrics is 200, text format 0.0.4" \
	bash -c "[ \"\$(cat $TMP/code)\" = 200 ] && ip netns exec $NODE curl -sI http://$MADDR/metrics | grep -qi '^content-type: text/plain; version=0.0.4'"
check "metrics-apid: promtool check metrics accepts the exposition" promtool check metrics <"$TMP/metrics"
COUNTS=$(for s in 'plexus_apid_api_requests_total{verb="GET",resource="pods",code="200"}' \
	'plexus_apid_api_requests_total{verb="GET",resource="pods",code="404"}' \
	'plexus_apid_api_requests_total{verb="GET",resource="network-attachment-definitions",code="200"}' \
	'plexus_apid_api_request_duration_seconds_count{verb="GET",resource="pods"}' \
	'plexus_apid_api_request_duration_seconds_bucket{verb="GET",resource="pods",le="+Inf"}' \
	'plexus_apid_api_request_duration_seconds_count{verb="GET",resource="network-attachment-definitions"}' \
	'plexus_apid_relay_requests_total{result="served"}' 'plexus_apid_relay_requests_total{result="refused"}' \
	'plexus_apid_relay_requests_total{result="invalid"}' 'plexus_apid_relay_requests_total{result="busy"}' \
	'plexus_apid_relay_requests_total{result="failed"}' \
	'plexus_apid_relay_queue_depth' 'plexus_apid_relay_in_flight'; do sample "$s"; done | paste -sd' ')
check "metrics-apid: exact counts: 2+1 GET pods (200/404), 1 GET NAD, 4 served, 1 refused, 1 invalid, idle" \
	test "$COUNTS" = "2 1 1 3 3 1 4 1 1 0 0 0 0"
[ "$COUNTS" = "2 1 1 3 3 1 4 1 1 0 0 0 0" ] || { echo "counts: $COUNTS"; cat "$TMP/metrics"; }
check "metrics-apid: the API server saw exactly those 4 requests" test "$(grep -c . "$TMP/api.log")" = 4

# ---- bad HTTP clients ---------------------------------------------------------------------------
ATTACK=$TOP/tests/fixtures/http-attack.py
attack() { in_node python3 "$ATTACK" "$@"; }
FDS0=$(ls /proc/$APID_PID/fd | wc -l)
THREADS0=$(ls /proc/$APID_PID/task | wc -l)
check "metrics-apid: POST /metrics is 405" test "$(attack raw 127.0.0.1 9453 'POST /metrics HTTP/1.1\r\n\r\n')" = "HTTP/1.1 405 Method Not Allowed"
check "metrics-apid: GET /nope is 404" test "$(attack raw 127.0.0.1 9453 'GET /nope HTTP/1.1\r\n\r\n')" = "HTTP/1.1 404 Not Found"
check "metrics-apid: junk is 400" test "$(attack raw 127.0.0.1 9453 '\x16\x03\x01\x02\x00')" = "HTTP/1.1 400 Bad Request"
BIG="GET /metrics HTTP/1.1\r\nX: $(head -c 20000 /dev/zero | tr '\0' a)\r\n\r\n"
check "metrics-apid: a 20 KB request head is 431" test "$(attack raw 127.0.0.1 9453 "$BIG")" = "HTTP/1.1 431 Request Header Fields Too Large"
# Slowloris: 16 connections (the cap) that never finish their request.
attack slow 127.0.0.1 9453 16 >"$TMP/slow" &
SLOW=$!
sleep 0.5
check "metrics-apid: a 17th connection is closed at once while 16 are held" test -z "$(attack raw 127.0.0.1 9453 'GET /healthz HTTP/1.1\r\n\r\n')"
check "metrics-apid: ... and the relay serves meanwhile" test "$(relay "$POD" | jq -r .status)" = 200
wait "$SLOW"
read -r CLOSED AFTER <"$TMP/slow"
check "metrics-apid: the 16 slow connections are cut at the 2 s deadline (cut $CLOSED after ${AFTER}s)" \
	bash -c "[ '$CLOSED' = 16 ] && awk 'BEGIN { exit !($AFTER >= 1.0 && $AFTER < 4.0) }'"
get /healthz >/dev/null
check "metrics-apid: serves again after the attack" test "$(code)" = 200
check "metrics-apid: no fd or thread left behind" \
	test "$(ls /proc/$APID_PID/fd | wc -l) $(ls /proc/$APID_PID/task | wc -l)" = "$FDS0 $THREADS0"

# ---- shutdown: not ready while requests in flight are finished ----------------------------------
# The API server holds the next GET of pod-a for 1.5 s: a request in flight at SIGTERM.
in_node curl -sk -X POST "https://127.0.0.1:$PORT/_fixture/faults" \
	-d '[{"status":500,"delayMs":1500,"method":"GET","path":"pods/pod-a"}]' >/dev/null
relay "$POD" >"$TMP/held" &
HELD=$!
for _ in $(seq 60); do scrape; [ "$(sample plexus_apid_relay_in_flight)" = 1 ] && break; sleep 0.05; done
check "metrics-apid: plexus_apid_relay_in_flight is 1 while the API server holds a request" \
	test "$(sample plexus_apid_relay_in_flight)" = 1
check "metrics-apid: another client meanwhile is told the relay is busy" \
	test "$(relay "$POD" | jq -r .error.errno)" = 16
scrape
check "metrics-apid: ... and counted: busy 1" test "$(sample 'plexus_apid_relay_requests_total{result="busy"}')" = 1
kill -TERM "$APID_PID"
for _ in $(seq 40); do grep -q 'finishing 1 request' "$ALOG" && break; sleep 0.05; done
get /readyz >/dev/null
check "metrics-apid: /readyz is 503 after SIGTERM while the request is finished" test "$(code)" = 503
get /healthz >/dev/null
check "metrics-apid: ... /healthz still 200" test "$(code)" = 200
wait "$APID_PID"
RC=$?
APID_PID=''
wait "$HELD"
check "metrics-apid: then it exits 0, the held request answered (500) first" \
	bash -c "[ $RC -eq 0 ] && grep -q 'finishing 1 request(s) in flight' '$ALOG' && [ \"\$(jq -r .status '$TMP/held')\" = 500 ]"

# ---- the flag -----------------------------------------------------------------------------------
for bad in localhost:9453 127.0.0.1 127.0.0.1:0 '[::1]' 10.0.0.1:99999; do
	in_node "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" --metrics-address "$bad" 2>"$TMP/bad.err"
	RC=$?
	check "metrics-apid: --metrics-address '$bad' is a usage error naming the flag" \
		bash -c "[ $RC -eq 2 ] && grep -q -- '--metrics-address' '$TMP/bad.err'"
done
ip netns exec "$NODE" python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 9455)); s.listen(); time.sleep(10)' &
SQUAT=$!
for _ in $(seq 100); do [ "$(in_node ss -Hltn 'sport = :9455' | wc -l)" = 1 ] && break; sleep 0.05; done
timeout 10 ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" \
	--metrics-address 127.0.0.1:9455 2>"$TMP/busy.err"
RC=$?
check "metrics-apid: metrics address in use: exit 1 saying so, the socket removed" \
	bash -c "[ $RC -eq 1 ] && grep -q 'metrics-address.*Address already in use' '$TMP/busy.err' && [ ! -e '$SOCK' ]"
kill "$SQUAT" 2>/dev/null; wait "$SQUAT" 2>/dev/null
start_apid --metrics-address ''
check "metrics-apid: --metrics-address '': the relay serves, nothing listens on 9453" \
	bash -c "[ \"\$(ip netns exec $NODE ss -Hltn 'sport = :9453' | wc -l)\" = 0 ] && grep -q 'relaying to' '$ALOG'"
check "metrics-apid: ... and it relays" test "$(relay "$POD" | jq -r .status)" = 200
kill -TERM "$APID_PID"; wait "$APID_PID"; APID_PID=''
