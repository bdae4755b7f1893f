#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The plexus image (docs/install.md): `make image` builds it reproducibly, containerd 1.6 imports
# it with ctr, and each DaemonSet container of crds/ runs in it with its manifest's command,
# args, env and mounts (temp dirs stand in for the host paths): the installer installs and, as
# PID 1, stops promptly on SIGTERM and removes its conf; plexus-apid loads libcurl and serves
# its socket; the device plugin starts; every binary runs. A private containerd (own root,
# state, socket, runc root, namespace) in a temp dir; nothing of the host's is used.
# Needs root, containerd, runc, ctr, umoci, python3-yaml, jq, openssl.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ctrd.bash"
need_root
for t in containerd containerd-shim-runc-v2 runc ctr umoci jq openssl python3; do
	command -v "$t" >/dev/null || { fail "image: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
D=$(t_tmpdir)
SOCK=$D/containerd.sock
NS=plxi$T_ID
IMG=localhost/plexus-test:t$T_ID
CTRD_PID=
CTR() { ctr -a "$SOCK" -n "$NS" "$@"; }

img_cleanup() {
	set +e
	ctrd_ctr_down "$D" "$SOCK" "$NS" "$CTRD_PID"
	t_cleanup
}
trap img_cleanup EXIT

# ---- make image: name on the last line, reproducible ---------------------------------------
MAKE_ARGS=(-s -C "$TOP" B="$BUILD" IMAGE="$IMG")
[ "$(basename "$BUILD")" = san ] && MAKE_ARGS+=(SANITIZE=1)
OUT=$(make "${MAKE_ARGS[@]}" image 2>&1)
RC=$?
check "make image succeeds and prints the image name as its last line" \
	test "$RC" = 0 -a "$(tail -n1 <<<"$OUT")" = "$IMG"
[ "$RC" = 0 ] || { echo "$OUT"; exit 1; }
cp "$BUILD/image.tar" "$D/image.tar"
digest() { tar -xOf "$1" index.json | jq -r '.manifests[0].digest'; }
D1=$(digest "$D/image.tar")
make "${MAKE_ARGS[@]}" image >/dev/null 2>&1
check "a second make image gives the same manifest digest ($D1)" \
	test -n "$D1" -a "$D1" = "$(digest "$BUILD/image.tar")"
check "the archive's index names the image $IMG" \
	test "$(tar -xOf "$D/image.tar" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')" = "$IMG"
SIZE=$(stat -c %s "$D/image.tar")
echo "image archive: $SIZE bytes"
check "the image archive is small (< 20 MiB: $SIZE bytes)" test "$SIZE" -lt $((20 * 1024 * 1024))

# ---- a private containerd ------------------------------------------------------------------
ctrd_config "$D" "$SOCK" io.containerd.grpc.v1.cri >"$D/config.toml"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do CTR version >/dev/null 2>&1 && break; sleep 0.1; done
check "image: ctr images import" bash -c "ctr -a '$SOCK' -n '$NS' images import '$D/image.tar' >/dev/null"
check "image: imported under its name" bash -c "ctr -a '$SOCK' -n '$NS' images ls -q | grep -qx '$IMG'"

# run ID [CTR-RUN-OPTION]... -- CMD...: run to completion; sets OUT and RC.
run() {
	local id=$1 opts=()
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	OUT=$(CTR run --rm --runc-root "$D/runc" "${opts[@]}" "$IMG" "$id" "$@" 2>&1)
	RC=$?
}

# ---- every binary runs in the image ---------------------------------------------------------
PLUGINS="plexus plexus-macvlan plexus-ipvlan plexus-vxlan plexus-sriov plexus-hostlocal plexus-staticipam plexus-whereabouts"
run bins -- /bin/sh -c 'for f in /usr/lib/plexus/*; do printf "%s " "${f##*/}"; done'
check "/usr/lib/plexus holds the twelve plexus binaries ($OUT)" test "$OUT" = \
	"plexus plexus-apid plexus-device-plugin plexus-dra plexus-hostlocal plexus-install plexus-ipvlan plexus-macvlan plexus-sriov plexus-staticipam plexus-vxlan plexus-whereabouts "
run version -- /bin/sh -c "for p in $PLUGINS; do CNI_COMMAND=VERSION /usr/lib/plexus/\$p </dev/null | tr -d '\n'; echo; done"
check "the eight CNI plugins answer VERSION in the image" \
	test "$(jq -s 'map(select(.supportedVersions | index("1.0.0"))) | length' <<<"$OUT" 2>/dev/null)" = 8
for d in plexus-install plexus-apid plexus-device-plugin plexus-dra; do
	run "help-$d" -- "/usr/lib/plexus/$d" --help
	check "$d --help runs in the image" bash -c "[ $RC = 0 ] && grep -q '^Usage: $d' <<<'${OUT//\'/}'"
done

# ---- the DaemonSets' containers, as the manifests write them --------------------------------
# manifest KIND NAME SUB, from crds/: a DaemonSet's container SUB's command + args
# (NUL-separated), or a ConfigMap's data entry SUB.
manifest() {
	python3 - "$TOP/crds" "$@" <<'PY'
import os, sys, yaml
crds, kind, name, sub = sys.argv[1:]
for f in sorted(os.listdir(crds)):
    if not f.endswith(".yaml") or f == "kustomization.yaml":
        continue
    for d in yaml.safe_load_all(open(os.path.join(crds, f))):
        if not d or d.get("kind") != kind or d["metadata"]["name"] != name:
            continue
        if kind == "ConfigMap":
            sys.stdout.write(d["data"][sub])
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            if c["name"] == sub:
                sys.stdout.write("\0".join((c.get("command") or []) + (c.get("args") or [])))
PY
}
# start ID [CTR-RUN-OPTION]... -- CMD...: a detached container, output to $D/ID.log; sets TPID.
start() {
	local id=$1 opts=()
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	CTR run -d --runc-root "$D/runc" --log-uri "file://$D/$id.log" "${opts[@]}" "$IMG" "$id" "$@" >/dev/null
	TPID=$(CTR task ls | awk -v i="$id" '$1 == i { print $2 }')
}
# stop ID: SIGTERM to the container's PID 1 as the kubelet sends it; sets MS (until it exited)
# and RC (its exit status), then removes the container.
stop() {
	local t0 t1
	t0=$(date +%s%N)
	CTR task kill -s SIGTERM "$1"
	for _ in $(seq 200); do
		[ "$(CTR task ls | awk -v i="$1" '$1 == i { print $3 }')" = STOPPED ] && break
		sleep 0.02
	done
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
	CTR task delete "$1" >/dev/null 2>&1
	RC=$?
	CTR container delete "$1" >/dev/null 2>&1
}
bind() { echo "type=bind,src=$1,dst=$2,options=rbind:${3:-rw}"; }
# drop_caps [KEPT]...: --cap-drop for each of ctr's default capabilities but KEPT (ctr 1.6 has
# no --cap-drop ALL); the manifests drop all.
drop_caps() {
	local c
	for c in CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP \
		NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE; do
		[[ " $* " == *" $c "* ]] || echo "--cap-drop=CAP_$c"
	done
}

mkdir -p "$D/host/opt/cni/bin" "$D/host/etc/cni/net.d" "$D/plexus-cfg" "$D/sa" "$D/run/plexus"
bash "$TOP/tests/fixtures/apiserver/mkcerts.sh" "$D/pki" >/dev/null 2>&1
cp "$D/pki/ca.crt" "$D/sa/ca.crt"
echo "token-$T_ID" >"$D/sa/token"
echo default >"$D/sa/namespace"
SA_MNT=$(bind "$D/sa" /var/run/secrets/kubernetes.io/serviceaccount ro)
K8S_ENV=(--env KUBERNETES_SERVICE_HOST=10.96.0.1 --env KUBERNETES_SERVICE_PORT=443)
manifest ConfigMap plexus-config install-args >"$D/plexus-cfg/install-args"
jq -n '{cniVersion:"1.0.0",name:"cbr0",plugins:[{type:"bridge",bridge:"cni0",ipam:{type:"host-local",subnet:"10.244.0.0/24"}}]}' \
	>"$D/host/etc/cni/net.d/10-bridge.conflist"

# plexus-install: command [/bin/sh, -c], args [exec ... $(tr ...)], as PID 1, with the
# manifest's capabilities (all dropped but DAC_OVERRIDE).
mapfile -d '' CMD < <(manifest DaemonSet plexus plexus-install)
is_exec_install() { [ "${CMD[0]}/${CMD[1]}" = /bin/sh/-c ] && [[ ${CMD[2]} == "exec /usr/lib/plexus/plexus-install "* ]]; }
check "the manifest's installer command is sh -c 'exec /usr/lib/plexus/plexus-install ...'" is_exec_install
start install "${K8S_ENV[@]}" $(drop_caps DAC_OVERRIDE) --mount "$(bind "$D/host/opt/cni/bin" /host/opt/cni/bin)" \
	--mount "$(bind "$D/host/etc/cni/net.d" /host/etc/cni/net.d)" \
	--mount "$(bind "$D/plexus-cfg" /etc/plexus ro)" --mount "$SA_MNT" -- "${CMD[@]}"
CL=$D/host/etc/cni/net.d/00-plexus.conflist
for _ in $(seq 100); do [ -f "$CL" ] && grep -q watching "$D/install.log" 2>/dev/null && break; sleep 0.05; done
jqf() { jq -e "$1" "$2" >/dev/null 2>&1; }
check "installer: 00-plexus.conflist written with the ConfigMap's options (apiRelay, cniDir)" \
	jqf '.plugins[0] | .apiRelay == "/run/plexus/api.sock" and .cniDir == "/var/lib/cni/multus" and .clusterNetwork == "/etc/cni/net.d/10-bridge.conflist"' "$CL"
check "installer: the plugins are in the host's bin dir, plexus-install is not" bash -c \
	"for p in $PLUGINS; do [ -x '$D/host/opt/cni/bin/'\$p ] || exit 1; done; [ ! -e '$D/host/opt/cni/bin/plexus-install' ]"
check "installer: the installed plexus is the image's (stripped) binary, runnable on the host" \
	bash -c "set -o pipefail; echo '{}' | CNI_COMMAND=VERSION '$D/host/opt/cni/bin/plexus' | jq -e .supportedVersions >/dev/null"
check "installer: it is PID 1 of its container (sh exec'ed it)" bash -c \
	"grep -q '^NSpid:.*[[:space:]]1\$' /proc/$TPID/status && [ \"\$(cat /proc/$TPID/comm)\" = plexus-install ]"
check "installer: its only capability is DAC_OVERRIDE, as in the manifest" \
	grep -q '^CapEff:[[:space:]]*0000000000000002$' "/proc/$TPID/status"
stop install
check "installer: SIGTERM as PID 1 ends it within 2s ($MS ms), exit 0" test "$MS" -lt 2000 -a "$RC" = 0
check "installer: on SIGTERM it removed 00-plexus.conflist and plexus.d, kept the binaries" \
	test ! -e "$CL" -a ! -e "$D/host/etc/cni/net.d/plexus.d" -a -x "$D/host/opt/cni/bin/plexus"
echo "--- installer log:"; cat "$D/install.log"

# plexus-apid: in-cluster credentials, libcurl dlopened at start, socket in the hostPath; no
# capabilities, as in the manifest.
mapfile -d '' CMD < <(manifest DaemonSet plexus plexus-apid)
start apid "${K8S_ENV[@]}" $(drop_caps) --mount "$SA_MNT" --mount "$(bind "$D/run/plexus" /run/plexus)" -- "${CMD[@]}"
for _ in $(seq 100); do [ -S "$D/run/plexus/api.sock" ] && break; sleep 0.05; done
check "plexus-apid: loads libcurl in the image and serves /run/plexus/api.sock" \
	test -S "$D/run/plexus/api.sock"
check "plexus-apid: runs without capabilities, as in the manifest" \
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$TPID/status"
stop apid
check "plexus-apid: SIGTERM ends it within 2s ($MS ms), exit 0, socket removed" \
	test "$MS" -lt 2000 -a "$RC" = 0 -a ! -e "$D/run/plexus/api.sock"
echo "--- plexus-apid log:"; cat "$D/apid.log"

# plexus-device-plugin: privileged, the host's /sys read-only; no kubelet here, so it waits.
mapfile -d '' CMD < <(manifest DaemonSet plexus-device-plugin plexus-device-plugin)
mkdir -p "$D/dp/device-plugins" "$D/dp/cfg" "$D/dp/vfio" "$D/dp/devinfo"
manifest ConfigMap plexus-device-plugin-config device-plugin.json >"$D/dp/cfg/device-plugin.json"
start dp --privileged --mount "$(bind "$D/dp/device-plugins" /var/lib/kubelet/device-plugins)" \
	--mount "$(bind /sys /sys ro)" --mount "$(bind "$D/dp/vfio" /dev/vfio)" \
	--mount "$(bind "$D/dp/cfg" /etc/plexus ro)" \
	--mount "$(bind "$D/dp/devinfo" /var/run/k8s.cni.cncf.io/devinfo)" -- "${CMD[@]}"
sleep 1
check "plexus-device-plugin: starts in the image with the manifest's args and keeps running" \
	test "$(CTR task ls | awk '$1 == "dp" { print $3 }')" = RUNNING
stop dp
check "plexus-device-plugin: SIGTERM ends it within 2s ($MS ms), exit 0" test "$MS" -lt 2000 -a "$RC" = 0
echo "--- plexus-device-plugin log:"; cat "$D/dp.log"
check "no container log reports a missing library" \
	bash -c "! grep -h 'error while loading shared libraries\|cannot open shared object' '$D'/*.log"
