# SPDX-License-Identifier: Apache-2.0
# Sourced by the whereabouts netns tests (after ../lib.sh): a node netns running the TLS API
# server fixture, and helpers to build netconfs and read what the fixture stores.

# wb_setup NODE_PREFIX LIFETIME_S: sets TMP, NODE, PORT, API_PID, WB and RUNNER (exits on failure).
wb_setup() {
	TMP=$(t_tmpdir)
	NODE=$1$T_ID
	new_node "$NODE" || { fail "node netns"; exit 1; }
	echo '{"items":[]}' >"$TMP/state.json"
	api_fixture "$NODE" "$TMP" wbtoken "$2"
	t_proc "$API_PID"
	[ -n "$PORT" ] || { fail "API server fixture did not start: $(cat "$TMP/api.err")"; exit 1; }
	WB=$BIN/plexus-whereabouts
	RUNNER=(ip netns exec "$NODE")
}
# conf NAME RANGE [IPAM_JSON_EXTRA]: a netconf whose ipam is whereabouts on the fixture.
conf() {
	jq -cn --arg n "$1" --arg r "$2" --arg k "$TMP/kubeconfig" --argjson x "${3:-{\}}" \
		'{cniVersion:"1.1.0",name:$n,type:"macvlan",master:"eth9",
		  ipam:({type:"whereabouts",range:$r,kubernetes:{kubeconfig:$k}} + $x)}'
}
state() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state"; }
# obj KIND NAME: the stored object without what the API server adds.
obj() {
	state | jq -c --arg k "$1" --arg n "$2" '.items[] | select(.kind==$k and .metadata.name==$n)
		| del(.metadata.resourceVersion, .metadata.uid, .metadata.creationTimestamp,
		      .metadata.generation, .metadata.managedFields)'
}
# allocs POOL: how many allocations POOL holds ("nopool" when it does not exist).
allocs() {
	state | jq -r --arg n "$1" '[.items[] | select(.kind=="IPPool" and .metadata.name==$n)]
		| if length == 0 then "nopool" else (.[0].spec.allocations // {} | length) end'
}
ip_of() { jq -r '.ips[0].address' <<<"$OUT"; }
is_err() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
