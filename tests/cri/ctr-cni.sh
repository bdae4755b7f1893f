#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus outside Kubernetes under `ctr run --cni` (containerd 1.6's ctr, Debian): ctr itself
# runs the first conflist of /etc/cni/net.d with the plugins of /opt/cni/bin, as nerdctl does.
# That conflist is the plexus meta-plugin with no kubeconfig (docs/install.md, "Without
# Kubernetes"): two containers get the cluster network (reference bridge + host-local) and the
# defaultNetworks macvlan (built-in, on a veth master) from confDir and ping each other over
# both; when their tasks end, ctr's DEL (with no netns: the container's is gone) leaves nothing.
# A private containerd (own root, state, socket, runc root) in a temp dir; ctr runs in a mount
# namespace of its own where /etc and /opt are overlays, so the host's /etc/cni/net.d and
# /opt/cni/bin are never touched. The image is a static busybox built with umoci.
# Needs root, containerd, runc, ctr, umoci, jq, unshare and busybox-static.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ctrd.bash"
source "$(dirname "$0")/nokube.bash"
need_root
for t in containerd containerd-shim-runc-v2 runc ctr umoci jq unshare; do
	command -v "$t" >/dev/null || { fail "ctr-cni: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
have_static_busybox || { fail "ctr-cni: no static /bin/busybox (scripts/setup.sh installs busybox-static)"; exit 1; }
[ -x "$BIN/plexus" ] || { fail "ctr-cni: $BIN/plexus not built"; exit 1; }
D=$(t_tmpdir)
SOCK=$D/containerd.sock
NS=plxr$T_ID
NET=plexus$T_ID
C1=plxr$T_ID-c1 C2=plxr$T_ID-c2
IMG=plexus.local/busybox:t$T_ID
CTRD_PID=
CTR() { ctr -a "$SOCK" -n "$NS" "$@"; }
# CTR_CNI ARG...: ctr in its own mount namespace whose /etc/cni/net.d and /opt/cni/bin are
# $D/etc-cni and $D/opt-cni (bound in overlays on /etc and /opt: the host's dirs may not exist).
CTR_CNI() {
	unshare -m --propagation private bash -c '
		d=$1; shift
		ov=$(mktemp -d "$d/ov.XXXXXX") || exit 125 # an upper dir serves one mount only
		for top in etc opt; do
			mkdir -p "$ov/$top-up" "$ov/$top-work"
			mount -t overlay "plxr-$top" -o "lowerdir=/$top,upperdir=$ov/$top-up,workdir=$ov/$top-work" "/$top" || exit 125
		done
		mkdir -p /etc/cni/net.d /opt/cni/bin
		mount --bind "$d/etc-cni" /etc/cni/net.d && mount --bind "$d/opt-cni" /opt/cni/bin || exit 125
		exec ctr "$@"' ctr-cni "$D" -a "$SOCK" -n "$NS" "$@"
}

rc_cleanup() {
	set +e
	ctrd_ctr_down "$D" "$SOCK" "$NS" "$CTRD_PID"
	jobs -p | xargs -r kill 2>/dev/null
	t_cleanup
}
trap rc_cleanup EXIT

# ---- the node side: the CNI dirs ctr reads, a private containerd, the image -----------------
mkdir -p "$D/etc-cni" "$D/opt-cni"
nokube_net "$D" "$NET" "$D/etc-cni/00-plexus.conflist" || { fail "ctr-cni: node setup"; exit 1; }
for p in "$BIN"/plexus*; do ln -s "$p" "$D/opt-cni/"; done
for p in bridge host-local; do ln -s "$REF_CNI/$p" "$D/opt-cni/"; done

ctrd_config "$D" "$SOCK" io.containerd.grpc.v1.cri >"$D/config.toml"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do CTR version >/dev/null 2>&1 && break; sleep 0.1; done
busybox_image "$D" "$IMG"
check "ctr-cni: the busybox image is built and imported" \
	bash -c "ctr -a '$SOCK' -n '$NS' images import '$D/image.tar' >/dev/null"

# ---- two containers: ctr's ADD ---------------------------------------------------------------
# Each runs in the foreground of its own ctr process (as `ctr run --rm` is used): ctr does ADD
# after the task starts and DEL after it exits.
for c in "$C1" "$C2"; do
	CTR_CNI run --rm --cni --runc-root "$D/runc" --cap-add CAP_NET_RAW "$IMG" "$c" sleep 600 \
		>"$D/$c.out" 2>&1 &
	eval "PID_${c##*-}=$!"
done
up() { [ "$(CTR task ls 2>/dev/null | awk -v i="$1" '$1 == i { print $3 }')" = RUNNING ]; }
addr() { CTR task exec --exec-id "a$RANDOM" "$1" ip -4 -o addr show dev "$2" 2>/dev/null | awk '{print $4}' | cut -d/ -f1; }
for c in "$C1" "$C2"; do
	for _ in $(seq 150); do up "$c" && [ -n "$(addr "$c" net1)" ] && break; sleep 0.1; done
done
check "ctr-cni: both containers run" bash -c "$(declare -f up CTR); SOCK=$SOCK NS=$NS; up $C1 && up $C2"
A0=$(addr "$C1" eth0) A1=$(addr "$C1" net1) B0=$(addr "$C2" eth0) B1=$(addr "$C2" net1)
check "ctr-cni: both containers have eth0 (cluster: $A0 $B0) and net1 (macvlan default network: $A1 $B1)" \
	nokube_in_nets "$A0" "$A1" "$B0" "$B1"
pings() { CTR task exec --exec-id "p$RANDOM" "$1" ping -c1 -W2 -I "$2" "$3" >/dev/null 2>&1; }
check "ctr-cni: c1 pings c2 over the cluster network" pings "$C1" eth0 "$B0"
check "ctr-cni: c1 pings c2 over the macvlan default network" pings "$C1" net1 "$B1"
check "ctr-cni: c2 pings c1 over the cluster network" pings "$C2" eth0 "$A0"
check "ctr-cni: c2 pings c1 over the macvlan default network" pings "$C2" net1 "$A1"
check "ctr-cni: plexus keeps an intent log per container" \
	test "$(find "$D/cache" -name '*.json' | wc -l)" -eq 2

# ---- the tasks end: ctr's DEL ----------------------------------------------------------------
for c in "$C1" "$C2"; do CTR task kill -s SIGKILL "$c"; done
wait "$PID_c1" "$PID_c2"
# ctr prints the plugins' stderr (plexus logs there too) and any DEL error.
check "ctr-cni: both ctr processes ended with no CNI error" \
	bash -c "! grep -qi 'error\|fail' '$D/$C1.out' '$D/$C2.out'"
check "ctr-cni: no container left" test -z "$(CTR container ls -q)"
nokube_clean "$D" ctr-cni
