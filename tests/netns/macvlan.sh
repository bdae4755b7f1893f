#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier: behaviour of plexus-macvlan as a standalone CNI plugin, in real network namespaces.
# Every test uses its own pod netns, its own veth "node" parent in the host netns and its own
# host-local dataDir; IPAM plugins come from $REF_CNI (/usr/lib/cni). Addresses: 10.x and fd00::/8
# only, inside namespaces created here. Runs in a few seconds.
#
# Binary under test: ${MACVLAN_BIN:-$BIN/plexus-macvlan}. To validate the test itself, run it
# against the reference plugin: MACVLAN_BIN=/usr/lib/cni/macvlan bash tests/netns/macvlan.sh
# The reference (Debian containernetworking-plugins 1.1.1) is expected to FAIL exactly the checks
# marked "(plexus contract)", where plexus's documented contract differs on purpose:
#   - error codes: the reference answers 999 for config errors (plexus: 7) and for a bad
#     CNI_ARGS MAC= (plexus: 4);
#   - error messages: the reference's messages for a bad CNI_IFNAME / CNI_CONTAINERID / master
#     do not name the variable or key ("interface name is too long", "Link not found", ...);
#   - cniVersion 1.1.0 (ADD result, STATUS, GC, VERSION listing it): the reference stops at 1.0.0;
#   - STATUS with cniVersion < 1.1.0 answers code 1 (the reference does not know STATUS);
#   - bcqueuelen: the reference (1.1.1) ignores the key;
#   - mode source with sourceMacs: the reference has no source mode;
#   - ndisc_notify=1 and keep_addr_on_down=1 on the interface: newer
#     references set them, Debian's 1.1.1 does not;
#   - rollback of a failed ADD after IPAM ADD (CNI spec §4): the reference 1.1.1 releases
#     the lease but leaves the macvlan in the pod netns;
#   - STATUS/GC with host-local: Debian's host-local (old skel) answers code 3 "missing
#     containerID" to STATUS/GC; plexus must take it as "not supported".
# Everything else must pass against the reference too.
source "$(dirname "$0")/../lib.sh"
need_root
CNI_EXEC_DEBUG=${MV_DEBUG:-}
REF_MACVLAN=${REF_MACVLAN:-$REF_CNI/macvlan}
NETNAME=plxnet
# static_ipam: static ipam object with a v4 (with gateway) and a v6 address and routes.
static_ipam() {
	jq -cn '{type:"static",
		addresses:[{address:"10.97.0.5/24",gateway:"10.97.0.1"},{address:"fd00:97::5/64"}],
		routes:[{dst:"10.95.0.0/16",gw:"10.97.0.1"},{dst:"fd00:95::/48",gw:"fd00:97::1"}]}'
}

# mkconf VERSION MASTER IPAM_JSON [EXTRA_JSON]: macvlan netconf; MASTER "" = omit the key.
mkconf() {
	jq -cn --arg v "$1" --arg m "$2" --argjson ipam "$3" --argjson x "${4:-{\}}" \
		'{cniVersion:$v,name:"plxnet",type:"macvlan",master:$m,ipam:$ipam} + $x
		 | if .master == "" then del(.master) else . end'
}



# ---------------------------------------------------------------------------------------------
PLUGIN=${MACVLAN_BIN:-$BIN/plexus-macvlan}
PC="(plexus contract)"
for t in jq ip ping; do
	command -v "$t" >/dev/null || { fail "macvlan: $t not installed (scripts/setup.sh)"; exit 0; }
done
[ -x "$PLUGIN" ] || { fail "macvlan: plugin under test $PLUGIN is missing (make?)"; exit 0; }
[ -x "$REF_CNI/host-local" ] && [ -x "$REF_CNI/static" ] ||
	{ fail "macvlan: reference IPAM plugins missing in $REF_CNI"; exit 0; }
TMP=$(t_tmpdir)

# plug CMD CONF NETNS IFNAME CID [VAR=VALUE...]: run the plugin under test.
plug() { cni_exec "$PLUGIN" "$@"; }

# Assertions on the last plugin run ($OUT/$RC).
ok() { [ "$RC" -eq 0 ]; }
ok_silent() { [ "$RC" -eq 0 ] && [ -z "$OUT" ]; }
is_err() { [ "$RC" -ne 0 ] && jq -e '(.code|type)=="number" and (.msg|type)=="string"' <<<"$OUT" >/dev/null 2>&1; }
has_code() { [ "$RC" -ne 0 ] && jq -e --argjson c "$1" '.code == $c' <<<"$OUT" >/dev/null 2>&1; }
msg_has() { jq -r '.msg // ""' <<<"$OUT" 2>/dev/null | grep -qi -- "$1"; }
out_is() { jq -e "$1" <<<"$OUT" >/dev/null 2>&1; } # out_is JQ_FILTER: filter is true on OUT

