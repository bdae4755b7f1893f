#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two-node overlay demo: two "nodes" (network namespaces) joined by a veth underlay each run
# plexus-vxlan for one pod; the pods ping across the VXLAN overlay, and a capture on the
# underlay shows the UDP/4789 encapsulation. Everything is removed on exit. Needs root and a
# build (make).
set -eu
cd "$(dirname "$0")/.."
BUILD=${PLEXUS_BUILD:-build}
PLUGIN=$PWD/$BUILD/bin/plexus-vxlan
[ "$(id -u)" -eq 0 ] || { echo "demo-vxlan: needs root"; exit 1; }
[ -x "$PLUGIN" ] || { echo "demo-vxlan: $PLUGIN missing: run 'make' first"; exit 1; }
NS=(plxdemo-node-a plxdemo-node-b plxdemo-vpod-a plxdemo-vpod-b)
STATE=$(mktemp -d /tmp/plexus-demo-vxlan.XXXXXX)
cleanup() {
	for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$STATE"
}
trap cleanup EXIT
cleanup; mkdir -p "$STATE"
if [ -t 1 ]; then B='\033[1m' N='\033[0m'; else B= N=; fi
say() { printf "\n${B}== %s${N}\n" "$*"; }

say "underlay: node A (10.250.9.1) <-veth-> node B (10.250.9.2)"
for n in "${NS[@]}"; do ip netns add "$n"; done
ip -n plxdemo-node-a link add ul0 type veth peer name ul0 netns plxdemo-node-b
for side in a:1 b:2; do
	node=plxdemo-node-${side%:*}
	ip -n "$node" addr add "10.250.9.${side#*:}/24" dev ul0
	ip -n "$node" link set ul0 up
	ip -n "$node" link set lo up
done

conf() { # conf REMOTE RANGE_START RANGE_END
	jq -cn --arg r "$1" --arg s "$2" --arg e "$3" --arg d "$STATE/ipam-$1" \
		'{cniVersion:"1.0.0",name:"demo-overlay",type:"vxlan",vni:4100,master:"ul0",
		  remotes:[$r],ipam:{type:"host-local",dataDir:$d,
		  ranges:[[{subnet:"10.99.41.0/24",rangeStart:$s,rangeEnd:$e}]]}}'
}
cni() { # cni VERB NODE POD CONF
	ip netns exec "$2" env PLEXUS_RUN_DIR="$STATE/run-$2" CNI_COMMAND="$1" \
		CNI_CONTAINERID="$3" CNI_NETNS="/run/netns/$3" CNI_IFNAME=net1 CNI_PATH=/usr/lib/cni \
		"$PLUGIN" <<<"$4"
}
CONF_A=$(conf 10.250.9.2 10.99.41.10 10.99.41.19)
CONF_B=$(conf 10.250.9.1 10.99.41.20 10.99.41.29)
say "node A: ADD pod plxdemo-vpod-a (VNI 4100, remote 10.250.9.2)"
cni ADD plxdemo-node-a plxdemo-vpod-a "$CONF_A" | jq -c '{interfaces: [.interfaces[].name], ips}'
say "node B: ADD pod plxdemo-vpod-b (VNI 4100, remote 10.250.9.1)"
cni ADD plxdemo-node-b plxdemo-vpod-b "$CONF_B" | jq -c '{interfaces: [.interfaces[].name], ips}'
say "node A host objects"
ip -n plxdemo-node-a -d link show vx4100 | sed -n '1p;3p'
ip -n plxdemo-node-a link show master pxb4100 | grep -o '^[0-9]*: [^:]*'
bridge -n plxdemo-node-a fdb show dev vx4100 | grep 00:00:00:00:00:00

say "plxdemo-vpod-a (10.99.41.10) pings plxdemo-vpod-b (10.99.41.20) across the overlay"
ip netns exec plxdemo-node-a timeout 3 tcpdump -nn -i ul0 udp port 4789 >"$STATE/cap" 2>/dev/null &
CAP=$!
sleep 0.5
ip netns exec plxdemo-vpod-a ping -c 3 -i 0.2 -W 1 10.99.41.20
wait "$CAP" || true
say "captured on node A's underlay (outer UDP header, then the inner packet):"
grep -B1 'ICMP echo' "$STATE/cap" | grep -v '^--' | head -n 4

cni DEL plxdemo-node-a plxdemo-vpod-a "$CONF_A"
cni DEL plxdemo-node-b plxdemo-vpod-b "$CONF_B"
say "demo passed: pods on two nodes talked over plexus-vxlan"
