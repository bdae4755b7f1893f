#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The meta-plugin takes a NAD's resourceName device from the pod's ResourceClaims: plexus-dra
# publishes the node's VFs (fake sysfs, VF netdevs are veth ends in the node's netns) as
# ResourceSlices in the API server fixture; pods with allocated claims get the claimed VF through
# the built-in sriov plugin and the claim's status.devices gets networkData; bad claims are
# refused and change nothing; a pod without claims still uses PodResources (grpc-js stand-in);
# direct and through plexus-apid. Root: netns, veths.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools meta-claims jq ip node curl
DRA=$BIN/plexus-dra P=$BIN/plexus
[ -x "$DRA" ] && [ -x "$P" ] || { fail "meta-claims: $DRA or $P missing (make?)"; exit 0; }
grpc_peer_ready || { fail "meta-claims: npm ci failed in tests/fixtures/grpc"; exit 0; }
TMP=$(t_tmpdir)
MK=$TOP/tests/fixtures/mksysfs.sh
SYS=$TMP/sysfs DEV=$TMP/sysfs/sys/devices/pci0000:00
NODE=pxmc$T_ID NN=node-$T_ID DRV=sriov.plexus.io TOKEN=tok$T_ID POOL=node-$T_ID-vf
t_netns "$NODE" || exit 1
ip -n "$NODE" link set lo up
ip -n "$NODE" link add eth9 type veth peer name eth9p
ip -n "$NODE" link set eth9 up && ip -n "$NODE" link set eth9p up
# VF stand-ins: vN is the netdev of VF N, MAC 02:aa:00:00:00:0N.
vf_if() { echo "px${T_ID}c$1"; }
for v in 0 1 2 3; do
	ip -n "$NODE" link add "$(vf_if $v)" type veth peer name "$(vf_if $v)p" || exit 1
	ip -n "$NODE" link set "$(vf_if $v)" address "02:aa:00:00:00:0$v"
	ip -n "$NODE" link set "$(vf_if $v)" up && ip -n "$NODE" link set "$(vf_if $v)p" up
done
# PF 0000:5e:00.0: three VFs published by plexus-dra. PF 0000:3b:00.0: one VF kubelet's
# PodResources stand-in hands out (0000:3b:02.0, pod default/web).
"$MK" "$SYS" pf 0000:5e:00.0 pfb$T_ID
echo 3 >"$DEV/0000:5e:00.0/sriov_numvfs"
for f in 0 1 2; do
	"$MK" "$SYS" vf 0000:5e:00.0 "$f" "0000:5e:02.$f" iavf "$(vf_if $f)"
	echo 0x8086 >"$DEV/0000:5e:02.$f/vendor"; echo 0x154c >"$DEV/0000:5e:02.$f/device"
done
"$MK" "$SYS" pf 0000:3b:00.0 pfa$T_ID
echo 1 >"$DEV/0000:3b:00.0/sriov_numvfs"
"$MK" "$SYS" vf 0000:3b:00.0 0 0000:3b:02.0 iavf "$(vf_if 3)"
echo '{"resourceList":[{"resourceName":"vf","selectors":[{"rootDevices":["0000:5e:00.0"]}]}]}' \
	>"$TMP/dra.json"