# pod_links NETNS: number of links in NETNS.
pod_links() { ip -n "$1" -j link show | jq length; }
# host_macvlans MASTER: number of macvlan links on MASTER in the host netns.
host_macvlans() { ip -j -d link show type macvlan | jq --arg m "$1" '[.[] | select(.link == $m)] | length'; }
# no_leftovers NETNS MASTER DATADIR [LINKS]: NETNS has LINKS links (default 1: lo), MASTER has
# no macvlan in the host netns, DATADIR holds no reservation.
no_leftovers() {
	local links n
	links=$(pod_links "$1") n=$(host_macvlans "$2")
	[ "$links" -eq "${4:-1}" ] || { echo "  leftover: $links links in $1" >&2; return 1; }
	[ "$n" -eq 0 ] || { echo "  leftover: $n macvlan on $2 in host" >&2; return 1; }
	[ "$(leases "$3")" -eq 0 ] || { echo "  leftover: lease in $3" >&2; return 1; }
}
# linkj NETNS IFNAME: `ip -d -j link show` object of IFNAME in NETNS.
linkj() { ip -n "$1" -d -j link show "$2" 2>/dev/null | jq -c '.[0]'; }
link_mode() { linkj "$1" "$2" | jq -r '.linkinfo.info_data.mode'; }
link_kind() { linkj "$1" "$2" | jq -r '.linkinfo.info_kind'; }
link_mtu() { linkj "$1" "$2" | jq -r '.mtu'; }
link_mac() { linkj "$1" "$2" | jq -r '.address'; }
link_up() { linkj "$1" "$2" | jq -e '.flags | index("UP")' >/dev/null; }
# has_addr NETNS IFNAME CIDR
has_addr() { ip -n "$1" -j addr show dev "$2" | jq -e --arg a "${3%/*}" --argjson p "${3#*/}" \
	'[.[0].addr_info[] | select(.local == $a and .prefixlen == $p)] | length == 1' >/dev/null; }
# global_addrs NETNS IFNAME: number of non-link-local addresses.
global_addrs() { ip -n "$1" -j addr show dev "$2" | jq '[.[0].addr_info[] | select(.scope != "link")] | length'; }
# has_route NETNS DST [GW]
has_route() {
	local fam=-4
	case $2 in *:*) fam=-6 ;; esac
	ip -n "$1" "$fam" -j route show | jq -e --arg d "$2" --arg g "${3:-}" \
		'[.[] | select(.dst == $d and ($g == "" or .gateway == $g))] | length >= 1' >/dev/null
}
# lease_of DATADIR IP CID: the reservation file of IP exists and names CID.
lease_of() { [ -f "$1/$NETNAME/$2" ] && head -n1 "$1/$NETNAME/$2" | tr -d '\r' | grep -qx -- "$3"; }
sysctl_of() { ip netns exec "$1" cat "/proc/sys/net/$2" 2>/dev/null; } # sysctl_of NETNS PATH
with_prev() { jq -c --argjson r "$2" '. + {prevResult: $r}' <<<"$1"; }

