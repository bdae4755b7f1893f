#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pod Events from the meta-plugin (docs/observability.md, "Events"), against the API server
# fixture in a "node" network namespace: one AddedInterface per attachment, a Warning naming the
# network and CNI code when ADD fails, a crash-looping pod's repeated failure aggregated by
# plexus-apid into one Event (PATCHes of its count), similar Events (other messages) merged into
# one "(combined from similar events)" Event after 10, the relay refusing Events for another pod
# or of a foreign reason; without the relay, the same correlation from the meta-plugin's state
# files under cniDir/events (crash loop with DELs between, a damaged file, similar Events, the
# cap and the idle sweep); and an API server that hangs on Events: ADD still succeeds, quickly,
# and the dropped Event is counted. The request bodies are asserted as the fixture recorded them.
# Needs root, node, python3.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools events node openssl curl jq python3
P=$BIN/plexus
TMP=$(t_tmpdir)
SOCK=$TMP/run/api.sock
NODE=plxev$T_ID
new_node "$NODE"

{
	echo '{"items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-cluster" 10.230.0.0/24)"; echo ,
	nad default mv-a "$(mv_conf mv-a "$TMP/ipam-mv-a" 10.231.0.0/24)"; echo ,
	nad default mv-b "$(mv_conf mv-b "$TMP/ipam-mv-b" 10.232.0.0/24)"; echo ,
	nad default mv-bad "$(mv_conf mv-bad "$TMP/ipam-mv-bad" 10.233.0.0/24 no-such-master)"; echo ,
	pod pod-a "mv-a,mv-b"; echo ,
	pod pod-b "mv-a"; echo ,
	pod pod-c "mv-a"; echo ,
	pod pod-d "mv-a"; echo ,
	pod pod-nonad "mv-a,no-such-net"; echo ,
	pod pod-loop "mv-bad"; echo ,
	pod pod-dloop "mv-bad"; echo ,
	pod pod-dsim "mv-a"; echo ,
	pod pod-dcap "mv-a"
	echo ']}'
} >"$TMP/state.json"
TOKEN=plexus-node-token-$T_ID
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "events: API server fixture is up" test -n "$PORT"
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg t "$TMP" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",cniDir:$c,
	  tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
CONF_R=$(jq -c --arg s "$SOCK" '. + {apiRelay:$s}' <<<"$CONF")

