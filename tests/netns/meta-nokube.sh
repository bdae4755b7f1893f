#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The plexus meta-plugin outside Kubernetes (docs/meta.md, "Without Kubernetes"): no kubeconfig,
# no in-cluster environment, CNI_ARGS as podman's CNI backend passes them. The cluster network
# (reference bridge + host-local, exec'd) and a defaultNetworks macvlan (built-in, on a veth
# master) come from confDir; two pods ping each other over both; DEL leaves nothing, and with a
# damaged log cleans by convention. A network the pod selects is refused; a named kubeconfig
# that does not load (ADD, and STATUS: no confDir fallback) or a half-set in-cluster
# environment is still an error.
source "$(dirname "$0")/../lib.sh"
need_root
command -v jq >/dev/null || { fail "meta-nokube: jq missing (scripts/setup.sh installs it)"; exit 1; }
P=$BIN/plexus
TMP=$(t_tmpdir)
NODE=plxkn$T_ID
new_node "$NODE"

mkdir -p "$TMP/confdir"
hlr() { jq -cn --arg d "$TMP/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
BR=plxkb$T_ID
T_LINKS+=("$BR")
jq -cn --arg b "$BR" --argjson i "$(hlr cluster 10.231.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:$b,isGateway:true,ipam:$i}]}' \
	>"$TMP/confdir/10-cluster.conflist"
jq -cn --argjson i "$(hlr lan 10.232.0.0/24)" \
	'{cniVersion:"1.0.0",name:"lan",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}' \
	>"$TMP/confdir/20-lan.conf"
CONF=$(jq -cn --arg c "$TMP/cache" --arg d "$TMP/confdir" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",clusterNetwork:"cluster",
	  defaultNetworks:["lan"],cniDir:$c,confDir:$d,logLevel:"info"}')

# plexus VERB POD [CONF]: as podman 4's CNI backend runs a plugin (no KUBERNETES_* variables).
plexus() {
	local conf=${3:-$CONF}
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" "${EXTRA_ENV[@]}" \
		CNI_COMMAND="$1" CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/$(podns "$2")" \
		CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$2;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=cid-$2" \
		"$P" <<<"$conf" 2>"$TMP/stderr")
	RC=$?
}
EXTRA_ENV=()
podns() { echo "plxkp$T_ID-$1"; }
mkpod() { t_netns "$(podns "$1")"; ip -n "$(podns "$1")" link set lo up; }
ip4_of() { ip -n "$(podns "$1")" -j addr show dev "$2" | jq -r '.[0].addr_info[] | select(.family=="inet") | .local'; }
only_lo() { [ "$(ip -n "$(podns "$1")" -j link show | jq length)" -eq 1 ]; }
no_log() { [ ! -e "$TMP/cache/cid-$1.json" ]; }
leases() { find "$TMP"/ipam-* -type f -name '10.*' 2>/dev/null | wc -l; }
is_err() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
msg_has() { jq -r '.msg // ""' <<<"$OUT" | grep -q -- "$1"; }
pings() { ip netns exec "$(podns "$1")" ping -q -c1 -W2 -I "$2" "$3" >/dev/null; }
nothing_of() { only_lo "$1" && no_log "$1" && ! grep -rqs "cid-$1" "$TMP"/ipam-*; }

# ---- ADD: cluster network + defaultNetworks from confDir ------------------------------------
mkpod a; mkpod b
plexus ADD a
check "nokube: ADD without kubeconfig or in-cluster environment succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || echo "$OUT $(cat "$TMP/stderr")" >&2
check "... the result is the cluster network's (eth0 in 10.231.0.0/24)" \
	jq -e '.interfaces[] | select(.name=="eth0")' <<<"$OUT" >/dev/null
check "... says once that pod annotations are not read" \
	test "$(grep -c "no API is configured.*annotations of pod 'a/a' are not read" "$TMP/stderr")" -eq 1
check "... writes no network-status (nothing about it logged as failed)" \
	bash -c "! grep -q 'network-status' $TMP/stderr"
plexus ADD b
check "nokube: ADD pod b succeeds" test "$RC" -eq 0
for p in a b; do
	check "nokube: pod $p has eth0 (cluster) and net1 (macvlan defaultNetwork)" \
		bash -c "ip -n $(podns $p) -d link show net1 | grep -q macvlan && ip -n $(podns $p) link show eth0 >/dev/null"
done
A0=$(ip4_of a eth0) A1=$(ip4_of a net1) B0=$(ip4_of b eth0) B1=$(ip4_of b net1)
check "nokube: addresses from both host-local ranges" \
	bash -c "[[ $B0 == 10.231.0.* && $B1 == 10.232.0.* && $A0 == 10.231.0.* && $A1 == 10.232.0.* ]]"
check "nokube: a pings b over the cluster network" pings a eth0 "$B0"
check "nokube: a pings b over the macvlan default network" pings a net1 "$B1"
check "nokube: b pings a over the cluster network" pings b eth0 "$A0"
check "nokube: b pings a over the macvlan default network" pings b net1 "$A1"
check "nokube: the intent log names both attachments" \
	jq -e '[.attachments[].ifname] == ["eth0","net1"]' "$TMP/cache/cid-a.json" >/dev/null

plexus CHECK a
check "nokube: CHECK passes" test "$RC" -eq 0
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni "$P" \
	<<<"$(jq -c '.cniVersion = "1.1.0"' <<<"$CONF")" 2>"$TMP/stderr"); RC=$?