# ---------------------------------------------------------------------------------------------
t_hostlocal() { # ADD / CHECK / DEL with host-local
	local c r ip
	new_master; new_pod; new_dd
	c=$(mkconf 1.0.0 "$MASTER" "$(hl "$DD")")
	plug ADD "$c" "$PODNS" eth0 cid-hl
	check "host-local: ADD succeeds" ok
	r=$OUT ip=$(jq -r '.ips[0].address // ""' <<<"$OUT")
	check "host-local: result interface eth0 in sandbox" out_is \
		".interfaces | length == 1 and .[0].name == \"eth0\" and .[0].sandbox == \"$PODNS\" and (.[0].mac | test(\"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$\"))"
	check "host-local: result ips from the range, interface 0, gateway" out_is \
		'(.ips | length == 1) and (.ips[0].address | startswith("10.99.0.")) and .ips[0].interface == 0 and .ips[0].gateway == "10.99.0.1"'
	check "host-local: result routes and dns" out_is '(.routes == [{"dst":"10.96.0.0/16","gw":"10.99.0.1"}]) and ((.dns // {}) | type == "object")'
	check "host-local: kernel link is macvlan" [ "$(link_kind "$POD" eth0)" = macvlan ]
	check "host-local: kernel link is up" link_up "$POD" eth0
	check "host-local: result mac = kernel mac" [ "$(jq -r '.interfaces[0].mac' <<<"$r")" = "$(link_mac "$POD" eth0)" ]
	check "host-local: kernel address = result address" has_addr "$POD" eth0 "${ip:-none/0}"
	check "host-local: kernel route via gateway" has_route "$POD" 10.96.0.0/16 10.99.0.1
	check "host-local: no macvlan left in the host netns" [ "$(host_macvlans "$MASTER")" -eq 0 ]
	check "host-local: lease recorded for the container" lease_of "$DD" "${ip%/*}" cid-hl
	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" eth0 cid-hl
	check "host-local: CHECK succeeds, prints nothing" ok_silent
	plug CHECK "$c" "$PODNS" eth0 cid-hl
	check "host-local: CHECK without prevResult fails" is_err
	plug DEL "$(with_prev "$c" "$r")" "$PODNS" eth0 cid-hl
	check "host-local: DEL succeeds, prints nothing" ok_silent
	check "host-local: DEL removed link and lease" no_leftovers "$POD" "$MASTER" "$DD"
	# CHECK notices a missing interface
	new_pod
	plug ADD "$c" "$PODNS" eth0 cid-hl2
	r=$OUT
	ip -n "$POD" link del eth0
	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" eth0 cid-hl2
	check "host-local: CHECK fails when the interface is gone" is_err
	plug DEL "$c" "$PODNS" eth0 cid-hl2
	check "host-local: DEL with the interface already gone succeeds" ok
	check "host-local: ... and releases the lease" [ "$(leases "$DD")" -eq 0 ]
}

t_static() {
	local c r
	new_master; new_pod
	c=$(mkconf 1.0.0 "$MASTER" "$(static_ipam)" '{"dns":{"nameservers":["10.97.0.53"],"domain":"example.test","search":["example.test"]}}')
	plug ADD "$c" "$PODNS" net1 cid-st
	r=$OUT
	check "static: ADD succeeds" ok
	check "static: result ips" out_is \
		'[.ips[] | {address, gateway, interface}] == [{"address":"10.97.0.5/24","gateway":"10.97.0.1","interface":0},{"address":"fd00:97::5/64","gateway":null,"interface":0}]'
	check "static: result dns from the conf" out_is '.dns.nameservers == ["10.97.0.53"] and .dns.domain == "example.test"'
	check "static: kernel v4 address" has_addr "$POD" net1 10.97.0.5/24
	check "static: kernel v6 address" has_addr "$POD" net1 fd00:97::5/64
	check "static: kernel v4 route" has_route "$POD" 10.95.0.0/16 10.97.0.1
	check "static: kernel v6 route" has_route "$POD" fd00:95::/48 fd00:97::1
	check "static: arp_notify=1" [ "$(sysctl_of "$POD" ipv4/conf/net1/arp_notify)" = 1 ]
	check "static: ndisc_notify=1 $PC" [ "$(sysctl_of "$POD" ipv6/conf/net1/ndisc_notify)" = 1 ]
	check "static: keep_addr_on_down=1 with IPv6 $PC" [ "$(sysctl_of "$POD" ipv6/conf/net1/keep_addr_on_down)" = 1 ]
	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" net1 cid-st
	check "static: CHECK succeeds" ok_silent
	plug DEL "$(with_prev "$c" "$r")" "$PODNS" net1 cid-st
	check "static: DEL succeeds" ok_silent
	check "static: DEL removed the link" [ "$(pod_links "$POD")" -eq 1 ]
}

t_l2only() {
	local c r
	new_master; new_pod
	c=$(mkconf 1.0.0 "$MASTER" '{}')
	plug ADD "$c" "$PODNS" eth0 cid-l2
	r=$OUT
	check "L2-only: ADD succeeds" ok
	check "L2-only: result has the interface and no ips" out_is \
		'(.interfaces | length == 1) and .interfaces[0].name == "eth0" and ((.ips // []) | length == 0)'
	check "L2-only: link up" link_up "$POD" eth0
	check "L2-only: no global address" [ "$(global_addrs "$POD" eth0)" -eq 0 ]
	plug CHECK "$(with_prev "$c" "$r")" "$PODNS" eth0 cid-l2
	check "L2-only: CHECK succeeds" ok_silent
	plug DEL "$c" "$PODNS" eth0 cid-l2
	check "L2-only: DEL succeeds and removes the link" eval 'ok_silent && [ "$(pod_links "$POD")" -eq 1 ]'
}