# ---- API objects -----------------------------------------------------------------------------
uidof() { printf '22222222-0000-4000-8000-%012d' "$(cksum <<<"$1" | cut -d' ' -f1 | cut -c1-9)"; }
nad() { # nad NS NAME CONFIG [RESOURCE]
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" --arg r "${4:-}" '{apiVersion:"k8s.cni.cncf.io/v1",
		kind:"NetworkAttachmentDefinition",metadata:({namespace:$ns,name:$n} + (if $r == "" then {}
		else {annotations:{"k8s.v1.cni.cncf.io/resourceName":$r}} end)),spec:{config:$c}}'
}
pod() { # pod NAME NETWORKS [CLAIM...]: a pod on this node, its claims in resourceClaimStatuses
	local n=$1 a=$2
	shift 2
	jq -cn --arg n "$n" --arg a "$a" --arg u "$(uidof "$n")" --arg nn "$NN" \
		--argjson c "$(printf '%s\n' "$@" | jq -R 'select(. != "")' | jq -s .)" \
		'{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:$n,uid:$u,
		  annotations:{"k8s.v1.cni.cncf.io/networks":$a}},spec:{nodeName:$nn,
		  containers:[{name:"c",image:"pause"}]},
		  status:(if ($c|length) == 0 then {} else {resourceClaimStatuses:
		  [$c | to_entries[] | {name:"vf\(.key)",resourceClaimName:.value}]} end)}'
}
claim() { # claim NAME RESERVED_FOR_POD POOL DEVICE...: allocated, reserved for that pod
	local n=$1 for=$2 pool=$3
	shift 3
	jq -cn --arg n "$n" --arg f "$for" --arg fu "$(uidof "$for")" --arg p "$pool" --arg d "$DRV" \
		--argjson devs "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
		'{apiVersion:"resource.k8s.io/v1",kind:"ResourceClaim",metadata:{namespace:"default",
		  name:$n,uid:("uid-"+$n)},spec:{devices:{requests:[{name:"vf",exactly:{deviceClassName:
		  "sriov-vf"}}]}},status:{allocation:{devices:{results:[$devs[] | {request:"vf",
		  driver:$d,pool:$p,device:.}]}},reservedFor:[{resource:"pods",name:$f,uid:$fu}]}}'
}
hl() { jq -cn --arg d "$TMP/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
CLUSTER=$(jq -cn --argjson i "$(hl cl 10.120.0.0/24)" '{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')
SRIOV=$(jq -cn --argjson i "$(hl sr 10.121.0.0/24)" '{cniVersion:"1.0.0",type:"sriov",ipam:$i}')
{
	nad kube-system cluster "$CLUSTER"
	nad default sriov-net "$SRIOV" plexus.io/vf
	nad default sriov-pr "$SRIOV" intel.com/sriov
	pod p1 sriov-net,sriov-net p1-vfs
	pod p2 sriov-net p7-vf
	pod p3 sriov-net p3-vf
	pod p4 sriov-net p4-vf
	pod p5 sriov-net p5-vf
	pod p7 sriov-net p7-vf
	pod web sriov-pr
	claim p1-vfs p1 "$POOL" 0000-5e-02-0 0000-5e-02-1
	claim p7-vf p7 "$POOL" 0000-5e-02-2
	claim p3-vf p3 other-node-vf 0000-5e-02-2
	claim p4-vf p4 "$POOL" 0000-5e-02-7
	claim p5-vf p5 "$POOL" 0000-5e-02-2 | jq -c '.metadata.name="p5-vf" | .status.reservedFor=[]'
	# Another node's pool of the same driver.
	jq -cn --arg d "$DRV" '{apiVersion:"resource.k8s.io/v1",kind:"ResourceSlice",metadata:
		{name:"other-node-vf-0"},spec:{driver:$d,nodeName:"other-node",pool:{name:"other-node-vf",
		generation:1,resourceSliceCount:1},devices:[{name:"0000-5e-02-2",attributes:{
		"k8s.cni.cncf.io/deviceID":{string:"0000:5e:02.2"},"k8s.cni.cncf.io/resourceName":
		{string:"plexus.io/vf"}}}]}}'
} | jq -s '{kind:"List",items:.}' >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "meta-claims: API server fixture up" [ -n "$PORT" ]
state() { ip netns exec "$NODE" curl -skf "https://127.0.0.1:$PORT/_fixture/state"; }
claim_status() { state | jq -c --arg n "$1" '.items[] | select(.kind=="ResourceClaim" and
	.metadata.name==$n) | .status.devices // []'; }
jqe() { jq -e "$@" >/dev/null; }
api_count() { grep -c -- "$1" "$TMP/api.log"; }

