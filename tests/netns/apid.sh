#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-apid, the node's Kubernetes API relay, end to end: a "node" network namespace runs the
# API server fixture (real TLS, token) and the relay; the meta-plugin (conf "apiRelay") sends its
# API requests through it. Checks the socket, the request filter, request counts, that the
# plugin no longer loads libcurl, concurrency, error pass-through, the fallback to direct
# requests when nothing listens (daemon stopped, or a stale socket), and the daemon under
# attack: slow clients, more clients than it takes, foreign PATCH bodies, a stuck daemon.
# Needs root, node, python3.
source "$(dirname "$0")/../lib.sh"
need_root
for t in node openssl curl jq python3; do
	command -v "$t" >/dev/null || { fail "apid: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
P=$BIN/plexus
TMP=$(t_tmpdir)
SOCK=$TMP/run/api.sock
NODE=plxan$T_ID
API_PID='' APID_PID=''
# The lib's cleanup does not know the daemons: stop them first (pids we started, nothing else).
stop_procs() {
	local p
	for p in $APID_PID $API_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	APID_PID='' API_PID=''
}
trap 'stop_procs; t_cleanup' EXIT
t_netns "$NODE"
ip -n "$NODE" link set lo up
ip -n "$NODE" link add eth9 type veth peer name eth9p
ip -n "$NODE" addr add 10.233.0.1/24 dev eth9
ip -n "$NODE" link set eth9 up
ip -n "$NODE" link set eth9p up

# ---- the API server fixture, inside the node ---------------------------------------------
bash "$TOP/tests/fixtures/apiserver/mkcerts.sh" "$TMP/pki"
TOKEN=plexus-node-token-$T_ID
nad() { # nad NS NAME CONFIG_JSON
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" '{apiVersion:"k8s.cni.cncf.io/v1",
		kind:"NetworkAttachmentDefinition",metadata:{namespace:$ns,name:$n,uid:("uid-"+$n)},spec:{config:$c}}'
}
pod() { # pod NAME NETWORKS_ANNOTATION
	jq -cn --arg n "$1" --arg a "$2" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",
		name:$n,uid:("uid-"+$n),annotations:{"k8s.v1.cni.cncf.io/networks":$a}},spec:{containers:[{name:"c",image:"pause"}]}}'
}
mv() { # mv NAME SUBNET: a macvlan conf with built-in host-local
	jq -cn --arg n "$1" --arg d "$TMP/ipam-$1" --arg s "$2" '{cniVersion:"1.0.0",name:$n,type:"macvlan",
		master:"eth9",mode:"bridge",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}}'
}
PODS="pod-a pod-b pod-c pod-d pod-e pod-f pod-g pod-missing $(echo par-{1..8})"
{
	echo '{"items":['
	nad kube-system cluster "$(mv cluster 10.230.0.0/24)"; echo ,
	nad default mv-a "$(mv mv-a 10.231.0.0/24)"; echo ,
	nad default mv-b "$(mv mv-b 10.232.0.0/24)"
	for p in $PODS; do echo ,; pod "$p" "mv-a,mv-b"; done
	echo ']}'
} | jq -c '(.items[] | select(.metadata.name == "pod-missing") | .metadata.annotations["k8s.v1.cni.cncf.io/networks"]) = "mv-a,no-such-net"' >"$TMP/state.json"
ip netns exec "$NODE" node "$TOP/tests/fixtures/apiserver/apiserver.js" --cert "$TMP/pki/server.crt" \
	--key "$TMP/pki/server.key" --state "$TMP/state.json" --token "$TOKEN" \
	--log "$TMP/api.log" --max-lifetime 300 >"$TMP/port" 2>"$TMP/api.err" &
API_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
PORT=$(head -n1 "$TMP/port")
check "apid: API server fixture is up" test -n "$PORT"
printf '%s\n' "apiVersion: v1" "kind: Config" "clusters:" "- name: test" "  cluster:" \
	"    server: https://127.0.0.1:$PORT" "    certificate-authority: $TMP/pki/ca.crt" "users:" \
	"- name: plexus" "  user:" "    token: $TOKEN" "contexts:" "- name: test" \
	"  context: {cluster: test, user: plexus}" "current-context: test" >"$TMP/kubeconfig"
