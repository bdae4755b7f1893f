#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The API server fixture's semantics, seen from curl (not plexus's client): LIST with selectors
# and paging, cluster-scoped kinds, create/update conflicts, JSON patch, strategic merge on
# custom resources, DELETE preconditions, WATCH order, resume, 410 and filtering, bookmarks,
# out-of-band writes and injected 409s. Runs unprivileged on 127.0.0.1.
. "$(dirname "$0")/../lib.sh"
need_tools apiserver node openssl curl jq
D=$(t_tmpdir)
TOKEN=fixture-e2e-$T_ID
cat >"$D/state.json" <<'EOF'
{"kind": "List", "items": [
 {"kind": "Pod", "metadata": {"name": "a", "labels": {"app": "web", "tier": "fe"}}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}},
 {"kind": "Pod", "metadata": {"name": "b", "labels": {"app": "db"}}, "spec": {"nodeName": "n2"}},
 {"kind": "Pod", "metadata": {"name": "c", "namespace": "other", "labels": {"app": "web"}}, "spec": {"nodeName": "n1"}},
 {"kind": "Node", "metadata": {"name": "n1", "labels": {"zone": "z1"}}},
 {"kind": "IPPool", "metadata": {"name": "p0", "namespace": "kube-system"}, "spec": {"range": "10.9.0.0/24", "allocations": {}}}
]}
EOF
bash "$TOP/tests/fixtures/apiserver/mkcerts.sh" "$D/pki"
node "$TOP/tests/fixtures/apiserver/apiserver.js" --cert "$D/pki/server.crt" --key "$D/pki/server.key" \
	--state "$D/state.json" --token "$TOKEN" --token-ro "ro-$TOKEN" --max-lifetime 120 \
	>"$D/port" 2>"$D/err" &
