#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-dra against a kubelet stand-in that is not our code (tests/fixtures/grpc/dra-kubelet.js:
# grpc-js with the upstream pluginregistration and DRA v1 protos) and the API server fixture
# (ResourceSlice, ResourceClaim). VFs come from a fake sysfs tree; two VF netdevs are real veth
# ends in the node's netns, so downing their peers drops carrier (health). Root: netns, veths.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools dra jq ip node curl
DRA=$BIN/plexus-dra
[ -x "$DRA" ] || { fail "dra: $DRA missing (make?)"; exit 0; }
PEER=$TOP/tests/fixtures/grpc
grpc_peer_ready || { fail "dra: npm ci failed in $PEER"; exit 0; }
TMP=$(t_tmpdir)
MK=$TOP/tests/fixtures/mksysfs.sh
SYS=$TMP/sysfs REG=$TMP/registry PLUG=$TMP/plugin CDI=$TMP/cdi INFO=$TMP/devinfo
DEV=$SYS/sys/devices/pci0000:00
NODE=pxdra$T_ID NN=node-$T_ID DRV=sriov.plexus.io TOKEN=tok$T_ID
mkdir -p "$REG" "$SYS/dev/vfio"
: >"$SYS/dev/vfio/vfio"; : >"$SYS/dev/vfio/50"
t_netns "$NODE" || exit 1
ip -n "$NODE" link set lo up
for v in 0 1; do
	ip -n "$NODE" link add "px${T_ID}r${v}a" type veth peer name "px${T_ID}r${v}b" || exit 1
	ip -n "$NODE" link set "px${T_ID}r${v}a" up && ip -n "$NODE" link set "px${T_ID}r${v}b" up
done
ids() { echo 0x8086 >"$DEV/$1/vendor"; echo 0x154c >"$DEV/$1/device"; echo "$2" >"$DEV/$1/numa_node"; }
group() { mkdir -p "$SYS/sys/kernel/iommu_groups/$2"; ln -sfn "../../../kernel/iommu_groups/$2" "$DEV/$1/iommu_group"; }
# PF A 0000:3b:00.0: kernel-only pool "netdev"; VF0/VF1 are real veths.
"$MK" "$SYS" pf 0000:3b:00.0 pfa$T_ID nofake
echo 3 >"$DEV/0000:3b:00.0/sriov_numvfs"
"$MK" "$SYS" vf 0000:3b:00.0 0 0000:3b:02.0 iavf "px${T_ID}r0a"
"$MK" "$SYS" vf 0000:3b:00.0 1 0000:3b:02.1 iavf "px${T_ID}r1a"
"$MK" "$SYS" vf 0000:3b:00.0 2 0000:3b:02.2 iavf
for f in 0 1 2; do ids "0000:3b:02.$f" 0; group "0000:3b:02.$f" "4$f"; done
# PF B 0000:5e:00.0: pool "dpdk", whose selector lets a claim move a VF to vfio-pci.
"$MK" "$SYS" pf 0000:5e:00.0 pfb$T_ID nofake
echo 2 >"$DEV/0000:5e:00.0/sriov_numvfs"
"$MK" "$SYS" vf 0000:5e:00.0 0 0000:5e:02.0 iavf
"$MK" "$SYS" vf 0000:5e:00.0 1 0000:5e:02.1 iavf
for f in 0 1; do ids "0000:5e:02.$f" 1; group "0000:5e:02.$f" "5$f"; done
# PF C 0000:7a:00.0: 130 VFs, more than one ResourceSlice holds (128).
"$MK" "$SYS" pf 0000:7a:00.0 pfc$T_ID nofake
echo 130 >"$DEV/0000:7a:00.0/sriov_numvfs"
for i in $(seq 0 129); do
	"$MK" "$SYS" vf 0000:7a:00.0 "$i" "$(printf '0000:7b:%02x.%d' $((i / 8)) $((i % 8)))" iavf
