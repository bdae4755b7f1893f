#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# VM tier, run inside the VM runner (tests/vm/runner/plexus-vm) by tests/vm/ipvlan.sh (kept
# out of tests/vm/*.sh, which tests/run.sh runs on the host): plexus-ipvlan on a dummy master
# (pods ping each other in l2 and l3, modes and flags as the kernel reports them, chained mode,
# errors leave nothing behind, DEL idempotence), then a differential run against the reference
# $REF_CNI/ipvlan (results, pod kernel state, CHECK/DEL outcomes). IPV_DEBUG=1 shows plugin runs.
source "$(dirname "$0")/../../lib.sh"
need_root
CNI_EXEC_DEBUG=${IPV_DEBUG:-}
trap 'exit 130' INT
trap 'exit 143' TERM

PLUGIN=${IPVLAN_BIN:-$BIN/plexus-ipvlan}
REF_IPVLAN=$REF_CNI/ipvlan
N=0
TMP=$(mktemp -d /tmp/plexus-test.XXXXXX) || exit 1
T_DIRS+=("$TMP")

# new_master: sets MASTER to a fresh dummy link (up, mtu 1500).
new_master() {
	N=$((N + 1))
	MASTER=ipvm$N
	ip link add "$MASTER" type dummy && t_link "$MASTER" && ip link set "$MASTER" up
}
# new_pod: sets POD and PODNS to a fresh network namespace (lo up).
new_pod() {
	N=$((N + 1))
	POD=ipvpod$N
	PODNS=/run/netns/$POD
	t_netns "$POD" && ip -n "$POD" link set lo up
}
# hl DATADIR [SUBNET]: host-local with one route via the gateway.
hl() {
	jq -cn --arg d "$1" --arg s "${2:-10.60.0.0/24}" \
		'{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]],
		  routes:[{dst:"10.96.0.0/16",gw:($s | split("/")[0] | sub("\\.0$";".1"))}]}'
}
# mkconf VERSION MASTER IPAM_JSON [EXTRA_JSON]: ipvlan netconf; MASTER "" = omit the key.
mkconf() {
	jq -cn --arg v "$1" --arg m "$2" --argjson ipam "$3" --argjson x "${4:-{\}}" \
		'{cniVersion:$v,name:"plxnet",type:"ipvlan",master:$m,ipam:$ipam} + $x
		 | if .master == "" then del(.master) else . end'
}
# links NETNS: names of the links in NETNS, sorted, space-separated.
links() { ip -n "$1" -j link show | jq -r '[.[].ifname] | sort | join(" ")'; }
# lk NETNS IFNAME JQ: a field of `ip -d -j link show`.
lk() { ip -n "$1" -d -j link show "$2" | jq -r ".[0] | $3"; }
# pod_ip RESULT: the first address of a result, without the prefix length.
pod_ip() { jq -r '.ips[0].address | split("/")[0]' <<<"$1"; }
# expect NAME RC_WANT CODE_WANT MSG_SUBSTR: check the last cni_exec's failure.
expect_err() {
	local name=$1 code=$2 what=$3
	if [ "$RC" -ne 0 ] && [ "$(jq -r .code <<<"$OUT" 2>/dev/null)" = "$code" ] &&
		jq -r .msg <<<"$OUT" | grep -q -- "$what"; then
		pass "$name"
	else
		fail "$name (rc=$RC out=$OUT)"
	fi
}

for t in jq ip ping; do command -v "$t" >/dev/null || { fail "ipvlan: $t missing in the VM"; exit 0; }; done
[ -x "$PLUGIN" ] || { fail "ipvlan: $PLUGIN missing"; exit 0; }
if ! ip link add ipvprobe type dummy 2>/dev/null; then fail "ipvlan: no dummy in this kernel"; exit 0; fi
ip link add link ipvprobe name ipvprobe1 type ipvlan mode l2 2>/dev/null ||
	fail "ipvlan: kernel has no ipvlan (not running in the VM?)"
