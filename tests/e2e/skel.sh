#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Black-box tests of the CNI protocol layer (lib/cni/skel.c) through plexus-macvlan: env
# validation, version negotiation, verb gating, error JSON on stdout, STATUS/GC forwarding.
# None of these touch the kernel, so they run without root.
source "$(dirname "$0")/../lib.sh"
P=${MACVLAN_BIN:-$BIN/plexus-macvlan}
FIX=$TOP/tests/fixtures/bin
TMP=$(t_tmpdir)

# run ENV... -- STDIN: runs the plugin; sets OUT, ERR, RC.
run() {
	local envs=() in
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	in=$2
	OUT=$(env -i PATH="$PATH" "${envs[@]}" "$P" <<<"$in" 2>"$TMP/stderr")
	RC=$?
	ERR=$(cat "$TMP/stderr")
}
# expect_error NAME CODE MSG-SUBSTRING
expect_error() {
	local code msg
	code=$(jq -r .code <<<"$OUT" 2>/dev/null) msg=$(jq -r .msg <<<"$OUT" 2>/dev/null)
	if [ "$RC" -ne 0 ] && [ "$code" = "$2" ] && [[ $msg == *"$3"* ]]; then pass "$1"
	else fail "$1: rc=$RC out=$OUT (want code $2, msg with '$3')"; fi
}
expect_ok_empty() {
	if [ "$RC" -eq 0 ] && [ -z "$OUT" ]; then pass "$1"; else fail "$1: rc=$RC out=$OUT err=$ERR"; fi
}
V10='{"cniVersion":"1.0.0","name":"n","type":"macvlan","master":"nonexistent0"}'
V11='{"cniVersion":"1.1.0","name":"n","type":"macvlan"}'
ADD=(CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/var/run/netns/none CNI_IFNAME=net1 CNI_PATH=$FIX)

run CNI_COMMAND=VERSION -- '{"cniVersion":"0.4.0"}'
check "VERSION echoes a supported request version" test "$(jq -r .cniVersion <<<"$OUT")" = 0.4.0
check "VERSION lists 0.1.0 to 1.1.0" test "$(jq -c .supportedVersions <<<"$OUT")" = \
	'["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'
run CNI_COMMAND=VERSION CNI_NETNS=dummy CNI_IFNAME=dummy -- ''
check "VERSION with empty stdin answers the latest version" test "$(jq -r .cniVersion <<<"$OUT")" = 1.1.0

run -- ''
check "no CNI_COMMAND prints versions to stderr and exits 0" \
	bash -c "[ $RC -eq 0 ] && [ -z '$OUT' ] && grep -q 'CNI protocol versions supported' '$TMP/stderr'"

run CNI_COMMAND=ADD -- "$V10"
expect_error "missing env names every variable" 4 "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]"
run CNI_COMMAND=FROB -- "$V10"
expect_error "unknown CNI_COMMAND" 4 "unknown CNI_COMMAND: FROB"
run "${ADD[@]}" CNI_IFNAME=this-name-is-too-long -- "$V10"
expect_error "ifname longer than 15" 4 "CNI_IFNAME"
run "${ADD[@]}" CNI_CONTAINERID='bad id!' -- "$V10"
expect_error "bad container id" 4 "CNI_CONTAINERID"
run "${ADD[@]}" CNI_ARGS='IgnoreUnknown=1;BROKEN' -- "$V10"
expect_error "CNI_ARGS pair without =" 4 "CNI_ARGS"
run "${ADD[@]}" -- '{"cniVersion":"1.0.0",'
expect_error "malformed JSON is code 6" 6 "network configuration"
run "${ADD[@]}" -- '{"cniVersion":"0.5.0","name":"n"}'
expect_error "unknown version is code 1" 1 "0.5.0"
run "${ADD[@]}" -- '{"cniVersion":"one","name":"n"}'
expect_error "malformed version is code 6" 6 "one"
run "${ADD[@]}" -- '{"cniVersion":"1.0.0","name":"bad/name"}'
expect_error "network name with / is code 7" 7 "name"
run "${ADD[@]}" -- '{"cniVersion":"1.0.0"}'
expect_error "missing network name is code 7" 7 "name"
check "error JSON echoes the request cniVersion" test "$(jq -r .cniVersion <<<"$OUT")" = 1.0.0
run "${ADD[@]}" CNI_COMMAND=CHECK -- '{"cniVersion":"0.3.1","name":"n"}'
expect_error "CHECK below 0.4.0 is code 1" 1 "CHECK"
run CNI_COMMAND=STATUS CNI_PATH=$FIX -- "$V10"
expect_error "STATUS below 1.1.0 is code 1" 1 "STATUS"
run CNI_COMMAND=GC CNI_PATH=$FIX -- "$V10"
expect_error "GC below 1.1.0 is code 1" 1 "GC"
run "${ADD[@]}" -- "$V10"
expect_error "ADD with a missing netns path" 105 "/var/run/netns/none"
run "${ADD[@]}" CNI_NETNS=/proc/self/ns/net -- "$V10"
expect_error "ADD into the plugin's own netns is code 8" 8 "should not be the same"
run "${ADD[@]}" CNI_NETNS=/etc/hostname -- "$V10"
expect_error "ADD with a netns path that is not a netns is code 8" 8 "/etc/hostname"

