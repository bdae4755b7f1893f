#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DRA driver benchmark at scale: a fake sysfs tree of 8 PFs x 128 VFs (1,024 VFs), one pool,
# the API server fixture and the grpc-js kubelet stand-in (tests/fixtures/grpc/dra-kubelet.js).
# Measures start to all 1,024 devices published (8 ResourceSlices), NodePrepareResources
# latency for one claim (median of BENCH_DRA_N, each claim read from the API, CDI spec and
# device-info written), and the daemon's resident and peak memory (target <= 5 MiB). Needs
# root and node. Building the tree takes a minute or two (a shell script per VF).
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
N=${BENCH_DRA_N:-50}
DRA=$BUILD/bin/plexus-dra
die() { echo "bench/dra: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
[ -x "$DRA" ] || die "$DRA missing (make)"
PEER=$TOP/tests/fixtures/grpc
(cd "$PEER" && { [ -d node_modules/@grpc/grpc-js ] || npm ci --no-audit --no-fund >npm-ci.log 2>&1; }) ||
	die "npm ci in $PEER failed"
TMP=$(mktemp -d /tmp/plexus-bench.XXXXXX)
NODE=pxbdra$$ NN=bench-node DRV=sriov.plexus.io D_PID= KL_PID= API_PID=
cleanup() {
	[ -n "${D_PID:-}" ] && kill "$D_PID" 2>/dev/null
	[ -n "${KL_PID:-}" ] && kill "$KL_PID" 2>/dev/null
	[ -n "${API_PID:-}" ] && kill "$API_PID" 2>/dev/null
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NODE" && ip -n "$NODE" link set lo up || die "netns"
source bench/lib.bash

SYS=$TMP/sysfs
mkdir -p "$TMP/registry" "$SYS/dev"
echo "bench/dra: building a fake tree of 1024 VFs" >&2
claims=()
bench_vf_tree "$SYS"
echo '{"resourceList":[{"resourceName":"vf","selectors":[{"drivers":["iavf"]}]}]}' >"$TMP/config.json"
for i in $(seq "$N"); do
	dev=$(printf '0000-%02x-%02x-%d' $((0x30 + i % 8)) $((2 + (i % 128) / 8)) $((i % 8)))
	jq -cn --arg i "$i" --arg d "$dev" --arg p "$NN-vf" --arg drv "$DRV" \
		--arg u "$(printf '22222222-0000-4000-8000-%012d' "$i")" \
		'{apiVersion:"resource.k8s.io/v1",kind:"ResourceClaim",metadata:{namespace:"default",
		name:"c\($i)",uid:$u},status:{allocation:{devices:{results:[{request:"vf",driver:$drv,pool:$p,device:$d}]}}}}'
done | jq -s '{kind:"List",items:.}' >"$TMP/state.json"
bench_api "$NODE"

bench_peer dra-kubelet.js "$TMP/registry"
published() { ip netns exec "$NODE" curl -skf "https://127.0.0.1:$PORT/_fixture/state" |
	jq '[.items[]|select(.kind=="ResourceSlice")|.spec.devices|length]|add // 0'; }
START=$(date +%s%N)
ip netns exec "$NODE" env PLEXUS_SYSFS_ROOT="$SYS" "$DRA" --config "$TMP/config.json" \
	--node-name "$NN" --kubeconfig "$TMP/kubeconfig" --registry-dir "$TMP/registry" \
	--plugin-dir "$TMP/plugin" --cdi-dir "$TMP/cdi" --device-info-dir "$TMP/devinfo" \
	--log-level warning 2>"$TMP/dra.log" &
D_PID=$!
expect '.event=="registered" and .ok' 60 || die "no registration: $(tail -3 "$TMP/dra.log")"
while [ "$(published)" != 1024 ]; do
	kill -0 "$D_PID" 2>/dev/null || die "driver exited: $(tail -3 "$TMP/dra.log")"
	sleep 0.05
done
END=$(date +%s%N)
NSLICES=$(ip netns exec "$NODE" curl -skf "https://127.0.0.1:$PORT/_fixture/state" |
	jq '[.items[]|select(.kind=="ResourceSlice")]|length')
sleep 1
RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$D_PID/status")
: >"$TMP/prep"
for i in $(seq "$N"); do
	uid=$(printf '22222222-0000-4000-8000-%012d' "$i")
	t0=$(date +%s%N)
	send '{"cmd":"prepare","driver":"'"$DRV"'","claims":[{"namespace":"default","name":"c'"$i"'","uid":"'"$uid"'"}]}'
	expect '.event=="prepare"' || die "prepare got no answer"
	jq -e --arg u "$uid" '.claims[$u].error==""' <<<"$LINE" >/dev/null || die "prepare failed: $LINE"
	awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {print (b-a)/1e6}' >>"$TMP/prep"
done
RSS_END=$(awk '/^VmRSS/ {print $2}' "/proc/$D_PID/status")
HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$D_PID/status")
send '{"cmd":"quit"}'
median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
echo
echo "plexus-dra with a fake tree of 8 PFs x 128 VFs, the API server fixture, grpc-js as kubelet"
echo
echo "| start to 1,024 devices published ($NSLICES slices) | prepare, 1 claim (median of $N, incl. the shell round trip) | idle RSS | RSS after $N prepares | peak RSS |"
echo "|---|---|---|---|---|"
printf '| %.1f ms | %.2f ms | %s MiB | %s MiB | %s MiB (target <= 5) |\n' \
	"$(awk -v a="$START" -v b="$END" 'BEGIN {print (b-a)/1e6}')" "$(median "$TMP/prep")" \
	"$(mib "$RSS")" "$(mib "$RSS_END")" "$(mib "$HWM")"
