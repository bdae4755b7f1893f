#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the latency of a hot-plug (docs/hotplug.md) from the annotation edit (a PATCH of
# the pod, returned) to the interface present in the pod (polled every 5 ms), and from the edit
# that drops it to the interface gone: plexus-apid --hotplug watching the API server fixture, one
# pod with a macvlan network, BENCH_N edits of each (default 20). Reports the median and the
# worst of each. Not a timed test: issue 19's target is 2 s. Needs root, node, jq, curl.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
N=${BENCH_N:-20}
die() { echo "bench: $*" >&2; exit 1; }
source bench/lib.bash
source tests/lib.sh
[ "$(id -u)" -eq 0 ] || die "needs root"
TMP=$(t_tmpdir)
NODE=plxbh$T_ID POD=plxbh$T_ID-p
bench_node "$NODE" "$POD"
T_NETNS+=("$NODE" "$POD")
{
	echo '{"items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-c" 10.90.0.0/24)"; echo ,
	nad default mv-a "$(mv_conf mv-a "$TMP/ipam-a" 10.91.0.0/24)"; echo ,
	jq -c '.spec.nodeName = "bench"' <<<"$(pod p "")"
	echo ']}'
} >"$TMP/state.json"
bench_api "$NODE"
t_proc "$API_PID"
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg t "$TMP" --arg b "$BUILD/bin" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
	  cniDir:$c,binDir:$b,tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
echo "$CONF" >"$TMP/plexus.conf"
ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=cid-bench CNI_NETNS="/run/netns/$POD" \
	CNI_IFNAME=eth0 CNI_PATH="$BUILD/bin" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=$(uid p)" \
	"$BUILD/bin/plexus" <<<"$CONF" >/dev/null || die "ADD of the pod failed"
bench_apid "$NODE" --metrics-address "" --hotplug --node-name bench --conf "$TMP/plexus.conf"
t_proc "$APID_PID"
edit() {
	ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/api/v1/namespaces/default/pods/p" -X PATCH \
		-H "Authorization: Bearer t" -H 'Content-Type: application/merge-patch+json' \
		--data "{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"$1\"}}}" >/dev/null
}
# until_ms PRESENT|GONE: ms from now until net1 is so (10 s at most)
until_ms() {
	local t0=$(date +%s%N) want=$1
	for _ in $(seq 2000); do
		if ip -n "$POD" link show net1 >/dev/null 2>&1; then [ "$want" = PRESENT ] && break
		else [ "$want" = GONE ] && break; fi
		sleep 0.005
	done
	echo $((($(date +%s%N) - t0) / 1000000))
}
add=() del=()
sleep 0.5 # the agent's first LIST
for _ in $(seq "$N"); do
	edit mv-a
	add+=("$(until_ms PRESENT)")
	edit ""
	del+=("$(until_ms GONE)")
done
ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=cid-bench CNI_NETNS="/run/netns/$POD" \
	CNI_IFNAME=eth0 CNI_PATH="$BUILD/bin" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=$(uid p)" \
	"$BUILD/bin/plexus" <<<"$CONF" >/dev/null
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d ms | %d ms", a[int((NR+1)/2)], a[NR]}'; }
echo "| what ($N edits each) | median | worst |"
echo "|---|---|---|"
echo "| edit -> interface present | $(stats "${add[@]}") |"
echo "| edit -> interface gone | $(stats "${del[@]}") |"