# The tenant NADs keep their leases under $TMP: allowed by tenantPolicy (docs/security.md).
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg t "$TMP" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",cniDir:$c,
	  tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
CONF_R=$(jq -c --arg s "$SOCK" '. + {apiRelay:$s}' <<<"$CONF")
CONF_RD=$(jq -c '. + {logLevel:"debug"}' <<<"$CONF_R")

# plexus VERB POD [CONF]: run the meta-plugin in the node; sets OUT, RC; stderr to $ERR.
plexus() {
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" "${EXTRA_ENV[@]}" \
		CNI_COMMAND="$1" CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/$(podns "$2")" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2" \
		"$P" <<<"${3:-$CONF_R}" 2>"${ERR:-$TMP/stderr}")
	RC=$?
}
EXTRA_ENV=()
podns() { echo "plxap$T_ID-$1"; }
mkpod() { t_netns "$(podns "$1")" && ip -n "$(podns "$1")" link set lo up; }
links() { ip -n "$(podns "$1")" -j link show | jq -r 'map(.ifname) | sort | join(",")'; }
# The pod Events an ADD sends (tests/netns/events.sh) are left out of the counts.
api_count() { grep -v ' /api/v1/namespaces/[^/]*/events' "$TMP/api.log" 2>/dev/null | grep -c -- "$1" || true; }
network_status() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state" | jq -c --arg n "$1" \
	'.items[] | select(.kind=="Pod" and .metadata.name==$n) | .metadata.annotations["k8s.v1.cni.cncf.io/network-status"] // "null" | fromjson'; }
leases() { find "$TMP"/ipam-* -type f -name '10.*' 2>/dev/null | wc -l; }
is_err() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
N=0
start_apid() { # start_apid [OPTION...]: a new daemon logging to $ALOG; waits until it listens
	N=$((N + 1)) ALOG=$TMP/apid$N.log
	ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" \
		--log-level debug "$@" 2>"$ALOG" &
	APID_PID=$!
	for _ in $(seq 100); do grep -q 'relaying to' "$ALOG" && break; sleep 0.05; done
}
raw() { # raw TEXT: one raw relay exchange (TEXT "-": stdin); prints the answer. A busy daemon
	# answers without reading: sending may then fail (EPIPE), and receiving end in a reset.
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); b = b""
try:
    s.sendall((sys.stdin.read() if sys.argv[2] == "-" else sys.argv[2]).encode()); s.shutdown(socket.SHUT_WR)
except BrokenPipeError: pass
try:
    while (d := s.recv(65536)): b += d
except ConnectionResetError: pass
sys.stdout.write(b.decode())' "$SOCK" "$1"
}

# ---- 1-2: start-up --------------------------------------------------------------------------
start_apid
check "apid: the daemon starts and relays to the fixture" grep -q "relaying to https://127.0.0.1:$PORT on $SOCK" "$ALOG"
check "apid: the socket is mode 0600" test "$(stat -c %a "$SOCK" 2>/dev/null)" = 600
timeout 10 ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" 2>"$TMP/second.err"
RC=$?
check "apid: a second daemon on the served socket exits 1" test "$RC" -eq 1
check "... saying another relay serves it" grep -q "another relay is already serving it" "$TMP/second.err"
check "... and the first one still serves" bash -c "[ -S '$SOCK' ] && kill -0 $APID_PID"
echo keep >"$TMP/not-a-socket"
timeout 10 ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" \
	--socket "$TMP/not-a-socket" 2>"$TMP/file.err"
RC=$?
check "apid: --socket naming a regular file: exit 1, 'is not a socket', the file kept" \
	bash -c "[ $RC -eq 1 ] && grep -q 'exists and is not a socket' '$TMP/file.err' && [ \$(cat '$TMP/not-a-socket') = keep ]"

