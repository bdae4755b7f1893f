#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Inside the VM: netdevsim is the PF (its VFs have no netdevs or PCI links), a fake sysfs tree
# names it as the PF of VF 0 (a veth stand-in netdev) and VF 1 (vfio-pci), without the fake-PF
# file, so plexus-sriov uses its netlink backend. Every IFLA_VF_* setting is read back with
# `ip -d -j link` and must be restored exactly on DEL.
source "$(dirname "$0")/../../lib.sh"
need_root
PLUGIN=$BIN/plexus-sriov
MK=$TOP/tests/fixtures/mksysfs.sh
TMP=$(t_tmpdir)
SYS=$TMP/sysfs STATE=$TMP/state
PF=0000:3b:00.0

echo "1 1" >/sys/bus/netdevsim/new_device || { fail "vm/sriov: no netdevsim"; exit 0; }
for _ in 1 2 3 4 5 6 7 8 9 10; do
	ls /sys/bus/netdevsim/devices/netdevsim1/net 2>/dev/null | grep -q . && break
	sleep 0.2
done
D=/sys/bus/netdevsim/devices/netdevsim1
PFIF=$(ls "$D/net")
echo 2 >"$D/sriov_numvfs" || { fail "vm/sriov: cannot enable VFs"; exit 0; }
ip link set "$PFIF" up

"$MK" "$SYS" pf "$PF" "$PFIF" nofake
ip link add pxvf0 type veth peer name pxvf0p
ip link set pxvf0 address 02:aa:00:00:00:00
"$MK" "$SYS" vf "$PF" 0 0000:3b:00.1 iavf pxvf0
"$MK" "$SYS" vf "$PF" 1 0000:3b:00.2 vfio-pci
ip link add pxvf7 type veth peer name pxvf7p
"$MK" "$SYS" vf "$PF" 7 0000:3b:01.0 iavf pxvf7 # VF 7 does not exist on the PF

plug() {
	local cmd=$1 conf=$2 ns=$3 ifn=$4 cid=$5
	OUT=$(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_PATH="$REF_CNI" \
		CNI_CONTAINERID="$cid" CNI_NETNS="$ns" CNI_IFNAME="$ifn" \
		PLEXUS_SYSFS_ROOT="$SYS" PLEXUS_STATE_DIR="$STATE" "$PLUGIN" 2>"$TMP/stderr")
	RC=$?
	echo "[$cmd rc=$RC] $OUT $(cat "$TMP/stderr")" >&2
}
ok() { [ "$RC" -eq 0 ]; }
# iproute2 omits the protocol (and qos 0) for plain 802.1Q VLANs.
vf() { ip -d -j link show "$PFIF" | jq -c --argjson i "$1" '.[0].vfinfo_list[] | select(.vf == $i)'; }
vf_is() { vf "$1" | jq -e "$2" >/dev/null; }
mkconf() {
	jq -cn --arg d "$1" '{cniVersion:"1.1.0",name:"vmsriov",type:"sriov",deviceID:$d,
		ipam:{type:"static",addresses:[{address:"10.77.0.5/24"}]}} + ('"${2:-{\}}"')'
}

echo "PF $PFIF VF 0 before: $(vf 0)" >&2
ORIG0=$(vf 0) ORIG1=$(vf 1)
new_pod
c=$(mkconf 0000:3b:00.1 '{vlan:100,vlanQoS:3,vlanProto:"802.1ad",mac:"02:bb:00:00:00:01",
	spoofchk:"off",trust:"on",link_state:"disable",min_tx_rate:10,max_tx_rate:100}')
plug ADD "$c" "$PODNS" net1 cid-1
check "vm/sriov: kernel VF ADD with every setting succeeds" ok
echo "VF 0 after ADD: $(vf 0)" >&2
check "vm/sriov: admin MAC set on the PF" vf_is 0 '.address == "02:bb:00:00:00:01"'
check "vm/sriov: VLAN 100 QoS 3 protocol 802.1ad (network byte order on the wire)" vf_is 0 \
	'.vlan_list[0].vlan == 100 and .vlan_list[0].qos == 3 and .vlan_list[0].protocol == "802.1ad"'
check "vm/sriov: spoofchk off, trust on" vf_is 0 '.spoofchk == false and .trust == true'
check "vm/sriov: link_state disable" vf_is 0 '.link_state == "disable"'
check "vm/sriov: rates 10/100" vf_is 0 '.rate.min_tx == 10 and .rate.max_tx == 100'
check "vm/sriov: the stand-in is net1 in the pod" ip -n "$POD" link show net1
plug CHECK "$(jq -c --argjson r "$OUT" '. + {cniVersion:"1.0.0",prevResult:($r|.cniVersion="1.0.0"|del(.interfaces[].pciID))}' <<<"$c")" "$PODNS" net1 cid-1
check "vm/sriov: CHECK reads the settings back from the PF" ok
plug DEL "$c" "$PODNS" net1 cid-1
check "vm/sriov: DEL succeeds" ok
echo "VF 0 after DEL: $(vf 0)" >&2
check "vm/sriov: DEL restores every VF setting exactly" bash -c "[ '$(vf 0)' = '$ORIG0' ]"
check "vm/sriov: DEL returns the stand-in" ip link show pxvf0

c=$(mkconf 0000:3b:00.2 '{vlan:5,mac:"02:bb:00:00:00:02",trust:"on"}')
plug ADD "$c" "$PODNS" net2 cid-2
check "vm/sriov: DPDK VF ADD succeeds" ok
echo "VF 1 after ADD: $(vf 1)" >&2
check "vm/sriov: DPDK VF settings on the PF (802.1Q VLAN)" vf_is 1 \
	'.vlan_list[0].vlan == 5 and (.vlan_list[0].protocol // "802.1Q") == "802.1Q" and .address == "02:bb:00:00:00:02" and .trust == true'
plug DEL "$c" "$PODNS" net2 cid-2
check "vm/sriov: DPDK DEL restores exactly" bash -c "[ '$(vf 1)' = '$ORIG1' ]"

plug ADD "$(mkconf 0000:3b:01.0 '{vlan:5}')" "$PODNS" net3 cid-3
check "vm/sriov: a VF the PF lacks fails with code 104/100" bash -c "[ $RC -ne 0 ] && jq -e '.code == 104 or .code == 100' <<<'$OUT' >/dev/null"
check "vm/sriov: ... and its stand-in stays in the host" ip link show pxvf7
check "vm/sriov: ... and nothing is recorded" bash -c "[ \$(find $STATE -type f ! -name '*.lock' | wc -l) -eq 0 ]"
ip link del pxvf0 2>/dev/null
ip link del pxvf7 2>/dev/null
echo 1 >/sys/bus/netdevsim/del_device
