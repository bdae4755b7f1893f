#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: plexus-vxlan across two "nodes". Each node is a network namespace; the nodes are
# joined by a veth underlay (10.250.0.1/24 <-> 10.250.0.2/24, fd00:250::1/64 <-> ::2) and the
# plugin runs inside its node's namespace (ip netns exec node env ... plexus-vxlan), creating
# the VTEP, the bridge and the host veth ends there, and the pod ends in pod namespaces.
# IPAM: the reference host-local from $REF_CNI, one dataDir and one range slice per node.
# Addresses: 10.x and fd00::/8 only, inside namespaces created here; everything is removed on exit.
source "$(dirname "$0")/../lib.sh"
need_root
trap 'exit 130' INT
trap 'exit 143' TERM

PLUGIN=${VXLAN_BIN:-$BIN/plexus-vxlan}
for t in jq ip ping bridge tcpdump timeout; do
	command -v "$t" >/dev/null || { fail "vxlan: $t not installed"; exit 0; }
done
[ -x "$PLUGIN" ] || { fail "vxlan: plugin under test $PLUGIN is missing (make?)"; exit 0; }
[ -x "$REF_CNI/host-local" ] || { fail "vxlan: $REF_CNI/host-local missing"; exit 0; }

TMP=$(mktemp -d /tmp/plexus-test.XXXXXX) || exit 1
T_DIRS+=("$TMP")
NA=plxvA$T_ID NB=plxvB$T_ID
N=0

# ---- the two nodes ------------------------------------------------------------------------
t_netns "$NA" && t_netns "$NB" || { fail "vxlan: create node namespaces"; exit 0; }
ip link add "pvu${T_ID}a" type veth peer name "pvu${T_ID}b" &&
	ip link set "pvu${T_ID}a" netns "$NA" name ul0 &&
	ip link set "pvu${T_ID}b" netns "$NB" name ul0 || { fail "vxlan: underlay veth"; exit 0; }
for n in A B; do
	ns=$NA; [ $n = B ] && ns=$NB
	i=1; [ $n = B ] && i=2
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add 10.250.0.$i/24 dev ul0
	ip -n "$ns" addr add fd00:250::$i/64 dev ul0 nodad
	ip -n "$ns" link set ul0 up
	# master defaults to the default-route interface: give each node one (gateway unused).
	ip -n "$ns" route add default via 10.250.0.254 dev ul0
	mkdir -p "$TMP/run$n" "$TMP/dd$n"
done

# node_of A|B -> netns name
node_of() { if [ "$1" = A ]; then echo "$NA"; else echo "$NB"; fi; }

# new_pod: sets POD (netns name) and PODNS (its path).
new_pod() {
	N=$((N + 1))
	POD=plxvp${T_ID}-$N
	PODNS=/run/netns/$POD
	t_netns "$POD"
}

# ipam NODE SUBNET START END
ipam() {
	jq -cn --arg d "$TMP/dd$1" --arg s "$2" --arg a "$3" --arg b "$4" \
		'{type:"host-local",dataDir:$d,ranges:[[{subnet:$s,rangeStart:$a,rangeEnd:$b}]]}'
}

# conf NAME VNI IPAM_JSON EXTRA_JSON
conf() {
	jq -cn --arg n "$1" --argjson vni "$2" --argjson ipam "$3" --argjson x "${4:-{\}}" \
		'{cniVersion:"1.1.0",name:$n,type:"plexus-vxlan",vni:$vni,ipam:$ipam} + $x'
}

# cni NODE CMD CONF NETNS IFNAME CID: run the plugin inside NODE's namespace.
# Sets OUT, ERR, RC.
cni() {
	local node=$1 cmd=$2 conf=$3 ns=$4 ifn=$5 cid=$6
	OUT=$(printf '%s' "$conf" | ip netns exec "$(node_of "$node")" "${RUNNER[@]}" env -i PATH="$PATH" \
		CNI_COMMAND="$cmd" CNI_PATH="$REF_CNI" CNI_CONTAINERID="$cid" CNI_NETNS="$ns" \
		CNI_IFNAME="$ifn" PLEXUS_RUN_DIR="$TMP/run$node" ${KILL_ENV:+"$KILL_ENV"} "$PLUGIN" 2>"$TMP/stderr")
	RC=$?
	ERR=$(cat "$TMP/stderr")
	[ -z "${VX_DEBUG:-}" ] || echo "[$node $cmd rc=$RC] $OUT ${ERR:+stderr: $ERR}" >&2
}

