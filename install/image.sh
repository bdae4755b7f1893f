#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# image.sh BINDIR OUT.tar NAME VERSION: the plexus container image (`make image`,
# docs/install.md). Its files come from this machine: every plexus binary of BINDIR (stripped)
# in /usr/lib/plexus, /bin/sh (dash) and /bin/tr (the installer's DaemonSet command reads its
# ConfigMap with them), and exactly the shared libraries those need, as ldd names them,
# including libcurl.so.4 and its libraries (lib/kube dlopens it in plexus-apid). Prints NAME
# as its last line.
set -eu
umask 022
[ $# -eq 4 ] || { echo "usage: $0 BINDIR OUT.tar NAME VERSION" >&2; exit 2; }
bindir=$1 out=$2 name=$3 version=$4
here=$(cd "$(dirname "$0")" && pwd)
BINS=(plexus plexus-macvlan plexus-ipvlan plexus-vxlan plexus-sriov plexus-hostlocal
	plexus-staticipam plexus-whereabouts plexus-install plexus-apid plexus-device-plugin
	plexus-dra)
for b in "${BINS[@]}"; do
	[ -x "$bindir/$b" ] || { echo "$0: $bindir/$b not built (run make)" >&2; exit 1; }
done
curl_lib=$(pkg-config --variable=libdir libcurl)/libcurl.so.4
[ -e "$curl_lib" ] || { echo "$0: $curl_lib missing (libcurl4)" >&2; exit 1; }

w=$(mktemp -d "${TMPDIR:-/tmp}/plexus-image.XXXXXX")
trap 'rm -rf "$w"' EXIT
r=$w/rootfs
install -d -m 0755 "$r/usr/lib/plexus" "$r/bin"
for b in "${BINS[@]}"; do
	strip --strip-unneeded -o "$r/usr/lib/plexus/$b" "$bindir/$b"
	chmod 0755 "$r/usr/lib/plexus/$b"
done
install -m 0755 "$(readlink -f /bin/sh)" "$r/bin/sh"
install -m 0755 "$(command -v tr)" "$r/bin/tr"
# Every library at the path ldd resolved it to (the loader's own search path finds it there
# too), the file's content under that name: no symlinks needed.
libs=$( { for f in "$r"/usr/lib/plexus/* "$r"/bin/* "$curl_lib"; do ldd "$f"; done; echo "$curl_lib"; } |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
for l in $libs; do
	src=$(readlink -f "$l")
	install -D -m "$(stat -c %a "$src")" "$src" "$r$l"
done
"$here/oci-archive.sh" "$r" "$out" "$name" --config.env PATH=/bin \
	--config.cmd /usr/lib/plexus/plexus-install \
	--config.label "org.opencontainers.image.version=$version" \
	--config.label "org.opencontainers.image.title=plexus"
echo "$name"
