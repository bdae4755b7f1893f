#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The meta-plugin's hot-plug entry point (`plexus --hotplug`, docs/hotplug.md), run the way
# plexus-apid's agent runs it, against the API server fixture in a "node" network namespace:
# a running pod's annotation edits attach, re-attach and detach interfaces (real macvlan links,
# host-local leases), network-status and the intent log follow, a failing delegate is rolled
# back leaving the pod as it was, the opt-out annotation, a deleted or recreated pod, a busy
# pod lock and a mismatched environment change nothing, and the pod's DEL still cleans all.
# Needs root, node, openssl, curl, jq.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools hotplug-meta node openssl curl jq
P=$BIN/plexus
TMP=$(t_tmpdir)
NODE=plxhm$T_ID
new_node "$NODE"

mv_args() { jq -c '. + {allowCniArgs: true}' <<<"$(mv_conf "$@")"; }
{
	echo '{"items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-cluster" 10.240.0.0/24)"; echo ,
	nad default mv-a "$(mv_conf mv-a "$TMP/ipam-mv-a" 10.241.0.0/24)"; echo ,
	nad default mv-b "$(mv_args mv-b "$TMP/ipam-mv-b" 10.242.0.0/24)"; echo ,
	nad default mv-bad "$(mv_conf mv-bad "$TMP/ipam-mv-bad" 10.243.0.0/24 no-such-master)"; echo ,
	nad default hostdev '{"cniVersion":"1.0.0","type":"host-device","device":"eth9"}'; echo ,
	pod pod-a "mv-a"
	echo ']}'
} >"$TMP/state.json"
TOKEN=plexus-node-token-$T_ID
api_fixture "$NODE" "$TMP" "$TOKEN"
t_proc "$API_PID"
check "hotplug-meta: API server fixture is up" test -n "$PORT"
CNI_DIR=$TMP/cache
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$CNI_DIR" --arg t "$TMP" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",cniDir:$c,
	  tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