podns() { echo "plxev$T_ID-$1"; }
plexus() { # plexus VERB POD [CONF]: sets OUT, RC, MS (elapsed); stderr to $TMP/stderr
	local t0=$(date +%s%N)
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" NODE_NAME=node-$T_ID \
		CNI_COMMAND="$1" CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/$(podns "$2")" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_UID=$(uid "$2")" \
		"$P" <<<"${3:-$CONF_R}" 2>"$TMP/stderr")
	RC=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
}
for p in pod-a pod-b pod-c pod-d pod-nonad pod-loop pod-dloop pod-dsim pod-dcap; do t_netns "$(podns "$p")"; done
fixture() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/$1" "${@:2}"; }
# events_of POD: the Event bodies POSTed for POD, in order, one JSON object a line
events_of() { fixture requests | jq -c --arg p "$1" '.items[] | select(.method=="POST" and (.path|endswith("/events")))
	| .body | fromjson | select(.involvedObject.name==$p)'; }
n_requests() { fixture requests | jq --arg m "$1" --arg r "$2" '[.items[] | select(.method==$m and (.path|test($r)))] | length'; }
jqe() { # jqe [-s] FILTER JSON: FILTER holds for JSON (-s: its lines as one array)
	local s=(); [ "$1" = -s ] && { s=(-s); shift; }
	jq -e "${s[@]}" "$1" >/dev/null 2>&1 <<<"$2"
}
lacks() { ! grep -q -- "$1" <<<"$2"; }
wait_for() { for _ in $(seq 60); do eval "$1" && return 0; sleep 0.05; done; return 1; }
metric() { ip netns exec "$NODE" curl -s "http://127.0.0.1:9453/metrics" |
	awk -v k="plexus_apid_events_total{result=\"$1\"}" '$1 == k { print $2 }'; }
ALOG=$TMP/apid.log
ip netns exec "$NODE" env NODE_NAME="node-$T_ID" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" \
	--socket "$SOCK" --log-level debug 2>"$ALOG" &
APID_PID=$!
t_proc "$APID_PID"
for _ in $(seq 100); do grep -q 'relaying to' "$ALOG" && break; sleep 0.05; done
check "events: plexus-apid is up" grep -q 'relaying to' "$ALOG"

# ---- 1: one AddedInterface per attachment, through the relay ------------------------------------
plexus ADD pod-a
check "events: ADD pod-a through the relay succeeds" test "$RC" -eq 0
wait_for '[ "$(events_of pod-a | wc -l)" -ge 3 ]'
EV=$(events_of pod-a)
IPS=$(ip -n "$(podns pod-a)" -j addr show | jq -r '[.[] | select(.ifname != "lo") | {(.ifname): (.addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)")}] | add')
# The relay's workers may post them in any order.
check "events: three Events for pod-a, one per attachment, with interface, IPs and network" \
	test "$(jq -r '.message' <<<"$EV" | sort | paste -sd'|')" = \
	"Add eth0 [$(jq -r .eth0 <<<"$IPS")] from kube-system/cluster|Add net1 [$(jq -r .net1 <<<"$IPS")] from default/mv-a|Add net2 [$(jq -r .net2 <<<"$IPS")] from default/mv-b"
check "... each a Normal AddedInterface about the pod (namespace, name, uid), count 1" \
	test "$(jq -c 'select(.type=="Normal" and .reason=="AddedInterface" and .count==1 and
		.involvedObject=={apiVersion:"v1",kind:"Pod",namespace:"default",name:"pod-a",uid:"'"$(uid pod-a)"'"} and
		.metadata.namespace=="default" and (.metadata.name|startswith("pod-a.")))' <<<"$EV" | wc -l)" -eq 3
check "... from component plexus on the node, reporting controller plexus.io/meta, with timestamps" \
	test "$(jq -c 'select(.source=={component:"plexus",host:"node-'"$T_ID"'"} and .reportingComponent=="plexus.io/meta"
		and (.firstTimestamp|test("^[0-9-]+T[0-9:]+Z$")) and .lastTimestamp==.firstTimestamp)' <<<"$EV" | wc -l)" -eq 3
check "... created in the API server (kubectl describe pod would list them)" \
	test "$(fixture state | jq '[.items[] | select(.kind=="Event" and .involvedObject.name=="pod-a")] | length')" -eq 3