t_ping() { # two pods on one master in bridge mode reach each other
	local c p1 p2 ip2
	new_master; new_dd
	c=$(mkconf 1.0.0 "$MASTER" "$(hl "$DD" 10.94.0.0/24)" '{"mode":"bridge"}')
	new_pod; p1=$POD
	plug ADD "$c" "$PODNS" eth0 cid-p1
	check "ping: ADD pod 1" ok
	new_pod; p2=$POD
	plug ADD "$c" "$PODNS" eth0 cid-p2
	check "ping: ADD pod 2" ok
	ip2=$(jq -r '.ips[0].address // "none"' <<<"$OUT")
	check "ping: pods got different addresses" [ "$(leases "$DD")" -eq 2 ]
	check "ping: pod 1 -> pod 2" ip netns exec "$p1" ping -c1 -W2 "${ip2%/*}" >/dev/null
	plug DEL "$c" "/run/netns/$p1" eth0 cid-p1
	plug DEL "$c" "/run/netns/$p2" eth0 cid-p2
	check "ping: leases released" [ "$(leases "$DD")" -eq 0 ]
}

t_modes() {
	local m c p1
	for m in bridge private vepa passthru; do
		new_master; new_pod
		c=$(mkconf 1.0.0 "$MASTER" '{}' "{\"mode\":\"$m\"}")
		plug ADD "$c" "$PODNS" eth0 "cid-$m"
		check "mode $m: ADD succeeds" ok
		check "mode $m: kernel mode" [ "$(link_mode "$POD" eth0)" = "$m" ]
	done
	# passthru: a second macvlan on the same master must fail and leave nothing behind
	p1=$POD
	new_dd
	c=$(mkconf 1.0.0 "$MASTER" "$(hl "$DD")" '{"mode":"passthru"}')
	new_pod
	plug ADD "$c" "$PODNS" eth0 cid-pt2
	check "mode passthru: second macvlan on the master fails" is_err
	check "mode passthru: ... no leftovers" no_leftovers "$POD" "$MASTER" "$DD"
	check "mode passthru: ... first pod untouched" [ "$(link_mode "$p1" eth0)" = passthru ]
	# default mode
	new_master; new_pod
	plug ADD "$(mkconf 1.0.0 "$MASTER" '{}')" "$PODNS" eth0 cid-defmode
	check "mode default: bridge" [ "$(link_mode "$POD" eth0)" = bridge ]
}

t_mtu() {
	new_master; new_pod
	plug ADD "$(mkconf 1.0.0 "$MASTER" '{}' '{"mtu":1400}')" "$PODNS" eth0 cid-mtu
	check "mtu: ADD with mtu 1400" ok
	check "mtu: kernel mtu 1400" [ "$(link_mtu "$POD" eth0)" = 1400 ]
	new_master; new_pod
	ip link set "$MASTER" mtu 1450
	plug ADD "$(mkconf 1.0.0 "$MASTER" '{}')" "$PODNS" eth0 cid-mtu2
	check "mtu: default inherits the master's mtu" [ "$(link_mtu "$POD" eth0)" = 1450 ]
	new_pod
	plug ADD "$(mkconf 1.0.0 "$MASTER" '{}' '{"mtu":1450}')" "$PODNS" eth0 cid-mtu3
	check "mtu: equal to the master's mtu is accepted" eval 'ok && [ "$(link_mtu "$POD" eth0)" = 1450 ]'
}

t_source() { # plexus extension: mode source receives only frames from the listed MACs
	local c pns=plxsrc${T_ID} peer
	new_master; new_pod
	peer=${MASTER%a}b
	t_netns "$pns"
	ip link set "$peer" netns "$pns"
	ip -n "$pns" link set "$peer" address 02:00:00:00:aa:01
	ip -n "$pns" addr add 10.98.0.1/24 dev "$peer"
	ip -n "$pns" link set "$peer" up
	c=$(mkconf 1.0.0 "$MASTER" '{"type":"static","addresses":[{"address":"10.98.0.2/24"}]}' \
		'{"mode":"source","sourceMacs":["02:00:00:00:aa:01"]}')
	plug ADD "$c" "$PODNS" eth0 cid-src
	check "mode source: ADD succeeds (plexus contract)" ok
	check "mode source: kernel mode (plexus contract)" [ "$(link_mode "$POD" eth0)" = source ]
	check "mode source: a listed source MAC reaches the pod (plexus contract)" \
		ip netns exec "$pns" ping -c 1 -W 1 10.98.0.2
	ip -n "$pns" link set "$peer" address 02:00:00:00:aa:02
	ip -n "$pns" neigh flush all
	ip -n "$POD" neigh flush all
	check "mode source: an unlisted source MAC does not (plexus contract)" \
		bash -c "! ip netns exec $pns ping -c 1 -W 1 10.98.0.2 >/dev/null"
	plug DEL "$c" "$PODNS" eth0 cid-src
	check "mode source: DEL succeeds (plexus contract)" ok_silent
}

