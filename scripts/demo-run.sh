#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Demo: two "pods" (network namespaces) on one "node" link (a veth pair standing in for a NIC)
# get a macvlan interface each through plexus-macvlan with host-local IPAM, and ping each other.
# Everything it creates is removed on exit. Needs root.
set -eu
cd "$(dirname "$0")/.."
BUILD=${PLEXUS_BUILD:-build}
PLUGIN=$PWD/$BUILD/bin/plexus-macvlan
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces)"; exit 1; }
[ -x "$PLUGIN" ] || { echo "demo: $PLUGIN missing: run 'make' first"; exit 1; }

NODE=plxdemo0 PEER=plxdemo1 PODS=(plexus-demo-a plexus-demo-b)
STATE=$(mktemp -d /tmp/plexus-demo.XXXXXX)
cleanup() {
	for p in "${PODS[@]}"; do ip netns del "$p" 2>/dev/null || true; done
	ip link del "$NODE" 2>/dev/null || true
	rm -rf "$STATE"
}
trap cleanup EXIT
# A previous run that was killed may have left these behind.
for p in "${PODS[@]}"; do ip netns del "$p" 2>/dev/null || true; done
ip link del "$NODE" 2>/dev/null || true
if [ -t 1 ]; then B='\033[1m' N='\033[0m'; else B= N=; fi
say() { printf "\n${B}== %s${N}\n" "$*"; }

say "node link: veth $NODE (macvlan master) <-> $PEER"
ip link add "$NODE" type veth peer name "$PEER"
ip link set "$NODE" up
ip link set "$PEER" up

CONF=$(cat <<JSON
{
  "cniVersion": "1.0.0",
  "name": "demo-macvlan",
  "type": "macvlan",
  "master": "$NODE",
  "mode": "bridge",
  "ipam": {
    "type": "host-local",
    "ranges": [[{"subnet": "10.99.0.0/24", "rangeStart": "10.99.0.10", "rangeEnd": "10.99.0.50"}]],
    "dataDir": "$STATE/ipam"
  }
}
JSON
)
echo "$CONF" | jq -c .

cni() { # cni VERB POD
	CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$2 CNI_IFNAME=net1 \
		CNI_PATH=/usr/lib/cni "$PLUGIN" <<<"$CONF"
}

for pod in "${PODS[@]}"; do
	say "pod $pod: ADD through plexus-macvlan"
	ip netns add "$pod"
	cni ADD "$pod" | tee "$STATE/$pod.json" | jq -c '{interfaces, ips}'
	ip -n "$pod" -br addr show net1
	ip -n "$pod" -d -j link show net1 | jq -r '.[0] | "kernel: \(.linkinfo.info_kind) mode \(.linkinfo.info_data.mode) on ifindex \(.link_index), mtu \(.mtu)"'
done

A_IP=$(jq -r '.ips[0].address | split("/")[0]' "$STATE/${PODS[0]}.json")
B_IP=$(jq -r '.ips[0].address | split("/")[0]' "$STATE/${PODS[1]}.json")
say "${PODS[0]} ($A_IP) pings ${PODS[1]} ($B_IP)"
ip netns exec "${PODS[0]}" ping -c 3 -i 0.2 -W 1 "$B_IP"

for pod in "${PODS[@]}"; do
	say "pod $pod: DEL"
	cni DEL "$pod" && echo "released: $(ls "$STATE/ipam/demo-macvlan" 2>/dev/null | grep -c '^10\.' || true) lease(s) left"
done
say "demo passed: two pods attached by plexus-macvlan talked over the node link"
