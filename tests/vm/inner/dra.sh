#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Inside the VM: a claimed VF on netdevsim, end to end. netdevsim is the PF, created in the node
# netns; its VFs are not PCI devices and have no netdevs, so a fake PCI sysfs tree names the
# netdevsim netdev as the PF of VF 0 and VF 1 (veth stand-ins as their netdevs, no fake-PF file:
# the VF settings go to the real PF through IFLA_VF_*). plexus-dra publishes them, the kubelet
# stand-in (grpc-js) registers it and prepares the claim, the meta-plugin gives the pod the
# claimed VF and writes the claim's status.devices, DEL restores the VF on the PF, unprepare
# removes what prepare wrote. The API server fixture runs here too.
source "$(dirname "$0")/../../lib.sh"
need_root
DRA=$BIN/plexus-dra P=$BIN/plexus
TMP=$(t_tmpdir)
MK=$TOP/tests/fixtures/mksysfs.sh
SYS=$TMP/sysfs DEV=$TMP/sysfs/sys/devices/pci0000:00 INFO=$TMP/devinfo CDI=$TMP/cdi
NODE=pxvd$T_ID NN=vmnode DRV=sriov.plexus.io TOKEN=tok$T_ID POOL=vmnode-vf PFB=0000:3b:00.0
U=33333333-0000-4000-8000-000000000001 PU=33333333-0000-4000-8000-000000000011 MAC=02:bb:00:00:00:01
t_netns "$NODE" || exit 1
ip -n "$NODE" link set lo up
ip -n "$NODE" link add eth9 type veth peer name eth9p
ip -n "$NODE" link set eth9 up && ip -n "$NODE" link set eth9p up

# netdevsim takes the netns of the process that creates it.
ip netns exec "$NODE" bash -c 'echo "1 1" >/sys/bus/netdevsim/new_device' ||
	{ fail "vm/dra: no netdevsim"; exit 0; }
PFIF=
for _ in $(seq 20); do
	PFIF=$(ip netns exec "$NODE" ls /sys/bus/netdevsim/devices/netdevsim1/net 2>/dev/null)
	[ -n "$PFIF" ] && break
	sleep 0.1
done
[ -n "$PFIF" ] || { fail "vm/dra: the netdevsim PF has no netdev in the node netns"; exit 0; }
echo 2 >/sys/bus/netdevsim/devices/netdevsim1/sriov_numvfs || { fail "vm/dra: cannot enable VFs"; exit 0; }
ip -n "$NODE" link set "$PFIF" up
vf_if() { echo "px${T_ID}v$1"; }
"$MK" "$SYS" pf "$PFB" "$PFIF" nofake
echo 2 >"$DEV/$PFB/sriov_numvfs"
for v in 0 1; do
	ip -n "$NODE" link add "$(vf_if $v)" type veth peer name "$(vf_if $v)p" || exit 1
	ip -n "$NODE" link set "$(vf_if $v)" address "02:aa:00:00:00:0$v"
	ip -n "$NODE" link set "$(vf_if $v)" up && ip -n "$NODE" link set "$(vf_if $v)p" up
	"$MK" "$SYS" vf "$PFB" "$v" "0000:3b:00.$((v + 1))" iavf "$(vf_if $v)"
	echo 0x8086 >"$DEV/0000:3b:00.$((v + 1))/vendor"; echo 0x154c >"$DEV/0000:3b:00.$((v + 1))/device"
done
# The pool selects by the netdevsim PF's name.
printf '{"resourceList":[{"resourceName":"vf","selectors":[{"pfNames":["%s"]}]}]}\n' "$PFIF" >"$TMP/dra.json"

# The kubelet stand-in starts now: node loads grpc-js slowly under TCG.
mkdir -p "$TMP/reg"
cd "$TOP/tests/fixtures/grpc" || exit 1
coproc KL { exec node dra-kubelet.js "$TMP/reg" 2>"$TMP/kubelet.err"; }
t_proc "$KL_PID"
cd "$TOP" || exit 1