# ---- plexus-dra publishes the node's pool, then stops ----------------------------------------
mkdir -p "$TMP/reg"
ip netns exec "$NODE" env PLEXUS_SYSFS_ROOT="$SYS" "$DRA" --config "$TMP/dra.json" --node-name "$NN" \
	--kubeconfig "$TMP/kubeconfig" --registry-dir "$TMP/reg" --plugin-dir "$TMP/plugin" \
	--cdi-dir "$TMP/cdi" --device-info-dir "$TMP/devinfo" 2>"$TMP/dra.log" &
D_PID=$!
t_proc "$D_PID"
for _ in $(seq 100); do
	[ "$(state | jq '[.items[] | select(.kind=="ResourceSlice" and .spec.pool.name=="'"$POOL"'") |
		.spec.devices[]] | length')" = 3 ] && break
	sleep 0.1
done
kill "$D_PID" && wait "$D_PID" 2>/dev/null
ATTRS=$(state | jq -c '[.items[] | select(.kind=="ResourceSlice" and .spec.nodeName=="'"$NN"'") |
	.spec.devices[].attributes["k8s.cni.cncf.io/resourceName"].string] | unique')
check "meta-claims: plexus-dra published the pool's 3 VFs with the resourceName attribute" \
	test "$ATTRS" = '["plexus.io/vf"]'
[ "$ATTRS" = '["plexus.io/vf"]' ] || tail -5 "$TMP/dra.log"

# A stale generation of the pool, as while a driver rewrites it, holds a device the current one
# does not: it must not count.
ip netns exec "$NODE" curl -skf -X PUT "https://127.0.0.1:$PORT/_fixture/objects" -d "$(jq -cn \
	--arg d "$DRV" --arg p "$POOL" --arg nn "$NN" '{apiVersion:"resource.k8s.io/v1",kind:"ResourceSlice",
	metadata:{name:"\($p)-stale"},spec:{driver:$d,nodeName:$nn,pool:{name:$p,generation:0,
	resourceSliceCount:1},devices:[{name:"0000-5e-02-7",attributes:{"k8s.cni.cncf.io/deviceID":
	{string:"0000:5e:02.7"},"k8s.cni.cncf.io/resourceName":{string:"plexus.io/vf"}}}]}}')" >/dev/null

# ---- the meta-plugin ---------------------------------------------------------------------------
SOCK=$TMP/run/apid.sock
mkdir -p "$TMP/run"
node "$TOP/tests/fixtures/grpc/podresources-server.js" "$TMP/kubelet.sock" ok >"$TMP/pr.out" 2>&1 &
PR_PID=$!
t_proc "$PR_PID"
for _ in $(seq 100); do grep -q READY "$TMP/pr.out" 2>/dev/null && break; sleep 0.05; done
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg t "$TMP" --arg s "$TMP/kubelet.sock" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
	  cniDir:"\($t)/cache",confDir:"\($t)/confdir",podResourcesSocket:$s,deviceInfoDir:"\($t)/devinfo",
	  tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