check "nokube: STATUS is ready (cluster network from confDir)" test "$RC" -eq 0

# ---- DEL leaves nothing --------------------------------------------------------------------
for p in a b; do
	plexus DEL $p
	check "nokube: DEL pod $p succeeds" test "$RC" -eq 0
	check "... no link, lease or intent log left" nothing_of $p
done
check "nokube: every lease released" test "$(leases)" -eq 0
check "nokube: no veth of the pods left on the node's bridge" \
	bash -c "[ -z \"\$(ip -n $NODE -j link show master $BR | jq -r '.[].ifname')\" ]"
plexus DEL a
check "nokube: DEL again (no intent log) succeeds" test "$RC" -eq 0
check "... and plans nothing from confDir" grep -q "no intent log.*no API is configured" "$TMP/stderr"

# A damaged log and no API: the pod's links are found by convention (docs/meta.md).
mkpod d
plexus ADD d
: >"$TMP/cache/cid-d.json"
plexus DEL d
check "nokube: DEL with an empty intent log succeeds" test "$RC" -eq 0
check "... the pod's links are removed by convention" only_lo d
check "... the log is moved aside" bash -c "[ -f $TMP/cache/cid-d.json.corrupt ] && [ ! -e $TMP/cache/cid-d.json ]"
# (Leases in a dataDir only the lost log named stay: docs/meta.md says so.)
grep -rls cid-d "$TMP"/ipam-* | xargs -r rm -f

# ---- what the pod selects is refused without an API ----------------------------------------
mkpod c
plexus ADD c "$(jq -c '.runtimeConfig = {"io.kubernetes.cri.pod-annotations":{"k8s.v1.cni.cncf.io/networks":"lan@net7"}}' <<<"$CONF")"
check "nokube: a network selected by a pod annotation is refused (code 7)" is_err 7
check "... saying no API is configured" msg_has "no API is configured"
check "... and nothing is attached" nothing_of c

# ---- a configured API that cannot be loaded is still an error -------------------------------
plexus ADD c "$(jq -c --arg k "$TMP/no-such.kubeconfig" '. + {kubeconfig:$k}' <<<"$CONF")"
check "nokube: a kubeconfig that does not exist fails ADD (code 5)" is_err 5
check "... naming it" msg_has "no-such.kubeconfig"
check "... and nothing is attached" nothing_of c
# STATUS resolves only the cluster network: the broken kubeconfig, not a confDir fallback.
OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni "$P" \
	<<<"$(jq -c --arg k "$TMP/no-such.kubeconfig" '.cniVersion = "1.1.0" | . + {kubeconfig:$k}' <<<"$CONF")" \
	2>"$TMP/stderr"); RC=$?
check "nokube: ... and the cluster network does not fall back to confDir (STATUS code 50)" is_err 50
check "... naming the kubeconfig" msg_has "no-such.kubeconfig"
EXTRA_ENV=(KUBERNETES_SERVICE_HOST=10.96.0.1)
plexus ADD c
EXTRA_ENV=()
check "nokube: a half-set in-cluster environment fails ADD (code 7)" is_err 7
check "... naming KUBERNETES_SERVICE_PORT" msg_has "KUBERNETES_SERVICE_PORT"
check "... and nothing is attached" nothing_of c
