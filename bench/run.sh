#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: ADD+DEL cycles of plexus-<kind> against the reference <kind> plugin, on the same
# work, in one run (BENCH_KIND macvlan, the default, or ipvlan, which bench/vm.sh runs inside the
# VM). `make bench` runs this, bench/vm.sh and bench/vxlan.sh. Needs root.
#
# Workloads (each plugin gets its own pod netns, reused by every cycle, its own veth master and
# its own host-local dataDir; the two plugins alternate cycle by cycle so drift hits both):
#   host-local: cniVersion 1.0.0, bridge mode, ipam host-local ($REF_CNI/host-local, exec'd by
#               both plugins, so its cost is in both columns);
#   L2-only:    same without IPAM ("ipam": {}), the plugin's own cost.
# Measured with $BUILD/bench/rusage (bench/rusage.c, built here with cc): wall time of one
# plugin process from fork to wait4, and peak RSS. Reported per plugin: median ADD, median DEL,
# median ADD+DEL of a cycle, the plugin's own peak RSS (VmHWM at exit, from BENCH_RSS_N extra
# traced cycles), and the peak ru_maxrss including children (the exec'd IPAM plugin).
# Ratios are reference/plexus (> 1: plexus is faster / smaller).
#
# Environment: BENCH_N cycles per plugin and workload (default 200), BENCH_RSS_N traced cycles
# for the own RSS (default 10), BENCH_WARMUP untimed cycles first (default 5),
# BENCH_WORKLOADS (default "host-local l2"), MACVLAN_BIN (plugin under test, default
# $BUILD/bin/plexus-$BENCH_KIND), REF_MACVLAN (default $REF_CNI/$BENCH_KIND), REF_CNI (default
# /usr/lib/cni), BENCH_OUT (also write the table to this file).
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
REF_CNI=${REF_CNI:-/usr/lib/cni}
KIND=${BENCH_KIND:-macvlan}
case $KIND in
macvlan) MODE=bridge ;;
ipvlan) MODE=l2 ;;
*) echo "bench: unknown BENCH_KIND '$KIND'" >&2; exit 1 ;;
esac
PLX=${MACVLAN_BIN:-$BUILD/bin/plexus-$KIND}
REF=${REF_MACVLAN:-$REF_CNI/$KIND}
N=${BENCH_N:-200}
RSS_N=${BENCH_RSS_N:-10}
WARMUP=${BENCH_WARMUP:-5}
WORKLOADS=${BENCH_WORKLOADS:-host-local l2}

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, links)"
for t in ip jq awk sort; do command -v "$t" >/dev/null || die "$t missing (scripts/setup.sh)"; done
[ -x "$PLX" ] || die "plugin under test $PLX missing (make)"
[ -x "$REF" ] || die "reference plugin $REF missing (containernetworking-plugins)"
[ -x "$REF_CNI/host-local" ] || die "$REF_CNI/host-local missing"

mkdir -p "$BUILD/bench"
RUSAGE=$BUILD/bench/rusage
if [ ! -x "$RUSAGE" ] || [ bench/rusage.c -nt "$RUSAGE" ]; then
	command -v cc >/dev/null || die "cc missing (scripts/setup.sh)"
	cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$RUSAGE" bench/rusage.c || die "cannot build $RUSAGE"
fi

