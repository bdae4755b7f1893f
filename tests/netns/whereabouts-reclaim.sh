#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-apid --whereabouts-reclaim (docs/ipam-reclaim.md) against the TLS API server fixture,
# with real plexus-whereabouts ADDs and DELs. Phase A, another node holds the Lease (only this
# node's journal is reconciled): a live pod's allocation stays, also while the pod LIST fails;
# a pod recreated under its name with a new UID loses the old sandbox's allocation and keeps
# the new one; a DEL made while the API was down is finished later. Phase B, this node takes
# the Lease: the allocation of a deleted pod (plexus's, and one whereabouts wrote, with no
# journal) is released only after the grace period, while concurrent ADDs lose nothing.
# Needs root, node, openssl, curl, jq.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools whereabouts-reclaim node openssl curl jq
TMP=$(t_tmpdir)
NODE=plx-rcn-$T_ID
TOKEN=reclaim-token-$T_ID
GRACE=4
t_netns "$NODE" || { fail "whereabouts-reclaim: netns"; exit 1; }
ip -n "$NODE" link set lo up
new_pod
JDIR=$TMP/journal
WB=/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system
POOL=$WB/ippools/10.77.0.0-24

# A pod of "default" on node n1 (the node this apid runs as).
mkpod() { jq -cn --arg n "$1" --arg u "$2" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",
	name:$n,uid:$u},spec:{nodeName:"n1",containers:[{name:"c",image:"pause"}]},status:{phase:"Running"}}'; }
LEASE=$(jq -cn '{apiVersion:"coordination.k8s.io/v1",kind:"Lease",metadata:{namespace:"kube-system",
	name:"plexus-whereabouts-reclaim"},spec:{holderIdentity:"other",leaseDurationSeconds:3600,
	renewTime:"2026-01-01T00:00:00.000000Z"}}')
{
	echo '{"kind":"List","items":['
	for p in live:u-live sts-0:u-old down:u-down; do mkpod "${p%%:*}" "${p#*:}"; echo ,; done
	echo "$LEASE]}"
} >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "$TOKEN" 150
t_proc "$API_PID"
[ -n "$PORT" ] || { fail "whereabouts-reclaim: the API server fixture did not start"; exit 1; }

api() { ip netns exec "$NODE" curl -s --cacert "$TMP/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
	"https://127.0.0.1:$PORT$1" "${@:2}"; }
ctl() { ip netns exec "$NODE" curl -sk -X "$1" "https://127.0.0.1:$PORT/_fixture/$2" ${3:+-d "$3"}; }
# holds ID: the pool has an allocation of container ID.
holds() { api "$POOL" | jq -e --arg id "$1" '[.spec.allocations[] | select(.id == $id)] | length == 1' >/dev/null; }
orip_of() { api "$WB/overlappingrangeipreservations" | jq -r --arg id "$1" '[.items[] | select(.spec.containerid == $id)] | length'; }
CONF=$(jq -nc --arg kc "$TMP/kubeconfig" '{cniVersion:"1.0.0",name:"wbnet",type:"macvlan",
	ipam:{type:"whereabouts",range:"10.77.0.0/24",kubernetes:{kubeconfig:$kc}}}')
RUNNER=(ip netns exec "$NODE")
wb() { # wb CMD CID IFNAME POD UID
	cni_exec "$BIN/plexus-whereabouts" "$1" "$CONF" "$PODNS" "$3" "$2" PLEXUS_WHEREABOUTS_DIR="$JDIR" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$4;K8S_POD_UID=$5"
}

ALOG=$TMP/apid.log
APID_PID=
start_apid() {
	ip netns exec "$NODE" env PLEXUS_WHEREABOUTS_DIR="$JDIR" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" \
		--socket "$TMP/run/api.sock" --metrics-address 127.0.0.1:9453 --metrics-socket "" --whereabouts-reclaim \
		--reclaim-grace $GRACE --reclaim-interval 1 --node-name n1 --log-level debug 2>>"$ALOG" &
	APID_PID=$!
	t_proc "$APID_PID"
}
rounds() { grep -c 'reclaim: round [0-9]*:' "$ALOG"; }
# wait_rounds N: N more complete rounds (at most 20 s).
wait_rounds() {
	local want=$(($(rounds) + $1))
	for _ in $(seq 200); do [ "$(rounds)" -ge "$want" ] && return 0; sleep 0.1; done
	return 1
}
# wait_gone ID: until the allocation of ID is released (at most 20 s).
not() { ! "$@"; }
wait_gone() { for _ in $(seq 200); do holds "$1" || return 0; sleep 0.1; done; return 1; }

# ---- usage ---------------------------------------------------------------------------------------
# usage OUTPUT_PATTERN ARGS...: plexus-apid ARGS exits 2 and says OUTPUT_PATTERN.
usage() {
	local want=$1 out rc
	shift
	out=$(env -u NODE_NAME "$BIN/plexus-apid" --socket "$TMP/x.sock" "$@" 2>&1 </dev/null)
	rc=$?
	[ "$rc" = 2 ] && grep -q -- "$want" <<<"$out"
}
check "whereabouts-reclaim: without a node name it is a usage error naming the flag" \
	usage 'needs --node-name' --whereabouts-reclaim
