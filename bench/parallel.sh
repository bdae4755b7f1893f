#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Parallel attachments benchmark (issue 17), run by bench/meta.sh: every number is a ratio of two
# measurements taken side by side in this run, alternating cycle by cycle.
#  - ADD of a pod with 8 attachments (the cluster network + 7 different networks: built-in macvlan
#    + built-in host-local each) / ADD with 1, for maxParallelAttachments 1 (serial), 4 (default)
#    and 8;
#  - 20 pods x 4 attachments ADDed (then DELed) by CONC concurrent runtimes for CONC = 1, 4, 16:
#    pods per second, and the median per-pod ADD at concurrency 4 / alone;
#  - each against the floor measured here: starting a process (fork, exec, exit of /bin/true),
#    and the kernel's creation and deletion of one macvlan (ip link add / del minus ip link
#    show, the same process start), printed as "overhead above the floor".
# plexus talks to the API server fixture through plexus-apid, as on a node. Where a Multus v4.1.4
# build is found (BENCH_MULTUS_DIR holding `multus`, else the project's optional anchor beside
# the repository), Multus thin runs the same workloads in the same loops, and the plexus / Multus
# ratios are printed; Multus thick (multus-daemon + multus-shim from the same build) runs them
# too where the build has it. Without a build those rows are skipped, saying so. Environment:
# BENCH_PAR_N (default 40), BENCH_APID_ARGS (extra plexus-apid options, e.g. "--max-clients 64"),
# BENCH_MULTUS_DIR. Needs root, node (and unshare for Multus thick).
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
N=${BENCH_PAR_N:-40}
PODS=20
die() { echo "bench/parallel: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
for t in node openssl jq ip; do command -v "$t" >/dev/null || die "$t missing (scripts/setup.sh)"; done
[ -x "$BUILD/bin/plexus" ] || die "$BUILD/bin/plexus missing (make)"
source bench/lib.bash
bench_rusage
bench_multus

ID=$$ NODE=pxpbn$$ TMP=$(mktemp -d /tmp/plexus-bench.XXXXXX)
API_PID= APID_PID= MTHICK_PID=
cleanup() {
	[ -z "$API_PID" ] || kill "$API_PID" 2>/dev/null
	[ -z "$APID_PID" ] || kill "$APID_PID" 2>/dev/null
	[ -z "$MTHICK_PID" ] || { kill "$MTHICK_PID" 2>/dev/null; wait "$MTHICK_PID" 2>/dev/null; }
	for i in $(seq 0 $PODS); do ip netns del "pxpbp$ID-$i" 2>/dev/null; done
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

trap 'exit 130' INT
trap 'exit 143' TERM
podns() { echo "pxpbp$ID-$1"; }
ip netns add "$NODE" || die "netns"
for i in $(seq 0 $PODS); do ip netns add "$(podns "$i")" || die "netns"; done
ip -n "$NODE" link set lo up
ip -n "$NODE" link add eth9 type veth peer name eth9p && ip -n "$NODE" link set eth9 up &&
	ip -n "$NODE" link set eth9p up || die "veth"

mv_conf() { # mv_conf NAME SUBNET_OCTET
	jq -cn --arg n "$1" --arg d "$TMP/ipam-$1" --arg s "10.$2.0.0/16" '{cniVersion:"1.0.0",name:$n,
		type:"macvlan",master:"eth9",mode:"bridge",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}}'
}
{
	echo '{"items":['
	for i in 1 2 3 4 5 6 7; do
		jq -cn --arg n "net$i" --arg c "$(mv_conf "net$i" $((160 + i)))" '{apiVersion:"k8s.cni.cncf.io/v1",
			kind:"NetworkAttachmentDefinition",metadata:{namespace:"default",name:$n},spec:{config:$c}}'
		echo ,
	done
	# Multus reads the pod's annotations from the API server: its own pods carry them (on this
	# node, for the thick daemon's informer).
	jq -cn --arg h "$NODE" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:"mxone",uid:"mxone"},
		spec:{nodeName:$h}}'
	echo ,
	jq -cn --arg a "$(seq -f 'net%g' -s, 1 7)" --arg h "$NODE" '{apiVersion:"v1",kind:"Pod",
		metadata:{namespace:"default",name:"mxeight",uid:"mxeight",
		annotations:{"k8s.v1.cni.cncf.io/networks":$a}},spec:{nodeName:$h}}'
	for i in $(seq 0 $PODS); do
		echo ,
		jq -cn --arg n "bench$i" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:$n,uid:$n},spec:{}}'
		echo ,
		jq -cn --arg n "mxc$i" --arg h "$NODE" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",
			name:$n,uid:$n,annotations:{"k8s.v1.cni.cncf.io/networks":"net1,net2,net3"}},spec:{nodeName:$h}}'
	done
	echo ']}'
} >"$TMP/state.json"
bench_api "$NODE" --log "$TMP/api.log" --max-lifetime 3600
# shellcheck disable=SC2086 # BENCH_APID_ARGS: options, split on purpose
bench_apid "$NODE" ${BENCH_APID_ARGS:-}
mv_conf cluster 160 >"$TMP/cluster.conf"
meta_conf() { # meta_conf N_EXTRA MAX_PARALLEL
	local nets=
	[ "$1" -eq 0 ] || { nets=$(seq -f 'net%g' -s, 1 "$1"); }
	jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cluster.conf" --arg cache "$TMP/cache" --arg n "$nets" \
		--arg t "$TMP" --arg s "$TMP/api.sock" --argjson m "$2" \
		'{cniVersion:"1.0.0",name:"plexus",type:"plexus",kubeconfig:$k,apiRelay:$s,clusterNetwork:$c,
		  cniDir:$cache,maxParallelAttachments:$m,tenantPolicy:{hostPathRoots:{dataDir:[$t]}},
		  runtimeConfig:{"io.kubernetes.cri.pod-annotations":(if $n == "" then {} else {"k8s.v1.cni.cncf.io/networks":$n} end)}}'
}
meta_conf 0 4 >"$TMP/one"
for m in 1 4 8; do meta_conf 7 "$m" >"$TMP/eight-$m"; done
meta_conf 3 4 >"$TMP/four"
# Multus thin: the same cluster network as its delegate, the same NADs, reference macvlan and
# host-local exec'd from /usr/lib/cni, its own client to the API server (a kubeconfig).
jq -cn --arg k "$TMP/kubeconfig" --arg cache "$TMP/mcache" --slurpfile c "$TMP/cluster.conf" \
	'{cniVersion:"1.0.0",name:"multus",type:"multus",kubeconfig:$k,cniDir:$cache,
	  binDir:"/usr/lib/cni",delegates:$c}' >"$TMP/mx"
