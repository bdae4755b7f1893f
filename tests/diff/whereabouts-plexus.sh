#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-whereabouts side by side with the real whereabouts v0.8.1 (an optional reference build,
# tests/diff/anchor.bash) on one pool of the TLS API server fixture, as during a migration:
# both allocate concurrently, no address is handed out twice, every allocation has the same
# shape whoever wrote it, each DELs only its own, and nothing is left after all DELs.
# Not run (NOTRUN) without the reference build. Needs root.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/anchor.bash"
need_root
need_tools "whereabouts-plexus" node curl jq
diff_anchor whereabouts
[ -n "$ANCHOR_BIN" ] || exit 0

NODE=plx-wxn-$T_ID POD=plx-wxp-$T_ID
TMP=$(t_tmpdir)
t_netns "$NODE" && t_netns "$POD" || { fail "whereabouts-plexus: netns"; exit 1; }
ip -n "$NODE" link set lo up
echo '{"kind": "List", "items": []}' >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "wx-$T_ID" 180
t_proc "$API_PID"
[ -n "$PORT" ] || { fail "whereabouts-plexus: the API server fixture did not start"; exit 1; }
sed -i 's/context: {cluster: test, user: plexus}/context: {cluster: test, user: plexus, namespace: kube-system}/' "$TMP/kubeconfig"
jq -n --arg kc "$TMP/kubeconfig" '{datastore: "kubernetes", kubernetes: {kubeconfig: $kc}}' >"$TMP/whereabouts.conf"
CONF=$(jq -nc --arg kc "$TMP/kubeconfig" --arg flat "$TMP/whereabouts.conf" '{cniVersion: "0.3.1",
	name: "wxnet", type: "macvlan", ipam: {type: "whereabouts", range: "10.78.0.0/24",
	configuration_path: $flat, kubernetes: {kubeconfig: $kc}}}')
# The same NAD for plexus (configuration_path outside the whereabouts.d directories is refused).
PCONF=$(jq -c 'del(.ipam.configuration_path)' <<<"$CONF")

# run WHO VERB CONTAINER: WHO (wb = whereabouts, px = plexus) in the node netns; stdout in
# $TMP/out.CONTAINER, exit status in $TMP/rc.CONTAINER.VERB.
run() {
	local bin=$ANCHOR_BIN conf=$CONF
	[ "$1" = px ] && bin=$BIN/plexus-whereabouts conf=$PCONF
	echo "$conf" | ip netns exec "$NODE" env CNI_COMMAND="$2" CNI_CONTAINERID="$3" \
		CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=net1 CNI_PATH="$(dirname "$ANCHOR_BIN")" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$3" \
		PLEXUS_WHEREABOUTS_DIR="$TMP/journal" timeout 60 "$bin" >"$TMP/out.$3" 2>>"$TMP/err.$1"
	echo $? >"$TMP/rc.$3.$2"
}
both() { # both VERB: 8 whereabouts and 8 plexus containers at once
	local pids=() i
	for i in $(seq 8); do
		run wb "$1" "wb-$i" & pids+=($!)
		run px "$1" "px-$i" & pids+=($!)
	done
	wait "${pids[@]}"
}
state() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state"; }
pool() { state | jq -c '[.items[] | select(.kind == "IPPool")][0].spec.allocations // {}'; }

both ADD
check "side by side: 16 concurrent ADDs (8 whereabouts, 8 plexus) succeed" \
	test "$(cat "$TMP"/rc.*.ADD | grep -cx 0)" = 16
ADDRS=$(for f in "$TMP"/out.*; do jq -r '.ips[0].address' "$f"; done)
check "side by side: 16 distinct addresses" test "$(sort -u <<<"$ADDRS" | grep -c '^10\.78\.')" = 16
check "side by side: the one pool holds all 16, one entry each" test "$(pool | jq 'length')" = 16
check "side by side: every allocation has whereabouts' shape (id, ifname, podref), whoever wrote it" \
	test "$(pool | jq -c '[.[] | keys] | unique')" = '[["id","ifname","podref"]]'
check "side by side: each address is its container's in the pool" test "$(pool | jq -r \
	'to_entries[] | "10.78.0.\(.key) \(.value.id)"' | sort)" = "$(for f in "$TMP"/out.*; do
	echo "$(jq -r '.ips[0].address' "$f" | cut -d/ -f1) ${f##*/out.}"; done | sort)"
both DEL
check "side by side: 16 concurrent DELs succeed" test "$(cat "$TMP"/rc.*.DEL | grep -cx 0)" = 16
check "side by side: nothing left in the pool" test "$(pool)" = '{}'
check "side by side: no reservation left" \
	test "$(state | jq '[.items[] | select(.kind == "OverlappingRangeIPReservation")] | length')" = 0