# ---- setup, removed on exit ---------------------------------------------------------------
ID=$$
TMP=$(mktemp -d /tmp/plexus-bench.XXXXXX)
NETNS=() LINKS=()
cleanup() {
	local x
	for x in "${LINKS[@]}"; do ip link del "$x" 2>/dev/null; done
	for x in "${NETNS[@]}"; do ip netns del "$x" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for side in ref plx; do
	m=pxb${ID}${side}
	ip link add "$m" type veth peer name "${m}p" || die "veth"
	LINKS+=("$m")
	ip link set "$m" up && ip link set "${m}p" up || die "link up"
	ip netns add "plxbench$ID-$side" || die "netns"
	NETNS+=("plxbench$ID-$side")
done

# conf SIDE WORKLOAD: write the netconf of SIDE for WORKLOAD, print its path.
conf() {
	local ipam='{}'
	[ "$2" = host-local ] && ipam=$(jq -cn --arg d "$TMP/dd-$1" \
		'{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.91.0.0/16"}]],routes:[{dst:"10.90.0.0/16",gw:"10.91.0.1"}]}')
	jq -cn --arg m "pxb${ID}$1" --argjson ipam "$ipam" --arg t "$KIND" --arg mode "$MODE" \
		'{cniVersion:"1.0.0",name:"plxbench",type:$t,master:$m,mode:$mode,ipam:$ipam}' \
		>"$TMP/conf-$1-$2"
	echo "$TMP/conf-$1-$2"
}

# op SIDE BIN CONF CMD [-p]: one plugin run; echoes the rusage line, fails if the plugin fails.
op() {
	local line
	line=$(env -i PATH="$PATH" CNI_COMMAND="$4" CNI_CONTAINERID="bench-$1" \
		CNI_NETNS="/run/netns/plxbench$ID-$1" CNI_IFNAME=eth0 CNI_PATH="$REF_CNI" \
		"$RUSAGE" ${5:-} -i "$3" -o "$TMP/out" -- "$2") || return 1
	[ "${line%% *}" = 0 ] || { echo "bench: $1 $4 failed: $(cat "$TMP/out")" >&2; return 1; }
	echo "$line"
}

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { sort -n "$1" | tail -n1; }
ms() { awk -v x="$1" 'BEGIN {if (x == "nan") print "n/a"; else printf "%.2f ms", x/1e6}'; }
mib() { awk -v x="$1" 'BEGIN {if (x < 0 || x == "") print "n/a"; else printf "%.1f MiB", x/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b <= 0 || a <= 0) print "n/a"; else printf "%.2fx", a/b}'; }

TABLE=$TMP/table
{
	echo "plexus-$KIND vs reference $KIND: $N ADD+DEL cycles per plugin and workload"
	echo "plexus:    $PLX"
	echo "reference: $REF ($(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null || echo '?'))"
	echo "host:      $(uname -r), $(nproc) CPU(s)"
	echo
	echo "| workload | plugin | median ADD | median DEL | median ADD+DEL | peak RSS (own) | peak RSS (incl. IPAM child) |"
	echo "|---|---|---|---|---|---|---|"
} >"$TABLE"

for wl in $WORKLOADS; do
	case $wl in host-local | l2) ;; *) die "unknown workload $wl" ;; esac
	declare -A CONF=([ref]=$(conf ref "$wl") [plx]=$(conf plx "$wl"))
	declare -A BIN=([ref]=$REF [plx]=$PLX)
	for side in ref plx; do : >"$TMP/$side.add"; : >"$TMP/$side.del"; : >"$TMP/$side.cyc"; : >"$TMP/$side.rss"; : >"$TMP/$side.own"; done
	echo "bench: $wl: $WARMUP warm-up + $N timed + $RSS_N traced cycles per plugin" >&2
	for ((i = 0; i < WARMUP + N + RSS_N; i++)); do
		for side in ref plx; do
			trace=
			[ "$i" -ge $((WARMUP + N)) ] && trace=-p
			a=$(op "$side" "${BIN[$side]}" "${CONF[$side]}" ADD $trace) || exit 1
			d=$(op "$side" "${BIN[$side]}" "${CONF[$side]}" DEL $trace) || exit 1
			if [ -n "$trace" ]; then
				echo "$a" | awk '{print $4}' >>"$TMP/$side.own"
				echo "$d" | awk '{print $4}' >>"$TMP/$side.own"
			elif [ "$i" -ge "$WARMUP" ]; then
				set -- $a; echo "$2" >>"$TMP/$side.add"; echo "$3" >>"$TMP/$side.rss"; ta=$2
				set -- $d; echo "$2" >>"$TMP/$side.del"; echo "$3" >>"$TMP/$side.rss"
				echo $((ta + $2)) >>"$TMP/$side.cyc"
			fi
		done
		[ $(((i + 1) % 50)) -eq 0 ] && echo "bench: $wl: $((i + 1)) cycles" >&2
	done
	declare -A A D C R O
	for side in ref plx; do
		A[$side]=$(median "$TMP/$side.add") D[$side]=$(median "$TMP/$side.del") C[$side]=$(median "$TMP/$side.cyc")
		R[$side]=$(maxof "$TMP/$side.rss") O[$side]=$(maxof "$TMP/$side.own")
	done
	[ "$RSS_N" -gt 0 ] || O=([ref]=-1 [plx]=-1)
	{
		for side in plx ref; do
			name=plexus-$KIND
			[ $side = ref ] && name="reference $KIND"
			echo "| $wl | $name | $(ms "${A[$side]}") | $(ms "${D[$side]}") | $(ms "${C[$side]}") | $(mib "${O[$side]}") | $(mib "${R[$side]}") |"
		done
		echo "| $wl | **ratio ref/plexus** | $(ratio "${A[ref]}" "${A[plx]}") | $(ratio "${D[ref]}" "${D[plx]}") | $(ratio "${C[ref]}" "${C[plx]}") | $(ratio "${O[ref]}" "${O[plx]}") | $(ratio "${R[ref]}" "${R[plx]}") |"
	} >>"$TABLE"
	unset CONF BIN
done

cat "$TABLE"
[ -z "${BENCH_OUT:-}" ] || cp "$TABLE" "$BENCH_OUT"
