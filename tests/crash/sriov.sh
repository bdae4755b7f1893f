#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: plexus-sriov on a fake sysfs tree (tests/fixtures/mksysfs.sh, fake-PF backend as in
# tests/netns/sriov.sh) whose VF netdev is a veth end in a node netns; every VF setting is set, a
# device-info file is requested, IPAM is the exec'd reference static plugin. After the kill and
# DEL: the VF's settings on the PF equal the ones before, its netdev is back in the node with its
# name, MAC and MTU, no allocation record, cache or device-info file is left.
# DEL variants: once and twice only. With the pod netns gone (or CNI_NETNS empty) a real VF
# returns to the host netns by itself, but the veth standing in for it is destroyed with the
# netns, so those variants cannot be judged on this fixture (the VM tier has netdevsim VFs).
source "$(dirname "$0")/../lib.sh"
need_root
CRASH_VARIANTS=${CRASH_VARIANTS:-once twice}
source "$(dirname "$0")/driver.bash"
[ -x "$REF_CNI/static" ] || { fail "crash sriov: $REF_CNI/static missing"; exit 1; }
crash_node plxcs
SYS=$TMP/sysfs PF=0000:3b:00.0 VF=0000:3b:00.1
PFDIR=$SYS/sys/devices/pci0000:00/$PF
"$TOP/tests/fixtures/mksysfs.sh" "$SYS" pf "$PF" pf0 >/dev/null
"$TOP/tests/fixtures/mksysfs.sh" "$SYS" vf "$PF" 0 "$VF" iavf vf0 >/dev/null
new_vf_netdev() {
	ip -n "$CRASH_NODE" link add vf0 type veth peer name vf0p &&
		ip -n "$CRASH_NODE" link set vf0 address 02:aa:00:00:00:01
}
new_vf_netdev
CRASH_DIRS=("$TMP/state" "$TMP/devinfo")
CONF=$(jq -cn --arg d "$VF" --arg f "$TMP/devinfo/crash-sriov.json" '{cniVersion:"1.1.0",name:"crash-sriov",
	type:"sriov",deviceID:$d,vlan:100,vlanQoS:3,mac:"02:bb:00:00:00:01",spoofchk:"off",trust:"on",
	link_state:"enable",min_tx_rate:10,max_tx_rate:100,MTU:1400,
	capabilities:{CNIDeviceInfoFile:true},runtimeConfig:{CNIDeviceInfoFile:$f},
	ipam:{type:"static",addresses:[{address:"10.229.0.5/24"}]}}')
CRASH_ENV=(PLEXUS_SYSFS_ROOT="$SYS" PLEXUS_STATE_DIR="$TMP/state")
CBIN=$BIN/plexus-sriov
# The VF's settings with the fake PF's defaults filled in (a fresh PF lists no VF yet).
vf_state() {
	jq -cS '.vfs["0"] // {} | {vlan: (.vlan // 0), qos: (.qos // 0), proto: (.proto // "802.1q"),
		spoofchk: (.spoofchk // true), trust: (.trust // false), link_state: (.link_state // 0),
		min_tx_rate: (.min_tx_rate // 0), max_tx_rate: (.max_tx_rate // 0),
		mac: (.mac // "00:00:00:00:00:00")}' "$PFDIR/plexus-fake-pf.json"
}
vf_netdev() { ip -n "$CRASH_NODE" -j link show vf0 2>/dev/null | jq -r '.[0] | "\(.address) \(.mtu)"'; }
crash_extra() {
	[ "$(vf_state)" = "$(cat "$TMP/vf.base")" ] || echo "VF settings changed: $(vf_state)"
	[ "$(vf_netdev)" = "02:aa:00:00:00:01 1500" ] || echo "VF netdev vf0 not back as 02:aa:00:00:00:01 mtu 1500: '$(vf_netdev)'"
}
crash_extra_reset() {
	cp "$TMP/pf.base" "$PFDIR/plexus-fake-pf.json"
	[ "$(vf_netdev)" = "02:aa:00:00:00:01 1500" ] && return
	ip -n "$CRASH_NODE" link del vf0 2>/dev/null
	new_vf_netdev
}
cp "$PFDIR/plexus-fake-pf.json" "$TMP/pf.base"
vf_state >"$TMP/vf.base"
crash_warmup sriov
crash_kill_points sriov
crash_power_loss sriov
