#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Meta-plugin benchmark (issue 8): ADD+DEL of a pod through `plexus` with 1 attachment (the
# cluster network: built-in macvlan + host-local) and with 8 (the cluster network + the same
# macvlan NAD 7 times, net1..net7), the runtime passing the pod annotations as containerd does,
# against the reference macvlan alone and plexus-macvlan standalone on the same work (both with
# host-local). Reports medians, peak RSS, and the Kubernetes API requests per ADD and per DEL
# from the API server fixture's log. Environment: BENCH_META_N (default 100). Needs root, node.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
REF_CNI=${REF_CNI:-/usr/lib/cni}
N=${BENCH_META_N:-100}
die() { echo "bench/meta: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
for t in node openssl jq ip; do command -v "$t" >/dev/null || die "$t missing (scripts/setup.sh)"; done
[ -x "$BUILD/bin/plexus" ] || die "$BUILD/bin/plexus missing (make)"
mkdir -p "$BUILD/bench"
RUSAGE=$BUILD/bench/rusage
if [ ! -x "$RUSAGE" ] || [ bench/rusage.c -nt "$RUSAGE" ]; then
	cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$RUSAGE" bench/rusage.c || die "cannot build rusage"
fi

ID=$$ NODE=pxmbn$$ POD=pxmbp$$ TMP=$(mktemp -d /tmp/plexus-bench.XXXXXX)
API_PID=
cleanup() {
	[ -z "$API_PID" ] || kill "$API_PID" 2>/dev/null
	ip netns del "$POD" 2>/dev/null; ip netns del "$NODE" 2>/dev/null; rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NODE" && ip netns add "$POD" || die "netns"
ip -n "$NODE" link set lo up
ip -n "$NODE" link add eth9 type veth peer name eth9p && ip -n "$NODE" link set eth9 up &&
	ip -n "$NODE" link set eth9p up || die "veth"

bash tests/fixtures/apiserver/mkcerts.sh "$TMP/pki"
MV=$(jq -cn --arg d "$TMP/ipam" '{cniVersion:"1.0.0",type:"macvlan",master:"eth9",
	ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.216.0.0/16"}]]}}')
jq -cn --arg c "$MV" '{items:[{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
	metadata:{namespace:"default",name:"mv"},spec:{config:$c}}]}' >"$TMP/state.json"
ip netns exec "$NODE" node tests/fixtures/apiserver/apiserver.js --cert "$TMP/pki/server.crt" \
	--key "$TMP/pki/server.key" --state "$TMP/state.json" --token t --log "$TMP/api.log" \
	--max-lifetime 1200 >"$TMP/port" 2>/dev/null &
API_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
PORT=$(head -n1 "$TMP/port")
[ -n "$PORT" ] || die "API server did not start"
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:%s", certificate-authority: "%s"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n' \
	"$PORT" "$TMP/pki/ca.crt" >"$TMP/kubeconfig"
jq -cn --arg d "$TMP/ipam-cluster" '{cniVersion:"1.0.0",name:"cluster",type:"macvlan",master:"eth9",
	ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.217.0.0/16"}]]}}' >"$TMP/cluster.conf"
meta_conf() { # meta_conf N_EXTRA
	local nets
	nets=$(printf 'mv,%.0s' $(seq "$1")); nets=${nets%,}
	jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cluster.conf" --arg cache "$TMP/cache" --arg n "$nets" \
		'{cniVersion:"1.0.0",name:"plexus",type:"plexus",kubeconfig:$k,clusterNetwork:$c,cniDir:$cache,
		  runtimeConfig:{"io.kubernetes.cri.pod-annotations":(if $n == "" then {} else {"k8s.v1.cni.cncf.io/networks":$n} end)}}'
}
meta_conf 0 >"$TMP/meta1"
meta_conf 7 >"$TMP/meta8"
cp "$TMP/cluster.conf" "$TMP/plain"