CONF_R=$(jq -c --arg s "$SOCK" '. + {apiRelay:$s}' <<<"$CONF")
podns() { echo "pxmp$T_ID-$1"; }
plexus() { # plexus VERB POD [CONF]: sets OUT, RC
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" PLEXUS_SYSFS_ROOT="$SYS" \
		PLEXUS_STATE_DIR="$TMP/state" CNI_COMMAND="$1" CNI_CONTAINERID="cid-$2" \
		CNI_NETNS="/run/netns/$(podns "$2")" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_UID=$(uidof "$2")" \
		"$P" <<<"${3:-$CONF}" 2>"$TMP/stderr")
	RC=$?
	cat "$TMP/stderr" >>"$TMP/all.stderr"
}
mkpod() { t_netns "$(podns "$1")"; ip -n "$(podns "$1")" link set lo up; }
is_err() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
msg_has() { jq -r '.msg // ""' <<<"$OUT" | grep -q -- "$1" || { echo "  msg: $OUT" >&2; return 1; }; }
pod_mac() { ip -n "$(podns "$1")" -j link show "$2" 2>/dev/null | jq -r '.[0].address'; }
pod_links() { ip -n "$(podns "$1")" -j link show | jq -r '[.[].ifname] | sort | join(",")'; }
in_node() { ip -n "$NODE" link show "$(vf_if "$1")" >/dev/null 2>&1; }
pod_ip() { ip -n "$(podns "$1")" -j addr show dev "$2" | jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"'; }

# A claim with two VFs for two attachments of the NAD: one device each, in result order.
# plexus-dra's device-info file for the VF, as its prepare writes it.
mkdir -p "$TMP/devinfo/dp"
echo '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:5e:02.0"}}' \
	>"$TMP/devinfo/dp/plexus.io-vf-0000:5e:02.0-device.json"
mkpod p1
plexus ADD p1
check "direct: ADD p1 (two claimed VFs) succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || echo "  out: $OUT $(cat "$TMP/stderr")"
check "... net1 is VF 0000:5e:02.0 (its stand-in's MAC), net2 is VF 0000:5e:02.1" \
	test "$(pod_mac p1 net1) $(pod_mac p1 net2)" = "02:aa:00:00:00:00 02:aa:00:00:00:01"
check "... the claimed VFs left the node, the unclaimed one stayed" \
	bash -c "! ip -n $NODE link show $(vf_if 0) >/dev/null 2>&1 && ! ip -n $NODE link show $(vf_if 1) >/dev/null 2>&1 && ip -n $NODE link show $(vf_if 2) >/dev/null"
check "... kubelet's PodResources was not asked (no error, devices from the claim)" \
	bash -c "! grep -q 'PodResources' '$TMP/stderr'"
S=$(claim_status p1-vfs)
check "... claim status.devices: one entry per VF with interfaceName, CIDR IP, MAC, Ready" \
	jqe --arg d "$DRV" --arg p "$POOL" --arg ip1 "$(pod_ip p1 net1)" --arg ip2 "$(pod_ip p1 net2)" \
	'length == 2 and (map({driver,pool,device,n:.networkData}) == [
	 {driver:$d,pool:$p,device:"0000-5e-02-0",n:{interfaceName:"net1",ips:[$ip1],hardwareAddress:"02:aa:00:00:00:00"}},
	 {driver:$d,pool:$p,device:"0000-5e-02-1",n:{interfaceName:"net2",ips:[$ip2],hardwareAddress:"02:aa:00:00:00:01"}}])
	 and all(.[]; .conditions[0].type == "Ready" and .conditions[0].status == "True" and
	 (.conditions[0].lastTransitionTime | test("^[0-9-]+T[0-9:]+Z$")))' <<<"$S"
check "... the driver's device-info file is copied for the attachment, as with PodResources" \
	test "$(jq -r '.pci["pci-address"]' "$TMP/devinfo/cni/default-sriov-net-cid-p1_net1" 2>/dev/null)" = 0000:5e:02.0
check "... the IPs are the IPAM's (10.121.0.x/24)" bash -c "[[ '$(pod_ip p1 net1)' == 10.121.0.*/24 ]]"
check "... one LIST of this node's slices, by field selector" \
	test "$(api_count "GET /apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=$NN ")" -ge 1
plexus DEL p1
check "direct: DEL p1 succeeds and gives both VFs back to the node" \
	bash -c "[ $RC -eq 0 ] && ip -n $NODE link show $(vf_if 0) >/dev/null && ip -n $NODE link show $(vf_if 1) >/dev/null && [ '$(pod_links p1)' = lo ]"