check "whereabouts-reclaim: --reclaim-grace 0 is a usage error" \
	usage 'reclaim-grace: must be 1-86400' --whereabouts-reclaim --node-name n1 --reclaim-grace 0
check "whereabouts-reclaim: a node name that is no object name is a usage error" \
	usage "not a valid node name" --whereabouts-reclaim --node-name 'N1/x'
check "whereabouts-reclaim: a bad --reclaim-namespace is a usage error" \
	usage "not a valid namespace" --whereabouts-reclaim --node-name n1 --reclaim-namespace 'a.b'

# ---- phase A: another node holds the Lease; this node's journal only ----------------------------
wb ADD c-live net1 live u-live && L1=$RC
wb ADD c-old net1 sts-0 u-old && L2=$RC
wb ADD c-down net1 down u-down && L3=$RC
check "whereabouts-reclaim: three ADDs" test "$L1$L2$L3" = 000
# The pod sts-0 is deleted and recreated under its name (a StatefulSet): a new UID, a new sandbox.
ctl PUT objects "$(mkpod sts-0 u-new)" >/dev/null
wb ADD c-new net2 sts-0 u-new
check "whereabouts-reclaim: the recreated pod's ADD" test "$RC" = 0
# DEL while the API fails: it succeeds and the journal keeps the attachment.
ctl POST faults '[{"status":503,"path":"/ippools/","count":1000}]' >/dev/null
wb DEL c-down net1 down u-down
check "whereabouts-reclaim: DEL with the API down succeeds" test "$RC" = 0
ctl DELETE faults >/dev/null
check "whereabouts-reclaim: ... and the allocation is still in the pool" holds c-down
check "whereabouts-reclaim: ... and in the node journal" bash -c "grep -lq c-down '$JDIR'/*.json"
ctl DELETE 'objects?kind=Pod&namespace=default&name=down' >/dev/null
# The pods LIST fails for longer than the grace period: nothing is decided.
ctl POST faults '[{"status":500,"method":"GET","path":"/api/v1/pods","count":100000}]' >/dev/null
start_apid
T0=$(date +%s)
for _ in $(seq 100); do grep -q 'round 6 skipped' "$ALOG" && break; sleep 0.1; done
check "whereabouts-reclaim: a failed pod LIST skips the round (logged)" grep -q 'skipped: pod LIST failed' "$ALOG"
check "whereabouts-reclaim: rounds skipped past the grace period" test $(($(date +%s) - T0)) -ge $GRACE
check "whereabouts-reclaim: ... released nothing (live pod)" holds c-live
check "whereabouts-reclaim: ... released nothing (gone pod either)" holds c-down
ctl DELETE faults >/dev/null
wait_rounds 1
T1=$(date +%s)
check "whereabouts-reclaim: right after the LIST works again, the replaced sandbox is kept (grace)" holds c-old
wait_gone c-down
check "whereabouts-reclaim: the gone pod's allocation is released within 20 s" test $? = 0
check "whereabouts-reclaim: the DEL made while the API was down is finished" bash -c "! grep -lq c-down '$JDIR'/*.json 2>/dev/null"
check "whereabouts-reclaim: ... its allocation released" not holds c-down
check "whereabouts-reclaim: ... and its reservation deleted" test "$(orip_of c-down)" = 0
wait_gone c-old
gone=$?
check "whereabouts-reclaim: the replaced sandbox's allocation is released within 20 s" test $gone = 0
check "whereabouts-reclaim: ... not before the grace period" test $(($(date +%s) - T1)) -ge $((GRACE - 1))
check "whereabouts-reclaim: the old sandbox of the recreated pod (old UID) is released" not holds c-old
check "whereabouts-reclaim: ... with reason pod-replaced in the log" grep -q "released .* container 'c-old'.*replaced" "$ALOG"
check "whereabouts-reclaim: the recreated pod's new allocation is kept" holds c-new
check "whereabouts-reclaim: the live pod's allocation is kept" holds c-live
check "whereabouts-reclaim: the live pod's reservation is kept" test "$(orip_of c-live)" = 1
# Not the Lease holder: allocations of gone pods with no journal here are not this node's.
POOLV=$(api "$POOL")
NEWPOOL=$(jq -c '.spec.allocations["200"] = {id:"c-wb",podref:"default/wb-gone",ifname:"net1"} | del(.metadata.resourceVersion)' <<<"$POOLV")
ctl PUT objects "$NEWPOOL" >/dev/null
check "whereabouts-reclaim: an allocation written by whereabouts itself is in the pool" holds c-wb
wait_rounds $((GRACE + 2))
check "whereabouts-reclaim: without the Lease, a gone pod's allocation of another node stays" holds c-wb

