#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: plexus-sriov on fake sysfs trees (tests/fixtures/mksysfs.sh) whose VF netdevs are
# real veth ends in the host netns. The PF side is the fake backend: the plugin picks it only when
# PLEXUS_SYSFS_ROOT is not "/" and the PF's sysfs directory holds plexus-fake-pf.json (a file
# real sysfs cannot hold); it keeps VF settings there and logs each change to plexus-fake-pf.log.
# The real IFLA_VF_* backend needs a PF (netdevsim, VM tier). State goes to a temp
# PLEXUS_STATE_DIR. IPAM: the reference static plugin.
source "$(dirname "$0")/../lib.sh"
need_root
for t in jq ip; do
	command -v "$t" >/dev/null || { fail "sriov: $t not installed"; exit 0; }
done
PLUGIN=${SRIOV_BIN:-$BIN/plexus-sriov}
[ -x "$PLUGIN" ] || { fail "sriov: plugin under test $PLUGIN is missing (make?)"; exit 0; }
[ -x "$REF_CNI/static" ] || { fail "sriov: $REF_CNI/static missing"; exit 0; }
TMP=$(t_tmpdir)
MK=$TOP/tests/fixtures/mksysfs.sh
SYS=$TMP/sysfs
STATE=$TMP/state
PF=0000:3b:00.0
DEV=$SYS/sys/devices/pci0000:00

# plug CMD CONF NETNS IFNAME CID [VAR=VALUE...]: sets OUT, ERR, RC.
plug() {
	local cmd=$1 conf=$2 ns=$3 ifn=$4 cid=$5
	shift 5
	OUT=$(printf '%s' "$conf" | "${RUNNER[@]}" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_PATH="$REF_CNI" \
		CNI_CONTAINERID="$cid" CNI_NETNS="$ns" CNI_IFNAME="$ifn" \
		PLEXUS_SYSFS_ROOT="$SYS" PLEXUS_STATE_DIR="$STATE" ${KILL_ENV:+"$KILL_ENV"} "$@" "$PLUGIN" 2>"$TMP/stderr")
	RC=$?
	ERR=$(cat "$TMP/stderr")
	[ -z "${SRIOV_DEBUG:-}" ] || echo "[$cmd rc=$RC] $OUT ${ERR:+stderr: $ERR}" >&2
}
ok() { [ "$RC" -eq 0 ]; }
has_code() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
msg_has() { jq -r '.msg // ""' <<<"$OUT" 2>/dev/null | grep -qi -- "$1"; }
out_is() { jq -e "$1" <<<"$OUT" >/dev/null 2>&1; }
linkj() { ip ${1:+-n "$1"} -j link show "$2" 2>/dev/null | jq -c '.[0] // empty'; }
exists() { [ -n "$(linkj "$1" "$2")" ]; }
link_mac() { linkj "$1" "$2" | jq -r '.address'; }
link_mtu() { linkj "$1" "$2" | jq -r '.mtu'; }
has_addr() { ip -n "$1" -j addr show dev "$2" | jq -e --arg a "${3%/*}" \
	'[.[0].addr_info[] | select(.local == $a)] | length == 1' >/dev/null; }
vfj() { jq -c --arg i "$1" '.vfs[$i] // {}' "$DEV/$PF/plexus-fake-pf.json"; } # vfj INDEX
vf_is() { vfj "$1" | jq -e "$2" >/dev/null; }				 # vf_is INDEX FILTER
pf_log_lines() { [ -f "$DEV/$PF/plexus-fake-pf.log" ] && wc -l <"$DEV/$PF/plexus-fake-pf.log" || echo 0; }
state_files() { find "$STATE" -type f ! -name '*.lock' 2>/dev/null | wc -l; }
pod_links() { ip -n "$1" -j link show | jq length; }
# with_prev CONF RESULT: CHECK input. Debian's static IPAM (CHECK needs it) stops at 1.0.0, so
# CHECK runs as 1.0.0 (prevResult without the 1.1.0-only pciID).
with_prev() { jq -c --argjson r "$2" '. + {cniVersion:"1.0.0",
	prevResult: ($r | .cniVersion = "1.0.0" | del(.interfaces[].pciID))}' <<<"$1"; }
jqf() { jq -e "$@" >/dev/null; }

