#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: a "peers": "kubernetes" VXLAN network over three "nodes" (docs/vxlan.md). Each node
# is a network namespace on a bridged underlay (10.247.0.1-3/24, the bridge in a "switch"
# namespace at .254 where the API server fixture listens), runs plexus-apid --vxlan-peers and
# has pods attached by plexus-vxlan with learning off and no remotes. Checked: pods ping each
# other; a capture shows unicast VXLAN to the right VTEP only and no ARP on the underlay;
# malformed and conflicting published entries are never programmed, and each refused Node gets
# one Warning Event from each agent (Event POSTs that hang hold nothing up); an agent restart
# leaves the tables identical and a ping across it loses nothing; a deleted pod and a deleted
# Node are withdrawn on the others within a bound; with the API down the entries stay and the
# agent retries.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools vxlan-peers jq ip ping bridge tcpdump curl node timeout

PLUGIN=$BIN/plexus-vxlan APID=$BIN/plexus-apid
for b in "$PLUGIN" "$APID"; do
	[ -x "$b" ] || { fail "vxlan-peers: $b missing (make?)"; exit 0; }
done
[ -x "$REF_CNI/host-local" ] || { fail "vxlan-peers: $REF_CNI/host-local missing"; exit 0; }

TMP=$(t_tmpdir)
SW=plxqS$T_ID TOKEN=vxp-token-$T_ID VNI=100 INTERVAL=300
# How long a change may take to reach the other nodes: a few agent rounds.
BOUND=5
NODES=(1 2 3)
nsof() { echo "plxq$1-$T_ID"; }
nodename() { echo "node$1-$T_ID"; }

# ---- the underlay: three nodes and a switch ---------------------------------------------------
t_netns "$SW" || { fail "vxlan-peers: create switch namespace"; exit 0; }
ip -n "$SW" link set lo up
ip -n "$SW" link add br0 type bridge && ip -n "$SW" addr add 10.247.0.254/24 dev br0 &&
	ip -n "$SW" link set br0 up || { fail "vxlan-peers: switch bridge"; exit 0; }
for i in "${NODES[@]}"; do
	ns=$(nsof "$i")
	t_netns "$ns" || { fail "vxlan-peers: create node namespace"; exit 0; }
	ip -n "$ns" link set lo up
	ip link add "pvq${T_ID}n$i" type veth peer name "pvq${T_ID}s$i" &&
		ip link set "pvq${T_ID}n$i" netns "$ns" name ul0 &&
		ip link set "pvq${T_ID}s$i" netns "$SW" name "sw$i" &&
		ip -n "$SW" link set "sw$i" master br0 up &&
		ip -n "$ns" addr add "10.247.0.$i/24" dev ul0 &&
		ip -n "$ns" link set ul0 up &&
		ip -n "$ns" route add default via 10.247.0.254 dev ul0 ||
		{ fail "vxlan-peers: underlay of node $i"; exit 0; }
	mkdir -p "$TMP/run$i" "$TMP/dd$i"
done

