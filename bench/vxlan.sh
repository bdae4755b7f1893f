#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vxlan benchmark: ADD time of the first pod of a network on a node (creates the VTEP and the
# bridge) against the next pods (reuse them), and DEL time of a pod against the last DEL (which,
# with deleteOnLastDel, removes VTEP and bridge). There is no reference vxlan CNI plugin to
# compare with. Runs plexus-vxlan inside a "node" netns with a veth underlay; host-local IPAM is
# the built-in one (in-process), as in production. Environment: BENCH_VX_ROUNDS (default 20), BENCH_VX_PODS pods per
# round (default 5). Needs root.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
REF_CNI=${REF_CNI:-/usr/lib/cni}
PLX=$BUILD/bin/plexus-vxlan
ROUNDS=${BENCH_VX_ROUNDS:-20}
PODS=${BENCH_VX_PODS:-5}
die() { echo "bench/vxlan: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
[ -x "$PLX" ] || die "$PLX missing (make)"
mkdir -p "$BUILD/bench"
RUSAGE=$BUILD/bench/rusage
if [ ! -x "$RUSAGE" ] || [ bench/rusage.c -nt "$RUSAGE" ]; then
	cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$RUSAGE" bench/rusage.c || die "cannot build rusage"
fi

ID=$$ NODE=pxvbn$$ TMP=$(mktemp -d /tmp/plexus-bench.XXXXXX)
NETNS=("$NODE")
cleanup() {
	local x
	for x in "${NETNS[@]}"; do ip netns del "$x" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NODE" || die "netns"
ip -n "$NODE" link add ul0 type veth peer name ul1 || die "veth"
ip -n "$NODE" addr add 10.252.0.1/24 dev ul0
ip -n "$NODE" link set ul0 up && ip -n "$NODE" link set ul1 up && ip -n "$NODE" link set lo up
for ((p = 0; p < PODS; p++)); do ip netns add "pxvbp$ID-$p" && NETNS+=("pxvbp$ID-$p") || die "netns"; done
jq -cn --arg d "$TMP/dd" '{cniVersion:"1.0.0",name:"plxbenchvx",type:"vxlan",vni:4242,
	master:"ul0",remotes:["10.252.0.2"],deleteOnLastDel:true,
	ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.253.0.0/24"}]]}}' >"$TMP/conf"

op() { # op CMD POD -> "ns"
	local line
	line=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" CNI_COMMAND="$1" \
		CNI_CONTAINERID="bench-$2" CNI_NETNS="/run/netns/pxvbp$ID-$2" CNI_IFNAME=eth0 \
		CNI_PATH="$REF_CNI" "$RUSAGE" -i "$TMP/conf" -o "$TMP/out" -- "$PLX") || return 1
	[ "${line%% *}" = 0 ] || { echo "bench/vxlan: $1 pod $2 failed: $(cat "$TMP/out")" >&2; return 1; }
	set -- $line
	echo "$2"
}
: >"$TMP/first" ; : >"$TMP/next" ; : >"$TMP/del" ; : >"$TMP/last"
echo "bench/vxlan: $ROUNDS rounds of $PODS pods" >&2
for ((r = 0; r < ROUNDS; r++)); do
	op ADD 0 >>"$TMP/first" || exit 1
	for ((p = 1; p < PODS; p++)); do op ADD "$p" >>"$TMP/next" || exit 1; done
	for ((p = PODS - 1; p > 0; p--)); do op DEL "$p" >>"$TMP/del" || exit 1; done
	op DEL 0 >>"$TMP/last" || exit 1
	ip -n "$NODE" link show vx4242 >/dev/null 2>&1 && die "VTEP left after the last DEL"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v x="$1" 'BEGIN {printf "%.2f ms", x/1e6}'; }
echo
echo "plexus-vxlan: $ROUNDS rounds of $PODS pods on one node (built-in host-local IPAM), medians"
echo
echo "| ADD, first pod (creates VTEP + bridge) | ADD, next pods (reuse) | DEL | last DEL (removes VTEP + bridge) |"
echo "|---|---|---|---|"
echo "| $(ms "$(median "$TMP/first")") | $(ms "$(median "$TMP/next")") | $(ms "$(median "$TMP/del")") | $(ms "$(median "$TMP/last")") |"