ip link del ipvprobe 2>/dev/null

# ---- two pods ping each other, per mode ---------------------------------------------------
# pair MODE [FLAG]: two pods on one master; ADD, kernel view, ping, CHECK, DEL twice.
pair() {
	local mode=$1 flag=${2:-} x=${2:+{\"flag\":\"$2\"\}}
	local tag="$mode${flag:+ flag $flag}" dd p1 p2 r1 r2 c mac
	new_master; dd=$TMP/dd$N
	mac=$(ip -j link show "$MASTER" | jq -r '.[0].address')
	c=$(mkconf 1.0.0 "$MASTER" "$(hl "$dd")" "$(jq -cn --arg m "$mode" --argjson x "${x:-{\}}" '{mode:$m} + $x')")
	new_pod; p1=$POD
	cni_exec "$PLUGIN" ADD "$c" "$PODNS" eth0 cid-a; r1=$OUT
	check "$tag: ADD pod 1" [ "$RC" -eq 0 ]
	new_pod; p2=$POD
	cni_exec "$PLUGIN" ADD "$c" "$PODNS" eth0 cid-b; r2=$OUT
	check "$tag: ADD pod 2" [ "$RC" -eq 0 ]
	check "$tag: result shape" jq -e --arg s "/run/netns/$p1" --arg mac "$mac" \
		'.interfaces == [{name:"eth0",mac:$mac,sandbox:$s}] and (.ips|length) == 1
		 and .ips[0].interface == 0 and .ips[0].gateway == "10.60.0.1"' <<<"$r1" >/dev/null
	check "$tag: kind ipvlan, mode $mode" [ "$(lk "$p1" eth0 '.linkinfo.info_kind + " " + .linkinfo.info_data.mode')" = "ipvlan $mode" ]
	# iproute2 prints the flag as a boolean key: {"mode":"l2","private":true}.
	[ -z "$flag" ] || check "$tag: flag $flag shown" [ "$(lk "$p2" eth0 ".linkinfo.info_data.$flag")" = true ]
	check "$tag: pod MAC is the master's" [ "$(lk "$p1" eth0 .address)" = "$mac" ]
	check "$tag: arp_notify set" [ "$(ip netns exec "$p1" cat /proc/sys/net/ipv4/conf/eth0/arp_notify)" = 1 ]
	if [ "$flag" = private ]; then
		# private: the kernel stops slave-to-slave traffic.
		if ip netns exec "$p1" ping -c1 -W1 "$(pod_ip "$r2")" >/dev/null; then
			fail "$tag: pods cannot ping each other"
		else
			pass "$tag: pods cannot ping each other"
		fi
	else
		check "$tag: pod 1 pings pod 2" ip netns exec "$p1" ping -c1 -W3 "$(pod_ip "$r2")" >/dev/null
		check "$tag: pod 2 pings pod 1" ip netns exec "$p2" ping -c1 -W3 "$(pod_ip "$r1")" >/dev/null
	fi
	cni_exec "$PLUGIN" CHECK "$(jq -c --argjson r "$r1" '. + {prevResult: $r}' <<<"$c")" "/run/netns/$p1" eth0 cid-a
	check "$tag: CHECK" [ "$RC" -eq 0 ]
	cni_exec "$PLUGIN" DEL "$c" "/run/netns/$p1" eth0 cid-a
	check "$tag: DEL" [ "$RC" -eq 0 ]
	check "$tag: link gone after DEL" [ "$(links "$p1")" = lo ]
	cni_exec "$PLUGIN" DEL "$c" "/run/netns/$p1" eth0 cid-a
	check "$tag: DEL twice" [ "$RC" -eq 0 ]
	cni_exec "$PLUGIN" DEL "$c" "/run/netns/$p2" eth0 cid-b
	check "$tag: DEL pod 2, no lease left" [ "$RC $(leases "$dd")" = "0 0" ]
}
pair l2
pair l3
pair l3s bridge
pair l2 private
pair l2 vepa

# ---- CHECK notices a wrong mode --------------------------------------------------------------
new_master; new_pod; dd=$TMP/dd$N
c=$(mkconf 1.0.0 "$MASTER" "$(hl "$dd")" '{"mode":"l3"}')
cni_exec "$PLUGIN" ADD "$c" "$PODNS" eth0 cid-m; r=$OUT
cni_exec "$PLUGIN" CHECK "$(jq -c --argjson r "$r" '. + {prevResult: $r, mode: "l2"}' <<<"$c")" "$PODNS" eth0 cid-m
expect_err "CHECK: mode mismatch -> 104" 104 "ipvlan mode"
cni_exec "$PLUGIN" DEL "$c" "$PODNS" eth0 cid-m

# ---- chained: master and IPs from prevResult ---------------------------------------------------
new_master; new_pod
prev=$(jq -cn --arg m "$MASTER" '{cniVersion:"1.0.0",interfaces:[{name:$m}],
	ips:[{address:"10.61.0.7/24",gateway:"10.61.0.1"}],routes:[{dst:"10.97.0.0/16"}]}')
c=$(jq -cn --argjson p "$prev" '{cniVersion:"1.0.0",name:"plxnet",type:"ipvlan",prevResult:$p}')
cni_exec "$PLUGIN" ADD "$c" "$PODNS" eth0 cid-ch; r=$OUT
check "chained: ADD" [ "$RC" -eq 0 ]
check "chained: prevResult IP applied" [ "$(ip -n "$POD" -j addr show eth0 | jq -r '.[0].addr_info[] | select(.family=="inet") | .local')" = 10.61.0.7 ]
check "chained: prevResult route applied" ip -n "$POD" route show 10.97.0.0/16 | grep -q 'via 10.61.0.1'
check "chained: result has our interface only" jq -e '.interfaces|length == 1 and .[0].name == "eth0"' <<<"$r" >/dev/null
cni_exec "$PLUGIN" DEL "$c" "$PODNS" eth0 cid-ch
check "chained: DEL" [ "$RC $(links "$POD")" = "0 lo" ]

# ---- errors: right code, nothing left behind ---------------------------------------------------
new_master; M=$MASTER
# err NAME CODE MSG EXTRA [IFNAME]
err() {
	local name=$1 code=$2 what=$3 extra=$4 ifn=${5:-eth0} dd
	new_pod; dd=$TMP/dd$N
	cni_exec "$PLUGIN" ADD "$(mkconf 1.0.0 "$M" "$(hl "$dd")" "$extra")" "$PODNS" "$ifn" cid-e
	expect_err "error $name: code $code naming '$what'" "$code" "$what"
	check "error $name: nothing left" [ "$(links "$POD") $(leases "$dd")" = "lo 0" ]
}
err "unknown master" 7 "master: link 'nonexist0' not found" '{"master":"nonexist0"}'
err "bad mode" 7 "mode:" '{"mode":"l4"}'
err "bad flag" 7 "flag:" '{"flag":"passthru"}'
err "mtu above master" 7 "mtu:" '{"mtu":9000}'
err "no ipam" 7 "ipam:" '{"ipam":{}}'
err "16-byte ifname" 4 "" '{}' eth0123456789abc
# CNI_IFNAME already exists: fails, and the existing link survives.
new_pod; dd=$TMP/dd$N
ip -n "$POD" link add eth0 type dummy
cni_exec "$PLUGIN" ADD "$(mkconf 1.0.0 "$M" "$(hl "$dd")")" "$PODNS" eth0 cid-x
check "error ifname exists: fails" [ "$RC" -ne 0 ]
check "error ifname exists: existing link kept, nothing else" [ "$(links "$POD") $(lk "$POD" eth0 .linkinfo.info_kind)" = "eth0 lo dummy" ]
check "error ifname exists: lease released" [ "$(leases "$dd")" -eq 0 ]

# ---- DEL after the netns is gone ------------------------------------------------------------
new_pod; dd=$TMP/dd$N
c=$(mkconf 1.0.0 "$M" "$(hl "$dd")")
cni_exec "$PLUGIN" ADD "$c" "$PODNS" eth0 cid-g
ip netns del "$POD"
cni_exec "$PLUGIN" DEL "$c" "$PODNS" eth0 cid-g
check "DEL after netns deleted: success, lease released" [ "$RC $(leases "$dd")" = "0 0" ]
cni_exec "$PLUGIN" DEL "$c" "" eth0 cid-g
check "DEL with empty CNI_NETNS: success" [ "$RC" -eq 0 ]

# ---- differential against the reference ---------------------------------------------------------
[ -x "$REF_IPVLAN" ] || { fail "diff: reference $REF_IPVLAN missing"; exit 0; }
new_master; M_REF=$MASTER
new_master; M_PLX=$MASTER
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /' | head -n 30
	fi
}
# The MAC is the master's (a different dummy per side) and the sandbox path differs.
norm_result() {
	jq -S 'if has("code") then {code} else
		(if .dns == {} then del(.dns) else . end) |
		(if .interfaces then .interfaces |= map(del(.mac) | .sandbox = (if .sandbox then "SANDBOX" else null end)) else . end) end' \
		<<<"$OUT" 2>/dev/null || echo "not JSON: $OUT"
}
settle() {
	local i
	for i in $(seq 50); do
		ip -n "$1" -6 -j addr show scope global tentative | jq -e '[.[].addr_info[]?] | length == 0' >/dev/null && return
		sleep 0.1
	done
}
kstate() {
	local a r
	a=$(ip -n "$1" -j -d addr show) || return 1
	r=$( (ip -n "$1" -4 -j route show table all; ip -n "$1" -6 -j route show table all) | jq -s 'add') || return 1
	jq -nS --argjson a "$a" --argjson r "$r" '
	{links: [$a[] | {ifname, flags: (.flags|sort), mtu, operstate, link_type,
	          kind: .linkinfo.info_kind, mode: .linkinfo.info_data.mode,
	          addrs: [(.addr_info // [])[] | select(.scope != "link")
	                  | {family, local, prefixlen, broadcast, scope}] | sort_by(.local)}]
	       | sort_by(.ifname),
	 routes: [$r[] | select(.type != "multicast")
	          | select((.dst // "") | startswith("fe80") | not)
	          | select(((.dst // "") | startswith("ff00")) | not)
	          | del(.expires, .pref, .flags) ] | sort_by(.table, .dst, .dev, .gateway)}'
}
# run_case NAME VERSION IPAM EXTRA [IFNAME]: IPAM "PREV:<ip>" = chained (prevResult, no ipam).
run_case() {
	local name=$1 v=$2 ipam=$3 extra=$4 ifn=${5:-eth0}
	local side bin master dd c r res=() ks=() rcs=() chk=() del=() after=()
	for side in ref plx; do
		if [ $side = ref ]; then bin=$REF_IPVLAN master=$M_REF; else bin=$PLUGIN master=$M_PLX; fi
		new_pod; dd=$TMP/dd$N
		if [ "${ipam#PREV:}" != "$ipam" ]; then
			c=$(jq -cn --arg v "$v" --arg m "$master" --arg ip "${ipam#PREV:}" --argjson x "$extra" \
				'{cniVersion:$v,name:"plxnet",type:"ipvlan",
				  prevResult:{cniVersion:$v,interfaces:[{name:$m}],ips:[{address:$ip,gateway:"10.62.0.1"}],
				  routes:[{dst:"10.98.0.0/16",gw:"10.62.0.1"}]}} + $x')
		else
			c=$(mkconf "$v" "$master" "$(sed "s|@DD@|$dd|g" <<<"$ipam")" "$extra")
		fi
		cni_exec "$bin" ADD "$c" "$PODNS" "$ifn" cid-diff
		r=$OUT
		rcs+=("$RC")
		res+=("$(norm_result)")
		settle "$POD"
		ks+=("$(kstate "$POD")")
		if [ "$v" = 0.4.0 ] || [ "$v" = 1.0.0 ]; then
			cni_exec "$bin" CHECK "$(jq -c --argjson r "$r" --arg m "$master" '. + {prevResult: $r, master: $m}' <<<"$c")" "$PODNS" "$ifn" cid-diff
			chk+=("$RC $(jq -c '{code}' <<<"${OUT:-{\}}" 2>/dev/null)")
		else
			chk+=(-)
		fi
		cni_exec "$bin" DEL "$c" "$PODNS" "$ifn" cid-diff
		del+=("$RC $OUT leases=$(leases "$dd")")
		after+=("$(kstate "$POD")")
	done
	same "diff $name: ADD exit code" "${rcs[0]}" "${rcs[1]}"
	same "diff $name: ADD result" "${res[0]}" "${res[1]}"
	same "diff $name: kernel state after ADD" "${ks[0]}" "${ks[1]}"
	same "diff $name: CHECK outcome" "${chk[0]}" "${chk[1]}"
	same "diff $name: DEL outcome and leases" "${del[0]}" "${del[1]}"
	same "diff $name: kernel state after DEL" "${after[0]}" "${after[1]}"
}
err_case() {
	local name=$1 extra=$2 ifn=${3:-eth0} side bin master o=() st=() dd
	for side in ref plx; do
		if [ $side = ref ]; then bin=$REF_IPVLAN master=$M_REF; else bin=$PLUGIN master=$M_PLX; fi
		new_pod; dd=$TMP/dd$N
		cni_exec "$bin" ADD "$(mkconf 1.0.0 "$master" "$(hl "$dd")" "$extra")" "$PODNS" "$ifn" cid-err
		o+=("rc!=0:$([ "$RC" -ne 0 ] && echo y) json:$(jq -e '.code|numbers' <<<"$OUT" >/dev/null 2>&1 && echo y)")
		st+=("$(kstate "$POD") leases=$(leases "$dd")")
	done
	same "diff error $name: outcome" "${o[0]}" "${o[1]}"
	same "diff error $name: state left" "${st[0]}" "${st[1]}"
}
HL=$(hl @DD@)
STATIC=$(jq -cn '{type:"static",
	addresses:[{address:"10.97.0.5/24",gateway:"10.97.0.1"},{address:"fd00:97::5/64",gateway:"fd00:97::1"}],
	routes:[{dst:"10.95.0.0/16",gw:"10.97.0.1"},{dst:"fd00:95::/48",gw:"fd00:97::1"}]}')
DNS='{"dns":{"nameservers":["10.97.0.53"],"domain":"example.test","search":["a.test"]}}'
run_case "host-local 1.0.0 l2" 1.0.0 "$HL" '{}'
run_case "host-local 0.4.0 l3" 0.4.0 "$HL" '{"mode":"l3"}'
run_case "host-local 0.3.1 l3s" 0.3.1 "$HL" '{"mode":"l3s"}'
run_case "static v4+v6 dns 1.0.0" 1.0.0 "$STATIC" "$DNS" net1
run_case "mtu 1400" 1.0.0 "$HL" '{"mtu":1400}'
run_case "chained prevResult IPs" 1.0.0 "PREV:10.62.0.9/24" '{}'
err_case "unknown master" '{"master":"nonexist0"}'
err_case "bad mode" '{"mode":"l4"}'
err_case "mtu too big" '{"mtu":65536}'
err_case "16-byte CNI_IFNAME" '{}' eth0123456789abc
exit 0