# Bad claims: clear error, code 104, nothing changed.
bad() { # bad POD WHAT MESSAGE
	local before after
	before=$(state | jq -c '[.items[] | select(.kind=="ResourceClaim")] | map(.status)')
	mkpod "$1"
	plexus ADD "$1"
	check "refused: $2 (code 104)" is_err 104
	check "... naming it: $3" msg_has "$3"
	after=$(state | jq -c '[.items[] | select(.kind=="ResourceClaim")] | map(.status)')
	check "... nothing changed (pod links, VF 2 on the node, no intent log, claims)" bash -c \
		"[ '$(pod_links "$1")' = lo ] && ip -n $NODE link show $(vf_if 2) >/dev/null &&
		 [ ! -e $TMP/cache/cid-$1.json ] && [ '$before' = '$after' ]"
}
bad p2 "a claim reserved for another pod" "resource claim 'p7-vf' is not reserved for pod 'default/p2'"
bad p3 "a claim from another node's pool" "pool 'other-node-vf' is not one of driver '$DRV' on node '$NN'"
bad p4 "a device not in this node's slices (only in a stale generation)" "device '0000-5e-02-7' is not in pool '$POOL'"
bad p5 "a claim reserved for nobody" "resource claim 'p5-vf' is not reserved for pod"
# A device whose deviceID attribute is no PCI address (it would name the device-info file).
put() { ip netns exec "$NODE" curl -skf -X PUT "https://127.0.0.1:$PORT/_fixture/objects" -d "$1" >/dev/null; }
put "$(jq -cn --arg d "$DRV" --arg nn "$NN" '{apiVersion:"resource.k8s.io/v1",kind:"ResourceSlice",
	metadata:{name:"\($nn)-odd-0"},spec:{driver:$d,nodeName:$nn,pool:{name:"\($nn)-odd",generation:1,
	resourceSliceCount:1},devices:[{name:"odd-0",attributes:{"k8s.cni.cncf.io/deviceID":
	{string:"../../../etc/passwd"},"k8s.cni.cncf.io/resourceName":{string:"plexus.io/vf"}}}]}}')"
put "$(claim p6-vf p6 "$NN-odd" odd-0)"
put "$(pod p6 sriov-net p6-vf)"
bad p6 "a device whose deviceID is not a PCI address" "attribute k8s.cni.cncf.io/deviceID '../../../etc/passwd' is not a PCI address"
# A claim name in the pod's status that is no object name: refused before any request.
put "$(pod p8 sriov-net p8-vf | jq -c '.status.resourceClaimStatuses[0].resourceClaimName = "../p7-vf"')"
mkpod p8
N_CLAIM_REQ=$(api_count resourceclaims)
plexus ADD p8
check "refused: a resourceClaimName that is not an object name (code 7)" is_err 7
check "... naming the field" msg_has "resourceClaimStatuses\[0\].resourceClaimName: not a valid object name"
check "... and no claim was asked for" test "$(api_count resourceclaims)" = "$N_CLAIM_REQ"

# A pod without claims: PodResources as before.
mkpod web
plexus ADD web
check "fallback: ADD web (no claims) takes kubelet's device 0000:3b:02.0" \
	bash -c "[ $RC -eq 0 ] && [ '$(pod_mac web net1)' = 02:aa:00:00:00:03 ]"
[ "$RC" -eq 0 ] || echo "  out: $OUT"
plexus DEL web
check "fallback: DEL web gives it back" bash -c "[ $RC -eq 0 ] && ip -n $NODE link show $(vf_if 3) >/dev/null"

# ---- through plexus-apid ------------------------------------------------------------------------
ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" \
	--log-level debug 2>"$TMP/apid.log" &
APID_PID=$!
t_proc "$APID_PID"
for _ in $(seq 100); do grep -q 'relaying to' "$TMP/apid.log" && break; sleep 0.05; done
mkpod p7
plexus ADD p7 "$CONF_R"
check "relay: ADD p7 succeeds with the claimed VF 0000:5e:02.2" \
	bash -c "[ $RC -eq 0 ] && [ '$(pod_mac p7 net1)' = 02:aa:00:00:00:02 ]"