done
cat >"$TMP/config.json" <<JSON
{"resourceList": [
 {"resourceName": "netdev", "selectors": [{"drivers": ["iavf"], "pfNames": ["pfa$T_ID"]}]},
 {"resourceName": "dpdk", "resourcePrefix": "example.com",
  "selectors": [{"drivers": ["iavf", "vfio-pci"], "rootDevices": ["0000:5e:00.0"]}]},
 {"resourceName": "bulk", "selectors": [{"rootDevices": ["0000:7a:00.0"]}]}
]}
JSON
PN=$NN-netdev PD=$NN-dpdk PB=$NN-bulk
# claim NAME UID POOL DEVICE [PARAMETERS_JSON]: an allocated ResourceClaim in "default".
claim() {
	jq -cn --arg n "$1" --arg u "$2" --arg p "$3" --arg d "$4" --arg drv "$DRV" \
		--argjson par "${5:-null}" '{apiVersion:"resource.k8s.io/v1",kind:"ResourceClaim",
		metadata:{namespace:"default",name:$n,uid:$u},spec:{devices:{requests:[{name:"vf",
		exactly:{deviceClassName:"sriov-vf"}}]}},status:{allocation:{devices:{results:[
		{request:"vf",driver:$drv,pool:$p,device:$d}],config:(if $par == null then [] else
		[{source:"FromClaim",requests:["vf"],opaque:{driver:$drv,parameters:$par}}] end)}}}}'
}
U1=11111111-0000-4000-8000-000000000001 U2=11111111-0000-4000-8000-000000000002
U3=11111111-0000-4000-8000-000000000003 U4=11111111-0000-4000-8000-000000000004
U5=11111111-0000-4000-8000-000000000005 U6=11111111-0000-4000-8000-000000000006
U7=11111111-0000-4000-8000-000000000007 U8=11111111-0000-4000-8000-000000000008
U9=11111111-0000-4000-8000-000000000009 U10=11111111-0000-4000-8000-000000000010
{
	claim kernel "$U1" "$PN" 0000-3b-02-2
	claim dpdk "$U2" "$PD" 0000-5e-02-0 '{"driver":"vfio-pci"}'
	claim unknown-dev "$U3" "$PN" 0000-3b-09-0
	claim other-node "$U4" other-node-netdev 0000-3b-02-2
	claim vfio-on-kernel "$U5" "$PN" 0000-3b-02-1 '{"driver":"vfio-pci"}'
	claim bad-param "$U6" "$PD" 0000-5e-02-1 '{"driver":"igb_uio"}'
	jq -cn --arg u "$U7" '{apiVersion:"resource.k8s.io/v1",kind:"ResourceClaim",
		metadata:{namespace:"default",name:"unallocated",uid:$u},spec:{}}'
	claim vfio-no-node "$U9" "$PD" 0000-5e-02-1 '{"driver":"vfio-pci"}'
	claim bad-request "$U10" "$PN" 0000-3b-02-0 | jq -c '.status.allocation.devices.results[0].request="v f"'
	# A slice of a pool this node no longer has, and another node's.
	for n in "$NN" other-node; do
		jq -cn --arg nn "$n" --arg d "$DRV" '{apiVersion:"resource.k8s.io/v1",
			kind:"ResourceSlice",metadata:{name:"\($nn)-gone-0"},spec:{driver:$d,nodeName:$nn,
			pool:{name:"\($nn)-gone",generation:4,resourceSliceCount:1},devices:[]}}'
	done
} | jq -s '{kind:"List",items:.}' >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "dra: API server fixture up" [ -n "$PORT" ]

cd "$PEER" || exit 1
coproc KL { exec node dra-kubelet.js "$REG" 2>"$TMP/kubelet.err"; }
KL_PID=$KL_PID
D_PID=
finish() {
	[ -n "$D_PID" ] && kill "$D_PID" 2>/dev/null
	[ -n "${KL_PID:-}" ] && kill "$KL_PID" 2>/dev/null
	t_cleanup
}
trap finish EXIT
send() { printf '%s\n' "$1" >&"${KL[1]}"; }
expect() { peer_expect "$@"; }
is() { [ -n "$LINE" ] && jq -e "$1" <<<"$LINE" >/dev/null; }
start_dra() {
	ip netns exec "$NODE" env PLEXUS_SYSFS_ROOT="$SYS" "$DRA" --config "$TMP/config.json" \
		--node-name "$NN" --kubeconfig "$TMP/kubeconfig" --registry-dir "$REG" \
		--plugin-dir "$PLUG" --cdi-dir "$CDI" --device-info-dir "$INFO" --log-level debug \
		2>>"$TMP/dra.log" &
	D_PID=$!
}
stop_dra() { kill "$D_PID" && wait "$D_PID"; local rc=$?; D_PID=; return "$rc"; }
state() { ip netns exec "$NODE" curl -sf "http://127.0.0.1:$PORT/_fixture/state" 2>/dev/null ||
	ip netns exec "$NODE" curl -skf "https://127.0.0.1:$PORT/_fixture/state"; }
