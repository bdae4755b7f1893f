#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: the built-in host-local and static IPAM (plexus-hostlocal, plexus-staticipam) against
# the reference binaries ($REF_CNI/host-local, $REF_CNI/static): same allocation sequence and same
# files from the same state, interleaved use of one dataDir, exhaustion, release by (containerID,
# ifname), requested IPs, 50 concurrent ADDs; then plexus-macvlan running host-local in-process
# (no host-local in CNI_PATH) and the PLEXUS_IPAM_EXEC=1 escape hatch. IPAM_DEBUG=1 is verbose.
source "$(dirname "$0")/../lib.sh"
need_root
HL=${HL_BIN:-$BIN/plexus-hostlocal}
ST=${ST_BIN:-$BIN/plexus-staticipam}
REF_HL=$REF_CNI/host-local
REF_ST=$REF_CNI/static
TMP=$(t_tmpdir)
new_pod
NS=$PODNS # the standalone skel opens CNI_NETNS on ADD: give it a real one

# ipam BIN CMD CID IFNAME CONF [VAR=VALUE...]: run an IPAM binary; sets OUT and RC.
ipam() {
	local bin=$1 cmd=$2 cid=$3 ifn=$4 conf=$5
	shift 5
	OUT=$(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_PATH="$REF_CNI" \
		CNI_CONTAINERID="$cid" CNI_NETNS="$NS" CNI_IFNAME="$ifn" "$@" "$bin" 2>/dev/null)
	RC=$?
	[ -z "${IPAM_DEBUG:-}" ] || echo "[$(basename "$bin") $cmd $cid/$ifn rc=$RC] $OUT" >&2
}
# addr: the allocated addresses of the last ADD, or its error message.
addr() { jq -r 'if .ips then [.ips[].address] | join(",") else "ERR " + .msg end' <<<"$OUT"; }
# hlconf DATADIR RANGES_JSON [EXTRA_IPAM_JSON] [EXTRA_CONF_JSON]
hlconf() {
	jq -cn --arg d "$1" --argjson r "$2" --argjson x "${3:-{\}}" --argjson c "${4:-{\}}" \
		'{cniVersion:"1.0.0",name:"plxipam",type:"macvlan",
		  ipam:({type:"host-local",dataDir:$d,ranges:$r} + $x)} + $c'
}
# ipfiles DIR: the IP files of a network dir (not lock / last_reserved_ip.N).
ipfiles() { ls "$1" | grep -v -e '^lock$' -e '^last_reserved_ip' ; }

# run_seq BIN DATADIR RANGES STEPS...: steps "a:CID[:IFNAME]" (ADD) or "d:CID[:IFNAME]" (DEL);
# prints one line per ADD.
run_seq() {
	local bin=$1 dd=$2 ranges=$3 s
	shift 3
	local conf
	conf=$(hlconf "$dd" "$ranges")
	for s in "$@"; do
		IFS=: read -r op cid ifn <<<"$s"
		if [ "$op" = a ]; then
			ipam "$bin" ADD "$cid" "${ifn:-eth0}" "$conf"
			echo "$cid $(addr)"
		else
			ipam "$bin" DEL "$cid" "${ifn:-eth0}" "$conf"
			echo "del $cid rc=$RC"
		fi
	done
}

