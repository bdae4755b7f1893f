#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hot-plug with a real runtime (docs/hotplug.md): containerd 1.6's CRI runs a pod sandbox whose
# CNI config is plexus (as tests/cri/containerd.sh does), plexus-apid --hotplug watches the API
# server fixture; editing the pod's networks annotation gives the running sandbox a new
# interface, another edit replaces it, and the runtime's Stop/Remove (DEL twice) leaves no
# link, lease, intent log or lock file. Needs root, containerd, runc, ctr, node, gcc, openssl.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ctrd.bash"
need_root
need_tools cri-hotplug containerd containerd-shim-runc-v2 runc ctr node gcc openssl curl jq nsenter
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(t_tmpdir)
SOCK=$D/containerd.sock
CRI() { node "$HERE/cri-client.js" "$SOCK" "$@"; }
NODE=plxch$T_ID
NODE_NAME=node-$T_ID
CTRD_PID= SANDBOXES=()
CG_EXISTED=$(ls -d /sys/fs/cgroup/*/k8s.io 2>/dev/null | head -n1)
cri_cleanup() {
	set +e
	ctrd_cri_down "$D" "$SOCK" "$CTRD_PID"
	ctrd_sandboxes_gone "$CG_EXISTED" "${SANDBOXES[@]}"
	t_cleanup
}
trap cri_cleanup EXIT
[ -z "${DEBUG:-}" ] || trap 'cat "$D/apid.log" >&2; cri_cleanup' EXIT
new_node "$NODE"

hlr() { jq -cn --arg d "$D/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
{
	echo '{"items":['
	nad default mv-a "$(jq -cn --argjson i "$(hlr a 10.236.0.0/24)" '{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')"; echo ,
	nad default mv-b "$(jq -cn --argjson i "$(hlr b 10.237.0.0/24)" '{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')"; echo ,
	jq -c --arg n "$NODE_NAME" '.spec.nodeName = $n | .metadata.uid = "uid-pod-h"' <<<"$(pod pod-h mv-a)"
	echo ']}'
} >"$D/state.json"
TOKEN=plexus-cri-token-$T_ID
api_fixture "$NODE" "$D" "$TOKEN"
t_proc "$API_PID"
check "cri-hotplug: API server fixture is up" test -n "$PORT"

mkdir -p "$D/net.d" "$D/bin" "$D/cni-cache" "$D/run"
jq -n --argjson i "$(hlr cluster 10.235.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:"cni0",isGateway:true,ipam:$i}]}' \
	>"$D/cluster.conflist"
jq -n --arg k "$D/kubeconfig" --arg c "$D/cni-cache" --arg cl "$D/cluster.conflist" --arg b "$D/bin" \
	--arg t "$D" '{cniVersion:"1.0.0",name:"plexus-net",plugins:[{type:"plexus",kubeconfig:$k,
	clusterNetwork:$cl,cniDir:$c,binDir:$b,tenantPolicy:{hostPathRoots:{dataDir:[$t]}},
	capabilities:{"io.kubernetes.cri.pod-annotations":true}}]}' >"$D/net.d/10-plexus.conflist"
for f in "$REF_CNI"/*; do ln -s "$f" "$D/bin/"; done
for f in "$BIN"/plexus-*; do ln -s "$f" "$D/bin/"; done
# plexus behind a tracer: who runs it (containerd, or the agent with --hotplug).
printf '#!/bin/sh\necho "$CNI_COMMAND $*" >>%s\nexec %s "$@"\n' "$D/calls.log" "$BIN/plexus" >"$D/bin/plexus"
chmod +x "$D/bin/plexus"
{ ctrd_config "$D" "$SOCK"; ctrd_cri_config "$D" "$D/bin" "$D/net.d"; } >"$D/config.toml"
nsenter --net="/run/netns/$NODE" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	PLEXUS_RUN_DIR="$D/run" containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do CRI version >/dev/null 2>&1 && break; sleep 0.1; done
bash "$HERE/mkimage" "$D/pause.tar"
check "cri-hotplug: containerd is up with the local sandbox image" \
	bash -c "ctr -a '$SOCK' -n k8s.io images import '$D/pause.tar' >/dev/null && ctr -a '$SOCK' -n k8s.io images ls -q | grep -qx plexus.local/pause:1"
# In the host's mount namespace (as containerd): the sandboxes' netns mounts must be visible, as
# the DaemonSet gets them with mountPropagation HostToContainer (docs/hotplug.md).
nsenter --net="/run/netns/$NODE" "$BIN/plexus-apid" --kubeconfig "$D/kubeconfig" --socket "$D/apid/api.sock" \
	--metrics-address "" --hotplug --node-name "$NODE_NAME" --conf "$D/net.d/10-plexus.conflist" \
	2>"$D/apid.log" &
t_proc $!
for _ in $(seq 100); do grep -q 'each checked' "$D/apid.log" && break; sleep 0.05; done
check "cri-hotplug: plexus-apid --hotplug lists the node's pods" grep -q 'hot-plug: 1 pod(s) on the node' "$D/apid.log"

OUT=$(CRI run pod-h default uid-pod-h mv-a 2>"$D/err")
ID=$(jq -r '.id // empty' <<<"$OUT")
SANDBOXES+=("$ID")
check "cri-hotplug: RunPodSandbox pod-h (cluster + mv-a) succeeds" test -n "$ID"
PID=$(CRI status "$ID" 2>/dev/null | jq -r '.info.info.pid // empty')
links() { nsenter --net="/proc/$PID/ns/net" ip -j link show | jq -r '[.[] | select(.ifname != "lo") | .ifname] | sort | join(",")'; }
converge() { for _ in $(seq 100); do [ "$(links)" = "$1" ] && return 0; sleep 0.05; done; [ "$(links)" = "$1" ]; }
nets() {
	ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/api/v1/namespaces/default/pods/pod-h" -X PATCH \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/merge-patch+json' \
		--data "$(jq -cn --arg v "$1" '{metadata:{annotations:{"k8s.v1.cni.cncf.io/networks":$v}}}')" >/dev/null
}
check "cri-hotplug: the sandbox has eth0 and net1" test "$(links)" = eth0,net1
nets "mv-a,mv-b"
converge eth0,net1,net2
check "cri-hotplug: after the edit 'mv-a,mv-b' the running sandbox gets net2 with an mv-b address" \
	bash -c "[ '$(links)' = eth0,net1,net2 ] && [[ '$(podip "$PID" net2)' == 10.237.0.* ]]"
check "... network-status follows" \
	test "$(network_status pod-h | jq -c 'map(.interface)')" = '["eth0","net1","net2"]'
check "... the agent ran plexus --hotplug" grep -q '^ADD --hotplug$' "$D/calls.log"
nets "mv-b@data"
converge data,eth0
check "cri-hotplug: after the edit 'mv-b@data' it has only data besides eth0, one lease each" \
	test "$(links)/$(find "$D"/ipam-[ab] -type f -name '10.*' | wc -l)" = data,eth0/1
ok=0
CRI stop "$ID" >/dev/null && CRI rm "$ID" >/dev/null && ok=1
check "cri-hotplug: Stop + Remove succeed" test "$ok" = 1
check "cri-hotplug: containerd ran ADD once and DEL twice, the agent hot-plugged in between" \
	test "$(grep -v -- --hotplug "$D/calls.log" | tr '\n' ';')" = "ADD ;DEL ;DEL ;"
check "cri-hotplug: no lease, intent log or lock file left (the Events state directory stays: docs/observability.md)" \
	test "$(find "$D"/ipam-* -type f -name '10.*' | wc -l)/$(find "$D/cni-cache" -path "$D/cni-cache/events" -prune -o -type f -print | wc -l)" = 0/0
