#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Multus v4.1.4 in thick mode (multus-daemon + multus-shim, an optional reference build:
# tests/diff/anchor.bash) against the TLS API server fixture: the daemon's informers LIST and
# WATCH pods (field selector spec.nodeName) and NADs, re-WATCH from their resourceVersion after a
# cut stream and re-LIST after a 410; a pod with one NAD gets its cluster network and the
# secondary one through the shim, the network-status goes to pods/status, DEL removes both.
# The daemon wants in-cluster credentials at the fixed service-account path: it runs in a
# private mount namespace whose /run is a tmpfs holding them (the host's /run/netns bound in).
# Not run (NOTRUN) without the reference build. Needs root.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/anchor.bash"
need_root
need_tools multus-thick node openssl curl jq unshare
diff_anchor multus multus-daemon
[ -n "$ANCHOR_BIN" ] || exit 0
MDIR=$(dirname "$ANCHOR_BIN")

NODE=plx-mtn-$T_ID POD=plx-mtp-$T_ID
D=$(t_tmpdir)
TOKEN=multus-token-$T_ID
UID_=$(uid mpod)
t_netns "$NODE" && t_netns "$POD" || { fail "multus-thick: netns"; exit 1; }
ip -n "$NODE" link set lo up
mkdir -p "$D/net.d" "$D/sock" "$D/hl" "$D/oldrun"
sec=$(jq -nc --arg d "$D/hl" '{cniVersion: "0.3.1", name: "sec", type: "bridge", bridge: "plxmts0",
	ipam: {type: "host-local", subnet: "10.89.0.0/24", dataDir: $d}}')
{
	jq -c --arg n node-"$T_ID" '.spec.nodeName = $n' <<<"$(pod mpod sec)"
	jq -c '.spec.nodeName = "elsewhere"' <<<"$(pod other sec)"
	nad default sec "$sec"
} | jq -s '{kind: "List", items: .}' >"$D/state.json"
api_fixture "$NODE" "$D" "$TOKEN" 120
t_proc "$API_PID"
[ -n "$PORT" ] || { fail "multus-thick: the API server fixture did not start: $(cat "$D/api.err")"; exit 1; }
jq -n --arg d "$D/hl" '{cniVersion: "0.3.1", name: "primary", plugins: [{type: "bridge",
	bridge: "plxmtp0", ipam: {type: "host-local", subnet: "10.88.0.0/24", dataDir: $d}}]}' \
	>"$D/net.d/10-primary.conflist"
jq -n --arg d "$D" '{cniVersion: "0.3.1", logLevel: "verbose", logFile: ($d + "/multus.log"),
	cniConfigDir: ($d + "/net.d"), multusAutoconfigDir: ($d + "/net.d"), multusConfigFile: "auto",
	socketDir: ($d + "/sock"), binDir: "/usr/lib/cni"}' >"$D/daemon.json"
printf %s "$TOKEN" >"$D/token"
SA=/run/secrets/kubernetes.io/serviceaccount
ip netns exec "$NODE" env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$PORT" \
	MULTUS_NODE_NAME=node-"$T_ID" unshare -m --propagation private bash -c '
	d=$1 sa=$2
	mount --rbind /run "$d/oldrun" && mount -t tmpfs tmpfs /run && mkdir -p /run/netns "$sa" &&
		mount --rbind "$d/oldrun/netns" /run/netns && cp "$d/pki/ca.crt" "$d/token" "$sa/" &&
		echo default >"$sa/namespace" || exit 1
	exec "$3" -config "$d/daemon.json"' _ "$D" "$SA" "$ANCHOR_BIN" \
	>"$D/daemon.out" 2>&1 &