# ---- the API server: three Nodes, and three more publishing bad entries --------------------
node_obj() { # NAME [ANNOTATION_VALUE]
	jq -cn --arg n "$1" --arg v "${2:-}" '{apiVersion:"v1",kind:"Node",metadata:{name:$n,
		annotations:(if $v == "" then {} else {"plexus.io/vxlan-peers":$v} end)}}'
}
bad_pod='{"mac":"02:00:00:bb:bb:01","ips":["10.246.0.99"]}'
{
	for i in "${NODES[@]}"; do node_obj "$(nodename "$i")"; done
	# A loopback VTEP (refused as malformed); two nodes claiming one VTEP (both refused).
	node_obj "bad-$T_ID" "{\"$VNI\":{\"vtep\":\"127.0.0.1\",\"mac\":\"0a:00:00:00:00:01\",\"pods\":[$bad_pod]}}"
	node_obj "dupa-$T_ID" "{\"$VNI\":{\"vtep\":\"10.247.0.77\",\"mac\":\"0a:00:00:00:00:02\",\"pods\":[$bad_pod]}}"
	node_obj "dupb-$T_ID" "{\"$VNI\":{\"vtep\":\"10.247.0.77\",\"mac\":\"0a:00:00:00:00:03\",\"pods\":[]}}"
} | jq -s '{kind:"List",items:.}' >"$TMP/state.json"
api_fixture "$SW" "$TMP" "$TOKEN" 300 10.247.0.254 >/dev/null 2>&1
t_proc "$API_PID"
[ -n "$PORT" ] || { fail "vxlan-peers: API server fixture did not start: $(cat "$TMP/api.err")"; exit 0; }
api() { # METHOD PATH: from the switch namespace, prints the body
	ip netns exec "$SW" curl -sS --max-time 5 --cacert "$TMP/pki/ca.crt" \
		-H "Authorization: Bearer $TOKEN" -X "$1" "https://10.247.0.254:$PORT$2"
}

# ---- agents ---------------------------------------------------------------------------------
declare -A AGENT
start_agent() { # NODE
	ip netns exec "$(nsof "$1")" env PLEXUS_RUN_DIR="$TMP/run$1" "$APID" \
		--kubeconfig "$TMP/kubeconfig" --socket "$TMP/run$1/api.sock" --metrics-address "" \
		--vxlan-peers --node-name "$(nodename "$1")" --vxlan-peers-interval $INTERVAL \
		>>"$TMP/apid$1.log" 2>&1 &
	AGENT[$1]=$!
	t_proc "${AGENT[$1]}"
}
for i in "${NODES[@]}"; do start_agent "$i"; done

# ---- pods -----------------------------------------------------------------------------------
conf() { # NODE
	local lo=$(($1 * 10)) hi=$(($1 * 10 + 9))
	jq -cn --arg d "$TMP/dd$1" --argjson vni $VNI --arg a "10.246.0.$lo" --arg b "10.246.0.$hi" \
		'{cniVersion:"1.1.0",name:"vxp",type:"plexus-vxlan",vni:$vni,peers:"kubernetes",
		  ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.246.0.0/24",
		  rangeStart:$a,rangeEnd:$b}],[{subnet:"fd00:246::/64",
		  rangeStart:("fd00:246::" + ($a | split(".")[3])),
		  rangeEnd:("fd00:246::" + ($b | split(".")[3]))}]]}}'
}
declare -A PNS PIP PIP6 PMAC PNODE
cni() { # NODE CMD POD
	OUT=$(conf "$1" | ip netns exec "$(nsof "$1")" env -i PATH="$PATH" CNI_COMMAND="$2" \
		CNI_PATH="$REF_CNI" CNI_CONTAINERID="c-$3" CNI_NETNS="/run/netns/${PNS[$3]}" \
		CNI_IFNAME=net1 PLEXUS_RUN_DIR="$TMP/run$1" "$PLUGIN" 2>"$TMP/stderr")
	RC=$?
}
add_pod() { # NODE POD
	PNS[$2]=plxq$2-$T_ID
	t_netns "${PNS[$2]}" || return 1
	ip -n "${PNS[$2]}" link set lo up
	cni "$1" ADD "$2"
	[ "$RC" -eq 0 ] || { echo "ADD $2: $OUT $(cat "$TMP/stderr")" >&2; return 1; }
	PIP[$2]=$(jq -r '.ips[0].address | split("/")[0]' <<<"$OUT")
	PIP6[$2]=$(jq -r '.ips[1].address | split("/")[0]' <<<"$OUT")
	PMAC[$2]=$(jq -r '.interfaces[2].mac' <<<"$OUT")
	PNODE[$2]=$1
}
ok=true
for p in a1:1 b1:1 a2:2 a3:3; do add_pod "${p#*:}" "${p%:*}" || ok=false; done
check "vxlan-peers: ADD with peers kubernetes on three nodes" $ok
$ok || exit 0