# new_vf N DRIVER [nonet]: VF number N of $PF at 0000:3b:00.<N+1> (N < 7) with DRIVER; for kernel
# drivers a fresh veth end (name in VFIF, MAC 02:aa:..:N, MTU 1500) is its netdev.
new_vf() {
	VFBDF=0000:3b:0$((($1 + 1) / 8)).$((($1 + 1) % 8)) VFIF=
	if [ "$2" = vfio-pci ] || [ "${3:-}" = nonet ]; then
		"$MK" "$SYS" vf "$PF" "$1" "$VFBDF" "$2"
		return
	fi
	T_N=$((T_N + 1))
	VFIF=px${T_ID}v${T_N}
	ip link add "$VFIF" type veth peer name "${VFIF}p" || return 1
	t_link "$VFIF"
	t_link "${VFIF}p"
	ip link set "$VFIF" address "02:aa:00:00:00:0$1"
	"$MK" "$SYS" vf "$PF" "$1" "$VFBDF" iavf "$VFIF"
}
# mkconf DEVICEID [EXTRA_JSON]: sriov netconf with a static IPAM address 10.77.0.5/24.
mkconf() {
	jq -cn --arg d "$1" '{cniVersion:"1.1.0",name:"plxsriov",type:"sriov",deviceID:$d,
		  ipam:{type:"static",addresses:[{address:"10.77.0.5/24",gateway:"10.77.0.1"}],
		        routes:[{dst:"10.78.0.0/16"}]}} + ('"${2:-{\}}"')'
}
# host_intact IFNAME MAC MTU: the VF stand-in is in the host, down, with its original identity.
host_intact() {
	local j
	j=$(linkj "" "$1")
	[ -n "$j" ] || { echo "  $1 not in host" >&2; return 1; }
	jq -e --arg m "$2" --argjson u "$3" '.address == $m and .mtu == $u' <<<"$j" >/dev/null ||
		{ echo "  $1 is $j" >&2; return 1; }
}
vf_pristine() { vf_is "$1" '(.vlan // 0) == 0 and (.qos // 0) == 0 and (.spoofchk // true) and
	((.trust // false) | not) and (.min_tx_rate // 0) == 0 and (.max_tx_rate // 0) == 0 and
	(.link_state // 0) == 0 and ((.mac // "00:00:00:00:00:00") == "00:00:00:00:00:00")'; }

"$MK" "$SYS" pf "$PF" pxpf${T_ID}

# ---------------------------------------------------------------------------------------------
t_kernel() { # ADD / CHECK / DEL of a kernel VF with every setting
	local c r idx
	new_vf 0 iavf; new_pod
	c=$(mkconf "$VFBDF" '{vlan:100,vlanQoS:3,vlanProto:"802.1Q",mac:"02:bb:00:00:00:01",
		spoofchk:"off",trust:"on",link_state:"enable",min_tx_rate:10,max_tx_rate:100,MTU:1400}')
	plug ADD "$c" "$PODNS" net1 cid-k
	check "kernel: ADD succeeds" ok
	r=$OUT
	check "kernel: result interface net1 with pciID, MAC, MTU, sandbox" out_is \
		".interfaces == [{name:\"net1\",mac:\"02:bb:00:00:00:01\",mtu:1400,sandbox:\"$PODNS\",pciID:\"$VFBDF\"}]"
	check "kernel: result ips on interface 0" out_is '.ips[0].address == "10.77.0.5/24" and .ips[0].interface == 0'
	check "kernel: stand-in gone from the host" bash -c "! ip link show $VFIF >/dev/null 2>&1"
	check "kernel: net1 in the pod with the MAC and MTU" \
		bash -c "[ \"\$(ip -n $POD -j link show net1 | jq -r '.[0].address,.[0].mtu' | tr '\n' ' ')\" = '02:bb:00:00:00:01 1400 ' ]"
	check "kernel: net1 has the IPAM address and route" bash -c \
		"ip -n $POD -j addr show dev net1 | jq -e '[.[0].addr_info[] | select(.local==\"10.77.0.5\")] | length == 1' >/dev/null && ip -n $POD route show 10.78.0.0/16 | grep -q net1"
	check "kernel: net1 is up" bash -c "ip -n $POD -j link show net1 | jq -e '.[0].flags | index(\"UP\")' >/dev/null"
	check "kernel: arp_notify=1 on net1 (gratuitous ARP when it came up)" \
		bash -c "[ \"\$(ip netns exec $POD cat /proc/sys/net/ipv4/conf/net1/arp_notify)\" = 1 ]"
	check "kernel: PF side holds every setting" vf_is 0 \
		'.vlan == 100 and .qos == 3 and .proto == "802.1q" and .mac == "02:bb:00:00:00:01" and
		 .spoofchk == false and .trust == true and .link_state == 1 and .min_tx_rate == 10 and .max_tx_rate == 100'
	check "kernel: allocation record names the pod netns" jqf --arg n "$PODNS" '.netns == $n' "$STATE/pci/$VFBDF"
	check "kernel: ... and is a copy of the cache" bash -c \
		"[ \"\$(jq -cS 'del(.netns)' $STATE/pci/$VFBDF)\" = \"\$(jq -cS . $STATE/cid-k-net1.json)\" ]"
	check "kernel: cache saved the original state" jqf \
		".hostIfname == \"$VFIF\" and .hostMac == \"02:aa:00:00:00:00\" and .hostMtu == 1500 and .orig.spoofchk == true" \
		"$STATE/cid-k-net1.json"

	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" net1 cid-k
	check "kernel: CHECK passes" ok
	vfj 0 >"$TMP/vf0"
	jq -c '.vfs["0"].vlan = 5' "$DEV/$PF/plexus-fake-pf.json" >"$TMP/pf" && cp "$TMP/pf" "$DEV/$PF/plexus-fake-pf.json"
	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" net1 cid-k
	check "kernel: CHECK notices a changed VF VLAN" has_code 104
	jq -c '.vfs["0"].vlan = 100' "$DEV/$PF/plexus-fake-pf.json" >"$TMP/pf" && cp "$TMP/pf" "$DEV/$PF/plexus-fake-pf.json"

	local pod1=$POD podns1=$PODNS
	new_pod
	plug ADD "$(mkconf "$VFBDF")" "$PODNS" net1 cid-k2
	check "kernel: a second ADD of the allocated VF is refused" has_code 104
	check "kernel: ... saying 'pci address $VFBDF is already allocated'" msg_has "pci address $VFBDF is already allocated"
	check "kernel: ... and the first pod keeps it" exists "$pod1" net1
	check "kernel: ... and the second pod got nothing" bash -c "[ $(pod_links "$POD") -eq 1 ]"

	plug DEL "$c" "$podns1" net1 cid-k
	check "kernel: DEL succeeds" ok
	check "kernel: DEL returns the stand-in with its name, MAC and MTU" host_intact "$VFIF" 02:aa:00:00:00:00 1500
	check "kernel: DEL leaves the pod with lo only" bash -c "[ $(pod_links "$pod1") -eq 1 ]"
	check "kernel: DEL restores every PF-side setting" vf_pristine 0
	check "kernel: PF restored before the netdev came back (log: apply then restore)" bash -c \
		"tail -n1 $DEV/$PF/plexus-fake-pf.log | grep -q 'vf 0 mac=00:00:00:00:00:00 vlan=0 qos=0 proto=0x8100 spoofchk=1 trust=0 min=0 max=0 link_state=0'"
	check "kernel: DEL drops the allocation record and the cache" bash -c "[ $(state_files) -eq 0 ]"
	plug DEL "$c" "$podns1" net1 cid-k
	check "kernel: DEL again succeeds (idempotent)" ok
	check "kernel: ... and changes nothing" host_intact "$VFIF" 02:aa:00:00:00:00 1500
	plug ADD "$(mkconf "$VFBDF")" "$PODNS" net1 cid-k2
	check "kernel: after DEL the VF can be allocated again" ok
	check "kernel: ... without settings the VLAN is still reset to 0 and nothing else set" vf_is 0 \
		'.vlan == 0 and .qos == 0 and .spoofchk == true and .trust == false'
	plug DEL "$(mkconf "$VFBDF")" "$PODNS" net1 cid-k2
	check "kernel: ... and released" host_intact "$VFIF" 02:aa:00:00:00:00 1500
}

# netns_dies POD: what the kernel does to the VF eth1 in POD when POD's netns dies (veth ends
# would be destroyed instead): back in the host as dev<ifindex>, settings kept. Sets idx.
netns_dies() {
	idx=$(ip -n "$1" -j link show eth1 | jq -r '.[0].ifindex')
	ip -n "$1" link set eth1 down
	ip -n "$1" link set eth1 netns 1
	ip link set eth1 name "dev$idx"
	"$MK" "$SYS" netdev "$VFBDF" "dev$idx"
	ip netns del "$1"
}

t_gone() { # the netns died; the kernel returned the VF as dev<N>
	local c idx
	new_vf 1 iavf; new_pod
	c=$(mkconf "$VFBDF" '{vlan:7,mac:"02:bb:00:00:00:02",mtu:1300}')
	plug ADD "$c" "$PODNS" eth1 cid-g
	check "gone: ADD succeeds" ok
	netns_dies "$POD"
	plug DEL "$c" "$PODNS" eth1 cid-g
	check "gone: DEL with the netns gone succeeds" ok
	"$MK" "$SYS" netdev "$VFBDF" "$VFIF"
	check "gone: dev$idx got its name, MAC and MTU back" host_intact "$VFIF" 02:aa:00:00:00:01 1500
	check "gone: no dev$idx left" bash -c "! ip link show dev$idx >/dev/null 2>&1"
	check "gone: PF side restored" vf_pristine 1
	check "gone: state dropped" bash -c "[ $(state_files) -eq 0 ]"

	# Not back yet: code 11 after a short wait, and the cache stays for the retry.
	new_pod
	plug ADD "$c" "$PODNS" eth1 cid-g2
	check "gone: second ADD succeeds" ok
	# (the kernel still holds it: a holding netns stands in for its cleanup work)
	t_netns "plxhold$T_ID"
	ip -n "$POD" link set eth1 name "px${T_ID}hid" && ip -n "$POD" link set "px${T_ID}hid" netns "plxhold$T_ID"
	"$MK" "$SYS" netdev "$VFBDF"
	ip netns del "$POD"
	plug DEL "$c" "$PODNS" eth1 cid-g2
	check "gone: DEL before the VF is back answers code 11" has_code 11
	check "gone: ... keeping the cache and allocation" bash -c "[ $(state_files) -eq 2 ]"
	ip -n "plxhold$T_ID" link set "px${T_ID}hid" netns 1
	t_link "px${T_ID}hid"
	"$MK" "$SYS" netdev "$VFBDF" "px${T_ID}hid"
	plug DEL "$c" "$PODNS" eth1 cid-g2
	check "gone: the retried DEL succeeds" ok
	"$MK" "$SYS" netdev "$VFBDF" "$VFIF"
	check "gone: ... and restores the name" host_intact "$VFIF" 02:aa:00:00:00:01 1500
	check "gone: ... and drops the state" bash -c "[ $(state_files) -eq 0 ]"
}

t_late() { # a pod's netns died without DEL; the VF went to a new pod; then the late DEL came
	local ca cb idx poda podnsa
	new_vf 1 iavf; new_pod
	poda=$POD podnsa=$PODNS
	ca=$(mkconf "$VFBDF" '{vlan:7,mac:"02:bb:00:00:00:02",mtu:1300}')
	plug ADD "$ca" "$PODNS" eth1 cid-la
	check "late: the first pod's ADD succeeds" ok
	# The first pod's netns dies: the kernel returns the VF with its settings.
	netns_dies "$poda"
	new_pod
	cb=$(mkconf "$VFBDF" '{vlan:9,mac:"02:bb:00:00:00:03",mtu:1400}')
	plug ADD "$cb" "$PODNS" eth1 cid-lb
	check "late: a second pod takes over the VF (the first allocation is stale)" ok
	check "late: ... the first pod's cache is gone, the second pod's records are there" \
		bash -c "[ ! -e $STATE/cid-la-eth1.json ] && [ -e $STATE/cid-lb-eth1.json ] && [ $(state_files) -eq 2 ]"
	plug DEL "$ca" "$podnsa" eth1 cid-la
	check "late: the first pod's late DEL succeeds" ok
	check "late: ... and touches neither the second pod's VF nor its records" \
		bash -c "vf() { jq -c '.vfs[\"1\"] // {}' '$DEV/$PF/plexus-fake-pf.json'; }; [ \"\$(vf | jq -r .vlan)\" = 9 ] &&
			ip -n $POD link show eth1 | grep -q 'mtu 1400' && [ $(state_files) -eq 2 ]"
	plug DEL "$cb" "$PODNS" eth1 cid-lb
	check "late: the second pod's DEL succeeds" ok
	check "late: ... the VF is back as before the first pod (its settings, MAC and MTU)" \
		bash -c "$(declare -f vfj vf_is vf_pristine linkj host_intact); DEV='$DEV' PF='$PF'; vf_pristine 1 && host_intact dev$idx 02:aa:00:00:00:01 1500"
	check "late: ... and no state is left" bash -c "[ $(state_files) -eq 0 ]"
	ip link set "dev$idx" name "$VFIF"
	"$MK" "$SYS" netdev "$VFBDF" "$VFIF"
}

t_dpdk() { # vfio-pci VF: nothing moved, pciID + device-info file
	local c r info=$TMP/devinfo/cni/plxsriov-cid-d_net2
	new_vf 2 vfio-pci; new_pod
	c=$(mkconf "$VFBDF" "{vlan:20,mac:\"02:bb:00:00:00:03\",runtimeConfig:{CNIDeviceInfoFile:\"$info\"}}")
	plug ADD "$c" "$PODNS" net2 cid-d
	check "dpdk: ADD succeeds" ok
	r=$OUT
	check "dpdk: result interface carries the pciID" out_is \
		".interfaces == [{name:\"net2\",mac:\"02:bb:00:00:00:03\",sandbox:\"$PODNS\",pciID:\"$VFBDF\"}]"
	check "dpdk: IPAM addresses reported for the userspace stack" out_is '.ips[0].address == "10.77.0.5/24"'
	check "dpdk: nothing moved into the pod" bash -c "[ $(pod_links "$POD") -eq 1 ]"
	check "dpdk: device-info file written (directory created)" jqf \
		". == {type:\"pci\",version:\"1.1.0\",pci:{\"pci-address\":\"$VFBDF\",\"pf-pci-address\":\"$PF\"}}" "$info"
	check "dpdk: PF side applied" vf_is 2 '.vlan == 20 and .mac == "02:bb:00:00:00:03"'
	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" net2 cid-d
	check "dpdk: CHECK passes" ok
	plug DEL "$c" "$PODNS" net2 cid-d
	check "dpdk: DEL succeeds" ok
	check "dpdk: DEL restores the PF side" vf_pristine 2
	check "dpdk: DEL removes the device-info file and the state" bash -c "[ ! -e $info ] && [ $(state_files) -eq 0 ]"
	plug DEL "$c" "$PODNS" net2 cid-nocache
	check "dpdk: DEL without a cache succeeds" ok
}

# fails NAME CODE FIELD CONF [IFNAME [PODLINKS]]: ADD fails with CODE, its message contains
# FIELD, and nothing is left: no state, the pod has PODLINKS links (1: lo), the VF stand-in is
# in the host with its MAC, the PF side untouched.
err_is() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null &&
	jq -r .msg <<<"$OUT" | grep -qF -- "$2"; }
nothing_left() {
	[ "$(state_files)" -eq 0 ] || { echo "  state left" >&2; return 1; }
	[ "$(pod_links "$POD")" -eq "$1" ] || { echo "  pod links: $(pod_links "$POD")" >&2; return 1; }
	host_intact "$VFIF" 02:aa:00:00:00:03 1500 && vf_pristine 3
}
fails() {
	plug ADD "$4" "$PODNS" "${5:-net1}" cid-e
	check "error: $1 -> code $2 naming '$3'" err_is "$2" "$3"
	check "error: $1 leaves nothing behind" nothing_left "${6:-1}"
}

t_errors() {
	new_vf 3 iavf; new_pod
	local ok_vf=$VFBDF
	new_vf 4 iavf nonet
	local nonet=$VFBDF
	VFBDF=$ok_vf VFIF=$(basename "$(ls "$DEV/$ok_vf/net")")
	fails "bad deviceID format" 7 deviceID "$(mkconf 3b:00.4)"
	fails "missing VF" 7 "deviceID: no PCI device '0000:3b:01.7'" "$(mkconf 0000:3b:01.7)"
	fails "VF without netdev and a kernel driver" 7 "deviceID: VF '$nonet' has no netdev" "$(mkconf "$nonet")"
	fails "vlanQoS without vlan" 7 vlanQoS "$(mkconf "$ok_vf" '{vlanQoS:2}')"
	fails "bad vlanProto" 7 vlanProto "$(mkconf "$ok_vf" '{vlan:3,vlanProto:"802.1x"}')"
	fails "802.1ad without vlan" 7 vlanProto "$(mkconf "$ok_vf" '{vlanProto:"802.1AD"}')"
	fails "min_tx_rate > max_tx_rate" 7 min_tx_rate "$(mkconf "$ok_vf" '{min_tx_rate:9,max_tx_rate:5}')"
	fails "bad spoofchk" 7 spoofchk "$(mkconf "$ok_vf" '{spoofchk:"maybe"}')"
	fails "bad link_state" 7 link_state "$(mkconf "$ok_vf" '{link_state:"up"}')"
	fails "vlan out of range" 7 vlan "$(mkconf "$ok_vf" '{vlan:5000}')"
	# Failures after things were changed: everything is undone.
	fails "IPAM failure" 7 "bogus" "$(mkconf "$ok_vf" '{vlan:9,ipam:{type:"static",addresses:[{address:"bogus"}]}}')"
	check "error: IPAM failure did reach the PF (and was undone)" bash -c "grep -q 'vf 3 .*vlan=9' $DEV/$PF/plexus-fake-pf.log"
	ip -n "$POD" link add net1 type veth peer name net1p
	fails "CNI_IFNAME already in the pod" 104 "interface 'net1' already exists" "$(mkconf "$ok_vf" '{vlan:9}')" net1 3
	ip -n "$POD" link del net1
	# A PF that refuses changes may have taken some (netlink applies attributes in turn) and
	# refuses the restore too: ADD keeps its records, and the runtime's DEL restores later.
	jq -c '.fail_set = true' "$DEV/$PF/plexus-fake-pf.json" >"$TMP/pf" && cp "$TMP/pf" "$DEV/$PF/plexus-fake-pf.json"
	plug ADD "$(mkconf "$ok_vf" '{vlan:9}')" "$PODNS" net1 cid-e
	check "error: PF refuses a setting -> code 100 naming the VF" err_is 100 "VF '$ok_vf'"
	check "error: ... the netdev stays in the host, the records stay for DEL" \
		bash -c "[ $(state_files) -eq 2 ] && [ $(pod_links "$POD") -eq 1 ] && ip link show $VFIF >/dev/null"
	jq -c 'del(.fail_set)' "$DEV/$PF/plexus-fake-pf.json" >"$TMP/pf" && cp "$TMP/pf" "$DEV/$PF/plexus-fake-pf.json"
	plug DEL "$(mkconf "$ok_vf" '{vlan:9}')" "$PODNS" net1 cid-e
	check "error: ... and the runtime's DEL then leaves nothing" eval '[ $RC -eq 0 ] && nothing_left 1'
	plug ADD "$(mkconf "$ok_vf")" "$PODNS" net1 cid-e
	check "error: after all that the VF still works" ok
	plug DEL "$(mkconf "$ok_vf")" "$PODNS" net1 cid-e
	check "error: ... and is released" bash -c "[ $(state_files) -eq 0 ]"
}

t_robust() { # name clash on the way back, concurrent ADDs of one VF
	local c tmpname
	new_vf 5 iavf; new_pod
	c=$(mkconf "$VFBDF" '{vlan:11}')
	plug ADD "$c" "$PODNS" net1 cid-r
	check "robust: ADD succeeds" ok
	ip link add "$VFIF" type veth peer name "${VFIF}q" # squatter on the original name
	plug DEL "$c" "$PODNS" net1 cid-r
	check "robust: DEL while the original name is taken answers code 104" has_code 104
	check "robust: ... naming the clash" msg_has "name taken"
	check "robust: ... keeping the cache for the retry" bash -c "[ $(state_files) -eq 2 ]"
	check "robust: ... with the PF side already restored" vf_pristine 5
	ip link del "$VFIF"
	# The VF is back in the host under its temporary name: real sysfs would list it so.
	tmpname=$(ip -j link show | jq -r '.[] | select(.address == "02:aa:00:00:00:05") | .ifname')
	"$MK" "$SYS" netdev "$VFBDF" "$tmpname"
	plug DEL "$c" "$PODNS" net1 cid-r
	check "robust: the retried DEL succeeds" ok
	"$MK" "$SYS" netdev "$VFBDF" "$VFIF"
	check "robust: ... and restores the name" host_intact "$VFIF" 02:aa:00:00:00:05 1500
	check "robust: ... and drops the state" bash -c "[ $(state_files) -eq 0 ]"

	# Two pods race for one VF: the lock serialises them, exactly one wins.
	local p1=$PODNS p2 r1 r2
	new_pod
	p2=$PODNS
	(plug ADD "$c" "$p1" net1 cid-ra; echo "$RC" >"$TMP/rc1") &
	(plug ADD "$c" "$p2" net1 cid-rb; echo "$RC" >"$TMP/rc2") &
	wait
	r1=$(cat "$TMP/rc1") r2=$(cat "$TMP/rc2")
	check "robust: concurrent ADDs of one VF: exactly one succeeds" bash -c "[ \$(( ($r1 == 0) + ($r2 == 0) )) -eq 1 ]"
	plug DEL "$c" "$p1" net1 cid-ra
	plug DEL "$c" "$p2" net1 cid-rb
	check "robust: ... and both DELs leave the VF in the host" host_intact "$VFIF" 02:aa:00:00:00:05 1500
	check "robust: ... with no state" bash -c "[ $(state_files) -eq 0 ]"
}

# sync_sysfs BDF MAC: what real sysfs shows: the VF's net/ entry is the host link with MAC
# (the stand-in, whatever its name now), or empty while it is in a pod.
sync_sysfs() {
	local name
	name=$(ip -j link show | jq -r --arg m "$2" '[.[] | select(.address == $m) | .ifname][0] // empty')
	"$MK" "$SYS" netdev "$1" $name
}
# Every setting, so that restoring each one is checked.
ALL='{vlan:100,vlanQoS:3,vlanProto:"802.1Q",mac:"02:bb:00:00:00:07",spoofchk:"off",trust:"on",
	link_state:"enable",min_tx_rate:10,max_tx_rate:100,MTU:1400}'

t_killed() { # SIGKILL at each netlink request and each file rename of ADD, then DEL
	local sc k bad seen_tmp seen_pf c
	new_vf 6 iavf
	c=$(mkconf "$VFBDF" "$ALL")
	for sc in sendmsg rename; do
		k=0 bad=0 seen_tmp=0 seen_pf=0
		while [ $k -lt 100 ]; do
			k=$((k + 1))
			new_pod
			kill_at $k $sc
			plug ADD "$c" "$PODNS" net1 cid-kill
			kill_off
			killed || break
			! ip -n "$POD" link show "$(tmp_ifname cid-kill net1)" >/dev/null 2>&1 ||
				seen_tmp=$((seen_tmp + 1))
			vf_pristine 6 || seen_pf=$((seen_pf + 1))
			sync_sysfs "$VFBDF" 02:aa:00:00:00:06
			plug DEL "$c" "$PODNS" net1 cid-kill
			"$MK" "$SYS" netdev "$VFBDF" "$VFIF"
			if ! ok || ! host_intact "$VFIF" 02:aa:00:00:00:06 1500 || ! vf_pristine 6 ||
				[ "$(state_files)" -ne 0 ] || [ "$(pod_links "$POD")" -ne 1 ]; then
				echo "  killed at $sc $k: DEL rc $RC $OUT" >&2
				bad=$((bad + 1))
			fi
			ip netns del "$POD"
		done
		check "killed ($sc): reached an ADD that ran to the end ($k kill points)" ok
		check "killed ($sc): after every kill point DEL restores everything and drops the state" [ $bad -eq 0 ]
		check "killed ($sc): some kills left PF settings changed (restored by DEL)" [ $seen_pf -gt 0 ]
		plug DEL "$c" "$PODNS" net1 cid-kill
		check "killed ($sc): ... and the complete ADD is released too" host_intact "$VFIF" 02:aa:00:00:00:06 1500
	done
	check "killed: some kill left the VF in the pod under its temporary name" [ $seen_tmp -gt 0 ]
}

t_swap() { # a pod with NET_ADMIN renames the VF and puts a veth under its name
	local c
	new_vf 7 iavf; new_pod
	c=$(mkconf "$VFBDF" "$ALL")
	plug ADD "$c" "$PODNS" net1 cid-swap
	check "swap: ADD succeeds" ok
	[ "$RC" -eq 0 ] || echo "  $OUT" >&2
	ip -n "$POD" link set net1 down
	ip -n "$POD" link set net1 name stolen0
	ip -n "$POD" link add net1 type veth peer name net1peer
	plug DEL "$c" "$PODNS" net1 cid-swap
	check "swap: DEL succeeds" ok
	check "swap: the real VF is back in the host with its name, MAC and MTU" \
		host_intact "$VFIF" 02:aa:00:00:00:07 1500
	check "swap: ... the pod no longer holds it" bash -c "! ip -n $POD link show stolen0 >/dev/null 2>&1"
	check "swap: every PF-side setting restored" vf_pristine 7
	check "swap: the veth under the VF's name is untouched in the pod" \
		bash -c "ip -n $POD -d link show net1 | grep -q veth && ip -n $POD link show net1peer >/dev/null"
	check "swap: state dropped" bash -c "[ $(state_files) -eq 0 ]"

	# The VF is hidden in another netns and a link of another kind takes its ifindex.
	local idx hide=plxhide${T_ID}
	t_netns "$hide"
	new_pod
	plug ADD "$c" "$PODNS" net1 cid-swap2
	check "swap: ADD again succeeds" ok
	idx=$(ip -n "$POD" -j link show net1 | jq -r '.[0].ifindex')
	ip -n "$POD" link set net1 netns "$hide"
	ip -n "$POD" link add name net1 index "$idx" type bridge
	sync_sysfs "$VFBDF" 02:aa:00:00:00:07
	plug DEL "$c" "$PODNS" net1 cid-swap2
	check "swap: a bridge under the VF's ifindex is not taken for the VF (code 11, VF not back)" has_code 11
	check "swap: ... the bridge is untouched in the pod" \
		bash -c "ip -n $POD -d link show net1 | grep -q bridge && ! ip link show $VFIF >/dev/null 2>&1"
	check "swap: ... and the records stay for the retry" bash -c "[ $(state_files) -eq 2 ]"
	ip -n "$POD" link del net1
	ip -n "$hide" link set net1 netns "$POD"
	plug DEL "$c" "$PODNS" net1 cid-swap2
	"$MK" "$SYS" netdev "$VFBDF" "$VFIF"
	check "swap: once the VF is back in the pod, DEL restores it" \
		eval 'ok && host_intact "$VFIF" 02:aa:00:00:00:07 1500 && vf_pristine 7 && [ $(state_files) -eq 0 ]'
}
t_corrupt() { # a cut record (power loss without the fsync): the other copy is enough for DEL
	local c
	new_vf 8 iavf; new_pod
	c=$(mkconf "$VFBDF" '{vlan:9,mac:"02:bb:00:00:00:08",mtu:1300}')
	plug ADD "$c" "$PODNS" net1 cid-corrupt
	check "corrupt: ADD succeeds" ok
	truncate -s 9 "$STATE/cid-corrupt-net1.json"
	plug DEL "$c" "$PODNS" net1 cid-corrupt
	check "corrupt: DEL with a truncated cache succeeds" ok
	check "corrupt: ... from the allocation record" bash -c "grep -q 'using the allocation record' <<<'$ERR'"
	check "corrupt: ... restoring the VF" eval 'host_intact "$VFIF" 02:aa:00:00:00:08 1500 && vf_pristine 8'
	check "corrupt: ... dropping both records" bash -c "[ $(state_files) -eq 0 ]"
	plug DEL "$c" "$PODNS" net1 cid-corrupt
	check "corrupt: DEL again succeeds" ok

	plug ADD "$c" "$PODNS" net1 cid-corrupt2
	check "corrupt: second ADD succeeds" ok
	truncate -s 9 "$STATE/pci/$VFBDF"
	plug DEL "$c" "$PODNS" net1 cid-corrupt2
	check "corrupt: DEL with a truncated allocation record succeeds" \
		eval 'ok && host_intact "$VFIF" 02:aa:00:00:00:08 1500 && vf_pristine 8 && [ $(state_files) -eq 0 ]'

	plug ADD "$c" "$PODNS" net1 cid-corrupt3
	check "corrupt: third ADD succeeds" ok
	truncate -s 9 "$STATE/cid-corrupt3-net1.json" "$STATE/pci/$VFBDF"
	plug DEL "$c" "$PODNS" net1 cid-corrupt3
	check "corrupt: DEL with both records truncated succeeds" ok
	check "corrupt: ... saying why in the log" bash -c "grep -q 'cache quarantined' <<<'$ERR'"
	check "corrupt: ... the cache is quarantined for the operator" \
		bash -c "[ -e $STATE/cid-corrupt3-net1.json.corrupt ] && [ ! -e $STATE/cid-corrupt3-net1.json ]"
	plug DEL "$c" "$PODNS" net1 cid-corrupt3
	check "corrupt: DEL again succeeds" ok
	rm -f "$STATE/cid-corrupt3-net1.json.corrupt" "$STATE/pci/$VFBDF"
}

# SR_ONLY="t_swap t_killed" runs a subset (debugging); SRIOV_DEBUG=1 logs every plugin run.
for t in ${SR_ONLY:-t_kernel t_swap t_killed t_corrupt t_gone t_late t_robust t_dpdk t_errors}; do
	"$t"
done