# --- differential: same steps from the same (empty) state, two dataDirs ------------------------
diff_case() {
	local name=$1 ranges=$2
	shift 2
	local p=$TMP/p-$name r=$TMP/r-$name
	run_seq "$HL" "$p" "$ranges" "$@" >"$TMP/p-$name.seq"
	run_seq "$REF_HL" "$r" "$ranges" "$@" >"$TMP/r-$name.seq"
	if diff -u "$TMP/r-$name.seq" "$TMP/p-$name.seq"; then
		pass "hostlocal diff $name: same allocation sequence ($(grep -c '/' "$TMP/p-$name.seq") ADDs)"
	else
		fail "hostlocal diff $name: allocation sequence differs"
	fi
	# Same file names and bytes, lock file aside (modes differ: plexus creates it 0600).
	if diff -r -x lock "$r" "$p" >/dev/null && [ -e "$p/plxipam/lock" ]; then
		pass "hostlocal diff $name: identical files incl. last_reserved_ip.N"
	else
		diff -r -x lock "$r" "$p"
		fail "hostlocal diff $name: files differ"
	fi
}
steps=()
for i in $(seq 1 10); do steps+=("a:c$i"); done
steps+=(d:c3 d:c5 d:c7 d:c99)
for i in $(seq 11 16); do steps+=("a:c$i"); done
steps+=(a:c11 d:c2 a:c17 a:c18 a:c19 a:c20 a:c21)
diff_case v4 '[[{"subnet":"10.77.0.0/28"}]]' "${steps[@]}"
diff_case pools '[[{"subnet":"10.77.1.0/29","rangeStart":"10.77.1.3","gateway":"10.77.1.4"},
	{"subnet":"10.77.2.0/29","rangeEnd":"10.77.2.3"}]]' "${steps[@]}"
diff_case dual '[[{"subnet":"10.77.3.0/28"}],[{"subnet":"fd00:77::/124"}]]' "${steps[@]}"
diff_case ifnames '[[{"subnet":"10.77.4.0/28"}]]' a:c1:eth0 a:c1:net1 a:c2:net1 d:c1:net1 \
	a:c3:eth0 a:c1:net1 d:c1:eth0 a:c4

# --- the same dataDir used by both, alternately, then plexus and reference DELs -----------------
DD=$TMP/shared
conf=$(hlconf "$DD" '[[{"subnet":"10.78.0.0/27"}]]')
ok=1
for i in $(seq 1 20); do
	if [ $((i % 2)) -eq 0 ]; then b=$HL; else b=$REF_HL; fi
	ipam "$b" ADD "s$i" eth0 "$conf"
	[ "$RC" -eq 0 ] || ok=0
	[ $((i % 5)) -ne 0 ] || ipam "$([ "$b" = "$HL" ] && echo "$REF_HL" || echo "$HL")" DEL \
		"s$((i - 1))" eth0 "$conf"
done
n=$(ipfiles "$DD/plxipam" | wc -l)
dups=$(for f in $(ipfiles "$DD/plxipam"); do tr '\r\n' '/_' <"$DD/plxipam/$f"; echo; done | sort | uniq -d)
[ "$ok" = 1 ] && [ "$n" -eq 16 ] && [ -z "$dups" ] &&
	pass "hostlocal shared dataDir: 20 interleaved ADDs, 4 cross DELs, 16 distinct leases" ||
	fail "hostlocal shared dataDir: ok=$ok files=$n dups='$dups'"

# --- exhaustion --------------------------------------------------------------------------------
for b in "$HL" "$REF_HL"; do
	DD=$TMP/ex-$(basename "$b")
	conf=$(hlconf "$DD" '[[{"subnet":"10.79.0.0/29"}]]')
	for i in 1 2 3 4 5; do ipam "$b" ADD "e$i" eth0 "$conf"; done
	ipam "$b" ADD e6 eth0 "$conf"
	msg=$(jq -r .msg <<<"$OUT")
	echo "$(basename "$b"): $msg" >>"$TMP/exhaust"
	if [ "$RC" -ne 0 ] && ! grep -rqs '^e6' "$DD/plxipam" &&
		[ "$msg" = "failed to allocate for range 0: no IP addresses available in range set: 10.79.0.1-10.79.0.6" ]; then
		pass "hostlocal exhaustion ($(basename "$b")): 6th ADD fails with the reference message, no file"
	else
		fail "hostlocal exhaustion ($(basename "$b")): rc=$RC msg='$msg'"
	fi
done

# --- release by (containerID, ifname) ----------------------------------------------------------
DD=$TMP/rel
conf=$(hlconf "$DD" '[[{"subnet":"10.80.0.0/24"}]]')
ipam "$HL" ADD r1 eth0 "$conf"
ipam "$HL" ADD r1 net1 "$conf"
ipam "$HL" ADD r2 eth0 "$conf"
ipam "$HL" DEL r1 net1 "$conf"
left=$(for f in $(ipfiles "$DD/plxipam"); do tr '\r\n' '/_' <"$DD/plxipam/$f"; echo; done | sort | tr '\n' ' ')
[ "$left" = "r1/_eth0 r2/_eth0 " ] && pass "hostlocal DEL releases only (r1, net1)" ||
	fail "hostlocal DEL by (id, ifname): left '$left'"
