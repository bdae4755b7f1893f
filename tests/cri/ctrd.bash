# SPDX-License-Identifier: Apache-2.0
# Helpers for the tests that run a private containerd (source after tests/lib.sh): its root,
# state and sockets in one temp dir, nothing of the host's containerd used. (Not named *.sh:
# tests/run.sh runs every tests/cri/*.sh as a test.)

# ctrd_config DIR SOCK [DISABLED-PLUGIN]...: the common part of config.toml on stdout (root and
# state under DIR, gRPC on SOCK, no metrics, unused plugins off); plugin sections may follow.
ctrd_config() {
	local d=$1 sock=$2 p extra=
	shift 2
	for p in "$@"; do extra+="\"$p\", "; done
	cat <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = [${extra}"io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[metrics]
  address = ""
TOML
}

# ctrd_stop PID: SIGTERM to containerd, SIGKILL if it is still there after 5 s.
ctrd_stop() {
	kill -TERM "$1"
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# ctrd_leftovers DIR SOCK: kill our shims (their command line names SOCK), then unmount what
# is mounted under DIR (rootfs, shm, pod netns), deepest first.
ctrd_leftovers() {
	local p m
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-address $2 " && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
}

# ctrd_cri_config DIR BIN_DIR CONF_DIR: the CRI plugin's section of config.toml on stdout, as
# the CRI tests run it: the local pause image, runc with its root under DIR, pod netns mounts
# under containerd's state dir, CNI from BIN_DIR and CONF_DIR (first conf only).
ctrd_cri_config() {
	cat <<TOML
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "plexus.local/pause:1"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$1/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$2"
    conf_dir = "$3"
    max_conf_num = 1
TOML
}

# ctrd_cri_down DIR SOCK PID: the CRI tests' teardown: every sandbox stopped and removed (with
# its containers) through the CRI while containerd PID runs, containerd stopped, containers
# still alive killed by runc, then ctrd_leftovers.
ctrd_cri_down() {
	local d=$1 sock=$2 pid=$3 id
	local cri=(node "$(dirname "${BASH_SOURCE[0]}")/cri-client.js" "$sock")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		for id in $(CRI_TIMEOUT_MS=20000 "${cri[@]}" list 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
			CRI_TIMEOUT_MS=20000 "${cri[@]}" stop "$id" >/dev/null 2>&1
			CRI_TIMEOUT_MS=20000 "${cri[@]}" rm "$id" >/dev/null 2>&1
		done
		ctrd_stop "$pid"
	fi
	if [ -d "$d/runc" ]; then
		for id in $(runc --root "$d/runc/k8s.io" list -q 2>/dev/null); do
			runc --root "$d/runc/k8s.io" kill "$id" KILL 2>/dev/null
			runc --root "$d/runc/k8s.io" delete -f "$id" 2>/dev/null
		done
	fi
	ctrd_leftovers "$d" "$sock"
}

# podip PID IFNAME: the IPv4 address of IFNAME in the network namespace of process PID.
podip() {
	nsenter --net="/proc/$1/ns/net" ip -j addr show dev "$2" 2>/dev/null |
		jq -r '.[0].addr_info[]? | select(.family=="inet") | .local'
}
# network_status POD: the network-status annotation of default/POD on the API server fixture
# (at 127.0.0.1:$PORT in netns $NODE), as JSON; null when it has none.
network_status() {
	ip netns exec "$NODE" curl -sk "https://127.0.0.1:$PORT/_fixture/state" |
		jq -c --arg n "$1" '.items[]? // .[]? | select(.kind=="Pod" and .metadata.name==$n) | .metadata.annotations["k8s.v1.cni.cncf.io/network-status"] // "null" | fromjson'
}

# ctrd_ctr_down DIR SOCK NS PID: what a ctr-driven test leaves, removed: every task of namespace
# NS killed and deleted with its container, containerd PID stopped, shims and mounts under DIR
# gone, NS's cgroups removed. Runs with errors ignored (a cleanup trap).
ctrd_ctr_down() {
	local d=$1 sock=$2 ns=$3 pid=$4 id
	if [ -n "$pid" ]; then
		for id in $(ctr -a "$sock" -n "$ns" task ls -q 2>/dev/null); do
			ctr -a "$sock" -n "$ns" task kill -s SIGKILL "$id"
		done
		sleep 0.2
		for id in $(ctr -a "$sock" -n "$ns" container ls -q 2>/dev/null); do
			ctr -a "$sock" -n "$ns" task delete -f "$id" >/dev/null 2>&1
			ctr -a "$sock" -n "$ns" container delete "$id" >/dev/null 2>&1
		done
		ctrd_stop "$pid"
	fi
	ctrd_leftovers "$d" "$sock"
	rmdir /sys/fs/cgroup/*/"$ns"/* /sys/fs/cgroup/*/"$ns" 2>/dev/null
}

# ctrd_sandboxes_gone CG_EXISTED ID...: what the CRI tests' sandboxes ID... leave on the host
# removed: libcni's cached results and runc's cgroups, and runc's cgroup parent (/k8s.io,
# containerd's default) unless it existed before the test (CG_EXISTED not empty).
ctrd_sandboxes_gone() {
	local cg=$1 id
	shift
	for id in "$@"; do
		rm -f /var/lib/cni/results/plexus-net-"$id"-*
		rmdir /sys/fs/cgroup/*/k8s.io/"$id" 2>/dev/null
	done
	[ -n "$cg" ] || rmdir /sys/fs/cgroup/*/k8s.io 2>/dev/null
}