# ---- 3-5: ADD / DEL through the relay -------------------------------------------------------
for p in $PODS; do mkpod "$p"; done
: >"$TMP/api.log"
EXTRA_ENV=(LD_DEBUG=files)
plexus ADD pod-a
EXTRA_ENV=()
check "apid: ADD pod-a through the relay succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || { echo "out: $OUT"; grep -v '^ *[0-9]*:' "$TMP/stderr"; }
check "... pod-a has eth0 (cluster), net1, net2" test "$(links pod-a)" = eth0,lo,net1,net2
COUNTS=$(for x in 'GET /api/v1/namespaces/default/pods/pod-a 200' 'definitions/cluster 200' 'definitions/mv-a 200' \
	'definitions/mv-b 200' 'PATCH /api/v1/namespaces/default/pods/pod-a/status 200' ' token-user$' .; do api_count "$x"; done | paste -sd' ')
check "... one GET pod, one GET per NAD, one PATCH status, all 200 with the relay's token" \
	test "$COUNTS" = "1 1 1 1 1 5 5"
check "... network-status written: cluster, mv-a, mv-b" \
	test "$(network_status pod-a | jq -c 'map(.name + " " + .interface)')" = '["kube-system/cluster eth0","default/mv-a net1","default/mv-b net2"]'
check "... the daemon logged the relayed requests" bash -c "grep -q 'relay: GET /api/v1/namespaces/default/pods/pod-a: HTTP 200' '$ALOG' &&
	[ \$(grep -c 'relay: GET /apis/k8s.cni.cncf.io/v1/namespaces/.*/network-attachment-definitions/.*: HTTP 200' '$ALOG') -eq 3 ] &&
	grep -q 'relay: PATCH /api/v1/namespaces/default/pods/pod-a/status: HTTP 200' '$ALOG'"
check "apid: the plugin did not load libcurl in relay mode" \
	bash -c "grep -q 'file=' '$TMP/stderr' && ! grep -q libcurl '$TMP/stderr'"
: >"$TMP/api.log"
plexus DEL pod-a
check "apid: DEL pod-a through the relay conf succeeds" test "$RC" -eq 0
check "... removes the interfaces and the intent log" bash -c "[ '$(links pod-a)' = lo ] && [ ! -e '$TMP/cache/cid-pod-a.json' ]"
check "... without any API request" test "$(api_count .)" -eq 0

# ---- 6: the request filter --------------------------------------------------------------------
: >"$TMP/api.log"
A1=$(raw '{"method":"GET","path":"/api/v1/namespaces/kube-system/secrets/x"}')
A2=$(raw '{"method":"DELETE","path":"/api/v1/namespaces/default/pods/pod-b"}')
A3=$(raw 'this is not JSON')
# answer TEXT FILTER: FILTER holds for the answer after the daemon's ack line
answer() { sed '1{/^{"accepted":true}$/d}' <<<"$1" | jq -e "$2" >/dev/null 2>&1; }
check "apid: the daemon acknowledges a request it read before answering" \
	test "$(head -n1 <<<"$A1")" = '{"accepted":true}' 
check "apid: GET of a secret is refused with an error answer" \
	answer "$A1" '.error.msg | contains("not GET /api/v1/namespaces/kube-system/secrets/x")'
check "apid: DELETE of a pod is refused with an error answer" answer "$A2" '.error.msg | contains("not DELETE")'
check "apid: a malformed request gets an error answer" answer "$A3" '.error.code > 0'
check "... nothing reached the API server, the daemon logged the refusals" bash -c "[ \$(grep -vc ' /api/v1/namespaces/[^/]*/events' '$TMP/api.log') -eq 0 ] &&
	[ \$(grep -c 'relay: refused' '$ALOG') -eq 2 ]"
plexus ADD pod-b
check "apid: the daemon keeps serving: ADD pod-b succeeds through it" \
	bash -c "[ $RC -eq 0 ] && [ '$(links pod-b)' = eth0,lo,net1,net2 ] && grep -q 'relay: PATCH /api/v1/namespaces/default/pods/pod-b/status' '$ALOG'"