run CNI_COMMAND=STATUS CNI_PATH=$FIX -- "$V11"
expect_ok_empty "STATUS without IPAM is ready"
run CNI_COMMAND=GC CNI_PATH=$FIX -- "$V11"
expect_ok_empty "GC without IPAM succeeds"
IPAM11='{"cniVersion":"1.1.0","name":"n","type":"macvlan","ipam":{"type":"fake-plugin"}}'
run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=50 -- "$IPAM11"
expect_error "STATUS forwards IPAM's not-ready (50)" 50 "fake failure"
run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=4 FAKE_VERSIONS='["0.4.0","1.0.0"]' -- "$IPAM11"
expect_ok_empty "STATUS: IPAM older than 1.1.0 is not asked and counts as ready"
run CNI_COMMAND=GC CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=3 FAKE_VERSIONS='["0.4.0","1.0.0"]' -- "$IPAM11"
expect_ok_empty "GC: IPAM older than 1.1.0 is not asked"
run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=ok FAKE_RECORD=$TMP/status -- "$IPAM11"
expect_ok_empty "STATUS forwards to a 1.1.0 IPAM"
check "STATUS reached the IPAM" grep -qx CNI_COMMAND=STATUS "$TMP/status.env"
run CNI_COMMAND=GC CNI_PATH=$FIX FAKE_MODE=ok FAKE_RECORD=$TMP/gc -- \
	'{"cniVersion":"1.1.0","name":"n","ipam":{"type":"fake-plugin"},"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"net1"}]}'
expect_ok_empty "GC forwards to IPAM"
check "GC gives IPAM the whole config with valid-attachments" \
	test "$(jq -c '."cni.dev/valid-attachments"' "$TMP/gc.stdin")" = '[{"containerID":"c1","ifname":"net1"}]'
check "GC gives IPAM only CNI_COMMAND and CNI_PATH" \
	test "$(cut -d= -f1 "$TMP/gc.env" | tr '\n' ' ')" = "CNI_COMMAND CNI_PATH "
run CNI_COMMAND=GC CNI_PATH=$FIX -- '{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":{}}'
expect_error "GC with a malformed valid-attachments" 7 "cni.dev/valid-attachments"

run CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_IFNAME=net1 CNI_PATH=$FIX -- "$V10"
expect_ok_empty "DEL without CNI_NETNS and without IPAM succeeds"
run CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_IFNAME=net1 CNI_NETNS=/var/run/netns/gone CNI_PATH=$FIX -- "$V10"
expect_ok_empty "DEL with a vanished netns succeeds"
run CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_IFNAME=net1 CNI_PATH=$FIX FAKE_MODE=ok FAKE_RECORD=$TMP/del -- \
	'{"cniVersion":"1.0.0","name":"n","ipam":{"type":"fake-plugin"}}'
expect_ok_empty "DEL without netns still releases IPAM"
check "DEL ran IPAM DEL" grep -qx CNI_COMMAND=DEL "$TMP/del.env"
run CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_IFNAME=net1 CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=11 -- \
	'{"cniVersion":"1.0.0","name":"n","ipam":{"type":"fake-plugin"}}'
expect_error "DEL reports IPAM's failure (CNI spec §4)" 11 "ipam 'fake-plugin' DEL"
run "${ADD[@]}" CNI_NETNS= -- "$V10"
expect_error "ADD with empty CNI_NETNS" 4 "CNI_NETNS"
check "errors are logged on stderr, one line" bash -c "[ \$(wc -l <'$TMP/stderr') -eq 1 ] && grep -q ' error plexus-macvlan\[' '$TMP/stderr'"

# ---- plexus inside plexus (PLEXUS_DELEGATED), the delegate deadline, logFile -------------------
META=$BIN/plexus
# A legacy "delegates" conf whose cluster network is plexus again, with its own cniDir. The
# tenant policy refuses the type "plexus" everywhere; a copy under another name in CNI_PATH is
# what gets past it, and the marker stops that copy.
mkdir -p "$TMP/nbin"
cp "$META" "$TMP/nbin/meta-copy"
NESTED=$(jq -cn --arg b "$BIN" --arg c "$TMP/outer" --arg e "$TMP/nested" '{cniVersion:"1.1.0",
	name:"outer",type:"plexus",binDir:$b,cniDir:$c,delegates:[{cniVersion:"1.1.0",name:"inner",
	type:"meta-copy",cniDir:$e,delegates:[{cniVersion:"1.1.0",name:"x",type:"macvlan"}]}]}')