t_bcqueuelen() {
	new_master; new_pod
	plug ADD "$(mkconf 1.0.0 "$MASTER" '{}' '{"bcqueuelen":123}')" "$PODNS" eth0 cid-bcq
	check "bcqueuelen: ADD succeeds" ok
	check "bcqueuelen: kernel bcqueuelen 123 $PC" \
		[ "$(linkj "$POD" eth0 | jq -r '.linkinfo.info_data.bcqueuelen')" = 123 ]
}

t_mac() { # priority: conf "mac" < CNI_ARGS MAC= < runtimeConfig.mac
	local m1=02:00:0a:00:00:01 m2=02:00:0a:00:00:02 m3=02:00:0a:00:00:03
	new_master; new_pod; new_dd
	local ipam; ipam=$(hl "$DD")
	plug ADD "$(mkconf 1.0.0 "$MASTER" "$ipam" "{\"mac\":\"$m1\"}")" "$PODNS" eth0 cid-mac1
	check "mac: from conf (result)" out_is ".interfaces[0].mac == \"$m1\""
	check "mac: from conf (kernel)" [ "$(link_mac "$POD" eth0)" = "$m1" ]
	new_pod
	plug ADD "$(mkconf 1.0.0 "$MASTER" "$ipam" "{\"mac\":\"$m1\"}")" "$PODNS" eth0 cid-mac2 \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;MAC=$m2"
	check "mac: CNI_ARGS MAC= overrides conf (result)" out_is ".interfaces[0].mac == \"$m2\""
	check "mac: CNI_ARGS MAC= overrides conf (kernel)" [ "$(link_mac "$POD" eth0)" = "$m2" ]
	new_pod
	plug ADD "$(mkconf 1.0.0 "$MASTER" "$ipam" "{\"mac\":\"$m1\",\"capabilities\":{\"mac\":true},\"runtimeConfig\":{\"mac\":\"$m3\"}}")" \
		"$PODNS" eth0 cid-mac3 CNI_ARGS="IgnoreUnknown=1;MAC=$m2"
	check "mac: runtimeConfig.mac overrides both (result)" out_is ".interfaces[0].mac == \"$m3\""
	check "mac: runtimeConfig.mac overrides both (kernel)" [ "$(link_mac "$POD" eth0)" = "$m3" ]
}

# bad NAME CODE FIELD PLUG_ARGS...: the plugin run fails with an error JSON carrying CODE ("" = any)
# whose msg names FIELD ("" = no message check), and leaves nothing behind: $POD keeps ${LINKS:-1}
# links, $MASTER has no macvlan in the host netns, $DD holds no lease. A trailing "!" on CODE or
# FIELD marks the check as a plexus contract the reference plugin does not follow.
bad() {
	local name=$1 code=$2 field=$3 cpc='' fpc=''
	shift 3
	case $code in *!) code=${code%!} cpc=" $PC" ;; esac
	case $field in *!) field=${field%!} fpc=" $PC" ;; esac
	plug "$@"
	check "$name: fails with error JSON" is_err
	[ -z "$code" ] || check "$name: code $code$cpc" has_code "$code"
	[ -z "$field" ] || check "$name: msg mentions $field$fpc" msg_has "$field"
	check "$name: no leftovers" no_leftovers "$POD" "$MASTER" "$DD" "${LINKS:-1}"
}
# fresh: new master, pod and dataDir; sets C to a host-local conf (VERSION, EXTRA_JSON).
fresh() { new_master; new_pod; new_dd; C=$(mkconf "${1:-1.0.0}" "$MASTER" "$(hl "$DD")" "${2:-{\}}"); }

