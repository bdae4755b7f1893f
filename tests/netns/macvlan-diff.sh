#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Netns tier, differential: the same configurations go through the reference macvlan plugin
# ($REF_CNI/macvlan) and plexus-macvlan, each into its own fresh pod netns on its own veth
# master (same MTU), each with its own host-local dataDir (so both get the same addresses).
# Compared: exit codes, the ADD result (jq -S; the random MAC and the sandbox path dropped), the
# kernel state of the pod netns (ip -j -d addr, ip -j route, normalised: no ifindex, MAC,
# lifetimes, netnsid), a few per-interface sysctls, CHECK and DEL exit codes and the links after DEL.
# Error cases compare only failure (and the code where plexus's contract matches the reference:
# 1 bad version, 4 bad/missing env, 6 bad JSON); plexus's own codes are in tests/netns/macvlan.sh.
#
# Binary under test: ${MACVLAN_BIN:-$BIN/plexus-macvlan}. MACVLAN_BIN=/usr/lib/cni/macvlan
# compares the reference with itself (validates this script). cniVersion 1.1.0 is not compared
# (the reference stops at 1.0.0). MV_DEBUG=1 shows every plugin run and every difference.
source "$(dirname "$0")/../lib.sh"
need_root
CNI_EXEC_DEBUG=${MV_DEBUG:-}
REF_MACVLAN=${REF_MACVLAN:-$REF_CNI/macvlan}
# mkconf VERSION MASTER IPAM_JSON [EXTRA_JSON]: macvlan netconf; MASTER "" = omit the key.
mkconf() {
	jq -cn --arg v "$1" --arg m "$2" --argjson ipam "$3" --argjson x "${4:-{\}}" \
		'{cniVersion:$v,name:"plxnet",type:"macvlan",master:$m,ipam:$ipam} + $x
		 | if .master == "" then del(.master) else . end'
}



