#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# oci-archive.sh ROOTFS OUT.tar NAME [UMOCI-CONFIG-OPTION]...: packs the directory ROOTFS as
# the single layer of an OCI image named NAME (e.g. localhost/plexus:1.0) with umoci, and writes
# the image layout as an OCI archive (what `ctr images import` and skopeo's oci-archive: read).
# Reproducible: every timestamp (files, config, history) is SOURCE_DATE_EPOCH (default: the
# last commit's time), so the same ROOTFS content gives the same manifest digest.
set -eu
umask 022
[ $# -ge 3 ] || { echo "usage: $0 ROOTFS OUT.tar NAME [UMOCI-CONFIG-OPTION]..." >&2; exit 2; }
rootfs=$1 out=$2 name=$3
shift 3
command -v umoci >/dev/null || { echo "$0: umoci missing (scripts/setup.sh installs it)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
# Not root: umoci maps our uid to 0 in the layer (rootless mode) instead of chowning.
rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)

w=$(mktemp -d "${TMPDIR:-/tmp}/plexus-oci.XXXXXX")
trap 'rm -rf "$w"' EXIT
# umoci builds a layer by diffing an unpacked bundle against its empty start (unpack, fill
# rootfs, repack); `umoci insert` would be shorter but 0.4.7 writes a truncated tar stream.
umoci init --layout "$w/oci"
umoci new --image "$w/oci:$name"
umoci config --image "$w/oci:$name" --no-history --created "$created" \
	--architecture amd64 --os linux "$@"
umoci unpack "${rootless[@]}" --image "$w/oci:$name" "$w/bundle"
cp -a "$rootfs/." "$w/bundle/rootfs/"
# Everything owned by root in the image, whoever built it (rootless mode maps us to 0 too).
[ "$(id -u)" -ne 0 ] || chown -R -h 0:0 "$w/bundle/rootfs"
find "$w/bundle/rootfs" -exec touch -h -d "@$epoch" {} +
umoci repack --image "$w/oci:$name" --history.created "$created" \
	--history.created_by "plexus install/oci-archive.sh" "$w/bundle"
umoci gc --layout "$w/oci"
# An OCI archive is the layout in a tar; this one sorted, with fixed owners and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --mode=a+r,u+w \
	--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$w/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
