#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plexus-install in temp dirs: atomic binary copies, kubeconfig and token copies, cluster network
# auto-detection (waiting, half-written files, timeout), 00-plexus.conflist (checked with jq and
# parsed by the real meta-plugin), --uninstall, the watch mode (token rotation, conf changes), and
# SIGTERM: prompt exit also as PID 1, the conf removed, kept (--keep-on-exit) or handed over.
source "$(dirname "$0")/../lib.sh"
INST=$BIN/plexus-install
TMP=$(t_tmpdir)
BG=() # background pids we started
cleanup_bg() { local p; for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap 'cleanup_bg; t_cleanup' EXIT

if [ ! -x "$INST" ] || [ ! -x "$BIN/plexus" ]; then
	fail "build first: $INST and $BIN/plexus are needed"
	exit 0
fi

# The image's /usr/lib/plexus: the real binaries plus things that must not be installed.
SRC=$TMP/src
mkdir -p "$SRC"
cp "$BIN"/plexus "$BIN"/plexus-* "$SRC/"
echo 'not a plugin' >"$SRC/README"
echo 'daemon' >"$SRC/plexus-device-plugin"
echo 'daemon' >"$SRC/plexus-dra"

# new_host: fresh HOST (/host of the pod), CONF, CBIN, SA, with a service account.
new_host() {
	T_N=$((T_N + 1))
	HOST=$TMP/host$T_N SA=$TMP/sa$T_N
	CONF=$HOST/etc/cni/net.d CBIN=$HOST/opt/cni/bin
	mkdir -p "$CONF" "$SA"
	echo "token-$T_N-a" >"$SA/token"
	printf -- '-----BEGIN CERTIFICATE-----\nMIIfake%s\n-----END CERTIFICATE-----\n' "$T_N" >"$SA/ca.crt"
}
# inst ARGS...: run the installer for $HOST; sets RC, OUT (stderr+stdout).
inst() {
	OUT=$(KUBERNETES_SERVICE_HOST=${KHOST:-10.96.0.1} KUBERNETES_SERVICE_PORT=443 \
		"$INST" --src-bin-dir "$SRC" --sa-dir "$SA" --host-root "$HOST" \
		--cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" --readiness-timeout 5 "$@" 2>&1)
	RC=$?
}
bridge_conf() { # FILE [VERSION]
	jq -n --arg v "${2:-1.1.0}" '{cniVersion:$v,name:"cbr0",plugins:[{type:"bridge",bridge:"cni0",
		ipam:{type:"host-local",subnet:"10.244.0.0/24"}},{type:"portmap",capabilities:{portMappings:true}}]}' >"$1"
}
expect() { # NAME WANT-RC MSG-SUBSTRING
	if [ "$RC" -eq "$2" ] && [[ $OUT == *"$3"* ]]; then pass "$1"; else fail "$1: rc=$RC out=$OUT"; fi
}
mode() { stat -c %a "$1"; }
jqq() { jq -e "$@" >/dev/null 2>&1; }
# wait_for SECONDS CMD...: poll a condition of the test (not of the installer) for a while.
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done
}

# ---- command line ---------------------------------------------------------------------------
OUT=$("$INST" --help) && RC=0 || RC=$?
expect "--help exits 0 and documents --readiness-timeout" 0 "--readiness-timeout"
OUT=$("$INST" --bogus 2>&1) && RC=0 || RC=$?
expect "an unknown option is exit 2 naming it" 2 "'--bogus'"
OUT=$("$INST" --readiness-timeout 5x 2>&1) && RC=0 || RC=$?
expect "a bad --readiness-timeout is exit 2 naming it" 2 "--readiness-timeout '5x'"

# ---- one install ------------------------------------------------------------------------------
new_host
bridge_conf "$CONF/10-bridge.conflist"
bridge_conf "$CONF/20-later.conflist" 0.4.0
echo '{"cniVersion":"0.3.1","name":"m","type":"multus","kubeconfig":"/x"}' >"$CONF/05-multus.conf"
echo '{"half' >"$CONF/.01-hidden.conf"
echo 'notes' >"$CONF/01-notes.txt"
inst --once
expect "install --once succeeds" 0 "wrote"
ok=1
for b in "$SRC"/plexus "$SRC"/plexus-*; do
	n=$(basename "$b")
	case $n in plexus-device-plugin | plexus-dra | plexus-install) continue ;; esac
	cmp -s "$b" "$CBIN/$n" && [ "$(mode "$CBIN/$n")" = 755 ] || { ok=0; echo "bad copy $n"; }