# Bad input changes nothing: an unknown peers value, peers with remotes, and remotes on a VNI
# whose VTEP takes its peers from the API.
links_before=$(ip -n "$(nsof 1)" -o link | wc -l)
PNS[x1]=plxqx1-$T_ID
t_netns "${PNS[x1]}"
bad_add() { # EXTRA_JSON: ADD of x1 on node 1 with the conf changed
	OUT=$(conf 1 | jq -c ". + $1" | ip netns exec "$(nsof 1)" env -i PATH="$PATH" CNI_COMMAND=ADD \
		CNI_PATH="$REF_CNI" CNI_CONTAINERID=c-x1 CNI_NETNS="/run/netns/${PNS[x1]}" \
		CNI_IFNAME=net1 PLEXUS_RUN_DIR="$TMP/run1" "$PLUGIN" 2>/dev/null)
}
bad_add '{"peers":"etcd"}'
check "vxlan-peers: an unknown peers value is code 7 naming peers" \
	test "$(jq -r '"\(.code) \(.msg)"' <<<"$OUT" | cut -c1-30)" = "7 peers: unknown value 'etcd' "
bad_add '{"remotes":["10.247.0.2"]}'
check "vxlan-peers: peers with remotes is code 7" \
	test "$(jq -r '"\(.code) \(.msg)"' <<<"$OUT" | cut -c1-40)" = '7 peers: "kubernetes" is exclusive with '
bad_add '{"peers":null,"learning":false,"remotes":["10.247.0.2"]}'
check "vxlan-peers: remotes on a VTEP with peers from the API is code 104" \
	bash -c "jq -e '.code == 104 and (.msg | contains(\"with peers from the Kubernetes API\"))' <<<'$OUT' >/dev/null"
check "vxlan-peers: ... and they changed nothing" \
	test "$links_before" = "$(ip -n "$(nsof 1)" -o link | wc -l)"

# Tables of NODE's VTEP, sorted: FDB entries (MAC dst) then neighbours (IP MAC).
tables() {
	local ns=$(nsof "$1")
	bridge -n "$ns" fdb show dev vx$VNI self | awk '/dst/ {for (i = 1; i < NF; i++)
		if ($i == "dst") print $1, $(i + 1)}' | sort
	ip -n "$ns" neigh show dev vx$VNI nud permanent | awk '{print $1, $3}' | sort
}
# has NODE POD: NODE's tables send POD's MAC to its node and hold its IP.
has() {
	local t=$(tables "$1") p=$2
	grep -qx "${PMAC[$p]} 10.247.0.${PNODE[$p]}" <<<"$t" && grep -qx "${PIP[$p]} ${PMAC[$p]}" <<<"$t"
}
lacks() {
	local t=$(tables "$1") p=$2
	! grep -q "${PMAC[$p]}" <<<"$t" && ! grep -q "^${PIP[$p]} " <<<"$t"
}
# until SECONDS CMD...: retry for up to SECONDS.
until_ok() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
all_programmed() {
	local p i
	for p in a1 b1 a2 a3; do
		for i in "${NODES[@]}"; do
			[ "$i" = "${PNODE[$p]}" ] || has "$i" "$p" || return 1
		done
	done
}
check "vxlan-peers: every node programs every remote pod (FDB + neighbour) within $((BOUND * 2)) s" \
	until_ok $((BOUND * 2)) all_programmed

vt=$(ip -n "$(nsof 1)" -d link show vx$VNI)
check "vxlan-peers: the VTEP has learning off and the ARP/NDP proxy on" \
	grep -q "nolearning proxy" <<<"$vt"
flood=$(bridge -n "$(nsof 1)" fdb show dev vx$VNI self | grep '^00:00:00:00:00:00' | awk '{print $3}' | sort | tr '\n' ' ')
check "vxlan-peers: node 1 floods only to the peers with pods ('$flood')" \
	test "$flood" = "10.247.0.2 10.247.0.3 "