[ "$RC" -eq 0 ] || echo "  out: $OUT $(cat "$TMP/stderr")"
check "... the claim, this node's slices and the claim status went through the relay" bash -c "
	grep -q 'relay: GET /apis/resource.k8s.io/v1/namespaces/default/resourceclaims/p7-vf: HTTP 200' '$TMP/apid.log' &&
	grep -q 'relay: GET /apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=$NN: HTTP 200' '$TMP/apid.log' &&
	grep -q 'relay: PATCH /apis/resource.k8s.io/v1/namespaces/default/resourceclaims/p7-vf/status: HTTP 200' '$TMP/apid.log' &&
	! grep -q 'relay: refused' '$TMP/apid.log'"
check "... claim status shows net1, its IP and MAC" jqe --arg ip "$(pod_ip p7 net1)" \
	'.[0].networkData == {interfaceName:"net1",ips:[$ip],hardwareAddress:"02:aa:00:00:00:02"}' \
	<<<"$(claim_status p7-vf)"
plexus DEL p7 "$CONF_R"
check "relay: DEL p7 succeeds" bash -c "[ $RC -eq 0 ] && ip -n $NODE link show $(vf_if 2) >/dev/null"

# A status write that loses a race (409) is redone on the claim read again.
put "$(pod p9 sriov-net p9-vf)"
put "$(claim p9-vf p9 "$POOL" 0000-5e-02-2)"
ip netns exec "$NODE" curl -skf -X POST "https://127.0.0.1:$PORT/_fixture/faults" \
	-d '[{"status":409,"method":"PATCH","path":"/resourceclaims/p9-vf/status","count":1}]' >/dev/null
mkpod p9
plexus ADD p9
check "409 on the claim status: ADD succeeds and the status is written on the second try" bash -c \
	"[ $RC -eq 0 ] && [ \"\$(grep -c 'PATCH /apis/resource.k8s.io/v1/namespaces/default/resourceclaims/p9-vf/status' '$TMP/api.log')\" = 2 ]"
check "... with net1's data" jqe '.[0].networkData.interfaceName == "net1" and
	.[0].networkData.hardwareAddress == "02:aa:00:00:00:02"' <<<"$(claim_status p9-vf)"
plexus DEL p9
check "... DEL p9 succeeds" test "$RC" -eq 0

# A status write that fails does not fail the ADD (best effort, logged).
ip netns exec "$NODE" curl -skf -X POST "https://127.0.0.1:$PORT/_fixture/faults" \
	-d '[{"status":500,"method":"PATCH","path":"/resourceclaims/","count":10}]' >/dev/null
mkpod p1b
ip netns exec "$NODE" curl -skf -X PUT "https://127.0.0.1:$PORT/_fixture/objects" \
	-d "$(pod p1b sriov-net,sriov-net p1-vfs)" >/dev/null
ip netns exec "$NODE" curl -skf -X PUT "https://127.0.0.1:$PORT/_fixture/objects" \
	-d "$(claim p1-vfs p1b "$POOL" 0000-5e-02-0 0000-5e-02-1)" >/dev/null
plexus ADD p1b
check "status write refused (500): ADD still succeeds" \
	bash -c "[ $RC -eq 0 ] && [ '$(pod_mac p1b net1)' = 02:aa:00:00:00:00 ]"
check "... and says so in a warning" grep -q "device status of resource claim 'default/p1-vfs' not written" "$TMP/stderr"
check "... and in a Warning ClaimStatusFailed Event about the pod" bash -c "[ \"\$(ip netns exec $NODE curl -skf \
	https://127.0.0.1:$PORT/_fixture/state | jq '[.items[] | select(.kind==\"Event\" and .reason==\"ClaimStatusFailed\"
	and .type==\"Warning\" and .involvedObject.name==\"p1b\" and (.message | test(\"p1-vfs not written: CNI error 11\")))] | length')\" = 1 ]"
plexus DEL p1b
check "... DEL p1b succeeds" test "$RC" -eq 0
# Under PLEXUS_BUILD=build/san: no ASan/UBSan report from any run, failed ones included.
check "no sanitizer report from the meta-plugin" bash -c "! grep -E 'Sanitizer|runtime error' '$TMP/all.stderr'"