# slice POOL: the pool's slices' specs, merged (devices concatenated), as JSON.
slice() { state | jq -c --arg p "$1" '[.items[]|select(.kind=="ResourceSlice" and
	.spec.pool.name==$p)] | {n:length, gen:([.[].spec.pool.generation]|unique),
	count:([.[].spec.pool.resourceSliceCount]|unique), node:([.[].spec.nodeName]|unique),
	driver:([.[].spec.driver]|unique), devices:[.[].spec.devices[]]}'; }
# wait_slice POOL FILTER [SECONDS]: until the pool's slice JSON matches FILTER (into S).
wait_slice() {
	local end=$((SECONDS + ${3:-5}))
	while :; do
		S=$(slice "$1")
		jq -e "$2" <<<"$S" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && { echo "slice $1: $S" >&2; return 1; }
		sleep 0.1
	done
}
names='[.devices[].name]'
j() { jq -e "$@" >/dev/null; }

check "dra: kubelet stand-in ready" expect '.event=="ready"' 20
start_dra
expect '.event=="getinfo"' 10
check "register: GetInfo type DRAPlugin, driver name, endpoint, v1.DRAPlugin" is \
	".type==\"DRAPlugin\" and .name==\"$DRV\" and .endpoint==\"$PLUG/dra.sock\" and
	 .socket==\"$DRV-reg.sock\" and (.supported_versions|index(\"v1.DRAPlugin\")) != null"
expect '.event=="registered"' 5
check "register: NotifyRegistrationStatus accepted" is '.ok==true and .notify_error==null'
grep -q "registered with kubelet" "$TMP/dra.log"
check "register: the driver logged kubelet's status" [ $? -eq 0 ]

# ---- ResourceSlices ----------------------------------------------------------------------
wait_slice "$PN" '.devices|length==3'
check "slices: pool netdev has its 3 VFs, named PCI address with - (0000-3b-02-0)" j \
	"$names"' == ["0000-3b-02-0","0000-3b-02-1","0000-3b-02-2"]' <<<"$S"
check "slices: pool netdev generation 1, one slice, node and driver" j \
	".gen==[1] and .count==[1] and .node==[\"$NN\"] and .driver==[\"$DRV\"]" <<<"$S"
check "slices: attributes of 0000-3b-02-0" j --arg pf "pfa$T_ID" '.devices[0].attributes
	| .pciAddress.string=="0000:3b:02.0" and .pfPciAddress.string=="0000:3b:00.0" and
	.pfName.string==$pf and .vendor.string=="8086" and .device.string=="154c" and
	.driver.string=="iavf" and .numaNode.int==0 and .vfIndex.int==0 and .linkType==null and
	.["resource.kubernetes.io/pcieRoot"].string=="pci0000:00" and
	.["k8s.cni.cncf.io/deviceID"].string=="0000:3b:02.0" and
	.["k8s.cni.cncf.io/resourceName"].string=="plexus.io/netdev"' <<<"$S"
wait_slice "$PD" '.devices|length==2'
check "slices: pool dpdk, resourceName with its prefix, numa 1" j "$names"' ==
	["0000-5e-02-0","0000-5e-02-1"] and .devices[1].attributes.numaNode.int==1 and
	.devices[1].attributes["k8s.cni.cncf.io/resourceName"].string=="example.com/dpdk"' <<<"$S"

check "slices: a stale pool of this node is deleted, another node's kept" \
	[ "$(state | jq -c '[.items[]|select(.kind=="ResourceSlice")|.metadata.name|
	select(endswith("-gone-0"))]')" = '["other-node-gone-0"]' ]

ip -n "$NODE" link set "px${T_ID}r0b" down
check "slices: carrier loss withdraws the VF, generation 2" \
	wait_slice "$PN" "$names"' == ["0000-3b-02-1","0000-3b-02-2"] and .gen==[2]'
ip -n "$NODE" link set "px${T_ID}r0b" up
check "slices: carrier back, the VF returns, generation 3" \
	wait_slice "$PN" "$names"' == ["0000-3b-02-0","0000-3b-02-1","0000-3b-02-2"] and .gen==[3]'
"$MK" "$SYS" vf 0000:5e:00.0 2 0000:5e:02.2 iavf
ids 0000:5e:02.2 1
kill -HUP "$D_PID"
check "slices: a VF added (SIGHUP) joins pool dpdk, generation 2" \
	wait_slice "$PD" '(.devices|length)==3 and .gen==[2]'
