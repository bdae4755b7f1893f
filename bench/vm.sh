#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipvlan benchmark: this kernel has no ipvlan, so bench/run.sh runs with BENCH_KIND=ipvlan inside
# the project's VM runner (tests/vm/runner/plexus-vm: Debian's kernel under QEMU). Both plugins
# run in the same VM in the same run, so the ratios hold even though emulation makes the
# absolute times larger.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
REF_CNI=${REF_CNI:-/usr/lib/cni}
VM=$TOP/tests/vm/runner/plexus-vm
[ -x "$BUILD/bin/plexus-ipvlan" ] || { echo "bench/vm.sh: run make first" >&2; exit 1; }

# rusage is built here: the VM has no compiler.
mkdir -p "$BUILD/bench"
cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$BUILD/bench/rusage" bench/rusage.c || exit 1
REF_DIR=$(mktemp -d /tmp/plexus-vmref.XXXXXX)
trap 'rm -rf "$REF_DIR"' EXIT
cp "$REF_CNI/ipvlan" "$REF_CNI/host-local" "$REF_DIR/"

"$VM" --mem 768M --timeout 900 \
	--extra-dir "$TOP/bench" --extra-dir "$BUILD/bin" --extra-dir "$BUILD/bench" \
	--extra-dir "$REF_DIR" \
	--env PLEXUS_BUILD="$BUILD" --env REF_CNI="$REF_DIR" --env BENCH_KIND=ipvlan \
	--env BENCH_WORKLOADS=host-local --env BENCH_N="${BENCH_VM_N:-50}" \
	--env BENCH_RSS_N="${BENCH_RSS_N:-5}" --cwd "$TOP" \
	-- bash "$TOP/bench/run.sh"