ipam "$HL" DEL r1 net1 "$conf"
[ "$RC" -eq 0 ] && pass "hostlocal DEL of a released lease succeeds" || fail "hostlocal DEL again rc=$RC"
ipam "$HL" CHECK r1 eth0 "$conf"
rc1=$RC
ipam "$HL" CHECK r1 net1 "$conf"
[ "$rc1" -eq 0 ] && [ "$RC" -ne 0 ] && pass "hostlocal CHECK finds r1/eth0, not r1/net1" ||
	fail "hostlocal CHECK rc=$rc1/$RC"
# A file in the pre-ifname format (only the id) is released too.
printf 'old1' >"$DD/plxipam/10.80.0.200"
ipam "$HL" DEL old1 eth0 "$conf"
[ ! -e "$DD/plxipam/10.80.0.200" ] && pass "hostlocal DEL releases an old-format file" ||
	fail "hostlocal DEL old format"

# --- requested IPs: CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips (vs the reference) -----------
req_case() {
	local name=$1 want=$2 ranges=$3 extra=$4 args=$5 got=() b
	for b in "$HL" "$REF_HL"; do
		conf=$(hlconf "$TMP/req-$name-$(basename "$b")" "$ranges" '{}' "$extra")
		if [ -n "$args" ]; then ipam "$b" ADD q1 eth0 "$conf" CNI_ARGS="$args"
		else ipam "$b" ADD q1 eth0 "$conf"; fi
		got+=("$(addr)")
	done
	[ "${got[0]}" = "$want" ] && [ "${got[1]}" = "$want" ] &&
		pass "hostlocal requested $name: $want (same as the reference)" ||
		fail "hostlocal requested $name: plexus '${got[0]}' reference '${got[1]}' want '$want'"
}
R='[[{"subnet":"10.81.0.0/24"}],[{"subnet":"fd00:81::/64"}]]'
req_case cni-args "10.81.0.9/24,fd00:81::2/64" "$R" '{}' "IgnoreUnknown=1;IP=10.81.0.9"
req_case runtimeConfig "10.81.0.7/24,fd00:81::7/64" "$R" \
	'{"runtimeConfig":{"ips":["10.81.0.7","fd00:81::7"]}}' ""
req_case args-cni-ips "10.81.0.8/24,fd00:81::2/64" "$R" '{"args":{"cni":{"ips":["10.81.0.8"]}}}' ""
req_case outside "ERR failed to allocate all requested IPs: 10.99.0.1" "$R" '{}' "IP=10.99.0.1"
req_case gateway "ERR failed to allocate for range 0: requested ip 10.81.0.1 is subnet's gateway" \
	"$R" '{}' "IP=10.81.0.1"
req_case ipRanges "10.82.0.2/24,10.81.0.2/24,fd00:81::2/64" "$R" \
	'{"runtimeConfig":{"ipRanges":[[{"subnet":"10.82.0.0/24"}]]}}' ""
# The reference message is "range set 0 overlaps with 1"; ours names the field too.
conf=$(hlconf "$TMP/ov" '[[{"subnet":"10.83.0.0/24"}],[{"subnet":"10.83.0.0/25"}]]')
ipam "$HL" ADD o1 eth0 "$conf"
rc1=$RC m1=$(jq -r .msg <<<"$OUT")
ipam "$REF_HL" ADD o1 eth0 "$conf"
[ "$rc1" -ne 0 ] && [ "$RC" -ne 0 ] && [[ $m1 == *"range set 0 overlaps with 1"* ]] &&
	pass "hostlocal overlapping range sets rejected like the reference ($m1)" ||
	fail "hostlocal overlap: rc $rc1/$RC '$m1'"