# ---- 7: concurrency -----------------------------------------------------------------------------
: >"$TMP/api.log"
par() { # par VERB: the 8 par-N pods at once; prints the failed ones
	local pids=() i
	for i in {1..8}; do (ERR=$TMP/stderr-par-$i; plexus "$1" "par-$i"; exit "$RC") & pids+=($!); done
	for i in {1..8}; do wait "${pids[$((i - 1))]}" || echo "par-$i"; done
}
FAILED=$(par ADD)
check "apid: 8 pods ADDed in parallel through the relay all succeed" test -z "$FAILED"
[ -z "$FAILED" ] || cat "$TMP"/stderr-par-*
check "... every pod has its interfaces and its network-status" bash -c "for i in {1..8}; do
	[ \"\$(ip -n $(podns par)-\$i -j link show | jq length)\" -eq 4 ] || exit 1; done
	[ $(for i in {1..8}; do network_status "par-$i" | jq length; done | grep -cx 3) -eq 8 ]"
check "... all 8 PATCHes went through the relay" \
	test "$(api_count 'PATCH .*/status 200')/$(grep -c 'relay: PATCH .*/pods/par-[1-8]/status: HTTP 200' "$ALOG")" = 8/8
FAILED=$(par DEL)
check "apid: DEL of the 8 pods in parallel succeeds" test -z "$FAILED"
check "... their interfaces are gone" bash -c "for i in {1..8}; do [ \$(ip -n $(podns par)-\$i -j link show | jq length) -eq 1 ] || exit 1; done"

# ---- 9: API errors pass through with their meaning ----------------------------------------------
LEASES0=$(leases)
plexus ADD pod-missing "$CONF"
DIRECT=$(jq -c '{code,msg}' <<<"$OUT")
plexus ADD pod-missing
check "apid: a missing NAD fails ADD with code 101 through the relay" is_err 101
RELAYED=$(jq -c '{code,msg}' <<<"$OUT")
check "... naming the network, exactly as in direct mode" \
	bash -c "[ \"\$1\" = \"\$2\" ] && grep -q default/no-such-net <<<\"\$1\"" _ "$RELAYED" "$DIRECT"
[ "$RELAYED" = "$DIRECT" ] || echo "relayed: $RELAYED; direct: $DIRECT"
check "... leaving no link, lease or intent log" bash -c "[ '$(links pod-missing)' = lo ] &&
	[ $(leases) -eq $LEASES0 ] && [ ! -e '$TMP/cache/cid-pod-missing.json' ]"

# ---- 8: fallback when nothing listens ---------------------------------------------------------
kill -TERM "$APID_PID"; wait "$APID_PID"; RC=$?; APID_PID=''
check "apid: SIGTERM: the daemon exits 0 and removes its socket" bash -c "[ $RC -eq 0 ] && [ ! -e '$SOCK' ]"
: >"$TMP/api.log"
EXTRA_ENV=(LD_DEBUG=files)
plexus ADD pod-c "$CONF_RD"
EXTRA_ENV=()
check "apid: ADD with no relay running succeeds (direct)" bash -c "[ $RC -eq 0 ] && [ '$(links pod-c)' = eth0,lo,net1,net2 ]"
check "... logging that the relay is not listening (no socket)" grep -q "API relay '$SOCK' not listening (No such file or directory): direct request" "$TMP/stderr"
check "... loading libcurl itself" grep -q 'libcurl' "$TMP/stderr"
check "... and its requests reached the API server" test "$(api_count 'PATCH /api/v1/namespaces/default/pods/pod-c/status 200')" -eq 1
start_apid
kill -KILL "$APID_PID"; wait "$APID_PID" 2>/dev/null; APID_PID=''
check "apid: a SIGKILLed daemon leaves a stale socket" test -S "$SOCK"
plexus ADD pod-d "$CONF_RD"
check "apid: ADD with a stale socket succeeds (direct)" bash -c "[ $RC -eq 0 ] && [ '$(links pod-d)' = eth0,lo,net1,net2 ]"
check "... logging connection refused" grep -q "not listening (Connection refused): direct request" "$TMP/stderr"
start_apid
check "apid: a new daemon replaces the stale socket" bash -c "grep -q 'relaying to' '$ALOG' && kill -0 $APID_PID &&
	[ \$(stat -c %a '$SOCK') = 600 ] && python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"$SOCK\")'"
plexus ADD pod-e "$CONF_RD"
check "... and serves again: ADD pod-e goes through it" bash -c "[ $RC -eq 0 ] && ! grep -q 'not listening' '$TMP/stderr' &&
	grep -q 'relay: PATCH /api/v1/namespaces/default/pods/pod-e/status: HTTP 200' '$ALOG'"
# A daemon whose socket was replaced (by an operator, or a newer daemon) leaves it alone on exit.
OLD_PID=$APID_PID
command mv "$SOCK" "$SOCK.old"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
kill -TERM "$OLD_PID"; wait "$OLD_PID"; APID_PID=''
check "apid: SIGTERM after its socket was replaced keeps the new one" \
	bash -c "[ -S '$SOCK' ] && grep -q 'no longer this relay' '$ALOG'"
rm -f "$SOCK" "$SOCK.old"
# --take-over (the DaemonSet's rolling update): the new daemon serves at once, the old one
# leaves the new socket alone when it stops.
start_apid
OLD_PID=$APID_PID OLD_LOG=$ALOG
start_apid --take-over
check "apid: --take-over serves a socket another daemon answers on, the other still runs" bash -c \
	"grep -q 'relaying to' '$ALOG' && kill -0 $APID_PID && kill -0 $OLD_PID && [ \$(stat -c %a '$SOCK') = 600 ] &&
	[ -z \"\$(find '$(dirname "$SOCK")' -name '*.new')\" ]"
kill -TERM "$OLD_PID"; wait "$OLD_PID"
check "... the old one's SIGTERM keeps the new socket, which still answers" bash -c \
	"grep -q 'no longer this relay' '$OLD_LOG' && python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"$SOCK\")'"
kill -TERM "$APID_PID"; wait "$APID_PID"; APID_PID=''
check "... and the new one's SIGTERM removes it" test ! -e "$SOCK"
for p in pod-b pod-c pod-d pod-e; do plexus DEL "$p"; done
check "apid: every lease is released" test "$(leases)" -eq 0


# ---- 10: the daemon under attack --------------------------------------------------------------
PATCH_PATH=/api/v1/namespaces/default/pods/pod-b/status
patch_req() { jq -cn --arg p "$PATCH_PATH" --arg b "$1" '{method:"PATCH",path:$p,contentType:"application/merge-patch+json",body:$b}'; }
start_apid --workers 1
: >"$TMP/api.log"
B1=$(raw "$(patch_req '{"metadata":{"labels":{"evil":"yes"}}}')")
B2=$(raw "$(patch_req '{"metadata":{"annotations":{"k8s.v1.cni.cncf.io/network-status":"[]","k8s.v1.cni.cncf.io/networks":"x"}}}')")
B3=$(raw "$(patch_req '{"metadata":{"annotations":{"k8s.v1.cni.cncf.io/network-status":"[]"}},"status":{"phase":"Failed"}}')")
B4=$(python3 -c 'import json, sys; print(json.dumps({"method": "PATCH", "path": sys.argv[1],
	"contentType": "application/merge-patch+json", "body": json.dumps({"metadata": {"annotations":
	{"k8s.v1.cni.cncf.io/network-status": "x" * 300000}}})}))' "$PATCH_PATH" | raw -)
