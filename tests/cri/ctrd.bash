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