# resolvConf -> dns, and routes, compared with the reference.
printf 'nameserver 10.0.0.10\nsearch a.example b.example\ndomain example\noptions ndots:2\n' >"$TMP/resolv"
for b in "$HL" "$REF_HL"; do
	conf=$(hlconf "$TMP/dns-$(basename "$b")" '[[{"subnet":"10.84.0.0/24"}]]' \
		"{\"resolvConf\":\"$TMP/resolv\",\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.84.0.254\"}]}")
	ipam "$b" ADD d1 eth0 "$conf"
	jq -S '{ips, routes, dns}' <<<"$OUT" >"$TMP/dns-$(basename "$b").json"
done
diff -u "$TMP/dns-host-local.json" "$TMP/dns-plexus-hostlocal.json" &&
	pass "hostlocal resolvConf + routes: same result as the reference" ||
	fail "hostlocal resolvConf + routes differ"

# --- 50 concurrent ADDs on one network (and 50 more mixed with the reference) -------------------
DD=$TMP/conc
conf=$(hlconf "$DD" '[[{"subnet":"10.85.0.0/24"}]]')
for i in $(seq 1 50); do
	(ipam "$HL" ADD "k$i" eth0 "$conf"; addr >"$TMP/conc.$i") &
done
wait
n=$(ipfiles "$DD/plxipam" | wc -l)
u=$(cat "$TMP"/conc.* | grep -c '^10\.85\.')
d=$(cat "$TMP"/conc.* | sort | uniq -d | wc -l)
[ "$n" -eq 50 ] && [ "$u" -eq 50 ] && [ "$d" -eq 0 ] &&
	pass "hostlocal 50 concurrent ADDs: 50 files, 50 addresses, 0 duplicates" ||
	fail "hostlocal concurrent: files=$n addresses=$u duplicates=$d"
rm -f "$TMP"/conc.*
for i in $(seq 51 100); do
	if [ $((i % 2)) -eq 0 ]; then b=$HL; else b=$REF_HL; fi
	(ipam "$b" ADD "k$i" eth0 "$conf"; addr >"$TMP/conc.$i") &
done
wait
n=$(ipfiles "$DD/plxipam" | wc -l)
u=$(cat "$TMP"/conc.* | grep -c '^10\.85\.')
d=$( (cat "$TMP"/conc.*; ipfiles "$DD/plxipam" | sed 's|$|/24|') | sort | uniq -d | wc -l)
[ "$n" -eq 100 ] && [ "$u" -eq 50 ] && [ "$d" -eq 50 ] &&
	pass "hostlocal 50 concurrent ADDs, plexus and reference mixed: 100 leases, 0 duplicates" ||
	fail "hostlocal mixed concurrent: files=$n addresses=$u matched=$d"

# --- static: differential -----------------------------------------------------------------------
stconf() {
	jq -cn --argjson i "$1" --argjson c "${2:-{\}}" \
		'{cniVersion:"1.0.0",name:"plxst",type:"macvlan",ipam:({type:"static"} + $i)} + $c'
}
st_case() {
	local name=$1 ipamj=$2 extra=${3:-{\}} args=${4:-} b
	for b in "$ST" "$REF_ST"; do
		if [ -n "$args" ]; then ipam "$b" ADD t1 eth0 "$(stconf "$ipamj" "$extra")" CNI_ARGS="$args"
		else ipam "$b" ADD t1 eth0 "$(stconf "$ipamj" "$extra")"; fi
		echo "rc=$RC" >"$TMP/st-$(basename "$b")"
		# An empty dns is {} in the reference's output and absent in ours: same meaning.
		jq -S 'if .ips then {ips, routes, dns: (.dns // {})} else {error: true} end' <<<"$OUT" \
			>>"$TMP/st-$(basename "$b")"
	done
	diff -u "$TMP/st-static" "$TMP/st-plexus-staticipam" &&
		pass "static diff $name: same result as the reference" || fail "static diff $name"
}
st_case addresses '{"addresses":[{"address":"10.90.0.5/24","gateway":"10.90.0.1"},
	{"address":"fd00:90::5/64","gateway":"fd00:90::1"}],"routes":[{"dst":"0.0.0.0/0"}],
	"dns":{"nameservers":["10.90.0.53"],"domain":"x","search":["a","b"]}}'
