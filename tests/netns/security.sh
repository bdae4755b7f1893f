#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attacks on the meta-plugin's trust boundary (docs/security.md), one block per row: a tenant's
# NAD or pod annotation tries to make the root-run plexus exec a binary, write or read a host
# path, reach another namespace or burn API requests. Each refusal must be a code-7 error
# naming the key and the tenantPolicy knob, and leave nothing: no exec (a canary binary that
# would log its run), no link, no lease, no intent log. The node runs the TLS API server fixture
# (it logs every request) in its own netns like tests/netns/meta.sh. Needs root, node, openssl.
source "$(dirname "$0")/../lib.sh"
need_root
for t in node openssl curl jq; do
	command -v "$t" >/dev/null || { fail "security: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
P=$BIN/plexus
TMP=$(t_tmpdir)
NODE=plxsn$T_ID
new_node "$NODE"

# The canary: any exec of it (as "sh", "canary" or by the nested plexus) is logged.
EVIL=$TMP/evil
mkdir -p "$EVIL"
printf '#!/bin/sh\necho "$CNI_COMMAND $0" >>%s\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && echo %s\nexit 0\n' \
	"$TMP/canary.log" "'{\"cniVersion\":\"1.0.0\"}'" >"$EVIL/canary"
chmod +x "$EVIL/canary"
ln -s canary "$EVIL/sh"
: >"$TMP/canary.log"

TOKEN=plexus-node-token-$T_ID
nad() { # nad NS NAME CONFIG_JSON
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" \
		'{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
		  metadata:{namespace:$ns,name:$n,uid:("uid-"+$n)},spec:{config:$c}}'
}
pod() { # pod NS NAME NETWORKS_ANNOTATION [DEFAULT_NETWORK_ANNOTATION]
	jq -cn --arg ns "$1" --arg n "$2" --arg a "$3" --arg d "${4:-}" \
		'{apiVersion:"v1",kind:"Pod",metadata:{namespace:$ns,name:$n,uid:("uid-"+$n),
		  annotations:((if $a == "" then {} else {"k8s.v1.cni.cncf.io/networks":$a} end) +
		  (if $d == "" then {} else {"v1.multus-cni.io/default-network":$d} end))},
		  spec:{containers:[{name:"c",image:"pause"}]}}'
}
IPAM=$TMP/ipam
hl() { jq -cn --arg d "$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
mv() { # mv IPAM_JSON [EXTRA_JSON]: macvlan on the node's eth9
	jq -cn --argjson i "$1" --argjson x "${2:-{\}}" '{cniVersion:"1.0.0",type:"macvlan",master:"eth9",ipam:$i} + $x'
}
CLUSTER=$(jq -cn --argjson i "$(hl "$IPAM/cluster" 10.221.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",type:"bridge",bridge:"cni9",isGateway:true,ipam:$i}')
ALT=$(jq -cn --argjson i "$(hl "$IPAM/alt" 10.222.0.0/24)" \
	'{cniVersion:"1.0.0",name:"alt",type:"bridge",bridge:"cni8",ipam:$i}')
TENANT_ALT=$(jq -cn --argjson i "$(hl "$IPAM/tenant-alt" 10.223.0.0/24)" \
	'{cniVersion:"1.0.0",name:"alt",type:"bridge",bridge:"cni7",ipam:$i}')
NESTED=$(jq -cn --arg b "$EVIL" --arg k "$TMP/evil-kubeconfig" \
	'{cniVersion:"1.0.0",type:"plexus",binDir:$b,kubeconfig:$k,clusterNetwork:"x",delegates:[{type:"sh"}]}')
SH=$(jq -cn --arg b "$EVIL" '{cniVersion:"1.0.0",type:"sh",binDir:$b}')
CANARY='{"cniVersion":"1.0.0","type":"canary"}'
OK_NET=$(mv "$(hl "$IPAM/tenant" 10.224.0.0/24)")
LOGFILE=$(mv "$(hl "$IPAM/tenant" 10.224.0.0/24)" "$(jq -cn --arg f "$TMP/evil-log/x.log" '{logFile:$f}')")
DD_OUT=$(mv "$(hl "$TMP/outside" 10.225.0.0/24)")
DD_DOTS=$(mv "$(hl "$IPAM/../outside2" 10.225.0.0/24)")
# The reference bridge and host-local are Go: encoding/json takes "DataDir" for dataDir (the
# later member wins), so the check must see it too.
DD_CASE=$(jq -cn --argjson i "$(hl "$IPAM/tenant" 10.224.0.0/24 | jq -c --arg d "$TMP/outside3" '. + {DataDir:$d}')" \
	'{cniVersion:"1.0.0",type:"bridge",bridge:"cni6",ipam:$i}')
RESOLV=$(mv "$(hl "$IPAM/tenant" 10.224.0.0/24 | jq -c '. + {resolvConf:"/etc/shadow"}')")
OPT_IN=$(mv "$(hl "$IPAM/tenant" 10.224.0.0/24)" '{"allowCniArgs":true}')
TRUSTED_DD=$(mv "$(hl "$TMP/trusted-dd" 10.226.0.0/24)")
DHCP_SOCK=$(mv '{"type":"dhcp","daemonSocketPath":"/run/containerd/containerd.sock"}')
RT_CONF=$(mv "$(hl "$IPAM/tenant" 10.224.0.0/24)" '{"runtimeConfig":{"ips":["10.224.0.99/24"]}}')
DEV_ID=$(mv "$(hl "$IPAM/tenant" 10.224.0.0/24)" '{"deviceID":"0000:3b:02.0"}')
# As the whereabouts docs write it; a fake whereabouts (below) stands in for the real one.
WB=$(mv '{"type":"whereabouts","range":"10.227.0.0/24","kubernetes":{"kubeconfig":"/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig"}}')
HUGE=$(printf 'tenant/ok-net,%.0s' $(seq 8535) | head -c 102400)
MANY=$(printf 'ok-net@m%d,' $(seq 40)); MANY=${MANY%,}
{
	echo '{"items":['
	nad kube-system cluster "$CLUSTER"; echo ,
	nad kube-system alt "$ALT"; echo ,
	nad tenant alt "$TENANT_ALT"; echo ,
	nad other cluster2 "$ALT"; echo ,
	nad tenant nested "$NESTED"; echo ,
	nad infra nested "$NESTED"; echo ,
	nad tenant sh "$SH"; echo ,
	nad tenant canary "$CANARY"; echo ,
	nad infra canary "$CANARY"; echo ,
	nad tenant ok-net "$OK_NET"; echo ,
	nad tenant logfile "$LOGFILE"; echo ,
	nad tenant dd-out "$DD_OUT"; echo ,
	nad tenant dd-case "$DD_CASE"; echo ,
	nad tenant dd-dots "$DD_DOTS"; echo ,
	nad tenant resolv "$RESOLV"; echo ,
	nad tenant opt-in "$OPT_IN"; echo ,
	nad tenant trusted-dd "$TRUSTED_DD"; echo ,
	nad tenant dhcp-sock "$DHCP_SOCK"; echo ,
	nad tenant rt-conf "$RT_CONF"; echo ,
	nad tenant dev-id "$DEV_ID"; echo ,
	nad tenant wb "$WB"; echo ,
	nad infra trusted-dd "$TRUSTED_DD"; echo ,
	pod tenant p-nested "nested"; echo ,
	pod tenant p-nested-infra "infra/nested"; echo ,
	pod tenant p-sh "sh"; echo ,
	pod tenant p-canary "canary"; echo ,
	pod tenant p-canary-infra "infra/canary"; echo ,
	pod tenant p-logfile "logfile"; echo ,
	pod tenant p-dd-out "dd-out"; echo ,
	pod tenant p-dd-case "dd-case"; echo ,
	pod tenant p-dd-dots "dd-dots"; echo ,
	pod tenant p-resolv "resolv"; echo ,
	pod tenant p-ok "ok-net"; echo ,
	pod tenant p-trusted-dd "infra/trusted-dd"; echo ,
	pod tenant p-untrusted-dd "trusted-dd"; echo ,
	pod tenant p-dn-cross "" "other/cluster2"; echo ,
	pod tenant p-dn-unq "" "alt"; echo ,
	pod tenant p-args '[{"name":"ok-net","cni-args":{"ips":["10.224.0.77/24"]}}]'; echo ,
	pod tenant p-args-optin '[{"name":"opt-in","cni-args":{"ips":["10.224.0.78/24"]}}]'; echo ,
	pod tenant p-huge "$HUGE"; echo ,
	pod tenant p-dhcp-sock "dhcp-sock"; echo ,
	pod tenant p-rt-conf "rt-conf"; echo ,
	pod tenant p-dev-id "dev-id"; echo ,
	pod tenant p-wb "wb"; echo ,
	pod tenant p-many "$MANY"
	echo ']}'
} >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN" 300
check "security: API server fixture is up" test -n "$PORT"
# The node admin's conf: binDir holds the canary (so a tenant type "sh" or "canary" would be
# found and run without the policy); infra is trusted besides multusNamespace; tenant host-local
# dataDirs may live under $IPAM (the hostPathRoots knob).
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg b "$EVIL" --arg r "$IPAM" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
	  cniDir:$c,confDir:"/nonexistent",binDir:$b,
	  tenantPolicy:{trustedNamespaces:["kube-system","infra"],hostPathRoots:{dataDir:[$r]}}}')