# add_pod NODE CONF: new pod netns + ADD; sets POD, PODNS, CID, IP (first address), RES.
add_pod() {
	new_pod
	CID=c$T_ID-$N
	cni "$1" ADD "$2" "$PODNS" eth0 "$CID"
	RES=$OUT
	IP=$(jq -r '.ips[0].address // empty' <<<"$OUT" 2>/dev/null | cut -d/ -f1)
	[ "$RC" -eq 0 ] && [ -n "$IP" ]
}

# ping_ok POD IP / ping_fails POD IP
ping_ok() { ip netns exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1 || ip netns exec "$1" ping -c 2 -W 2 "$2" >/dev/null 2>&1; }
ping_fails() { ! ip netns exec "$1" ping -c 2 -W 1 "$2" >/dev/null 2>&1; }
ping6_ok() { ip netns exec "$1" ping -6 -c 2 -W 3 "$2" >/dev/null 2>&1; }
# err_is CODE WORD: the last error JSON has this code and its msg mentions WORD.
err_is() {
	[ "$RC" -ne 0 ] && [ "$(jq -r .code <<<"$OUT" 2>/dev/null)" = "$1" ] &&
		jq -r .msg <<<"$OUT" | grep -q -- "$2"
}
jqe() { jq -e "$@" >/dev/null; }
inA() { ip netns exec "$NA" "$@"; }
inB() { ip netns exec "$NB" "$@"; }

NET1A=$(conf vxnet1 100 "$(ipam A 10.251.0.0/24 10.251.0.10 10.251.0.19)" '{"remotes":["10.250.0.2"]}')
NET1B=$(conf vxnet1 100 "$(ipam B 10.251.0.0/24 10.251.0.20 10.251.0.29)" '{"remotes":["10.250.0.1"]}')

# ---- two nodes, one network ---------------------------------------------------------------
add_pod A "$NET1A"; check "vxlan: ADD pod on node A" [ "$RC" -eq 0 -a -n "$IP" ]
PA1=$POD PA1NS=$PODNS CA1=$CID IPA1=$IP RESA1=$RES
add_pod B "$NET1B"; check "vxlan: ADD pod on node B" [ "$RC" -eq 0 -a -n "$IP" ]
PB1=$POD PB1NS=$PODNS CB1=$CID IPB1=$IP
[ -n "${VX_DEBUG:-}" ] && echo "$RESA1" >&2

check "vxlan: result interfaces = [pxb100, vxh*, eth0 in sandbox], ips[].interface = 2" \
	jqe --arg ns "$PA1NS" '(.interfaces | length == 3) and .interfaces[0].name == "pxb100"
		and (.interfaces[1].name | test("^vxh[0-9a-f]{8}$")) and .interfaces[2].name == "eth0"
		and .interfaces[2].sandbox == $ns and (.interfaces[0].sandbox == null)
		and .ips[0].interface == 2 and .cniVersion == "1.1.0"' <<<"$RESA1"
HVA1=$(jq -r '.interfaces[1].name' <<<"$RESA1")
check "vxlan: VTEP vx100 has id 100, dstport 4789, local 10.250.0.1, dev ul0, learning" \
	bash -c "ip -n $NA -d link show vx100 | grep -q 'vxlan id 100 local 10.250.0.1 dev ul0' &&
		ip -n $NA -d link show vx100 | grep -q 'dstport 4789' &&
		! ip -n $NA -d link show vx100 | grep -q nolearning"
check "vxlan: VTEP and host veth enslaved to bridge pxb100, all up" \
	bash -c "ip -n $NA link show vx100 | grep -q 'master pxb100 state UNKNOWN\|master pxb100 state UP' &&
		ip -n $NA link show $HVA1 | grep -q 'master pxb100' &&
		ip -n $NA link show pxb100 | grep -q ',UP'"
