# SPDX-License-Identifier: Apache-2.0
# Helpers for shell tests: source it. Each check prints "PASS: name" or "FAIL: name", which
# tests/run.sh counts. Everything a test creates is registered and removed on exit.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
BIN=$BUILD/bin
REF_CNI=${REF_CNI:-/usr/lib/cni}
T_NETNS=() T_LINKS=() T_DIRS=()
# Every temp dir lives under one root made here, in the main shell, so that $(t_tmpdir)
# (a subshell) still gets cleaned up.
T_ROOT=$(mktemp -d /tmp/plexus-test.XXXXXX)
T_DIRS+=("$T_ROOT")
# Unique per run so parallel or leftover runs never collide.
T_ID=${T_ID:-$$}

t_cleanup() {
	local x
	for x in "${T_LINKS[@]}"; do ip link del "$x" 2>/dev/null; done
	for x in "${T_NETNS[@]}"; do ip netns del "$x" 2>/dev/null; done
	for x in "${T_DIRS[@]}"; do rm -rf "$x"; done
}
trap t_cleanup EXIT

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; }
# check NAME CMD...: run CMD, PASS if it exits 0.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "!!! $(basename "$0"): NOT ROOT: these tests need root and are SKIPPED !!!" >&2
		skip "$(basename "$0"): needs root"
		exit 0
	fi
}

t_netns() { ip netns add "$1" && T_NETNS+=("$1"); }
t_tmpdir() { mktemp -d "$T_ROOT/d.XXXXXX"; }
t_link() { T_LINKS+=("$1"); }
