#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The plexus meta-plugin end to end: a "node" network namespace runs the API server fixture
# (real TLS, token, real object shapes) and plexus itself; pods get the cluster network (the
# reference bridge plugin, exec'd) plus NAD-selected macvlan and vxlan attachments (built-ins,
# in-process). Checks interfaces, traffic, network-status, API request counts, rollback on
# failure (a refused status PATCH too), DEL without the API, DEL and GC with damaged intent logs,
# temp files and device-info files, and bad input. Needs root, node and openssl.
source "$(dirname "$0")/../lib.sh"
need_root
for t in node openssl curl jq; do
	command -v "$t" >/dev/null || { fail "meta: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
P=$BIN/plexus
TMP=$(t_tmpdir)
NODE=plxmn$T_ID
t_netns "$NODE"
ip -n "$NODE" link set lo up
# The node's NIC: a veth pair inside the node (macvlan master; vxlan underlay).
ip -n "$NODE" link add eth9 type veth peer name eth9p
ip -n "$NODE" addr add 10.210.0.1/24 dev eth9
ip -n "$NODE" link set eth9 up
ip -n "$NODE" link set eth9p up

# ---- the API server fixture, inside the node ---------------------------------------------
TOKEN=plexus-node-token-$T_ID
nad() { # nad NS NAME CONFIG_JSON [RESOURCE]
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" --arg r "${4:-}" \
		'{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
		  metadata:({namespace:$ns,name:$n,uid:("uid-"+$n)} + (if $r == "" then {} else
		  {annotations:{"k8s.v1.cni.cncf.io/resourceName":$r}} end)),spec:{config:$c}}'
}
pod() { # pod NS NAME NETWORKS_ANNOTATION
	jq -cn --arg ns "$1" --arg n "$2" --arg a "$3" \
		'{apiVersion:"v1",kind:"Pod",metadata:{namespace:$ns,name:$n,uid:("uid-"+$n),
		  annotations:(if $a == "" then {} else {"k8s.v1.cni.cncf.io/networks":$a} end)},
		  spec:{containers:[{name:"c",image:"pause"}]}}'
}
hlr() { jq -cn --arg d "$TMP/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
CLUSTER=$(jq -cn --argjson i "$(hlr cluster 10.211.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:"cni0",isGateway:true,ipam:$i}]}')
MACVLAN=$(jq -cn --argjson i "$(hlr mv 10.212.0.0/24)" \
	'{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')
VXLAN=$(jq -cn --argjson i "$(hlr vx 10.213.0.0/24)" \
	'{cniVersion:"1.0.0",name:"vxlan-net",type:"plexus-vxlan",vni:4321,master:"eth9",ipam:$i}')
BRNET=$(jq -cn --argjson i "$(hlr br 10.215.0.0/24)" \
	'{cniVersion:"1.0.0",type:"bridge",bridge:"br9",ipam:$i}')
BADMASTER=$(jq -cn '{cniVersion:"1.0.0",type:"macvlan",master:"nosuchdev0",ipam:{}}')
STATIC=$(jq -cn '{cniVersion:"1.0.0",plugins:[{type:"macvlan",master:"eth9",capabilities:{ips:true,mac:true},
	ipam:{type:"static"}}]}')
{
	echo '{"items":['
	nad kube-system cluster "$CLUSTER"; echo ,
	nad default macvlan-net "$MACVLAN"; echo ,
	nad default vxlan-net "$VXLAN"; echo ,
	nad default bad-master "$BADMASTER"; echo ,
	nad default br-net "$BRNET"; echo ,
	nad default static-net "$STATIC"; echo ,
	nad other private-net "$MACVLAN"; echo ,
	jq -cn '{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
		metadata:{namespace:"default",name:"from-confdir"}}'; echo ,
	nad default sriov-a '{"cniVersion":"1.0.0","type":"fake-plugin","capabilities":{"deviceID":true,"CNIDeviceInfoFile":true}}' intel.com/sriov; echo ,
	nad default sriov-b '{"cniVersion":"1.0.0","type":"fake-second","capabilities":{"deviceID":true}}' intel.com/sriov; echo ,
	pod default pod-a "macvlan-net,vxlan-net@vx0,br-net"; echo ,
	pod default pod-b '[{"name":"macvlan-net"},{"name":"vxlan-net","interface":"vx0"}]'; echo ,
	pod default pod-missing "macvlan-net,no-such-net"; echo ,
	pod default pod-rollback "macvlan-net,br-net,bad-master"; echo ,
	pod default pod-dr '[{"name":"macvlan-net","default-route":["10.212.0.254"]}]'; echo ,
	pod default pod-nolog "macvlan-net"; echo ,
	pod default pod-hang "macvlan-net"; echo ,
	pod default pod-gc "macvlan-net,vxlan-net"; echo ,
	pod default pod-confdir "from-confdir"; echo ,
	pod default web "sriov-a,sriov-b"; echo ,
	pod default web-short "sriov-a,sriov-a,sriov-a,sriov-a"; echo ,
	pod default pod-bad-annotation "Not_A_Name"; echo ,
	pod default pod-batch "macvlan-net@m1,macvlan-net@m2,macvlan-net@m3"; echo ,
	pod default pod-ipam-in "macvlan-net"; echo ,
	pod default pod-ipam-exec "macvlan-net"; echo ,
	pod default pod-foreign "macvlan-net@m1,macvlan-net@m2"; echo ,
	pod default pod-static '[{"name":"static-net","ips":["10.214.0.7/24"],"mac":"02:00:00:00:21:07"}]'; echo ,
	pod default pod-isolated "other/private-net"; echo ,
	nad kube-system cluster-noname "$(jq -c 'del(.name)' <<<"$CLUSTER")"; echo ,
	nad kube-system cluster-503 "$CLUSTER"; echo ,
	nad default fail-del-net '{"cniVersion":"1.0.0","name":"fail-del-net","type":"fail-del"}'; echo ,
	nad default devinfo-net '{"cniVersion":"1.0.0","type":"devinfo-writer","capabilities":{"CNIDeviceInfoFile":true}}'; echo ,
	# host-local's default store (no dataDir), under a network name of this run's own.
	nad default default-store-net "$(jq -cn --arg n "plxundo$T_ID" \
		'{cniVersion:"1.0.0",name:$n,type:"macvlan",master:"eth9",
		  ipam:{type:"host-local",ranges:[[{subnet:"10.219.0.0/24"}]]}}')"; echo ,
	pod default u-api "default-store-net,macvlan-net"; echo ,
	for p in u-patch u-empty u-trunc u-garbage u-partial u-gcok u-noname; do
		pod default "$p" "macvlan-net,vxlan-net@vx0,br-net"; echo ,
	done
	pod default u-gcfail "macvlan-net,fail-del-net,br-net"; echo ,
	pod default u-emptylease "macvlan-net"; echo ,
	pod default u-dev "devinfo-net,macvlan-net"; echo ,
	pod default u-dev-gc "devinfo-net"; echo ,
	pod default u-dev-rb "devinfo-net,bad-master"; echo ,
	pod default u-nad ""
	echo ']}'
} >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN" 300
check "meta: API server fixture is up" test -n "$PORT"
mkdir -p "$TMP/confdir"
# NPWG spec v1.3 §3.4.1: a NAD without spec.config takes the confDir config of the same name.
jq -cn --argjson i "$(hlr cd 10.218.0.0/24)" \
	'{cniVersion:"1.0.0",name:"from-confdir",type:"macvlan",master:"eth9",ipam:$i}' \
	>"$TMP/confdir/50-from-confdir.conf"