t1=$(tables 1)
check "vxlan-peers: malformed (loopback VTEP) and conflicting (one VTEP, two nodes) entries are not programmed" \
	bash -c "! grep -qE '127.0.0.1|10.247.0.77|02:00:00:bb:bb:01|10.246.0.99' <<<'$t1'"
check "vxlan-peers: the agent logs why it refused them" \
	bash -c "grep -q \"node 'bad-$T_ID'.*not a unicast address, refused\" '$TMP/apid1.log' &&
		 grep -q \"VTEP address '10.247.0.77' claimed by node 'dupa-$T_ID' and node 'dupb-$T_ID'\" '$TMP/apid1.log'"

# One Warning Event per refused Node from each agent (node 1's here), posted once: the refusals
# persist, and later rounds post nothing more.
sleep $(((INTERVAL * 3 + 999) / 1000))
ev1=$(ip netns exec "$SW" curl -sS --max-time 5 --cacert "$TMP/pki/ca.crt" \
	"https://10.247.0.254:$PORT/_fixture/requests" | jq -c --arg h "$(nodename 1)" '.items[]
	| select(.method != "GET" and (.path | test("/events"))) | {method, path, e: (.body | fromjson)}
	| select(.e.source.host == $h)')
ev_of() { jq -c --arg n "$1" 'select(.e.involvedObject.name == $n)' <<<"$ev1"; }
node_ev_ok() { # NODE MESSAGE_REGEX: exactly one Event about NODE, POSTed to default
	jq -se --arg n "$1" --arg m "$2" 'length == 1 and (.[0] | .method == "POST" and
		.path == "/api/v1/namespaces/default/events" and .e.metadata.namespace == "default" and
		.e.involvedObject == {apiVersion: "v1", kind: "Node", name: $n, uid: $n} and
		.e.type == "Warning" and .e.reason == "VXLANPeerRefused" and .e.count == 1 and
		(.e.message | test($m)))' <<<"$(ev_of "$1")" >/dev/null
}
check "vxlan-peers: one Warning Event about the malformed Node" \
	node_ev_ok "bad-$T_ID" "^VNI $VNI: node 'bad-$T_ID': $VNI.vtep: not a unicast address, refused\$"
conflict="^VNI $VNI: VTEP address '10.247.0.77' claimed by node 'dupa-$T_ID' and node 'dupb-$T_ID', refused\$"
conflict_ok() { node_ev_ok "dupa-$T_ID" "$conflict" && node_ev_ok "dupb-$T_ID" "$conflict"; }
check "vxlan-peers: one Warning Event about each Node of a conflict" conflict_ok
stored=$(api GET /api/v1/namespaces/default/events | jq --arg h "$(nodename 1)" \
	'[.items[] | select(.source.host == $h and .reason == "VXLANPeerRefused")] | length')
check "vxlan-peers: ... and the API server stored them ($stored)" test "$stored" = 3
check "vxlan-peers: no Event about valid Nodes, no other Event from node 1 ($(wc -l <<<"$ev1") in all)" \
	test -z "$(ev_of "$(nodename 2)")$(ev_of "$(nodename 3)")" -a "$(wc -l <<<"$ev1")" -eq 3
# Every agent reports on its own: one Event about the malformed Node from each, none about valid
# Nodes from any.
per_agent=$(ip netns exec "$SW" curl -sS --max-time 5 --cacert "$TMP/pki/ca.crt" \
	"https://10.247.0.254:$PORT/_fixture/requests" | jq -c '[.items[]
	| select(.method == "POST" and (.path | test("/events"))) | .body | fromjson
	| [.source.host, .involvedObject.name]] | group_by(.) | map([.[0][0], .[0][1], length])')