# ---- 2: Warnings for failed ADDs ----------------------------------------------------------------
plexus ADD pod-nonad
check "events: ADD of a pod naming a missing NAD fails with code 101" jqe '.code == 101' "$OUT"
wait_for '[ "$(events_of pod-nonad | wc -l)" -ge 1 ]'
EV=$(events_of pod-nonad)
check "... one Warning NoNetworkFound Event naming the NAD and the CNI code" \
	jqe -s 'length == 1 and (.[0] | .type == "Warning" and .reason == "NoNetworkFound" and
		(.message|startswith("Failed to add the pod'"'"'s networks: CNI error 101: ")) and (.message|contains("no-such-net")))' "$EV"
check "... and no AddedInterface for it" lacks AddedInterface "$EV"
plexus ADD pod-loop
CODE=$(jq -r .code <<<"$OUT")
check "events: ADD of a pod whose macvlan master is missing fails" test "$RC" -ne 0
wait_for '[ "$(events_of pod-loop | wc -l)" -ge 1 ]'
EV=$(events_of pod-loop)
check "... one Warning AddInterfaceFailed Event naming the network and the CNI code" \
	jqe -s 'length == 1 and (.[0] | .type == "Warning" and .reason == "AddInterfaceFailed" and
		(.message|startswith("Failed to add default/mv-bad: CNI error '"$CODE"': ")) and (.message|contains("no-such-master")))' "$EV"

# ---- 3: a crash-looping pod: one Event, its count growing ---------------------------------------
for _ in 1 2 3 4; do plexus ADD pod-loop; done
NAME=$(jq -r .metadata.name <<<"$EV")
wait_for '[ "$(n_requests PATCH "/events/$NAME\$")" -ge 4 ]'
check "events: 5 failed ADDs of pod-loop: 1 POST of its Event, then 4 PATCHes of it, no other POST" \
	test "$(events_of pod-loop | wc -l)/$(n_requests PATCH "/events/$NAME\$")" = 1/4
check "... the PATCHes are merge patches of count 2..5 and lastTimestamp only" \
	test "$(fixture requests | jq -c --arg n "$NAME" '[.items[] | select(.method=="PATCH" and (.path|endswith("/events/"+$n)))
		| select(.contentType=="application/merge-patch+json") | .body | fromjson | select(keys==["count","lastTimestamp"]) | .count]')" = "[2,3,4,5]"
check "... the API server's Event has count 5" \
	test "$(fixture state | jq --arg n "$NAME" '.items[] | select(.kind=="Event" and .metadata.name==$n) | .count')" = 5
check "... counted in plexus_apid_events_total: created 5, aggregated 4" test "$(metric created)/$(metric aggregated)" = 5/4

# ---- 4: the relay's Event filter ----------------------------------------------------------------
raw() { # raw TEXT: one raw relay exchange; prints the answer after the ack line
	ip netns exec "$NODE" python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); b = b""
s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)
while (d := s.recv(65536)): b += d
sys.stdout.write(b.decode())' "$SOCK" "$1" | sed '1{/^{"accepted":true}$/d}'
}
# req POD_OF_REQUEST EVENT_JSON: the relay request the plugin would send
req() { jq -cn --arg p "$1" --arg u "$(uid "$1")" --arg b "$2" '{method:"POST",path:"/api/v1/namespaces/default/events",
	contentType:"application/json",body:$b,pod:{namespace:"default",name:$p,uid:$u}}'; }
ev() { # ev POD REASON MESSAGE
	jq -cn --arg p "$1" --arg u "$(uid "$1")" --arg r "$2" --arg m "$3" '{apiVersion:"v1",kind:"Event",
		metadata:{name:($p+".1"),namespace:"default"},involvedObject:{apiVersion:"v1",kind:"Pod",namespace:"default",name:$p,uid:$u},
		type:(if $r=="AddedInterface" then "Normal" else "Warning" end),reason:$r,message:$m}'; }
BEFORE=$(fixture requests | jq '.items | length')
A1=$(raw "$(req pod-b "$(ev pod-c AddedInterface 'Add net1 [10.0.0.1/24] from default/mv-a')")")
A2=$(raw "$(req pod-b "$(ev pod-b Killing 'Stopping container')")")
A3=$(raw "$(req pod-b "$(ev pod-b AddedInterface "$(printf 'Add net1\033[31m')")")")
A4=$(raw "$(jq -c '.path = "/api/v1/namespaces/kube-system/events"' <<<"$(req pod-b "$(ev pod-b AddedInterface x)")")")
check "events: the relay refuses an Event about another pod (code 101, involvedObject)" \
	jqe '.error.code == 101 and (.error.msg|contains("involvedObject"))' "$A1"
check "... an Event of a reason plexus does not use (code 101, type/reason)" \
	jqe '.error.code == 101 and (.error.msg|contains("type/reason"))' "$A2"
check "... a message with control characters (code 101, message)" \
	jqe '.error.code == 101 and (.error.msg|contains("message"))' "$A3"
