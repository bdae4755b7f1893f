#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: whereabouts node slices (node_slice_size) against the TLS API server fixture: three
# simulated nodes x 20 pods each claim a slice of one range and allocate inside it (0 duplicates,
# each node in its own slice, 0 leaked after DEL), fewer writes per pod to the cluster-wide
# object than without slices, a full slice -> a second slice, all slices taken -> an error naming
# the range, bad node_slice_size -> code 7.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools whereabouts-slices jq curl node python3
source "$(dirname "$0")/whereabouts.bash"
wb_setup plxsl 120
new_pod

# wb CMD CONF NODE CID [VAR=VALUE...]: plexus-whereabouts as simulated node NODE (its own
# NODE_NAME and journal).
wb() {
	local cmd=$1 c=$2 n=$3 cid=$4
	shift 4
	cni_exec "$WB" "$cmd" "$c" "$PODNS" net1 "$cid" \
		CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=p-$cid" NODE_NAME="$n" \
		PLEXUS_WHEREABOUTS_DIR="$TMP/journal-$n" "$@"
}
nsp() { state | jq -c --arg n "$1" '.items[] | select(.kind=="NodeSlicePool" and .metadata.name==$n)'; }
# slices NSP NODE: the slices NSP gives NODE, space-separated.
slices() { nsp "$1" | jq -r --arg n "$2" '[.status.allocations[] | select(.nodeName==$n) | .sliceRange] | join(" ")'; }
# writes FROM PATTERN [CODES]: write requests (not GET) in the request log after line FROM whose
# path matches PATTERN (and whose status matches CODES, a regex).
writes() { tail -n +$(($1 + 1)) "$TMP/api.log" | grep -v '^GET' | grep -- "$2" | grep -c " ${3:-[0-9]*} "; }

# ---- 3 nodes x 20 pods, with and without node slices -----------------------------------------
one() { # one CONF VERB NODE I: one pod; its "rc address" in $SC/VERB.NODE.I
	local TMP=$SC/t.$2.$3.$4
	mkdir -p "$TMP"
	wb "$2" "$1" "$3" "c-$3-$4"
	echo "$RC $(jq -r '.ips[0].address // empty' <<<"$OUT" 2>/dev/null)" >"$SC/$2.$3.$4"
}
wave() { # wave CONF VERB: 20 pods on each of nodes a, b, c, all at once
	local n i pids=()
	for n in node-a node-b node-c; do
		for i in $(seq 20); do one "$1" "$2" "$n" "$i" & pids+=($!); done
	done
	wait "${pids[@]}"
}
SL=$(conf slnet 10.90.0.0/24 '{"node_slice_size":"/27"}')
SC=$TMP/sl
mkdir -p "$SC"
L0=$(cat "$TMP/api.log" 2>/dev/null | wc -l)
T0=$(date +%s%N)
wave "$SL" ADD
T1=$(( ($(date +%s%N) - T0) / 1000000 ))
check "with slices: 60 ADDs on 3 nodes succeed (${T1} ms)" [ "$(cat "$SC"/ADD.* | grep -c '^0 10\.90\.')" = 60 ]
check "... 0 duplicate addresses" [ "$(cat "$SC"/ADD.* | awk '{print $2}' | sort | uniq -d | wc -l)" = 0 ]
OWN_OK=1
for n in node-a node-b node-c; do
	S=$(slices slnet "$n")
	python3 - "$S" "$SC"/ADD."$n".* <<'PY' || OWN_OK=0
import ipaddress, sys
nets = [ipaddress.ip_network(s) for s in sys.argv[1].split()]
ok = len(nets) == 1
for f in sys.argv[2:]:
    ip = ipaddress.ip_interface(open(f).read().split()[1]).ip
    ok = ok and any(ip in n for n in nets)
sys.exit(0 if ok else 1)
PY
done
check "... each node holds one slice and every address of its pods is inside it" [ "$OWN_OK" = 1 ]
check "... the three slices are distinct" \
	[ "$(for n in node-a node-b node-c; do slices slnet $n; echo; done | sort -u | grep -c .)" = 3 ]
check "... each node's slice IPPool holds its 20 allocations" \
	[ "$(allocs "node-a-$(slices slnet node-a | tr / -)")" = 20 -a "$(allocs "node-c-$(slices slnet node-c | tr / -)")" = 20 ]
check "shape: the NodeSlicePool is whereabouts' (spec.range, spec.sliceSize, 8 slices in status)" \
	test "$(nsp slnet | jq -c '[.apiVersion, .kind, .metadata.namespace, .spec, (.status.allocations | length), (.status.allocations[0] | keys)]')" = \
	'["whereabouts.cni.cncf.io/v1alpha1","NodeSlicePool","kube-system",{"range":"10.90.0.0/24","sliceSize":"/27"},8,["nodeName","sliceRange"]]'