check "vxlan: flood entry 00:00:00:00:00:00 dst 10.250.0.2 on vx100" \
	bash -c "bridge -n $NA fdb show dev vx100 | grep -q '^00:00:00:00:00:00 dst 10.250.0.2 self permanent'"
check "vxlan: default MTU = underlay 1500 - 50 on pod, VTEP, bridge" \
	bash -c "ip -n $PA1 link show eth0 | grep -q 'mtu 1450' && ip -n $NA link show vx100 | grep -q 'mtu 1450' &&
		[ \$(jq '.interfaces[2].mtu' <<<'$RESA1') = 1450 ]"

# A capture on node A's underlay while the pods ping: UDP to 4789 carrying VNI 100.
inA timeout 8 tcpdump -i ul0 -nn -c 2 -l 'src host 10.250.0.1 and udp dst port 4789' \
	>"$TMP/cap" 2>/dev/null &
CAP=$!
sleep 1
check "vxlan: pod on A pings pod on B across the overlay" ping_ok "$PA1" "$IPB1"
wait $CAP
[ -z "${VX_DEBUG:-}" ] || cat "$TMP/cap" >&2
check "vxlan: capture on the underlay shows UDP port 4789 with VNI 100" \
	bash -c "grep -q '10.250.0.1.[0-9]* > 10.250.0.2.4789: VXLAN.*vni 100' '$TMP/cap'"
check "vxlan: learning: pod B's MAC learned on vx100 via 10.250.0.2" \
	bash -c "MAC=\$(ip -n $PB1 link show eth0 | awk '/ether/{print \$2}');
		bridge -n $NA fdb show dev vx100 | grep -q \"^\$MAC dst 10.250.0.2\""

cni A CHECK "$(jq -c --argjson p "$RESA1" '. + {prevResult:$p}' <<<"$NET1A")" "$PA1NS" eth0 "$CA1"
check "vxlan: CHECK after ADD passes" [ "$RC" -eq 0 ]
BADMTU=$(jq -c '.mtu = 1400' <<<"$NET1A")
cni A CHECK "$(jq -c --argjson p "$RESA1" '. + {prevResult:$p}' <<<"$BADMTU")" "$PA1NS" eth0 "$CA1"
check "vxlan: CHECK with another mtu fails naming the MTU" err_is 104 "MTU"

# ---- reuse by a second pod, remotes kept in sync --------------------------------------------
IDX=$(ip -n "$NA" -o link show vx100 | cut -d: -f1)
NET1A2=$(jq -c '.remotes = ["10.250.0.2","10.250.0.99"]' <<<"$NET1A")
add_pod A "$NET1A2"; check "vxlan: second pod on node A" [ "$RC" -eq 0 ]
PA2=$POD PA2NS=$PODNS CA2=$CID IPA2=$IP
check "vxlan: second pod reuses VTEP vx100 (same ifindex) and bridge" \
	bash -c "[ \$(ip -n $NA -o link show vx100 | cut -d: -f1) = $IDX ] &&
		[ \$(ip -n $NA -o link show master pxb100 | wc -l) = 3 ]"
check "vxlan: remotes synced on ADD: added 10.250.0.99" \
	bash -c "bridge -n $NA fdb show dev vx100 | grep -q '^00:00:00:00:00:00 dst 10.250.0.99 '"
check "vxlan: second pod on A pings pod on B" ping_ok "$PA2" "$IPB1"
check "vxlan: the two pods on A ping each other" ping_ok "$PA2" "$IPA1"
add_pod A "$NET1A"; PA3=$POD PA3NS=$PODNS CA3=$CID
check "vxlan: remotes synced on ADD: stale 10.250.0.99 removed, 10.250.0.2 kept" \
	bash -c "[ $RC = 0 ] && ! bridge -n $NA fdb show dev vx100 | grep -q 'dst 10.250.0.99 ' &&
		bridge -n $NA fdb show dev vx100 | grep -q '^00:00:00:00:00:00 dst 10.250.0.2 '"