st_case cni-args '{"addresses":[{"address":"10.90.0.5/24"}]}' '{}' \
	"IgnoreUnknown=1;IP=10.91.0.5/24,10.92.0.5/16;GATEWAY=10.92.0.1"
st_case args-cni-ips '{"addresses":[{"address":"10.90.0.5/24"}]}' \
	'{"args":{"cni":{"ips":["10.93.0.5/24"]}}}' "IP=10.91.0.5/24"
st_case runtimeConfig '{"addresses":[{"address":"10.90.0.5/24"}]}' \
	'{"args":{"cni":{"ips":["10.93.0.5/24"]}},"runtimeConfig":{"ips":["10.94.0.5/24","fd00:94::5/64"]}}'
st_case no-prefix '{"addresses":[{"address":"10.90.0.5"}]}'
st_case bad-arg '{"addresses":[{"address":"10.90.0.5/24"}]}' '{}' "FOO=1"

# --- plexus-macvlan with host-local in-process, and the exec escape hatch ------------------------
new_master
new_pod
EMPTY=$(t_tmpdir)
DD=$TMP/mv
mvconf=$(jq -cn --arg m "$MASTER" --arg d "$DD" '{cniVersion:"1.0.0",name:"plxmv",type:"macvlan",
	master:$m,ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.95.0.0/24"}]]}}')
mv() {
	local c=$mvconf
	[ "$1" != CHECK ] || c=$(jq -c --argjson p "$PREV" '. + {prevResult: $p}' <<<"$mvconf")
	OUT=$(printf '%s' "$c" | env -i PATH="$PATH" CNI_COMMAND="$1" CNI_PATH="$EMPTY" \
		CNI_CONTAINERID=m1 CNI_NETNS="$PODNS" CNI_IFNAME=net1 "${@:2}" "$BIN/plexus-macvlan" \
		2>/dev/null)
	RC=$?
}
mv ADD
PREV=$OUT
a=$(ip -n "$POD" -4 -o addr show dev net1 2>/dev/null | awk '{print $4}')
[ "$RC" -eq 0 ] && [ "$a" = 10.95.0.2/24 ] && [ -e "$DD/plxmv/10.95.0.2" ] &&
	pass "plexus-macvlan: host-local in-process with no host-local in CNI_PATH ($a)" ||
	fail "plexus-macvlan in-process host-local: rc=$RC addr='$a' $OUT"
mv CHECK
[ "$RC" -eq 0 ] && pass "plexus-macvlan CHECK with in-process host-local" || fail "macvlan CHECK: $OUT"
mv DEL
[ "$RC" -eq 0 ] && [ ! -e "$DD/plxmv/10.95.0.2" ] &&
	pass "plexus-macvlan DEL released the in-process lease" || fail "macvlan DEL: rc=$RC $OUT"
mv ADD PLEXUS_IPAM_EXEC=1
msg=$(jq -r .msg <<<"$OUT")
[ "$RC" -ne 0 ] && [[ $msg == *host-local* ]] && ! ip -n "$POD" link show net1 >/dev/null 2>&1 &&
	pass "PLEXUS_IPAM_EXEC=1: exec'd, host-local not found in CNI_PATH ($msg)" ||
	fail "PLEXUS_IPAM_EXEC=1: rc=$RC msg='$msg'"
OUT=$(printf '%s' "$mvconf" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_PATH="$REF_CNI" \
	CNI_CONTAINERID=m2 CNI_NETNS="$PODNS" CNI_IFNAME=net1 PLEXUS_IPAM_EXEC=1 \
	"$BIN/plexus-macvlan" 2>/dev/null)
[ $? -eq 0 ] && [ "$(jq -r '.ips[0].address' <<<"$OUT")" = 10.95.0.3/24 ] &&
	pass "PLEXUS_IPAM_EXEC=1 with the reference in CNI_PATH: same dataDir continues (10.95.0.3)" ||
	fail "PLEXUS_IPAM_EXEC=1 with reference: $OUT"
