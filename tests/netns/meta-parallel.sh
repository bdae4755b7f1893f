#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Parallel attachments of the plexus meta-plugin (docs/meta.md, "Parallel attachments"), as a
# differential test: the same pods with maxParallelAttachments 1 (one at a time) and 8 give the
# same interfaces, addresses, routes, results, intent logs and network-status annotations; a
# failure in any one attachment (built-in or exec'd; in the first batch or in a later one, after a
# whole batch attached) leaves nothing behind (no network-status either), with the same error;
# DEL leaves nothing. The parallel round is repeated to shake out races. Needs root and node.
source "$(dirname "$0")/../lib.sh"
need_root
for t in node openssl curl jq; do
	command -v "$t" >/dev/null || { fail "meta-parallel: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
P=$BIN/plexus
TMP=$(t_tmpdir)
NODE=plxqn$T_ID
new_node "$NODE"
ip -n "$NODE" addr add 10.240.0.1/24 dev eth9
ROUNDS=${META_PARALLEL_ROUNDS:-4}

TOKEN=plexus-par-token-$T_ID
nad() { # nad NAME CONFIG_JSON [NAMESPACE]
	jq -cn --arg n "$1" --arg c "$2" --arg ns "${3:-default}" '{apiVersion:"k8s.cni.cncf.io/v1",
		kind:"NetworkAttachmentDefinition",metadata:{namespace:$ns,name:$n,uid:("uid-"+$n)},
		spec:{config:$c}}'
}
pod() { # pod NAME NETWORKS_ANNOTATION
	jq -cn --arg n "$1" --arg a "$2" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",
		name:$n,uid:("uid-"+$n),annotations:{"k8s.v1.cni.cncf.io/networks":$a}},
		spec:{containers:[{name:"c",image:"pause"}]}}'
}
hlr() { jq -cn --arg d "$TMP/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
macvlan() { jq -cn --arg n "$1" --argjson i "$(hlr "$1" "$2")" \
	'{cniVersion:"1.0.0",name:$n,type:"plexus-macvlan",master:"eth9",mode:"bridge",ipam:$i}'; }
BR=plxqb$T_ID
T_LINKS+=("$BR")
CLUSTER=$(jq -cn --arg b "$BR" --argjson i "$(hlr cluster 10.249.0.0/24)" \
	'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:$b,isGateway:true,ipam:$i}]}')
VXLAN=$(jq -cn --argjson i "$(hlr vx 10.246.0.0/24)" \
	'{cniVersion:"1.0.0",name:"vxlan-net",type:"plexus-vxlan",vni:4747,master:"eth9",ipam:$i}')
# "macvlan" is not in inProcessTypes (conf below): the reference macvlan, exec'd.
EXECNET=$(jq -cn --argjson i "$(hlr ex 10.247.0.0/24)" \
	'{cniVersion:"1.0.0",name:"exec-net",type:"macvlan",master:"eth9",mode:"bridge",ipam:$i}')
BAD=$(jq -cn '{cniVersion:"1.0.0",name:"bad-net",type:"plexus-macvlan",master:"nosuchdev0",ipam:{}}')
FAILEXEC=$(jq -cn '{cniVersion:"1.0.0",name:"fail-net",type:"fail-add"}')
PODS="pa pb pc"
# pa: six networks, two of them the same network twice (kept in order: one address pool);
# pb: the default route moved to a secondary; pc: one network.
{
	echo '{"items":['
	nad cluster "$CLUSTER" kube-system; echo ,
	for i in 1 2 3 4; do nad "mv$i" "$(macvlan "mv$i" "10.24$i.0.0/24")"; echo ,; done
	nad vxlan-net "$VXLAN"; echo ,
	nad exec-net "$EXECNET"; echo ,
	nad bad-net "$BAD"; echo ,
	nad fail-net "$FAILEXEC"; echo ,
	pod pa "mv1,mv2,mv3,vxlan-net@vx0,exec-net,mv1@m9,mv4"; echo ,
	pod pb '[{"name":"mv2"},{"name":"mv3","default-route":["10.243.0.254"]},{"name":"exec-net"}]'; echo ,
	pod pc "mv4"; echo ,
	pod rb1 "mv1,mv2,bad-net,mv3,exec-net"; echo ,
	pod rb2 "mv1,exec-net,fail-net,mv2,vxlan-net@vx0"; echo ,
	pod rb3 "mv1,mv2,mv3,mv1@m9,exec-net,bad-net"
	echo ']}'
} >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN" 600
[ -n "$PORT" ] || { fail "meta-parallel: API server fixture did not start: $(cat "$TMP/api.err")"; exit 1; }
# The node's API relay: through it, planning fetches a pod's NADs concurrently.
ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$TMP/api.sock" \
	--log-level warning 2>"$TMP/apid.log" &
APID_PID=$!
trap 'kill $APID_PID 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 100); do [ -S "$TMP/api.sock" ] && break; sleep 0.05; done

# An exec'd plugin whose ADD fails (and whose DEL succeeds, as DEL of nothing must).
mkdir -p "$TMP/bin"
cat >"$TMP/bin/fail-add" <<'EOF'
#!/bin/sh
cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then
	echo '{"cniVersion":"1.0.0","code":11,"msg":"fail-add: refused on purpose"}'
	exit 1
fi
exit 0
EOF
chmod +x "$TMP/bin/fail-add"

conf() { # conf MAX_PARALLEL (null: unset); with RELAY set, through plexus-apid
	jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg t "$TMP" --argjson m "$1" \
		--arg r "${RELAY:+$TMP/api.sock}" \
		'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",
		  cniDir:$c,maxParallelAttachments:$m,inProcessTypes:["plexus-macvlan","plexus-vxlan"],
		  tenantPolicy:{hostPathRoots:{dataDir:[$t]},
		  allowedTypes:["macvlan","plexus-macvlan","plexus-vxlan","bridge","host-local","fail-add"]}} |
		  if $m == null then del(.maxParallelAttachments) else . end |
		  if $r == "" then . else .apiRelay = $r end'
}

