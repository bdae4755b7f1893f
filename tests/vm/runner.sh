#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The VM runner itself (tests/vm/runner/plexus-vm), on the host: stdout and stderr come back
# apart and byte-exact, the exit status comes back, --env/--cwd/--extra-dir/--bin arrive, the
# guest has what the inner tests use (bash as sh, iproute2's ip, /dev/fd, the modules), a
# timeout is 124 and a bad option 125.
source "$(dirname "$0")/../lib.sh"
need_root
VM=$TOP/tests/vm/runner/plexus-vm
TMP=$(t_tmpdir)

# An extra dir under /tmp (initramfs, not a tmpfs over it) with a node_modules to leave out.
mkdir -p "$TMP/x/node_modules" "$TMP/x/sub"
printf 'payload\n' >"$TMP/x/sub/file"
printf 'skipped\n' >"$TMP/x/node_modules/file"
cat >"$TMP/x/probe.sh" <<'EOF'
printf 'out line 1\nno newline at end'
printf 'err line\r\n' >&2
echo
echo "cwd=$PWD"
echo "env=$PLEXUS_VM/${PROBE_VAL}"
echo "sh=$(readlink -f /bin/sh)"
echo "ip=$(ip -V 2>&1 | grep -c iproute2)"
echo "fd=$(cat <(echo works))"
echo "file=$(cat sub/file)"
echo "nm=$([ -e node_modules ] && echo present || echo absent)"
echo "strace=$(strace -V | grep -c 'strace -- version')"
# One rx_handler per master: ipvlan and macvlan each get their own dummy.
ip link add pvdummy type dummy && ip link add pvdummy2 type dummy
echo "link dummy=$?"
ip link add link pvdummy name pvipvlan type ipvlan
echo "link ipvlan=$?"
ip link add link pvdummy2 name pvmacvlan type macvlan
echo "link macvlan=$?"
ip link add link pvdummy name pv8021q type vlan id 5
echo "link 8021q=$?"
ip link add pvvxlan type vxlan id 5 dstport 4789
echo "link vxlan=$?"
ip link add pvbridge type bridge
echo "link bridge=$?"
echo "dummy0=$(ip link show dummy0 2>/dev/null | wc -l)"
exit 7
EOF

"$VM" --timeout 300 --extra-dir "$TMP/x" --bin strace --env PROBE_VAL='a b$c' \
	-- bash probe.sh >"$TMP/out" 2>"$TMP/err"
rc=$?
sed 's/^/  vm stdout: /' "$TMP/out" >&2
sed 's/^/  vm stderr: /' "$TMP/err" >&2
check "runner: the command's exit status comes back" [ "$rc" -eq 7 ]
check "runner: stdout byte-exact, no tty in between" \
	cmp <(head -c 29 "$TMP/out") <(printf 'out line 1\nno newline at end\n')
check "runner: stderr apart and byte-exact" grep -qx $'err line\r' "$TMP/err"
check "runner: --cwd defaults to the first --extra-dir" grep -qx "cwd=$TMP/x" "$TMP/out"
check "runner: --env arrives quoted, PLEXUS_VM=1" grep -qxF 'env=1/a b$c' "$TMP/out"
check "runner: /bin/sh is bash" grep -qx 'sh=/usr/bin/bash' "$TMP/out"
check "runner: ip is iproute2's" grep -qx 'ip=1' "$TMP/out"
check "runner: /dev/fd works (process substitution)" grep -qx 'fd=works' "$TMP/out"
check "runner: --extra-dir copied at its path" grep -qx 'file=payload' "$TMP/out"
check "runner: node_modules left out" grep -qx 'nm=absent' "$TMP/out"
check "runner: --bin strace runs" grep -qx 'strace=1' "$TMP/out"
check "runner: loading dummy made no dummy0" grep -qx 'dummy0=0' "$TMP/out"
for k in dummy ipvlan 8021q vxlan macvlan bridge; do
	check "runner: guest kernel makes $k links" grep -qx "link $k=0" "$TMP/out"
done

"$VM" --timeout 5 -- sleep 600 >/dev/null 2>"$TMP/err"
check "runner: a run past --timeout exits 124" [ "$?" -eq 124 ]
"$VM" --env 'A;B=1' -- true 2>"$TMP/err"
check "runner: a bad option exits 125 naming it" \
	bash -c "[ $? -eq 125 ] && grep -q \"'A;B=1' is not NAME=VALUE\" '$TMP/err'"
exit 0
