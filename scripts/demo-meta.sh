#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main demo: two simulated nodes run the plexus meta-plugin for one pod each. A local
# Kubernetes API server (the test fixture: TLS, token, real object shapes) plays the cluster
# and holds the NetworkAttachmentDefinitions. Each pod gets the cluster network (the reference
# bridge plugin, exec'd; host-gw routing between nodes) plus a macvlan and a vxlan attachment
# (plexus built-ins, in-process) asked for in its k8s.v1.cni.cncf.io/networks annotation. The
# demo shows the network-status plexus wrote and the pods talking over every network, then
# cleans up. Everything lives in network namespaces made here. Needs root and a build.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
PLEXUS=$TOP/$BUILD/bin/plexus
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces)"; exit 1; }
[ -x "$PLEXUS" ] || { echo "demo: $PLEXUS missing: run 'make' first"; exit 1; }
if [ -t 1 ]; then B='\033[1m' N='\033[0m'; else B= N=; fi
say() { printf "\n${B}== %s${N}\n" "$*"; }

NS=(plxd-switch plxd-cp plxd-node-a plxd-node-b plxd-pod-a plxd-pod-b)
STATE=$(mktemp -d /tmp/plexus-demo.XXXXXX)
API_PID= APID_PIDS=()
cleanup() {
	[ -z "$API_PID" ] || kill "$API_PID" 2>/dev/null || true
	for p in "${APID_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$STATE"
}
trap cleanup EXIT
for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
for n in "${NS[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done

say "topology: node A, node B and the control plane on one L2 segment (a bridge in 'plxd-switch')"
ip -n plxd-switch link add sw0 type bridge
ip -n plxd-switch link set sw0 up
attach() { # attach NETNS IFNAME ADDRESS
	ip -n plxd-switch link add "p-$1" type veth peer name "$2" netns "$1"
	ip -n plxd-switch link set "p-$1" master sw0 up
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$1" link set "$2" up
}
attach plxd-cp eth0 10.210.0.254/24
attach plxd-node-a ens3 10.210.0.1/24
attach plxd-node-b ens3 10.210.0.2/24
# Cluster network: a bridge per node with a /24 per node, routed between nodes (host-gw).
ip netns exec plxd-node-a sysctl -qw net.ipv4.ip_forward=1
ip netns exec plxd-node-b sysctl -qw net.ipv4.ip_forward=1
ip -n plxd-node-a route add 10.211.2.0/24 via 10.210.0.2
ip -n plxd-node-b route add 10.211.1.0/24 via 10.210.0.1
echo "node A ens3 10.210.0.1, node B ens3 10.210.0.2, API server 10.210.0.254"

say "the API server (test fixture) with the NADs and the pods"
bash tests/fixtures/apiserver/mkcerts.sh "$STATE/pki" 10.210.0.254
TOKEN=plexus-demo-token
nad() {
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" '{apiVersion:"k8s.cni.cncf.io/v1",
		kind:"NetworkAttachmentDefinition",metadata:{namespace:$ns,name:$n},spec:{config:$c}}'
}
pod() {
	jq -cn --arg n "$1" --arg a "$2" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",
		name:$n,uid:("uid-"+$n),annotations:{"k8s.v1.cni.cncf.io/networks":$a}},
		spec:{containers:[{name:"app",image:"pause"}]}}'
}
MACVLAN='{"cniVersion":"1.0.0","type":"macvlan","master":"ens3","mode":"bridge","capabilities":{"ips":true},"ipam":{"type":"static"}}'
VXLAN='{"cniVersion":"1.0.0","type":"vxlan","vni":5001,"master":"ens3","remotes":["10.210.0.1","10.210.0.2"],"capabilities":{"ips":true},"ipam":{"type":"static"}}'
{
	echo '{"items":['
	nad default data-plane "$MACVLAN"; echo ,
	nad default tenant-overlay "$VXLAN"; echo ,
	pod pod-a '[{"name":"data-plane","ips":["10.212.0.11/24"]},{"name":"tenant-overlay","interface":"ovl0","ips":["10.213.0.11/24"]}]'; echo ,
	pod pod-b '[{"name":"data-plane","ips":["10.212.0.12/24"]},{"name":"tenant-overlay","interface":"ovl0","ips":["10.213.0.12/24"]}]'
	echo ']}'
} >"$STATE/state.json"
jq -r '.items[] | select(.kind=="NetworkAttachmentDefinition") | "NAD \(.metadata.namespace)/\(.metadata.name): \(.spec.config | fromjson | .type)"' "$STATE/state.json"
jq -r '.items[] | select(.kind=="Pod") | "pod \(.metadata.name): networks \(.metadata.annotations["k8s.v1.cni.cncf.io/networks"])"' "$STATE/state.json"
ip netns exec plxd-cp node tests/fixtures/apiserver/apiserver.js --listen 10.210.0.254 \
	--cert "$STATE/pki/server.crt" --key "$STATE/pki/server.key" --state "$STATE/state.json" \
	--token "$TOKEN" --log "$STATE/api.log" --max-lifetime 300 >"$STATE/port" 2>"$STATE/api.err" &
