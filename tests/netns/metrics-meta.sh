#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Per-network attachment metrics (docs/observability.md, "Attachment metrics"), for real: the
# meta-plugin ADDs and DELs pods with 2-3 macvlan networks (one failing) in a "node" network
# namespace against the API server fixture, reports each attachment to plexus-apid's
# metrics.sock, and the scrape is checked with promtool and for the exact counts per network,
# verb and CNI code. Hostile input: a NAD name of 253 characters keeps its series; datagrams
# for more network/plugin pairs than the cap fold into network="other"; junk datagrams are
# counted as invalid. CHECK and GC are reported too; host-local pool usage (range sizes and
# leases on the node) after each ADD, DEL and GC; the Grafana dashboard's queries parse.
# With plexus-apid down, ADD still succeeds. Needs root, node, promtool.
source "$(dirname "$0")/../lib.sh"
need_root
need_tools metrics-meta node openssl curl jq python3 promtool
P=$BIN/plexus
TMP=$(t_tmpdir)
SOCK=$TMP/run/api.sock
MSOCK=$TMP/run/metrics.sock
NODE=plxmm$T_ID
new_node "$NODE"
# A DNS-1123 subdomain of the most a NAD name may have: 253 characters, in labels of <= 63.
L63=$(printf 'l%.0s' $(seq 63))
LONG=$L63.$L63.$L63.$(printf 'l%.0s' $(seq 61))

{
	echo '{"items":['
	nad kube-system cluster "$(mv_conf cluster "$TMP/ipam-c" 10.230.0.0/24)"; echo ,
	nad default mv-a "$(mv_conf mv-a "$TMP/ipam-a" 10.231.0.0/24)"; echo ,
	nad default mv-b "$(mv_conf mv-b "$TMP/ipam-b" 10.232.0.0/24)"; echo ,
	nad default mv-bad "$(mv_conf mv-bad "$TMP/ipam-bad" 10.233.0.0/24 no-such-master)"; echo ,
	nad default "$LONG" "$(mv_conf long "$TMP/ipam-long" 10.234.0.0/24)"; echo ,
	pod pod-a "mv-a,mv-b"; echo ,
	pod pod-b "mv-a,mv-bad"; echo ,
	pod pod-c "$LONG"; echo ,
	pod pod-d "mv-a"
	echo ']}'
} >"$TMP/state.json"
api_fixture "$NODE" "$TMP" "plexus-node-token-$T_ID"
t_proc "$API_PID"
check "metrics-meta: API server fixture is up" test -n "$PORT"
CONF=$(jq -cn --arg k "$TMP/kubeconfig" --arg c "$TMP/cache" --arg t "$TMP" --arg s "$SOCK" \
	'{cniVersion:"1.0.0",name:"plexus-net",type:"plexus",kubeconfig:$k,clusterNetwork:"cluster",cniDir:$c,
	  apiRelay:$s,tenantPolicy:{hostPathRoots:{dataDir:[$t]}}}')
podns() { echo "plxmm$T_ID-$1"; }
plexus() { # plexus VERB POD: sets OUT, RC
	OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" \
		CNI_COMMAND="$1" CNI_CONTAINERID="cid-$2" CNI_NETNS="/run/netns/$(podns "$2")" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_UID=$(uid "$2")" \
		"$P" <<<"$CONF" 2>"$TMP/stderr")
	RC=$?
}
for p in pod-a pod-b pod-c pod-d; do t_netns "$(podns "$p")"; done
ALOG=$TMP/apid.log
ip netns exec "$NODE" "$BIN/plexus-apid" --kubeconfig "$TMP/kubeconfig" --socket "$SOCK" 2>"$ALOG" &
APID_PID=$!
t_proc "$APID_PID"
for _ in $(seq 100); do grep -q 'relaying to' "$ALOG" && break; sleep 0.05; done
check "metrics-meta: plexus-apid is up" grep -q 'relaying to' "$ALOG"
check "metrics-meta: its metrics.sock is beside the relay socket, a socket of mode 0600" \
	test "$(stat -c '%F %a' "$MSOCK")" = "socket 600"