agents_ok() {
	[ -n "$per_agent" ] && jq -e --arg t "$T_ID" '(map(select(.[1] == "bad-" + $t)) | length == 3 and all(.[2] == 1))
		and (map(select(.[1] | startswith("node"))) | length == 0)' <<<"$per_agent" >/dev/null
}
check "vxlan-peers: each agent reports the malformed Node once, none reports a valid Node" agents_ok

# Events never hold the agent up: with POSTs of Events hanging, 20 new malformed Nodes and a new
# valid one with a pod, node 1 still programs that pod within the bound.
fixture() { # METHOD PATH [BODY]: the fixture's control endpoint, from the switch namespace
	ip netns exec "$SW" curl -sS --max-time 5 --cacert "$TMP/pki/ca.crt" -X "$1" \
		"https://10.247.0.254:$PORT/_fixture/$2" ${3:+-d "$3"}
}
fixture POST faults '[{"method":"POST","path":"/events","hang":true,"count":1000}]' >/dev/null
late='{"mac":"02:00:00:cc:cc:01","ips":["10.246.0.98"]}'
{
	for k in $(seq 20); do node_obj "flood$k-$T_ID" "not json"; done
	node_obj "late-$T_ID" "{\"$VNI\":{\"vtep\":\"10.247.0.50\",\"mac\":\"0a:00:00:00:00:50\",\"pods\":[$late]}}"
} | jq -s '{kind:"List",items:.}' >"$TMP/more.json"
fixture PUT objects "@$TMP/more.json" >/dev/null
late_ok() { grep -qx "02:00:00:cc:cc:01 10.247.0.50" <<<"$(tables 1)"; }
check "vxlan-peers: with Event POSTs hanging, a new Node's pod is still programmed within $BOUND s" \
	until_ok $BOUND late_ok
check "vxlan-peers: ... and the agent says its Events were not sent" \
	grep -q "event about node 'flood[0-9]*-$T_ID'.*not sent" "$TMP/apid1.log"
fixture DELETE faults >/dev/null
for n in late $(seq -f flood%g 20); do
	fixture DELETE "objects?kind=Node&name=$n-$T_ID" >/dev/null
done
check "vxlan-peers: ... and its entries leave once its Node is deleted" until_ok $BOUND bash -c \
	"! bridge -n '$(nsof 1)' fdb show dev vx$VNI self | grep -q 10.247.0.50"

# ---- traffic --------------------------------------------------------------------------------
pingok() { ip netns exec "${PNS[$1]}" ping -c 2 -i 0.2 -W 1 -q "${PIP[$2]}" >/dev/null; }
ok=true
for pr in a1:a2 a1:a3 a2:a3 a3:b1 b1:a2; do pingok "${pr%:*}" "${pr#*:}" || ok=false; done
check "vxlan-peers: pods on three nodes ping each other (learning off, no remotes)" $ok
# IPv6: neighbour solicitations answered by the NDP proxy from the published addresses. The
# pods' addresses need DAD first (nodad is not set by the plugin).
ping6ok() {
	ip netns exec "${PNS[$1]}" ping -6 -c 2 -i 0.2 -W 1 -q "${PIP6[$2]}" >/dev/null
}
check "vxlan-peers: IPv6 pod addresses are programmed as neighbours too" \
	bash -c "grep -qx '${PIP6[a3]} ${PMAC[a3]}' <<<'$(tables 1)'"
check "vxlan-peers: ... over IPv6 too (NDP proxy)" until_ok $BOUND ping6ok a1 a3

# Capture on nodes 2 and 3 while a1 (node 1) pings a2 (node 2) with its neighbour cache empty.
ip -n "${PNS[a1]}" neigh flush all 2>/dev/null
CAPS=()
for i in 2 3; do
	ip netns exec "$(nsof "$i")" timeout 3 tcpdump -l -nn -i ul0 "udp port 4789" \
		>"$TMP/cap$i" 2>/dev/null &
	CAPS+=($!)
