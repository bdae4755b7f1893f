#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The manifests under crds/ pass the offline checker (tests/crds/check_manifests.py), and the
# checker itself catches each kind of mistake it is meant to (one broken copy per mistake). As
# root, the objects plexus-whereabouts stores on the API server fixture validate under the
# whereabouts CRDs.
source "$(dirname "$0")/../lib.sh"
CHECK=$TOP/tests/crds/check_manifests.py
export PLEXUS_INSTALL_BIN=$BIN/plexus-install
TMP=$(t_tmpdir)

if ! python3 -c 'import yaml' 2>/dev/null; then
	fail "python3-yaml is missing (scripts/setup.sh installs it)"
	exit 0
fi
# The DaemonSet's options are checked against plexus-install --help: build it first.
check "plexus-install is built ($PLEXUS_INSTALL_BIN)" test -x "$PLEXUS_INSTALL_BIN"

# The real manifests: the checker's own PASS/FAIL lines are this test's.
python3 "$CHECK" "$TOP/crds" "$TOP"

# kubectl's own kustomize renders them, with the image the kustomization names everywhere.
if command -v kubectl >/dev/null; then
	K=$(kubectl kustomize "$TOP/crds" 2>&1)
	WANT=$(python3 -c 'import sys,yaml; i=yaml.safe_load(open(sys.argv[1]))["images"][0]; print(i["newName"] + ":" + i["newTag"])' "$TOP/crds/kustomization.yaml")
	check "kubectl kustomize crds/ sets image $WANT on all 3 containers" \
		test "$(grep -E '^ +image: ' <<<"$K" | sed 's/^ *image: //' | sort | uniq -c | tr -s ' ')" = " 3 $WANT"
else
	fail "kubectl kustomize crds/: no kubectl (scripts/setup.sh installs kubernetes-client)"
fi

# What plexus-whereabouts really stores (IPv4, IPv6 with network_name, dual stack, no
# reservation) validates under crds/whereabouts.yaml, with the checker's structural validator.
WB=$BIN/plexus-whereabouts
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! $(basename "$0"): NOT ROOT: the stored-object check needs a netns and is SKIPPED !!!" >&2
	skip "stored whereabouts objects validate under the CRDs: needs root"
elif ! command -v node >/dev/null || ! command -v jq >/dev/null || ! command -v curl >/dev/null; then
	fail "stored whereabouts objects validate under the CRDs: node, jq or curl missing"
elif [ ! -x "$WB" ]; then
	fail "stored whereabouts objects validate under the CRDs: $WB is not built"
else
	NODE=plxcrd$T_ID
	new_node "$NODE" || fail "node netns $NODE"
	echo '{"items":[]}' >"$TMP/state.json"
	api_fixture "$NODE" "$TMP" crdtoken 120
	t_proc "$API_PID"
	RUNNER=(ip netns exec "$NODE")
	new_pod
	n=0
	for x in '{"range":"10.77.0.0/24","gateway":"10.77.0.1","exclude":["10.77.0.1/32"]}' \
		'{"range":"fd77::/64","network_name":"blue"}' \
		'{"range":"10.78.0.0/24","ipRanges":[{"range":"fd78::/120"}]}' \
		'{"range":"10.79.0.0/28","enable_overlapping_ranges":false}'; do
		n=$((n + 1))
		c=$(jq -cn --arg k "$TMP/kubeconfig" --argjson x "$x" '{cniVersion:"1.1.0",name:"crdnet",
			type:"macvlan",master:"eth9",ipam:({type:"whereabouts",kubernetes:{kubeconfig:$k}} + $x)}')
		cni_exec "$WB" ADD "$c" "$PODNS" "net$n" "cid-$n" PLEXUS_WHEREABOUTS_DIR="$TMP/journal" \
			CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-$n"
		check "plexus-whereabouts ADD $x" [ "$RC" = 0 ]
	done
	ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state" >"$TMP/stored.json"
	python3 - "$CHECK" "$TOP/crds/whereabouts.yaml" "$TMP/stored.json" <<'PY'
