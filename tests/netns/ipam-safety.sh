#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: host-local against a hostile tenant and against kills. Planted symlinks
# (last_reserved_ip.0, a lease name, lock) never get written through; unsafe dataDirs (".."
# through plexus-macvlan with a real master, world- or group-writable, other-owned, symlinked)
# and resolvConf symlinks/FIFOs are code 7 naming the field with nothing created; empty leases
# (ours or a killed reference host-local's) are reclaimed; temp files are swept by DEL; a
# plexus-hostlocal killed (strace -e inject=...:signal=KILL) at every step of a reservation
# leaves nothing DEL cannot remove; bad ranges are code 7; GC keeps the valid attachments.
source "$(dirname "$0")/../lib.sh"
need_root
HL=${HL_BIN:-$BIN/plexus-hostlocal}
REF_HL=$REF_CNI/host-local
TMP=$(t_tmpdir)
new_pod
NS=$PODNS # the standalone skel opens CNI_NETNS on ADD: give it a real one
NET=plxsafe

# hlconf DATADIR [SUBNET] [EXTRA_IPAM_JSON] [EXTRA_CONF_JSON]
hlconf() {
	jq -cn --arg d "$1" --arg s "${2:-10.60.0.0/24}" --argjson x "${3:-{\}}" \
		--argjson c "${4:-{\}}" \
		'{cniVersion:"1.0.0",name:"plxsafe",type:"macvlan",
		  ipam:({type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]} + $x)} + $c'
}
# hlrun CMD CID CONF [VAR=VALUE...]: run plexus-hostlocal (ifname eth0); sets OUT, ERR, RC.
hlrun() {
	local cmd=$1 cid=$2 conf=$3
	shift 3
	cni_exec "$HL" "$cmd" "$conf" "$NS" eth0 "$cid" "$@"
}
code() { jq -r '.code // empty' <<<"$OUT"; }
msg() { jq -r '.msg // empty' <<<"$OUT"; }
ip4() { jq -r '.ips[0].address // empty' <<<"$OUT"; }
# tmps DIR: temp files a killed writer left in a network dir.
tmps() { find "$1" -maxdepth 1 -name '.plexus-tmp.*' | wc -l; }
# ipnames DIR: lease files (named by address) of a network dir.
ipnames() { ls -A "$1" 2>/dev/null | grep -E '^[0-9a-f.:]+$' | sort | tr '\n' ' '; }
fingerprint() { stat -c '%s %Y %a' "$1"; sha256sum <"$1"; }

# --- planted symlinks: last_reserved_ip.0, a lease name, the lock ---------------------------------
DD=$TMP/sym
mkdir -p "$DD/$NET"
printf 'precious' >"$TMP/victim"
before=$(fingerprint "$TMP/victim")
ln -s "$TMP/victim" "$DD/$NET/last_reserved_ip.0"
ln -s "$TMP/victim" "$DD/$NET/10.60.0.2"
conf=$(hlconf "$DD")
hlrun ADD s1 "$conf"
[ "$RC" -eq 0 ] && [ "$(ip4)" = 10.60.0.2/24 ] && [ "$(fingerprint "$TMP/victim")" = "$before" ] &&
	[ -f "$DD/$NET/last_reserved_ip.0" ] && [ ! -L "$DD/$NET/last_reserved_ip.0" ] &&
	[ "$(cat "$DD/$NET/last_reserved_ip.0")" = 10.60.0.2 ] &&
	[ "$(cat "$DD/$NET/10.60.0.2")" = $'s1\r\neth0' ] &&
	pass "symlinks at last_reserved_ip.0 and 10.60.0.2: victim untouched, both replaced by real files" ||
	fail "planted symlinks: rc=$RC ip=$(ip4) victim '$(cat "$TMP/victim")' $OUT"
hlrun ADD s2 "$conf"
[ "$RC" -eq 0 ] && [ "$(ip4)" = 10.60.0.3/24 ] && [ "$(fingerprint "$TMP/victim")" = "$before" ] &&
	pass "next ADD continues from the rewritten last_reserved_ip.0 (10.60.0.3)" ||
	fail "ADD after symlinks: rc=$RC $OUT"
DD=$TMP/symlock
mkdir -p "$DD/$NET"
ln -s "$TMP/victim" "$DD/$NET/lock"
hlrun ADD s3 "$(hlconf "$DD")"
[ "$RC" -ne 0 ] && [[ $(msg) == *"ipam.dataDir: lock '$DD/$NET/lock'"* ]] &&
	[ "$(fingerprint "$TMP/victim")" = "$before" ] && [ -z "$(ipnames "$DD/$NET")" ] &&
	pass "symlink at lock: refused ($(msg)), victim untouched, no lease" ||
	fail "symlink at lock: rc=$RC $OUT"