S=$(slice "$PN")
check "slices: the other pool is untouched (generation 3)" j '.gen==[3]' <<<"$S"
bulk_names() { state | jq -c --arg p "$PB" '[.items[]|select(.kind=="ResourceSlice" and
	.spec.pool.name==$p)|.metadata.name]|sort'; }
wait_slice "$PB" '(.devices|length)==130'
check "slices: 130 VFs in 2 slices of one pool (count 2, generation 1)" \
	j '.n==2 and .count==[2] and .gen==[1]' <<<"$S"
check "slices: named <pool>-<driver>-<k>" [ "$(bulk_names)" = "[\"$PB-sriov-plexus-io-0\",\"$PB-sriov-plexus-io-1\"]" ]
rm "$DEV"/0000:7a:00.0/virtfn12[789]
kill -HUP "$D_PID"
check "slices: the pool shrinks to 127 VFs: one slice, generation 2" \
	wait_slice "$PB" '(.devices|length)==127 and .n==1 and .count==[1] and .gen==[2]'
check "slices: the second slice is deleted" [ "$(bulk_names)" = "[\"$PB-sriov-plexus-io-0\"]" ]

# ---- prepare ------------------------------------------------------------------------------
cl() { jq -cn --arg u "$2" --arg n "$1" '{namespace:"default",uid:$u,name:$n}'; }
BATCH=$(jq -cs . <<<"$(cl kernel "$U1") $(cl dpdk "$U2") $(cl unknown-dev "$U3") \
	$(cl other-node "$U4") $(cl vfio-on-kernel "$U5") $(cl bad-param "$U6") \
	$(cl unallocated "$U7") $(cl missing "$U8") $(cl bad-request "$U10")")
send "{\"cmd\":\"prepare\",\"driver\":\"$DRV\",\"claims\":$BATCH}"
expect '.event=="prepare"' 10
P=$LINE
check "prepare: a batch of 9 claims gets 9 answers" j '.claims|length==9' <<<"$P"
check "prepare: kernel VF claim -> its device and CDI ID" j --arg u "$U1" --arg p "$PN" \
	'.claims[$u].error=="" and .claims[$u].devices==[{request_names:["vf"],pool_name:$p,
	device_name:"0000-3b-02-2",cdi_device_ids:["sriov.plexus.io/vf=\($u)-0000-3b-02-2"]}]' <<<"$P"
check "prepare: DPDK claim -> its device and CDI ID" j --arg u "$U2" \
	'.claims[$u].error=="" and .claims[$u].devices[0].cdi_device_ids==
	["sriov.plexus.io/vf=\($u)-0000-5e-02-0"]' <<<"$P"
err_is() { jq -e --arg u "$1" --arg m "$2" '.claims[$u].error|contains($m)' <<<"$P" >/dev/null ||
	{ echo "claim $1: $(jq -c --arg u "$1" '.claims[$u]' <<<"$P")" >&2; return 1; }; }
check "prepare: unknown device -> per-claim error" \
	err_is "$U3" "device '0000-3b-09-0' not in pool '$PN'"
check "prepare: another node's pool -> per-claim error" \
	err_is "$U4" "pool 'other-node-netdev' is not one of driver '$DRV' on node '$NN'"
check "prepare: vfio requested on a kernel-only pool -> per-claim error" \
	err_is "$U5" "driver 'vfio-pci' not allowed on pool '$PN'"
check "prepare: unsupported opaque parameter -> error naming the field" \
	err_is "$U6" "status.allocation.devices.config[0].opaque.parameters.driver: 'igb_uio'"
check "prepare: unallocated claim -> per-claim error" err_is "$U7" "not allocated"
check "prepare: missing claim -> per-claim error" err_is "$U8" "resourceclaims/default/missing"
check "prepare: invalid request name -> per-claim error" \
	err_is "$U10" "status.allocation.devices.results[0].request: invalid name 'v f'"

VF2=$DEV/0000:5e:02.0
bound() { [ "$(cat "$VF2/driver_override")" = vfio-pci ] &&
	[ "$(cat "$SYS/sys/bus/pci/drivers/iavf/unbind")" = 0000:5e:02.0 ] &&
	[ "$(cat "$SYS/sys/bus/pci/drivers_probe")" = 0000:5e:02.0 ]; }
check "prepare: DPDK VF handed to vfio-pci (driver_override, unbind, drivers_probe)" bound
check "prepare: bad claims changed nothing (no override on the kernel pool's VF)" \
	[ ! -e "$DEV/0000:3b:02.1/driver_override" -a ! -e "$DEV/0000:5e:02.1/driver_override" ]