PODNS=plxhm$T_ID-a
t_netns "$PODNS"
CID=cid-hm-$T_ID
ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=$(uid pod-a)"
plexus() { # plexus ADD|DEL|HOTPLUG [VAR=VALUE...]: sets OUT, RC; stderr to $TMP/stderr
	local cmd=$1 argv=()
	shift
	[ "$cmd" = HOTPLUG ] && { cmd=ADD; argv=(--hotplug); }
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$CID" \
		CNI_NETNS="/run/netns/$PODNS" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni CNI_ARGS="$ARGS" "$@" \
		"$P" "${argv[@]}" <<<"$CONF" 2>"$TMP/stderr")
	RC=$?
	[ -z "${DEBUG:-}" ] || echo "[$cmd ${argv[*]} rc=$RC] $OUT $(cat "$TMP/stderr")" >&2
}
fixture() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/$1" "${@:2}"; }
annotate() { # annotate JSON_ANNOTATIONS: merge-patch the pod's annotations
	fixture api/v1/namespaces/default/pods/pod-a -X PATCH -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/merge-patch+json' \
		--data "$(jq -cn --argjson a "$1" '{metadata:{annotations:$a}}')" >/dev/null
}
links() { ip -n "$PODNS" -j link show | jq -r '[.[] | select(.ifname != "lo") | .ifname] | sort | join(",")'; }
ifindex() { ip -n "$PODNS" -j link show "$1" 2>/dev/null | jq -r '.[0].ifindex'; }
status_ifs() { fixture _fixture/state | jq -r '.items[] | select(.kind=="Pod") | .metadata.annotations["k8s.v1.cni.cncf.io/network-status"]
	| fromjson | [.[] | "\(.name)@\(.interface)"] | join(",")'; }
log_networks() { jq -r '.networks // "-"' "$CNI_DIR/$CID.json"; }
events() { fixture _fixture/state | jq -r '[.items[] | select(.kind=="Event") | "\(.reason) \(.message)"] | sort | join("|")'; }

plexus ADD
check "hotplug-meta: ADD of pod-a (mv-a) succeeds" test "$RC" -eq 0
check "... eth0 and net1" test "$(links)" = eth0,net1
check "... the intent log records the networks annotation it was planned from" test "$(log_networks)" = mv-a

# ---- attach -------------------------------------------------------------------------------------
NET1=$(ifindex net1)
annotate '{"k8s.v1.cni.cncf.io/networks":"mv-a,mv-b"}'
plexus HOTPLUG
check "hotplug-meta: after 'mv-a,mv-b' a hot-plug succeeds" test "$RC" -eq 0
check "... it answers with the cluster network's result" test "$(jq -r '.interfaces[0].name' <<<"$OUT")" = eth0
check "... net2 is attached with a lease of mv-b" test "$(links)/$(leases "$TMP/ipam-mv-b")" = eth0,net1,net2/1
check "... net1 is left as it was (same link)" test "$(ifindex net1)" = "$NET1"
check "... network-status lists the three" test "$(status_ifs)" = "kube-system/cluster@eth0,default/mv-a@net1,default/mv-b@net2"
check "... the intent log names mv-b and the new annotation" \
	test "$(jq -r '[.attachments[] | select(.attempted) | .ifname] | join(",")' "$CNI_DIR/$CID.json")/$(log_networks)" = "eth0,net1,net2/mv-a,mv-b"
check "... one AddedInterface Event, for net2 only" test "$(events | tr '|' '\n' | grep -c '^AddedInterface Add net2 .* from default/mv-b$')/$(events | tr '|' '\n' | grep -c 'Add net1')" = 1/1

NET2=$(ifindex net2)
plexus HOTPLUG
check "hotplug-meta: a hot-plug with nothing to do succeeds and changes nothing" \
	test "$RC/$(links)/$(ifindex net1)/$(ifindex net2)/$(leases "$TMP/ipam-mv-b")" = "0/eth0,net1,net2/$NET1/$NET2/1"

# ---- options changed: re-attached ---------------------------------------------------------------
annotate '{"k8s.v1.cni.cncf.io/networks":"[{\"name\":\"mv-a\"},{\"name\":\"mv-b\",\"cni-args\":{\"team\":\"x\"}}]"}'
plexus HOTPLUG
check "hotplug-meta: new cni-args for mv-b re-attach net2 (a new link), net1 untouched" \
	test "$RC/$(links)/$(ifindex net1)/$([ "$(ifindex net2)" != "$NET2" ] && echo new)" = "0/eth0,net1,net2/$NET1/new"
check "... still one lease of mv-b" test "$(leases "$TMP/ipam-mv-b")" = 1
check "... the intent log has the new delegate config" \
	test "$(jq -r '.attachments[] | select(.ifname=="net2") | .conf.plugins[0].args.cni.team' "$CNI_DIR/$CID.json")" = x

# ---- a failing delegate: rolled back, the pod as it was -----------------------------------------
LOG_BEFORE=$(jq -c . "$CNI_DIR/$CID.json")
NET2=$(ifindex net2)
annotate '{"k8s.v1.cni.cncf.io/networks":"mv-a,mv-bad"}'
plexus HOTPLUG
check "hotplug-meta: 'mv-a,mv-bad' fails: mv-b is detached, mv-bad's macvlan master is missing" \
	jq -e '.code == 7 and (.msg | contains("default/mv-bad") and contains("no-such-master"))' <<<"$OUT"
check "... mv-bad leaves no link and no lease" test "$(links)/$(leases "$TMP/ipam-mv-bad")" = eth0,net1/0
check "... network-status lists what is attached" test "$(status_ifs)" = "kube-system/cluster@eth0,default/mv-a@net1"
check "... the intent log names what is attached and still the old annotation (so it is retried)" \
	test "$(jq -r '[.attachments[].ifname] | join(",")' "$CNI_DIR/$CID.json")/$(jq -r .networks "$CNI_DIR/$CID.json")" = "eth0,net1/$(jq -r .networks <<<"$LOG_BEFORE")"
check "... a Warning Event names the network and the CNI code" \
	grep -q 'AddInterfaceFailed Failed to add default/mv-bad: CNI error 7' <<<"$(events | tr '|' '\n')"

# ---- the tenant policy applies to an edit as to ADD -------------------------------------------------
annotate '{"k8s.v1.cni.cncf.io/networks":"mv-a,hostdev"}'
plexus HOTPLUG
check "hotplug-meta: an edit naming a NAD of a type tenants may not use is code 7 naming it, nothing changes" \
	test "$(jq -r '.code' <<<"$OUT")/$(jq -r '.msg|contains("host-device")' <<<"$OUT")/$(links)/$(ip -n "$NODE" link show eth9 >/dev/null && echo eth9-on-node)" = \
	7/true/eth0,net1/eth9-on-node

# ---- detach ---------------------------------------------------------------------------------------
annotate '{"k8s.v1.cni.cncf.io/networks":"mv-b@extra"}'
plexus HOTPLUG
check "hotplug-meta: 'mv-b@extra' detaches net1 and attaches extra" test "$RC/$(links)" = 0/eth0,extra
check "... mv-a's lease is released, mv-b has one" test "$(leases "$TMP/ipam-mv-a")/$(leases "$TMP/ipam-mv-b")" = 0/1
check "... network-status follows" test "$(status_ifs)" = "kube-system/cluster@eth0,default/mv-b@extra"
annotate '{"k8s.v1.cni.cncf.io/networks":null}'
plexus HOTPLUG
check "hotplug-meta: no networks annotation: only the cluster network stays" \
	test "$RC/$(links)/$(leases "$TMP/ipam-mv-b")/$(leases "$TMP/ipam-cluster")" = 0/eth0/0/1
check "... the intent log records no annotation" test "$(log_networks)" = -

# ---- left alone ----------------------------------------------------------------------------------
annotate '{"k8s.v1.cni.cncf.io/networks":"mv-a","plexus.io/hotplug":"false"}'
plexus HOTPLUG
check "hotplug-meta: an opted-out pod (plexus.io/hotplug: \"false\") is left as it is" test "$RC/$(links)" = 0/eth0
annotate '{"plexus.io/hotplug":null,"k8s.v1.cni.cncf.io/networks":"mv-a"}'
ip netns exec "$NODE" flock "$CNI_DIR/$CID.lock" sleep 2 &
FLOCK=$!
sleep 0.3
plexus HOTPLUG
wait "$FLOCK"
check "hotplug-meta: while the pod lock is held (an ADD or DEL), code 11 and nothing changes" \
	test "$(jq -r .code <<<"$OUT")/$(links)" = 11/eth0
t_netns "$PODNS-x"
plexus HOTPLUG CNI_NETNS=/run/netns/$PODNS-x
check "hotplug-meta: a CNI_NETNS other than the intent log's is code 4, nothing changes" \
	test "$(jq -r .code <<<"$OUT")/$(links)" = 4/eth0
ARGS_OK=$ARGS
ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=$(uid other)"
plexus HOTPLUG
check "hotplug-meta: other CNI_ARGS than the intent log's are code 4" test "$(jq -r .code <<<"$OUT")" = 4
ARGS=$ARGS_OK
CID_OK=$CID CID=cid-none-$T_ID
plexus HOTPLUG
check "hotplug-meta: a container without an intent log is code 3 and leaves no lock file" \
	test "$(jq -r .code <<<"$OUT")/$(ls "$CNI_DIR" | grep -c none)" = 3/0
CID=$CID_OK
annotate '{"k8s.v1.cni.cncf.io/networks":"mv-a"}'
fixture api/v1/namespaces/default/pods/pod-a -X PATCH -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"}}' >/dev/null
plexus HOTPLUG
check "hotplug-meta: a pod being deleted is left to the runtime's DEL" test "$RC/$(links)" = 0/eth0
fixture api/v1/namespaces/default/pods/pod-a -X PATCH -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"deletionTimestamp":null}}' >/dev/null
plexus HOTPLUG
check "hotplug-meta: deletion cancelled, mv-a is attached" test "$RC/$(links)" = 0/eth0,net1
# A sandbox of an earlier pod of that name: the pod's uid is not its container's.
PODNS_OK=$PODNS CID=cid-old-$T_ID PODNS=$PODNS-x
ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=$(uid other)"
plexus ADD
plexus HOTPLUG
check "hotplug-meta: a container of an earlier pod of the same name (other uid) is code 3" \
	test "$(jq -r .code <<<"$OUT")/$(links)" = 3/eth0,net1
plexus DEL
CID=$CID_OK PODNS=$PODNS_OK ARGS=$ARGS_OK

# ---- DEL cleans what hot-plugs made ----------------------------------------------------------------
plexus DEL
check "hotplug-meta: DEL succeeds" test "$RC" -eq 0
check "... no link, no lease, no intent log, no lock file (the Events state directory stays: docs/observability.md)" \
	test "$(links)/$(leases "$TMP/ipam-mv-a")/$(leases "$TMP/ipam-cluster")/$(ls -A "$CNI_DIR" | grep -cvx events)" = /0/0/0