# ---- DEL ---------------------------------------------------------------------------------
cni A DEL "$NET1A" "$PA2NS" eth0 "$CA2"
check "vxlan: DEL of the second pod" [ "$RC" -eq 0 -a -z "$OUT" ]
check "vxlan: pod gone from the bridge, lease released" \
	bash -c "! ip -n $PA2 link show eth0 2>/dev/null && [ \$(ip -n $NA -o link show master pxb100 | wc -l) = 3 ] &&
		[ ! -e $TMP/ddA/vxnet1/$IPA2 ]"
check "vxlan: DEL of one pod leaves the other working" ping_ok "$PA1" "$IPB1"
cni A DEL "$NET1A" "$PA2NS" eth0 "$CA2"
check "vxlan: DEL again succeeds" [ "$RC" -eq 0 ]
HVA3=$(jq -r '.interfaces[1].name' <<<"$RES")
ip netns del "$PA3"
cni A DEL "$NET1A" "$PA3NS" eth0 "$CA3"
check "vxlan: DEL after the netns is gone succeeds and removes the host veth" \
	bash -c "[ $RC = 0 ] && [ -n '$HVA3' ] && ! ip -n $NA link show $HVA3 >/dev/null 2>&1"
check "vxlan: DEL after netns gone released the lease (only pod 1's is left)" \
	[ "$(leases "$TMP/ddA/vxnet1")" = 1 ]
check "vxlan: VTEP and bridge kept after DEL (deleteOnLastDel false)" \
	bash -c "ip -n $NA link show vx100 >/dev/null && ip -n $NA link show pxb100 >/dev/null"

add_pod A "$NET1A"; HV=$(jq -r '.interfaces[1].name' <<<"$RES")
cni A DEL "$NET1A" "" eth0 "$CID"
check "vxlan: DEL with empty CNI_NETNS removes the host veth and releases the lease" \
	bash -c "[ $RC = 0 ] && ! ip -n $NA link show $HV >/dev/null 2>&1 && [ ! -e $TMP/ddA/vxnet1/$IP ]"
NHOST=$(ip -n "$NA" -o link show master pxb100 | wc -l)
cni A ADD "$NET1A" "$PA1NS" eth0 "other$T_ID"
check "vxlan: ADD of an ifname that exists in the pod fails (104), nothing left behind" \
	bash -c "[ \"\$(jq -r .code <<<'$OUT')\" = 104 ] && [ \$(ip -n $NA -o link show master pxb100 | wc -l) = $NHOST ] &&
		[ \$(ls $TMP/ddA/vxnet1 | grep -c '^10\.') = 1 ]"
add_pod A "$(jq -c '.cniVersion = "0.4.0"' <<<"$NET1A")"
check "vxlan: ADD with cniVersion 0.4.0 encodes ips[].version and interface 2" \
	jqe '.cniVersion == "0.4.0" and .ips[0].version == "4" and .ips[0].interface == 2' <<<"$RES"
cni A DEL "$(jq -c '.cniVersion = "0.4.0"' <<<"$NET1A")" "$PODNS" eth0 "$CID"

# ---- isolation between VNIs; remotes as a cluster-wide NAD lists them (every node) ----------
NET2B=$(conf vxnet2 200 "$(ipam B 10.251.0.0/24 10.251.0.40 10.251.0.49)" '{"remotes":["10.250.0.1","10.250.0.2"]}')
NET2A=$(conf vxnet2 200 "$(ipam A 10.251.0.0/24 10.251.0.30 10.251.0.39)" '{"remotes":["10.250.0.1","10.250.0.2"]}')
add_pod B "$NET2B"; PB2=$POD IPB2=$IP
check "vxlan: network 2 (vni 200, same subnet) on node B" [ "$RC" -eq 0 ]
add_pod A "$NET2A"; PA4=$POD IPA4=$IP
check "vxlan: network 2 on node A" [ "$RC" -eq 0 ]
check "vxlan: vni 200 pods ping each other" ping_ok "$PA4" "$IPB2"
check "vxlan: a node's own address in remotes is skipped (flood list has only the peer)" \
	[ "$(bridge -n "$NA" fdb show dev vx200 | grep -c '^00:00:00:00:00:00')" = 1 ]