# kstate NETNS: the kernel state of NETNS as normalised JSON (links, addresses, routes),
# without anything random or host specific (ifindex, MAC, lifetimes, stats, netnsid).
kstate() {
	local a r4 r6
	a=$(ip -n "$1" -j -d addr show) && r4=$(ip -n "$1" -4 -j route show table all) &&
		r6=$(ip -n "$1" -6 -j route show table all) || return 1
	jq -nS --argjson a "$a" --argjson r "[$r4,$r6]" '
	{links: [$a[] | {ifname, flags: (.flags|sort), mtu, operstate, link_type,
	          kind: .linkinfo.info_kind, mode: .linkinfo.info_data.mode,
	          addrs: [(.addr_info // [])[] | select(.scope != "link")
	                  | {family, local, prefixlen, broadcast, scope}] | sort_by(.local)}]
	       | sort_by(.ifname),
	 routes: [$r | add | .[] | select(.type != "multicast")
	          | select((.dst // "") | startswith("fe80") | not)
	          | select(((.dst // "") | startswith("ff00")) | not)
	          | del(.expires, .pref, .flags) ] | sort_by(.table, .dst, .dev, .gateway)}'
}
# links NETNS: cheap summary of the links in NETNS (name and state).
links() { ip -n "$1" -br link show | awk '{print $1, $2}' | sort; }

# ---------------------------------------------------------------------------------------------
PLUGIN=${MACVLAN_BIN:-$BIN/plexus-macvlan}
for t in jq ip diff; do
	command -v "$t" >/dev/null || { fail "macvlan-diff: $t not installed (scripts/setup.sh)"; exit 0; }
done
[ -x "$PLUGIN" ] || { fail "macvlan-diff: plugin under test $PLUGIN is missing (make?)"; exit 0; }
[ -x "$REF_MACVLAN" ] || { fail "macvlan-diff: reference $REF_MACVLAN missing"; exit 0; }
TMP=$(t_tmpdir)

# One master per side for the whole run; every case gets fresh pods and dataDirs.
new_master; M_REF=$MASTER
new_master; M_PLX=$MASTER

# same NAME A B: PASS if the two strings are equal, else FAIL and show a diff (stderr).
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /' | head -n 40 >&2
	fi
}
# norm_result KEEPMAC: normalise the JSON result in OUT (an error keeps only its code; an empty
# "dns" object counts as absent; the MAC is dropped unless KEEPMAC is set).
norm_result() {
	jq -S --arg keepmac "$1" '
		if has("code") then {code} else
		(if .dns == {} then del(.dns) else . end) |
		(if .interfaces then .interfaces |= map((if $keepmac == "" then del(.mac) else . end)
			| .sandbox = (if .sandbox then "SANDBOX" else null end)) else . end) end' <<<"$OUT" 2>/dev/null ||
		echo "not JSON: $OUT"
}
# settle NETNS: wait (<= 3 s) until no global IPv6 address is tentative, so that both sides are compared
# after DAD (the kernel adds the local route only then).
settle() {
	for _ in $(seq 30); do
		ip -n "$1" -6 -j addr show scope global tentative | jq -e '[.[].addr_info[]?] | length == 0' >/dev/null && return
		sleep 0.1
	done
}
# sysctls NETNS IFNAME: per-interface sysctls the plugins set. Not compared: ndisc_notify and
# keep_addr_on_down, which the Debian reference (1.1.1) does not set yet but newer references and
# plexus do (asserted in tests/netns/macvlan.sh).
sysctls() {
	ip netns exec "$1" sh -c "for f in ipv4/conf/$2/arp_notify \
		ipv6/conf/$2/disable_ipv6 ipv6/conf/lo/disable_ipv6; do
		printf '%s=%s\n' \$f \$(cat /proc/sys/net/\$f 2>/dev/null || echo none); done"
}

# run_case NAME VERSION IPAM EXTRA [IFNAME [CNI_ARGS [KEEPMAC]]]
run_case() {
	local name=$1 v=$2 ipam=$3 extra=$4 ifn=${5:-eth0} args=${6:-} keepmac=${7:-}
	local side bin master pod r res=() ks=() sc=() rcs=() chk=() del=() after=()
	local dd_ref dd_plx
	new_dd; dd_ref=$DD
	new_dd; dd_plx=$DD
	for side in ref plx; do
		if [ $side = ref ]; then bin=$REF_MACVLAN master=$M_REF DD=$dd_ref; else bin=$PLUGIN master=$M_PLX DD=$dd_plx; fi
		new_pod; pod=$POD
		local c
		c=$(mkconf "$v" "$master" "$(sed "s|@DD@|$DD|g" <<<"$ipam")" "$extra")
		cni_exec "$bin" ADD "$c" "$PODNS" "$ifn" cid-diff ${args:+CNI_ARGS="$args"}
		r=$OUT
		rcs+=("$RC")
		res+=("$(norm_result "$keepmac")")
		settle "$pod"
		ks+=("$(kstate "$pod")")
		sc+=("$(sysctls "$pod" "$ifn")")
		case $v in
		0.1.0 | 0.2.0 | 0.3.0 | 0.3.1) chk+=(-) ;;
		*)
			cni_exec "$bin" CHECK "$(jq -c --argjson r "$r" '. + {prevResult: $r}' <<<"$c")" "$PODNS" "$ifn" cid-diff ${args:+CNI_ARGS="$args"}
			chk+=("$RC $OUT")
			;;
		esac
		cni_exec "$bin" DEL "$c" "$PODNS" "$ifn" cid-diff ${args:+CNI_ARGS="$args"}
		del+=("$RC $OUT leases=$(leases "$DD")")
		after+=("$(links "$pod")")
	done
	same "diff $name: ADD exit code" "${rcs[0]}" "${rcs[1]}"
	same "diff $name: ADD result" "${res[0]}" "${res[1]}"
	same "diff $name: kernel state after ADD" "${ks[0]}" "${ks[1]}"
	same "diff $name: sysctls after ADD" "${sc[0]}" "${sc[1]}"
	[ "${chk[0]}" = - ] || same "diff $name: CHECK outcome" "${chk[0]}" "${chk[1]}"
	same "diff $name: DEL outcome and leases" "${del[0]}" "${del[1]}"
	same "diff $name: links after DEL" "${after[0]}" "${after[1]}"
}

# err_case NAME CODE CONF_EXTRA [IFNAME [CID [VERSION]]]: both fail (same CODE unless ""), and
# leave the same state behind.
err_case() {
	local name=$1 code=$2 extra=$3 ifn=${4:-eth0} cid=${5:-cid-err} v=${6:-1.0.0}
	local side bin master o=() st=()
	for side in ref plx; do
		if [ $side = ref ]; then bin=$REF_MACVLAN master=$M_REF; else bin=$PLUGIN master=$M_PLX; fi
		new_pod; new_dd
		cni_exec "$bin" ADD "$(mkconf "$v" "$master" "$(hl "$DD")" "$extra")" "$PODNS" "$ifn" "$cid"
		if [ -n "$code" ]; then
			o+=("rc!=0:$([ "$RC" -ne 0 ] && echo y) code=$(jq -r '.code' <<<"$OUT" 2>/dev/null)")
		else
			o+=("rc!=0:$([ "$RC" -ne 0 ] && echo y) json:$(jq -e '.code|numbers' <<<"$OUT" >/dev/null 2>&1 && echo y)")
		fi
		st+=("$(links "$POD") leases=$(leases "$DD")")
	done
	same "diff error $name: outcome" "${o[0]}" "${o[1]}"
	same "diff error $name: state left" "${st[0]}" "${st[1]}"
}

HL=$(hl @DD@)
STATIC=$(jq -cn '{type:"static",
	addresses:[{address:"10.97.0.5/24",gateway:"10.97.0.1"},{address:"fd00:97::5/64",gateway:"fd00:97::1"}],
	routes:[{dst:"10.95.0.0/16",gw:"10.97.0.1"},{dst:"fd00:95::/48",gw:"fd00:97::1"}]}')
HL6=$(jq -cn '{type:"host-local",dataDir:"@DD@",ranges:[[{subnet:"10.92.0.0/24"}],[{subnet:"fd00:92::/64"}]],
	routes:[{dst:"0.0.0.0/0",gw:"10.92.0.1"},{dst:"::/0",gw:"fd00:92::1"}]}')
DNS='{"dns":{"nameservers":["10.97.0.53"],"domain":"example.test","search":["a.test","b.test"],"options":["ndots:2"]}}'

# 0.1.0 = 0.2.0 and 0.3.0 = 0.3.1 in shape: one of each keeps the run short.
for v in 0.2.0 0.3.1 0.4.0 1.0.0; do
	run_case "host-local $v" "$v" "$HL" '{}'
done
run_case "static v4+v6 1.0.0" 1.0.0 "$STATIC" "$DNS" net1
run_case "static v4+v6 0.4.0" 0.4.0 "$STATIC" '{}' net1
run_case "host-local dual-stack default routes" 1.0.0 "$HL6" '{}'
run_case "L2-only 1.0.0" 1.0.0 '{}' '{}'
run_case "mtu 1400 mode private" 1.0.0 "$HL" '{"mtu":1400,"mode":"private"}'
run_case "mode passthru" 1.0.0 "$HL" '{"mode":"passthru"}'
run_case "mac from CNI_ARGS" 1.0.0 "$HL" '{"mac":"02:00:0b:00:00:01"}' eth0 "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=02:00:0b:00:00:02" keep
run_case "mac from runtimeConfig" 1.0.0 "$HL" '{"mac":"02:00:0b:00:00:01","capabilities":{"mac":true},"runtimeConfig":{"mac":"02:00:0b:00:00:03"}}' \
	eth0 "IgnoreUnknown=1;MAC=02:00:0b:00:00:02" keep

err_case "unknown master" "" '{"master":"nonexistent0"}'
err_case "bad mode" "" '{"mode":"foo"}'
err_case "mtu too big" "" '{"mtu":65536}'
err_case "bad mac" "" '{"mac":"02:00"}'
err_case "cniVersion 0.5.0" 1 '{}' eth0 cid-err 0.5.0
err_case "16-byte CNI_IFNAME" 4 '{}' eth0123456789abc
err_case "bad CNI_CONTAINERID" 4 '{}' eth0 "-bad id"
