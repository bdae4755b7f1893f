#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: installs dependencies, checks formatting, then builds and runs every
# tier twice (plain, then ASan+UBSan), then each libFuzzer harness briefly. Prints one closing line
# "N passed, N failed, N skipped" over all of them. Run as root: netns tests need it.
set -u
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
total_p=0 total_f=0 total_s=0
summary() { # add up the closing line of one run
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -n1)
	[ -n "$line" ] || { total_f=$((total_f + 1)); return; }
	set -- $line
	total_p=$((total_p + $1)) total_f=$((total_f + $3)) total_s=$((total_s + $5))
}
run() { # run <title> <make args...>
	local title=$1 out
	shift
	out=$(mktemp)
	echo "=== $title"
	make -j"$jobs" "$@" 2>&1 | tee "$out"
	summary "$out"
	rm -f "$out"
}
echo "=== format (clang-format, .clang-format)"
if make -s check-format; then echo "ok    check-format"; total_p=$((total_p + 1))
else echo "FAIL  check-format: run 'make format'"; total_f=$((total_f + 1)); fi
run "unit + netns tests" test
run "unit + netns tests under ASan+UBSan" SANITIZE=1 test
run "fuzz harnesses (${FUZZ_SECONDS:=10}s each)" FUZZ_SECONDS="$FUZZ_SECONDS" fuzz
echo "=== all tiers"
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