check "vxlan: vni 100 pod cannot reach vni 200 pod (isolated)" ping_fails "$PA1" "$IPB2"
check "vxlan: vni 200 pod cannot reach vni 100 pod (isolated)" ping_fails "$PB2" "$IPA1"

# ---- learning off, other port, ttl -----------------------------------------------------------
NET3A=$(conf vxnet3 300 "$(ipam A 10.253.0.0/24 10.253.0.10 10.253.0.19)" '{"remotes":["10.250.0.2"],"learning":false,"port":4790,"ttl":8}')
NET3B=$(conf vxnet3 300 "$(ipam B 10.253.0.0/24 10.253.0.20 10.253.0.29)" '{"remotes":["10.250.0.1"],"learning":false,"port":4790,"ttl":8}')
add_pod A "$NET3A"; PA5=$POD
add_pod B "$NET3B"; IPB5=$IP
check "vxlan: learning false + port 4790 + ttl 8 on the VTEP" \
	bash -c "ip -n $NA -d link show vx300 | grep -q 'dstport 4790' &&
		ip -n $NA -d link show vx300 | grep -q nolearning && ip -n $NA -d link show vx300 | grep -q 'ttl 8'"
check "vxlan: nolearning pods ping through head-end replication" ping_ok "$PA5" "$IPB5"
check "vxlan: nolearning: no MAC learned on vx300" \
	bash -c "! bridge -n $NA fdb show dev vx300 | grep -v '^00:00:00:00:00:00' | grep -q 'dst '"

# ---- multicast group instead of remotes ------------------------------------------------------
NET4A=$(conf vxnet4 400 "$(ipam A 10.247.0.0/24 10.247.0.10 10.247.0.19)" '{"group":"239.1.1.4","master":"ul0"}')
NET4B=$(conf vxnet4 400 "$(ipam B 10.247.0.0/24 10.247.0.20 10.247.0.29)" '{"group":"239.1.1.4","master":"ul0"}')
add_pod A "$NET4A"; P4A=$POD
add_pod B "$NET4B"; IP4B=$IP
check "vxlan: group: VTEP vx400 has group 239.1.1.4 on ul0, no unicast flood entries" \
	bash -c "ip -n $NA -d link show vx400 | grep -q 'group 239.1.1.4 local 10.250.0.1 dev ul0' &&
		! bridge -n $NA fdb show dev vx400 | grep -q '^00:00:00:00:00:00 dst 10.250.0'"
check "vxlan: group: pods ping over the multicast flood" ping_ok "$P4A" "$IP4B"

# ---- concurrency ---------------------------------------------------------------------------
NET5B=$(conf vxnet5 500 "$(ipam B 10.254.0.0/24 10.254.0.10 10.254.0.50)" '{"remotes":["10.250.0.1"]}')
pids=()
for k in 1 2 3 4 5; do
	new_pod
	(cni B ADD "$NET5B" "$PODNS" eth0 "cc$T_ID-$k"; echo "$RC" >"$TMP/par$k") &
	pids+=($!)
done
wait "${pids[@]}"
check "vxlan: 5 concurrent ADDs for a new network all succeed" \
	bash -c "[ \"\$(cat $TMP/par1 $TMP/par2 $TMP/par3 $TMP/par4 $TMP/par5 | sort -u)\" = 0 ]"
check "vxlan: ... with one VTEP and 5 ports + VTEP on the bridge" \
	bash -c "[ \$(ip -n $NB -d -o link show type vxlan | grep -c 'vxlan id 500 ') = 1 ] &&
		[ \$(ip -n $NB -o link show master pxb500 | wc -l) = 6 ]"

# ---- deleteOnLastDel -------------------------------------------------------------------------
NET6A=$(conf vxnet6 600 "$(ipam A 10.249.0.0/24 10.249.0.10 10.249.0.19)" '{"remotes":["10.250.0.2"],"deleteOnLastDel":true}')
add_pod A "$NET6A"; P6NS=$PODNS C6=$CID
add_pod A "$NET6A"; P7NS=$PODNS C7=$CID
cni A DEL "$NET6A" "$P6NS" eth0 "$C6"
check "vxlan: deleteOnLastDel keeps VTEP/bridge while a pod remains" \
	bash -c "[ $RC = 0 ] && ip -n $NA link show vx600 >/dev/null 2>&1 && ip -n $NA link show pxb600 >/dev/null 2>&1"
