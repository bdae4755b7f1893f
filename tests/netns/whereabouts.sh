#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: the whereabouts IPAM (plexus-whereabouts standalone, and in-process through
# plexus-macvlan) against the TLS API server fixture: object shapes, ADD/CHECK/DEL/GC, three
# simulated nodes allocating 300 pods 20 at a time from one pool, 409 storms, the API down, an
# exhausted pool, overlapping ranges, and the plexus-apid relay.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools whereabouts jq curl node
source "$(dirname "$0")/whereabouts.bash"
wb_setup plxwb 300
new_pod
POD1=$POD PODNS1=$PODNS
# Every node's journal directory; node 0 is the default one of these tests.
journal() { echo "$TMP/journal$1"; }
WBDIR=$(journal 0)
BASE=/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system

# wb CMD CONF CID [POD_NAME] [VAR=VALUE...]: plexus-whereabouts in the node netns.
wb() {
	local cmd=$1 c=$2 cid=$3 pn=${4:-pod-$3}
	shift 4 2>/dev/null || shift $#
	cni_exec "$WB" "$cmd" "$c" "$PODNS1" net1 "$cid" \
		CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=$pn" PLEXUS_WHEREABOUTS_DIR="$WBDIR" "$@"
}
orips() { state | jq '[.items[] | select(.kind=="OverlappingRangeIPReservation")] | length'; }
faults() { ip netns exec "$NODE" curl -sk -X "$1" "https://127.0.0.1:$PORT/_fixture/faults" ${2:+-d "$2"} >/dev/null; }

# ---- the objects whereabouts writes ---------------------------------------------------------
C=$(conf wbnet 10.66.0.0/24 '{"gateway":"10.66.0.1","exclude":["10.66.0.1/32"]}')
wb ADD "$C" cid-a web-0
check "ADD: the lowest free address after the excluded gateway" \
	[ "$RC" = 0 -a "$(ip_of)" = 10.66.0.2/24 -a "$(jq -r '.ips[0].gateway' <<<"$OUT")" = 10.66.0.1 ]
# Expected shapes, written from whereabouts' documentation (doc/crds, README "IPPool" example).
cat >"$TMP/pool.want" <<'J'
{"apiVersion":"whereabouts.cni.cncf.io/v1alpha1","kind":"IPPool","metadata":{"name":"10.66.0.0-24","namespace":"kube-system"},"spec":{"range":"10.66.0.0/24","allocations":{"2":{"id":"cid-a","podref":"default/web-0","ifname":"net1"}}}}
J
cat >"$TMP/orip.want" <<'J'
{"apiVersion":"whereabouts.cni.cncf.io/v1alpha1","kind":"OverlappingRangeIPReservation","metadata":{"name":"10.66.0.2","namespace":"kube-system"},"spec":{"containerid":"cid-a","podref":"default/web-0","ifname":"net1"}}
J
check "shape: the IPPool is whereabouts' (name, range, offset key, id/podref/ifname)" \
	diff <(jq -S . "$TMP/pool.want") <(obj IPPool 10.66.0.0-24 | jq -S .)
check "shape: the OverlappingRangeIPReservation is whereabouts'" \
	diff <(jq -S . "$TMP/orip.want") <(obj OverlappingRangeIPReservation 10.66.0.2 | jq -S .)
check "the node journal records the attachment" test -f "$WBDIR/cid-a@net1.json"
W0=$(grep -c ' /apis/whereabouts' "$TMP/api.log")
wb ADD "$C" cid-a web-0
check "a repeated ADD returns the same address and writes nothing" \
	[ "$RC" = 0 -a "$(ip_of)" = 10.66.0.2/24 -a "$(grep ' /apis/whereabouts' "$TMP/api.log" | tail -n +$((W0 + 1)) | grep -vc '^GET')" = 0 ]
