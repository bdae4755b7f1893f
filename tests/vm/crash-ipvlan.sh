#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# VM tier: the crash tier for plexus-ipvlan. This kernel has no ipvlan, so it runs in the
# project's VM runner (tests/vm/runner/plexus-vm: QEMU, Debian's kernel) with strace: boots one
# VM with the build dir and tests/, and runs tests/vm/inner/crash-ipvlan.sh there, whose
# PASS:/FAIL: lines are ours.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
VM=$TOP/tests/vm/runner/plexus-vm

if [ ! -x "$BUILD/bin/plexus-ipvlan" ]; then
	echo "FAIL: vm/crash-ipvlan: $BUILD/bin/plexus-ipvlan missing (run make first)"
	exit 1
fi
"$VM" --mem 768M --timeout "${VM_TIMEOUT:-600}" \
	--extra-dir "$TOP/tests" --extra-dir "$BUILD/bin" --bin strace \
	--env PLEXUS_BUILD="$BUILD" --cwd "$TOP" \
	-- bash "$TOP/tests/vm/inner/crash-ipvlan.sh"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: vm/crash-ipvlan: the VM run exited $rc (124 timeout, 125 harness/VM failure)"
	exit 1
fi
