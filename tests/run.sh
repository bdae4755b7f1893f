#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the test tiers and prints one closing line "N passed, N failed, N skipped".
# Usage: tests/run.sh unit|e2e|netns|diff|crash|vm|cri|fuzz|all  (PLEXUS_BUILD = build dir, default build)
# Skips are allowed only when not root (and then said loudly); as root a skip is a failure.
# A script that prints only "NOTRUN: why" lines (a differential test whose reference build is
# absent) counts as neither pass, fail nor skip, and is listed before the closing line.
set -u
cd "$(dirname "$0")/.."
export PLEXUS_BUILD=${PLEXUS_BUILD:-build}
tier=${1:-all}
pass=0 fail=0 skip=0
failed=() notrun=()
log_dir=$PLEXUS_BUILD/test-logs
mkdir -p "$log_dir"

# cmocka binaries: count from their summary lines.
run_cmocka() {
	local bin=$1 name log
	name=${bin#"$PLEXUS_BUILD"/tests/}
	log=$log_dir/${name//\//_}.log
	"$bin" >"$log" 2>&1
	local rc=$? p f s
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or no summary
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed+=("$name")
		echo "FAIL  $name ($p passed, $f failed), log: $log"
		grep -E '^\[  (FAILED|  ERROR)|^\[  ERROR|Error|error:' "$log" | head -n 20 | sed 's/^/      /'
	else
		echo "ok    $name ($p passed$([ "$s" -gt 0 ] && echo ", $s skipped"))"
	fi
	if [ "$s" -gt 0 ]; then grep -E '^\[  SKIPPED|SKIP' "$log" | head -n 5 | sed 's/^/      /'; fi
}

# Shell test scripts: lines "PASS: x", "FAIL: x", "SKIP: x".
run_script() {
	local script=$1 log name
	name=${script#tests/}
	log=$log_dir/${name//\//_}.log
	bash "$script" >"$log" 2>&1
	local rc=$? p f s
	p=$(grep -c '^PASS: ' "$log") f=$(grep -c '^FAIL: ' "$log") s=$(grep -c '^SKIP: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $name exited $rc" >>"$log"; fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ] && grep -q '^NOTRUN: ' "$log"; then
		notrun+=("$name: $(sed -n 's/^NOTRUN: //p' "$log" | head -n1)")
		echo "--    $name (not run: $(sed -n 's/^NOTRUN: //p' "$log" | head -n1))"
		return
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then f=1; echo "FAIL: $name ran no test" >>"$log"; fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed+=("$name")
		echo "FAIL  $name ($p passed, $f failed), log: $log"
		grep -E '^FAIL: ' "$log" | head -n 20 | sed 's/^/      /'
		tail -n 15 "$log" | sed 's/^/    | /'
	else
		echo "ok    $name ($p passed$([ "$s" -gt 0 ] && echo ", $s skipped"))"
	fi
	if [ "$s" -gt 0 ]; then grep '^SKIP: ' "$log" | head -n 5 | sed 's/^/      /'; fi
}

unit() {
	local bin
	while IFS= read -r bin; do run_cmocka "$bin"; done < <(find "$PLEXUS_BUILD/tests" -type f -name 'test_*' -perm -u+x | sort)
}
scripts() {
	local s
	for s in tests/"$1"/*.sh; do [ -f "$s" ] && run_script "$s"; done
}
fuzz() {
	local bin name work
	for bin in "$PLEXUS_BUILD"/fuzz/fuzz_*; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin")
		# New inputs go to the build dir; the committed seeds are only read.
		work=$PLEXUS_BUILD/fuzz-corpus/$name
		mkdir -p "$work" "tests/fuzz/corpus/$name"
		if "$bin" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 \
			-artifact_prefix="$PLEXUS_BUILD/fuzz-corpus/$name-" "$work" "tests/fuzz/corpus/$name" \
			>"$log_dir/$name.log" 2>&1; then
			pass=$((pass + 1))
			echo "ok    $name ($(sed -n 's/^stat::number_of_executed_units: *//p' "$log_dir/$name.log") runs)"
		else
			fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name"
			tail -n 30 "$log_dir/$name.log" | sed 's/^/    | /'
		fi
	done
}

case $tier in
unit) unit ;;
netns) scripts netns ;;
diff) scripts diff ;;
vm) scripts vm ;;
fuzz) fuzz ;;
all) unit; scripts e2e; scripts netns; scripts diff; scripts crash; scripts vm; scripts cri ;;
crash) scripts crash ;;
cri) scripts cri ;;
e2e) scripts e2e ;;
*) echo "usage: $0 unit|e2e|netns|diff|crash|vm|cri|fuzz|all" >&2; exit 2 ;;
esac

if [ "$skip" -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "ERROR: $skip test(s) skipped although running as root: counted as failures" >&2
		fail=$((fail + skip))
	else
		echo "WARNING: $skip test(s) SKIPPED: they need root. Run the suite as root to run them." >&2
	fi
fi
[ ${#notrun[@]} -gt 0 ] && printf 'NOT RUN (not counted): %s\n' "${notrun[@]}"
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