# ---- phase B: this node takes the Lease; the cluster-wide part ----------------------------------
ctl DELETE 'objects?kind=Lease&namespace=kube-system&name=plexus-whereabouts-reclaim' >/dev/null
for _ in $(seq 100); do grep -q 'running the cluster-wide part' "$ALOG" && break; sleep 0.1; done
check "whereabouts-reclaim: this node takes the free Lease" grep -q 'running the cluster-wide part' "$ALOG"
holder=$(api /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plexus-whereabouts-reclaim | jq -r .spec.holderIdentity)
check "whereabouts-reclaim: ... the Lease names it" test "$holder" = n1
T2=$(date +%s)
ADDS=()
# Concurrent ADDs of ten live pods while the reconciler works.
for i in $(seq 10); do ctl PUT objects "$(mkpod p$i u-p$i)" >/dev/null; done
for i in $(seq 10); do
	(cni_exec "$BIN/plexus-whereabouts" ADD "$CONF" "$PODNS" net1 c-p$i PLEXUS_WHEREABOUTS_DIR="$JDIR" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p$i;K8S_POD_UID=u-p$i"
		echo "$RC" >"$TMP/rc.$i") &
	ADDS+=($!)
done
wait_rounds 1
check "whereabouts-reclaim: a gone pod's allocation is kept before the grace period" holds c-wb
wait "${ADDS[@]}"
ok=0
for i in $(seq 10); do [ "$(cat "$TMP/rc.$i")" = 0 ] && ok=$((ok + 1)); done
check "whereabouts-reclaim: ten concurrent ADDs succeed" test $ok = 10
wait_gone c-wb
gone=$?
check "whereabouts-reclaim: the whereabouts-made allocation of a gone pod is released within 20 s" test $gone = 0
check "whereabouts-reclaim: the whereabouts-made allocation of a gone pod is released after the grace" \
	test $(($(date +%s) - T2)) -ge $((GRACE - 1))
check "whereabouts-reclaim: ... logged with its pod and address" grep -q "released 10.77.0.200 of IPPool '10.77.0.0-24' (pod 'default/wb-gone', container 'c-wb'" "$ALOG"
wait_rounds 2
n=$(api "$POOL" | jq '[.spec.allocations[] | select(.id | startswith("c-p"))] | length')
check "whereabouts-reclaim: every concurrent live allocation is still there ($n of 10)" test "$n" = 10
check "whereabouts-reclaim: the live pod's allocation is kept to the end" holds c-live
check "whereabouts-reclaim: the recreated pod's allocation is kept to the end" holds c-new
# ---- the Lease held by a node that stops renewing it: taken over after its duration ---------
# renewTime lies in the future: expiry is judged on this node's clock from when the record last
# changed, never by comparing the holder's clock with ours.
ctl PUT objects "$(jq -c '.spec.holderIdentity = "n2" | .spec.leaseDurationSeconds = 3 |
	.spec.renewTime = "2099-01-01T00:00:00.000000Z"' <<<"$LEASE")" >/dev/null
T3=$(date +%s.%N)
for _ in $(seq 150); do grep -q "of 'n2' not renewed for 3 s, taking it over" "$ALOG" && break; sleep 0.1; done
check "whereabouts-reclaim: a Lease whose holder stopped renewing is taken over" grep -q "of 'n2' not renewed" "$ALOG"
check "whereabouts-reclaim: ... not before its duration" \
	awk -v a="$T3" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a >= 3) }'
holder=$(api /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plexus-whereabouts-reclaim | jq -r .spec.holderIdentity)
check "whereabouts-reclaim: ... and names this node" test "$holder" = n1
ip netns exec "$NODE" curl -s http://127.0.0.1:9453/metrics >"$TMP/metrics"
sample() { awk -v s="$1" '$1 == s { v = $2 } END { print v == "" ? "none" : v }' "$TMP/metrics"; }
check "whereabouts-reclaim: metrics: 2 released because the pod was gone" \
	test "$(sample 'plexus_apid_whereabouts_released_total{reason="pod-gone"}')" = 2
check "whereabouts-reclaim: metrics: 1 released because the pod was replaced" \
	test "$(sample 'plexus_apid_whereabouts_released_total{reason="pod-replaced"}')" = 1
check "whereabouts-reclaim: metrics: the failed LISTs counted as skipped rounds" \
	test "$(sample 'plexus_apid_whereabouts_reclaim_rounds_total{result="skipped"}')" -ge 6
check "whereabouts-reclaim: the daemon ran to the end" kill -0 "$APID_PID"
check "whereabouts-reclaim: no sanitizer report" not grep -q 'runtime error\|Sanitizer' "$ALOG"
kill "$APID_PID" && wait "$APID_PID" 2>/dev/null
# What the reconciler said, for the log of this run.
grep -v ' debug ' "$ALOG" | sed 's/^/    apid| /'