# Multus thick: the daemon (its own informers on the same fixture) delegates to the same cluster
# network file and the same NADs, exec'd from /usr/lib/cni; multus-shim is the plugin run per
# ADD/DEL, as the runtime runs it. $TMP/mt is its config.
[ -z "$MULTUS_DIR" ] || bench_multus_thick "$NODE" "$NODE" "$TMP/cluster.conf"

op() { # op CONF CMD POD_NETNS_INDEX [POD_NAME] -> "wall_ns"; conf "mx" runs Multus thin, "mt" thick
	local line bin=$BUILD/bin/plexus pod=${4:-bench$3} uid=
	case ${1##*/} in
	mx) bin=$MULTUS_DIR/multus ;;
	mt) bin=$MULTUS_DIR/multus-shim uid=";K8S_POD_UID=$pod" ;; # as kubelet passes it
	esac
	line=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$2" CNI_CONTAINERID="$pod" \
		CNI_NETNS="/run/netns/$(podns "$3")" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$pod$uid" \
		"$RUSAGE" -i "$1" -o "$TMP/out.$3" -- "$bin" 2>"$TMP/err.$3") || return 1
	[ "${line%% *}" = 0 ] || {
		echo "bench/parallel: $2 pod $pod failed: $(cat "$TMP/out.$3" "$TMP/err.$3")" >&2
		return 1
	}
	set -- $line
	echo "$2"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v x="$1" 'BEGIN {printf "%.2f ms", x/1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
verdict() { if awk -v r="$1" -v t="$2" 'BEGIN {exit !(r <= t)}'; then echo met; else echo MISSED; fi; }

# ---- ADD of 8 attachments / ADD of 1, with the floors, alternating ------------------------
SIDES="one eight-1 eight-4 eight-8"
[ -z "$MULTUS_DIR" ] || SIDES="$SIDES mxone mxeight"
[ -z "$MTHICK_PID" ] || SIDES="$SIDES mtone mteight"
declare -A CONF=([one]=one [eight-1]=eight-1 [eight-4]=eight-4 [eight-8]=eight-8 [mxone]=mx [mxeight]=mx
	[mtone]=mt [mteight]=mt)
