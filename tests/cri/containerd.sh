#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real runtime drives plexus: containerd 1.6's CRI plugin (Debian's containerd + runc) runs
# pod sandboxes whose CNI config is the plexus meta-plugin, driven by a small CRI client
# (cri-client.js: grpc-js + the upstream CRI api.proto), as kubelet would. Everything lives in
# a "node" network namespace made here (containerd, the API server fixture, the cluster bridge,
# the macvlan master / vxlan underlay) and one temp dir (containerd's root, state, sockets,
# runc root, pod netns mounts, CNI conf and bin dirs, IPAM, intent logs): the host's
# /etc/cni/net.d, /opt/cni/bin, /run/containerd/runc and /run/plexus are never used.
# The sandbox image is built locally (mkimage) and imported with ctr. See
# docs/testing-containerd.md. Needs root, containerd, runc, ctr, node, gcc, openssl.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ctrd.bash"
need_root
for t in containerd containerd-shim-runc-v2 runc ctr node gcc openssl curl jq nsenter; do
	command -v "$t" >/dev/null || { fail "cri: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
[ -x "$BIN/plexus" ] || { fail "cri: $BIN/plexus not built"; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(t_tmpdir)
SOCK=$D/containerd.sock
CRI() { node "$HERE/cri-client.js" "$SOCK" "$@"; }
NODE=plxcn$T_ID
CTRD_PID= API_PID= APID_PID=
SANDBOXES=()
CG_EXISTED=$(ls -d /sys/fs/cgroup/*/k8s.io 2>/dev/null | head -n1)

# ---- cleanup: also on failure, ^C or kill -------------------------------------------------
cri_cleanup() {
	set +e
	ctrd_cri_down "$D" "$SOCK" "$CTRD_PID"
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null
	[ -n "$APID_PID" ] && kill "$APID_PID" 2>/dev/null
	ctrd_sandboxes_gone "$CG_EXISTED" "${SANDBOXES[@]}"
	t_cleanup
}
trap cri_cleanup EXIT

# ---- the node: a netns with a NIC (veth pair: macvlan master, vxlan underlay) -------------
t_netns "$NODE"
ip -n "$NODE" link set lo up
ip -n "$NODE" link add eth9 type veth peer name eth9p
ip -n "$NODE" addr add 10.230.0.1/24 dev eth9
ip -n "$NODE" link set eth9 up
ip -n "$NODE" link set eth9p up

# ---- the API server fixture, in the node ---------------------------------------------------
bash "$TOP/tests/fixtures/apiserver/mkcerts.sh" "$D/pki" >/dev/null 2>&1
TOKEN=plexus-cri-token-$T_ID
nad() { # nad NS NAME CONFIG_JSON
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" \
		'{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
		  metadata:{namespace:$ns,name:$n,uid:("uid-"+$n)},spec:{config:$c}}'
}
pod() { # pod NAME: the API's copy has NO networks annotation: only containerd can pass it
	jq -cn --arg n "$1" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:$n,
		uid:("uid-"+$n)},spec:{containers:[{name:"c",image:"pause"}]}}'
}
hlr() { jq -cn --arg d "$D/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
MACVLAN=$(jq -cn --argjson i "$(hlr mv 10.232.0.0/24)" \
	'{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')
VXLAN=$(jq -cn --argjson i "$(hlr vx 10.233.0.0/24)" \
	'{cniVersion:"1.0.0",name:"vxlan-net",type:"plexus-vxlan",vni:4231,master:"eth9",deleteOnLastDel:true,ipam:$i}')
{
	echo '{"items":['
	nad default macvlan-net "$MACVLAN"; echo ,
	nad default vxlan-net "$VXLAN"; echo ,
	pod pod-a; echo ,; pod pod-b; echo ,; pod pod-c; echo ,; pod pod-bad
	echo ']}'
} >"$D/state.json"
ip netns exec "$NODE" node "$TOP/tests/fixtures/apiserver/apiserver.js" --cert "$D/pki/server.crt" \
	--key "$D/pki/server.key" --state "$D/state.json" --token "$TOKEN" \
	--log "$D/api.log" --max-lifetime 240 >"$D/port" 2>"$D/api.err" &
API_PID=$!
for _ in $(seq 100); do [ -s "$D/port" ] && break; sleep 0.05; done
PORT=$(head -n1 "$D/port")
check "cri: API server fixture is up" test -n "$PORT"
cat >"$D/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: "$D/pki/ca.crt"}
users:
- name: plexus
  user: {token: $TOKEN}
contexts:
- name: test
  context: {cluster: test, user: plexus}
current-context: test
KC

# The node's API relay (plexus-apid), as the DaemonSet runs it; plexus's conf points at it.
mkdir -p "$D/apid"
ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$D/kubeconfig" --socket "$D/apid/api.sock" \
	--log-level debug 2>"$D/apid.log" &
APID_PID=$!
for _ in $(seq 100); do [ -S "$D/apid/api.sock" ] && break; sleep 0.05; done
check "cri: plexus-apid is up" test -S "$D/apid/api.sock"

# ---- CNI: conf dir (plexus only), bin dir (plexus + reference plugins), cluster network ---
mkdir -p "$D/net.d" "$D/bin" "$D/cluster" "$D/cni-cache" "$D/run"
jq -n --argjson i "$(hlr cluster 10.231.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:"cni0",isGateway:true,ipam:$i}]}' \
	>"$D/cluster/cluster.conflist"
jq -n --arg k "$D/kubeconfig" --arg c "$D/cni-cache" --arg cl "$D/cluster/cluster.conflist" \
	--arg l "$D/plexus.log" --arg relay "$D/apid/api.sock" --arg t "$D" \
	'{cniVersion:"1.0.0",name:"plexus-net",plugins:[{type:"plexus",kubeconfig:$k,clusterNetwork:$cl,
	  cniDir:$c,confDir:$c,logFile:$l,logLevel:"debug",apiRelay:$relay,
	  tenantPolicy:{hostPathRoots:{dataDir:[$t]}},
	  capabilities:{portMappings:true,"io.kubernetes.cri.pod-annotations":true}}]}' \
	>"$D/net.d/10-plexus.conflist"
for f in "$REF_CNI"/*; do ln -s "$f" "$D/bin/"; done
for f in "$BIN"/plexus-*; do ln -s "$f" "$D/bin/"; done
# plexus itself behind a one-line tracer: which verb containerd calls, with which netns.
printf '#!/bin/sh\necho "$CNI_COMMAND $CNI_CONTAINERID netns=$CNI_NETNS" >>%s\nexec %s\n' \
	"$D/calls.log" "$BIN/plexus" >"$D/bin/plexus"
chmod +x "$D/bin/plexus"

# ---- containerd: own root, state, sockets, runc root, netns mounts; in the node netns -----
{ ctrd_config "$D" "$SOCK"; ctrd_cri_config "$D" "$D/bin" "$D/net.d"; } >"$D/config.toml"
# A clean environment, except PLEXUS_RUN_DIR: libcni hands containerd's environment to the
# plugins, so plexus-vxlan's per-VNI locks go to the temp dir instead of /run/plexus.
nsenter --net="/run/netns/$NODE" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	PLEXUS_RUN_DIR="$D/run" containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do CRI version >"$D/version" 2>/dev/null && break; sleep 0.1; done
check "cri: containerd's CRI answers runtime.v1 Version" grep -q '"runtime_api_version":"v1"' "$D/version"
bash "$HERE/mkimage" "$D/pause.tar"
check "cri: local sandbox image imported with ctr" \
	bash -c "ctr -a '$SOCK' -n k8s.io images import '$D/pause.tar' >/dev/null && ctr -a '$SOCK' -n k8s.io images ls -q | grep -qx plexus.local/pause:1"

jqt() { jq -e "$@" >/dev/null 2>&1; }
# ---- helpers -------------------------------------------------------------------------------
leases() { find "$D"/ipam-* -type f -name '10.*' 2>/dev/null | wc -l; }
# The direct-mode Event state under cni-cache/events/ outlives a pod on purpose
# (docs/observability.md): it is not the pod's.
intents() { find "$D/cni-cache" -path "$D/cni-cache/events" -prune -o -type f -print 2>/dev/null | wc -l; }
node_links() { ip -n "$NODE" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -vx cni0 | sort | tr '\n' ' '; }
run_pod() { # run_pod NAME NETWORKS: sets ID (empty on failure) and ERR
	local out
	ID= ERR=
	if out=$(CRI run "$1" default "uid-$1" "$2" 2>"$D/err.$1"); then
		ID=$(jq -r .id <<<"$out")
		SANDBOXES+=("$ID")
	fi
	ERR=$(cat "$D/err.$1")
}
BASE_LINKS=$(node_links)

# ---- pod-a: cluster network + macvlan + vxlan ----------------------------------------------
: >"$D/api.log"
run_pod pod-a "macvlan-net,vxlan-net"
check "cri: RunPodSandbox pod-a (cluster + macvlan + vxlan) succeeds" test -n "$ID"
[ -n "$ID" ] || { echo "error: $ERR"; tail -n 20 "$D/containerd.log"; }
A=$ID
CRI status "$A" >"$D/status.a" 2>&1
PID_A=$(jq -r '.info.info.pid // empty' "$D/status.a")
IP_A=$(jq -r '.status.network.ip // empty' "$D/status.a")
check "cri: PodSandboxStatus is READY with the pause pid and netns" \
	jqt '.status.state == "SANDBOX_READY" and (.info.info.pid > 0) and (.info.info.runtimeSpec.linux.namespaces | map(select(.type=="network"))[0].path | length > 0)' "$D/status.a"
check "cri: PodSandboxStatus reports the cluster network's IP ($IP_A)" \
	bash -c "[[ '$IP_A' == 10.231.0.* ]]"
check "cri: pod-a eth0 has the bridge IP from the status" test "$(podip "$PID_A" eth0)" = "$IP_A"
check "cri: pod-a net1 is a macvlan with a macvlan-net address" bash -c \
	"nsenter --net=/proc/$PID_A/ns/net ip -d link show net1 | grep -q macvlan && [[ '$(podip "$PID_A" net1)' == 10.232.0.* ]]"
check "cri: pod-a net2 has a vxlan-net address" bash -c "[[ '$(podip "$PID_A" net2)' == 10.233.0.* ]]"
NS_A=$(network_status pod-a)
check "cri: network-status patched for pod-a with every attachment" \
	test "$(jq -c 'map(.name + "=" + .interface)' <<<"$NS_A" 2>/dev/null)" = '["cluster=eth0","default/macvlan-net=net1","default/vxlan-net=net2"]'
check "cri: network-status IPs match the pod's interfaces" \
	test "$(jq -r 'map(.ips[0]) | join(" ")' <<<"$NS_A" 2>/dev/null)" = "$IP_A $(podip "$PID_A" net1) $(podip "$PID_A" net2)"
check "cri: containerd passed the pod annotations: no GET of the pod, one PATCH of its status" \
	test "$(grep -c 'GET /api/v1/namespaces/default/pods/pod-a ' "$D/api.log")/$(grep -c 'PATCH /api/v1/namespaces/default/pods/pod-a/status ' "$D/api.log")" = 0/1
check "cri: intent log written for pod-a" test -f "$D/cni-cache/$A.json"

# ---- pod-a: Stop, Remove -------------------------------------------------------------------
check "cri: StopPodSandbox pod-a succeeds" eval 'CRI stop "$A" >/dev/null'
leftovers() { echo "leases: $(find "$D"/ipam-* -type f -name '10.*' | tr '\n' ' ') intents: $(ls "$D/cni-cache") links: $(node_links) (before: $BASE_LINKS)"; }
leftovers
check "cri: after Stop: no leases, no intent log, no pod link left on the node" \
	test "$(leases)/$(intents)/$(node_links)" = "0/0/$BASE_LINKS"
check "cri: RemovePodSandbox pod-a succeeds" eval 'CRI rm "$A" >/dev/null'
leftovers
check "cri: pod-a is gone from ListPodSandbox" bash -c "! CRI_TIMEOUT_MS=20000 node '$HERE/cri-client.js' '$SOCK' list | jq -e --arg i '$A' 'map(.id) | index(\$i)' >/dev/null"
check "cri: containerd called ADD once and DEL twice, the second DEL without a netns" \
	test "$(grep " $A " "$D/calls.log" | sed 's/netns=.*state.*/netns=PATH/' | tr '\n' ';')" = "ADD $A netns=PATH;DEL $A netns=PATH;DEL $A netns=;"
check "cri: after Remove: no leases, no intent log, no links, no pod netns mount" \
	test "$(leases)/$(intents)/$(node_links)/$(find "$D/state" -path '*netns*' -type f | wc -l)" = "0/0/$BASE_LINKS/0"

# ---- two pods at once ----------------------------------------------------------------------
(run_pod pod-b "macvlan-net,vxlan-net"; echo "$ID" >"$D/id.b") &
PB=$!
(run_pod pod-c "macvlan-net,vxlan-net"; echo "$ID" >"$D/id.c") &
PC=$!
wait "$PB" "$PC"
B=$(cat "$D/id.b") C=$(cat "$D/id.c")
SANDBOXES+=("$B" "$C")
check "cri: two RunPodSandbox in parallel both succeed" test -n "$B" -a -n "$C"
PID_B=$(CRI status "$B" 2>/dev/null | jq -r '.info.info.pid // empty')
PID_C=$(CRI status "$C" 2>/dev/null | jq -r '.info.info.pid // empty')
ips_of() { echo "$(podip "$1" eth0) $(podip "$1" net1) $(podip "$1" net2)"; }
IPS_B=$(ips_of "$PID_B") IPS_C=$(ips_of "$PID_C")
check "cri: parallel pods each have eth0, net1, net2 with distinct addresses ($IPS_B | $IPS_C)" bash -c \
	"[[ '$IPS_B' =~ ^10.231.0.[0-9]+\ 10.232.0.[0-9]+\ 10.233.0.[0-9]+$ ]] && [[ '$IPS_C' =~ ^10.231.0.[0-9]+\ 10.232.0.[0-9]+\ 10.233.0.[0-9]+$ ]] && [ '$IPS_B' != '$IPS_C' ] && [ \$(echo $IPS_B $IPS_C | tr ' ' '\n' | sort -u | wc -l) = 6 ]"
check "cri: pod-b reaches pod-c over the vxlan network" \
	nsenter --net="/proc/$PID_B/ns/net" ping -q -c1 -W2 "$(podip "$PID_C" net2)"
check "cri: network-status patched for both parallel pods" \
	test "$(network_status pod-b | jq length)/$(network_status pod-c | jq length)" = 3/3
check "cri: every pod's API requests went through plexus-apid (pods a, b, c: 3 PATCHes)" \
	test "$(grep -c 'relay: PATCH /api/v1/namespaces/default/pods/pod-[abc]/status: HTTP 200' "$D/apid.log")" = 3
ok=0
for id in "$B" "$C"; do CRI stop "$id" >/dev/null && CRI rm "$id" >/dev/null && ok=$((ok + 1)); done
check "cri: Stop + Remove of both parallel pods succeed" test "$ok" = 2
check "cri: after both: no leases, no intent logs, no links" \
	test "$(leases)/$(intents)/$(node_links)" = "0/0/$BASE_LINKS"

# ---- a pod naming a missing NAD, with the relay stopped (plexus talks to the API itself) ---
kill -TERM "$APID_PID"; wait "$APID_PID" 2>/dev/null; APID_PID=
run_pod pod-bad "macvlan-net,no-such-net"
check "cri: RunPodSandbox with a missing NAD fails" test -z "$ID"
check "cri: containerd surfaces plexus's error naming the NAD" bash -c "grep -q 'no-such-net' <<<'${ERR//\'/}'"
check "cri: with plexus-apid stopped, plexus asked the API server itself" \
	grep -q "API relay '$D/apid/api.sock' not listening" "$D/plexus.log"
echo "pod-bad error: $ERR"
check "cri: the failed pod leaves no sandbox, leases, intent log or links" \
	test "$(CRI list | jq length)/$(leases)/$(intents)/$(node_links)" = "0/0/0/$BASE_LINKS"
check "cri: nothing written to /run/plexus (PLEXUS_RUN_DIR reached plexus through containerd)" \
	test -n "$(find "$D/run" -mindepth 1 2>/dev/null | head -n1)"