# The tenant NADs keep their host-local dataDirs under $TMP and use the fake plugins: the node
# admin allows both with tenantPolicy (docs/security.md).
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg d "$TMP/confdir" --arg t "$TMP" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
	  cniDir:$c,confDir:$d,tenantPolicy:{hostPathRoots:{dataDir:[$t]},
	  allowedTypes:["macvlan","plexus-vxlan","bridge","host-local","static","fake-plugin","fake-second","fail-del","devinfo-writer"]}}')

# plexus VERB POD [CONF]: run the meta-plugin in the node for pod POD; sets OUT, RC.
plexus() {
	local conf=${3:-$CONF}
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" "${EXTRA_ENV[@]}" CNI_COMMAND="$1" \
		CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/plxmp$T_ID-$2" CNI_IFNAME=eth0 \
		CNI_PATH="${CNI_PATH_DIR:-/usr/lib/cni}" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=${POD_NS:-default};K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=cid-$2" \
		"$P" <<<"$conf" 2>"$TMP/stderr")
	RC=$?
}
EXTRA_ENV=()
mkpod() { t_netns "plxmp$T_ID-$1"; ip -n "plxmp$T_ID-$1" link set lo up; }
podns() { echo "plxmp$T_ID-$1"; }
has_link() { ip -n "$(podns "$1")" link show "$2" >/dev/null 2>&1; }
ip4_of() { ip -n "$(podns "$1")" -j addr show dev "$2" | jq -r '.[0].addr_info[] | select(.family=="inet") | .local'; }
api_count() { grep -c -- "$1" "$TMP/api.log" 2>/dev/null || true; }
fixture_state() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state"; }
network_status() { fixture_state | jq -c --arg n "$1" '.items[]? // .[]? | select(.kind=="Pod" and .metadata.name==$n) | .metadata.annotations["k8s.v1.cni.cncf.io/network-status"] | fromjson'; }
leases() { find "$TMP"/ipam-* -type f -name '10.*' 2>/dev/null | wc -l; }
is_err() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
msg_has() { jq -r '.msg // ""' <<<"$OUT" | grep -q -- "$1"; }

# ---- ADD: cluster network + macvlan + vxlan ------------------------------------------------
mkpod pod-a; mkpod pod-b
: >"$TMP/api.log"
plexus ADD pod-a
check "ADD pod-a succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || { echo "out: $OUT"; cat "$TMP/stderr"; }
check "ADD returns the cluster network's result (eth0 from the bridge)" \
	jq -e '.interfaces | map(.name) | index("eth0") != null' <<<"$OUT"
check "ADD result carries the cluster network's IP" jq -e '.ips[0].address | startswith("10.211.0.")' <<<"$OUT"
check "pod-a has eth0 (bridge), net1 (macvlan), vx0 (vxlan), net3 (exec'd bridge)" \
	bash -c "ip -n $(podns pod-a) link show eth0 >/dev/null && ip -n $(podns pod-a) -d link show net1 | grep -q macvlan && ip -n $(podns pod-a) link show vx0 >/dev/null && ip -n $(podns pod-a) -d link show net3 | grep -q veth"