# plexus VERB POD CONF [NETNS]: run the meta-plugin in the node for pod POD (the fixture's name)
# in netns NETNS (default POD's); sets OUT, RC.
plexus() {
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" CNI_COMMAND="$1" \
		CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/$(podns "${4:-$2}")" CNI_IFNAME=eth0 \
		CNI_PATH="$TMP/bin:/usr/lib/cni" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=cid-$2" \
		"$P" <<<"$3" 2>"$TMP/stderr")
	RC=$?
}
podns() { echo "plxqp$T_ID-$1"; }
mkpod() { t_netns "$(podns "$1")"; ip -n "$(podns "$1")" link set lo up; }
only_lo() { [ "$(ip -n "$(podns "$1")" -j link show | jq length)" -eq 1 ]; }
leases() { find "$TMP"/ipam-* -type f -name '10.*' 2>/dev/null | wc -l; }
fixture_state() { ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state"; }
network_status() { fixture_state | jq -c --arg n "$1" '.items[] | select(.kind=="Pod" and .metadata.name==$n) |
	.metadata.annotations["k8s.v1.cni.cncf.io/network-status"] // "null" | fromjson'; }
# MACs, host-side veth names and netns paths differ from run to run: everything else must match.
norm='walk(if type == "object" then del(.mac) else . end)'
# Remove the pods' pool state between rounds so each round starts from the same allocator state
# (host-local hands out the address after the last one it reserved).
reset_pools() { rm -rf "$TMP"/ipam-*; }

# round MAX_PARALLEL TAG: ADD every pod (one after another, each in netns TAG-POD), record what
# it is (links, addresses, routes; the ADD result without host-side interfaces; the intent log's
# entries; network-status) in TAG-POD.snap, then DEL each and check nothing is left.
round() {
	local c; c=$(conf "$1")
	for p in $PODS; do
		mkpod "$2-$p" 2>/dev/null || true
		plexus ADD "$p" "$c" "$2-$p"
		[ "$RC" -eq 0 ] || { echo "$2 ADD $p: $OUT $(cat "$TMP/stderr")" >&2; return 1; }
		local ns; ns=$(podns "$2-$p")
		{
			ip -n "$ns" -d -j link show | jq -c 'map({ifname, kind: .linkinfo.info_kind, mtu, operstate}) | sort_by(.ifname)'
			ip -n "$ns" -j addr show | jq -c 'map({ifname, a: [.addr_info[] | select(.scope=="global") | .local + "/" + (.prefixlen|tostring)]}) | sort_by(.ifname)'
			ip -n "$ns" -j route show table all | jq -c 'map(select(.dst | startswith("fe80:") | not) | del(.flags)) | sort_by(.dst, .dev, .table)'
			jq -c "$norm | .interfaces |= map(select(.sandbox) | del(.sandbox))" <<<"$OUT"
			jq -c "$norm | [.attachments[] | {name, ifname, default, attempted,
				ips: [.result.ips[]?.address], routes: .result.routes}]" "$TMP/cache/cid-$p.json"
			network_status "$p" | jq -c "$norm"
		} >"$TMP/$2-$p.snap"
	done
	for p in $PODS; do
		plexus DEL "$p" "$c" "$2-$p"
		[ "$RC" -eq 0 ] || { echo "$2 DEL $p: $OUT $(cat "$TMP/stderr")" >&2; return 1; }
		only_lo "$2-$p" || { echo "$2 DEL $p: links left" >&2; return 1; }
		[ ! -e "$TMP/cache/cid-$p.json" ] || { echo "$2 DEL $p: intent log left" >&2; return 1; }
	done
	[ "$(leases)" -eq 0 ] || { echo "$2: $(leases) leases left" >&2; return 1; }
	reset_pools
}