done
sleep 0.7
ip netns exec "${PNS[a1]}" ping -c 5 -i 0.2 -W 1 -q "${PIP[a2]}" >/dev/null
wait "${CAPS[@]}"
req2=$(grep -c "10.247.0.1.[0-9]* > 10.247.0.2.4789: VXLAN.*vni $VNI" "$TMP/cap2")
echo2=$(grep -c "${PIP[a1]} > ${PIP[a2]}: ICMP echo request" "$TMP/cap2")
echo3=$(grep -c "ICMP echo" "$TMP/cap3")
# Only the overlay's ARP is inside VXLAN (the underlay's own ARP is not captured).
arp=$(grep -c "ARP" "$TMP/cap2" "$TMP/cap3" | awk -F: '{s += $2} END {print s}')
check "vxlan-peers: unicast VXLAN from node 1 to node 2's VTEP ($req2 packets, $echo2 echo requests inside)" \
	test "$req2" -ge 5 -a "$echo2" -eq 5
check "vxlan-peers: nothing of it flooded to node 3 ($echo3 echo packets)" test "$echo3" -eq 0
check "vxlan-peers: ARP answered by the local proxy, none sent over VXLAN ($arp)" test "$arp" -eq 0

# ---- agent restart: same tables, no packet lost -----------------------------------------------
before=$(tables 1)
ip netns exec "${PNS[a1]}" ping -c 30 -i 0.1 -W 1 "${PIP[a3]}" >"$TMP/ping-restart" 2>&1 &
PING=$!
sleep 0.5
kill "${AGENT[1]}" && wait "${AGENT[1]}" 2>/dev/null
during=$(tables 1)
start_agent 1
sleep $(((INTERVAL * 4 + 999) / 1000))
wait $PING
after=$(tables 1)
check "vxlan-peers: tables stay while the agent is down" test "$before" = "$during"
check "vxlan-peers: a restarted agent converges to identical tables" test "$before" = "$after"
check "vxlan-peers: a ping across the restart loses no packet" \
	grep -q " 30 received, 0% packet loss" "$TMP/ping-restart"

# ---- a deleted pod, a deleted Node ---------------------------------------------------------
cni 1 DEL b1
check "vxlan-peers: DEL removes the pod record" \
	bash -c "[ \"$RC\" -eq 0 ] && ! ls '$TMP/run1/vxlan/$VNI/'*.json 2>/dev/null | grep -q '$(tmp_ifname c-b1 net1)'"
gone_b1() { lacks 2 b1 && lacks 3 b1; }
check "vxlan-peers: a deleted pod's entries leave the other nodes within $BOUND s" until_ok $BOUND gone_b1
check "vxlan-peers: the other pods stay" has 2 a1
api DELETE "/api/v1/nodes/$(nodename 3)" >/dev/null
gone_n3() {
	lacks 1 a3 && lacks 2 a3 && ! tables 1 | grep -q 10.247.0.3 && ! tables 2 | grep -q 10.247.0.3
}
check "vxlan-peers: a deleted Node's entries leave the other nodes within $BOUND s" until_ok $BOUND gone_n3
check "vxlan-peers: nodes 1 and 2 still reach each other" pingok a1 a2

# ---- the API down: entries stay ----------------------------------------------------------------
before=$(tables 1)
kill "$API_PID" && wait "$API_PID" 2>/dev/null
sleep $(((INTERVAL * 4 + 999) / 1000))
check "vxlan-peers: with the API down the entries stay" test "$before" = "$(tables 1)"
check "vxlan-peers: ... and traffic keeps flowing" pingok a1 a2
# A new pod on node 1 meanwhile: the agent cannot publish it, says so and keeps trying.
add_pod 1 c1
retrying() { grep -q "publish on node '$(nodename 1)'.*retrying" "$TMP/apid1.log"; }
check "vxlan-peers: ... and the agent retries publishing a new pod" until_ok $BOUND retrying
check "vxlan-peers: ... and the tables are still what they were" test "$before" = "$(tables 1)"

for p in a1 a2 a3 c1; do cni "${PNODE[$p]}" DEL "$p"; done