t_proc $!
for _ in $(seq 100); do [ -s "$D/port" ] && break; sleep 0.05; done
U=https://127.0.0.1:$(head -n1 "$D/port")
[ "$U" != https://127.0.0.1: ] || { fail "apiserver fixture did not start: $(cat "$D/err")"; exit 1; }

# api METHOD PATH [BODY [CONTENT_TYPE]]: the response body, then a line with the HTTP status.
api() {
	curl -s --cacert "$D/pki/ca.crt" -H "Authorization: Bearer ${AS_TOKEN:-$TOKEN}" -X "$1" \
		${3:+-H "Content-Type: ${4:-application/json}" --data-binary "$3"} -w '\n%{http_code}\n' "$U$2"
}
code() { api "$@" | tail -n1; }
body() { api "$@" | sed '$d'; }
ctl() { curl -s --cacert "$D/pki/ca.crt" -X "$1" ${3:+--data-binary "$3"} "$U/_fixture/$2"; }
WP=/apis/whereabouts.cni.cncf.io/v1alpha1
POOLS=$WP/namespaces/kube-system/ippools

names() { body GET "$1" | jq -r '[.items[].metadata.name] | join(",")'; }
check "list: namespaced pods, key order" test "$(names /api/v1/namespaces/default/pods)" = a,b
check "list: pods across namespaces" test "$(names /api/v1/pods)" = a,b,c
check "list: List kind and resourceVersion" test "$(body GET /api/v1/pods | jq -r '.kind + " " + (.metadata.resourceVersion | test("^[0-9]+$") | tostring)')" = "PodList true"
check "labelSelector: equality and !=" test "$(names '/api/v1/pods?labelSelector=app%3Dweb,tier!%3Dfe')" = c
check "labelSelector: existence and absence" test "$(names '/api/v1/pods?labelSelector=tier')/$(names '/api/v1/pods?labelSelector=!tier')" = a/b,c
check "labelSelector: set-based in" test "$(names '/api/v1/pods?labelSelector=app%20in%20(db,x)')" = b
check "fieldSelector: spec.nodeName and metadata.namespace" test "$(names '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1,metadata.namespace!%3Dother')" = a
check "fieldSelector: an unsupported field is 400" test "$(code GET '/api/v1/pods?fieldSelector=spec.bogus%3D1')" = 400
check "list: limit and continue page through" test "$(body GET '/api/v1/pods?limit=2' | jq -r '.metadata.remainingItemCount')/$(names "/api/v1/pods?limit=2&continue=$(body GET '/api/v1/pods?limit=2' | jq -r .metadata.continue)")" = 1/c
check "cluster-scoped: GET /api/v1/nodes/n1" test "$(body GET /api/v1/nodes/n1 | jq -r '.metadata.name + (.metadata.namespace // "-")')" = n1-
check "cluster-scoped: a namespaced path is 404" test "$(code GET /api/v1/namespaces/default/nodes/n1)" = 404

# create, conflicts, update
check "create: POST an IPPool is 201" test "$(code POST "$POOLS" '{"metadata":{"name":"p1"},"spec":{"range":"10.0.0.0/24"}}')" = 201
check "create: the same name again is 409 AlreadyExists" test "$(body POST "$POOLS" '{"metadata":{"name":"p1"}}' | jq -r '(.code|tostring) + " " + .reason')" = "409 AlreadyExists"
GEN=$(body POST /apis/coordination.k8s.io/v1/namespaces/default/leases '{"metadata":{"generateName":"l-"}}' | jq -r .metadata.name)
check "create: generateName makes a name" grep -Eqx 'l-[a-z0-9]{5}' <<<"$GEN"
RV=$(body GET "$POOLS/p1" | jq -r .metadata.resourceVersion)
check "update: PUT with the current resourceVersion is 200 and bumps it" test "$(body PUT "$POOLS/p1" "{\"metadata\":{\"name\":\"p1\",\"resourceVersion\":\"$RV\"},\"spec\":{\"range\":\"10.0.0.0/24\",\"allocations\":{}}}" | jq -r ".metadata.resourceVersion | tonumber > $RV")" = true
STALE=$(body PUT "$POOLS/p1" "{\"metadata\":{\"name\":\"p1\",\"resourceVersion\":\"$RV\"},\"spec\":{}}")
check "update: a stale resourceVersion is 409 with the API server's message" test "$(jq -r '(.code|tostring) + " " + .reason + " " + .message' <<<"$STALE")" = \
	'409 Conflict Operation cannot be fulfilled on ippools.whereabouts.cni.cncf.io "p1": the object has been modified; please apply your changes to the latest version and try again'
check "update: the stale PUT changed nothing" test "$(body GET "$POOLS/p1" | jq -r .spec.range)" = 10.0.0.0/24

# patches
JP=application/json-patch+json
check "json-patch: test of an absent path against null passes" test "$(code PATCH "$POOLS/p1" '[{"op":"test","path":"/spec/allocations/5","value":null},{"op":"add","path":"/spec/allocations/5","value":{"id":"x"}}]' $JP)" = 200
check "json-patch: a failed test is 422 and changes nothing" test "$(code PATCH "$POOLS/p1" '[{"op":"test","path":"/spec/range","value":"1.2.3.0/24"},{"op":"remove","path":"/spec/allocations/5"}]' $JP)/$(body GET "$POOLS/p1" | jq -r '.spec.allocations["5"].id')" = 422/x
check "json-patch: move, copy, replace, remove" test "$(body PATCH "$POOLS/p1" '[{"op":"copy","from":"/spec/allocations/5","path":"/spec/allocations/6"},{"op":"move","from":"/spec/allocations/5","path":"/spec/allocations/7"},{"op":"replace","path":"/spec/allocations/6/id","value":"y"},{"op":"remove","path":"/spec/allocations/7"}]' $JP | jq -c .spec.allocations)" = '{"6":{"id":"y"}}'
check "json-patch: a stale resourceVersion test is 422" test "$(code PATCH "$POOLS/p1" "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"$RV\"}]" $JP)" = 422
check "strategic merge: 415 on a custom resource" test "$(code PATCH "$POOLS/p1" '{}' application/strategic-merge-patch+json)" = 415
check "strategic merge: applied to a pod" test "$(body PATCH /api/v1/namespaces/default/pods/a '{"metadata":{"labels":{"x":"1"}}}' application/strategic-merge-patch+json | jq -r .metadata.labels.x)" = 1
check "merge patch: a stale metadata.resourceVersion is 409" test "$(code PATCH "$POOLS/p1" "{\"metadata\":{\"resourceVersion\":\"$RV\"}}" application/merge-patch+json)" = 409
check "status: pods/status keeps spec, the pod itself keeps status" test "$(body PATCH /api/v1/namespaces/default/pods/a/status '{"spec":{"nodeName":"zz"},"status":{"phase":"Failed"}}' application/merge-patch+json | jq -r .spec.nodeName)/$(body PATCH /api/v1/namespaces/default/pods/a '{"status":{"phase":"x"}}' application/merge-patch+json | jq -r .status.phase)" = n1/Failed

# delete
UID_P1=$(body GET "$POOLS/p1" | jq -r .metadata.uid)
check "delete: a wrong uid precondition is 409" test "$(code DELETE "$POOLS/p1" '{"preconditions":{"uid":"nope"}}')" = 409
check "delete: 200 with the object, then 404" test "$(body DELETE "$POOLS/p1" "{\"preconditions\":{\"uid\":\"$UID_P1\"}}" | jq -r .metadata.name)/$(code GET "$POOLS/p1")" = p1/404

# RBAC
check "read-only token: list and watch allowed, create forbidden" test "$(AS_TOKEN=ro-$TOKEN code GET "$POOLS")/$(AS_TOKEN=ro-$TOKEN code GET "$POOLS?watch=1&timeoutSeconds=1")/$(AS_TOKEN=ro-$TOKEN code POST "$POOLS" '{"metadata":{"name":"q"}}')" = 200/200/403

