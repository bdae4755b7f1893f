#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DaemonSets of crds/ on a node, run through containerd's CRI as a kubelet runs them
# (kubelet-ds.py renders each pod template into CRI requests, cri-client.js plays them): host
# network, privileged, hostPath volumes in a scratch host root, ConfigMap volumes, the service
# account token and CA of the API server fixture, command/args from the manifest, and removal
# by StopContainer with the pod's grace period; the manifests' httpGet probes are sent as the
# kubelet sends them and must answer 200. Then, on that node:
#  - install: plexus-install puts the plugins and 00-plexus.conflist into the node's CNI dirs,
#    plexus-apid serves its socket; a pod with a networks annotation gets its interfaces through
#    the installed plexus and its network-status on the API server;
#  - upgrade: a second image (same build, version string changed in every binary) starts while
#    the first runs (maxSurge: 1), its plexus-apid takes the relay socket over, then the first
#    is removed; pods are added and deleted in a loop and the installed plugins exec'd in
#    another, all the while: nothing fails;
#  - uninstall: removing the pod removes 00-plexus.conflist and plexus.d (kept with
#    --keep-on-exit), later pods get the cluster network alone;
#  - the device plugin's DaemonSet starts from the same image and registers its pools with the
#    kubelet stand-in (tests/fixtures/grpc/kubelet.js) over the mounted device-plugins dir.
# The "node" is a network namespace plus a mount namespace for containerd (and so for the
# plugins it execs) in which the scratch host root's etc/cni, opt, run and var/lib are bound
# over /etc/cni, /opt, /run and /var/lib: the paths the installer writes into the conf are
# real there. Nothing of the host's CNI dirs, /run or containerd is used. docs/install.md.
# Needs root, containerd, runc, ctr, umoci, node, python3-yaml, jq, openssl.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ctrd.bash"
need_root
for t in containerd containerd-shim-runc-v2 runc ctr umoci node python3 jq openssl curl nsenter unshare; do
	command -v "$t" >/dev/null || { fail "ds: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
[ -x "$BIN/plexus" ] || { fail "ds: $BIN/plexus not built"; exit 1; }
T0=$(date +%s)
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(t_tmpdir)
ROOT=$D/host
SOCK=$D/containerd.sock
CRI() { node "$HERE/cri-client.js" "$SOCK" "$@"; }
NODE=plxds$T_ID
IMG1=localhost/plexus:ds$T_ID-1
IMG2=localhost/plexus:ds$T_ID-2
CTRD_PID= API_PID= KUBELET_PID=
CG_EXISTED=$(ls -d /sys/fs/cgroup/*/k8s.io 2>/dev/null | head -n1)
# /etc/cni is where containerd's mount namespace gets the node's; an empty mount point made
# here, if the host has none, is removed at the end.
ETC_CNI_MADE=
[ -d /etc/cni ] || { mkdir /etc/cni && ETC_CNI_MADE=1; }

ds_cleanup() {
	local id
	set +e
	# DS_DEBUG=DIR keeps the logs and the node's /etc/cni for a look afterwards.
	[ -n "${DS_DEBUG:-}" ] && mkdir -p "$DS_DEBUG" && cp -r "$D/pods" "$D"/*.log "$D"/*.err "$ROOT/etc" "$DS_DEBUG/" 2>/dev/null
	touch "$D/stop-loops"
	# The DaemonSet pods' containers first, with a short grace period.
	if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		for id in $(CRI_TIMEOUT_MS=20000 CRI list 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
			CRI_TIMEOUT_MS=20000 CRI dsdown "$id" 2 >/dev/null 2>&1
		done
	fi
	ctrd_cri_down "$D" "$SOCK" "$CTRD_PID"
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null
	[ -n "$KUBELET_PID" ] && kill "$KUBELET_PID" 2>/dev/null
	wait 2>/dev/null
	# The cgroups runc made for this test's sandboxes and containers (cgroup parent /k8s.io).
	for id in $(cat "$D/ids" 2>/dev/null; jq -r '.containers[]?' "$D"/pods/*.up 2>/dev/null); do
		rmdir /sys/fs/cgroup/*/k8s.io/"$id" 2>/dev/null
	done
	[ -n "$CG_EXISTED" ] || rmdir /sys/fs/cgroup/*/k8s.io 2>/dev/null
	[ -z "$ETC_CNI_MADE" ] || rmdir /etc/cni
	t_cleanup
}
trap ds_cleanup EXIT

# ---- the node: netns with a NIC (macvlan master), scratch host root ------------------------
new_node "$NODE"
ip -n "$NODE" addr add 10.240.0.1/24 dev eth9
mkdir -p "$ROOT/etc/cni/net.d" "$ROOT/opt/cni/bin" "$ROOT/run" "$ROOT/var/lib" \
	"$ROOT/var/lib/kubelet/device-plugins" "$D/pods"
# The node's cluster network, with its plugins in /opt/cni/bin as a node has them.
for f in "$REF_CNI"/*; do ln -s "$f" "$ROOT/opt/cni/bin/"; done
jq -n '{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:"cni0",isGateway:true,
	ipam:{type:"host-local",ranges:[[{subnet:"10.241.0.0/24"}]]}}]}' \
	>"$ROOT/etc/cni/net.d/10-bridge.conflist"

# ---- the API server fixture --------------------------------------------------------------
TOKEN=plexus-ds-token-$T_ID
MACVLAN=$(jq -cn '{cniVersion:"1.0.0",type:"macvlan",master:"eth9",mode:"bridge",
	ipam:{type:"host-local",ranges:[[{subnet:"10.242.0.0/24"}]]}}')
PODS="pod-a pod-u $(seq -f 'pod-l%g' 1 60 | tr '\n' ' ')"
{
	echo '{"items":['
	jq -cn --arg c "$MACVLAN" '{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",
		metadata:{namespace:"default",name:"macvlan-net",uid:"uid-macvlan-net"},spec:{config:$c}}'
	for p in $PODS; do
		echo ,
		jq -cn --arg n "$p" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",name:$n,
			uid:("uid-"+$n)},spec:{containers:[{name:"c",image:"pause"}]}}'
	done
	echo ']}'
} >"$D/state.json"
api_fixture "$NODE" "$D" "$TOKEN" >/dev/null 2>&1
check "ds: API server fixture is up" test -n "$PORT"

# ---- two images: this build, and the same binaries with another version string -----------
MAKE_ARGS=(-s -C "$TOP" B="$BUILD" IMAGE="$IMG1")
[ "$(basename "$BUILD")" = san ] && MAKE_ARGS+=(SANITIZE=1)
OUT=$(make "${MAKE_ARGS[@]}" image 2>&1)
check "ds: make image builds $IMG1" test "$(tail -n1 <<<"$OUT")" = "$IMG1"
cp "$BUILD/image.tar" "$D/v1.tar"
V1=$("$BIN/plexus" 2>&1 | head -n1 | awk '{print $NF}')
mkdir "$D/bin2"
cp "$BIN"/plexus* "$D/bin2/"
# v2: every binary's version string replaced by one of the same length (the about text
# `plexus` prints without CNI_COMMAND tells the versions apart; nothing else changes).
V2=$(python3 - "$V1" "$D"/bin2/plexus* <<'PY'
import sys
old = sys.argv[1].encode()
new = (b"v2-upgrade-" + b"x" * len(old))[:len(old)]
n = 0
for f in sys.argv[2:]:
    b = open(f, "rb").read()
    n += b.count(old)
    open(f, "wb").write(b.replace(old, new))
print(new.decode() if n and len(old) >= 4 else "")
PY
)
check "ds: a second image $IMG2 with version '$V2' instead of '$V1'" bash -c \
	"[ -n '$V2' ] && bash '$TOP/install/image.sh' '$D/bin2' '$D/v2.tar' '$IMG2' '$V2' >/dev/null 2>&1"

# ---- containerd in the node: its mount namespace has the scratch host's dirs ---------------
{ ctrd_config "$D" "$SOCK"; ctrd_cri_config "$D" /opt/cni/bin /etc/cni/net.d; } >"$D/config.toml"
nsenter --net="/run/netns/$NODE" unshare -m --propagation private sh -c '
	for p in /etc/cni /opt /run /var/lib; do mount --bind "$1$p" "$p" || exit 1; done
	exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		containerd --config "$2"' sh "$ROOT" "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do CRI version >/dev/null 2>&1 && break; sleep 0.1; done
bash "$HERE/mkimage" "$D/pause.tar"
for t in pause v1 v2; do ctr -a "$SOCK" -n k8s.io images import "$D/$t.tar" >/dev/null 2>&1; done
IMAGES=$(ctr -a "$SOCK" -n k8s.io images ls -q | grep -v '^sha256:' | sort | tr '\n' ' ')
check "ds: containerd's CRI is up, the pause image and both plexus images imported ($IMAGES)" \
	test "$IMAGES" = "$IMG1 $IMG2 plexus.local/pause:1 "

# ---- helpers ---------------------------------------------------------------------------------
jqt() { jq -e "$@" >/dev/null; }
NOLIMIT=()
# ASan's shadow memory does not fit the manifests' 64Mi limits; the plain run applies them.
[ "$(basename "$BUILD")" = san ] && NOLIMIT=(--no-memory-limit)
render() { # render CRDS DAEMONSET POD IMAGE: the pod's CRI requests in $D/pods/POD.json
	python3 "$HERE/kubelet-ds.py" --crds "$1" --daemonset "$2" --pod-name "$3" --uid "uid-$3" \
		--node "$NODE" --host-root "$ROOT" --real-host-path /sys --work "$D/pods/$3" \
		--api "127.0.0.1:$PORT" --token "$TOKEN" --ca "$D/pki/ca.crt" --image "$4" \
		"${NOLIMIT[@]}" >"$D/pods/$3.json"
}
ds_up() { # ds_up CRDS DAEMONSET POD IMAGE: sets DSID (empty on failure)
	DSID=
	render "$@" && CRI dsup "$D/pods/$3.json" >"$D/pods/$3.up" 2>"$D/pods/$3.err" &&
		DSID=$(jq -r .id "$D/pods/$3.up") && echo "$DSID" >>"$D/ids"
	[ -n "$DSID" ] || cat "$D/pods/$3.err"
}
# probes_ok POD: every httpGet probe of POD's manifest answers 200 in the node's netns, as the
# kubelet's would (tried for up to 5 s: a daemon becomes ready after it starts).
probes_ok() {
	local url n=0 code
	for url in $(jq -r '.probes[].url' "$D/pods/$1.json"); do
		n=$((n + 1))
		for _ in $(seq 50); do
			code=$(ip netns exec "$NODE" curl -s -m 2 -o /dev/null -w '%{http_code}' "$url")
			[ "$code" = 200 ] && break
			sleep 0.1
		done
		[ "$code" = 200 ] || { echo "probe $url: $code" >&2; return 1; }
	done
	[ "$n" -gt 0 ]
}
ds_down() { # ds_down POD: the kubelet's removal with the pod's grace period; sets DOWN (JSON)
	DOWN=$(CRI dsdown "$(jq -r .id "$D/pods/$1.up")" "$(jq -r .grace "$D/pods/$1.json")" 2>&1)
}
clog() { # clog POD CONTAINER: the container's output (CRI log format: time stream tag text)
	cut -d' ' -f4- "$D/pods/$1/logs/$2/0.log" 2>/dev/null
}
run_pod() { # run_pod NAME NETWORKS: sets ID (empty on failure), PID, ERR
	local out
	ID= PID= ERR=
	if out=$(CRI run "$1" default "uid-$1" "$2" 2>"$D/err.$1"); then
		ID=$(jq -r .id <<<"$out")
		echo "$ID" >>"$D/ids"
		PID=$(CRI status "$ID" | jq -r '.info.info.pid // empty')
	fi
	ERR=$(cat "$D/err.$1")
}
CONF=$ROOT/etc/cni/net.d/00-plexus.conflist
PLUGINS="plexus plexus-macvlan plexus-ipvlan plexus-vxlan plexus-sriov plexus-hostlocal plexus-staticipam plexus-whereabouts"
versions() { # the version each installed plugin reports, one line per distinct version
	for p in $PLUGINS; do "$ROOT/opt/cni/bin/$p" 2>&1 | head -n1 | awk '{print $NF}'; done | sort -u | tr '\n' ' '
}

# ---- the runner itself: the manifest as a kubelet reads it ---------------------------------
render "$TOP/crds" plexus plexus-r "" && cp "$D/pods/plexus-r.json" "$D/r.json"
KIMG=$(python3 -c 'import yaml,sys; i=yaml.safe_load(open(sys.argv[1]))["images"][0]; print(i["newName"]+":"+str(i["newTag"]))' "$TOP/crds/kustomization.yaml")
check "runner: without --image each container runs the kustomization's image ($KIMG)" \
	test "$(jq -r '[.containers[].image.image] | unique | join(" ")' "$D/r.json")" = "$KIMG"
check "runner: hostNetwork -> NODE namespace; installer drops ALL and adds DAC_OVERRIDE; grace 10" \
	jqt '.sandbox.linux.security_context.namespace_options.network == "NODE" and .grace == 10 and
		(.containers[0].linux.security_context.capabilities | .drop_capabilities == ["ALL"] and .add_capabilities == ["DAC_OVERRIDE"])' "$D/r.json"
check "runner: service account token, CA and namespace projected into each container" bash -c \
	"jq -e '[.containers[].mounts[] | select(.container_path == \"/var/run/secrets/kubernetes.io/serviceaccount\")] | length == 2' '$D/r.json' >/dev/null &&
	 [ \"\$(cat '$D/pods/plexus-r/volumes/kube-api-access/token')\" = '$TOKEN' ] && cmp -s '$D/pods/plexus-r/volumes/kube-api-access/ca.crt' '$D/pki/ca.crt'"
# A manifest with env (value, fieldRef) and $(VAR) in command/args, as the kubelet expands them.
mkdir -p "$D/crds-env"
cat >"$D/crds-env/kustomization.yaml" <<'Y'
images: [{name: img, newName: img, newTag: "1"}]
Y
cat >"$D/crds-env/ds.yaml" <<'Y'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: envds, namespace: kube-system}
spec:
  template:
    spec:
      hostNetwork: true
      automountServiceAccountToken: false
      containers:
        - name: c
          image: img
          command: [/bin/sh, -c, "echo $(NODE) $$(x) $(MISSING)"]
          args: ["$(NS)/$(POD)"]
          env:
            - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
            - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
Y
render "$D/crds-env" envds env-pod ""
check "runner: fieldRef env and \$(VAR) expansion as the kubelet does (\$\$ literal, unknown kept)" \
	jqt --arg n "$NODE" '.containers[0] | .command[2] == "echo \($n) $(x) $(MISSING)" and
		.args == ["kube-system/env-pod"] and .image.image == "img:1" and
		(.envs | from_entries | .NODE == $n and .KUBERNETES_SERVICE_HOST == "127.0.0.1") and
		(.mounts | length == 0)' "$D/pods/env-pod.json"

# ---- install: the plexus DaemonSet, version 1 ------------------------------------------------
run_pod pod-pre macvlan-net
check "ds: before plexus is installed a pod gets the cluster network alone" bash -c \
	"[ -n '$ID' ] && [[ '$(podip "$PID" eth0)' == 10.241.0.* ]] && [ -z '$(podip "$PID" net1)' ]"
[ -n "$ID" ] && CRI stop "$ID" >/dev/null && CRI rm "$ID" >/dev/null
ds_up "$TOP/crds" plexus plexus-v1 "$IMG1"
check "ds: plexus DaemonSet pod v1 (installer + plexus-apid) runs through the CRI" test -n "$DSID"
for _ in $(seq 100); do [ -f "$CONF" ] && [ -S "$ROOT/run/plexus/api.sock" ] && break; sleep 0.05; done
check "install: 00-plexus.conflist in the node's /etc/cni/net.d, pointing at the cluster network and the relay" \
	jqt '.plugins[0] | .type == "plexus" and .clusterNetwork == "/etc/cni/net.d/10-bridge.conflist" and
		.apiRelay == "/run/plexus/api.sock" and .kubeconfig == "/etc/cni/net.d/plexus.d/plexus.kubeconfig"' "$CONF"
check "install: the seven plugins in the node's /opt/cni/bin, version $V1" test "$(versions)" = "$V1 "
check "install: the kubeconfig names the fixture and the token copy" bash -c \
	"grep -q 'server: \"https://127.0.0.1:$PORT\"' '$ROOT/etc/cni/net.d/plexus.d/plexus.kubeconfig' &&
	 [ \"\$(cat '$ROOT/etc/cni/net.d/plexus.d/token')\" = '$TOKEN' ]"
check "install: plexus-apid serves the node's /run/plexus/api.sock" test -S "$ROOT/run/plexus/api.sock"
check "install: plexus-apid's liveness and readiness probes (httpGet /healthz, /readyz) answer 200" \
	probes_ok plexus-v1

: >"$D/api.log"
run_pod pod-a macvlan-net
check "pod: RunPodSandbox with a networks annotation succeeds through the installed plexus" test -n "$ID"
[ -n "$ID" ] || { echo "$ERR"; tail -n 20 "$D/containerd.log"; }
check "pod: eth0 on the cluster network, net1 a macvlan on macvlan-net" bash -c \
	"[[ '$(podip "$PID" eth0)' == 10.241.0.* ]] && [[ '$(podip "$PID" net1)' == 10.242.0.* ]] &&
	 nsenter --net=/proc/$PID/ns/net ip -d link show net1 | grep -q macvlan"
check "pod: network-status on the API server names both attachments" \
	test "$(network_status pod-a | jq -c 'map(.name + "=" + .interface)')" = '["cluster=eth0","default/macvlan-net=net1"]'
CRI stop "$ID" >/dev/null && CRI rm "$ID" >/dev/null
check "pod: Stop + Remove release its leases" test "$(leases "$ROOT/var/lib/cni/networks")" = 0

# ---- upgrade: v2 starts while v1 runs, then v1 is removed; pods come and go all along --------
pod_loop() {
	local i=0 id out
	while [ ! -e "$D/stop-loops" ] && [ "$i" -lt 60 ]; do
		i=$((i + 1))
		if out=$(CRI run "pod-l$i" default "uid-pod-l$i" macvlan-net 2>&1); then
			id=$(jq -r .id <<<"$out")
			echo "$id" >>"$D/ids"
			echo "ADD ok pod-l$i"
			CRI stop "$id" >/dev/null 2>&1 && CRI rm "$id" >/dev/null 2>&1 && echo "DEL ok pod-l$i" ||
				echo "DEL FAILED pod-l$i"
		else
			echo "ADD FAILED pod-l$i: $out"
		fi
	done
}
exec_loop() { # the installed binaries exec'd back to back (VERSION), as the runtime would
	local p n=0 bad=0 out
	while [ ! -e "$D/stop-loops" ]; do
		for p in plexus plexus-macvlan plexus-hostlocal; do
			out=$(echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$ROOT/opt/cni/bin/$p" 2>&1)
			[[ $out == *supportedVersions* ]] || { bad=$((bad + 1)); echo "exec failed: $p: $out" >&2; }
			n=$((n + 1))
		done
	done
	echo "$n $bad"
}
pod_loop >"$D/pod-loop.log" &
PL=$!
exec_loop >"$D/exec-loop.log" 2>"$D/exec-loop.err" &
EL=$!
for _ in $(seq 100); do grep -q 'DEL ok' "$D/pod-loop.log" && break; sleep 0.1; done
ds_up "$TOP/crds" plexus plexus-v2 "$IMG2"
check "upgrade: pod v2 starts while pod v1 runs (maxSurge: 1)" test -n "$DSID"
for _ in $(seq 100); do [ "$(versions)" = "$V2 " ] && break; sleep 0.05; done
check "upgrade: v2's installer replaced every plugin ($(versions))" test "$(versions)" = "$V2 "
# The new relay must serve while the old one runs: the pod is Ready (and the DaemonSet
# controller removes the old one) only when all its containers run.
for _ in $(seq 100); do clog plexus-v2 plexus-apid | grep -q 'relaying to' && break; sleep 0.05; done
clog plexus-v2 plexus-apid | grep -v 'relaying to'
check "upgrade: v2's plexus-apid takes the relay socket over while v1's still runs" bash -c \
	"clog() { cut -d' ' -f4- '$D/pods/plexus-v2/logs/plexus-apid/0.log'; }; clog | grep -q 'relaying to' && ! clog | grep -q error"
N1=$(grep -c 'DEL ok' "$D/pod-loop.log")
ds_down plexus-v1
check "upgrade: pod v1 removed, its containers exited on SIGTERM well inside the grace period" \
	jqt '.containers | length == 2 and all(.exit_code == 0 and .ms < 2000)' <<<"$DOWN"
check "upgrade: 00-plexus.conflist stays (v1's installer saw v2's claim)" test -f "$CONF"
check "upgrade: the relay socket stays, v1's plexus-apid left v2's socket alone" bash -c \
	"[ -S '$ROOT/run/plexus/api.sock' ] && grep -q 'no longer this relay' '$D/pods/plexus-v1/logs/plexus-apid/0.log'"
for _ in $(seq 150); do [ "$(grep -c 'DEL ok' "$D/pod-loop.log")" -ge $((N1 + 2)) ] && break; sleep 0.1; done
touch "$D/stop-loops"
wait "$PL" "$EL"
rm -f "$D/stop-loops"
read -r EXECS BAD <"$D/exec-loop.log"
echo "pod loop: $(grep -c 'ADD ok' "$D/pod-loop.log") ADD, $(grep -c 'DEL ok' "$D/pod-loop.log") DEL ($N1 DEL before v1's removal); exec loop: $EXECS execs"
grep FAILED "$D/pod-loop.log"
check "upgrade: every ADD and DEL of the pod loop succeeded, before and after v1's removal" bash -c \
	"! grep -q FAILED '$D/pod-loop.log' && [ \$(grep -c 'DEL ok' '$D/pod-loop.log') -ge $((N1 + 2)) ] && [ $N1 -ge 1 ]"
check "upgrade: $EXECS back-to-back execs of the installed plugins, none failed (no half-written binary)" \
	test "${BAD:-x}" = 0 -a "${EXECS:-0}" -gt 0
head -n 5 "$D/exec-loop.err"
check "upgrade: no temp file left in the bin dir, no exec error in containerd's log" bash -c \
	"[ -z \"\$(find '$ROOT/opt/cni/bin' -name '.*plexus-tmp*')\" ] && ! grep -qi 'exec format error\|text file busy' '$D/containerd.log'"
check "upgrade: the pods' leases were all released" test "$(leases "$ROOT/var/lib/cni/networks")" = 0

# ---- uninstall: removing pod v2 restores the node ------------------------------------------
ds_down plexus-v2
check "uninstall: pod v2's containers exit on SIGTERM within 2 s with status 0" \
	jqt '.containers | length == 2 and all(.exit_code == 0 and .ms < 2000)' <<<"$DOWN"
check "uninstall: 00-plexus.conflist and plexus.d removed, the cluster network's conf and the binaries kept" \
	test ! -e "$CONF" -a ! -e "$ROOT/etc/cni/net.d/plexus.d" -a -f "$ROOT/etc/cni/net.d/10-bridge.conflist" -a -x "$ROOT/opt/cni/bin/plexus"
check "uninstall: plexus-apid removed its socket" test ! -e "$ROOT/run/plexus/api.sock"
: >"$D/api.log"
ok=
for _ in $(seq 20); do # containerd picks up the conf dir change asynchronously
	run_pod pod-u macvlan-net
	[ -n "$ID" ] || break
	[ -z "$(podip "$PID" net1)" ] && { ok=1; break; }
	CRI stop "$ID" >/dev/null; CRI rm "$ID" >/dev/null; sleep 0.2
done
check "uninstall: a pod created afterwards gets the cluster network alone" bash -c \
	"[ -n '$ok' ] && [[ '$(podip "$PID" eth0)' == 10.241.0.* ]]"
[ -n "$ID" ] && CRI stop "$ID" >/dev/null && CRI rm "$ID" >/dev/null

# ---- --keep-on-exit in the ConfigMap: the conf stays ----------------------------------------
mkdir -p "$D/crds-keep"
cp "$TOP"/crds/*.yaml "$D/crds-keep/"
python3 - "$D/crds-keep/plexus-daemonset.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
a = "    --api-relay=/run/plexus/api.sock\n"
assert a in s
open(p, "w").write(s.replace(a, a + "    --keep-on-exit\n"))
PY
ds_up "$D/crds-keep" plexus plexus-k "$IMG2"
for _ in $(seq 100); do [ -f "$CONF" ] && break; sleep 0.05; done
check "keep: a pod with --keep-on-exit in install-args installs the conf" test -f "$CONF"
ds_down plexus-k
kept() { jq -e '.containers | all(.exit_code == 0)' <<<"$DOWN" >/dev/null && [ -f "$CONF" ] && [ -d "$ROOT/etc/cni/net.d/plexus.d" ]; }
check "keep: removed, its installer exits 0 and keeps 00-plexus.conflist and plexus.d" kept

# ---- the device plugin DaemonSet registers with the kubelet stand-in -------------------------
DPDIR=$ROOT/var/lib/kubelet/device-plugins
mkfifo "$D/kubelet.in"
node "$TOP/tests/fixtures/grpc/kubelet.js" "$DPDIR" <"$D/kubelet.in" >"$D/kubelet.out" 2>&1 &
KUBELET_PID=$!
exec 9>"$D/kubelet.in"
for _ in $(seq 100); do grep -q '"ready"' "$D/kubelet.out" && break; sleep 0.05; done
ds_up "$TOP/crds" plexus-device-plugin plexus-dp "$IMG2"
check "dp: the device plugin pod (privileged, no service account) runs from the same image" bash -c \
	"[ -n '$DSID' ] && jq -e '.sandbox.linux.security_context.privileged and
		(.containers[0].mounts | map(.container_path) | index(\"/var/run/secrets/kubernetes.io/serviceaccount\") == null)' '$D/pods/plexus-dp.json' >/dev/null"
for _ in $(seq 100); do [ "$(grep -c '"register"' "$D/kubelet.out")" -ge 2 ] && break; sleep 0.05; done
check "dp: it registered both pools of its ConfigMap over the mounted device-plugins dir" \
	test "$(jq -r 'select(.event == "register") | .resource_name' "$D/kubelet.out" | sort | tr '\n' ' ')" = "intel.com/sriov_dpdk intel.com/sriov_netdevice "
check "dp: the kubelet stand-in follows ListAndWatch on its endpoints" bash -c \
	"jq -e 'select(.event == \"law\")' '$D/kubelet.out' >/dev/null && ls '$DPDIR' | grep -q '^plexus-intel.com_sriov_netdevice.sock\$'"
check "dp: registered, its liveness and readiness probes answer 200" probes_ok plexus-dp
ds_down plexus-dp
check "dp: removed, it exits on SIGTERM within 2 s with status 0" \
	jqt '.containers | length == 1 and all(.exit_code == 0 and .ms < 2000)' <<<"$DOWN"
echo '{"cmd":"quit"}' >&9
exec 9>&-
wait "$KUBELET_PID" 2>/dev/null
KUBELET_PID=
check "no container log reports an error loading a library or a sanitizer finding" bash -c \
	"! grep -rh 'error while loading shared libraries\|cannot open shared object\|Sanitizer\|runtime error:' '$D/pods'"
echo "daemonset tier: $(($(date +%s) - T0)) s"
