#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# whereabouts benchmark: allocations per second of plexus-whereabouts for 3 simulated nodes x 20
# concurrent pods (60 ADDs, then their 60 DELs) on one pool of the TLS API server fixture, without
# and with node slices (node_slice_size), and
# the API writes (POST, PUT, PATCH, DELETE of whereabouts objects; not Leases) per pod from the
# fixture's request log; then, where the real whereabouts v0.8.1
# is present (WHEREABOUTS_BIN, or ../shared/anchors/whereabouts), both sides for 20 concurrent
# ADDs on one node, as the issue measured it. Environment: BENCH_WB_PODS (per node, default 20).
# Needs root.
set -u
cd "$(dirname "$0")/.." || exit 1
source tests/lib.sh
source tests/diff/anchor.bash
[ "$(id -u)" -eq 0 ] || { echo "bench/whereabouts: needs root" >&2; exit 1; }
WB=$BIN/plexus-whereabouts
[ -x "$WB" ] || { echo "bench/whereabouts: $WB missing (make)" >&2; exit 1; }
PODS=${BENCH_WB_PODS:-20}
NODE=pxwbb$T_ID POD=pxwbp$T_ID
TMP=$(t_tmpdir)
t_netns "$NODE" && t_netns "$POD" && ip -n "$NODE" link set lo up || exit 1
echo '{"items":[]}' >"$TMP/state.json"
api_fixture "$NODE" "$TMP" bench-$T_ID 600
t_proc "$API_PID"
[ -n "$PORT" ] || { echo "bench/whereabouts: the API server fixture did not start" >&2; exit 1; }
sed -i 's/context: {cluster: test, user: plexus}/context: {cluster: test, user: plexus, namespace: kube-system}/' "$TMP/kubeconfig"
jq -n --arg kc "$TMP/kubeconfig" '{datastore: "kubernetes", kubernetes: {kubeconfig: $kc}}' >"$TMP/whereabouts.conf"
conf() { # conf RANGE [IPAM_EXTRA]: the NAD of a run (the flat file only for the real whereabouts)
	jq -nc --arg kc "$TMP/kubeconfig" --arg r "$1" --argjson x "${2:-{\}}" '{cniVersion: "0.3.1",
		name: "bench", type: "macvlan",
		ipam: ({type: "whereabouts", range: $r, kubernetes: {kubeconfig: $kc}} + $x)}'
}
# one BIN CONF VERB NODE I: one pod's ADD or DEL on simulated node NODE (its own journal).
one() {
	echo "$2" | ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$3" \
		CNI_CONTAINERID="b-$4-$5" CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=net1 \
		CNI_PATH="$(dirname "$1")" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b-$4-$5" \
		NODE_NAME="bench-node-$4" PLEXUS_WHEREABOUTS_DIR="$TMP/journal$4" "$1" >"$TMP/out.$3.$4.$5" 2>/dev/null
	echo $? >"$TMP/rc.$3.$4.$5"
}
# wave BIN CONF VERB NODES: every node's PODS pods at once; prints "ms failures writes"
wave() {
	local n i pids=() l0 t0 t1
	l0=$(cat "$TMP/api.log" 2>/dev/null | wc -l)
	rm -f "$TMP"/rc."$3".*
	t0=$(date +%s%N)
	for n in $(seq "$4"); do
		for i in $(seq "$PODS"); do one "$1" "$2" "$3" "$n" "$i" & pids+=($!); done
	done
	wait "${pids[@]}"
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) $(cat "$TMP"/rc."$3".* | grep -vcx 0)" \
		"$(tail -n +$((l0 + 1)) "$TMP/api.log" | grep ' /apis/whereabouts' | grep -vc '^GET')"
}
report() { # report WHO VERB NODES "ms failures writes"
	local ms fails writes n=$(($3 * PODS))
	read -r ms fails writes <<<"$4"
	printf '%-22s %-4s %d nodes x %d pods: %6d ms  %7.1f /s  %d failed  %.1f API writes/pod\n' \
		"$1" "$2" "$3" "$PODS" "$ms" "$(echo "$n * 1000 / ($ms + 1)" | bc -l)" "$fails" \
		"$(echo "$writes / $n" | bc -l)"
}
echo "# whereabouts bench: plexus-whereabouts on the API server fixture (TLS, one pool)"
C=$(conf 10.81.0.0/22)
report plexus-whereabouts ADD 3 "$(wave "$WB" "$C" ADD 3)"
report plexus-whereabouts DEL 3 "$(wave "$WB" "$C" DEL 3)"
# With node slices (docs/ipam.md "Node slices"): each node claims a /24 of the /22 once.
C=$(conf 10.84.0.0/22 '{"node_slice_size": "/24"}')
report "plexus, node slices" ADD 3 "$(wave "$WB" "$C" ADD 3)"
report "plexus, node slices" DEL 3 "$(wave "$WB" "$C" DEL 3)"
report plexus-whereabouts ADD 1 "$(wave "$WB" "$(conf 10.82.0.0/22)" ADD 1)"
report plexus-whereabouts DEL 1 "$(wave "$WB" "$(conf 10.82.0.0/22)" DEL 1)"
diff_anchor whereabouts
if [ -n "$ANCHOR_BIN" ]; then
	RC=$(jq -c --arg f "$TMP/whereabouts.conf" '.ipam.configuration_path = $f' <<<"$(conf 10.83.0.0/22)")
	report "whereabouts v0.8.1" ADD 1 "$(wave "$ANCHOR_BIN" "$RC" ADD 1)"
	report "whereabouts v0.8.1" DEL 1 "$(wave "$ANCHOR_BIN" "$RC" DEL 1)"
else
	echo "# the real whereabouts did not run (no reference build): plexus only"
fi