check "net3 has its address from the exec'd bridge network" bash -c "ip -n $(podns pod-a) addr show net3 | grep -q 10.215.0."
check "API calls for ADD: one GET pod, one GET per NAD, one PATCH status" \
	test "$(api_count 'GET /api/v1/namespaces/default/pods/pod-a ')/$(api_count 'GET /apis/k8s.cni.cncf.io')/$(api_count 'PATCH /api/v1/namespaces/default/pods/pod-a/status ')" = 1/4/1
NS_A=$(network_status pod-a)
check "network-status: four entries in attachment order" \
	test "$(jq -c 'map(.name)' <<<"$NS_A")" = '["kube-system/cluster","default/macvlan-net","default/vxlan-net","default/br-net"]'
check "network-status: only the cluster network is default" \
	test "$(jq -c 'map(.default)' <<<"$NS_A")" = '[true,false,false,false]'
check "network-status: interfaces and IPs match the pod" \
	test "$(jq -r '.[1].interface + " " + .[1].ips[0]' <<<"$NS_A")" = "net1 $(ip4_of pod-a net1)"
check "network-status: mac of net1" \
	test "$(jq -r '.[1].mac' <<<"$NS_A")" = "$(ip -n "$(podns pod-a)" -j link show net1 | jq -r '.[0].address')"
check "intent log written" test -f "$TMP/cache/cid-pod-a.json"

: >"$TMP/api.log"
plexus ADD pod-b
check "ADD pod-b (JSON annotation form) succeeds" test "$RC" -eq 0
check "pods talk over macvlan" ip netns exec "$(podns pod-a)" ping -c 1 -W 2 "$(ip4_of pod-b net1)"
check "pods talk over vxlan" ip netns exec "$(podns pod-a)" ping -c 1 -W 2 "$(ip4_of pod-b vx0)"
check "pods talk over the cluster network" ip netns exec "$(podns pod-a)" ping -c 1 -W 2 "$(ip4_of pod-b eth0)"

# ---- annotations passed by the runtime: no GET pod ----------------------------------------
mkpod pod-c
CONF_RT=$(jq -c '. + {runtimeConfig:{"io.kubernetes.cri.pod-annotations":{"k8s.v1.cni.cncf.io/networks":"macvlan-net"}}}' <<<"$CONF")
: >"$TMP/api.log"
plexus ADD pod-c "$CONF_RT"
check "ADD with runtime-passed annotations succeeds" test "$RC" -eq 0
check "no GET pod when the runtime passes the annotations" test "$(api_count 'GET /api/v1/namespaces/default/pods/')" = 0
check "pod-c has net1" has_link pod-c net1
plexus DEL pod-c "$CONF_RT"
check "DEL pod-c" test "$RC" -eq 0

# ---- capabilities: ips and mac from the selection -----------------------------------------
mkpod pod-static
plexus ADD pod-static
check "ADD with ips/mac in the selection succeeds" test "$RC" -eq 0
check "the requested IP is on net1" test "$(ip4_of pod-static net1)" = 10.214.0.7
check "the requested MAC is on net1" \
	test "$(ip -n "$(podns pod-static)" -j link show net1 | jq -r '.[0].address')" = 02:00:00:00:21:07
plexus DEL pod-static
mkpod pod-nocap
CONF_NOCAP=$(jq -c '. + {runtimeConfig:{"io.kubernetes.cri.pod-annotations":{"k8s.v1.cni.cncf.io/networks":"[{\"name\":\"macvlan-net\",\"mac\":\"02:00:00:00:21:08\"}]"}}}' <<<"$CONF")
LEASES0=$(leases)
plexus ADD pod-nocap "$CONF_NOCAP"
check "a MAC asked of a network without the mac capability fails (NPWG v1.3 §4.1.2.1.4.2)" is_err 7
check "... naming the capability" msg_has "capability 'mac'"
check "... and leaves nothing (no eth0, no lease)" \
	bash -c "! ip -n $(podns pod-nocap) link show eth0 >/dev/null 2>&1 && [ $(leases) -eq $LEASES0 ]"

# ---- failures roll back everything --------------------------------------------------------
mkpod pod-missing
LEASES0=$(leases)
plexus ADD pod-missing
check "a missing NAD fails ADD with code 101" is_err 101
check "... naming the network" msg_has "default/no-such-net"
check "... leaves no interface, lease or intent log" \
	bash -c "[ \$(ip -n $(podns pod-missing) -j link show | jq length) -eq 1 ] && [ $(leases) -eq $LEASES0 ] && [ ! -e $TMP/cache/cid-pod-missing.json ]"
mkpod pod-rollback
plexus ADD pod-rollback
check "a failing second network fails ADD" test "$RC" -ne 0
check "... naming it and its interface" msg_has "default/bad-master' (net3)"
check "... and rolls back the cluster network and both earlier networks" \
	bash -c "[ \$(ip -n $(podns pod-rollback) -j link show | jq length) -eq 1 ] && [ $(leases) -eq $LEASES0 ] && [ ! -e $TMP/cache/cid-pod-rollback.json ]"
mkpod pod-bad-annotation
plexus ADD pod-bad-annotation
check "an invalid networks annotation is code 7" is_err 7
check "... message names the annotation" msg_has "k8s.v1.cni.cncf.io/networks: \[0\].name"
mkpod pod-isolated
CONF_ISO=$(jq -c '. + {namespaceIsolation:true}' <<<"$CONF")
plexus ADD pod-isolated "$CONF_ISO"
check "namespace isolation refuses another namespace's NAD" msg_has "namespace isolation"