P=$META run CNI_COMMAND=STATUS CNI_PATH=$TMP/nbin:$BIN -- "$NESTED"
expect_error "plexus exec'd by plexus (under another name) refuses to run" 7 "plexus may not run as a delegate of plexus (PLEXUS_DELEGATED is set)"
check "... and the nested copy touched nothing" test ! -e "$TMP/nested"
P=$META run "${ADD[@]}" PLEXUS_DELEGATED=1 -- "$NESTED"
expect_error "plexus ADD with PLEXUS_DELEGATED=1 is refused before reading its conf" 7 "may not run as a delegate of plexus"
P=$META run CNI_COMMAND=VERSION PLEXUS_DELEGATED=1 -- '{"cniVersion":"1.0.0"}'
check "... VERSION is still answered" test "$(jq -r .cniVersion <<<"$OUT")" = 1.0.0
P=$BIN/plexus-macvlan run CNI_COMMAND=STATUS CNI_PATH=$FIX PLEXUS_DELEGATED=1 -- "$V11"
expect_ok_empty "the marker does not concern other plexus plugins"

SLOW=$(jq -cn --arg c "$TMP/outer" '{cniVersion:"1.1.0",name:"outer",type:"plexus",cniDir:$c,
	delegateTimeoutSeconds:1,delegates:[{cniVersion:"1.1.0",name:"slow",type:"fake-plugin"}]}')
P=$META run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=sleep -- "$SLOW"
expect_error "delegateTimeoutSeconds bounds an exec'd delegate" 11 "plugin 'fake-plugin' STATUS timed out after 1000 ms"
# A delegate that ignores SIGTERM, closes its stdout and hangs while a child it forked holds
# that stdout: the deadline still holds, and its whole process group is killed.
mkdir -p "$TMP/bin"
printf '%s\n' '#!/bin/sh' 'cat >/dev/null' "trap '' TERM" "(trap '' TERM; sleep 299.$T_ID) &" \
	'exec >&-' "sleep 298.$T_ID" >"$TMP/bin/hang"
chmod +x "$TMP/bin/hang"
P=$META run CNI_COMMAND=STATUS CNI_PATH="$TMP/bin" -- "$(jq -c '.delegates[0].type = "hang"' <<<"$SLOW")"
expect_error "a delegate hanging with stdout closed and a child holding it times out" 11 \
	"plugin 'hang' STATUS timed out after 1000 ms (killed)"
survivors() { pgrep -f "sleep 29[89]\.$T_ID" >/dev/null; }
for _ in $(seq 50); do survivors || break; sleep 0.02; done
check "... and no process of its group survives" bash -c "! pgrep -f 'sleep 29[89]\.$T_ID'"
for bad in 0 3601 '"10"' 1.5; do
	P=$META run CNI_COMMAND=STATUS CNI_PATH=$FIX -- "$(jq -c ".delegateTimeoutSeconds = $bad" <<<"$SLOW")"
	expect_error "delegateTimeoutSeconds $bad is code 7 naming the key" 7 "delegateTimeoutSeconds"
done

# logFile: a failing STATUS (IPAM not ready) logs one error line.
logconf() { jq -c --arg f "$1" '. + {logFile:$f}' <<<"$IPAM11"; }
P=$BIN/plexus-macvlan run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=50 -- "$(logconf "$TMP/plugin.log")"
check "logFile gets the error line, mode 0600" bash -c "grep -q 'fake failure' '$TMP/plugin.log' &&
	[ \$(stat -c %a '$TMP/plugin.log') = 600 ]"
P=$BIN/plexus-macvlan run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=50 PLEXUS_DELEGATED=1 -- \
	"$(logconf "$TMP/tenant.log")"
expect_error "a delegated plugin still answers" 50 "fake failure"
check "... but ignores logFile: no file, one warning" bash -c "[ ! -e '$TMP/tenant.log' ] &&
	[ \$(grep -c 'logFile ignored: running as a delegate of plexus' '$TMP/stderr') -eq 1 ]"
echo keep >"$TMP/target"
ln -s "$TMP/target" "$TMP/link.log"
P=$BIN/plexus-macvlan run CNI_COMMAND=STATUS CNI_PATH=$FIX FAKE_MODE=error FAKE_CODE=50 -- "$(logconf "$TMP/link.log")"
check "a symlinked logFile is refused, its target untouched" bash -c "[ \"\$(cat '$TMP/target')\" = keep ] &&
	grep -q \"cannot open logFile '$TMP/link.log': it is a symbolic link, ignoring\" '$TMP/stderr'"
mkfifo "$TMP/fifo.log"
OUT=$(timeout 10 env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH="$FIX" FAKE_MODE=error FAKE_CODE=50 \
	"$BIN/plexus-macvlan" <<<"$(logconf "$TMP/fifo.log")" 2>"$TMP/stderr")
RC=$?
check "a FIFO logFile neither blocks nor is used" bash -c "[ $RC -eq 1 ] &&
	grep -q \"cannot open logFile '$TMP/fifo.log': not a regular file, ignoring\" '$TMP/stderr'"
