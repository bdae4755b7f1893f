#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-device-plugin's /metrics, /healthz and /readyz (docs/observability.md), for real: the
# daemon runs in its own network namespace against a fake sysfs (tests/fixtures/mksysfs.sh) and
# the kubelet stand-in (tests/fixtures/grpc/kubelet.js). Not ready until registered; device
# gauges per pool, health from a real veth's carrier, allocations, registrations and streams
# counted exactly; promtool checks the exposition; /readyz 503 after SIGTERM before it exits.
# Needs root, node, python3, curl, promtool.
source "$(dirname "$0")/../lib.sh"
need_root
for t in jq ip node curl promtool; do
	command -v "$t" >/dev/null || { fail "metrics-device-plugin: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
DPBIN=$BIN/plexus-device-plugin
PEER=$TOP/tests/fixtures/grpc
grpc_peer_ready || { fail "metrics-device-plugin: npm ci failed in $PEER"; exit 1; }
TMP=$(t_tmpdir)
MK=$TOP/tests/fixtures/mksysfs.sh
SYS=$TMP/sysfs KDIR=$TMP/kubelet INFO=$TMP/devinfo
DEV=$SYS/sys/devices/pci0000:00
NS=plxmd$T_ID
MADDR=127.0.0.1:9454
mkdir -p "$KDIR"
t_netns "$NS"
ip -n "$NS" link set lo up
# VF0's netdev is a real veth end in the daemon's netns: downing its peer drops its carrier.
V0=vf0$T_ID
ip -n "$NS" link add "$V0" type veth peer name "vf0p$T_ID"
ip -n "$NS" link set "$V0" up && ip -n "$NS" link set "vf0p$T_ID" up
"$MK" "$SYS" pf 0000:3b:00.0 "pf$T_ID" nofake
echo 3 >"$DEV/0000:3b:00.0/sriov_numvfs"
"$MK" "$SYS" vf 0000:3b:00.0 0 0000:3b:02.0 iavf "$V0"
"$MK" "$SYS" vf 0000:3b:00.0 1 0000:3b:02.1 iavf
"$MK" "$SYS" vf 0000:3b:00.0 2 0000:3b:02.2 iavf
for f in 0 1 2; do echo 0x8086 >"$DEV/0000:3b:02.$f/vendor"; echo 0x1889 >"$DEV/0000:3b:02.$f/device"; done
cat >"$TMP/config.json" <<JSON
{"resourceList": [
 {"resourceName": "netdev", "selectors": [{"pfNames": ["pf$T_ID#0-1"]}]},
 {"resourceName": "rest", "selectors": [{"drivers": ["iavf"]}]}
]}
JSON
NET=plexus.io/netdev REST=plexus.io/rest

KL_PID='' DP_PID=''
finish() {
	local p
	for p in $DP_PID $KL_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	t_cleanup
}
trap finish EXIT
get() { ip netns exec "$NS" curl -s -o - -w '%{stderr}%{http_code}' --max-time 5 "http://$MADDR$1" 2>"$TMP/code"; }
code() { cat "$TMP/code"; }
scrape() { get /metrics >"$TMP/metrics"; }
sample() { awk -v s="$1" '$1 == s { v = $2 } END { print v == "" ? "none" : v }' "$TMP/metrics"; }
# until_sample SERIES VALUE: scrape until SERIES has VALUE (5 s at most).
until_sample() {
	for _ in $(seq 100); do scrape; [ "$(sample "$1")" = "$2" ] && return 0; sleep 0.05; done
	return 1
}

# ---- before kubelet: alive, not ready -----------------------------------------------------------
ip netns exec "$NS" env PLEXUS_SYSFS_ROOT="$SYS" "$DPBIN" --config "$TMP/config.json" \
	--kubelet-dir "$KDIR" --device-info-dir "$INFO" --log-level debug 2>"$TMP/dp.log" &
DP_PID=$!
for _ in $(seq 100); do grep -q 'retrying' "$TMP/dp.log" && break; sleep 0.05; done
get /healthz >/dev/null
check "metrics-device-plugin: /healthz is 200 before kubelet is there" test "$(code)" = 200
get /readyz >/dev/null
check "metrics-device-plugin: /readyz is 503 while not registered" test "$(code)" = 503
scrape
check "metrics-device-plugin: the failed registrations are counted" \
	bash -c "[ '$(sample "plexus_device_plugin_registrations_total{resource=\"$NET\",result=\"error\"}")' -ge 1 ] &&
		[ '$(sample "plexus_device_plugin_registrations_total{resource=\"$NET\",result=\"ok\"}")' = 0 ]"

# ---- kubelet comes: registered, ready -----------------------------------------------------------
cd "$PEER" || exit 1
coproc KL { exec node kubelet.js "$KDIR" 2>"$TMP/kubelet.err"; }
KL_PID=$KL_PID
send() { printf '%s\n' "$1" >&"${KL[1]}"; }
expect() { # expect FILTER: the next peer line matching the jq filter into LINE (10 s at most)
	local line end=$((SECONDS + 10))
	LINE=
	while [ "$SECONDS" -le "$end" ] && IFS= read -r -t 10 line <&"${KL[0]}"; do
		jq -e "$1" <<<"$line" >/dev/null 2>&1 && { LINE=$line; return 0; }
	done
	return 1
}
check "metrics-device-plugin: kubelet stand-in ready" expect '.event=="ready"'
check "metrics-device-plugin: both pools register and are watched" until_sample \
	"plexus_device_plugin_list_and_watch_streams{resource=\"$REST\"}" 1
for _ in $(seq 100); do get /readyz >/dev/null; [ "$(code)" = 200 ] && break; sleep 0.05; done
check "metrics-device-plugin: /readyz is 200 once registered" test "$(code)" = 200
scrape
check "metrics-device-plugin: promtool check metrics accepts the exposition" promtool check metrics <"$TMP/metrics"
ROW=$(for s in "plexus_device_plugin_devices{resource=\"$NET\"}" "plexus_device_plugin_devices{resource=\"$REST\"}" \
	"plexus_device_plugin_devices_healthy{resource=\"$NET\"}" "plexus_device_plugin_devices_unhealthy{resource=\"$NET\"}" \
	"plexus_device_plugin_registrations_total{resource=\"$NET\",result=\"ok\"}" \
	"plexus_device_plugin_registrations_total{resource=\"$REST\",result=\"ok\"}" \
	"plexus_device_plugin_list_and_watch_streams{resource=\"$NET\"}" \
	"plexus_device_plugin_allocated_devices_total{resource=\"$NET\"}"; do sample "$s"; done | paste -sd' ')
# One registration each: the retry timer re-registers only pools not registered yet.
check "metrics-device-plugin: devices 2+1, all healthy, 1 registration and 1 stream per pool, no allocation" \
	test "$ROW" = "2 1 2 0 1 1 1 0"
[ "$ROW" = "2 1 2 0 1 1 1 0" ] || { echo "row: $ROW"; cat "$TMP/metrics"; }

# ---- health and allocations ---------------------------------------------------------------------
ip -n "$NS" link set "vf0p$T_ID" down
check "metrics-device-plugin: a VF losing carrier is counted unhealthy" until_sample \
	"plexus_device_plugin_devices_unhealthy{resource=\"$NET\"}" 1
check "metrics-device-plugin: ... and healthy drops to 1" test "$(sample "plexus_device_plugin_devices_healthy{resource=\"$NET\"}")" = 1
send '{"cmd":"allocate","resource":"'$NET'","req":{"container_requests":[{"devices_ids":["0000:3b:02.0","0000:3b:02.1"]}]}}'
expect '.event=="Allocate"'
send '{"cmd":"allocate","resource":"'$REST'","req":{"container_requests":[{"devices_ids":["0000:3b:02.2"]}]}}'
expect '.event=="Allocate"'
send '{"cmd":"allocate","resource":"'$REST'","req":{"container_requests":[{"devices_ids":["0000:99:99.9"]}]}}'
expect '.event=="Allocate"'
scrape
ROW=$(for s in "plexus_device_plugin_allocated_devices_total{resource=\"$NET\"}" \
	"plexus_device_plugin_allocated_devices_total{resource=\"$REST\"}" \
	"plexus_device_plugin_allocate_requests_total{resource=\"$NET\",result=\"ok\"}" \
	"plexus_device_plugin_allocate_requests_total{resource=\"$REST\",result=\"ok\"}" \
	"plexus_device_plugin_allocate_requests_total{resource=\"$REST\",result=\"error\"}"; do sample "$s"; done | paste -sd' ')
check "metrics-device-plugin: allocations: 2 devices on netdev, 1 on rest, 1 refused" test "$ROW" = "2 1 1 1 1"

# ---- kubelet restarts: registered again ---------------------------------------------------------
send '{"cmd":"restart"}'
check "metrics-device-plugin: a kubelet restart re-registers both pools" until_sample \
	"plexus_device_plugin_registrations_total{resource=\"$REST\",result=\"ok\"}" 2
for _ in $(seq 100); do get /readyz >/dev/null; [ "$(code)" = 200 ] && break; sleep 0.05; done
check "metrics-device-plugin: ... and it is ready again" test "$(code)" = 200

# ---- a new config: the removed pool's series go ------------------------------------------------
cat >"$TMP/config.json" <<JSON
{"resourceList": [{"resourceName": "netdev", "selectors": [{"pfNames": ["pf$T_ID#0-1"]}]}]}
JSON
check "metrics-device-plugin: a config without the rest pool drops its device series" until_sample \
	"plexus_device_plugin_devices{resource=\"$REST\"}" none
for _ in $(seq 100); do get /readyz >/dev/null; [ "$(code)" = 200 ] && break; sleep 0.05; done
check "metrics-device-plugin: ... ready again once the new endpoint registered" test "$(code)" = 200
scrape
check "metrics-device-plugin: ... netdev still has its 2 devices and its counters" \
	test "$(sample "plexus_device_plugin_devices{resource=\"$NET\"}") $(sample "plexus_device_plugin_allocated_devices_total{resource=\"$NET\"}")" = "2 2"

# ---- shutdown -----------------------------------------------------------------------------------
kill -TERM "$DP_PID"
sleep 0.2
get /readyz >/dev/null
check "metrics-device-plugin: /readyz is 503 after SIGTERM, before it exits" \
	bash -c "[ '$(code)' = 503 ] && kill -0 $DP_PID"
wait "$DP_PID"
RC=$?
DP_PID=''
check "metrics-device-plugin: then it exits 0" test "$RC" -eq 0
ip netns exec "$NS" "$DPBIN" --metrics-address 127.0.0.1:http 2>"$TMP/bad.err"
RC=$?
check "metrics-device-plugin: a bad --metrics-address is a usage error naming it" \
	bash -c "[ $RC -eq 2 ] && grep -q -- '--metrics-address' '$TMP/bad.err'"