# injected conflicts
ctl POST faults '[{"status":409,"method":"PUT","path":"/ippools/p0","count":2}]' >/dev/null
check "faults: two injected 409s on PUT, then the PUT goes through" test "$(code PUT "$POOLS/p0" '{"metadata":{}}')$(code PUT "$POOLS/p0" '{"metadata":{}}')$(code PUT "$POOLS/p0" '{"metadata":{}}')" = 409409200

# watch: start one, wait until the fixture has it, write, end it, read what it got.
watch_start() { # FILE PATH: a watch in the background, its output in FILE
	local n
	n=$(ctl GET watches | jq .count)
	curl -sN --cacert "$D/pki/ca.crt" -H "Authorization: Bearer $TOKEN" "$U$2" >"$1" &
	t_proc $!
	WATCH_PID=$!
	for _ in $(seq 100); do [ "$(ctl GET watches | jq .count)" -gt "$n" ] && return 0; sleep 0.05; done
	return 1
}
watch_end() { ctl POST 'watches/close?graceful=1' >/dev/null; wait "$WATCH_PID"; }
START=$(body GET "$POOLS" | jq -r .metadata.resourceVersion)
watch_start "$D/w1" "$POOLS?watch=1&resourceVersion=$START&allowWatchBookmarks=true"
code POST "$POOLS" '{"metadata":{"name":"w1"}}' >/dev/null
code PATCH "$POOLS/w1" '{"spec":{"a":1}}' application/merge-patch+json >/dev/null
ctl PUT objects '{"kind":"IPPool","metadata":{"name":"w2","namespace":"kube-system"}}' >/dev/null
ctl DELETE 'objects?kind=IPPool&namespace=kube-system&name=w1' >/dev/null
ctl POST bookmark >/dev/null
watch_end
check "watch: events in order, out-of-band writes included" test "$(jq -r '.type + ":" + (.object.metadata.name // "")' "$D/w1" | paste -sd,)" = ADDED:w1,MODIFIED:w1,ADDED:w2,DELETED:w1,BOOKMARK:
increasing() { jq -se '[.[] | select(.type != "BOOKMARK") | .object.metadata.resourceVersion | tonumber] | . as $r | all(range(1; length); $r[.] > $r[. - 1])' "$1" >/dev/null; }
check "watch: resourceVersions of the changes strictly increase" increasing "$D/w1"
MID=$(sed -n 2p "$D/w1" | jq -r .object.metadata.resourceVersion)
watch_start "$D/w2" "$POOLS?watch=1&resourceVersion=$MID"
watch_end
check "watch: resume from a resourceVersion replays only what came after" test "$(jq -r '.type + ":" + .object.metadata.name' "$D/w2" | paste -sd,)" = ADDED:w2,DELETED:w1
watch_start "$D/w3" "$POOLS?watch=true"
watch_end
check "watch: without a resourceVersion, the current objects as ADDED" test "$(jq -r '.type + ":" + .object.metadata.name' "$D/w3" | paste -sd,)" = ADDED:p0,ADDED:w2
watch_start "$D/w4" "/api/v1/pods?watch=1&resourceVersion=$(body GET /api/v1/pods | jq -r .metadata.resourceVersion)&labelSelector=app%3Dweb"
code PATCH /api/v1/namespaces/default/pods/b '{"metadata":{"labels":{"app":"web"}}}' application/merge-patch+json >/dev/null
code PATCH /api/v1/namespaces/default/pods/a '{"metadata":{"labels":{"app":"gone"}}}' application/merge-patch+json >/dev/null
code PATCH /api/v1/namespaces/default/pods/b '{"metadata":{"labels":{"y":"1"}}}' application/merge-patch+json >/dev/null
watch_end
check "watch: a selector turns entering/leaving into ADDED/DELETED" test "$(jq -r '.type + ":" + .object.metadata.name' "$D/w4" | paste -sd,)" = ADDED:b,DELETED:a,MODIFIED:b
ctl POST compact >/dev/null
body GET "$POOLS?watch=1&resourceVersion=$START" >"$D/w5"
check "watch: a compacted resourceVersion gets an ERROR event with 410 Expired" test "$(jq -r '.type + " " + (.object.code|tostring) + " " + .object.reason' "$D/w5")" = "ERROR 410 Expired"
watch_start "$D/w6" "$POOLS?watch=1&resourceVersion=$(body GET "$POOLS" | jq -r .metadata.resourceVersion)"
ctl POST watches/close >/dev/null
wait "$WATCH_PID"
check "control: watches/close cuts the stream" test "$(ctl GET watches | jq .count)" = 0
check "the fixture logged no errors" test ! -s "$D/err"
