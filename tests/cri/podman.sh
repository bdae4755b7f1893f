#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus outside Kubernetes under a real runtime: Debian's podman 4 with its CNI backend (which
# passes K8S_POD_NAME in CNI_ARGS) runs two containers on a network whose conflist is the plexus
# meta-plugin with no kubeconfig (docs/install.md, "Without Kubernetes"). The cluster network
# (reference bridge + host-local) and a defaultNetworks macvlan (built-in, on a veth master)
# come from confDir; the containers ping each other over both; `podman rm` leaves nothing.
# podman's root, runroot, tmp dir, network config dir and containers.conf are temp dirs; the
# image (static busybox) is built locally with umoci and loaded with `podman load`.
# Needs root, podman, conmon, runc, umoci, jq, unshare and a static /bin/busybox (busybox-static).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nokube.bash"
need_root
for t in podman conmon runc umoci jq unshare; do
	command -v "$t" >/dev/null || { fail "podman: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
have_static_busybox || { fail "podman: no static /bin/busybox (scripts/setup.sh installs busybox-static)"; exit 1; }
[ -x "$BIN/plexus" ] || { fail "podman: $BIN/plexus not built"; exit 1; }
D=$(t_tmpdir)
NET=plexus$T_ID
C1=plxq$T_ID-c1 C2=plxq$T_ID-c2
IMG=plexus.local/busybox:t$T_ID
export CONTAINERS_CONF=$D/containers.conf
PM() { podman --root "$D/root" --runroot "$D/runroot" --storage-driver vfs \
	--network-config-dir "$D/net" "$@"; }

pm_cleanup() {
	set +e
	PM rm -af -t 0 >/dev/null 2>&1
	PM rmi -af >/dev/null 2>&1
	awk -v d="$D/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		xargs -r umount -l 2>/dev/null
	rm -f /var/lib/cni/results/"$NET"-*
	t_cleanup
}
trap pm_cleanup EXIT

mkdir -p "$D/confdir" "$D/net" "$D/tmp"
# The CNI backend (not netavark); plexus first in CNI_PATH, the reference plugins after it.
cat >"$CONTAINERS_CONF" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$D/tmp"
runtime = "runc"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$BIN", "/usr/lib/cni"]
EOF

# ---- the image: a static busybox (sleep, ping, ip) ---------------------------------------
busybox_image "$D" "$IMG"
check "podman: the busybox image is built" test -s "$D/image.tar"
# podman keeps a blob-info cache in /var/lib/containers/cache whatever --root says: load the
# image in a mount namespace of its own with a tmpfs there, so the host's stays untouched.
OUT=$(unshare -m --propagation private bash -c "mount -t tmpfs plxq /var/lib &&
	$(declare -f PM); D=$D; PM load -i $D/image.tar" 2>&1)
RC=$?
check "podman: podman load takes it" test "$RC" -eq 0
[ "$RC" -eq 0 ] || { echo "$OUT" >&2; exit 1; }

# ---- the node side: a macvlan master, confDir, the conflist ---------------------------------
nokube_net "$D" "$NET" "$D/net/$NET.conflist" || { fail "podman: node setup"; exit 1; }
check "podman: the CNI backend is in use" test "$(PM info --format '{{.Host.NetworkBackend}}')" = cni
check "podman: it lists the plexus network" grep -qx "$NET" <<<"$(PM network ls --format '{{.Name}}')"

# ---- two containers: ADD through podman ------------------------------------------------------
# runc cannot raise rlimits past this host's hard limits, below podman's defaults.
RUN=(run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --cap-add NET_RAW --network "$NET")
for c in "$C1" "$C2"; do
	OUT=$(PM "${RUN[@]}" --name "$c" "$IMG" 2>&1)
	RC=$?
	check "podman: run $c on the plexus network" test "$RC" -eq 0
	[ "$RC" -eq 0 ] || { echo "$OUT" >&2; exit 1; }
done
addr() { PM exec "$1" ip -4 -o addr show dev "$2" 2>/dev/null | awk '{print $4}' | cut -d/ -f1; }
A0=$(addr "$C1" eth0) A1=$(addr "$C1" net1) B0=$(addr "$C2" eth0) B1=$(addr "$C2" net1)
check "podman: both containers have eth0 (cluster) and net1 (macvlan default network)" \
	nokube_in_nets "$A0" "$A1" "$B0" "$B1"
check "podman: inspect reports the cluster network's address (the result plexus returns)" \
	test "$(PM inspect "$C1" --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}")" = "$A0"
check "podman: plexus said it does not read pod annotations (no API)" \
	grep -q "no API is configured.*annotations of pod '.*/$C1' are not read" "$D/plexus.log"
pings() { PM exec "$1" ping -c1 -W2 -I "$2" "$3" >/dev/null 2>&1; }
check "podman: c1 pings c2 over the cluster network" pings "$C1" eth0 "$B0"
check "podman: c1 pings c2 over the macvlan default network" pings "$C1" net1 "$B1"
check "podman: c2 pings c1 over the cluster network" pings "$C2" eth0 "$A0"
check "podman: c2 pings c1 over the macvlan default network" pings "$C2" net1 "$A1"
IDS=$(PM ps -q --no-trunc)
NETNS=()
for c in "$C1" "$C2"; do NETNS+=("$(PM inspect "$c" --format '{{.NetworkSettings.SandboxKey}}')"); done
check "podman: each container has its own netns" \
	bash -c "[ -e '${NETNS[0]}' ] && [ -e '${NETNS[1]}' ] && [ '${NETNS[0]}' != '${NETNS[1]}' ]"
check "podman: plexus keeps an intent log per container" \
	test "$(find "$D/cache" -name '*.json' | wc -l)" -eq 2

# ---- podman rm: DEL leaves nothing ----------------------------------------------------------
rm_both() { PM rm -f -t 0 "$C1" "$C2" >/dev/null; }
check "podman: rm both containers" rm_both
check "podman: no container left" test -z "$(PM ps -aq)"
nokube_clean "$D" podman
check "podman: the containers' netns are gone" bash -c "[ ! -e '${NETNS[0]}' ] && [ ! -e '${NETNS[1]}' ]"
left=0
for id in $IDS; do [ -e "/var/lib/cni/results/$NET-$id-eth0" ] && left=1; done
check "podman: libcni's cached results are gone" test "$left" -eq 0