check "prepare: CDI specs only for the two good claims" \
	[ "$(ls "$CDI" | sort | tr '\n' ' ')" = "$DRV-$U1.json $DRV-$U2.json " ]
check "prepare: device-info files for both VFs" \
	[ -f "$INFO/dp/plexus.io-netdev-0000:3b:02.2-device.json" \
	-a -f "$INFO/dp/example.com-dpdk-0000:5e:02.0-device.json" ]
check "prepare: device-info content" j '.type=="pci" and .version=="1.1.0" and
	.pci["pci-address"]=="0000:5e:02.0" and .pci["pf-pci-address"]=="0000:5e:00.0"' \
	"$INFO/dp/example.com-dpdk-0000:5e:02.0-device.json"

# CDI specs checked by the rules container runtimes apply (container-device-interface's
# parser: vendor, class and device names, a version, non-empty edits) and each returned ID
# resolving to exactly one device of that kind.
cdi_valid() {
	local f ids
	for f in "$CDI"/*.json; do
		jq -e '(.cdiVersion|test("^[0-9]+\\.[0-9]+\\.[0-9]+$")) and
			(.kind|test("^[A-Za-z]([A-Za-z0-9_.-]*[A-Za-z0-9])?/[A-Za-z]([A-Za-z0-9_-]*[A-Za-z0-9])?$")) and
			(.devices|length>0) and all(.devices[]; (.name|test("^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$"))
			and ((.containerEdits.env // [])+(.containerEdits.deviceNodes // [])|length>0)
			and all((.containerEdits.deviceNodes // [])[]; .path|startswith("/dev/")))' "$f" >/dev/null ||
			{ echo "invalid CDI spec $f" >&2; return 1; }
	done
	ids=$(jq -r '.claims[]|.devices[]?|.cdi_device_ids[]' <<<"$P")
	for id in $ids; do
		[ "$(jq -s --arg k "${id%%=*}" --arg n "${id#*=}" '[.[]|select(.kind==$k)|.devices[]|
			select(.name==$n)]|length' "$CDI"/*.json)" = 1 ] || { echo "unresolved $id" >&2; return 1; }
	done
}
check "cdi: specs valid, every returned CDI ID resolves" cdi_valid
check "cdi: the vfio VF carries /dev/vfio/vfio and its group node /dev/vfio/50" j \
	'[.devices[0].containerEdits.deviceNodes[].path]==["/dev/vfio/vfio","/dev/vfio/50"] and
	 .devices[0].containerEdits.env==["PCIDEVICE_0000_5E_02_0=0000:5e:02.0"]' "$CDI/$DRV-$U2.json"
check "cdi: the kernel VF has no device nodes" j '.devices[0].containerEdits.deviceNodes==null' \
	"$CDI/$DRV-$U1.json"

# ---- idempotence and restart --------------------------------------------------------------
gets() { grep -c "GET /apis/resource.k8s.io/v1/namespaces/default/resourceclaims/kernel " "$TMP/api.log"; }
G0=$(gets)
send "{\"cmd\":\"prepare\",\"driver\":\"$DRV\",\"claims\":[$(cl kernel "$U1")]}"
expect '.event=="prepare"' 10
check "prepare: repeated call, same answer" j --arg u "$U1" --argjson p "$P" \
	'.claims[$u]==$p.claims[$u]' <<<"$LINE"
check "prepare: repeated call answered from the checkpoint (no API read)" [ "$(gets)" = "$G0" ]
check "restart: SIGTERM exits 0" stop_dra
check "restart: sockets removed on exit" [ ! -e "$REG/$DRV-reg.sock" -a ! -e "$PLUG/dra.sock" ]
GEN=$(slice "$PN")
start_dra
check "restart: registers again" expect '.event=="registered" and .ok==true' 10
send "{\"cmd\":\"prepare\",\"driver\":\"$DRV\",\"claims\":[$(cl dpdk "$U2"),$(cl kernel "$U1")]}"
expect '.event=="prepare"' 10
check "restart: prepared claims answered the same from the checkpoint" j --argjson p "$P" \
	--arg a "$U1" --arg b "$U2" '.claims[$a]==$p.claims[$a] and .claims[$b]==$p.claims[$b]' <<<"$LINE"
check "restart: no API read for them" [ "$(gets)" = "$G0" ]
sleep 0.5
check "restart: the slices are adopted, not republished (same generation)" \
	[ "$(slice "$PN")" = "$GEN" ]

# A side effect that fails half-way is undone: the VF bound to vfio-pci but its group's
# device node never appears.
send "{\"cmd\":\"prepare\",\"driver\":\"$DRV\",\"claims\":[$(cl vfio-no-node "$U9")]}"
expect '.event=="prepare"' 10
check "prepare: vfio node missing after the bind -> per-claim error" j --arg u "$U9" \
	'.claims[$u].error|contains("/dev/vfio/51'"'"' missing after the vfio-pci bind")' <<<"$LINE"
check "prepare: ... and the bind undone, nothing recorded" [ "$(cat "$DEV/0000:5e:02.1/driver_override")" = "" \
	-a ! -e "$CDI/$DRV-$U9.json" ]
check "prepare: ... checkpoint holds only the two prepared claims" j --arg a "$U1" --arg b "$U2" \
	'[.claims[].uid]|sort==([$a,$b]|sort)' "$PLUG/checkpoint.json"

# ---- unprepare ---------------------------------------------------------------------------
send "{\"cmd\":\"unprepare\",\"driver\":\"$DRV\",\"claims\":[$(cl kernel "$U1"),$(cl dpdk "$U2"),$(cl missing "$U8")]}"
expect '.event=="unprepare"' 10
check "unprepare: three claims, no errors (one never prepared)" j \
	'(.claims|length)==3 and all(.claims[]; .error=="")' <<<"$LINE"
check "unprepare: CDI specs and device-info files removed" \
	[ -z "$(ls "$CDI")" -a -z "$(ls "$INFO/dp")" ]
check "unprepare: the DPDK VF's driver restored (override cleared, reprobed)" \
	[ "$(cat "$VF2/driver_override")" = "" -a "$(cat "$SYS/sys/bus/pci/drivers/vfio-pci/unbind" 2>/dev/null || cat "$SYS/sys/bus/pci/drivers/iavf/unbind")" = 0000:5e:02.0 ]
check "unprepare: checkpoint empty" j '.claims==[]' "$PLUG/checkpoint.json"
send "{\"cmd\":\"unprepare\",\"driver\":\"$DRV\",\"claims\":[$(cl kernel "$U1")]}"
expect '.event=="unprepare"' 10
check "unprepare: repeated call succeeds" j --arg u "$U1" '.claims[$u].error==""' <<<"$LINE"

# A crash between the recorded intent and the end of prepare: the checkpoint says
# "preparing" and the VF is half-bound; after the restart unprepare undoes it.
check "dra: SIGTERM exits 0" stop_dra
jq -n --arg u "$U9" '{claims:[{uid:$u,namespace:"default",name:"vfio-no-node",state:0,
	devices:[{request:"vf",pool:"x-dpdk",device:"0000-5e-02-1",bdf:"0000:5e:02.1",
	resource:"example.com/dpdk",origDriver:"iavf",vfio:true,iommuGroup:51}]}]}' >"$PLUG/checkpoint.json"
echo vfio-pci >"$DEV/0000:5e:02.1/driver_override"
start_dra
expect '.event=="registered" and .ok==true' 10
send "{\"cmd\":\"unprepare\",\"driver\":\"$DRV\",\"claims\":[$(cl vfio-no-node "$U9")]}"
expect '.event=="unprepare"' 10
check "crash: an interrupted prepare is undone by unprepare after a restart" \
	[ "$(jq -r --arg u "$U9" '.claims[$u].error' <<<"$LINE")" = "" \
	-a "$(cat "$DEV/0000:5e:02.1/driver_override")" = "" ]
check "crash: checkpoint empty" j '.claims==[]' "$PLUG/checkpoint.json"
# A checkpoint that does not validate stops the driver with a message naming the field.
stop_dra
jq -n '{claims:[{uid:"x",namespace:"default",name:"n",state:1,devices:[{request:"vf",
	pool:"p",device:"d",bdf:"../../etc",resource:"r",origDriver:"",vfio:false,iommuGroup:-1}]}]}' \
	>"$PLUG/checkpoint.json"
start_dra
wait "$D_PID"
RC=$? D_PID=
refused() { [ "$RC" = 1 ] && grep -q "checkpoint.claims\[0\].devices\[0\].bdf" "$TMP/dra.log"; }
check "crash: a corrupt checkpoint is refused (exit 1, field named)" refused
send '{"cmd":"quit"}'