cni A DEL "$NET6A" "$P7NS" eth0 "$C7"
check "vxlan: deleteOnLastDel: last DEL removes vx600 and pxb600" \
	bash -c "[ $RC = 0 ] && ! ip -n $NA link show vx600 >/dev/null 2>&1 && ! ip -n $NA link show pxb600 >/dev/null 2>&1"

# ---- IPv6 underlay ---------------------------------------------------------------------------
NET7A=$(conf vxnet7 700 "$(ipam A fd00:251::/64 fd00:251::10 fd00:251::19)" '{"remotes":["fd00:250::2"]}')
NET7B=$(conf vxnet7 700 "$(ipam B fd00:251::/64 fd00:251::20 fd00:251::29)" '{"remotes":["fd00:250::1"]}')
add_pod A "$NET7A"; P7A=$POD; RES7=$RES
add_pod B "$NET7B"; IP7B=$IP
check "vxlan: IPv6 underlay: VTEP local fd00:250::1, MTU 1500 - 70" \
	bash -c "ip -n $NA -d link show vx700 | grep -q 'local fd00:250::1' && ip -n $P7A link show eth0 | grep -q 'mtu 1430'"
check "vxlan: IPv6 underlay pods ping" ping6_ok "$P7A" "$IP7B"

# ---- errors --------------------------------------------------------------------------------
IPAMX=$(ipam A 10.248.0.0/24 10.248.0.10 10.248.0.19)
bad() { # NAME CODE WORD CONF_EXTRA [VNI]
	new_pod
	local c
	if [ "${5:-}" = none ]; then
		c=$(conf vxbad 900 "$IPAMX" "$4" | jq -c 'del(.vni)')
	else
		c=$(conf vxbad "${5:-900}" "$IPAMX" "$4")
	fi
	cni A ADD "$c" "$PODNS" eth0 "cbad$N"
	check "vxlan: error: $1 -> code $2 naming '$3'" err_is "$2" "$3"
}
bad "vni 0" 7 vni '{}' 0
bad "vni 16777216" 7 vni '{}' 16777216
bad "vni missing" 7 vni '{}' none
bad "port 0" 7 port '{"port":0}'
bad "port 65536" 7 port '{"port":65536}'
bad "remotes and group" 7 group '{"remotes":["10.250.0.2"],"group":"239.1.1.1","master":"ul0"}'
bad "group without master" 7 group '{"group":"239.1.1.1"}'
bad "bad remote IP" 7 'remotes\[1\]' '{"remotes":["10.250.0.2","10.250.0.300"]}'
bad "remote family mix" 7 'remotes\[1\]' '{"remotes":["10.250.0.2","fd00:250::2"]}'
bad "unknown master" 7 master '{"master":"nosuchdev0"}'
bad "local not on any interface" 7 local '{"local":"10.250.0.77"}'
bad "mtu too big for the underlay" 7 mtu '{"mtu":1480}'
check "vxlan: failed ADDs left no lease behind" [ "$(leases "$TMP/ddA/vxbad")" = 0 ]

inA ip link add flannel.1 type vxlan id 1 dstport 8472 dev ul0 local 10.250.0.1
bad "VNI/port used by flannel.1" 7 "VNI 1 on port 8472 is already used by vxlan device 'flannel.1'" '{"port":8472}' 1
check "vxlan: refused clash created nothing" bash -c "! ip -n $NA link show vx1 >/dev/null 2>&1"
inA ip link add vx800 type vxlan id 800 dstport 4790 dev ul0 local 10.250.0.1
bad "existing vx800 with another port" 104 "port 4790" '{}' 800
inA ip link del vx800

# The same network reused on one node with other VTEP settings is refused, not changed.
cni A ADD "$(jq -c '.learning = false' <<<"$NET1A")" "$PA1NS" net9 "$CA1"
check "vxlan: existing vx100 with learning on, config says false -> 104" err_is 104 learning

