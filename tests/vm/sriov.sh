#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# VM tier for plexus-sriov: the real IFLA_VF_* backend against netdevsim (a PF with SR-IOV VFs)
# in the project's VM runner (tests/vm/runner/plexus-vm --netdevsim). Runs on the host: boots
# one VM with the build's bin/, tests/ and the static IPAM plugin, and runs
# tests/vm/inner/sriov.sh there (PASS:/FAIL: lines).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
REF_CNI=${REF_CNI:-/usr/lib/cni}
VM=$TOP/tests/vm/runner/plexus-vm

[ -x "$BUILD/bin/plexus-sriov" ] || { echo "FAIL: vm/sriov: $BUILD/bin/plexus-sriov missing"; exit 1; }
[ -x "$REF_CNI/static" ] || { echo "FAIL: vm/sriov: $REF_CNI/static missing"; exit 1; }
REF_DIR=$(mktemp -d /tmp/plexus-vmref.XXXXXX)
trap 'rm -rf "$REF_DIR"' EXIT
cp "$REF_CNI/static" "$REF_DIR/"

"$VM" --netdevsim --mem 768M --timeout "${VM_TIMEOUT:-600}" \
	--extra-dir "$TOP/tests" --extra-dir "$BUILD/bin" --extra-dir "$REF_DIR" \
	--env PLEXUS_BUILD="$BUILD" --env REF_CNI="$REF_DIR" --cwd "$TOP" \
	-- bash "$TOP/tests/vm/inner/sriov.sh"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: vm/sriov: the VM run exited $rc (124 timeout, 125 harness/VM failure)"
	exit 1
fi