# --- unsafe dataDirs: code 7 naming ipam.dataDir, nothing created ---------------------------------
# refused NAME DATADIR WANT_MSG_PART NOT_MADE: one ADD through plexus-hostlocal.
refused() {
	local name=$1 dd=$2 want=$3 not_made=$4
	hlrun ADD u1 "$(hlconf "$dd")"
	if [ "$RC" -ne 0 ] && [ "$(code)" = 7 ] && [[ $(msg) == *"$want"* ]] && [ ! -e "$not_made" ]; then
		pass "dataDir $name: code 7 ($(msg)), '$not_made' not created"
	else
		fail "dataDir $name: rc=$RC code=$(code) msg='$(msg)' made=$([ -e "$not_made" ] && echo yes)"
	fi
}
mkdir -p "$TMP/ww" "$TMP/gw" "$TMP/other" "$TMP/real"
chmod 0777 "$TMP/ww"
chmod 0775 "$TMP/gw"
chown 4321:4321 "$TMP/other"
ln -s "$TMP/real" "$TMP/lnk"
refused "with '..'" "$TMP/a/../b" "ipam.dataDir: '$TMP/a/../b' is not an absolute path" "$TMP/a"
refused relative "var/lib/cni" "ipam.dataDir: 'var/lib/cni' is not an absolute path" "$PWD/var"
refused "under a world-writable dir" "$TMP/ww/dd" \
	"ipam.dataDir: '$TMP/ww' is owned by another user or writable by group or others" "$TMP/ww/dd"
refused "under a group-writable dir" "$TMP/gw/dd" "ipam.dataDir: '$TMP/gw' is owned" "$TMP/gw/dd"
refused "owned by uid 4321" "$TMP/other" "ipam.dataDir: '$TMP/other' is owned" "$TMP/other/$NET"
refused "through a symlink" "$TMP/lnk/dd" "ipam.dataDir: '$TMP/lnk' is a symlink" "$TMP/real/dd"

# The same refusal through plexus-macvlan (a NAD's conf): no link is left in the pod either.
new_master
EMPTY=$(t_tmpdir)
mvconf=$(jq -cn --arg m "$MASTER" --arg d "$TMP/mv/../etc-like" '{cniVersion:"1.0.0",
	name:"plxsafe",type:"macvlan",master:$m,ipam:{type:"host-local",dataDir:$d,
	ranges:[[{subnet:"10.62.0.0/24"}]]}}')
cni_exec "$BIN/plexus-macvlan" ADD "$mvconf" "$PODNS" net1 mv1 CNI_PATH="$EMPTY"
[ "$RC" -ne 0 ] && [ "$(code)" = 7 ] && [[ $(msg) == *"ipam.dataDir: '$TMP/mv/../etc-like'"* ]] &&
	[ ! -e "$TMP/mv" ] && [ ! -e "$TMP/etc-like" ] && ! ip -n "$POD" link show net1 >/dev/null 2>&1 &&
	pass "plexus-macvlan with dataDir '..': code 7 ($(msg)), no dir, no link" ||
	fail "plexus-macvlan dataDir '..': rc=$RC $OUT"