# ---- a NAD without spec.config: the confDir file of that name (NPWG v1.3 §3.4.1) -------------
mkpod pod-confdir
plexus ADD pod-confdir
check "NAD without spec.config uses the confDir config of its name" \
	bash -c "[ $RC -eq 0 ] && ip -n $(podns pod-confdir) addr show net1 | grep -q 10.218.0."
plexus DEL pod-confdir

# ---- readiness indicator: ADD waits for the cluster network (NPWG v1.3 §6.1.2) ----------------
mkpod pod-ready
plexus ADD pod-ready "$(jq -c --arg r "$TMP/not-ready-yet" '. + {readinessindicatorfile:$r}' <<<"$CONF")"
check "ADD before the readiness indicator file exists fails with code 11" is_err 11
check "... and touches nothing" bash -c "[ \$(ip -n $(podns pod-ready) -j link show | jq length) -eq 1 ]"

# ---- default-route: the selected network takes the pod's default route (NPWG v1.3 §4.1.2.1.9)
mkpod pod-dr
plexus ADD pod-dr
check "ADD with default-route succeeds" test "$RC" -eq 0
check "the default route goes via the selection's gateway on net1" \
	test "$(ip -n "$(podns pod-dr)" -j route show default | jq -r '.[] | .gateway + " " + .dev')" = "10.212.0.254 net1"
check "network-status reports the default-route" \
	test "$(network_status pod-dr | jq -c '.[1]["default-route"]')" = '["10.212.0.254"]'
plexus CHECK pod-dr
check "CHECK passes after the default route moved (cached results follow)" test "$RC" -eq 0
plexus DEL pod-dr
check "DEL pod-dr" test "$RC" -eq 0

# ---- DEL without an intent log rebuilds the plan from the API ------------------------------
mkpod pod-nolog
plexus ADD pod-nolog
rm -f "$TMP/cache/cid-pod-nolog.json"
plexus DEL pod-nolog
check "DEL without intent log succeeds (plan from the API)" test "$RC" -eq 0
check "... and removes the attachments" bash -c "[ \$(ip -n $(podns pod-nolog) -j link show | jq length) -eq 1 ]"

# ---- DEL deletes the built-ins' links in one group request (one kernel RCU wait) ----------
DEBUG_CONF=$(jq -c '. + {logLevel:"debug"}' <<<"$CONF")
mkpod pod-batch
plexus ADD pod-batch "$DEBUG_CONF"
check "ADD pod-batch (three macvlans of one NAD: m1 m2 m3)" test "$RC" -eq 0
check "... m1 m2 m3 present" bash -c "ip -n $(podns pod-batch) link show m1 >/dev/null && ip -n $(podns pod-batch) link show m2 >/dev/null && ip -n $(podns pod-batch) link show m3 >/dev/null"
plexus DEL pod-batch "$DEBUG_CONF"
check "DEL pod-batch succeeds" test "$RC" -eq 0
check "... every link but lo is gone" bash -c "[ \$(ip -n $(podns pod-batch) -j link show | jq length) -eq 1 ]"
check "... deleted as one group (no one-by-one fallback)" bash -c "! grep -q 'one by one' '$TMP/stderr'"
check "... the group request also released every lease of the pod" \
	bash -c "! grep -rqs cid-pod-batch $TMP/ipam-mv"
# lo has no rtnl_link_ops: a group holding it cannot be deleted, so the kernel refuses the whole
# request (EOPNOTSUPP) and plexus must delete its own links one by one and leave lo alone.
mkpod pod-foreign
plexus ADD pod-foreign "$DEBUG_CONF"
check "ADD pod-foreign" test "$RC" -eq 0
ip -n "$(podns pod-foreign)" link set lo group $((0x706c7864))
plexus DEL pod-foreign "$DEBUG_CONF"
check "DEL with a foreign link in plexus's deletion group succeeds" test "$RC" -eq 0
check "... fell back to one by one" grep -q 'deleting 2 link(s) one by one' "$TMP/stderr"
check "... m1 and m2 gone, lo kept" bash -c "[ \$(ip -n $(podns pod-foreign) -j link show | jq -r 'map(.ifname) | join(\",\")') = lo ]"
plexus DEL pod-foreign "$DEBUG_CONF"
check "DEL pod-foreign again succeeds" test "$RC" -eq 0