t_bad_input() {
	fresh
	C=$(mkconf 1.0.0 "px${T_ID}nomst" "$(hl "$DD")")
	bad "bad input: unknown master" 7! master! ADD "$C" "$PODNS" eth0 cid-bad
	fresh 1.0.0 '{"mode":"foo"}'
	bad "bad input: bad mode" 7! mode ADD "$C" "$PODNS" eth0 cid-bad
	fresh 1.0.0 '{"mtu":9999}'
	bad "bad input: mtu above the master's" 7! mtu ADD "$C" "$PODNS" eth0 cid-bad
	fresh 1.0.0 '{"mtu":-1}'
	bad "bad input: negative mtu" 7! mtu ADD "$C" "$PODNS" eth0 cid-bad
	fresh 1.0.0 '{"mac":"zz:00"}'
	bad "bad input: bad conf mac" 7! mac ADD "$C" "$PODNS" eth0 cid-bad
	fresh
	bad "bad input: bad CNI_ARGS MAC=" 4! MAC ADD "$C" "$PODNS" eth0 cid-bad CNI_ARGS="IgnoreUnknown=1;MAC=02:00:zz"
	fresh
	bad "bad input: CNI_IFNAME of 16 bytes" 4 CNI_IFNAME! ADD "$C" "$PODNS" eth0123456789abc cid-bad
	fresh
	bad "bad input: CNI_IFNAME with /" 4 CNI_IFNAME! ADD "$C" "$PODNS" a/b cid-bad
	fresh
	bad "bad input: CNI_CONTAINERID '-bad id'" 4 CNI_CONTAINERID! ADD "$C" "$PODNS" eth0 "-bad id"
	fresh
	bad "bad input: ADD without CNI_NETNS" 4 CNI_NETNS ADD "$C" - eth0 cid-bad
	fresh
	bad "bad input: ADD without CNI_IFNAME" 4 CNI_IFNAME ADD "$C" "$PODNS" - cid-bad
	fresh
	bad "bad input: ADD without CNI_CONTAINERID" 4 CNI_CONTAINERID ADD "$C" "$PODNS" eth0 -
	fresh
	bad "bad input: CHECK without CNI_NETNS" 4 CNI_NETNS CHECK "$C" - eth0 cid-bad
	fresh
	bad "bad input: unknown CNI_COMMAND" 4 CNI_COMMAND FOO "$C" "$PODNS" eth0 cid-bad
	fresh 0.5.0
	bad "bad input: cniVersion 0.5.0" 1 "" ADD "$C" "$PODNS" eth0 cid-bad
	fresh 9.9.9
	bad "bad input: cniVersion 9.9.9" 1 "" ADD "$C" "$PODNS" eth0 cid-bad
	fresh
	bad "bad input: malformed JSON" 6 "" ADD "${C%?}" "$PODNS" eth0 cid-bad
	# failure after IPAM ADD (route via an off-link gateway): link and lease rolled back
	new_master; new_pod; new_dd
	C=$(mkconf 1.0.0 "$MASTER" "$(jq -cn --arg d "$DD" \
		'{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.99.0.0/24"}]],routes:[{dst:"10.95.0.0/16",gw:"10.200.0.1"}]}')")
	plug ADD "$C" "$PODNS" eth0 cid-bad
	check "rollback after IPAM (off-link route gateway): fails with error JSON" is_err
	check "rollback after IPAM (off-link route gateway): lease released" [ "$(leases "$DD")" -eq 0 ]
	check "rollback after IPAM (off-link route gateway): link removed $PC" no_leftovers "$POD" "$MASTER" "$DD"
	fresh
	ip -n "$POD" link add eth0 type veth peer name eth0p
	LINKS=3 bad "bad input: CNI_IFNAME already in the netns" "" "" ADD "$C" "$PODNS" eth0 cid-bad
	check "bad input: CNI_IFNAME already in the netns: existing link untouched" \
		[ "$(link_kind "$POD" eth0)" = veth ]
}

t_del() {
	local r
	fresh
	plug ADD "$C" "$PODNS" eth0 cid-del
	r=$OUT
	plug DEL "$(with_prev "$C" "$r")" "$PODNS" eth0 cid-del
	check "DEL: first DEL succeeds" ok_silent
	plug DEL "$(with_prev "$C" "$r")" "$PODNS" eth0 cid-del
	check "DEL: second DEL succeeds" ok_silent
	plug DEL "$C" "$PODNS" eth0 cid-del
	check "DEL: third DEL without prevResult succeeds" ok_silent
	check "DEL: nothing left" no_leftovers "$POD" "$MASTER" "$DD"
	plug DEL "$C" "$PODNS" eth0 cid-never-added
	check "DEL: of an attachment never added succeeds" ok_silent

	fresh
	plug ADD "$C" "$PODNS" eth0 cid-gone
	check "DEL after netns deletion: ADD reserved a lease" [ "$(leases "$DD")" -eq 1 ]
	ip netns del "$POD"
	plug DEL "$C" "$PODNS" eth0 cid-gone
	check "DEL after netns deletion: succeeds" ok_silent
	check "DEL after netns deletion: lease released" [ "$(leases "$DD")" -eq 0 ]

	fresh
	plug ADD "$C" "$PODNS" eth0 cid-nons
	plug DEL "$C" "" eth0 cid-nons
	check "DEL with empty CNI_NETNS: succeeds" ok_silent
	check "DEL with empty CNI_NETNS: lease released" [ "$(leases "$DD")" -eq 0 ]

	fresh
	plug ADD "$C" "$PODNS" eth0 cid-unset
	plug DEL "$C" - eth0 cid-unset
	check "DEL with CNI_NETNS unset: succeeds" ok_silent
	check "DEL with CNI_NETNS unset: lease released" [ "$(leases "$DD")" -eq 0 ]
}