wb CHECK "$C" cid-a web-0
check "CHECK finds the allocation" [ "$RC" = 0 ]
wb ADD "$C" cid-b web-1
check "a second pod gets the next address" [ "$RC" = 0 -a "$(ip_of)" = 10.66.0.3/24 ]
wb DEL "$C" cid-a web-0
check "DEL releases the allocation, the reservation and the journal entry" \
	[ "$RC" = 0 -a "$(allocs 10.66.0.0-24)" = 1 -a -z "$(obj OverlappingRangeIPReservation 10.66.0.2)" -a ! -e "$WBDIR/cid-a@net1.json" ]
wb DEL "$C" cid-a web-0
check "DEL again succeeds" [ "$RC" = 0 ]
wb CHECK "$C" cid-a web-0
check "CHECK after DEL: code 103" is_err 103
wb ADD "$C" cid-c web-2
check "the released address is the lowest free one again" [ "$RC" = 0 -a "$(ip_of)" = 10.66.0.2/24 ]

# ---- GC ------------------------------------------------------------------------------------
GCC=$(jq -c '. + {"cni.dev/valid-attachments":[{containerID:"cid-c",ifname:"net1"}]}' <<<"$C")
cni_exec "$WB" GC "$GCC" - - - PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "GC releases this node's attachments not in valid-attachments (cid-b), keeps cid-c" \
	[ "$RC" = 0 -a "$(allocs 10.66.0.0-24)" = 1 -a "$(obj IPPool 10.66.0.0-24 | jq -r '.spec.allocations["2"].id')" = cid-c ]
# An allocation made on another node (absent from this node's journal) is never GC'd here.
WBDIR=$(journal 9) wb ADD "$C" cid-other other-0
cni_exec "$WB" GC "$GCC" - - - PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "GC never touches another node's allocation" [ "$RC" = 0 -a "$(allocs 10.66.0.0-24)" = 2 ]

# ---- bad input, exhaustion, overlapping ranges ------------------------------------------------
wb ADD "$(conf wbnet 10.66.0.0/33)" cid-x
check "a malformed range: code 7" is_err 7
check "... and the message names the field" grep -q 'ipam.range' <<<"$OUT"
SMALL=$(conf small 10.67.0.0/30)
wb ADD "$SMALL" cid-s1 && wb ADD "$SMALL" cid-s2 && wb ADD "$SMALL" cid-s3
check "an exhausted pool: a clear error naming the range" \
	eval '[ "$RC" != 0 ] && grep -q "10.67.0.0/30" <<<"$OUT"'
check "... and no allocation of the refused container" [ "$(allocs 10.67.0.0-30)" = 2 -a "$(state | grep -c cid-s3)" = 0 ]
# Two networks whose ranges overlap: the reservations keep every address unique.
OV1=$(conf ov 10.68.0.0/29) OV2=$(conf ov 10.68.0.0/28)
wb ADD "$OV1" cid-o1; A1=$(ip_of)
wb ADD "$OV2" cid-o2; A2=$(ip_of)
check "overlapping ranges never hand out one address twice ($A1, $A2)" [ -n "$A1" -a "${A1%/*}" != "${A2%/*}" ]

# ---- 409 storms and the API down -------------------------------------------------------------
faults POST '[{"status":409,"count":15,"method":"PUT","path":"/ippools/"}]'
wb ADD "$C" cid-storm storm-0
check "15 conflicts in a row: ADD converges" [ "$RC" = 0 -a -n "$(ip_of)" ]
faults POST '[{"status":409,"count":100000,"method":"PUT","path":"/ippools/"}]'
T0=$(date +%s%N)
wb ADD "$(conf wbnet 10.66.0.0/24 '{"apiTimeoutMs":1500}')" cid-endless endless-0
T1=$(( ($(date +%s%N) - T0) / 1000000 ))
faults DELETE
check "an endless 409 storm: code 11 within the timeout (${T1} ms)" eval '[ "$T1" -lt 4000 ] && is_err 11'
check "... and no allocation of it" [ "$(obj IPPool 10.66.0.0-24 | grep -c cid-endless)" = 0 ]
wb DEL "$C" cid-endless endless-0
check "... DEL afterwards leaves no reservation of it" [ "$(state | grep -c cid-endless)" = 0 -a ! -e "$WBDIR/cid-endless@net1.json" ]
DOWN=$(jq -c '.ipam.kubernetes.kubeconfig = "'"$TMP/down.kubeconfig"'" | .ipam.apiTimeoutMs = 1000' <<<"$C")
sed "s/127.0.0.1:$PORT/127.0.0.1:1/" "$TMP/kubeconfig" >"$TMP/down.kubeconfig"
T0=$(date +%s%N)
wb ADD "$DOWN" cid-down down-0
T1=$(( ($(date +%s%N) - T0) / 1000000 ))
check "the API unreachable: ADD fails with code 11 within the timeout (${T1} ms)" \
	eval '[ "$T1" -lt 3000 ] && is_err 11 && [ "$(state | grep -c cid-down)" = 0 ]'