check "... an Event posted to another namespace (code 101)" jqe '.error.code == 101' "$A4"
check "... none reached the API server, all counted as refused" \
	test "$(($(fixture requests | jq '.items | length') - BEFORE))/$(metric refused)" = 0/4
A5=$(raw "$(req pod-b "$(ev pod-b AddedInterface 'Add net1 [10.0.0.1/24] from default/mv-a')")")
check "events: the relay still forwards a valid Event (HTTP 201), rebuilt with its own source" \
	jqe -s '.[0].status == 201' "$A5"
check "... its body as the relay rebuilt it: the message kept, source and count its own" \
	jqe -s 'length == 1 and (.[0] | .message == "Add net1 [10.0.0.1/24] from default/mv-a" and
		.source.host == "node-'"$T_ID"'" and .count == 1 and .reportingComponent == "plexus.io/meta")' "$(events_of pod-b)"

# pod-b has used 1 of its 25 Events: 24 more are taken (aggregated), the next one is dropped.
raw_n() { # raw_n N TEXT: N raw relay exchanges, one after the other; prints the last answer
	ip netns exec "$NODE" python3 -c 'import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); b = b""
    s.sendall(sys.argv[3].encode()); s.shutdown(socket.SHUT_WR)
    while (d := s.recv(65536)): b += d
    s.close()
sys.stdout.write(b.decode())' "$SOCK" "$1" "$2" | sed '1{/^{"accepted":true}$/d}'
}
A6=$(raw_n 25 "$(req pod-b "$(ev pod-b AddedInterface 'Add net1 [10.0.0.1/24] from default/mv-a')")")
check "events: the 26th Event of a pod is dropped by the relay's spam filter (code 11), and counted" \
	bash -c "jq -e '.error.code == 11 and (.error.msg|contains(\"dropped\"))' >/dev/null <<<'$A6' &&
		[ '$(metric dropped)/$(metric aggregated)' = 1/28 ]"
check "... the 25 before it are one Event in the API server, count 25" \
	test "$(fixture state | jq -c '[.items[] | select(.kind=="Event" and .involvedObject.name=="pod-b") | .count]')" = "[25]"

# ---- 5: similar Events (same pod and reason, other messages) merged by the relay ----------------
# 12 distinct messages: the first 9 are Events of their own, the 10th makes the combined Event,
# the 11th and 12th PATCH it (count, lastTimestamp and its message); a repeat of the 3rd is a
# PATCH of the 3rd's own Event.
msg() { echo "Failed to add default/mv-x: CNI error 7: try $1"; }
raw_seq() { # raw_seq POD REASON N...: one raw relay exchange per message number, in order
	local pod=$1 reason=$2 i; shift 2
	for i in "$@"; do raw "$(req "$pod" "$(ev "$pod" "$reason" "$(msg "$i")")")" >/dev/null; done
}
raw_seq pod-s AddInterfaceFailed $(seq 12) 3
EV=$(events_of pod-s)
check "events: 12 similar Events of a pod through the relay: 9 POSTs of their own, then 1 of the combined Event" \
	test "$(jq -r .message <<<"$EV" | paste -sd'|')" = "$(for i in $(seq 9); do msg "$i"; done | paste -sd'|')|(combined from similar events): $(msg 10)"
COMB=$(jq -r 'select(.message|startswith("(combined")) | .metadata.name' <<<"$EV")
THIRD=$(jq -r --arg m "$(msg 3)" 'select(.message==$m) | .metadata.name' <<<"$EV")
check "... the combined Event is a Warning AddInterfaceFailed about the pod, count 1" \
	jqe -s 'map(select(.message|startswith("(combined"))) | length == 1 and (.[0] | .type == "Warning" and
		.reason == "AddInterfaceFailed" and .count == 1 and .involvedObject.name == "pod-s")' "$EV"