plexus() { # plexus VERB POD [CONF]: sets OUT, RC
	local conf=${3:-$CONF}
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" ${IPAM_EXEC:+PLEXUS_IPAM_EXEC=1} CNI_COMMAND="$1" \
		CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/plxsp$T_ID-$2" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=tenant;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=cid-$2" \
		"$P" <<<"$conf" 2>"$TMP/stderr")
	RC=$?
}
podns() { echo "plxsp$T_ID-$1"; }
mkpod() { t_netns "$(podns "$1")"; ip -n "$(podns "$1")" link set lo up; }
only_lo() { [ "$(ip -n "$(podns "$1")" -j link show | jq length)" -eq 1 ]; }
leases() { find "$TMP" -path "$TMP/pki" -prune -o -type f -name '10.*' -print 2>/dev/null | wc -l; }
nad_gets() { grep -c 'GET /apis/k8s.cni.cncf.io' "$TMP/api.log" 2>/dev/null || true; }
is_err() { [ "$RC" -ne 0 ] && [ -n "$OUT" ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
msg_has() { jq -r '.msg // ""' <<<"$OUT" | grep -qF -- "$1"; }
ip4_of() { ip -n "$(podns "$1")" -j addr show dev "$2" | jq -r '.[0].addr_info[] | select(.family=="inet") | .local'; }

# refused NAME POD WANT...: ADD of POD fails with code 7 whose message has every WANT, and
# leaves no exec, link, lease or intent log; DEL of it then succeeds.
refused() {
	local name=$1 pod=$2
	shift 2
	mkpod "$pod"
	local leases0
	leases0=$(leases)
	: >"$TMP/canary.log"
	plexus ADD "$pod" "${REFUSED_CONF:-$CONF}"
	check "$name: refused with code 7" is_err 7
	is_err 7 || echo "  out: $OUT $(cat "$TMP/stderr")" >&2
	local w
	for w in "$@"; do check "$name: message has '$w'" msg_has "$w"; done
	check "$name: nothing exec'd (canary silent)" test ! -s "$TMP/canary.log"
	check "$name: no link, no lease, no intent log" \
		bash -c "[ \$(ip -n $(podns "$pod") -j link show | jq length) -eq 1 ] && [ $(leases) -eq $leases0 ] && [ ! -e $TMP/cache/cid-$pod.json ]"
	plexus DEL "$pod" "${REFUSED_CONF:-$CONF}"
	check "$name: DEL of the refused pod succeeds" test "$RC" -eq 0
}

# ---- exec: the nested meta-plugin chain, a tenant-chosen binary -------------------------------
refused "nested plexus" p-nested "network 'tenant/nested': plugins[0].type 'plexus' is never run as a delegate"
refused "nested plexus in a trusted namespace" p-nested-infra "'infra/nested'" "'plexus' is never run"
refused "type sh with binDir" p-sh "network 'tenant/sh': plugins[0].type 'sh' is not in tenantPolicy.allowedTypes"
refused "type canary (in the admin's binDir)" p-canary "'canary' is not in tenantPolicy.allowedTypes"
mkpod p-canary-infra
: >"$TMP/canary.log"
plexus ADD p-canary-infra
check "trusted namespace: the same canary NAD runs (what an untrusted one may not)" \
	bash -c "[ $RC -eq 0 ] && grep -q '^ADD .*canary' '$TMP/canary.log'"
plexus DEL p-canary-infra
check "trusted namespace: DEL" test "$RC" -eq 0

# ---- host paths: logFile, dataDir outside the roots and with '..', resolvConf ---------------
refused "logFile in a NAD" p-logfile "plugins[0].logFile is a node-admin key" "tenantPolicy.hostPathRoots.logFile"
check "logFile in a NAD: its directory was not created" test ! -e "$TMP/evil-log"
refused "dataDir outside hostPathRoots" p-dd-out \
	"plugins[0].ipam.dataDir '$TMP/outside' is outside tenantPolicy.hostPathRoots.dataDir [$IPAM]"
check "dataDir outside: not created" test ! -e "$TMP/outside"
refused "dataDir with '..'" p-dd-dots \
	"'$IPAM/../outside2' must be an absolute path without '.', '..' or empty components, under tenantPolicy.hostPathRoots.dataDir [$IPAM]"
check "dataDir with '..': not created" test ! -e "$TMP/outside2"
refused "dataDir spelled as Go's JSON decoder matches it" p-dd-case \
	"plugins[0].ipam.DataDir '$TMP/outside3' is outside tenantPolicy.hostPathRoots.dataDir [$IPAM]"
check "DataDir: not created" test ! -e "$TMP/outside3"
refused "resolvConf outside hostPathRoots" p-resolv \
	"plugins[0].ipam.resolvConf '/etc/shadow' is outside tenantPolicy.hostPathRoots.resolvConf"
refused "trusted-namespace dataDir used from an untrusted NAD" p-untrusted-dd "outside tenantPolicy.hostPathRoots.dataDir"

refused "dhcp daemonSocketPath outside hostPathRoots" p-dhcp-sock \
	"plugins[0].ipam.daemonSocketPath '/run/containerd/containerd.sock' is outside tenantPolicy.hostPathRoots.daemonSocketPath [/run/cni/dhcp.sock]"

# ---- what the runtime and plexus inject ------------------------------------------------------
refused "runtimeConfig in a NAD" p-rt-conf "plugins[0].runtimeConfig is set by the runtime" "tenantPolicy.trustedNamespaces"
refused "deviceID in a NAD" p-dev-id "plugins[0].deviceID is set by the runtime"

# ---- a whereabouts-shaped NAD passes unchanged (its kubeconfig is under the default root) -----
# Run with IPAM exec'd (PLEXUS_IPAM_EXEC=1), so a fake whereabouts shows the policy let it run;
# the built-in whereabouts against an API server is tests/netns/whereabouts.sh's.
printf '#!/bin/sh
echo "$CNI_COMMAND" >>%s
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] && echo %s
exit 0
' \
	"$TMP/wb.log" "'{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.227.0.5/24\"}]}'" >"$EVIL/whereabouts"
chmod +x "$EVIL/whereabouts"
mkpod p-wb
IPAM_EXEC=1 plexus ADD p-wb
check "whereabouts-shaped NAD: ADD succeeds" test "$RC" -eq 0
[ "$RC" -eq 0 ] || echo "  out: $OUT" >&2
check "... its IPAM (a fake whereabouts) ran and net1 has its address" \
	bash -c "grep -q ADD '$TMP/wb.log' && ip -n $(podns p-wb) addr show net1 2>/dev/null | grep -q 10.227.0.5"
IPAM_EXEC=1 plexus DEL p-wb
check "whereabouts-shaped NAD: DEL" bash -c "[ $RC -eq 0 ] && grep -q DEL '$TMP/wb.log'"

# ---- the knobs: an allowed root works; a trusted NAD may use any dataDir ---------------------
mkpod p-ok
plexus ADD p-ok
check "dataDir under the hostPathRoots knob: ADD succeeds" test "$RC" -eq 0
check "... with its lease in the allowed root" bash -c "ls '$IPAM/tenant'/*/10.224.0.* >/dev/null 2>&1"
plexus DEL p-ok
mkpod p-trusted-dd
plexus ADD p-trusted-dd
check "trusted namespace: a dataDir outside the roots works" \
	bash -c "[ $RC -eq 0 ] && ls '$TMP/trusted-dd'/*/10.226.0.* >/dev/null 2>&1"
plexus DEL p-trusted-dd

# ---- the default-network override ------------------------------------------------------------
ISO_CONF=$(jq -c '. + {namespaceIsolation:true}' <<<"$CONF")
: >"$TMP/api.log"
REFUSED_CONF=$ISO_CONF refused "cross-namespace default network with isolation on" p-dn-cross \
	"namespace isolation: pod in 'tenant' may not use network 'other/cluster2'"
check "cross-namespace default network: the NAD is not fetched" \
	test "$(grep -c 'namespaces/other/' "$TMP/api.log")" -eq 0
mkpod p-dn-unq
: >"$TMP/api.log"
plexus ADD p-dn-unq
check "unqualified default network: ADD succeeds" test "$RC" -eq 0
check "... resolved in multusNamespace (kube-system/alt, not tenant/alt)" \
	bash -c "grep -q 'namespaces/kube-system/network-attachment-definitions/alt ' '$TMP/api.log' && ! grep -q 'namespaces/tenant/network-attachment-definitions/alt' '$TMP/api.log'"
check "... eth0 has kube-system/alt's subnet" bash -c "ip -n $(podns p-dn-unq) addr show eth0 2>/dev/null | grep -q 10.222.0."
plexus DEL p-dn-unq
check "unqualified default network: DEL" test "$RC" -eq 0

# ---- cni-args -----------------------------------------------------------------------------------
refused "cni-args ips without the capability" p-args \
	"network 'tenant/ok-net': cni-args.ips needs the capability the network does not declare" '"allowCniArgs": true'
mkpod p-args-optin
plexus ADD p-args-optin
check "cni-args ips with the NAD's allowCniArgs: ADD succeeds" test "$RC" -eq 0
plexus DEL p-args-optin

# ---- bounds before any NAD GET --------------------------------------------------------------
: >"$TMP/api.log"
refused "a 100 KB annotation" p-huge "k8s.v1.cni.cncf.io/networks: 102400 bytes, more than tenantPolicy.maxAnnotationBytes (32768)"
check "a 100 KB annotation: 0 NAD GETs" test "$(nad_gets)" -eq 0
: >"$TMP/api.log"
refused "40 attachments" p-many "40 networks requested" "tenantPolicy.maxAttachments (32)"
check "40 attachments: 0 NAD GETs" test "$(nad_gets)" -eq 0
plexus ADD p-many "$(jq -c '.tenantPolicy.maxAttachments = 40' <<<"$CONF")"
check "maxAttachments raised to 40: the same pod is admitted" test "$RC" -eq 0
[ "$RC" -eq 0 ] || echo "  out: $OUT"
plexus DEL p-many "$(jq -c '.tenantPolicy.maxAttachments = 40' <<<"$CONF")"
check "... and DEL cleans it" bash -c "[ $RC -eq 0 ] && [ \$(ip -n $(podns p-many) -j link show | jq length) -eq 1 ]"

check "every lease is released" test "$(leases)" -eq 0
kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null || true