op() { # op BIN CONF CMD -> "wall_ns maxrss_kb"
	local line
	line=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$3" CNI_CONTAINERID=bench \
		CNI_NETNS="/run/netns/$POD" CNI_IFNAME=eth0 CNI_PATH="$REF_CNI" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench" \
		"$RUSAGE" -i "$2" -o "$TMP/out" -- "$1") || return 1
	[ "${line%% *}" = 0 ] || { echo "bench/meta: $1 $3 failed: $(cat "$TMP/out")" >&2; return 1; }
	set -- $line
	echo "$2 $3"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v x="$1" 'BEGIN {printf "%.2f ms", x/1e6}'; }
declare -A BIN=([ref]=$REF_CNI/macvlan [plx-macvlan]=$BUILD/bin/plexus-macvlan [meta1]=$BUILD/bin/plexus [meta8]=$BUILD/bin/plexus)
declare -A CONF=([ref]=$TMP/plain [plx-macvlan]=$TMP/plain [meta1]=$TMP/meta1 [meta8]=$TMP/meta8)
SIDES="ref plx-macvlan meta1 meta8"
for s in $SIDES; do : >"$TMP/$s.add"; : >"$TMP/$s.del"; : >"$TMP/$s.cyc"; : >"$TMP/$s.rss"; done
echo "bench/meta: $N ADD+DEL cycles each for: $SIDES" >&2
API_ADD=0 API_DEL=0
for ((i = 0; i < N + 3; i++)); do
	for s in $SIDES; do
		[ "$s" = meta8 ] && [ "$i" -eq 3 ] && API0=$(wc -l <"$TMP/api.log")
		a=$(op "${BIN[$s]}" "${CONF[$s]}" ADD) || exit 1
		[ "$s" = meta8 ] && [ "$i" -eq 3 ] && API1=$(wc -l <"$TMP/api.log")
		d=$(op "${BIN[$s]}" "${CONF[$s]}" DEL) || exit 1
		[ "$s" = meta8 ] && [ "$i" -eq 3 ] && API_ADD=$((API1 - API0)) && API_DEL=$(($(wc -l <"$TMP/api.log") - API1))
		[ "$i" -lt 3 ] && continue # warm-up
		set -- $a; echo "$1" >>"$TMP/$s.add"; echo "$2" >>"$TMP/$s.rss"; ta=$1
		set -- $d; echo "$1" >>"$TMP/$s.del"; echo "$2" >>"$TMP/$s.rss"
		echo $((ta + $1)) >>"$TMP/$s.cyc"
	done
done
declare -A NAME=([ref]="reference macvlan + host-local (exec)" [plx-macvlan]="plexus-macvlan standalone" [meta1]="plexus, 1 attachment" [meta8]="plexus, 8 attachments")
REFC=$(median <"$TMP/ref.cyc")
echo
echo "plexus meta-plugin: $N ADD+DEL cycles each, $(uname -r), $(nproc) CPU(s)"
echo
echo "| what | median ADD | median DEL | median ADD+DEL | speed-up vs reference macvlan | peak RSS (incl. children) |"
echo "|---|---|---|---|---|---|"
for s in $SIDES; do
	c=$(median <"$TMP/$s.cyc")
	echo "| ${NAME[$s]} | $(ms "$(median <"$TMP/$s.add")") | $(ms "$(median <"$TMP/$s.del")") | $(ms "$c") | $(awk -v a="$REFC" -v b="$c" 'BEGIN {printf "%.2fx", a/b}') | $(sort -n "$TMP/$s.rss" | tail -n1 | awk '{printf "%.1f MiB", $1/1024}') |"
done
M1=$(median <"$TMP/meta1.cyc") M8=$(median <"$TMP/meta8.cyc")
echo
echo "8 attachments / 1 attachment: $(awk -v a="$M8" -v b="$M1" 'BEGIN {printf "%.2fx", a/b}') (target <= 2x)"
echo "Kubernetes API requests, 8-attachment pod (annotations from the runtime): ADD $API_ADD (7 NAD GETs + 1 PATCH expected), DEL $API_DEL (0 expected)"