# --- resolvConf: symlink and FIFO refused, naming the field, nothing allocated --------------------
printf 'nameserver 10.0.0.10\n' >"$TMP/resolv"
ln -s "$TMP/resolv" "$TMP/resolv-ln"
mkfifo "$TMP/resolv-fifo"
for r in resolv-ln resolv-fifo; do
	DD=$TMP/rc-$r
	OUT=$(printf '%s' "$(hlconf "$DD" 10.63.0.0/24 "{\"resolvConf\":\"$TMP/$r\"}")" |
		env -i PATH="$PATH" CNI_COMMAND=ADD CNI_PATH="$REF_CNI" CNI_CONTAINERID=r1 \
			CNI_NETNS="$NS" CNI_IFNAME=eth0 timeout 10 "$HL" 2>/dev/null)
	RC=$?
	[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && [ "$(code)" = 7 ] &&
		[[ $(msg) == "ipam.resolvConf: '$TMP/$r' is "* ]] && [ ! -e "$DD" ] &&
		pass "resolvConf $r: code 7 ($(msg)), no dataDir" ||
		fail "resolvConf $r: rc=$RC $OUT"
done
hlrun ADD r1 "$(hlconf "$TMP/rc-dotdot" 10.63.0.0/24 "{\"resolvConf\":\"$TMP/x/../resolv\"}")"
[ "$RC" -ne 0 ] && [ "$(code)" = 7 ] && [[ $(msg) == "ipam.resolvConf: '$TMP/x/../resolv' is not"* ]] &&
	pass "resolvConf with '..': code 7" || fail "resolvConf '..': rc=$RC $OUT"

# --- empty leases are reclaimed; temp files are swept --------------------------------------------
DD=$TMP/empty
mkdir -p "$DD/$NET"
: >"$DD/$NET/10.64.0.2"
conf=$(hlconf "$DD" 10.64.0.0/24)
hlrun ADD e1 "$conf"
[ "$RC" -eq 0 ] && [ "$(ip4)" = 10.64.0.2/24 ] && [ "$(cat "$DD/$NET/10.64.0.2")" = $'e1\r\neth0' ] &&
	pass "empty lease 10.64.0.2 reclaimed and handed out again" || fail "empty lease: rc=$RC $OUT"
touch "$DD/$NET/.plexus-tmp.10.64.0.9.12345" "$DD/$NET/.plexus-tmp.last_reserved_ip.0.777"
hlrun DEL e1 "$conf"
[ "$RC" -eq 0 ] && [ "$(tmps "$DD/$NET")" -eq 0 ] && [ -z "$(ipnames "$DD/$NET")" ] &&
	pass "DEL swept 2 temp files and released the lease" ||
	fail "DEL sweep: rc=$RC tmps=$(tmps "$DD/$NET") leases='$(ipnames "$DD/$NET")'"

# The leak as it happens with the reference: killed between O_EXCL create and write, it leaves
# an empty lease that its own DEL never removes. plexus reclaims it.
DD=$TMP/refkill
conf=$(hlconf "$DD" 10.65.0.0/24)
# (In a subshell: the job's "Killed" notice goes to /dev/null with it.)
(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_PATH="$REF_CNI" \
	CNI_CONTAINERID=k1 CNI_NETNS="$NS" CNI_IFNAME=eth0 strace -f -qq -o /dev/null \
	-e trace=write -e inject=write:signal=KILL:when=1 "$REF_HL") >/dev/null 2>&1
if [ -f "$DD/$NET/10.65.0.2" ] && [ ! -s "$DD/$NET/10.65.0.2" ]; then
	cni_exec "$REF_HL" DEL "$conf" "$NS" eth0 k1
	left=$(ipnames "$DD/$NET")
	hlrun DEL k1 "$conf"
	[ "$left" = "10.65.0.2 " ] && [ "$RC" -eq 0 ] && [ -z "$(ipnames "$DD/$NET")" ] &&
		pass "reference killed before its write: empty lease its DEL leaves, plexus DEL reclaims" ||
		fail "reference empty lease: after ref DEL '$left', plexus rc=$RC left '$(ipnames "$DD/$NET")'"
else
	fail "reference host-local killed at its first write left no empty lease: $(ls -la "$DD/$NET" 2>&1)"
fi

# --- plexus-hostlocal killed at each step of a reservation ---------------------------------------
# kill_case NAME STRACE_TRACE STRACE_INJECT: ADD under strace killing at the given syscall, then
# DEL must leave no lease and no temp file, and the next ADD gets the first address again.
kill_case() {
	local name=$1 trace=$2 inject=$3
	DD=$TMP/kill-$name
	conf=$(hlconf "$DD" 10.66.0.0/24)
	(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_PATH="$REF_CNI" \
		CNI_CONTAINERID=k1 CNI_NETNS="$NS" CNI_IFNAME=eth0 strace -f -qq -o /dev/null \
		-e trace="$trace" -e inject="$inject" "$HL") >/dev/null 2>&1
	local rc=$? at_kill empty=0 f
	at_kill="leases='$(ipnames "$DD/$NET")' tmps=$(tmps "$DD/$NET")"
	for f in $(ipnames "$DD/$NET"); do [ -s "$DD/$NET/$f" ] || empty=1; done
	hlrun DEL k1 "$conf"
	local del_rc=$RC left tl
	left=$(ipnames "$DD/$NET") tl=$(tmps "$DD/$NET")
	hlrun ADD k2 "$conf"
	if [ "$rc" -eq 137 ] && [ "$empty" -eq 0 ] && [ "$del_rc" -eq 0 ] && [ -z "$left" ] &&
		[ "$tl" -eq 0 ] && [ "$(ip4)" = 10.66.0.2/24 ]; then
		pass "killed at $name ($at_kill): no empty lease, DEL leaves nothing, 10.66.0.2 reused"
	else
		fail "killed at $name: rc=$rc ($at_kill) empty=$empty del=$del_rc left='$left' tmps=$tl next=$(ip4)"
	fi
}
kill_case "temp write" write write:signal=KILL:when=1
kill_case "link" linkat linkat:signal=KILL
kill_case "temp unlink after link" unlinkat unlinkat:signal=KILL:when=1
kill_case "last_reserved_ip rename" renameat,renameat2 renameat,renameat2:signal=KILL

# --- ranges: bad bounds are code 7 naming the field, nothing created ------------------------------
range_case() {
	local name=$1 ranges=$2 want=$3
	DD=$TMP/range-$name
	hlrun ADD g1 "$(jq -cn --arg d "$DD" --argjson r "$ranges" '{cniVersion:"1.0.0",
		name:"plxsafe",ipam:{type:"host-local",dataDir:$d,ranges:$r}}')"
	[ "$RC" -ne 0 ] && [ "$(code)" = 7 ] && [[ $(msg) == *"$want"* ]] && [ ! -e "$DD" ] &&
		pass "range $name: code 7 ($(msg))" || fail "range $name: rc=$RC $OUT"
}
range_case start-broadcast '[[{"subnet":"10.9.0.0/24","rangeStart":"10.9.0.255"}]]' \
	"ipam.ranges[0][0].rangeStart: 10.9.0.255 is the broadcast address of 10.9.0.0/24"