t_killed() { # ADD killed before each netlink request, then DEL: nothing is left $PC
	local k=0 tmp_seen=0 bad=0 tmpname
	while [ $k -lt 100 ]; do
		k=$((k + 1))
		fresh
		kill_at $k sendmsg
		plug ADD "$C" "$PODNS" eth0 cid-kill
		kill_off
		killed || break
		! ip -n "$POD" link show "$(tmp_ifname cid-kill eth0)" >/dev/null 2>&1 ||
			tmp_seen=$((tmp_seen + 1))
		plug DEL "$C" "$PODNS" eth0 cid-kill
		if ! ok_silent || ! no_leftovers "$POD" "$MASTER" "$DD"; then
			echo "  killed at sendmsg $k: DEL rc $RC $OUT" >&2
			bad=$((bad + 1))
		fi
	done
	check "killed ADD: reached an ADD that ran to the end ($k kill points) $PC" ok
	check "killed ADD: after every kill point DEL succeeds and leaves nothing $PC" [ $bad -eq 0 ]
	check "killed ADD: some kill left the link under its temporary name $PC" [ $tmp_seen -gt 0 ]
	plug DEL "$C" "$PODNS" eth0 cid-kill

	# A link the pod made under the temporary name is not of our kind: DEL leaves it.
	fresh
	plug ADD "$C" "$PODNS" eth0 cid-tmp
	tmpname=$(ip -n "$POD" -j link show | jq -r '.[].ifname | select(startswith("plx"))')
	check "temporary name: none left after a complete ADD $PC" [ -z "$tmpname" ]
	tmpname=$(tmp_ifname cid-tmp2 eth1)
	ip -n "$POD" link add "$tmpname" type veth peer name "px${T_ID}sq"
	plug DEL "$C" "$PODNS" eth1 cid-tmp2
	check "temporary name: DEL succeeds $PC" ok_silent
	check "temporary name: a veth the pod put under it is left alone $PC" \
		bash -c "[ -n '$tmpname' ] && ip -n $POD link show $tmpname >/dev/null 2>&1"
	check "temporary name: the other attachment is untouched $PC" link_up "$POD" eth0
	plug DEL "$C" "$PODNS" eth0 cid-tmp
}