SH_SL=$(writes "$L0" '/nodeslicepools')
SH_SL_OK=$(writes "$L0" '/nodeslicepools' '20[01]')
ALL_SL=$(writes "$L0" '/apis/whereabouts')
wb CHECK "$SL" node-b c-node-b-3
check "CHECK finds a sliced allocation" [ "$RC" = 0 ]
wb CHECK "$SL" node-a c-node-b-3
check "... but not from another node's slices (code 103)" is_err 103
wave "$SL" DEL
check "... DEL: every DEL succeeds, 0 allocations left in the slice pools" \
	[ "$(cat "$SC"/DEL.* | grep -vc '^0 $')" = 0 -a "$(state | jq '[.items[] | select(.kind=="IPPool") | .spec.allocations // {} | length] | add')" = 0 ]
check "... 0 reservations and 0 journal entries left" \
	[ "$(state | grep -c '"podref":"default/p-c-')" = 0 -a "$(cat "$TMP"/journal-node-*/*.json 2>/dev/null | wc -l)" = 0 ]
wb ADD "$SL" node-a again
check "... a node keeps its slice: its next pod gets the slice's first address again" \
	[ "$RC" = 0 -a "$(ip_of)" = "$(python3 -c "import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(f'{n[1]}/24')" "$(slices slnet node-a)")" ]
wb DEL "$SL" node-a again

NOSL=$(conf noslnet 10.91.0.0/24)
SC=$TMP/nosl
mkdir -p "$SC"
L0=$(cat "$TMP/api.log" 2>/dev/null | wc -l)
wave "$NOSL" ADD
check "without slices: 60 ADDs succeed" [ "$(cat "$SC"/ADD.* | grep -c '^0 10\.91\.')" = 60 ]
SH_NO=$(writes "$L0" '/ippools/10.91.0.0-24')
ALL_NO=$(writes "$L0" '/apis/whereabouts')
echo "# API writes for 60 ADDs: with slices $ALL_SL ($SH_SL to the NodeSlicePool), without $ALL_NO ($SH_NO to the one IPPool)"
check "writes per pod to the cluster-wide object: with slices ($SH_SL/60) fewer than without ($SH_NO/60)" \
	[ "$SH_SL" -lt "$SH_NO" ]
check "... of them, done: one creation and one claim per node ($SH_SL_OK)" [ "$SH_SL_OK" = 4 ]
wave "$NOSL" DEL

# ---- a full slice -> a second slice; all slices taken -> an error naming the range -------------
SM=$(conf smnet 10.92.0.0/28 '{"node_slice_size":"30"}')
wb ADD "$SM" node-x x1 && wb ADD "$SM" node-x x2 && wb ADD "$SM" node-x x3
check "a full slice (2 addresses of a /30): the third pod gets a second slice ($(ip_of))" \
	[ "$RC" = 0 -a "$(slices smnet node-x)" = "10.92.0.0/30 10.92.0.4/30" -a "$(ip_of)" = 10.92.0.5/28 ]
wb ADD "$SM" node-y y1 && wb ADD "$SM" node-z z1
check "two more nodes take the last two slices" [ "$RC" = 0 -a "$(slices smnet node-z)" = 10.92.0.12/30 ]
wb ADD "$SM" node-w w1
check "all slices taken: a node without one gets code 103 naming the range" \
	eval 'is_err 103 && grep -q "10.92.0.0/28" <<<"$OUT" && grep -q "node slice" <<<"$OUT"'
check "... and nothing of it was written" [ -z "$(slices smnet node-w)" -a "$(state | grep -c 'p-w1')" = 0 ]
wb ADD "$SM" node-x x4
wb ADD "$SM" node-x x5
check "... the same once a node's slices are full" eval 'is_err 103 && grep -q "10.92.0.0/28" <<<"$OUT"'
for c in x1 x2 x3 x4; do wb DEL "$SM" node-x "$c"; done
check "DEL releases from either of the node's slices" \
	[ "$RC" = 0 -a "$(allocs node-x-10.92.0.0-30)" = 0 -a "$(allocs node-x-10.92.0.4-30)" = 0 ]

BOUND=$(conf bdnet 10.97.0.0/24 '{"node_slice_size":"/26","range_start":"10.97.0.100"}')
wb ADD "$BOUND" node-a b1
check "range_start past the first slice: that slice is never claimed, the node gets the next ($(ip_of))" \
	[ "$RC" = 0 -a "$(slices bdnet node-a)" = 10.97.0.64/26 -a "$(ip_of)" = 10.97.0.100/24 ]

# ---- GC ----------------------------------------------------------------------------------------
wb ADD "$SM" node-y y2
cni_exec "$WB" GC "$(jq -c '. + {"cni.dev/valid-attachments":[{containerID:"y1",ifname:"net1"}]}' <<<"$SM")" \
	- - - NODE_NAME=node-y PLEXUS_WHEREABOUTS_DIR="$TMP/journal-node-y"
check "GC releases from the node's slice pool what is not in valid-attachments, keeps the rest" \
	[ "$RC" = 0 -a "$(state | grep -c '"id":"y2"')" = 0 -a "$(state | grep -c '"id":"y1"')" = 1 ]

# ---- a malformed NodeSlicePool is refused, never rewritten ----------------------------------------
put_nsp() { # put_nsp NAME SPEC_JSON ALLOCATIONS_JSON: out of band
	jq -cn --arg n "$1" --argjson s "$2" --argjson a "$3" '{apiVersion:"whereabouts.cni.cncf.io/v1alpha1",
		kind:"NodeSlicePool",metadata:{name:$n,namespace:"kube-system"},spec:$s,status:{allocations:$a}}' |
		ip netns exec "$NODE" curl -sk -X PUT "https://127.0.0.1:$PORT/_fixture/objects" -d @- >/dev/null
}
put_nsp dupnet '{"range":"10.95.0.0/24","sliceSize":"/26"}' \
	'[{"nodeName":"node-q","sliceRange":"10.95.0.0/26"},{"nodeName":"node-a","sliceRange":"10.95.0.0/26"}]'
