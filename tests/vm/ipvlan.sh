#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# VM tier: this kernel has no ipvlan, so the ipvlan tests run in the project's VM runner
# (tests/vm/runner/plexus-vm: QEMU, Debian's kernel). Runs on the host: boots one VM with the
# build dir, tests/ and the reference plugins the tests need, and runs tests/vm/inner/ipvlan.sh
# there, whose PASS:/FAIL: lines are ours.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
REF_CNI=${REF_CNI:-/usr/lib/cni}
VM=$TOP/tests/vm/runner/plexus-vm

if [ ! -x "$BUILD/bin/plexus-ipvlan" ]; then
	echo "FAIL: vm/ipvlan: $BUILD/bin/plexus-ipvlan missing (run make first)"
	exit 1
fi
for p in ipvlan host-local static; do
	if [ ! -x "$REF_CNI/$p" ]; then
		echo "FAIL: vm/ipvlan: reference plugin $REF_CNI/$p missing (apt-get install containernetworking-plugins)"
		exit 1
	fi
done

# Only the three reference plugins go into the initramfs (the whole dir is ~44 MB).
REF_DIR=$(mktemp -d /tmp/plexus-vmref.XXXXXX)
trap 'rm -rf "$REF_DIR"' EXIT
cp "$REF_CNI/ipvlan" "$REF_CNI/host-local" "$REF_CNI/static" "$REF_DIR/"

"$VM" --mem 768M --timeout "${VM_TIMEOUT:-600}" \
	--extra-dir "$TOP/tests" --extra-dir "$BUILD/bin" --extra-dir "$REF_DIR" \
	--env PLEXUS_BUILD="$BUILD" --env REF_CNI="$REF_DIR" --cwd "$TOP" \
	-- bash "$TOP/tests/vm/inner/ipvlan.sh"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: vm/ipvlan: the VM run exited $rc (124 timeout, 125 harness/VM failure)"
	exit 1
fi
