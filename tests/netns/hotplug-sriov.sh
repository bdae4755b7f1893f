#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hot-plug of SR-IOV VFs (docs/hotplug.md, "Device-backed networks"): `plexus --hotplug` on a
# pod kubelet allocated three VFs of intel.com/sriov (the grpc-js PodResources stand-in; the VFs
# are veth ends behind a fake sysfs tree, tests/fixtures/mksysfs.sh, as in sriov.sh). A new
# attachment gets a device no attachment holds, a kept one keeps its own, one more than allocated
# fails with code 104 and changes nothing, a detached attachment's VF goes back to the host and is
# handed out again, and DEL returns every VF. Needs root, node, openssl, curl, jq.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools hotplug-sriov node openssl curl jq
TMP=$(t_tmpdir)
NODE=plxhs$T_ID
new_node "$NODE"
MK=$TOP/tests/fixtures/mksysfs.sh
SYS=$TMP/sysfs
PF=0000:3b:00.0
"$MK" "$SYS" pf "$PF" pxpf${T_ID}
# The stand-in allocates 0000:3b:02.0, 02.1 and 02.2 to default/web: VFs 15-17 of the PF.
declare -A VFIF
for n in 15 16 17; do
	bdf=0000:3b:02.$((n - 15))
	VFIF[$bdf]=px${T_ID}v$n
	ip link add "${VFIF[$bdf]}" type veth peer name "${VFIF[$bdf]}p" && t_link "${VFIF[$bdf]}"
	ip link set "${VFIF[$bdf]}" netns "$NODE"
	"$MK" "$SYS" vf "$PF" "$n" "$bdf" iavf "${VFIF[$bdf]}"
done
grpc_peer_ready || fail "hotplug-sriov: npm ci for the grpc-js peer"
node "$TOP/tests/fixtures/grpc/podresources-server.js" "$TMP/kubelet.sock" ok >"$TMP/pr.out" 2>&1 &
t_proc $!
for _ in $(seq 100); do grep -q READY "$TMP/pr.out" 2>/dev/null && break; sleep 0.05; done

SRIOV=$(jq -cn --arg d "$TMP/ipam-sriov" '{cniVersion:"1.0.0",name:"sriov-net",type:"sriov",
	ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.248.0.0/24"}]]}}')
{
	echo '{"items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-cluster" 10.249.0.0/24)"; echo ,
	nad default sriov-net "$SRIOV" | jq -c '.metadata.annotations = {"k8s.v1.cni.cncf.io/resourceName":"intel.com/sriov"}'; echo ,
	pod web "sriov-net"
	echo ']}'
} >"$TMP/state.json"
TOKEN=plexus-node-token-$T_ID
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "hotplug-sriov: API server fixture is up" test -n "$PORT"
CNI_DIR=$TMP/cache
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$CNI_DIR" --arg t "$TMP" --arg s "$TMP/kubelet.sock" \
	--arg d "$TMP/devinfo" '{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,
	clusterNetwork:"cluster",cniDir:$c,podResourcesSocket:$s,deviceInfoDir:$d,
	tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
PODNS=plxhs$T_ID-web
t_netns "$PODNS"
CID=cid-hs-$T_ID
plexus() { # plexus ADD|DEL|HOTPLUG: sets OUT, RC
	local cmd=$1 argv=()
	[ "$cmd" = HOTPLUG ] && { cmd=ADD; argv=(--hotplug); }
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$CID" \
		CNI_NETNS="/run/netns/$PODNS" CNI_IFNAME=eth0 CNI_PATH="$REF_CNI" PLEXUS_SYSFS_ROOT="$SYS" \
		PLEXUS_STATE_DIR="$TMP/state" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_UID=$(uid web)" \
		"$BIN/plexus" "${argv[@]}" <<<"$CONF" 2>"$TMP/stderr")
	RC=$?
	[ -z "${DEBUG:-}" ] || echo "[$cmd ${argv[*]} rc=$RC] $OUT $(cat "$TMP/stderr")" >&2
}
nets() {
	ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/api/v1/namespaces/default/pods/web" -X PATCH \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/merge-patch+json' \
		--data "$(jq -cn --arg v "$1" '{metadata:{annotations:{"k8s.v1.cni.cncf.io/networks":$v}}}')" >/dev/null
}
links() { ip -n "$PODNS" -j link show | jq -r '[.[] | select(.ifname != "lo") | .ifname] | sort | join(",")'; }
# devices: ifname=deviceID of each attachment, from the intent log
devices() { jq -r '[.attachments[] | select(.capArgs.deviceID) | "\(.ifname)=\(.capArgs.deviceID)"] | join(",")' "$CNI_DIR/$CID.json"; }
in_node() { ip -n "$NODE" link show "$1" >/dev/null 2>&1; }

plexus ADD
check "hotplug-sriov: ADD of web (sriov-net): net1 is the first allocated VF" \
	test "$RC/$(links)/$(devices)" = 0/eth0,net1/net1=0000:3b:02.0
check "... which left the node" bash -c "! ip -n '$NODE' link show '${VFIF[0000:3b:02.0]}' 2>/dev/null"
nets "sriov-net,sriov-net@extra"
plexus HOTPLUG
check "hotplug-sriov: a second sriov-net gets the next unused VF, net1 keeps its own" \
	test "$RC/$(links)/$(devices)" = 0/eth0,extra,net1/net1=0000:3b:02.0,extra=0000:3b:02.1
nets "sriov-net,sriov-net@extra,sriov-net@x3"
plexus HOTPLUG
check "hotplug-sriov: a third gets the last one" \
	test "$RC/$(devices)" = 0/net1=0000:3b:02.0,extra=0000:3b:02.1,x3=0000:3b:02.2
nets "sriov-net,sriov-net@extra,sriov-net@x3,sriov-net@x4"
plexus HOTPLUG
check "hotplug-sriov: a fourth: code 104 naming the resource, nothing changes" \
	test "$(jq -r '.code' <<<"$OUT")/$(jq -r '.msg|contains("intel.com/sriov")' <<<"$OUT")/$(links)/$(devices)" = \
	"104/true/eth0,extra,net1,x3/net1=0000:3b:02.0,extra=0000:3b:02.1,x3=0000:3b:02.2"
nets "sriov-net@extra,sriov-net@x3"
plexus HOTPLUG
check "hotplug-sriov: net1 detached: its VF is back on the node" \
	test "$RC/$(links)/$(in_node "${VFIF[0000:3b:02.0]}" && echo back)" = 0/eth0,extra,x3/back
nets "sriov-net@extra,sriov-net@x3,sriov-net@x4"
plexus HOTPLUG
check "hotplug-sriov: the freed VF is handed out again" \
	test "$RC/$(devices)" = 0/extra=0000:3b:02.1,x3=0000:3b:02.2,x4=0000:3b:02.0
plexus DEL
check "hotplug-sriov: DEL returns every VF to the node and every lease" \
	test "$RC/$(for b in 0 1 2; do in_node "${VFIF[0000:3b:02.$b]}" && echo -n y; done)/$(leases "$TMP/ipam-sriov")" = 0/yyy/0
