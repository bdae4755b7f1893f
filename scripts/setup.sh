#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of plexus from Debian's apt. Idempotent; quiet
# when everything is present. Needs root (or sudo) only when something is missing.
set -eu

PACKAGES=(
	# build
	make gcc clang pkg-config git
	libnl-3-dev libnl-route-3-dev libcjson-dev libcurl4-openssl-dev libcmocka-dev libpci-dev
	libyaml-dev
	# gRPC layer (lib/grpc): protoc-c at build time, protobuf-c and nghttp2 at link time
	protobuf-c-compiler libprotobuf-c-dev libnghttp2-dev
	# fuzzing and sanitizers (clang's runtimes)
	libclang-rt-dev
	# tests, demo and bench
	iproute2 iputils-ping jq procps util-linux nodejs openssl python3-yaml curl strace
	containernetworking-plugins hyperfine tcpdump
	# tests/netns/metrics-*.sh: promtool checks the daemons' /metrics exposition
	prometheus
	# tests/cri: containerd 1.6 + runc drive plexus through the CRI (gcc -static needs libc6-dev)
	containerd runc libc6-dev
	# tests/cri/podman.sh: podman 4 with its CNI backend runs a static busybox image
	podman busybox-static
	clang-format
	# make image and tests/cri/mkimage: umoci builds the OCI images
	umoci
	# tests/vm/runner/plexus-vm: QEMU, the initramfs (busybox, cpio, depmod) and netdevsim's
	# out-of-tree build with the kernel's compiler (kernel and sources: apt-get download)
	qemu-system-x86 cpio kmod xz-utils binutils gcc-12 diffutils findutils coreutils
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The gRPC interop peer (tests/fixtures/grpc) is installed with npm. Debian packages it apart
# from nodejs; NodeSource's nodejs bundles it and conflicts with Debian's npm package.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# tests/e2e/crds.sh renders crds/ with kubectl's kustomize; any kubectl will do (Debian's is
# kubernetes-client).
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "plexus setup: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