# ---- failed and killed ADDs leave nothing; host veth names never collide ---------------------
nA_links() { inA ip -o link show 2>/dev/null | wc -l; }
# host_clean VNI BASE: node A has no vx<VNI>/pxb<VNI> and BASE links; the pod only lo.
host_clean() {
	! inA ip link show "vx$1" >/dev/null 2>&1 && ! inA ip link show "pxb$1" >/dev/null 2>&1 &&
		[ "$(nA_links)" = "$2" ] && [ "$(ip -n "$POD" -o link show | wc -l)" = 1 ] ||
		{ echo "  left: $(inA ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')" >&2; return 1; }
}
BASE=$(nA_links)
new_pod
for d in true false; do
	c=$(conf vxnet8 810 '{"type":"nosuch-ipam"}' "{\"remotes\":[\"10.250.0.2\"],\"deleteOnLastDel\":$d}")
	cni A ADD "$c" "$PODNS" eth0 "cbadipam$d"
	check "vxlan: unknown ipam type (deleteOnLastDel $d) -> code 7 naming ipam.type" err_is 7 ipam.type
	check "vxlan: ... nothing was created" host_clean 810 "$BASE"
	cni A DEL "$c" "$PODNS" eth0 "cbadipam$d"
	check "vxlan: ... and its DEL succeeds" [ "$RC" = 0 ]
	# A built-in IPAM's bad config is refused before anything exists (its validate slot).
	c=$(conf vxnet8 810 '{"type":"host-local","dataDir":"'"$TMP/dd8bad"'","ranges":[[{"subnet":"10.245.0.0/24","rangeStart":"10.1.1.1"}]]}' \
		"{\"remotes\":[\"10.250.0.2\"],\"deleteOnLastDel\":$d}")
	cni A ADD "$c" "$PODNS" eth0 "cbadrange$d"
	check "vxlan: bad built-in IPAM range (deleteOnLastDel $d) -> code 7 naming the field" err_is 7 rangeStart
	check "vxlan: ... nothing was created" host_clean 810 "$BASE"
	check "vxlan: ... not even the IPAM's store" test ! -e "$TMP/dd8bad"
	cni A DEL "$c" "$PODNS" eth0 "cbadrange$d"
	check "vxlan: ... and its DEL succeeds" [ "$RC" = 0 ]
	# The IPAM runs and fails after the VTEP, bridge and veth exist (its only address is
	# taken): all of it goes.
	mkdir -p "$TMP/dd8/vxnet8"
	printf 'other\r\neth0' >"$TMP/dd8/vxnet8/10.245.0.5"
	c=$(conf vxnet8 810 '{"type":"host-local","dataDir":"'"$TMP/dd8"'","ranges":[[{"subnet":"10.245.0.0/24","rangeStart":"10.245.0.5","rangeEnd":"10.245.0.5"}]]}' \
		"{\"remotes\":[\"10.250.0.2\"],\"deleteOnLastDel\":$d}")
	cni A ADD "$c" "$PODNS" eth0 "cfull$d"
	check "vxlan: IPAM ADD failure (deleteOnLastDel $d) fails the ADD" [ "$RC" != 0 ]
	check "vxlan: ... VTEP, bridge and veth it created are gone" host_clean 810 "$BASE"
	cni A DEL "$c" "$PODNS" eth0 "cfull$d"
	check "vxlan: ... and its DEL succeeds, the other owner's lease stays" \
		bash -c "[ $RC = 0 ] && [ -e '$TMP/dd8/vxnet8/10.245.0.5' ]"
done

# Another link already holds the host veth name this attachment hashes to.
NET9A=$(conf vxnet9 820 "$(ipam A 10.244.0.0/24 10.244.0.10 10.244.0.19)" '{"remotes":["10.250.0.2"]}')
add_pod A "$NET9A"; H1=$(jq -r '.interfaces[1].name' <<<"$RES"); C9=$CID
cni A DEL "$NET9A" "$PODNS" eth0 "$C9"
inA ip link add "$H1" type veth peer name "pvq${T_ID}"
inA ip link set "$H1" master pxb820 alias "another pod"
cni A ADD "$NET9A" "$PODNS" eth0 "$C9"
H2=$(jq -r '.interfaces[1].name // empty' <<<"$OUT")
check "vxlan: host veth name taken: ADD succeeds under another name" \
	bash -c "[ $RC = 0 ] && [ -n '$H2' ] && [ '$H2' != '$H1' ] && ip -n $NA link show $H2 | grep -q 'master pxb820'"