N_BEFORE=$(allocs 10.66.0.0-24)
wb DEL "$DOWN" cid-c web-2
check "the API unreachable: DEL succeeds and the journal keeps the entry" \
	[ "$RC" = 0 -a -e "$WBDIR/cid-c@net1.json" -a "$(allocs 10.66.0.0-24)" = "$N_BEFORE" ]
cni_exec "$WB" GC "$(jq -c '. + {"cni.dev/valid-attachments":[]}' <<<"$C")" - - - PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "... GC with the API back releases it" \
	[ "$RC" = 0 -a "$(obj IPPool 10.66.0.0-24 | grep -c cid-c)" = 0 -a ! -e "$WBDIR/cid-c@net1.json" ]

# ---- in-process through plexus-macvlan ------------------------------------------------------
new_pod
MV=$(conf mvwb 10.69.0.0/24)
cni_exec "$BIN/plexus-macvlan" ADD "$MV" "$PODNS" net1 cid-mv CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=mv-0" PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "macvlan with whereabouts in-process: net1 has the allocated address" \
	eval '[ "$RC" = 0 ] && ip -n "$POD" -4 -o addr show net1 | grep -q "inet 10.69.0.1/24"'
cni_exec "$BIN/plexus-macvlan" DEL "$MV" "$PODNS" net1 cid-mv CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=mv-0" PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "macvlan DEL releases it" [ "$RC" = 0 -a "$(allocs 10.69.0.0-24)" = 0 ]

# ---- in-process in the meta-plugin, from a NAD -------------------------------------------------
WBNAD=$(jq -cn --arg k "$TMP/kubeconfig" '{cniVersion:"1.0.0",name:"wbnad",type:"macvlan",master:"eth9",
	mode:"bridge",ipam:{type:"whereabouts",range:"10.71.0.0/24",kubernetes:{kubeconfig:$k}}}')
{
	echo '{"kind":"List","items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-cluster" 10.231.0.0/24)"; echo ,
	nad default wbnad "$WBNAD"; echo ,
	pod wbpod wbnad
	echo ']}'
} | ip netns exec "$NODE" curl -sk -X PUT "https://127.0.0.1:$PORT/_fixture/objects" -d @- >/dev/null
META=$(jq -cn --arg k "$TMP/kubeconfig" --arg t "$TMP" '{cniVersion:"1.0.0",name:"plexus-net",
	type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",cniDir:($t + "/cache"),
	tenantPolicy:{hostPathRoots:{dataDir:[$t],kubeconfig:[$t]}}}')
new_pod
cni_exec "$BIN/plexus" ADD "$META" "$PODNS" eth0 cid-meta PLEXUS_RUN_DIR="$TMP/run" \
	CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=wbpod;K8S_POD_UID=$(uid wbpod)" \
	PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "the meta-plugin: a whereabouts NAD runs in-process, net1 has its address" \
	eval '[ "$RC" = 0 ] && ip -n "$POD" -4 -o addr show net1 | grep -q "inet 10.71.0.1/24"'