# ---- inProcessIPAM: false execs host-local from CNI_PATH for the built-in macvlan too -------
# A CNI_PATH whose host-local logs each call: the cluster network (the reference bridge) always
# execs it; the built-in macvlan does only when the conf turns the built-in IPAM off.
mkdir -p "$TMP/cnibin"
for f in /usr/lib/cni/*; do [ "$(basename "$f")" = host-local ] || ln -sf "$f" "$TMP/cnibin/"; done
printf '#!/bin/sh\necho "$CNI_COMMAND $CNI_IFNAME" >>%s\nexec /usr/lib/cni/host-local "$@"\n' \
	"$TMP/hl-calls" >"$TMP/cnibin/host-local"
chmod +x "$TMP/cnibin/host-local"
CNI_PATH_DIR=$TMP/cnibin
mkpod pod-ipam-in; mkpod pod-ipam-exec
: >"$TMP/hl-calls"
plexus ADD pod-ipam-in
check "inProcessIPAM default: ADD succeeds" test "$RC" -eq 0
check "... host-local exec'd only for the cluster network (eth0)" test "$(cat "$TMP/hl-calls")" = "ADD eth0"
: >"$TMP/hl-calls"
IPAM_EXEC_CONF=$(jq -c '. + {inProcessIPAM:false}' <<<"$CONF")
plexus ADD pod-ipam-exec "$IPAM_EXEC_CONF"
check "inProcessIPAM false: ADD succeeds" test "$RC" -eq 0
check "... host-local exec'd for eth0 and for the built-in macvlan's net1" \
	test "$(sort "$TMP/hl-calls" | tr '\n' ' ')" = "ADD eth0 ADD net1 "
check "... net1 has its lease from the exec'd host-local" bash -c "[ -n \"$(ip4_of pod-ipam-exec net1)\" ]"
: >"$TMP/hl-calls"
plexus DEL pod-ipam-exec "$IPAM_EXEC_CONF"
check "... DEL releases through the exec'd host-local too" \
	bash -c "[ $RC -eq 0 ] && [ \"\$(sort '$TMP/hl-calls' | tr '\n' ' ')\" = 'DEL eth0 DEL net1 ' ]"
plexus DEL pod-ipam-in
check "DEL pod-ipam-in" test "$RC" -eq 0
CNI_PATH_DIR=
plexus ADD pod-ipam-in '{"cniVersion":"1.0.0","name":"x","type":"plexus","clusterNetwork":"c","inProcessIPAM":"no"}'
check "inProcessIPAM of the wrong type: code 7" is_err 7
check "... naming the key" msg_has inProcessIPAM

# ---- an API server that never answers: bounded failure, nothing left -----------------------
mkpod pod-hang
LEASES0=$(leases)
ip netns exec "$NODE" curl -sk -X POST "https://127.0.0.1:$PORT/_fixture/faults" \
	-d '[{"hang":true,"count":1}]' >/dev/null
START=$(date +%s)
plexus ADD pod-hang "$(jq -c '. + {apiTimeoutSeconds:2}' <<<"$CONF")"
END=$(date +%s)
check "a hanging API server fails ADD with code 11" is_err 11
check "... within the bound" test $((END - START)) -le 6
check "... leaving nothing" bash -c "[ \$(ip -n $(podns pod-hang) -j link show | jq length) -eq 1 ] && [ $(leases) -eq $LEASES0 ]"
ip netns exec "$NODE" curl -sk -X DELETE "https://127.0.0.1:$PORT/_fixture/faults" >/dev/null

# ---- GC: attachments of containers not in valid-attachments are undone ---------------------
mkpod pod-gc
plexus ADD pod-gc
check "ADD pod-gc" test "$RC" -eq 0
LEASES0=$(leases)
ip netns del "$(podns pod-gc)"
GC_CONF=$(jq -c '.cniVersion = "1.1.0" | . + {"cni.dev/valid-attachments":[{containerID:"cid-pod-a",ifname:"eth0"},{containerID:"cid-pod-b",ifname:"eth0"}]}' <<<"$CONF")
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" CNI_COMMAND=GC \
	CNI_PATH=/usr/lib/cni "$P" <<<"$GC_CONF" 2>"$TMP/stderr"); RC=$?
check "GC succeeds" test "$RC" -eq 0
check "... drops the stale intent log and keeps the live ones" \
	bash -c "[ ! -e $TMP/cache/cid-pod-gc.json ] && [ -e $TMP/cache/cid-pod-a.json ] && [ -e $TMP/cache/cid-pod-b.json ]"
check "... releases the stale pod's three leases" test "$(leases)" -eq $((LEASES0 - 3))
STATUS_CONF=$(jq -c '.cniVersion = "1.1.0"' <<<"$CONF")
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni "$P" <<<"$STATUS_CONF" 2>"$TMP/stderr"); RC=$?
check "STATUS is ready (cluster network resolvable)" test "$RC" -eq 0
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni "$P" \
	<<<"$(jq -c '. + {readinessindicatorfile:"/nonexistent/ready"}' <<<"$STATUS_CONF")" 2>"$TMP/stderr"); RC=$?
check "STATUS is not ready (code 50) without the readiness file" is_err 50

# ---- resourceName: device IDs from kubelet's PodResources API (a grpc-js stand-in) ---------
grpc_peer_ready || fail "resourceName: npm ci for the grpc-js peer"
node "$TOP/tests/fixtures/grpc/podresources-server.js" "$TMP/kubelet.sock" ok >"$TMP/pr.out" 2>&1 &
PR_PID=$!
for _ in $(seq 100); do grep -q READY "$TMP/pr.out" 2>/dev/null && break; sleep 0.05; done
mkdir -p "$TMP/devinfo/dp"
echo '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.0"}}' \
	>"$TMP/devinfo/dp/intel.com-sriov-0000:3b:02.0-device.json"
CONF_DEV=$(jq -c --arg s "$TMP/kubelet.sock" --arg d "$TMP/devinfo" --arg b "$TOP/tests/fixtures/bin" \
	'. + {podResourcesSocket:$s,deviceInfoDir:$d,binDir:$b}' <<<"$CONF")
EXTRA_ENV=(FAKE_RECORD="$TMP/fake" FAKE_MODE=ok)
mkpod web
plexus ADD web "$CONF_DEV"
check "resourceName: ADD succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || echo "out: $OUT"
A_IN=$(cat "$TMP/fake.stdin" 2>/dev/null) B_IN=$(cat "$TMP/fake.fake-second.stdin" 2>/dev/null)
check "resourceName: the first attachment gets the pod's first device as deviceID and pciBusID" \
	test "$(jq -r '.deviceID + " " + .pciBusID + " " + .runtimeConfig.deviceID' <<<"$A_IN")" = "0000:3b:02.0 0000:3b:02.0 0000:3b:02.0"
check "resourceName: the second attachment gets the next device" \
	test "$(jq -r '.deviceID + " " + .runtimeConfig.deviceID' <<<"$B_IN")" = "0000:3b:02.1 0000:3b:02.1"
DEVFILE=$(jq -r '.runtimeConfig.CNIDeviceInfoFile' <<<"$A_IN")
check "resourceName: CNIDeviceInfoFile reaches the plugin that declares it, not the other" \
	bash -c "[ '$DEVFILE' = '$TMP/devinfo/cni/default-sriov-a-cid-web_net1' ] && [ \"\$(jq -r '.runtimeConfig.CNIDeviceInfoFile // \"none\"' <<<'$B_IN')\" = none ]"
check "resourceName: the device plugin's device-info file is copied for the attachment" \
	test "$(jq -r '.pci["pci-address"]' "$DEVFILE" 2>/dev/null)" = 0000:3b:02.0
check "resourceName: network-status carries device-info" \
	test "$(network_status web | jq -r '.[1]["device-info"].pci["pci-address"]')" = 0000:3b:02.0
plexus DEL web "$CONF_DEV"
check "resourceName: DEL succeeds and removes the attachment's device-info file" \
	bash -c "[ $RC -eq 0 ] && [ ! -e '$DEVFILE' ]"
mkpod web-short
plexus ADD web-short "$CONF_DEV"
check "resourceName: more attachments than allocated devices fails (code 104)" is_err 104
check "... naming the resource" msg_has "intel.com/sriov"
check "... leaving no intent log or device-info file" \
	bash -c "[ ! -e $TMP/cache/cid-web-short.json ] && [ -z \"\$(ls $TMP/devinfo/cni 2>/dev/null)\" ]"
kill "$PR_PID" 2>/dev/null
EXTRA_ENV=()

# ---- the undo path: every failed ADD leaves nothing; DEL and GC never blocked ---------------
# Plugins of this section's own: fail-del refuses DEL; devinfo-writer writes the device-info
# file it is given and leaves a temp file next to it, as a copy killed mid-write would.
mkdir -p "$TMP/ubin"
cat >"$TMP/ubin/fail-del" <<'SH'
#!/bin/sh
cat >/dev/null
case $CNI_COMMAND in
ADD) echo '{"cniVersion":"1.0.0"}' ;;
DEL) echo '{"cniVersion":"1.0.0","code":11,"msg":"fail-del: refusing DEL"}'; exit 1 ;;
esac
SH
cat >"$TMP/ubin/devinfo-writer" <<'SH'
#!/bin/sh
f=$(jq -r '.runtimeConfig.CNIDeviceInfoFile // empty')
if [ "$CNI_COMMAND" = ADD ]; then
	[ -z "$f" ] || { mkdir -p "${f%/*}"; echo '{"type":"pci","version":"1.1.0"}' >"$f"; : >"$f.tmp.4194303"; }
	echo '{"cniVersion":"1.0.0"}'
fi
SH
chmod +x "$TMP/ubin/fail-del" "$TMP/ubin/devinfo-writer"
CONF_U=$(jq -c --arg d "$TMP/devinfo-u" --arg b "$TMP/ubin" \
	'. + {deviceInfoDir:$d,binDir:$b,failOnStatusPatchError:true}' <<<"$CONF")
node_links() { ip -n "$NODE" -j link show | jq -r '[.[].ifname] | sort | join(" ")'; }
only_lo() { [ "$(ip -n "$(podns "$1")" -j link show | jq -r 'map(.ifname) | join(",")')" = lo ]; }
no_log() { ! compgen -G "$TMP/cache/cid-$1.json" >/dev/null && ! compgen -G "$TMP/cache/cid-$1.json.tmp.*" >/dev/null; }
quarantined() { test -f "$TMP/cache/cid-$1.json.corrupt"; }
no_devinfo() { ! ls "$TMP/devinfo-u/cni" 2>/dev/null | grep -q -- "-cid-$1_"; }
faults() { ip netns exec "$NODE" curl -sk -X POST "https://127.0.0.1:$PORT/_fixture/faults" -d "$1" >/dev/null; }
no_faults() { ip netns exec "$NODE" curl -sk -X DELETE "https://127.0.0.1:$PORT/_fixture/faults" >/dev/null; }
# ADD of POD that must succeed before a test damages something.
u_add() { mkpod "$1"; plexus ADD "$1" "${2:-$CONF_U}"; [ "$RC" -eq 0 ] || { fail "undo: ADD $1: $OUT"; cat "$TMP/stderr"; }; }

# A refused network-status PATCH with failOnStatusPatchError rolls back everything.
LEASES0=$(leases) LINKS0=$(node_links)
mkpod u-patch
faults '[{"status":403,"method":"PATCH","path":"/pods/u-patch/status"}]'
plexus ADD u-patch "$CONF_U"
no_faults
check "undo: a refused status PATCH fails ADD with the API's code (101)" is_err 101
check "... and rolls back every attachment: pod has only lo" only_lo u-patch
check "... no host veth, VTEP or other node link left" test "$(node_links)" = "$LINKS0"
check "... every lease released" test "$(leases)" -eq "$LEASES0"
check "... no intent log or temp file" no_log u-patch
plexus DEL u-patch "$CONF_U"
check "... and its DEL succeeds" test "$RC" -eq 0

# DEL with a damaged intent log: quarantined, the plan rebuilt from the API, everything undone.
for kind in empty trunc garbage; do
	u_add "u-$kind"
	LOG=$TMP/cache/cid-u-$kind.json
	case $kind in
	empty) : >"$LOG" ;;
	trunc) head -c "$(($(stat -c %s "$LOG") / 2))" "$LOG" >"$LOG.x" && mv "$LOG.x" "$LOG" ;;
	garbage) head -c 300 /dev/urandom >"$LOG" ;;
	esac
	plexus DEL "u-$kind" "$CONF_U"
	check "undo: DEL with a $kind intent log succeeds" test "$RC" -eq 0
	check "... removes the pod's links" only_lo "u-$kind"
	check "... releases its leases" bash -c "! grep -rqs cid-u-$kind $TMP/ipam-*"
	check "... and moves the log aside (.corrupt), leaving none" \
		bash -c "$(declare -f no_log quarantined); TMP=$TMP; no_log u-$kind && quarantined u-$kind"
	plexus DEL "u-$kind" "$CONF_U"
	check "... a second DEL succeeds" test "$RC" -eq 0
done

# One bad entry does not stop the others; the API plan fills in the bad one.
u_add u-partial
LOG=$TMP/cache/cid-u-partial.json
jq -c '.attachments[1] |= del(.conf)' "$LOG" >"$LOG.x" && mv "$LOG.x" "$LOG"
plexus DEL u-partial "$CONF_U"
check "undo: DEL with one attachment without conf succeeds" test "$RC" -eq 0
check "... every attachment undone, the damaged one too" only_lo u-partial
check "... every lease released" bash -c "! grep -rqs cid-u-partial $TMP/ipam-*"

# Damaged log and no API: the pod's links are found by convention.
STORE=/var/lib/cni/networks/plxundo$T_ID
T_DIRS+=("$STORE")
u_add u-api
check "undo: u-api holds a lease in host-local's default store" grep -rqs cid-u-api "$STORE"
: >"$TMP/cache/cid-u-api.json"
faults '[{"status":503,"count":100}]'
plexus DEL u-api "$(jq -c '. + {apiTimeoutSeconds:2}' <<<"$CONF_U")"
no_faults
check "undo: DEL with an empty log and the API failing succeeds" test "$RC" -eq 0
check "... the pod's links are removed by convention" only_lo u-api
check "... the log is moved aside" bash -c "[ -f $TMP/cache/cid-u-api.json.corrupt ] && [ ! -e $TMP/cache/cid-u-api.json ]"
check "... its lease in host-local's default store is released by container ID" \
	bash -c "[ -d $STORE ] && ! grep -rqs cid-u-api $STORE"
# (Leases in a dataDir only the lost config named stay: docs/meta.md says so.)
for net in cluster mv vx br; do
	grep -rls cid-u-api "$TMP/ipam-$net" 2>/dev/null | xargs -r rm -f
done

# Temp files of a killed ADD: DEL sweeps the container's.
u_add u-noname
: >"$TMP/cache/cid-u-noname.json.tmp.4194303"
: >"$TMP/cache/cid-other.json.tmp.4194303"
# A built-in killed between creating a link (temporary name) and renaming it leaves this.
ip -n "$(podns u-noname)" link add plx00000badc0de type veth peer name plx00000badc0df
plexus DEL u-noname "$CONF_U"
check "undo: DEL removes links left under lib/net's temporary names" only_lo u-noname
check "undo: DEL removes the container's intent-log temp files" \
	bash -c "[ $RC -eq 0 ] && [ ! -e $TMP/cache/cid-u-noname.json.tmp.4194303 ] && [ -e $TMP/cache/cid-other.json.tmp.4194303 ]"
# The reference host-local (the cluster network's, exec'd) creates a lease before writing its
# owner: killed in between, it leaves an empty lease its own DEL never matches.
u_add u-emptylease
: >"$TMP/ipam-cluster/cluster/10.211.0.250"
plexus DEL u-emptylease "$CONF_U"
check "undo: DEL sweeps an empty lease the reference host-local left in its store" \
	bash -c "[ $RC -eq 0 ] && [ ! -e $TMP/ipam-cluster/cluster/10.211.0.250 ]"

# Device-info files: named in the log before anything writes them, removed by DEL and rollback.
u_add u-dev
DEVF=$TMP/devinfo-u/cni/default-devinfo-net-cid-u-dev_net1
check "undo: the plugin wrote the attachment's device-info file" test -f "$DEVF"
check "... the intent log named it" jq -e --arg f "$DEVF" '.attachments[1].deviceInfoFile == $f' "$TMP/cache/cid-u-dev.json"
plexus DEL u-dev "$CONF_U"
check "... DEL removes it and its temp file" bash -c "[ $RC -eq 0 ] && [ ! -e $DEVF ] && [ ! -e $DEVF.tmp.4194303 ]"
mkpod u-dev-rb
plexus ADD u-dev-rb "$CONF_U"
check "undo: a failing second network fails ADD" test "$RC" -ne 0
check "... and the rollback removes the first one's device-info files" \
	bash -c "$(declare -f no_devinfo); TMP=$TMP; no_devinfo u-dev-rb"
check "... leaving no intent log" no_log u-dev-rb

# GC: every attachment of every stale container, past a failing one.
u_add u-gcfail; u_add u-gcok; u_add u-dev-gc
ip netns del "$(podns u-gcfail)"; ip netns del "$(podns u-gcok)"; ip netns del "$(podns u-dev-gc)"
: >"$TMP/cache/cid-gone.json.tmp.4194303"
sleep 600 & LIVE=$!
: >"$TMP/cache/cid-busy.json.tmp.$LIVE"
GC_U=$(jq -c '.cniVersion = "1.1.0" | . + {"cni.dev/valid-attachments":[{containerID:"cid-pod-a",ifname:"eth0"},{containerID:"cid-pod-b",ifname:"eth0"}]}' <<<"$CONF_U")
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" CNI_COMMAND=GC \
	CNI_PATH=/usr/lib/cni "$P" <<<"$GC_U" 2>"$TMP/stderr"); RC=$?
check "undo: GC with a failing attachment reports it" bash -c "[ $RC -ne 0 ] && jq -r .msg <<<'$OUT' | grep -q 'fail-del: refusing DEL'"
check "... the failing pod's other attachments are undone (leases released)" \
	bash -c "! grep -rqs cid-u-gcfail $TMP/ipam-*"
check "... the other stale containers are undone too" \
	bash -c "! grep -rqs cid-u-gcok $TMP/ipam-* && [ ! -e $TMP/cache/cid-u-gcok.json ]"
check "... their device-info files removed" \
	bash -c "$(declare -f no_devinfo); TMP=$TMP; no_devinfo u-dev-gc && [ ! -e $TMP/cache/cid-u-dev-gc.json ]"
check "... temp files of dead writers removed, a live writer's kept" \
	bash -c "[ ! -e $TMP/cache/cid-gone.json.tmp.4194303 ] && [ -e $TMP/cache/cid-busy.json.tmp.$LIVE ]"
check "... the quarantined logs of stale containers removed" bash -c "! compgen -G '$TMP/cache/*.corrupt' >/dev/null"
kill "$LIVE"; rm -f "$TMP/cache/cid-busy.json.tmp.$LIVE" "$TMP/cache/cid-other.json.tmp.4194303"

# STATUS: a cniDir that cannot take intent logs is "not available".
: >"$TMP/not-a-dir"
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni "$P" \
	<<<"$(jq -c --arg c "$TMP/not-a-dir" '.cniVersion = "1.1.0" | .cniDir = $c' <<<"$CONF")" 2>"$TMP/stderr"); RC=$?
check "STATUS: cniDir not a writable directory is code 50" is_err 50
check "... naming cniDir" msg_has "cniDir"

# The cluster network's NAD: API failures keep their code (no confDir fallback); no name is fine.
cp "$TMP/confdir/50-from-confdir.conf" "$TMP/confdir/60-cluster-503.conf"
jq '.name = "cluster-503"' "$TMP/confdir/60-cluster-503.conf" >"$TMP/confdir/x" && mv "$TMP/confdir/x" "$TMP/confdir/60-cluster-503.conf"
CONF_503=$(jq -c '. + {clusterNetwork:"cluster-503",apiTimeoutSeconds:2}' <<<"$CONF_U")
mkpod u-nad
faults '[{"status":503,"count":100,"path":"network-attachment-definitions/cluster-503"}]'
plexus ADD u-nad "$CONF_503"
no_faults
check "cluster network NAD GET 503: code 11, not 7 from a confDir fallback" is_err 11
check "... and nothing attached" only_lo u-nad
faults '[{"status":403,"count":1,"path":"network-attachment-definitions/cluster-503"}]'
plexus ADD u-nad "$CONF_503"
no_faults
check "cluster network NAD GET 403: code 101" is_err 101
check "... naming the NAD" msg_has "kube-system/cluster-503"
rm -f "$TMP/confdir/60-cluster-503.conf"
plexus ADD u-nad "$(jq -c '. + {clusterNetwork:"cluster-noname"}' <<<"$CONF_U")"
check "a cluster network NAD config without name works (the NAD's name is used)" test "$RC" -eq 0
check "... network-status names it" test "$(network_status u-nad | jq -r '.[0].name')" = kube-system/cluster-noname
plexus DEL u-nad "$(jq -c '. + {clusterNetwork:"cluster-noname"}' <<<"$CONF_U")"
check "... DEL succeeds" bash -c "[ $RC -eq 0 ] && $(declare -f only_lo podns); T_ID=$T_ID; only_lo u-nad"

# ---- CHECK, DEL without the API, DEL twice ------------------------------------------------
plexus CHECK pod-a
check "CHECK pod-a passes" test "$RC" -eq 0
kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null
plexus DEL pod-a
check "DEL pod-a succeeds with the API server gone (intent log)" test "$RC" -eq 0
check "... net1 and vx0 and eth0 are gone" \
	bash -c "[ \$(ip -n $(podns pod-a) -j link show | jq length) -eq 1 ]"
check "... intent log removed" test ! -e "$TMP/cache/cid-pod-a.json"
plexus DEL pod-a
check "DEL pod-a again succeeds (no log, no API)" test "$RC" -eq 0
ip netns del "$(podns pod-b)"
plexus DEL pod-b
check "DEL pod-b after its netns is gone succeeds" test "$RC" -eq 0
check "every lease is released" test "$(leases)" -eq 0