# shape_ok VERSION: the ADD result in OUT has the shape of VERSION.
shape_ok() {
	case $1 in
	0.1.0 | 0.2.0) out_is ".cniVersion == \"$1\" and (.ip4.ip | startswith(\"10.99.0.\")) and .ip4.gateway == \"10.99.0.1\"
		and (.ip4.routes | length == 1) and (has(\"interfaces\") | not) and (has(\"ips\") | not)" ;;
	0.3.0 | 0.3.1 | 0.4.0) out_is ".cniVersion == \"$1\" and .interfaces[0].name == \"eth0\" and .interfaces[0].sandbox != null
		and .ips[0].version == \"4\" and .ips[0].interface == 0 and (.ips[0].address | startswith(\"10.99.0.\"))
		and (has(\"ip4\") | not)" ;;
	*) out_is ".cniVersion == \"$1\" and .interfaces[0].name == \"eth0\" and .interfaces[0].sandbox != null
		and (.ips[0] | has(\"version\") | not) and .ips[0].interface == 0 and (.ips[0].address | startswith(\"10.99.0.\"))
		and (has(\"ip4\") | not)" ;;
	esac
}

t_versions() {
	local v r pc
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		pc=
		[ "$v" = 1.1.0 ] && pc=" $PC"
		fresh "$v"
		plug ADD "$C" "$PODNS" eth0 "cid-v$v"
		r=$OUT
		check "cniVersion $v: ADD succeeds$pc" ok
		check "cniVersion $v: result shape$pc" shape_ok "$v"
		plug CHECK "$(with_prev "$C" "$r")" "$PODNS" eth0 "cid-v$v"
		case $v in
		0.1.0 | 0.2.0 | 0.3.0 | 0.3.1) check "cniVersion $v: CHECK refused with code 1" has_code 1 ;;
		*) check "cniVersion $v: CHECK succeeds$pc" ok_silent ;;
		esac
		plug DEL "$(with_prev "$C" "$r")" "$PODNS" eth0 "cid-v$v"
		check "cniVersion $v: DEL succeeds, nothing left$pc" eval 'ok_silent && no_leftovers "$POD" "$MASTER" "$DD"'
	done
	# 1.1.0 without IPAM (does not depend on how the IPAM plugin copes with 1.1.0)
	new_master; new_pod
	C=$(mkconf 1.1.0 "$MASTER" '{}')
	plug ADD "$C" "$PODNS" eth0 cid-v11l2
	check "cniVersion 1.1.0 L2-only: ADD succeeds $PC" \
		eval 'ok && out_is ".cniVersion == \"1.1.0\" and .interfaces[0].name == \"eth0\""'
	plug DEL "$C" "$PODNS" eth0 cid-v11l2
	check "cniVersion 1.1.0 L2-only: DEL succeeds $PC" ok_silent
}

t_version_cmd() {
	local v
	for v in 0.2.0 1.0.0; do
		plug VERSION "{\"cniVersion\":\"$v\"}" - - -
		check "VERSION ($v): succeeds" ok
		check "VERSION ($v): lists 0.1.0 .. 1.0.0" out_is \
			'(.cniVersion | type == "string") and (.supportedVersions | contains(["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]))'
	done
	check "VERSION: lists 1.1.0 $PC" out_is '.supportedVersions | index("1.1.0")'
	plug VERSION '{"cniVersion":"1.1.0"}' /var/run/netns/none dummy dummy # libcni's dummy values
	check "VERSION: with libcni's dummy env succeeds" ok
}

t_status_gc() {
	new_master
	plug STATUS "$(mkconf 1.1.0 "$MASTER" '{}')" - - -
	check "STATUS (1.1.0, no ipam): ready $PC" ok_silent
	new_dd
	plug STATUS "$(mkconf 1.1.0 "$MASTER" "$(hl "$DD")")" - - -
	check "STATUS (1.1.0, host-local without STATUS support): ready $PC" ok_silent
	plug STATUS "$(mkconf 1.0.0 "$MASTER" '{}')" - - -
	check "STATUS (1.0.0): refused with code 1 $PC" has_code 1
	plug GC "$(mkconf 1.1.0 "$MASTER" "$(hl "$DD")" '{"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}')" - - -
	check "GC (1.1.0, host-local without GC support): succeeds $PC" ok_silent
	plug GC "$(mkconf 1.0.0 "$MASTER" '{}' '{"cni.dev/valid-attachments":[]}')" - - -
	check "GC (1.0.0): refused with an error" is_err
}

t_default_master() { # master omitted: the interface of the default route of the plugin's netns
	local node=plxnode${T_ID} a=plxdefa b=plxdefb ia ib li
	t_netns "$node" || { fail "default master: netns"; return; }
	ip -n "$node" link add "$b" type veth peer name "$a" &&
		ip -n "$node" link set "$a" up && ip -n "$node" link set "$b" up &&
		ip -n "$node" addr add 10.93.0.1/24 dev "$a" &&
		ip -n "$node" route add default via 10.93.0.254 dev "$a" ||
		{ fail "default master: node setup"; return; }
	new_pod; new_dd
	RUNNER=(ip netns exec "$node")
	plug ADD "$(mkconf 1.0.0 "" "$(hl "$DD")")" "$PODNS" eth0 cid-defmaster
	RUNNER=()
	check "default master: ADD succeeds" ok
	ia=$(ip -n "$node" -j link show "$a" | jq '.[0].ifindex')
	ib=$(ip -n "$node" -j link show "$b" | jq '.[0].ifindex')
	li=$(linkj "$POD" eth0 | jq '.link_index')
	check "default master: macvlan sits on the default-route interface" eval '[ "$li" = "$ia" ] && [ "$li" != "$ib" ]'
	RUNNER=(ip netns exec "$node")
	plug DEL "$(mkconf 1.0.0 "" "$(hl "$DD")")" "$PODNS" eth0 cid-defmaster
	RUNNER=()
	check "default master: DEL succeeds" eval 'ok_silent && [ "$(leases "$DD")" -eq 0 ] && [ "$(pod_links "$POD")" -eq 1 ]'
}

# MV_ONLY="t_mtu t_mac" runs a subset (debugging); MV_DEBUG=1 logs every plugin run to stderr.
for t in ${MV_ONLY:-t_hostlocal t_static t_l2only t_ping t_modes t_source t_mtu t_bcqueuelen t_mac t_bad_input
	t_del t_killed t_versions t_version_cmd t_status_gc t_default_master}; do
	"$t"
done