for b in B1 B2 B3; do
	check "apid: PATCH with another body ($b) is refused naming the one it forwards" \
		answer "${!b}" '.error.code == 101 and (.error.msg | contains("forwards only the merge patch {\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"<string>\"}}}"))'
done
check "apid: a PATCH body over 256 KiB is refused" answer "$B4" '.error.code == 101 and (.error.msg | contains("PATCH bodies of 1 to 262144 bytes"))'
check "... none reached the API server, each refusal logged" bash -c "[ \$(grep -vc ' /api/v1/namespaces/[^/]*/events' '$TMP/api.log') -eq 0 ] &&
	[ \$(grep -c 'relay: refused the body of PATCH' '$ALOG') -eq 4 ]"

# Slow clients (one silent, one trickling a byte every 200 ms) against one worker.
slow() { # slow MODE: prints the answer (or TIMEOUT) and the seconds it took
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(0.2); t = time.time(); b = b""
while time.time() - t < 10:
    try:
        d = s.recv(65536)
        if not d: break
        b += d
    except socket.timeout:
        if sys.argv[2] == "trickle": s.send(b" ")
    except (BrokenPipeError, ConnectionResetError): break # closed as a byte went out
print(b.decode().strip() or "TIMEOUT"); print("%.1f" % (time.time() - t))' "$SOCK" "$1"
}
S1=$(slow silent)
check "apid: a client that sends nothing gets an error answer at the read deadline" \
	answer "$(head -n1 <<<"$S1")" '.error.code == 11 and (.error.msg | contains("request not received within 1000 ms"))'
