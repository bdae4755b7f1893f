#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attachment reports benchmark (docs/observability.md, "Attachment metrics"): ADD+DEL of a pod
# with 3 attachments (the cluster network + 2 macvlan NADs, built-in host-local) through
# `plexus` with apiRelay set, once with plexus-apid receiving the reports on metrics.sock (sink
# up) and once with no metrics.sock beside the relay socket (sink down: --metrics-socket ''),
# alternating cycle by cycle. Prints the medians and their ratio, and checks that the sink got
# every report. Environment: BENCH_METRICS_N (cycles per side, default 100). Needs root, node.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
N=${BENCH_METRICS_N:-100}
die() { echo "bench/metrics: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
for t in node openssl jq ip curl; do command -v "$t" >/dev/null || die "$t missing (scripts/setup.sh)"; done
[ -x "$BUILD/bin/plexus" ] || die "$BUILD/bin/plexus missing (make)"
source bench/lib.bash

NODE=pxmxn$$ POD=pxmxp$$ TMP=$(mktemp -d /tmp/plexus-bench.XXXXXX)
API_PID= UP_PID= DOWN_PID=
cleanup() {
	local p
	for p in $API_PID $UP_PID $DOWN_PID; do kill "$p" 2>/dev/null; done
	ip netns del "$POD" 2>/dev/null; ip netns del "$NODE" 2>/dev/null; rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_node "$NODE" "$POD"

mv() { jq -cn --arg n "$1" --arg d "$TMP/ipam-$1" --arg s "$2" '{cniVersion:"1.0.0",name:$n,type:"macvlan",
	master:"eth9",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}}'; }
jq -cn --arg c "$(mv cluster 10.218.0.0/16)" --arg a "$(mv mv-a 10.219.0.0/16)" --arg b "$(mv mv-b 10.220.0.0/16)" \
	'{items:[{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",metadata:{namespace:"kube-system",name:"cluster"},spec:{config:$c}},
	{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",metadata:{namespace:"default",name:"mv-a"},spec:{config:$a}},
	{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",metadata:{namespace:"default",name:"mv-b"},spec:{config:$b}},
	{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:"bench",uid:"b3c4"},spec:{}}]}' >"$TMP/state.json"
bench_api "$NODE" --max-lifetime 1200

# Two relays for the same API server, each in a directory of its own: "up" receives reports on
# up/metrics.sock, "down" binds none, so the plugin's datagram finds no socket.
apid() { # apid DIR OPTION...: sets PID
	ip netns exec "$NODE" "$BUILD/bin/plexus-apid" --kubeconfig "$TMP/kubeconfig" \
		--socket "$TMP/$1/api.sock" --log-level error "${@:2}" &
	PID=$!
	for _ in $(seq 100); do [ -S "$TMP/$1/api.sock" ] && break; sleep 0.05; done
	[ -S "$TMP/$1/api.sock" ] || die "plexus-apid ($1) did not start"
}
apid up --metrics-address 127.0.0.1:9463
UP_PID=$PID
apid down --metrics-socket '' --metrics-address ''
DOWN_PID=$PID
[ -S "$TMP/up/metrics.sock" ] && [ ! -e "$TMP/down/metrics.sock" ] || die "metrics.sock not as expected"
conf() { jq -cn --arg k "$TMP/kubeconfig" --arg s "$TMP/$1/api.sock" --arg t "$TMP" \
	'{cniVersion:"1.0.0",name:"plexus",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
	  cniDir:($t+"/cache"),apiRelay:$s,tenantPolicy:{hostPathRoots:{dataDir:[$t]}},
	  runtimeConfig:{"io.kubernetes.cri.pod-annotations":{"k8s.v1.cni.cncf.io/networks":"mv-a,mv-b"}}}' >"$TMP/$1.conf"; }
conf up
conf down

# One bash in the node runs every cycle (no netns exec per call); EPOCHREALTIME in microseconds.
cat >"$TMP/loop.sh" <<'LOOP'
set -u
P=$1 N=$2 TMP=$3 POD=$4
export CNI_CONTAINERID=bench CNI_NETNS=/run/netns/$POD CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
	CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench;K8S_POD_UID=b3c4"
us() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
for ((i = 0; i < N; i++)); do
	for side in up down; do
		t0=$(us)
		CNI_COMMAND=ADD "$P" <"$TMP/$side.conf" >/dev/null 2>>"$TMP/err" || { echo "ADD failed ($side)" >&2; exit 1; }
		CNI_COMMAND=DEL "$P" <"$TMP/$side.conf" >/dev/null 2>>"$TMP/err" || { echo "DEL failed ($side)" >&2; exit 1; }
		echo $(($(us) - t0)) >>"$TMP/$side.cyc"
	done
done
LOOP
# Warm-up (page cache, the relays' TLS connections), not measured.
ip netns exec "$NODE" bash "$TMP/loop.sh" "$BUILD/bin/plexus" 3 "$TMP" "$POD" || die "warm-up failed: $(tail -3 "$TMP/err")"
rm -f "$TMP/up.cyc" "$TMP/down.cyc"
ip netns exec "$NODE" bash "$TMP/loop.sh" "$BUILD/bin/plexus" "$N" "$TMP" "$POD" || die "run failed: $(tail -3 "$TMP/err")"

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
UP=$(median <"$TMP/up.cyc") DOWN=$(median <"$TMP/down.cyc")
GOT=$(ip netns exec "$NODE" curl -s http://127.0.0.1:9463/metrics |
	awk '$1 == "plexus_attachment_reports_total{result=\"accepted\"}" { print $2 }')
echo "Attachment reports: ADD+DEL of a pod with 3 attachments through the relay, $N cycles each, alternating"
echo "| what | median ADD+DEL | vs sink down |"
echo "|---|---|---|"
echo "| sink up (plexus-apid receives on metrics.sock) | $(awk -v x="$UP" 'BEGIN {printf "%.2f ms", x/1e3}') | $(awk -v a="$UP" -v b="$DOWN" 'BEGIN {printf "%.3fx", a/b}') |"
echo "| sink down (no metrics.sock) | $(awk -v x="$DOWN" 'BEGIN {printf "%.2f ms", x/1e3}') | 1x |"
echo "Reports the sink accepted: ${GOT:-none} of $((4 * (N + 3))) sent (ADD and DEL of $((N + 3)) cycles, warm-up included, each an attachment and a pool report)"
