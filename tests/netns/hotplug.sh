#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-apid --hotplug (docs/hotplug.md) against the API server fixture's LIST and WATCH, in a
# "node" network namespace with real macvlan links and host-local leases: annotation edits of a
# running pod attach, detach and re-attach its interfaces, a burst of edits converges on the
# last, an agent restarted between edits converges from its LIST without any further edit, a
# failing delegate is rolled back and retried, the opt-out annotation is honoured, a pod
# deleted during a hot-plug is cleaned by its DEL, an edit the agent missed (watch cut, history
# compacted: 410) is applied after its next LIST, and DEL leaves nothing behind.
# Needs root, node, openssl, curl, jq.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools hotplug node openssl curl jq
TMP=$(t_tmpdir)
NODE=plxhp$T_ID
NODE_NAME=node-$T_ID
new_node "$NODE"

# The agent runs plexus from binDir: plexus's binaries, and a delegate that is slow on purpose.
PBIN=$TMP/bin
mkdir -p "$PBIN"
ln -s "$BIN"/* "$PBIN"/
printf '#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && touch %s/slow-started && sleep 1.5\nCNI_PATH=%s exec %s/macvlan\n' \
	"$TMP" "$REF_CNI" "$REF_CNI" >"$PBIN/slow"
chmod +x "$PBIN/slow"
on_node() { jq -c --arg n "$NODE_NAME" '.spec.nodeName = $n' <<<"$(pod "$@")"; }
{
	echo '{"items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-cluster" 10.250.0.0/24)"; echo ,
	nad default mv-a "$(mv_conf mv-a "$TMP/ipam-mv-a" 10.251.0.0/24)"; echo ,
	nad default mv-b "$(jq -c '. + {allowCniArgs: true}' <<<"$(mv_conf mv-b "$TMP/ipam-mv-b" 10.252.0.0/24)")"; echo ,
	nad default mv-bad "$(mv_conf mv-bad "$TMP/ipam-mv-bad" 10.253.0.0/24 no-such-master)"; echo ,
	nad kube-system slow "$(jq -c '.type = "slow"' <<<"$(mv_conf slow "$TMP/ipam-slow" 10.254.0.0/24)")"; echo ,
	on_node pod-a "mv-a"; echo ,
	on_node pod-b ""; echo ,
	jq -c '.spec.nodeName = "another-node"' <<<"$(pod pod-z "")"
	echo ']}'
} >"$TMP/state.json"
TOKEN=plexus-node-token-$T_ID
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "hotplug: API server fixture is up" test -n "$PORT"
CNI_DIR=$TMP/cache
jq -n --arg k "$TMP/kubeconfig" --arg t "$TMP" --arg b "$PBIN" '{cniVersion:"1.0.0",name:"plexus-net",
	plugins:[{type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",binDir:$b,
	tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}]}' >"$TMP/00-plexus.conflist"
CONF=$(jq -c --arg c "$CNI_DIR" '.plugins[0] + {cniVersion, name, cniDir: $c}' "$TMP/00-plexus.conflist")

podns() { echo "plxhp$T_ID-$1"; }
plexus() { # plexus VERB POD: what the runtime runs; sets OUT, RC
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="cid-$2-$T_ID" \
		CNI_NETNS="/run/netns/$(podns "$2")" CNI_IFNAME=eth0 CNI_PATH="$PBIN" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_UID=$(uid "$2")" \
		"$BIN/plexus" <<<"$CONF" 2>"$TMP/stderr")
	RC=$?
}
fixture() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/$1" "${@:2}"; }
annotate() { # annotate POD JSON_ANNOTATIONS: merge-patch the pod's annotations (a WATCH event)
	fixture "api/v1/namespaces/default/pods/$1" -X PATCH -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/merge-patch+json' \
		--data "$(jq -cn --argjson a "$2" '{metadata:{annotations:$a}}')" >/dev/null
}
nets() { annotate "$1" "$(jq -cn --arg v "$2" '{"k8s.v1.cni.cncf.io/networks": $v}')"; }
links() { ip -n "$(podns "$1")" -j link show | jq -r '[.[] | select(.ifname != "lo") | .ifname] | sort | join(",")'; }
ifindex() { ip -n "$(podns "$1")" -j link show "$2" 2>/dev/null | jq -r '.[0].ifindex'; }
status_ifs() { fixture _fixture/state | jq -r --arg p "$1" '.items[] | select(.kind=="Pod" and .metadata.name==$p)
	| .metadata.annotations["k8s.v1.cni.cncf.io/network-status"] // "[]" | fromjson | [.[] | .interface] | join(",")'; }
# converge POD LINKS: wait (up to 5 s) until the pod's links are LINKS
converge() { for _ in $(seq 100); do [ "$(links "$1")" = "$2" ] && return 0; sleep 0.05; done; [ "$(links "$1")" = "$2" ]; }
ALOG=$TMP/apid.log
apid_start() {
	ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$TMP/run/api.sock" \
		--metrics-address "" --hotplug --node-name "$NODE_NAME" --cni-dir "$CNI_DIR" \
		--conf "$TMP/00-plexus.conflist" --log-level debug 2>>"$ALOG" &
	APID_PID=$!
	t_proc "$APID_PID"
	for _ in $(seq 100); do grep -q 'each checked' "$ALOG" && break; sleep 0.05; done
}
apid_stop() { kill "$APID_PID" && wait "$APID_PID"; cat "$ALOG" >>"$ALOG.all"; : >"$ALOG"; }

for p in pod-a pod-b; do t_netns "$(podns "$p")"; done
plexus ADD pod-a
check "hotplug: the runtime's ADD of pod-a (mv-a)" test "$RC/$(links pod-a)" = 0/eth0,net1
plexus ADD pod-b
check "hotplug: the runtime's ADD of pod-b (no networks)" test "$RC/$(links pod-b)" = 0/eth0

ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$TMP/run/x.sock" \
	--metrics-address "" --hotplug --conf "$TMP/00-plexus.conflist" 2>"$TMP/usage"
check "hotplug: --hotplug without --node-name or NODE_NAME fails to start, naming the option" \
	grep -q 'node-name' "$TMP/usage"
apid_start
check "hotplug: plexus-apid --hotplug lists the node's pods (2, not the other node's)" \
	grep -q 'hot-plug: 2 pod(s) on the node' "$ALOG"
check "... with a field selector on spec.nodeName, then watches from the List's resourceVersion" \
	test "$(fixture _fixture/requests | jq -r '[.items[] | select(.path|startswith("/api/v1/pods?")) | .path] | .[0:2] | map(test("fieldSelector=spec.nodeName%3Dnode-'"$T_ID"'")) | all')" = true

# ---- attach, detach, re-attach ----------------------------------------------------------------------
NET1=$(ifindex pod-a net1)
T0=$(date +%s%N)
nets pod-a "mv-a,mv-b"
converge pod-a eth0,net1,net2
check "hotplug: 'mv-a,mv-b' on pod-a: net2 appears ($(((($(date +%s%N) - T0) / 1000000))) ms), net1 untouched" \
	test "$(links pod-a)/$(ifindex pod-a net1)" = "eth0,net1,net2/$NET1"
check "... network-status follows" test "$(status_ifs pod-a)" = eth0,net1,net2
check "... pod-b is not touched" test "$(links pod-b)" = eth0
NET2=$(ifindex pod-a net2)
nets pod-a '[{"name":"mv-a"},{"name":"mv-b","cni-args":{"v":"2"}}]'
for _ in $(seq 100); do [ "$(ifindex pod-a net2)" != "$NET2" ] && [ "$(links pod-a)" = eth0,net1,net2 ] && break; sleep 0.05; done
check "hotplug: mv-b's cni-args changed: net2 is re-attached (a new link), one lease" \
	test "$(links pod-a)/$([ "$(ifindex pod-a net2)" != "$NET2" ] && echo new)/$(leases "$TMP/ipam-mv-b")" = eth0,net1,net2/new/1
nets pod-a "mv-b"
converge pod-a eth0,net1
check "hotplug: 'mv-b': mv-a detached, mv-b moves to net1, leases follow" \
	test "$(links pod-a)/$(leases "$TMP/ipam-mv-a")/$(leases "$TMP/ipam-mv-b")/$(status_ifs pod-a)" = eth0,net1/0/1/eth0,net1

# ---- a burst of edits converges on the last ---------------------------------------------------------
for v in "mv-a" "mv-a,mv-b" "" "mv-b@b1" "mv-a@a1,mv-b@b1" "mv-a@a2,mv-b@b2"; do nets pod-b "$v"; done
converge pod-b a2,b2,eth0
check "hotplug: six edits of pod-b in a burst end with the last one's interfaces" test "$(links pod-b)" = a2,b2,eth0
check "... and one lease per network" test "$(leases "$TMP/ipam-mv-a")/$(leases "$TMP/ipam-mv-b")" = 1/2

# ---- the agent restarted between edits --------------------------------------------------------------
apid_stop
nets pod-b "mv-a@a2"
sleep 0.3
check "hotplug: with the agent down an edit changes nothing" test "$(links pod-b)" = a2,b2,eth0
apid_start
converge pod-b a2,eth0
check "hotplug: the restarted agent converges from its LIST, without another edit" test "$(links pod-b)" = a2,eth0

# ---- a missed event: the watch cut while the API fails, the edit made, the history compacted ---------
fixture _fixture/faults -X POST --data '[{"status":500,"method":"GET","path":"/api/v1/pods","count":100000}]' >/dev/null
fixture _fixture/watches/close -X POST >/dev/null
nets pod-b "mv-a@a2,mv-b@b9"
fixture _fixture/compact -X POST >/dev/null
sleep 0.3
check "hotplug: while the agent cannot watch (500s) the edit is not applied" test "$(links pod-b)" = a2,eth0
fixture _fixture/faults -X DELETE >/dev/null
for _ in $(seq 200); do [ "$(links pod-b)" = a2,b9,eth0 ] && break; sleep 0.05; done
check "hotplug: the agent's resumed WATCH gets 410, its new LIST applies the missed edit" \
	test "$(links pod-b)/$(grep -c 'each checked' "$ALOG")" = a2,b9,eth0/2

# ---- a failing delegate: rolled back, retried, then another edit wins ------------------------------
nets pod-b "mv-a@a2,mv-bad"
for _ in $(seq 100); do grep -q "pod 'default/pod-b'.*mv-bad.*retrying later" "$ALOG" && break; sleep 0.05; done
check "hotplug: 'mv-bad' fails, the agent says why and retries later" \
	grep -q "pod 'default/pod-b': network 'default/mv-bad' (net2): macvlan ADD: master: link 'no-such-master' not found (CNI error 7), retrying later" "$ALOG"
check "... rolled back: pod-b as it was, no lease of mv-bad" test "$(links pod-b)/$(leases "$TMP/ipam-mv-bad")" = a2,eth0/0
check "... a Warning Event on pod-b names the network" \
	test "$(fixture _fixture/state | jq '[.items[] | select(.kind=="Event" and .involvedObject.name=="pod-b" and .reason=="AddInterfaceFailed"
		and (.message|startswith("Failed to add default/mv-bad: CNI error 7")))] | length')" -ge 1
nets pod-b "mv-a@a2,mv-b@b3"
converge pod-b a2,b3,eth0
check "hotplug: the next edit replaces the failing one" test "$(links pod-b)" = a2,b3,eth0

# ---- opt-out ------------------------------------------------------------------------------------------
annotate pod-a '{"plexus.io/hotplug":"false","k8s.v1.cni.cncf.io/networks":"mv-a,mv-b"}'
nets pod-b "mv-a@a2"
converge pod-b a2,eth0
check "hotplug: an opted-out pod keeps its interfaces (while another pod's edit went through)" \
	test "$(links pod-a)" = eth0,net1

# ---- a pod deleted during a hot-plug ------------------------------------------------------------------
rm -f "$TMP/slow-started"
nets pod-b "mv-a@a2,kube-system/slow@s1"
for _ in $(seq 100); do [ -e "$TMP/slow-started" ] && break; sleep 0.05; done
check "hotplug: pod-b's slow delegate is running (the hot-plug holds the pod's lock)" test -e "$TMP/slow-started"
T0=$(date +%s%N)
plexus DEL pod-b
MS=$((($(date +%s%N) - T0) / 1000000))
[ -z "${DEBUG:-}" ] || { echo "DEL: $RC $OUT"; cat "$TMP/stderr"; links pod-b; ls -la $CNI_DIR; } >&2
fixture "_fixture/objects?kind=Pod&namespace=default&name=pod-b" -X DELETE >/dev/null
check "hotplug: the runtime's DEL of pod-b waits for the hot-plug ($MS ms) and succeeds" test "$RC" -eq 0 -a "$MS" -ge 500
check "... pod-b has no link, the slow network no lease, no intent log or lock file" \
	test "$(links pod-b)/$(leases "$TMP/ipam-slow")/$(ls "$CNI_DIR" | grep -c "cid-pod-b")" = /0/0
sleep 0.3
check "... and the agent does not touch it again" test "$(ls "$CNI_DIR" | grep -c "cid-pod-b")" = 0

# ---- DEL of pod-a cleans what the hot-plugs made ------------------------------------------------------
plexus DEL pod-a
check "hotplug: DEL of pod-a succeeds and leaves no link, lease, intent log or lock file" \
	test "$RC/$(links pod-a)/$(leases "$TMP/ipam-mv-a")/$(leases "$TMP/ipam-mv-b")/$(leases "$TMP/ipam-cluster")/$(ls -A "$CNI_DIR" | grep -cvx events)" = 0//0/0/0/0
kill "$APID_PID" && wait "$APID_PID"
check "hotplug: plexus-apid exits 0 on SIGTERM, with no sanitizer report (both runs)" \
	test "$?/$(cat "$ALOG.all" "$ALOG" | grep -c 'Sanitizer\|runtime error')" = 0/0