slow trickle >"$TMP/trickle" &
TRICKLE=$!
sleep 0.2
G1=$(raw '{"method":"GET","path":"/api/v1/namespaces/default/pods/pod-b"}')
wait "$TRICKLE"
check "apid: a trickling client is cut off at the same deadline" \
	answer "$(head -n1 "$TMP/trickle")" '.error.msg | contains("request not received within 1000 ms")'
check "... and the only worker then serves the request queued behind it" \
	answer "$(head -n2 <<<"$G1" | tail -n1)" '.status == 200'
check "... the daemon logged both" test "$(grep -c 'relay: reading a request: not complete in time' "$ALOG")" -eq 2

# More clients than --max-clients: the next one is told at once, and the plugin goes direct.
kill -TERM "$APID_PID"; wait "$APID_PID"; APID_PID=''
start_apid --workers 2 --max-clients 2
ip netns exec "$NODE" curl -sk -X POST "https://127.0.0.1:$PORT/_fixture/faults" \
	-d '{"method":"GET","path":"pods/pod-b","delayMs":4000,"count":2}' >/dev/null
HOLD='{"method":"GET","path":"/api/v1/namespaces/default/pods/pod-b"}'
raw "$HOLD" >"$TMP/hold1" & H1=$!
raw "$HOLD" >"$TMP/hold2" & H2=$!
sleep 0.5 # both are being served (the fixture logs a request when it answers)
BUSY=$(raw '{"method":"GET","path":"/api/v1/namespaces/default/pods/pod-c"}')
check "apid: client 3 of --max-clients 2 is told the relay is busy (code 11, EBUSY)" \
	answer "$BUSY" '.error.code == 11 and .error.errno == 16 and (.error.msg | contains("API relay busy: 2 clients"))'
plexus ADD pod-f "$CONF_RD"
check "apid: ADD while the relay is busy succeeds" bash -c "[ $RC -eq 0 ] && [ '$(links pod-f)' = eth0,lo,net1,net2 ]"
check "... going direct as soon as it is told" grep -q "API relay '$SOCK' busy: direct request" "$TMP/stderr"
wait "$H1" "$H2"
check "... while the two held clients still get their answers" \
	bash -c "grep -q '\"status\":200' '$TMP/hold1' && grep -q '\"status\":200' '$TMP/hold2'"

# A relay that accepts and never answers (stopped): one short wait, then direct.
kill -STOP "$APID_PID"
SECONDS=0
plexus ADD pod-g "$CONF_RD"
ELAPSED=$SECONDS
kill -CONT "$APID_PID"
check "apid: ADD with a stuck relay succeeds" bash -c "[ $RC -eq 0 ] && [ '$(links pod-g)' = eth0,lo,net1,net2 ]"
check "... after one unacknowledged request, then direct without asking the relay again" \
	bash -c "[ \$(grep -c \"API relay '$SOCK' did not acknowledge within 1000 ms: direct request\" '$TMP/stderr') -eq 1 ] &&
	grep -q 'did not acknowledge earlier: direct request' '$TMP/stderr' && ! grep -q 'no answer within' '$TMP/stderr'"
check "... well within one API timeout (${ELAPSED}s < 10s)" test "$ELAPSED" -lt 10
for _ in $(seq 40); do grep -q 'client gone before the request was served' "$ALOG" && break; sleep 0.05; done
check "... and the relay, woken up, forwards nothing for the client that left" \
	grep -q 'client gone before the request was served' "$ALOG"
for p in pod-f pod-g; do plexus DEL "$p"; done
check "apid: every lease is released after the attacks" test "$(leases)" -eq 0