scrape() { ip netns exec "$NODE" curl -s --max-time 5 http://127.0.0.1:9453/metrics >"$TMP/metrics"; }
sample() { awk -v s="$1" '$1 == s { v = $2 } END { print v == "" ? "none" : v }' "$TMP/metrics"; }
ops() { sample "plexus_attachment_operations_total{network=\"$1\",plugin=\"macvlan\",verb=\"$2\",result=\"$3\"}"; }
accepted() { scrape; [ "$(sample 'plexus_attachment_reports_total{result="accepted"}')" = "$1" ]; }
wait_for() { for _ in $(seq 60); do eval "$1" && return 0; sleep 0.05; done; return 1; }

# ---- real ADD/DEL, exact counts ----------------------------------------------------------------
plexus ADD pod-a
check "metrics-meta: ADD pod-a (cluster, mv-a, mv-b) succeeds" test "$RC" -eq 0
plexus ADD pod-b
CODE=$(jq -r .code <<<"$OUT")
check "metrics-meta: ADD pod-b fails at mv-bad's missing master (code $CODE)" test "$RC" -ne 0 -a "$CODE" -gt 0
plexus ADD pod-c
check "metrics-meta: ADD pod-c, whose NAD's name is 253 characters, succeeds" test "$RC" -eq 0
plexus DEL pod-a
check "metrics-meta: DEL pod-a succeeds" test "$RC" -eq 0
check "metrics-meta: 8 reports accepted (3 ADD, 1 DEL, each with its pool report; the rollback is not a DEL)" wait_for 'accepted 8'
check "metrics-meta: promtool check metrics accepts the exposition" promtool check metrics <"$TMP/metrics"
COUNTS=$(for s in "kube-system/cluster ADD ok" "default/mv-a ADD ok" "default/mv-b ADD ok" \
	"default/mv-bad ADD error" "default/mv-bad ADD ok" "default/$LONG ADD ok" \
	"kube-system/cluster DEL ok" "default/mv-a DEL ok" "default/mv-b DEL ok"; do
	ops $s; done | paste -sd' ')
check "metrics-meta: exact ADD/DEL counts per network: 3 2 1, mv-bad 1 error, long 1, DEL 1 1 1" \
	test "$COUNTS" = "3 2 1 1 none 1 1 1 1"
[ "$COUNTS" = "3 2 1 1 none 1 1 1 1" ] || { echo "counts: $COUNTS"; grep attachment "$TMP/metrics"; }
check "metrics-meta: the error counted under its CNI code" \
	test "$(sample "plexus_attachment_errors_total{network=\"default/mv-bad\",plugin=\"macvlan\",verb=\"ADD\",code=\"$CODE\"}")" = 1
check "metrics-meta: one errors series in all" test "$(grep -c '^plexus_attachment_errors_total{' "$TMP/metrics")" = 1
check "metrics-meta: ADD latency histogram of the cluster network counts 3, its sum > 0" \
	bash -c "[ '$(sample 'plexus_attachment_duration_seconds_count{network="kube-system/cluster",plugin="macvlan",verb="ADD"}')' = 3 ] &&
		awk 'BEGIN { exit !($(sample 'plexus_attachment_duration_seconds_sum{network="kube-system/cluster",plugin="macvlan",verb="ADD"}') > 0) }'"

# ---- IPAM pool usage: the last report of each network, exact ------------------------------------
pool() { sample "plexus_ipam_pool_$1{network=\"$2\",plugin=\"macvlan\",ipam=\"host-local\",range=\"$3\"}"; }
# Each /24 hands out .1 to .254 but the gateway (.1): 253. After pod-a's ADD (1 lease in each
# of cluster, mv-a, mv-b), pod-b's failed ADD (rolled back: cluster 1, mv-a 1, mv-bad never
# leased), pod-c's ADD (cluster 2, long 1) and pod-a's DEL: cluster 1, mv-a 0, mv-b 0, long 1.
POOLS=$(for s in "kube-system/cluster 10.230.0.0/24" "default/mv-a 10.231.0.0/24" "default/mv-b 10.232.0.0/24" \
	"default/mv-bad 10.233.0.0/24" "default/$LONG 10.234.0.0/24"; do
	echo "$(pool addresses $s)/$(pool allocated $s)"; done | paste -sd' ')
check "metrics-meta: pool gauges per network and range: sizes 253, leases 1 0 0 0 1 as on disk" \
	test "$POOLS" = "253/1 253/0 253/0 253/0 253/1"
[ "$POOLS" = "253/1 253/0 253/0 253/0 253/1" ] || { echo "pools: $POOLS"; grep ipam_pool "$TMP/metrics"; }
check "metrics-meta: ... and they match the store: cluster holds $(leases "$TMP/ipam-c/cluster") lease(s)" \
	test "$(leases "$TMP/ipam-c/cluster")" = "$(pool allocated kube-system/cluster 10.230.0.0/24)"
check "metrics-meta: 5 pools in all, none overflowed" \
	test "$(grep -c '^plexus_ipam_pool_addresses{' "$TMP/metrics")/$(sample plexus_ipam_pool_overflow_total)" = 5/0

# ---- CHECK and GC ------------------------------------------------------------------------------
plexus CHECK pod-c
check "metrics-meta: CHECK pod-c passes" test "$RC" -eq 0
GC_CONF=$(jq -c '.cniVersion = "1.1.0" | . + {"cni.dev/valid-attachments":[]}' <<<"$CONF")
ip netns exec "$NODE" env -i PATH="$PATH" PLEXUS_RUN_DIR="$TMP/run" CNI_COMMAND=GC CNI_PATH=/usr/lib/cni \
	"$P" <<<"$GC_CONF" >/dev/null 2>"$TMP/stderr"
check "metrics-meta: GC with no valid attachment (pod-c is stale) succeeds" test "$?" -eq 0
check "metrics-meta: 3 more reports accepted (CHECK; GC and its pool report)" wait_for 'accepted 11'
check "metrics-meta: CHECK and GC counted for pod-c's two networks, nothing for the others" \
	test "$(for s in "kube-system/cluster CHECK ok" "default/$LONG CHECK ok" "kube-system/cluster GC ok" \
		"default/$LONG GC ok" "default/mv-a GC ok" "default/mv-a CHECK ok"; do ops $s; done | paste -sd' ')" = "1 1 1 1 none none"
check "metrics-meta: after GC removed pod-c, its pools show no lease" \
	test "$(pool allocated kube-system/cluster 10.230.0.0/24)/$(pool allocated "default/$LONG" 10.234.0.0/24)" = 0/0

# ---- hostile datagrams: junk, and more pairs than the cap ---------------------------------------
ip netns exec "$NODE" python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); p = sys.argv[1]
for d in [b"junk", b"plexus-report 1 ADD\nx\"} 1\nevil 1 0\n", b"plexus-report 1 ADD\n" + b"n p 1 0\n" * 3000]:
    s.sendto(d, p)