cni A DEL "$NET9A" "$PODNS" eth0 "$C9"
check "vxlan: ... DEL removes ours and leaves the other pod's veth on the bridge" \
	bash -c "[ $RC = 0 ] && ! ip -n $NA link show $H2 >/dev/null 2>&1 && ip -n $NA link show $H1 | grep -q 'master pxb820'"
c=$(jq -c '.ipam.rangeStart = "10.1.1.1" | .ipam.ranges[0][0].rangeStart = "10.1.1.1"' <<<"$NET9A")
cni A ADD "$c" "$PODNS" eth0 "$C9"
check "vxlan: ... a failed ADD does not touch the other pod's veth either" \
	bash -c "[ $RC != 0 ] && ip -n $NA link show $H1 | grep -q 'master pxb820' && [ \$(ip -n $POD -o link show | wc -l) = 1 ]"
cni A DEL "$c" "$PODNS" eth0 "$C9"
inA ip link del "$H1"

# A container ID too long for an ifalias: the tag is a hash, DEL still finds the host veth.
LONGID=$(printf 'c%.0s' {1..300})
new_pod
cni A ADD "$NET9A" "$PODNS" eth0 "$LONGID"
HL=$(jq -r '.interfaces[1].name // empty' <<<"$OUT")
check "vxlan: 300-character container ID: ADD succeeds, host veth tagged with a hash" \
	bash -c "[ $RC = 0 ] && ip -n $NA -d link show $HL | grep -q 'alias plexus-vxlan:plx'"
cni A DEL "$NET9A" "" eth0 "$LONGID"
check "vxlan: ... DEL with an empty CNI_NETNS finds the host veth by that tag and deletes it" \
	bash -c "[ $RC = 0 ] && ! ip -n $NA link show $HL >/dev/null 2>&1"

# SIGKILL before each netlink request of ADD, then DEL: no VTEP, bridge, veth or lease left.
NET8A=$(conf vxnet8 810 "$(ipam A 10.246.0.0/24 10.246.0.10 10.246.0.19)" '{"remotes":["10.250.0.2"],"deleteOnLastDel":true}')
BASE=$(nA_links) k=0 kbad=0 tmp_seen=0
while [ $k -lt 200 ]; do
	k=$((k + 1))
	new_pod
	kill_at $k sendmsg
	cni A ADD "$NET8A" "$PODNS" eth0 "ck$T_ID"
	kill_off
	killed || break
	! ip -n "$POD" link show "$(tmp_ifname "ck$T_ID" eth0)" >/dev/null 2>&1 || tmp_seen=$((tmp_seen + 1))
	cni A DEL "$NET8A" "$PODNS" eth0 "ck$T_ID"
	if [ "$RC" != 0 ] || ! host_clean 810 "$BASE" || [ "$(leases "$TMP/ddA/vxnet8")" != 0 ]; then
		echo "  killed at sendmsg $k: DEL rc $RC $OUT" >&2
		kbad=$((kbad + 1))
	fi
	ip netns del "$POD"
done
check "vxlan: killed ADD: reached an ADD that ran to the end ($k kill points)" [ "$RC" = 0 ]
check "vxlan: killed ADD: after every kill point DEL succeeds and leaves nothing" [ $kbad = 0 ]
check "vxlan: killed ADD: some kill left the pod veth under its temporary name" [ $tmp_seen -gt 0 ]
cni A DEL "$NET8A" "$PODNS" eth0 "ck$T_ID"
check "vxlan: ... and the complete one is deleted cleanly too" bash -c "[ $RC = 0 ] && ! ip -n $NA link show vx810 >/dev/null 2>&1"

# ---- GC / STATUS pass through to IPAM --------------------------------------------------------
exit 0
