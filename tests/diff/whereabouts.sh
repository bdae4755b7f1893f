#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The real whereabouts v0.8.1 (an optional reference build, tests/diff/anchor.bash) as a CNI
# IPAM plugin against the TLS API server fixture: ADD writes its IPPool allocation and its
# OverlappingRangeIPReservation, parallel ADDs get distinct addresses (Lease leader election,
# JSON-patch "test" of the resourceVersion), injected 409s are retried, DEL removes exactly its
# allocation, a second DEL is a no-op. Proves the fixture speaks what whereabouts needs.
# Not run (NOTRUN) without the reference build. Needs root (whereabouts refuses a CNI_NETNS
# that is its own netns).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/anchor.bash"
need_root
need_tools whereabouts node openssl curl jq
diff_anchor whereabouts
[ -n "$ANCHOR_BIN" ] || exit 0

NODE=plx-wbn-$T_ID POD=plx-wbp-$T_ID
TMP=$(t_tmpdir)
TOKEN=wb-token-$T_ID
t_netns "$NODE" && t_netns "$POD" || { fail "whereabouts: netns"; exit 1; }
ip -n "$NODE" link set lo up
echo '{"kind": "List", "items": []}' >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN" 120
t_proc "$API_PID"
[ -n "$PORT" ] || { fail "whereabouts: the API server fixture did not start: $(cat "$TMP/api.err")"; exit 1; }
# whereabouts keeps its objects in the kubeconfig context's namespace.
sed -i 's/context: {cluster: test, user: plexus}/context: {cluster: test, user: plexus, namespace: kube-system}/' "$TMP/kubeconfig"
jq -n --arg kc "$TMP/kubeconfig" --arg log "$TMP/wb.log" \
	'{datastore: "kubernetes", kubernetes: {kubeconfig: $kc}, log_file: $log, log_level: "debug"}' >"$TMP/whereabouts.conf"
CONF=$(jq -nc --arg kc "$TMP/kubeconfig" --arg flat "$TMP/whereabouts.conf" '{cniVersion: "0.3.1",
	name: "wbnet", type: "macvlan", ipam: {type: "whereabouts", range: "10.77.0.0/24",
	configuration_path: $flat, kubernetes: {kubeconfig: $kc}}}')

# wb VERB CONTAINER POD: run whereabouts in the node netns; its stdout in $TMP/out.CONTAINER.
wb() {
	echo "$CONF" | ip netns exec "$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
		CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=net1 CNI_PATH="$(dirname "$ANCHOR_BIN")" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$3" \
		timeout 60 "$ANCHOR_BIN" >"$TMP/out.$2" 2>>"$TMP/wb.err"
}
ip_of() { jq -r '.ips[0].address' "$TMP/out.$1"; }
fixture() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/$1" "${@:2}"; }
pool() { fixture state | jq -c '.items[] | select(.kind == "IPPool") | .spec.allocations // {}'; }
orips() { fixture state | jq -r '[.items[] | select(.kind == "OverlappingRangeIPReservation") | .metadata.name] | sort | join(",")'; }

check "whereabouts: ADD allocates the first address" wb ADD c1 pod1
check "whereabouts: the result is 10.77.0.1/24" test "$(ip_of c1)" = 10.77.0.1/24
check "whereabouts: the IPPool holds the allocation (id, ifname, podref)" \
	test "$(pool)" = '{"1":{"id":"c1","ifname":"net1","podref":"default/pod1"}}'
check "whereabouts: an OverlappingRangeIPReservation for it" test "$(orips)" = 10.77.0.1
patched_with_test() {
	fixture requests | jq -e '[.items[] | select(.method == "PATCH")][0] |
		(.contentType | startswith("application/json-patch+json")) and
		(.body | fromjson | .[0] | .op == "test" and .path == "/metadata/resourceVersion")' >/dev/null &&
		grep -q 'POST /apis/coordination.k8s.io/v1/namespaces/kube-system/leases ' "$TMP/api.log"
}
check "whereabouts: it took the Lease and JSON-patched the pool with a resourceVersion test" patched_with_test

# Parallel ADDs race for the Lease and the pool's resourceVersion.
pids=()
for i in 2 3 4 5; do wb ADD "c$i" "pod$i" & pids+=($!); done
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
check "whereabouts: four parallel ADDs succeed" test "$ok" = 1
check "whereabouts: ... with four distinct addresses" test "$(for i in 2 3 4 5; do ip_of "c$i"; done | sort -u | wc -l)" = 4
check "whereabouts: ... all in the pool" test "$(pool | jq 'length')" = 5

# A stale pool: the API server answers the failed resourceVersion "test" with 422 Invalid, which
# whereabouts retries (with a fresh GET).
in_pool() { test "$(pool | jq -r --arg a "$(ip_of "$1" | cut -d/ -f1 | cut -d. -f4)" '.[$a].podref')" = "default/$2"; }
fixture faults -X POST -d '[{"status":422,"method":"PATCH","path":"/ippools/","count":2}]' >/dev/null
check "whereabouts: ADD succeeds through two 422s of a stale pool" wb ADD c6 pod6
check "whereabouts: ... and its address is in the pool" in_pool c6 pod6
# A 409 on the pool's PATCH is not retried by v0.8.1, and its ADD still succeeds with an address
# the pool does not hold (a defect of the reference: plexus must not copy it).
fixture faults -X POST -d '[{"status":409,"method":"PATCH","path":"/ippools/","count":1}]' >/dev/null
check "whereabouts: reference defect kept visible: a 409 on the pool PATCH, ADD still succeeds" wb ADD c8 pod8
not_in_pool() { ! in_pool "$@"; }
check "whereabouts: ... with an address missing from the pool" not_in_pool c8 pod8
fixture faults -X DELETE >/dev/null
wb DEL c8 pod8

check "whereabouts: DEL succeeds" wb DEL c1 pod1
check "whereabouts: DEL removed exactly its allocation" test "$(pool | jq -c 'keys | map(tonumber) | sort')" = "$(for i in 2 3 4 5 6; do ip_of "c$i" | cut -d/ -f1 | cut -d. -f4; done | sort -n | jq -sc .)"
check "whereabouts: DEL removed its reservation" test "$(orips | tr , '\n' | grep -cx 10.77.0.1)" = 0
check "whereabouts: a second DEL is a no-op" wb DEL c1 pod1
check "whereabouts: ADD after DEL reuses the freed address" wb ADD c7 pod7
check "whereabouts: ... 10.77.0.1" test "$(ip_of c7)" = 10.77.0.1/24