check "... the 11th and 12th PATCH it: count 2 and 3, the message following the latest" \
	test "$(fixture requests | jq -c --arg n "$COMB" '[.items[] | select(.method=="PATCH" and (.path|endswith("/events/"+$n)))
		| .body | fromjson | [.count, .message]]')" = "$(jq -cn --arg a "(combined from similar events): $(msg 11)" \
		--arg b "(combined from similar events): $(msg 12)" '[[2,$a],[3,$b]]')"
check "... a repeat of the 3rd message PATCHes the 3rd's own Event (count 2, no message)" \
	test "$(fixture requests | jq -c --arg n "$THIRD" '[.items[] | select(.method=="PATCH" and (.path|endswith("/events/"+$n)))
		| .body | fromjson | [.count, keys]]')" = '[[2,["count","lastTimestamp"]]]'
check "... the API server holds 10 Events for pod-s, the combined one with count 3" \
	test "$(fixture state | jq -c '[.items[] | select(.kind=="Event" and .involvedObject.name=="pod-s")] |
		[length, (map(select(.message|startswith("(combined"))) | .[0].count)]')" = "[10,3]"

# ---- 6: direct (no relay): the meta-plugin correlates with its state under cniDir/events -------
# A crash-looping pod as the kubelet runs it: ADD fails, DEL tears the sandbox down, again.
RCS=
for _ in 1 2 3 4 5; do plexus ADD pod-dloop "$CONF"; RCS+=$RC; plexus DEL pod-dloop "$CONF"; RCS+=$RC; done
check "events: direct, pod-dloop's ADDs fail with the CNI error, its DELs succeed" test "$RCS" = 1010101010
EV=$(events_of pod-dloop)
NAME=$(jq -r .metadata.name <<<"$EV")
check "events: direct, 5 failed ADDs (DEL between) of pod-dloop: 1 POST of its Event, 4 PATCHes of it" \
	test "$(wc -l <<<"$EV")/$(n_requests PATCH "/events/$NAME\$")" = 1/4
check "... merge patches of count 2..5 and lastTimestamp only" \
	test "$(fixture requests | jq -c --arg n "$NAME" '[.items[] | select(.method=="PATCH" and (.path|endswith("/events/"+$n)))
		| select(.contentType=="application/merge-patch+json") | .body | fromjson | select(keys==["count","lastTimestamp"]) | .count]')" = "[2,3,4,5]"
check "... the API server's Event has count 5" \
	test "$(fixture state | jq --arg n "$NAME" '.items[] | select(.kind=="Event" and .metadata.name==$n) | .count')" = 5