check "... allocated to the pod's net1 in the pool" \
	test "$(obj IPPool 10.71.0.0-24 | jq -c '.spec.allocations["1"] | [.podref, .ifname]')" = '["default/wbpod","net1"]'
cni_exec "$BIN/plexus" DEL "$META" "$PODNS" eth0 cid-meta PLEXUS_RUN_DIR="$TMP/run" \
	CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=wbpod;K8S_POD_UID=$(uid wbpod)" \
	PLEXUS_WHEREABOUTS_DIR="$WBDIR"
check "... and its DEL releases it" [ "$RC" = 0 -a "$(allocs 10.71.0.0-24)" = 0 ]

# ---- through the plexus-apid relay ----------------------------------------------------------
SOCK=$TMP/api.sock
ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" \
	--log-level debug 2>"$TMP/apid.log" &
t_proc $!
for _ in $(seq 100); do grep -q 'relaying to' "$TMP/apid.log" && break; sleep 0.05; done
RL=$(jq -c --arg s "$SOCK" '.ipam.apiRelay = $s' <<<"$(conf relay 10.70.0.0/24)")
wb ADD "$RL" cid-r relay-0
RA=$(ip_of)
wb DEL "$RL" cid-r relay-0
check "through the relay: ADD ($RA) and DEL" [ "$RA" = 10.70.0.1/24 -a "$RC" = 0 -a "$(allocs 10.70.0.0-24)" = 0 ]
check "... the relay forwarded the pool writes" grep -q 'ippools' "$TMP/apid.log"

# ---- three nodes, 300 pods, 20 at a time -----------------------------------------------------
SCALE=$(conf scale 10.80.0.0/22)
scale_one() { # scale_one NODE I VERB: one pod's ADD or DEL; its result in $SC/<verb>.<node>.<i>
	local TMP=$SC/t.$1.$2.$3
	mkdir -p "$TMP"
	cni_exec "$WB" "$3" "$SCALE" "$PODNS1" net1 "s-$1-$2" \
		CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=s-$1-$2" \
		PLEXUS_WHEREABOUTS_DIR="$(journal "$1")"
	echo "$RC $(jq -r '.ips[0].address // empty' <<<"$OUT" 2>/dev/null)" >"$SC/$3.$1.$2"
}
scale_all() { # scale_all VERB: 100 pods per node, 20 at a time over the three nodes
	local n i pids=()
	for i in $(seq 100); do
		for n in 1 2 3; do
			scale_one "$n" "$i" "$1" &
			pids+=($!)
			# (a bare wait would also wait for the API server and apid)
			[ ${#pids[@]} = 20 ] && { wait "${pids[@]}"; pids=(); }
		done
	done
	[ ${#pids[@]} = 0 ] || wait "${pids[@]}"
}
SC=$TMP/scale
mkdir -p "$SC"
L0=$(wc -l <"$TMP/api.log")
T0=$(date +%s%N)
scale_all ADD
T1=$(( ($(date +%s%N) - T0) / 1000000 ))
OK=$(cat "$SC"/ADD.* | grep -c '^0 10\.80\.')
DUPS=$(cat "$SC"/ADD.* | awk '{print $2}' | sort | uniq -d | wc -l)
check "3 nodes x 100 pods, 20 at a time: 300 ADDs succeed in ${T1} ms" [ "$OK" = 300 ]
check "... 0 duplicate addresses" [ "$DUPS" = 0 ]
NA=$(allocs 10.80.0.0-22)
check "... the pool holds exactly 300 allocations ($NA)" [ "$NA" = 300 ]
echo "# API requests for the 300 ADDs: $(tail -n +$((L0 + 1)) "$TMP/api.log" | grep -c ' /apis/whereabouts')"
scale_all DEL
check "... after DEL: 0 leaked allocations, 0 reservations of them" \
	[ "$(cat "$SC"/DEL.* | grep -vc '^0 $')" = 0 -a "$(allocs 10.80.0.0-22)" = 0 -a "$(state | grep -c '"podref":"default/s-')" = 0 ]