for i in range(520):
    s.sendto(("plexus-report 1 ADD\nflood/n%d macvlan 1 0\n" % i).encode(), p)' "$MSOCK"
# 5 pairs are known (cluster, mv-a, mv-b, mv-bad, the long one): 507 flood pairs kept, 13 folded.
check "metrics-meta: 3 junk datagrams (one 24 KB) counted invalid, 520 flood reports accepted" \
	wait_for 'accepted 531 && [ "$(sample "plexus_attachment_reports_total{result=\"invalid\"}")" = 3 ]'
check "metrics-meta: pairs beyond the cap of 512 fold into network=\"other\" and are counted" \
	test "$(sample 'plexus_attachment_operations_total{network="other",plugin="other",verb="ADD",result="ok"}') $(sample plexus_attachment_overflow_total)" = "13 13"
check "metrics-meta: series stay bounded: 512 distinct networks + other" \
	test "$(grep '^plexus_attachment_operations_total{' "$TMP/metrics" | grep -o 'network="[^"]*",plugin="[^"]*"' | sort -u | wc -l)" = 513
check "metrics-meta: nothing of the junk reached the exposition" bash -c "! grep -q evil '$TMP/metrics'"
check "metrics-meta: promtool still accepts it" promtool check metrics <"$TMP/metrics"

# ---- apid down: ADD does not care ---------------------------------------------------------------
kill "$APID_PID" && wait "$APID_PID" 2>/dev/null
check "metrics-meta: plexus-apid removed metrics.sock at exit" test ! -e "$MSOCK"
plexus ADD pod-d
check "metrics-meta: with plexus-apid down, ADD pod-d still succeeds" test "$RC" -eq 0
plexus DEL pod-d
plexus DEL pod-c
check "metrics-meta: plexus-apid exited without sanitizer findings" \
	bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$ALOG'"

# ---- the dashboard: every query parses (Grafana's variables as Prometheus would see them) ------
jq -r '.panels[].targets[]?.expr' "$TOP/docs/grafana-dashboard.json" |
	sed 's/\$__rate_interval/5m/g; s/\$network/.*/g' |
	jq -Rn '{groups:[{name:"dashboard",rules:([inputs] | to_entries | map({record:"plexus:dashboard_\(.key)", expr:.value}))}]}' >"$TMP/rules.json"
check "metrics-meta: the dashboard's $(jq '.groups[0].rules | length' "$TMP/rules.json") queries parse (promtool check rules)" \
	bash -c "promtool check rules '$TMP/rules.json' >'$TMP/rules.out' 2>&1 && grep -q 'SUCCESS: 14 rules found' '$TMP/rules.out'"