wb ADD "$(conf dupnet 10.95.0.0/24 '{"node_slice_size":"/26"}')" node-a dup1
check "a NodeSlicePool listing one slice twice: code 101, nothing allocated" \
	eval 'is_err 101 && grep -q "listed twice" <<<"$OUT" && [ "$(state | grep -c p-dup1)" = 0 ]'
put_nsp sznet '{"range":"10.96.0.0/24","sliceSize":"/25"}' '[]'
wb ADD "$(conf sznet 10.96.0.0/24 '{"node_slice_size":"/26"}')" node-a sz1
check "a NodeSlicePool of another slice size: code 101 naming both, left as it was" \
	eval 'is_err 101 && grep -q "/26" <<<"$OUT" && [ "$(nsp sznet | jq -c .status.allocations)" = "[]" ]'

# ---- bad input ---------------------------------------------------------------------------------
N0=$(state | jq '.items | length')
bad() { # bad NAME IPAM_EXTRA
	wb ADD "$(conf badnet 10.93.0.0/24 "$2")" node-a bad
	check "node_slice_size $1: code 7 naming it" eval 'is_err 7 && grep -q "ipam.node_slice_size" <<<"$OUT"'
}
bad "'abc'" '{"node_slice_size":"abc"}'
bad "shorter than the range (/16)" '{"node_slice_size":"/16"}'
bad "past the family (/33)" '{"node_slice_size":"/33"}'
bad "a number, not whereabouts' string" '{"node_slice_size":27}'
bad "with two ranges" '{"node_slice_size":"/27","ipRanges":[{"range":"fd00:93::/64"}]}'
bad "too many slices (/24 cut into /40s)" '{"node_slice_size":"/40","range":"fd00:94::/24"}'
bad "through apiRelay" '{"node_slice_size":"/27","apiRelay":"/run/plexus/api.sock"}'
wb ADD "$SL" 'Bad_Node' bad
check "a NODE_NAME that is no node name: code 4" is_err 4
check "... bad input wrote nothing" [ "$(state | jq '.items | length')" = "$N0" ]

# ---- plexus-apid's reconciler finds slice pools (last: no Pod exists, so it frees everything) --
RCN=$(conf rcnet 10.94.0.0/24 '{"node_slice_size":"/28","network_name":"rc"}')
wb ADD "$RCN" node-r gone1
check "a sliced allocation with network_name: pool rc-node-r-10.94.0.0-28, reservation rc-10.94.0.1" \
	[ "$RC" = 0 -a "$(allocs rc-node-r-10.94.0.0-28)" = 1 -a "$(state | jq '[.items[] | select(.metadata.name=="rc-10.94.0.1")] | length')" = 1 ]
ip netns exec "$NODE" env PLEXUS_WHEREABOUTS_DIR="$TMP/journal-node-r" "$BIN/plexus-apid" \
	--kubeconfig "$TMP/kubeconfig" --socket "$TMP/api.sock" --metrics-address "" --metrics-socket "" \
	--whereabouts-reclaim --reclaim-grace 1 --reclaim-interval 1 --node-name node-r \
	--log-level debug 2>"$TMP/apid.log" &
t_proc $!
for _ in $(seq 100); do
	[ "$(allocs rc-node-r-10.94.0.0-28)" = 0 ] && [ "$(state | grep -c '"rc-10.94.0.1"')" = 0 ] && break
	sleep 0.1
done
check "the reconciler releases a gone pod's slice allocation and its reservation (network_name kept apart from the node)" \
	[ "$(allocs rc-node-r-10.94.0.0-28)" = 0 -a "$(state | grep -c '"rc-10.94.0.1"')" = 0 ]