# ---- API objects: a NAD for the pool's resource, a pod on this node with one claim of VF 1 ---
# One jq for all of them: each process costs ~0.5 s here.
jq -n --arg t "$TMP" --arg m "$MAC" --arg nn "$NN" --arg u "$U" --arg pu "$PU" --arg d "$DRV" \
	--arg p "$POOL" '
	def nad($ns; $n; $c): {apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
		metadata:{namespace:$ns,name:$n},spec:{config:($c|tojson)}};
	def hl($n; $s): {type:"host-local",dataDir:"\($t)/ipam-\($n)",ranges:[[{subnet:$s}]]};
	{kind:"List",items:[
	 nad("kube-system"; "cluster"; {cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",
		ipam:hl("cl"; "10.120.0.0/24")}),
	 (nad("default"; "sriov-net"; {cniVersion:"1.0.0",type:"sriov",vlan:100,mac:$m,spoofchk:"on",
		trust:"on",ipam:hl("sr"; "10.121.0.0/24")}) |
		.metadata.annotations = {"k8s.v1.cni.cncf.io/resourceName":"plexus.io/vf"}),
	 {apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:"p1",uid:$pu,
		annotations:{"k8s.v1.cni.cncf.io/networks":"sriov-net"}},spec:{nodeName:$nn,
		containers:[{name:"c",image:"pause"}]},status:{resourceClaimStatuses:[{name:"vf",
		resourceClaimName:"p1-vf"}]}},
	 {apiVersion:"resource.k8s.io/v1",kind:"ResourceClaim",metadata:{namespace:"default",
		name:"p1-vf",uid:$u},spec:{devices:{requests:[{name:"vf",exactly:{deviceClassName:
		"sriov-vf.plexus.io"}}]}},status:{allocation:{devices:{results:[{request:"vf",driver:$d,
		pool:$p,device:"0000-3b-00-2"}]}},reservedFor:[{resource:"pods",name:"p1",uid:$pu}]}}]}' \
	>"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "vm/dra: API server fixture up in the guest" [ -n "$PORT" ]
[ -n "$PORT" ] || { cat "$TMP/api.err" >&2; exit 0; }
state() { ip netns exec "$NODE" curl -skf "https://127.0.0.1:$PORT/_fixture/state"; }
# j FILTER...: stdin is JSON and FILTER is true (jq 1.6 -e passes on empty input).
j() { local in; in=$(cat); [ -n "$in" ] && jq -e "$@" >/dev/null <<<"$in"; }
vf() { ip -n "$NODE" -d -j link show "$PFIF" | jq -c --argjson i "$1" '.[0].vfinfo_list[] | select(.vf == $i)'; }
ORIG0=$(vf 0) ORIG1=$(vf 1)
echo "PF $PFIF VF 1 before: $ORIG1" >&2
check "vm/dra: the netdevsim PF has VFs 0 and 1" [ -n "$ORIG0" -a -n "$ORIG1" ]

# ---- the kubelet stand-in registers plexus-dra, which publishes the netdevsim VFs ----------
send() { printf '%s\n' "$1" >&"${KL[1]}"; }
is() { [ -n "$LINE" ] && j "$1" <<<"$LINE"; }
check "vm/dra: kubelet stand-in ready" peer_expect '.event=="ready"' 30
ip netns exec "$NODE" env PLEXUS_SYSFS_ROOT="$SYS" "$DRA" --config "$TMP/dra.json" --node-name "$NN" \
	--kubeconfig "$TMP/kubeconfig" --registry-dir "$TMP/reg" --plugin-dir "$TMP/plugin" \
	--cdi-dir "$CDI" --device-info-dir "$INFO" --log-level debug 2>"$TMP/dra.log" &
D_PID=$!
t_proc "$D_PID"
peer_expect '.event=="registered"' 20
check "vm/dra: kubelet registered plexus-dra (GetInfo, NotifyRegistrationStatus)" \
	is ".ok==true and .name==\"$DRV\""