DAEMON_PID=$!
t_proc "$DAEMON_PID"
wait_for() { # SECONDS CMD...: poll CMD every 0.1 s
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
api_count() { grep -c -- "$1" "$D/api.log"; }
SEL=fieldSelector=spec.nodeName%3Dnode-$T_ID
LISTS="GET /api/v1/pods?$SEL&limit=500&resourceVersion=0 200"
WATCHES="GET /api/v1/pods?allowWatchBookmarks=true&$SEL&resourceVersion=[1-9][0-9]*&.*watch=true 200"
ready() { [ -S "$D/sock/multus.sock" ] && [ -s "$D/net.d/00-multus.conf" ] && [ "$(api_count "$WATCHES")" -ge 1 ]; }
check "multus-thick: the daemon starts, writes its auto config and watches" wait_for 15 ready
check "multus-thick: its pod informer LISTs and WATCHes only this node's pods" \
	test "$(api_count "$LISTS")/$(api_count 'GET /api/v1/pods?limit')" = 1/0
check "multus-thick: its NAD informer WATCHes NADs" wait_for 5 test "$(api_count 'GET /apis/k8s.cni.cncf.io/v1/network-attachment-definitions?.*watch=true 200')" -ge 1

CONF=$(jq -c --arg s "$D/sock" '. + {daemonSocketDir: $s}' "$D/net.d/00-multus.conf" 2>/dev/null)
shim() { # VERB: multus-shim as the runtime would call it, stdout in $D/out.VERB
	echo "$CONF" | CNI_COMMAND=$1 CNI_CONTAINERID=ctr-$T_ID CNI_NETNS=/var/run/netns/$POD \
		CNI_IFNAME=eth0 CNI_PATH="$MDIR" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=mpod;K8S_POD_INFRA_CONTAINER_ID=ctr-$T_ID;K8S_POD_UID=$UID_" \
		timeout 30 "$MDIR/multus-shim" >"$D/out.$1" 2>>"$D/shim.err"
}
addr() { ip -n "$POD" -4 -o addr show dev "$1" 2>/dev/null | awk '{print $4}'; }
status() {
	ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state" |
		jq -r '.items[] | select(.kind == "Pod" and .metadata.name == "mpod") |
		.metadata.annotations["k8s.v1.cni.cncf.io/network-status"] // "[]" | fromjson |
		map(.name + "@" + .interface + "=" + (.ips | join(","))) | join(" ")'
}
check "multus-thick: ADD through the shim" shim ADD
check "multus-thick: the pod has the cluster network on eth0 and the NAD on net1" \
	test "$(addr eth0)/$(addr net1)" = 10.88.0.2/24/10.89.0.2/24
check "multus-thick: the network-status annotation, written with PUT pods/status" \
	test "$(status)/$(api_count 'PUT /api/v1/namespaces/default/pods/mpod/status.* 200')" = "primary@eth0=10.88.0.2 default/sec@net1=10.89.0.2/1"

# The informers against the fixture's WATCH: a cut stream is resumed from its resourceVersion;
# a resourceVersion compacted away makes the reflector LIST again.
fixture() { ip netns exec "$NODE" curl -sk -X POST "https://127.0.0.1:$PORT/_fixture/$1" >/dev/null; }
fixture watches/close
resumed() { [ "$(api_count "$WATCHES")" -ge 2 ]; }
check "multus-thick: a cut WATCH is resumed from its resourceVersion" wait_for 15 resumed
# (a LIST's query starts with the selector, a WATCH's with allowWatchBookmarks)
check "multus-thick: ... without a LIST" test "$(api_count "GET /api/v1/pods?$SEL&")" = 1
ip netns exec "$NODE" curl -sk -X PUT "https://127.0.0.1:$PORT/_fixture/objects" \
	-d '{"kind":"Node","metadata":{"name":"bump"}}' >/dev/null
fixture compact
fixture watches/close
relisted() { [ "$(api_count "GET /api/v1/pods?$SEL&")" -ge 2 ]; }
check "multus-thick: a compacted resourceVersion (410) makes the informer LIST again" wait_for 20 relisted
check "multus-thick: DEL through the shim" shim DEL
check "multus-thick: DEL removed eth0 and net1" test "$(ip -n "$POD" -o link | grep -c -E ' (eth0|net1)@')" = 0
check "multus-thick: the daemon is still running" kill -0 "$DAEMON_PID"