same() { # same TAG_A TAG_B: every pod's snapshot equal
	for p in $PODS; do
		cmp -s "$TMP/$1-$p.snap" "$TMP/$2-$p.snap" || { diff "$TMP/$1-$p.snap" "$TMP/$2-$p.snap" | cut -c1-400 >&2; return 1; }
	done
}

check "serial: ADD and DEL of pods with 1, 3 and 7 networks (maxParallelAttachments 1)" round 1 s
check "... the 7-network pod has all its interfaces" \
	test "$(sed -n 1p "$TMP/s-pa.snap" | jq -c 'map(.ifname)')" = '["eth0","lo","m9","net1","net2","net3","net5","net7","vx0"]'
check "... network-status lists them in annotation order" \
	test "$(sed -n 6p "$TMP/s-pa.snap" | jq -c 'map(.interface)')" = '["eth0","net1","net2","net3","vx0","net5","m9","net7"]'
check "... pb's default route is via its mv3 gateway" \
	bash -c "sed -n 3p $TMP/s-pb.snap | jq -e 'map(select(.dst==\"default\"))[0].gateway == \"10.243.0.254\"' >/dev/null"
check "parallel: the same pods with maxParallelAttachments 8" round 8 p
check "parallel == serial: interfaces, addresses, routes, results, intent logs, network-status" same s p
round_same() { round "$1" "$2" && same s "$2"; }
for r in $(seq 2 "$ROUNDS"); do
	check "parallel round $r: identical to serial" round_same 8 "p$r"
done
check "the default bound (4): identical to serial" round_same null d
: >"$TMP/api.log"
RELAY=1
check "through plexus-apid (the NADs fetched concurrently): identical to serial" round_same 8 r
RELAY=
check "... each NAD requested once per pod (pa: 6 NADs, mv1 twice; pb: 3; pc: 1)" \
	test "$(grep -c 'GET /apis/k8s.cni.cncf.io' "$TMP/api.log")" = 13

# ---- a failure in any one attachment rolls back all, as serially ----------------------------
fail_round() { # fail_round POD MAX_PARALLEL TAG
	mkpod "$3-$1"
	plexus ADD "$1" "$(conf "$2")" "$3-$1"
	echo "$RC $(jq -c '{code, msg}' <<<"$OUT")" >"$TMP/$3-$1.err"
}
nothing_of() {
	only_lo "$1" && [ ! -e "$TMP/cache/cid-$2.json" ] && [ "$(leases)" -eq 0 ] &&
		[ "$(network_status "$2")" = null ] && return 0
	echo "left: $(ip -n "$(podns "$1")" -br link) $(ls "$TMP/cache") $(find "$TMP"/ipam-* -type f -name '10.*') $(network_status "$2") $(grep -i warn "$TMP/stderr")" >&2
	return 1
}
# rb3: mv1 twice (one address pool) splits it into two batches; the cluster network and mv1..mv3
# attach first, then the second batch fails on its last attachment.
for pr in "rb1 bad-net net3 built-in" "rb2 fail-net net3 exec'd" "rb3 bad-net net6 built-in_(second_batch)"; do
	set -- $pr
	fail_round "$1" 1 s
	check "serial: a failing ${4//_/ } attachment ($2) fails ADD" bash -c "grep -q \"default/$2' ($3)\" $TMP/s-$1.err"
	check "... and leaves nothing (links, leases, intent log, network-status)" nothing_of "s-$1" "$1"
	for r in $(seq 1 "$ROUNDS"); do
		fail_round "$1" 8 "p$r"
		check "parallel round $r: a failing ${4//_/ } attachment fails ADD with the serial error" \
			cmp -s "$TMP/s-$1.err" "$TMP/p$r-$1.err"
		check "... and leaves nothing" nothing_of "p$r-$1" "$1"
	done
	fail_round "$1" null "d"
	check "the default bound (4): a failing ${4//_/ } attachment fails ADD with the serial error" \
		cmp -s "$TMP/s-$1.err" "$TMP/d-$1.err"
	check "... and leaves nothing" nothing_of "d-$1" "$1"
	reset_pools
done
check "no link of the pods left on the node (bridge ports, temp names)" \
	bash -c "ip -n $NODE link show $BR >/dev/null && [ -z \"\$(ip -n $NODE -j link show master $BR | jq -r '.[].ifname')\" ]"

# ---- bad input ------------------------------------------------------------------------------
mkpod bad
for v in 0 65 '"4"' 1.5; do
	plexus ADD bad "$(conf 1 | jq -c --argjson v "$v" '.maxParallelAttachments = $v')"
	check "maxParallelAttachments $v: code 7 naming the key, nothing attached" \
		bash -c "[ $RC -ne 0 ] && jq -e '.code == 7 and (.msg | contains(\"maxParallelAttachments\"))' <<<'$OUT' >/dev/null && [ \$(ip -n $(podns bad) -j link show | jq length) -eq 1 ]"
done