slice() { state | jq -c --arg p "$POOL" '[.items[] | select(.kind=="ResourceSlice" and
	.spec.pool.name==$p)] | {gen:([.[].spec.pool.generation]|unique), devices:[.[].spec.devices[]]}'; }
wait_slice() { # wait_slice FILTER: until the pool's slices match FILTER (into S), 20 s
	local end=$((SECONDS + 20))
	while :; do
		S=$(slice)
		j "$1" <<<"$S" 2>/dev/null && return 0
		[ "$SECONDS" -ge "$end" ] && { echo "slices: $S" >&2; return 1; }
		sleep 0.2
	done
}
check "vm/dra: slices: both VFs of the netdevsim PF published, generation 1" \
	wait_slice '[.devices[].name] == ["0000-3b-00-1","0000-3b-00-2"] and .gen == [1]'
check "vm/dra: slices: VF 1's attributes name the netdevsim PF and the resource" j --arg pf "$PFIF" \
	'.devices[1].attributes | .pfName.string == $pf and .pfPciAddress.string == "0000:3b:00.0" and
	 .vfIndex.int == 1 and .["k8s.cni.cncf.io/deviceID"].string == "0000:3b:00.2" and
	 .["k8s.cni.cncf.io/resourceName"].string == "plexus.io/vf"' <<<"$S"
# Health from the real PF: admin down clears its IFF_LOWER_UP, which withdraws its VFs.
ip -n "$NODE" link set "$PFIF" down
check "vm/dra: slices: netdevsim PF down withdraws both VFs (generation 2)" \
	wait_slice '(.devices | length) == 0 and .gen == [2]'
ip -n "$NODE" link set "$PFIF" up
check "vm/dra: slices: PF up again publishes them again (generation 3)" \
	wait_slice '(.devices | length) == 2 and .gen == [3]'

# ---- prepare the claim as kubelet does -----------------------------------------------------
CLAIMS="[{\"namespace\":\"default\",\"uid\":\"$U\",\"name\":\"p1-vf\"}]"
send "{\"cmd\":\"prepare\",\"driver\":\"$DRV\",\"claims\":$CLAIMS}"
peer_expect '.event=="prepare"' 20
check "vm/dra: prepare: the claim gets VF 1 (0000-3b-00-2) and its CDI ID" j --arg u "$U" --arg p "$POOL" \
	'.claims[$u].error == "" and .claims[$u].devices == [{request_names:["vf"],pool_name:$p,
	 device_name:"0000-3b-00-2",cdi_device_ids:["sriov.plexus.io/vf=\($u)-0000-3b-00-2"]}]' <<<"$LINE"
DI=$INFO/dp/plexus.io-vf-0000:3b:00.2-device.json
check "vm/dra: prepare: device-info file for VF 1 with its PF" j '.pci["pci-address"] == "0000:3b:00.2" and
	.pci["pf-pci-address"] == "0000:3b:00.0"' <"$DI"
check "vm/dra: prepare: the claim's CDI spec" test -f "$CDI/$DRV-$U.json"

# ---- the meta-plugin: ADD gives the pod the claimed VF ------------------------------------
# No podResourcesSocket: the device can only come from the claim.
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg t "$TMP" '{cniVersion:"1.0.0",name:"plexus-net",
	type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",cniDir:"\($t)/cache",confDir:"\($t)/confdir",
	deviceInfoDir:"\($t)/devinfo",tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
new_pod
plexus() { # plexus VERB: sets OUT, RC
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" PLEXUS_SYSFS_ROOT="$SYS" \
		PLEXUS_STATE_DIR="$TMP/state" CNI_COMMAND="$1" CNI_CONTAINERID=cid-p1 CNI_NETNS="$PODNS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1;K8S_POD_UID=$PU" \
		"$P" <<<"$CONF" 2>"$TMP/stderr")
	RC=$?
	cat "$TMP/stderr" >>"$TMP/all.stderr"
}
mkdir -p "$TMP/run"
plexus ADD
check "vm/dra: meta: ADD succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || echo "  out: $OUT $(cat "$TMP/stderr")"
read -r NET1_MAC IP < <(ip -n "$POD" -j addr show dev net1 2>/dev/null | jq -r '.[0] |
	"\(.address) \(.addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)")"')