declare -A POD=([mxone]=mxone [mxeight]=mxeight [mtone]=mxone [mteight]=mxeight)
for s in $SIDES true create delete show; do : >"$TMP/$s.t"; done
echo "bench/parallel: $N ADD+DEL cycles each for: $SIDES" >&2
for ((i = 0; i < N + 3; i++)); do
	for s in $SIDES; do
		a=$(op "$TMP/${CONF[$s]}" ADD 0 "${POD[$s]:-}") || exit 1
		op "$TMP/${CONF[$s]}" DEL 0 "${POD[$s]:-}" >/dev/null || exit 1
		[ "$i" -lt 3 ] || echo "$a" >>"$TMP/$s.t"
	done
	set -- $("$RUSAGE" -- /bin/true); echo "$2" >>"$TMP/true.t"
	set -- $("$RUSAGE" -- ip -n "$NODE" link add pxpbf link eth9 type macvlan mode bridge); echo "$2" >>"$TMP/create.t"
	set -- $("$RUSAGE" -- ip -n "$NODE" link show pxpbf); echo "$2" >>"$TMP/show.t"
	set -- $("$RUSAGE" -- ip -n "$NODE" link del pxpbf); echo "$2" >>"$TMP/delete.t"
done
for s in $SIDES true create delete show; do declare "M_${s//-/_}=$(median <"$TMP/$s.t")"; done
KADD=$(awk -v a="$M_create" -v b="$M_show" 'BEGIN {print a - b}')
KDEL=$(awk -v a="$M_delete" -v b="$M_show" 'BEGIN {print a - b}')
# The floor of an ADD of n built-in attachments: one process start and n link creations (the
# kernel takes them one at a time: RTNL).
floor() { awk -v t="$M_true" -v k="$KADD" -v n="$1" 'BEGIN {print t + n * k}'; }
over() { awk -v m="$1" -v f="$(floor "$2")" 'BEGIN {printf "%.2f ms", (m - f)/1e6}'; }

# ---- 20 pods x 4 attachments by CONC concurrent runtimes ----------------------------------
# run_conc CONC [mx|mt]: every worker w ADDs pods w, w+CONC, ...; then the same for DEL. Sets
# PPS_ADD[CONC], PPS_DEL[CONC] (pods per second) and MED_ADD[CONC] (median per-pod ADD), keys
# prefixed "mx" for Multus thin, "mt" for thick.
declare -A PPS_ADD PPS_DEL MED_ADD
run_conc() {
	local c=$1 k=${2:-}$1 conf=four pfx=bench verb t0 t1 w pids
	[ -z "${2:-}" ] || conf=$2 pfx=mxc
	: >"$TMP/conc.t"
	for verb in ADD DEL; do
		t0=$(date +%s%N) pids=()
		for ((w = 1; w <= c; w++)); do
			(for ((p = w; p <= PODS; p += c)); do
				x=$(op "$TMP/$conf" $verb "$p" "$pfx$p") || exit 1
				[ $verb = DEL ] || echo "$x" >>"$TMP/conc.t"
			done) &
			pids+=($!)
		done
		wait "${pids[@]}"
		t1=$(date +%s%N)
		if [ $verb = ADD ]; then
			PPS_ADD[$k]=$(awk -v n=$PODS -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (d/1e9)}')
		else
			PPS_DEL[$k]=$(awk -v n=$PODS -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (d/1e9)}')
		fi
	done
	[ "$(wc -l <"$TMP/conc.t")" -eq $PODS ] || die "concurrency $c${2:+ ($2)}: not every ADD succeeded"
	MED_ADD[$k]=$(median <"$TMP/conc.t")
}
run_conc 1 # warm-up
[ -z "$MULTUS_DIR" ] || run_conc 1 mx
[ -z "$MTHICK_PID" ] || run_conc 1 mt
for c in 1 4 16; do
	run_conc "$c"
	[ -z "$MULTUS_DIR" ] || run_conc "$c" mx
	[ -z "$MTHICK_PID" ] || run_conc "$c" mt
done

R8_1=$(ratio "$M_eight_1" "$M_one") R8_4=$(ratio "$M_eight_4" "$M_one") R8_8=$(ratio "$M_eight_8" "$M_one")
RC4=$(ratio "${MED_ADD[4]}" "${MED_ADD[1]}")
echo
echo "Parallel attachments: $N ADD+DEL cycles each, $(uname -r), $(nproc) CPU(s), $(date -u +%FT%RZ)"
echo "(plexus through plexus-apid; every attachment a built-in macvlan with built-in host-local)"
echo
echo "| what | median ADD | / 1 attachment | overhead above the floor |"
echo "|---|---|---|---|"
echo "| 1 attachment | $(ms "$M_one") | 1.00 | $(over "$M_one" 1) |"
for m in 1 4 8; do
	v=M_eight_$m
	echo "| 8 attachments, maxParallelAttachments $m | $(ms "${!v}") | $(ratio "${!v}" "$M_one") | $(over "${!v}" 8) |"