SDIR=$TMP/cache/events
check "... its state is one file under cniDir/events, mode 0600, naming the Event with count 5" \
	bash -c "[ \"\$(ls '$SDIR' | wc -l)/\$(stat -c %a '$SDIR'/*.json)\" = 1/600 ] &&
		jq -e '.sent | length == 1 and .[0].name == \"$NAME\" and .[0].count == 5' '$SDIR'/*.json >/dev/null"
# A damaged state file (a crash mid-write): the next Event starts over with a POST.
STATE=$(ls "$SDIR"/*.json)
printf '{"key":"torn' >"$STATE"
plexus ADD pod-dloop "$CONF"; plexus DEL pod-dloop "$CONF"
check "events: a damaged state file: the next failure POSTs a new Event and the file is valid again" \
	test "$(events_of pod-dloop | wc -l)/$(jq '.sent[0].count' "$STATE")" = 2/1
# Similar Events directly: each ADD of pod-dsim (cluster + mv-a) makes 2 AddedInterface Events
# whose IPs differ from the ADD before (host-local goes round): 6 ADDs, 12 distinct messages.
RCS=
for _ in 1 2 3 4 5 6; do plexus ADD pod-dsim "$CONF"; RCS+=$RC; plexus DEL pod-dsim "$CONF"; RCS+=$RC; done
check "events: direct, 6 ADDs and DELs of pod-dsim succeed (under SANITIZE=1: no finding either)" test "$RCS" = 000000000000
EV=$(events_of pod-dsim)
COMB=$(jq -r 'select(.message|startswith("(combined")) | .metadata.name' <<<"$EV")
check "events: direct, 12 similar AddedInterface Events of pod-dsim: 9 POSTs, 1 combined, 2 PATCHes of it" \
	test "$(wc -l <<<"$EV")/$(jq -r 'select(.message|startswith("(combined from similar events): Add ")) | .count' <<<"$EV")/$(n_requests PATCH "/events/$COMB\$")" = 10/1/2
check "... the combined Event in the API server: count 3, the message of the last ADD's net1" \
	jqe -s 'length == 1 and (.[0] | .count == 3 and (.message|test("^\\(combined from similar events\\): Add net1 \\[10\\.231\\.0\\.[0-9]+/24\\] from default/mv-a$")))' \
	"$(fixture state | jq -c --arg n "$COMB" '.items[] | select(.kind=="Event" and .metadata.name==$n)')"
# Bounded: idle state goes on DEL; at the cap, a new key's file first removes the oldest.
for i in $(seq 300); do printf '{}' >"$SDIR/filler$i.json"; done
touch -d '-2 hours' "$SDIR"/filler*.json
plexus ADD pod-dcap "$CONF"
check "events: direct with 300 idle files in cniDir/events: ADD pod-dcap still posts its 2 Events" \
	test "$(events_of pod-dcap | wc -l)" = 2
plexus DEL pod-dcap "$CONF"
check "... and DEL removed the files idle for over an hour, keeping the 3 live ones" \
	test "$(ls "$SDIR" | wc -l)" = 3
rm "$(grep -l pod-dcap "$SDIR"/*.json)"
for i in $(seq 254); do printf '{}' >"$SDIR/filler$i.json"; done
touch -d '-30 minutes' "$SDIR"/filler*.json
touch -d '-50 minutes' "$SDIR/filler1.json"
plexus ADD pod-dcap "$CONF"
check "... with 256 live files, pod-dcap's new state file first removed the oldest: 256 files, filler1 gone" \
	test "$(ls "$SDIR" | wc -l)/$(test -e "$SDIR/filler1.json" && echo kept || echo gone)" = 256/gone
plexus DEL pod-dcap "$CONF"

# ---- 7: an API server that hangs on Events ------------------------------------------------------
fixture faults -X POST -d '[{"method":"POST","path":"/events","hang":true,"count":100}]' >/dev/null
plexus ADD pod-c
check "events: Events hang in the API server: ADD pod-c through the relay still succeeds, in < 1.5 s" \
	bash -c "[ $RC -eq 0 ] && [ $MS -lt 1500 ]"
echo "ADD with hanging events via relay: $MS ms"
plexus ADD pod-d "$CONF"
check "events: ... and directly (no relay): ADD pod-d succeeds in < 2 s, the Event dropped and logged" \
	bash -c "[ $RC -eq 0 ] && [ $MS -lt 2000 ] && grep -q 'event AddedInterface for pod .default/pod-d. dropped' '$TMP/stderr'"
echo "ADD with hanging events, direct: $MS ms"
fixture faults -X DELETE >/dev/null
kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
raw "$(req pod-e "$(ev pod-e AddedInterface 'Add net9 [10.0.0.9/24] from default/mv-a')")" >/dev/null
check "events: with the API server gone, the relay counts Events it could not send as failed" \
	wait_for '[ "$(metric failed)" -ge 1 ]'
for p in pod-a pod-c; do plexus DEL "$p"; done
# Under SANITIZE=1 a finding in the daemon would only be in its log.
kill "$APID_PID" 2>/dev/null && wait "$APID_PID" 2>/dev/null
check "events: plexus-apid exited without sanitizer findings" \
	bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$ALOG'"