check "vm/dra: meta: net1 in the pod is VF 1's stand-in, with the NAD's MAC and an IPAM address" bash -c \
	"[ '${NET1_MAC:-}' = $MAC ] && [[ '${IP:-}' == 10.121.0.*/24 ]] &&
	 ! ip -n $NODE link show $(vf_if 1) >/dev/null 2>&1 && ip -n $NODE link show $(vf_if 0) >/dev/null"
echo "VF 1 after ADD: $(vf 1)" >&2
check "vm/dra: meta: the netdevsim PF holds VF 1's MAC, VLAN 100, spoofchk and trust on" j --arg m "$MAC" \
	'.address == $m and .vlan_list[0].vlan == 100 and .spoofchk == true and .trust == true' <<<"$(vf 1)"
check "vm/dra: meta: VF 0 untouched on the PF" test "$(vf 0)" = "$ORIG0"
check "vm/dra: meta: the driver's device-info file went to the attachment" \
	test "$(jq -r '.pci["pci-address"]' "$INFO/cni/default-sriov-net-cid-p1_net1" 2>/dev/null)" = 0000:3b:00.2
ST=$(state | jq -c '.items[] | select(.kind=="ResourceClaim" and .metadata.name=="p1-vf") | .status.devices // []')
check "vm/dra: claim status: net1, its IP and MAC, Ready, for VF 1 of the pool" j --arg d "$DRV" --arg p "$POOL" \
	--arg ip "$IP" --arg m "$MAC" 'length == 1 and .[0].driver == $d and .[0].pool == $p and
	 .[0].device == "0000-3b-00-2" and .[0].networkData == {interfaceName:"net1",ips:[$ip],
	 hardwareAddress:$m} and .[0].conditions[0].type == "Ready" and .[0].conditions[0].status == "True"' <<<"$ST"

# ---- DEL returns the VF, unprepare removes what prepare wrote ------------------------------
plexus DEL
check "vm/dra: meta: DEL succeeds" test "$RC" -eq 0
echo "VF 1 after DEL: $(vf 1)" >&2
check "vm/dra: meta: DEL restores VF 1 on the netdevsim PF exactly" test "$(vf 1)" = "$ORIG1"
check "vm/dra: meta: DEL returns the stand-in to the node with its own MAC, the pod keeps only lo" bash -c \
	"[ '$(ip -n "$NODE" -j link show "$(vf_if 1)" 2>/dev/null | jq -r '.[0].address')' = 02:aa:00:00:00:01 ] &&
	 [ '$(ip -n "$POD" -j link show | jq -r '[.[].ifname] | join(",")')' = lo ]"
check "vm/dra: meta: DEL releases the address" test "$(leases "$TMP/ipam-sr")" -eq 0
send "{\"cmd\":\"unprepare\",\"driver\":\"$DRV\",\"claims\":$CLAIMS}"
peer_expect '.event=="unprepare"' 20
check "vm/dra: unprepare: succeeds" j --arg u "$U" '.claims[$u].error == ""' <<<"$LINE"
check "vm/dra: unprepare: device-info file and CDI spec removed" bash -c "[ ! -e '$DI' ] && [ ! -e '$CDI/$DRV-$U.json' ]"
send '{"cmd":"quit"}'
kill "$D_PID" && wait "$D_PID"
check "vm/dra: plexus-dra stops cleanly on SIGTERM" test $? -eq 0
check "vm/dra: no sanitizer report from plexus-dra or the meta-plugin" \
	bash -c "! grep -E 'Sanitizer|runtime error' '$TMP/all.stderr' '$TMP/dra.log'"
echo 1 >/sys/bus/netdevsim/del_device