done
echo
echo "| $PODS pods x 4 attachments | ADD pods/s | DEL pods/s | median per-pod ADD | / alone | overhead above the floor |"
echo "|---|---|---|---|---|---|"
for c in 1 4 16; do
	echo "| concurrency $c | ${PPS_ADD[$c]} | ${PPS_DEL[$c]} | $(ms "${MED_ADD[$c]}") |" \
		"$(ratio "${MED_ADD[$c]}" "${MED_ADD[1]}") | $(over "${MED_ADD[$c]}" 4) |"
done
echo
echo "Floors here: process start $(ms "$M_true"), kernel macvlan create $(ms "$KADD"), delete $(ms "$KDEL");"
echo "the floor of an ADD of n attachments is one process start + n creations."
echo
echo "Targets (issue 17):"
echo "- 8-attachment ADD / 1-attachment ADD <= 1.3x: $R8_4 with the default bound (4), $R8_8 with 8, $R8_1 serial: $(verdict "$R8_4" 1.3) (default), $(verdict "$R8_8" 1.3) (8)"
echo "- per-pod ADD at concurrency 4 / alone <= 2x: $RC4: $(verdict "$RC4" 2)"
echo
if [ -z "$MULTUS_DIR" ]; then
	echo "Multus rows skipped: $MULTUS_WHY."
	exit 0
fi
grep -Eq '^PUT /api/v1/namespaces/default/pods/mx[a-z0-9]+/status(\?[^ ]*)? 200 ' "$TMP/api.log" ||
	echo "bench/parallel: warning: no successful Multus network-status update in the API log" >&2
# mx_rows KIND PREFIX: the plexus / Multus tables for thin (mx) or thick (mt); sets R1_, R8_.
mx_rows() {
	local one=M_${2}one eight=M_${2}eight c
	R1_=$(ratio "$M_one" "${!one}") R8_=$(ratio "$M_eight_4" "${!eight}")
	echo "| what | plexus median ADD | Multus $1 median ADD | plexus / Multus $1 |"
	echo "|---|---|---|---|"
	echo "| 1 attachment | $(ms "$M_one") | $(ms "${!one}") | $R1_ |"
	echo "| 8 attachments (plexus: maxParallelAttachments 4) | $(ms "$M_eight_4") | $(ms "${!eight}") | $R8_ |"
	echo
	echo "| $PODS pods x 4 attachments | plexus ADD pods/s | Multus $1 ADD pods/s | plexus / Multus $1 (time to ADD all) | plexus DEL pods/s | Multus $1 DEL pods/s | plexus / Multus $1 (DEL) |"
	echo "|---|---|---|---|---|---|---|"
	for c in 1 4 16; do
		echo "| concurrency $c | ${PPS_ADD[$c]} | ${PPS_ADD[$2$c]} | $(ratio "${PPS_ADD[$2$c]}" "${PPS_ADD[$c]}") |" \
			"${PPS_DEL[$c]} | ${PPS_DEL[$2$c]} | $(ratio "${PPS_DEL[$2$c]}" "${PPS_DEL[$c]}") |"
	done
	echo
}
echo "Multus v4.1.4 thin ($MULTUS_DIR/multus: reference macvlan + host-local exec'd, its own API"
echo "client), the same NADs and pods' networks, alternating with the plexus rows above:"
echo
mx_rows thin mx
MX1=$R1_ MX8=$R8_
if [ -n "$MTHICK_PID" ]; then
	kill -0 "$MTHICK_PID" 2>/dev/null || echo "bench/parallel: warning: multus-daemon exited during the run" >&2
	echo "Multus v4.1.4 thick (multus-shim per ADD/DEL, multus-daemon with informers on the same API"
	echo "server fixture exec'ing the same reference plugins), alternating with the rows above:"
	echo
	mx_rows thick mt
	MT1=$R1_ MT8=$R8_
else
	echo "Multus thick rows skipped: $MTHICK_WHY."
	echo
fi
echo "Targets (issue 17), plexus / Multus:"
echo "- 1 attachment <= 0.10: thin $MX1: $(verdict "$MX1" 0.10)${MTHICK_PID:+; thick $MT1: $(verdict "$MT1" 0.10)}"
echo "- 8 attachments <= 0.05: thin $MX8: $(verdict "$MX8" 0.05)${MTHICK_PID:+; thick $MT8: $(verdict "$MT8" 0.05)}"
