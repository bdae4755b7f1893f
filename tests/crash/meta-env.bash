# SPDX-License-Identifier: Apache-2.0
# Crash tier set-up for the meta-plugin, sourced by meta.sh and random.sh (after driver.bash): a
# "node" netns with a veth NIC, the TLS API server fixture serving one pod "crash" whose
# attachments are the cluster network (the reference bridge + host-local, exec'd), a built-in
# macvlan and a built-in vxlan (deleteOnLastDel), both with the built-in host-local.
for t in node openssl curl; do
	command -v "$t" >/dev/null || { fail "crash meta: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
crash_node plxcx eth9
ip -n "$CRASH_NODE" addr add 10.225.0.1/24 dev eth9
TOKEN=plexus-crash-token-$T_ID
hlr() { jq -cn --arg d "$TMP/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
nad() { # nad NS NAME CONFIG_JSON
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" '{apiVersion:"k8s.cni.cncf.io/v1",
		kind:"NetworkAttachmentDefinition",metadata:{namespace:$ns,name:$n,uid:("uid-"+$n)},spec:{config:$c}}'
}
CLUSTER=$(jq -cn --argjson i "$(hlr cluster 10.226.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:"cni'"$T_ID"'",isGateway:true,ipam:$i}]}')
MACVLAN=$(jq -cn --argjson i "$(hlr mv 10.227.0.0/24)" \
	'{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')
VXLAN=$(jq -cn --argjson i "$(hlr vx 10.228.0.0/24)" \
	'{cniVersion:"1.0.0",name:"vxlan-net",type:"plexus-vxlan",vni:4343,master:"eth9",
	  deleteOnLastDel:true,ipam:$i}')
jq -cn --argjson a "$(nad kube-system cluster "$CLUSTER")" --argjson b "$(nad default macvlan-net "$MACVLAN")" \
	--argjson c "$(nad default vxlan-net "$VXLAN")" \
	'{items:[$a,$b,$c,{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:"crash",uid:"uid-crash",
	  annotations:{"k8s.v1.cni.cncf.io/networks":"macvlan-net,vxlan-net@vx0"}},
	  spec:{containers:[{name:"c",image:"pause"}]}}]}' >"$TMP/state.json"
api_fixture "$CRASH_NODE" "$TMP" "$TOKEN" "${CRASH_API_LIFETIME:-$((${CHAOS_CYCLES:-0} * 4 + 1800))}"
[ -n "$PORT" ] || { fail "crash meta: API server fixture did not start: $(cat "$TMP/api.err")"; exit 1; }
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg d "$TMP/devinfo" --arg t "$TMP" \
	'{cniVersion:"1.1.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
	  cniDir:$c,deviceInfoDir:$d,tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
CRASH_DIRS=("$TMP/cache" "$TMP/devinfo" "$TMP/run" "$TMP/ipam-cluster" "$TMP/ipam-mv" "$TMP/ipam-vx")
# Direct-mode Event state outlives the pod's DEL on purpose (a crash-looping pod's repeats must
# aggregate: docs/observability.md); it is bounded and swept by age instead.
CRASH_KEEP="/cache/events/"
# The cluster network's leases are written by the reference host-local, not by plexus.
CRASH_PL_SKIP="/ipam-cluster/"
CRASH_ENV=(PLEXUS_RUN_DIR="$TMP/run") CRASH_IFNAME=eth0 CBIN=$BIN/plexus
crash_env() {
	crash_env_base "$@"
	ENVCMD+=(CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=crash;K8S_POD_INFRA_CONTAINER_ID=$2")
}
# GC with no valid attachment: every cycle's pod is gone by then.
crash_gc() {
	local conf=$CONF
	CONF=$(jq -c '. + {"cni.dev/valid-attachments":[]}' <<<"$CONF")
	crash_run GC ""
	CONF=$conf
}