range_case end-network '[[{"subnet":"10.9.0.0/24"}],[{"subnet":"fd00:9::/120","rangeEnd":"fd00:9::"}]]' \
	"ipam.ranges[1][0].rangeEnd: fd00:9:: is the network address"
range_case start-after-end '[[{"subnet":"10.9.0.0/24","rangeStart":"10.9.0.9","rangeEnd":"10.9.0.8"}]]' \
	"ipam.ranges[0][0].rangeEnd: rangeStart 10.9.0.9 is after rangeEnd 10.9.0.8"
range_case outside '[[{"subnet":"10.9.0.0/24","rangeStart":"10.9.1.1"}]]' \
	"ipam.ranges[0][0].rangeStart: not in network 10.9.0.0/24"
# The last usable addresses still work: rangeStart = broadcast - 1 hands out only that one.
DD=$TMP/range-last
conf=$(jq -cn --arg d "$DD" '{cniVersion:"1.0.0",name:"plxsafe",ipam:{type:"host-local",
	dataDir:$d,ranges:[[{subnet:"10.9.0.0/24",rangeStart:"10.9.0.254"}]]}}')
hlrun ADD l1 "$conf"
a1=$(ip4)
hlrun ADD l2 "$conf"
[ "$a1" = 10.9.0.254/24 ] && [ "$RC" -ne 0 ] &&
	[[ $(msg) == *"no IP addresses available in range set: 10.9.0.254-10.9.0.254"* ]] &&
	pass "rangeStart 10.9.0.254: hands out .254 then is exhausted (no .255, no 10.9.1.x)" ||
	fail "rangeStart .254: first '$a1', then rc=$RC $OUT"

# --- GC: leases outside cni.dev/valid-attachments are released ------------------------------------
DD=$TMP/gc
conf=$(hlconf "$DD" 10.67.0.0/24 '{}' '{"cniVersion":"1.1.0"}')
hlrun ADD g1 "$conf"
hlrun ADD g2 "$conf"
: >"$DD/$NET/10.67.0.9"
touch "$DD/$NET/.plexus-tmp.10.67.0.8.1"
gcconf=$(jq -c '. + {"cni.dev/valid-attachments":[{containerID:"g2",ifname:"eth0"}]}' <<<"$conf")
cni_exec "$HL" GC "$gcconf" - - -
[ "$RC" -eq 0 ] && [ "$(ipnames "$DD/$NET")" = "10.67.0.3 " ] && [ "$(tmps "$DD/$NET")" -eq 0 ] &&
	[ "$(cat "$DD/$NET/10.67.0.3")" = $'g2\r\neth0' ] &&
	pass "GC kept only g2/eth0 (10.67.0.3), released g1, the empty lease and the temp file" ||
	fail "GC: rc=$RC $OUT left '$(ipnames "$DD/$NET")' tmps=$(tmps "$DD/$NET")"