import json, os, sys, yaml
check, crd, stored = sys.argv[1:4]
sys.argv = [check]
sys.path.insert(0, os.path.dirname(check))
from check_manifests import schema_errors
schemas = {d["spec"]["names"]["kind"]: d["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
           for d in yaml.safe_load_all(open(crd))}
objs = [o for o in json.load(open(stored))["items"] if o.get("kind") in schemas]
errs = []
for o in objs:
    schema_errors(o, schemas[o["kind"]], f"{o['kind']}/{o['metadata']['name']}", errs)
kinds = sorted({o["kind"] for o in objs})
if len(objs) != 9 or kinds != sorted(schemas):
    errs.append(f"stored {len(objs)} objects of {kinds}, want 5 pools and 4 reservations")
name = f"the {len(objs)} stored whereabouts objects validate under crds/whereabouts.yaml"
print(f"FAIL: {name}: {'; '.join(errs[:8])}" if errs else f"PASS: {name}")
PY
fi

# mutant NAME FILE SED-EXPR [PY]: a copy of crds/ with one change must make the checker fail.
mutant() {
	local name=$1 file=$2 expr=$3 d
	d=$(mktemp -d "$TMP/m.XXXXXX")
	cp -r "$TOP/crds/." "$d/"
	sed -i "$expr" "$d/$file"
	if cmp -s "$d/$file" "$TOP/crds/$file"; then
		fail "checker catches: $name (the mutation did not apply)"
		return
	fi
	local out
	out=$(python3 "$CHECK" "$d" "$TOP" 2>&1)
	if [ $? -ne 0 ] && grep -q '^FAIL: ' <<<"$out"; then
		pass "checker catches: $name"
	else
		fail "checker catches: $name"
	fi
}
mutant "a v1beta1 CRD" network-attachment-definitions.yaml \
	's|apiextensions.k8s.io/v1$|apiextensions.k8s.io/v1beta1|'
mutant "a CRD that is not Namespaced" network-attachment-definitions.yaml \
	's|scope: Namespaced|scope: Cluster|'
mutant "a missing short name" network-attachment-definitions.yaml '/- nad$/d'
mutant "an extensions/v1beta1 DaemonSet" plexus-daemonset.yaml \
	's|^apiVersion: apps/v1|apiVersion: extensions/v1beta1|'
mutant "an extra RBAC verb (delete pods)" plexus-daemonset.yaml 's|verbs: \[get, list, watch\]$|verbs: [get, list, watch, delete]|'
mutant "a missing RBAC grant (patch pods/status)" plexus-daemonset.yaml \
	's|verbs: \[patch\]|verbs: [get]|'
mutant "an RBAC wildcard" plexus-daemonset.yaml 's|resources: \[pods\]|resources: ["*"]|'
mutant "a selector that does not match the template" plexus-daemonset.yaml \
	'0,/      app: plexus$/s//      app: plexus-other/'
mutant "a mount of an undefined volume" plexus-daemonset.yaml '0,/- name: cni-bin$/s//- name: cni-bins/'
mutant "a container without an image" device-plugin.yaml '/image: localhost/d'
mutant "a container with another image" device-plugin.yaml 's|image: localhost/plexus|image: ghcr.io/x/plexus:latest|'
mutant "a manifest missing from kustomization.yaml" kustomization.yaml '/- device-plugin.yaml/d'
mutant "an unknown plexus-install option" plexus-daemonset.yaml 's|--log-level=warning|--log-levels=warning|'
mutant "a NAD whose spec.config is not JSON" examples/macvlan.yaml 's|"mode": "bridge",|"mode": bridge,|'
mutant "a NAD with a foreign plugin type" examples/ipvlan.yaml 's|"plexus-ipvlan"|"calico"|'
mutant "an SR-IOV NAD without resourceName" examples/sriov.yaml \
	'0,/k8s.v1.cni.cncf.io\/resourceName/{/k8s.v1.cni.cncf.io\/resourceName/d}'
mutant "a pod naming a NAD that does not exist" examples/pod-multi.yaml 's|"name": "tenant-a"|"name": "tenant-b"|'
mutant "a pod not requesting its VF resource" examples/pod-multi.yaml \
	's|intel.com/sriov_netdevice: "1"|intel.com/sriov_other: "1"|'
mutant "a whereabouts CRD without ifname (plexus's allocations pruned)" whereabouts.yaml \
	'0,/ ifname:$/s// ifnames:/'
mutant "a cluster-scoped IPPool CRD" whereabouts.yaml '0,/scope: Namespaced/s//scope: Cluster/'
mutant "a whereabouts CRD served as v1, not v1alpha1" whereabouts.yaml \
	'0,/- name: v1alpha1/s//- name: v1/'
mutant "a reservation CRD that does not require podref" whereabouts.yaml \
	's/required: \[podref\]/required: []/'
mutant "the whereabouts CRDs missing from kustomization.yaml" kustomization.yaml '/- whereabouts.yaml/d'