done
check "every plexus plugin binary is installed, identical, mode 0755" test $ok = 1
# A runtime may exec a plugin the moment it appears under its name, and exec of a file still
# open for writing fails (ETXTBSY): every temp file must be closed before its rename.
if command -v strace >/dev/null; then
	KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 strace -f -qq -o "$TMP/install.strace" \
		-e trace=openat,close,rename "$INST" --src-bin-dir "$SRC" --sa-dir "$SA" --host-root "$HOST" \
		--cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" --readiness-timeout 5 --once >/dev/null 2>&1
	OPEN_AT_RENAME=$(awk '
		/openat\(.*plexus-tmp\..*= [0-9]+$/ { match($0, /"[^"]*"/); fd[$NF] = substr($0, RSTART + 1, RLENGTH - 2) }
		/close\([0-9]+\)/ { match($0, /close\([0-9]+/); n = substr($0, RSTART + 6, RLENGTH - 6); if (n in fd) { shut[fd[n]] = 1; delete fd[n] } }
		/rename\(".*plexus-tmp\./ { match($0, /"[^"]*"/); t = substr($0, RSTART + 1, RLENGTH - 2); renames++; if (!(t in shut)) print "open: " t }
		END { print renames + 0 " renames" }' "$TMP/install.strace")
	check "every temp file is closed before it is renamed into place ($(tail -n1 <<<"$OPEN_AT_RENAME"))" \
		bash -c "[ \"\$(grep -c '^open: ' <<<'$OPEN_AT_RENAME')\" = 0 ] && [ '$(tail -n1 <<<"$OPEN_AT_RENAME" | cut -d' ' -f1)' -gt 0 ]"
else
	fail "strace missing (scripts/setup.sh installs it)"
fi
check "plexus-install, plexus-device-plugin, plexus-dra and README are not installed" \
	test ! -e "$CBIN/plexus-install" -a ! -e "$CBIN/plexus-device-plugin" \
	-a ! -e "$CBIN/plexus-dra" -a ! -e "$CBIN/README"
check "no temp files are left in the bin and conf dirs" \
	test -z "$(find "$CBIN" "$CONF" -name '*plexus-tmp*')"
KC=$CONF/plexus.d/plexus.kubeconfig
check "kubeconfig is mode 0600" test "$(mode "$KC")" = 600
check "token copy is mode 0600 and equals the service account token" \
	bash -c "[ \$(stat -c %a '$CONF/plexus.d/token') = 600 ] && cmp -s '$SA/token' '$CONF/plexus.d/token'"
check "CA copy equals the service account CA" cmp -s "$SA/ca.crt" "$CONF/plexus.d/ca.crt"
kc() { python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$KC" "$1"; }
check "kubeconfig server is https://KUBERNETES_SERVICE_HOST:PORT" \
	test "$(kc 'd["clusters"][0]["cluster"]["server"]')" = https://10.96.0.1:443
check "kubeconfig certificate-authority is the host path of the CA copy" \
	test "$(kc 'd["clusters"][0]["cluster"]["certificate-authority"]')" = /etc/cni/net.d/plexus.d/ca.crt
check "kubeconfig tokenFile is the host path of the token copy (stable across rotation)" \
	test "$(kc 'd["users"][0]["user"]["tokenFile"]')" = /etc/cni/net.d/plexus.d/token
check "kubeconfig current-context resolves to that cluster and user" \
	test "$(kc '[c["context"] for c in d["contexts"] if c["name"] == d["current-context"]][0]')" \
	= "{'cluster': 'local', 'user': 'plexus'}"
check "the kubeconfig holds no token" bash -c "! grep -q token-1-a '$KC'"

CL=$CONF/00-plexus.conflist
check "00-plexus.conflist is mode 0644" test "$(mode "$CL")" = 644
jqc() { jq -e "$1" "$CL" >/dev/null; }
check "conflist: cniVersion is the cluster network's (1.1.0)" jqc '.cniVersion == "1.1.0"'
check "conflist: name plexus-cni-network, one plugin of type plexus" \
	jqc '.name == "plexus-cni-network" and (.plugins | length) == 1 and .plugins[0].type == "plexus"'
check "conflist: clusterNetwork is the first non-plexus conf (multus, hidden and .txt skipped)" \
	jqc '.plugins[0].clusterNetwork == "/etc/cni/net.d/10-bridge.conflist"'
check "conflist: kubeconfig is the host path" \
	jqc '.plugins[0].kubeconfig == "/etc/cni/net.d/plexus.d/plexus.kubeconfig"'
check "conflist: capabilities (fixed ones plus the cluster network's portMappings)" \
	jqc '.plugins[0].capabilities == {"portMappings":true,"bandwidth":true,"io.kubernetes.cri.pod-annotations":true}'
check "conflist: cniDir, confDir, logLevel" \
	jqc '.plugins[0] | .cniDir == "/var/lib/cni/multus" and .confDir == "/etc/cni/multus/net.d" and .logLevel == "warning"'

check "conflist: no apiRelay unless asked" jqc '.plugins[0] | has("apiRelay") | not'
inst --once --log-level debug --log-file /var/log/plexus.log --cni-dir /var/lib/cni/px \
	--api-relay /run/plexus/api.sock
check "options reach the conf: logLevel, logFile, cniDir, apiRelay" \
	jqc '.plugins[0] | .logLevel == "debug" and .logFile == "/var/log/plexus.log" and .cniDir == "/var/lib/cni/px" and .apiRelay == "/run/plexus/api.sock"'
OUT=$("$INST" --once --api-relay run/api.sock 2>&1) && RC=0 || RC=$?
expect "--api-relay must be absolute (usage error 2)" 2 "must be an absolute path"
KHOST=fd00::1 inst --once
check "an IPv6 API host is bracketed" test "$(kc 'd["clusters"][0]["cluster"]["server"]')" = "https://[fd00::1]:443"
OUT=$(env -u KUBERNETES_SERVICE_HOST "$INST" --once --src-bin-dir "$SRC" --sa-dir "$SA" \
	--host-root "$HOST" --cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" 2>&1) && RC=0 || RC=$?
expect "no KUBERNETES_SERVICE_HOST is exit 1 naming it" 1 KUBERNETES_SERVICE_HOST
OUT=$(KUBERNETES_SERVICE_HOST=h KUBERNETES_SERVICE_PORT=1 "$INST" --once --src-bin-dir "$SRC" \
	--sa-dir "$TMP/nosa" --cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" 2>&1) && RC=0 || RC=$?
expect "a missing service account is exit 1 naming the file" 1 "$TMP/nosa/ca.crt"
OUT=$(KUBERNETES_SERVICE_HOST=h KUBERNETES_SERVICE_PORT=1 "$INST" --once --src-bin-dir "$TMP/nosrc" \
	--sa-dir "$SA" --cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" 2>&1) && RC=0 || RC=$?
expect "a missing --src-bin-dir is exit 1 naming it" 1 "--src-bin-dir '$TMP/nosrc'"

# ---- umask does not weaken or widen modes ----------------------------------------------------
new_host
bridge_conf "$CONF/10-bridge.conflist"
(umask 077; inst --once; exit $RC)
check "under umask 077 binaries are still 0755 and the conflist 0644" \
	test "$(mode "$CBIN/plexus")" = 755 -a "$(mode "$CONF/00-plexus.conflist")" = 644

# ---- the real meta-plugin parses what we wrote (no host root: paths are real) -----------------
# The cluster network is the fake plugin, so STATUS (which plexus forwards to the cluster
# network) shows that plexus read our conf and followed clusterNetwork to the file.
new_host
jq -n '{cniVersion:"1.1.0",name:"cbr0",plugins:[{type:"fake-plugin"}]}' >"$CONF/10-fake.conflist"
inst --once --host-root ''
CL=$CONF/00-plexus.conflist
# The runtime hands each plugin of a conflist its conf with the list's name and cniVersion.
PCONF=$(jq -c '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$CL")
OUT=$(echo "$PCONF" | env -i CNI_COMMAND=VERSION "$BIN/plexus" 2>&1) && RC=0 || RC=$?
check "meta-plugin VERSION on the written conf" \
	bash -c "[ $RC -eq 0 ] && jq -e '.cniVersion == \"1.1.0\"' <<<'$OUT' >/dev/null"
FIX=$TOP/tests/fixtures/bin
OUT=$(echo "$PCONF" | env -i CNI_COMMAND=STATUS CNI_PATH="$FIX" FAKE_LOG="$TMP/fake.log" \
	"$BIN/plexus" 2>/dev/null) && RC=0 || RC=$?
check "meta-plugin STATUS accepts the written conf" test "$RC" -eq 0 -a -z "$OUT"
check "... and reached the cluster network through clusterNetwork" \
	grep -qx "STATUS fake-plugin" "$TMP/fake.log"
BAD=$(jq -c 'del(.clusterNetwork)' <<<"$PCONF")
OUT=$(echo "$BAD" | env -i CNI_COMMAND=STATUS CNI_PATH="$FIX" "$BIN/plexus" 2>/dev/null) && RC=0 || RC=$?
check "(control) STATUS without clusterNetwork is refused, so the check above means something" \
	bash -c "[ $RC -ne 0 ] && jq -e '.code == 7' <<<'$OUT' >/dev/null"
check "clusterNetwork and kubeconfig name files that exist" \
	bash -c "[ -f \"\$(jq -r .plugins[0].clusterNetwork '$CL')\" ] && [ -f \"\$(jq -r .plugins[0].kubeconfig '$CL')\" ]"
jq '.cniVersion = "0.4.0"' "$CONF/10-fake.conflist" >"$TMP/v040" && mv "$TMP/v040" "$CONF/10-fake.conflist"
inst --once --host-root ''
check "a 0.4.0 cluster network gives a 0.4.0 conflist" jqq '.cniVersion == "0.4.0"' "$CL"

# ---- waiting for the cluster network ----------------------------------------------------------
new_host
inst --once --readiness-timeout 1
expect "no cluster network: exit 3 after --readiness-timeout, naming the dir" 3 \
	"--readiness-timeout 1s expired: no cluster network configuration"
[[ $OUT == *"$CONF"* ]] && pass "the timeout message names '$CONF'" || fail "timeout message: $OUT"
check "no conflist is written when there is no cluster network" test ! -e "$CONF/00-plexus.conflist"

new_host
( inst --once --readiness-timeout 20; echo "$RC" >"$TMP/wait.rc"; echo "$OUT" >"$TMP/wait.out" ) &
BG+=($!)
sleep 1
check "while waiting, no conflist exists" test ! -e "$CONF/00-plexus.conflist"
bridge_conf "$TMP/later.conflist"
mv "$TMP/later.conflist" "$CONF/10-later.conflist"
wait_for 10 test -e "$TMP/wait.rc"
check "a cluster network appearing later ends the wait (inotify) with exit 0" \
	test "$(cat "$TMP/wait.rc" 2>/dev/null)" = 0
check "... and the conflist names it" \
	jqq '.plugins[0].clusterNetwork == "/etc/cni/net.d/10-later.conflist"' "$CONF/00-plexus.conflist"

new_host
bridge_conf "$CONF/20-second.conflist"
printf '{"cniVersion":"1.0.0","name":"first","ty' >"$CONF/10-first.conf"
rm -f "$TMP/wait.rc"
( inst --once --readiness-timeout 20; echo "$RC" >"$TMP/wait.rc" ) &
BG+=($!)
sleep 1
check "a half-written first conf is waited for, not skipped for the next one" \
	test ! -e "$CONF/00-plexus.conflist"
printf 'pe":"bridge"}\n' >>"$CONF/10-first.conf"
wait_for 10 test -e "$TMP/wait.rc"
check "once complete, it is the cluster network" \
	jqq '.plugins[0].clusterNetwork == "/etc/cni/net.d/10-first.conf" and .cniVersion == "1.0.0"' \
	"$CONF/00-plexus.conflist"

new_host
bridge_conf "$CONF/00-aaa.conflist"
inst --once
expect "a cluster network sorting before 00-plexus.conflist is refused (exit 1)" 1 \
	"sorts before '00-plexus.conflist'"

new_host
bridge_conf "$CONF/10-bridge.conflist"
bridge_conf "$TMP/explicit.conflist" 0.3.1
inst --once --cluster-network "$TMP/explicit.conflist"
check "--cluster-network FILE is used as given" \
	jqq --arg p "$TMP/explicit.conflist" '.plugins[0].clusterNetwork == $p and .cniVersion == "0.3.1"' \
	"$CONF/00-plexus.conflist"
inst --once --cluster-network "$TMP/missing.conflist" --readiness-timeout 1
expect "a missing --cluster-network file times out naming it (exit 3)" 3 "$TMP/missing.conflist"

# ---- uninstall ----------------------------------------------------------------------------------
new_host
bridge_conf "$CONF/10-bridge.conflist"
inst --once
inst --uninstall
check "--uninstall removes 00-plexus.conflist and plexus.d" \
	test "$RC" -eq 0 -a ! -e "$CONF/00-plexus.conflist" -a ! -e "$CONF/plexus.d"
check "--uninstall keeps the cluster network's conf and the binaries" \
	test -f "$CONF/10-bridge.conflist" -a -x "$CBIN/plexus"
inst --uninstall
check "--uninstall twice is fine" test "$RC" -eq 0

# ---- a binary is never visible half-written ---------------------------------------------------
new_host
bridge_conf "$CONF/10-bridge.conflist"
BIG=$TMP/bigsrc
mkdir -p "$BIG"
head -c $((48 * 1024 * 1024)) /dev/urandom >"$BIG/plexus-big"
SIZE=$(stat -c %s "$BIG/plexus-big")
(
	n=0 bad=0
	while [ ! -e "$TMP/stop" ]; do
		s=$(stat -c %s "$CBIN/plexus-big" 2>/dev/null) || s=absent
		[ "$s" = absent ] || [ "$s" = "$SIZE" ] || bad=$((bad + 1))
		n=$((n + 1))
	done
	echo "$n $bad" >"$TMP/reader"
) &
BG+=($!)
for i in 1 2 3 4; do inst --once --src-bin-dir "$BIG"; done
touch "$TMP/stop"
wait_for 10 test -s "$TMP/reader"
read -r looks bad <"$TMP/reader"
check "a concurrent reader never saw a short plexus-big ($looks looks, 4 installs)" \
	test "${bad:-1}" = 0 -a "${looks:-0}" -gt 10
check "the big binary is complete after the installs" cmp -s "$BIG/plexus-big" "$CBIN/plexus-big"

# ---- watch mode: token rotation and cluster network changes ------------------------------------
# start_watch LOG [ARGS...]: an installer in watch mode for $HOST; sets WPID once it is watching.
start_watch() {
	local log=$1; shift
	KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 "$INST" --src-bin-dir "$SRC" \
		--sa-dir "$SA" --host-root "$HOST" --cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" "$@" \
		>"$log" 2>&1 &
	WPID=$!
	BG+=($WPID)
	wait_for 10 grep -qs watching "$log"
}
new_host
bridge_conf "$CONF/10-bridge.conflist"
start_watch "$TMP/watch.log"
check "without --once it keeps running after installing" kill -0 $WPID
KC_BEFORE=$(cat "$CONF/plexus.d/plexus.kubeconfig")
# The kubelet's projected volume swaps a symlink; a rename into the dir is the same event kind.
echo "token-rotated" >"$SA/.newtoken" && mv "$SA/.newtoken" "$SA/token"
check "a rotated token (rename) is copied within 5s" \
	wait_for 5 bash -c "[ \"\$(cat '$CONF/plexus.d/token')\" = token-rotated ]"
echo "token-rewritten" >"$SA/token"
check "a token rewritten in place is copied within 5s" \
	wait_for 5 bash -c "[ \"\$(cat '$CONF/plexus.d/token')\" = token-rewritten ]"
check "the copy stays 0600" test "$(mode "$CONF/plexus.d/token")" = 600
check "the kubeconfig itself is unchanged by rotation (tokenFile path is stable)" \
	test "$KC_BEFORE" = "$(cat "$CONF/plexus.d/plexus.kubeconfig")"
mkdir -p "$SA/..2024_01_01" && echo "token-symlinked" >"$SA/..2024_01_01/token" &&
	ln -sfn "..2024_01_01" "$SA/..data.tmp" && mv -T "$SA/..data.tmp" "$SA/..data" &&
	rm -f "$SA/token" && ln -s ..data/token "$SA/token"
check "a kubelet-style ..data symlink swap is followed" \
	wait_for 5 bash -c "[ \"\$(cat '$CONF/plexus.d/token')\" = token-symlinked ]"
bridge_conf "$CONF/05-new.conflist" 1.0.0
check "a new cluster network conf sorting first is picked up (conflist rewritten)" \
	wait_for 5 jqq '.plugins[0].clusterNetwork == "/etc/cni/net.d/05-new.conflist" and .cniVersion == "1.0.0"' \
	"$CONF/00-plexus.conflist"
rm "$CONF/05-new.conflist"
check "removing it falls back to the next one" \
	wait_for 5 jqq '.plugins[0].clusterNetwork == "/etc/cni/net.d/10-bridge.conflist"' \
	"$CONF/00-plexus.conflist"
rm "$CONF/10-bridge.conflist"
sleep 0.5
check "with no cluster network left, our conf is kept (ADD fails loudly instead)" \
	test -f "$CONF/00-plexus.conflist"
check "... and the installer says so" grep -q "keeping '00-plexus.conflist'" "$TMP/watch.log"
check "the installer is still running" kill -0 $WPID
check "watch mode leaves no temp files" test -z "$(find "$CBIN" "$CONF" -name '*plexus-tmp*')"

# ---- SIGTERM: prompt exit, uninstall, hand-over to a newer installer ---------------------------
# term_wait PID: SIGTERM, then wait for the exit; sets RC and MS (milliseconds it took).
term_wait() {
	local t0=$(date +%s%N)
	kill -TERM "$1"
	wait_for 5 bash -c "! kill -0 $1 2>/dev/null"
	MS=$((($(date +%s%N) - t0) / 1000000))
	wait "$1"
	RC=$?
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

new_host
bridge_conf "$CONF/10-bridge.conflist"
start_watch "$TMP/term.log"
check "watch mode: the owner file names this run (0600)" \
	test "$(mode "$CONF/plexus.d/owner" 2>/dev/null)" = 600
term_wait $WPID
check "SIGTERM: the installer exits 0 within 1s (${MS} ms)" test "$RC" = 0 -a "$MS" -lt 1000
check "SIGTERM: 00-plexus.conflist and plexus.d (kubeconfig, token, CA, owner) are removed" \
	test ! -e "$CONF/00-plexus.conflist" -a ! -e "$CONF/plexus.d"
check "SIGTERM: the cluster network's conf and the binaries stay" \
	test -f "$CONF/10-bridge.conflist" -a -x "$CBIN/plexus"
check "SIGTERM: the log says why" grep -q "Terminated: removing plexus's conf, exiting" "$TMP/term.log"

new_host
bridge_conf "$CONF/10-bridge.conflist"
start_watch "$TMP/keep.log" --keep-on-exit
term_wait $WPID
check "--keep-on-exit: SIGTERM exits 0 within 1s (${MS} ms) and keeps the conf and plexus.d" \
	test "$RC" = 0 -a "$MS" -lt 1000 -a -f "$CONF/00-plexus.conflist" -a -f "$CONF/plexus.d/token"

new_host
bridge_conf "$CONF/10-bridge.conflist"
start_watch "$TMP/old.log"
OLD=$WPID
OLD_OWNER=$(cat "$CONF/plexus.d/owner")
start_watch "$TMP/new.log" # a rolling update's new pod, started before the old one stops
NEW=$WPID
NEW_OWNER=$(cat "$CONF/plexus.d/owner")
check "a second installer claims the node (new owner id)" \
	test -n "$NEW_OWNER" -a "$NEW_OWNER" != "$OLD_OWNER"
term_wait $OLD
check "hand-over: SIGTERM to the old installer exits 0 within 1s (${MS} ms)" \
	test "$RC" = 0 -a "$MS" -lt 1000
check "hand-over: the conf, kubeconfig and token stay (the new installer owns them)" \
	test -f "$CONF/00-plexus.conflist" -a -f "$CONF/plexus.d/plexus.kubeconfig" -a -f "$CONF/plexus.d/token"
check "hand-over: the old installer says so" grep -q "is no longer this installer's" "$TMP/old.log"
echo "token-after-handover" >"$SA/token"
check "hand-over: the new installer still follows token rotation" \
	wait_for 5 bash -c "[ \"\$(cat '$CONF/plexus.d/token')\" = token-after-handover ]"
term_wait $NEW
check "hand-over: SIGTERM to the last installer removes the conf" \
	test "$RC" = 0 -a ! -e "$CONF/00-plexus.conflist" -a ! -e "$CONF/plexus.d"

new_host
bridge_conf "$CONF/10-bridge.conflist"
start_watch "$TMP/uninst.log"
inst --uninstall
check "--uninstall next to a running installer removes the conf and plexus.d" \
	test "$RC" = 0 -a ! -e "$CONF/00-plexus.conflist" -a ! -e "$CONF/plexus.d"
bridge_conf "$CONF/05-new.conflist"
sleep 0.5
check "... and the running installer, no longer the owner, does not write it again" \
	test ! -e "$CONF/00-plexus.conflist"
term_wait $WPID
check "... and exits 0 on SIGTERM within 1s (${MS} ms), leaving the node alone" \
	test "$RC" = 0 -a "$MS" -lt 1000 -a ! -e "$CONF/00-plexus.conflist" -a -f "$CONF/05-new.conflist"

new_host # no cluster network: the installer is waiting for one
KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 "$INST" --src-bin-dir "$SRC" \
	--sa-dir "$SA" --host-root "$HOST" --cni-bin-dir "$CBIN" --cni-conf-dir "$CONF" \
	--readiness-timeout 60 >"$TMP/wait-term.log" 2>&1 &
WPID=$!
BG+=($WPID)
wait_for 10 grep -qs "waiting for the cluster network" "$TMP/wait-term.log"
term_wait $WPID
check "SIGTERM while waiting for the cluster network: exit 0 within 1s (${MS} ms), no conf" \
	test "$RC" = 0 -a "$MS" -lt 1000 -a ! -e "$CONF/00-plexus.conflist"

# As PID 1 of a PID namespace (as in its container) the kernel drops signals left at their
# default action; the installer must still stop on SIGTERM.
if [ "$(id -u)" -ne 0 ]; then
	skip "SIGTERM as PID 1: needs root (unshare --pid)"
else
	# pid1 LOG CMD...: CMD as PID 1 of a new PID namespace; sets P1 (its pid here).
	pid1() {
		local log=$1; shift
		unshare --pid --fork "$@" >"$log" 2>&1 &
		BG+=($!)
		wait_for 5 test -s "/proc/$!/task/$!/children"
		P1=$(tr -d ' ' <"/proc/$!/task/$!/children")
	}
	pid1 "$TMP/ctl.log" sleep 30
	kill -TERM "$P1"
	sleep 0.5
	check "(control) a PID 1 without a handler survives SIGTERM" kill -0 "$P1"
	kill -KILL "$P1"
	new_host
	bridge_conf "$CONF/10-bridge.conflist"
	pid1 "$TMP/pid1.log" env KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 \
		"$INST" --src-bin-dir "$SRC" --sa-dir "$SA" --host-root "$HOST" \
		--cni-bin-dir "$CBIN" --cni-conf-dir "$CONF"
	wait_for 10 grep -qs watching "$TMP/pid1.log"
	check "the installer runs as PID 1 of its namespace" \
		bash -c "grep -q '^NSpid:.*[[:space:]]1\$' /proc/$P1/status"
	t0=$(now_ms)
	kill -TERM "$P1"
	wait_for 5 bash -c "! kill -0 $P1 2>/dev/null"
	MS=$(($(now_ms) - t0))
	check "as PID 1, SIGTERM ends the installer within 1s (${MS} ms) and removes the conf" \
		test "$MS" -lt 1000 -a ! -e "$CONF/00-plexus.conflist"
fi
