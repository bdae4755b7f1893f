#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: plexus-whereabouts killed at every kill point of ADD (journal writes, API
# connections and requests), then the runtime's DEL: no allocation, no reservation and no
# journal file may be left on the API server fixture or the node; then the journal file cut to
# every length, then DEL.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
need_tools "crash whereabouts" node curl
crash_node plxwc
echo '{"items":[]}' >"$TMP/state.json"
api_fixture "$CRASH_NODE" "$TMP" wbtoken 600
t_proc "$API_PID"
[ -n "$PORT" ] || { fail "crash whereabouts: API server fixture did not start"; exit 1; }
CRASH_DIRS=("$TMP/journal")
CBIN=$BIN/plexus-whereabouts
# The whole ADD and DEL within 3 s of API time: a kill between requests never waits long.
CONF=$(jq -cn --arg k "$TMP/kubeconfig" '{cniVersion:"1.1.0",name:"crash-wb",type:"macvlan",
	ipam:{type:"whereabouts",range:"10.90.0.0/24",ipRanges:[{range:"fd00:90::/120"}],
	kubernetes:{kubeconfig:$k},apiTimeoutMs:3000}}')
CRASH_ENV=(PLEXUS_WHEREABOUTS_DIR="$TMP/journal")
# TLS and libcurl's start-up make hundreds of write/openat calls that change no state of
# ours: the kill points are the journal's and the API's (each request's connect and send).
CRASH_SET=${CRASH_SET_WB:-write,rename,renameat,renameat2,connect,sendto,sendmsg,unlink,unlinkat,mkdir,mkdirat}
crash_env() {
	crash_env_base "$@"
	ENVCMD+=(CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2")
}
# Whatever an allocation or a reservation the API server still holds is a leak (the baseline
# after the warm-up's DEL has none).
crash_extra() {
	ip netns exec "$CRASH_NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state" | jq -r '
		.items[] | if .kind == "IPPool" then (.spec.allocations // {} | to_entries[]
			| "allocation \(.key) of \(.value.id)")
		elif .kind == "OverlappingRangeIPReservation" then "reservation \(.metadata.name)"
		else empty end' 2>/dev/null || echo "API state unreadable"
}
crash_warmup whereabouts
crash_kill_points whereabouts
crash_power_loss whereabouts
