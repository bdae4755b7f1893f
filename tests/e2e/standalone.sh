#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The repository stands alone: no tracked file may cite a document that is not in it (private
# checklist item IDs such as "NAD-13" or "PLG-26", "CHECKLIST", "DESIGN §2.4", "CONVENTIONS §3",
# paths to ../shared documents). Cite the public source instead (CNI spec section, NPWG spec
# v1.3 section, device-info spec) or a page in docs/. One real path next to the repository stays
# allowed, because scripts use it at run time: ../shared/upstream/ (the upstream kubelet and CRI
# protos the test peers load); and in bench/ and tests/diff/ only, ../shared/anchors/ (the
# optional Multus and whereabouts builds that benchmarks and differential tests compare with,
# not run when absent). The VM tier's runner is tests/vm/runner/plexus-vm.
# Prints "FAIL: file:line: ..." for every citation. Usage: tests/e2e/standalone.sh (no build needed).
source "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
SELF=tests/e2e/standalone.sh

PATTERN='\b(NAD|CNI|PLG|VX|X|IPAM|SR|DP)-[0-9]+\b|CHECKLIST|\b(DESIGN|CONVENTIONS)(\.md)? ?§'
PATTERN+='|\[(DESIGN|REF)\]|\.\./shared\b(?!/upstream/|/anchors/)'
# The optional comparison builds, named in benchmark and differential-test code only.
ANCHORS='\.\./shared/anchors/'

cites() { grep -qP -- "$PATTERN" <<<"$1"; }
# hits FILE...: "file:line:text" for every line that cites.
hits() { grep -nIP -- "$PATTERN" "$@"; }

# The pattern itself, so a broken expression cannot pass by matching nothing.
bad=0
for s in 'see CHECKLIST §2.1' '/* NAD-13: default entry */' 'PLG-26 retry' 'CNI-04..CNI-09' \
	'VX-09: one device' 'DESIGN §2.4' '(CONVENTIONS §3)' 'CONVENTIONS.md §5' '[DESIGN] apply' \
	'`../shared/DESIGN.md`' 'in ../shared/CONVENTIONS.md' 'runs inside ../shared/vmtest (QEMU)'; do
	cites "$s" || { fail "standalone: the pattern misses a citation: $s"; bad=1; }
done
for s in '../shared/upstream/kubelet/' 'SR-IOV VF' \
	'CNI spec, section '\''DEL'\''' 'NPWG spec v1.3 §4.1.2.1.3' 'device-info spec v1.1.0' \
	'CNI CONVENTIONS.md' 'docs/architecture.md' 'net-attach-def'; do
	if cites "$s"; then fail "standalone: the pattern flags a non-citation: $s"; bad=1; fi
done
[ "$bad" -eq 0 ] && pass "standalone: the pattern tells citations from real paths and public sources"
TMP=$(t_tmpdir)
printf '/* fine */\n/* see PLG-26 */\n' >"$TMP/planted.c"
check "standalone: a planted citation is reported with its line" \
	[ "$(hits "$TMP/planted.c" /dev/null)" = "$TMP/planted.c:2:/* see PLG-26 */" ]

# Tracked files when this is a git checkout; otherwise every file but build outputs.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -d '' files < <(git ls-files -z)
else
	mapfile -d '' files < <(find . -path ./build -prune -o -path ./.git -prune -o \
		-path '*/node_modules' -prune -o -type f -printf '%P\0')
fi
scan=()
for f in "${files[@]}"; do
	[ "$f" = "$SELF" ] || [ ! -f "$f" ] || scan+=("$f")
done
if [ "${#scan[@]}" -lt 100 ]; then
	fail "standalone: only ${#scan[@]} files to scan: not the source tree?"
	exit 1
fi

found=$(hits "${scan[@]}")
nonbench=()
for f in "${scan[@]}"; do case $f in bench/* | tests/diff/*) ;; *) nonbench+=("$f") ;; esac; done
anchors=$(grep -nIP -- "$ANCHORS" "${nonbench[@]}" /dev/null)
[ -z "$anchors" ] || found=$(printf '%s\n%s' "$found" "$anchors" | sed '/^$/d')
if [ -n "$found" ]; then
	while IFS= read -r h; do
		file=${h%%:*} rest=${h#*:}
		line=${rest%%:*} text=${rest#*:}
		text=$(sed 's/^[[:space:]]*//' <<<"$text")
		fail "$file:$line: cites a document outside the repository: ${text:0:120}"
	done <<<"$found"
	echo "standalone: cite the public spec section or a docs/ page instead (see the header of $SELF)"
	exit 1
else
	pass "standalone: no citation of documents outside the repository in ${#scan[@]} files"
fi
exit "$bad"