API_PID=$!
for _ in $(seq 100); do [ -s "$STATE/port" ] && break; sleep 0.05; done
PORT=$(head -n1 "$STATE/port")
[ -n "$PORT" ] || { echo "demo: API server did not start"; cat "$STATE/api.err"; exit 1; }
echo "API server: https://10.210.0.254:$PORT"

# Per node: a kubeconfig, the cluster network's own conflist, and plexus's conf.
for node in a b; do
	n=$([ $node = a ] && echo 1 || echo 2)
	d=$STATE/node-$node
	mkdir -p "$d/net.d"
	cat >"$d/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "https://10.210.0.254:$PORT", certificate-authority: "$STATE/pki/ca.crt"}}]
users: [{name: plexus, user: {token: $TOKEN}}]
contexts: [{name: demo, context: {cluster: demo, user: plexus}}]
current-context: demo
KC
	jq -cn --arg s "10.211.$n.0/24" --arg d "$d/ipam" '{cniVersion:"1.0.0",name:"cluster",
		plugins:[{type:"bridge",bridge:"cni0",isGateway:true,isDefaultGateway:true,
		ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}}]}' >"$d/net.d/10-cluster.conflist"
	jq -cn --arg k "$d/kubeconfig" --arg c "$d/net.d/10-cluster.conflist" --arg cache "$d/cache" \
		--arg relay "$d/api.sock" \
		'{cniVersion:"1.0.0",name:"plexus",type:"plexus",kubeconfig:$k,clusterNetwork:$c,
		  cniDir:$cache,apiRelay:$relay}' >"$d/plexus.conf"
	# The node's API relay: plexus sends its API requests through it (docs/kube.md).
	ip netns exec "plxd-node-$node" "$TOP/$BUILD/bin/plexus-apid" --kubeconfig "$d/kubeconfig" \
		--socket "$d/api.sock" --log-level debug 2>"$d/apid.log" &
	APID_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$d/api.sock" ] && break; sleep 0.05; done
	echo "node $node: plexus-apid relays to the API server on $d/api.sock"
done

cni() { # cni VERB NODE POD
	ip netns exec "plxd-node-$2" env PLEXUS_RUN_DIR="$STATE/node-$2/run" CNI_COMMAND="$1" \
		CNI_CONTAINERID="sandbox-$3" CNI_NETNS="/run/netns/plxd-$3" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$3;K8S_POD_INFRA_CONTAINER_ID=sandbox-$3" \
		"$PLEXUS" <"$STATE/node-$2/plexus.conf"
}
for node in a b; do
	say "node $node: the runtime calls plexus ADD for pod-$node"
	cni ADD "$node" "pod-$node" | jq -c '{cniVersion, interfaces: [.interfaces[].name], ips: [.ips[].address]}'
	echo "interfaces in pod-$node:"
	ip -n "plxd-pod-$node" -br addr show | grep -v '^lo' | sed 's/^/  /'
	ip -n "plxd-pod-$node" -d -j link show | jq -r '.[] | select(.ifname != "lo") | "  \(.ifname): \(.linkinfo.info_kind // "?")"'
done

say "network-status that plexus wrote on pod-a (from the API server)"
ip netns exec plxd-cp curl -sk "https://10.210.0.254:$PORT/_fixture/state" |
	jq '.items[] | select(.kind=="Pod" and .metadata.name=="pod-a") | .metadata.annotations["k8s.v1.cni.cncf.io/network-status"] | fromjson'
echo "API requests made by plexus:"
sed 's/^/  /' "$STATE/api.log"
echo "... each through its node's plexus-apid:"
grep -h 'relay:' "$STATE"/node-*/apid.log | sed 's/^[^ ]* [a-z]* /  /'

B_ETH0=$(ip -n plxd-pod-b -j addr show dev eth0 | jq -r '.[0].addr_info[] | select(.family=="inet") | .local')
for net in "cluster network (bridge, routed between nodes):$B_ETH0" "data-plane (macvlan on ens3):10.212.0.12" "tenant-overlay (vxlan VNI 5001 between nodes):10.213.0.12"; do
	say "pod-a -> pod-b over the ${net%%:*}"
	ip netns exec plxd-pod-a ping -c 2 -i 0.2 -W 2 "${net##*:}" | sed -n '1,3p'
done

for node in a b; do
	say "node $node: plexus DEL for pod-$node"
	cni DEL "$node" "pod-$node" && echo "interfaces left in pod-$node: $(ip -n "plxd-pod-$node" -br link show | grep -vc '^lo')"
done
say "demo passed: pods on two nodes got three networks each through plexus and talked over all of them"
