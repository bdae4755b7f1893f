# SPDX-License-Identifier: Apache-2.0
# Crash tier driver: source it after tests/lib.sh. A plugin script calls crash_node, sets
#   CBIN, CONF                -> the plugin binary and its netconf
#   CRASH_DIRS                -> directories whose files plexus writes (snapshotted)
#   CRASH_KEEP (optional)     -> an ERE of files plexus keeps across DEL on purpose (not compared)
#   CRASH_ENV (optional)      -> extra VAR=VALUE for the plugin's environment
#   crash_env (optional)      -> its own version of crash_env below (e.g. CNI_ARGS per container)
#   crash_extra (optional)    -> prints extra leak descriptions (e.g. VF settings), "" = none
#   crash_gc (optional)       -> runs a GC after DEL in the power-loss pass
# and then calls crash_warmup, crash_kill_points NAME, crash_power_loss NAME.
#
# Kill points. strace counts `when=K` per system call name and per thread, so a kill point is a
# pair (syscall, K): SIGKILL is delivered on entry to the K-th call of that syscall by the first
# thread to reach it. The driver traces one ADD, takes for every syscall of CRASH_SET the largest
# per-thread count N, and replays ADD once per (syscall, 1..N). Processes plexus exec's (IPAM,
# delegates) are detached at execve (-b execve): the deterministic pass kills plexus's own code
# at each of its state-changing calls; kills inside delegates are the random pass's job.
# Every ADD runs as PID 1 of its own PID namespace (unshare --kill-child), so when plexus dies
# the kernel kills every process it started, as a runtime's timeout would.
#
# Variants of the runtime's DEL after the kill (CRASH_VARIANTS), taken round-robin over the kill
# points: every kill point runs once, each of the four default variants on a quarter of them:
#   once     DEL
#   twice    DEL, DEL
#   gone     ip netns del, then DEL with the stale CNI_NETNS path
#   empty    DEL with CNI_NETNS="", then the runtime removes the netns
# After DEL: exit 0, and nothing left: no link in the pod netns but lo, the node netns's links
# equal the baseline (VTEPs, bridges, host veths, temp-name links), the files under CRASH_DIRS
# equal the baseline (leases, intent logs, records, device-info, temp files), no process with
# the cycle's CNI_CONTAINERID, plus crash_extra. The baseline is taken after one complete
# ADD + DEL (crash_warmup), so state that persists by design (lock files, last_reserved_ip,
# the reference bridge plugin's cni0) is part of it.

CRASH_SET=${CRASH_SET:-write,pwrite64,writev,rename,renameat,renameat2,link,linkat,symlink,unlink,unlinkat,rmdir,mkdir,mkdirat,openat,ftruncate,fsync,fdatasync,flock,sendmsg,sendto,connect,setns,unshare,clone,clone3,execve,wait4,ioctl,fchmod,fchown,mount}
CRASH_VARIANTS=${CRASH_VARIANTS:-once twice gone empty}
CRASH_N=0 # cycle counter: unique container IDs and pod netns names
CRASH_NS_GONE=0 # 1 when the last crash_del deleted the pod netns
for t in strace unshare jq ip md5sum comm cmp truncate find stat; do
	command -v "$t" >/dev/null || { fail "crash: $t missing"; exit 1; }
done

# crash_node PREFIX [NIC]: sets TMP (a temp dir) and CRASH_NODE (the netns the plugin runs in;
# its links are snapshotted) = PREFIX<T_ID>, with lo up and, if NIC is given, a veth NIC/NICp up.
crash_node() {
	TMP=$(t_tmpdir)
	CRASH_NODE=$1$T_ID
	t_netns "$CRASH_NODE" && ip -n "$CRASH_NODE" link set lo up || exit 1
	[ -z "${2:-}" ] && return
	ip -n "$CRASH_NODE" link add "$2" type veth peer name "$2p" &&
		ip -n "$CRASH_NODE" link set "$2" up && ip -n "$CRASH_NODE" link set "$2p" up || exit 1
}
CRASH_ENV=()
# crash_env VERB CID NETNS: sets ENVCMD, the command prefix up to the binary: the plugin runs in
# the node netns with exactly the CNI environment (CNI_IFNAME = CRASH_IFNAME, default net1).
crash_env_base() {
	ENVCMD=(ip netns exec "$CRASH_NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2"
		CNI_NETNS="$3" CNI_IFNAME="${CRASH_IFNAME:-net1}" CNI_PATH="$REF_CNI" "${CRASH_ENV[@]}")
}
crash_env() { crash_env_base "$@"; }

# crash_pod: sets CPOD (netns name), CPODNS (path) and CCID for a new cycle.
crash_pod() {
	CRASH_N=$((CRASH_N + 1))
	CPOD=plxcr${T_ID}-$CRASH_N
	CPODNS=/run/netns/$CPOD
	CCID=crash-$T_ID-$CRASH_N
	t_netns "$CPOD" && ip -n "$CPOD" link set lo up
}

# crash_run VERB NETNS [STRACE_ARGS...]: run the plugin for the current cycle; sets RC, OUT.
# With strace arguments the binary runs under strace (-f -b execve), else bare; either way as
# PID 1 of a fresh PID namespace.
crash_run() {
	local verb=$1 ns=$2
	shift 2
	crash_env "$verb" "$CCID" "$ns"
	local pre=()
	# LeakSanitizer cannot work under ptrace (SANITIZE=1 builds): leaks are checked by the
	# untraced runs.
	[ $# -eq 0 ] || pre=(env ASAN_OPTIONS=detect_leaks=0 strace -f -b execve -qq "$@")
	OUT=$("${ENVCMD[@]}" unshare -pf --kill-child --mount-proc "${pre[@]}" "$CBIN" <<<"$CONF" 2>"$TMP/crash.err")
	RC=$?
}

# crash_files: the path of every file under CRASH_DIRS but CRASH_KEEP's, sorted.
crash_files() {
	local d
	for d in "${CRASH_DIRS[@]}"; do
		[ -d "$d" ] && find "$d" -type f -printf '%p\n'
	done | { if [ -n "${CRASH_KEEP:-}" ]; then grep -Ev -- "$CRASH_KEEP"; else cat; fi; } | sort
}
crash_links() { ip -n "$CRASH_NODE" -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort; }

crash_snapshot() {
	crash_files >"$TMP/base.files"
	crash_links >"$TMP/base.links"
}

# crash_leaks: prints what the cycle left behind (one item per line); nothing = clean. The
# kernel destroys a deleted netns's links asynchronously (the host end of a pod's veth goes with
# them), so after a DEL variant that deleted the netns a non-empty answer is re-checked for up
# to CRASH_SETTLE_MS (2000) before it counts.
crash_leaks() {
	local l waited=0 settle=0
	[ "$CRASH_NS_GONE" -eq 0 ] || settle=${CRASH_SETTLE_MS:-2000}
	while l=$(crash_leaks_now) && [ -n "$l" ] && [ "$waited" -lt "$settle" ]; do
		sleep 0.1
		waited=$((waited + 100))
	done
	[ -z "$l" ] || echo "$l"
}
# crash_new KIND: the lines of crash_KIND (links, files) not in the baseline; a failure to list
# or compare is printed as a leak, so a broken check fails the cycle instead of passing it.
crash_new() {
	local cur
	cur=$(mktemp "$TMP/cur.$1.XXXXXX") || { echo "driver error: no temp file for $1"; return; }
	if ! "crash_$1" >"$cur" || ! comm -13 "$TMP/base.$1" "$cur"; then
		echo "driver error: listing or comparing $1 failed"
	fi
	rm -f "$cur"
}
crash_leaks_now() {
	if ip netns list 2>/dev/null | grep -qw "^$CPOD"; then
		ip -n "$CPOD" -o link show 2>/dev/null | awk -F': ' '$2 != "lo" {sub(/@.*/, "", $2); print "pod link " $2}'
	fi
	crash_new links | sed 's/^/node link /'
	# plexus tags links it is about to delete with its link group (lib/net NET_DEL_GROUP,
	# "plxd"); a node link still tagged would go with the next group delete.
	ip -n "$CRASH_NODE" -o link show group 1886157924 2>/dev/null |
		awk -F': ' '{sub(/@.*/, "", $2); print "node link tagged for deletion " $2}'
	crash_new files | sed "s|^$TMP/|file |"
	grep -lsz "^CNI_CONTAINERID=$CCID\$" /proc/[0-9]*/environ | sed 's|^/proc/\([0-9]*\)/.*|process \1|'
	if declare -F crash_extra >/dev/null; then crash_extra; fi
}

# crash_reset: remove what a failed cycle left so the next cycle starts from the baseline.
crash_reset() {
	local l f
	for l in $(crash_new links); do ip -n "$CRASH_NODE" link del "$l" 2>/dev/null; done
	crash_new files | while IFS= read -r f; do rm -f "$f"; done
	if declare -F crash_extra_reset >/dev/null; then crash_extra_reset; fi
}

# crash_del VARIANT: the runtime's DEL after a crashed ADD; sets DRC (first failing rc, or 0).
crash_del() {
	DRC=0 CRASH_NS_GONE=0
	case $1 in gone | empty) CRASH_NS_GONE=1 ;; esac
	case $1 in
	once) crash_run DEL "$CPODNS"; DRC=$RC ;;
	twice)
		crash_run DEL "$CPODNS"; DRC=$RC
		crash_run DEL "$CPODNS"; [ "$DRC" -ne 0 ] || DRC=$RC ;;
	gone) ip netns del "$CPOD"; crash_run DEL "$CPODNS"; DRC=$RC ;;
	empty) crash_run DEL ""; DRC=$RC; ip netns del "$CPOD" ;;
	esac
	DOUT=$OUT
}

crash_warmup() {
	crash_pod
	crash_run ADD "$CPODNS"
	[ "$RC" -eq 0 ] || { fail "crash $1: warm-up ADD failed: $OUT $(cat "$TMP/crash.err")"; exit 1; }
	crash_run DEL "$CPODNS"
	[ "$RC" -eq 0 ] || { fail "crash $1: warm-up DEL failed: $OUT"; exit 1; }
	ip netns del "$CPOD"
	crash_snapshot
	local l
	l=$(crash_leaks)
	[ -z "$l" ] || { fail "crash $1: baseline not clean: $l"; exit 1; }
}

# crash_count FILE: trace one ADD; writes "syscall max-per-thread-count" for each syscall of
# CRASH_SET to FILE.
crash_count() {
	local rc
	crash_pod
	crash_run ADD "$CPODNS" -o "$TMP/count.trace" -e trace="$CRASH_SET"
	rc=$RC
	[ "$rc" -eq 0 ] || fail "crash: traced ADD failed (rc $rc): $OUT $(tail -n 5 "$TMP/crash.err")"
	crash_run DEL "$CPODNS"
	ip netns del "$CPOD"
	[ "$rc" -eq 0 ] || return 1
	grep -oE '^[0-9]+ +[a-z0-9_]+\(' "$TMP/count.trace" | tr -d '(' |
		awk '{c[$1 " " $2]++} END {for (k in c) {split(k, a, " "); if (c[k] > m[a[2]]) m[a[2]] = c[k]}
		     for (s in m) print s, m[s]}' | sort >"$1"
}

# crash_kill_points NAME: every kill point of ADD, then the runtime's DEL, then the leak check.
crash_kill_points() {
	local name=$1 sc max k i=0 v leaks killed=0 done=0 completed=""
	local -A npass nfail
	local variants=($CRASH_VARIANTS)
	crash_count "$TMP/points" || return
	echo "# $name: kill points per syscall: $(awk '{printf "%s=%s ", $1, $2}' "$TMP/points")"
	while read -r sc max; do
		for k in $(seq 1 "$max"); do
			v=${variants[$((i % ${#variants[@]}))]}
			i=$((i + 1))
			crash_pod
			crash_run ADD "$CPODNS" -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$k"
			RC0=$RC
			if [ "$RC" -eq 137 ]; then killed=$((killed + 1)); else done=$((done + 1)) completed+=" $sc#$k"; fi
			crash_del "$v"
			leaks=$(crash_leaks)
			ip netns del "$CPOD" 2>/dev/null
			if [ "$DRC" -eq 0 ] && [ -z "$leaks" ]; then
				npass[$v]=$((${npass[$v]:-0} + 1))
			else
				nfail[$v]=$((${nfail[$v]:-0} + 1))
				fail "crash $name: kill at $sc#$k ($([ "$RC0" -eq 137 ] && echo killed || echo "ADD completed")), DEL '$v': DEL rc $DRC${DOUT:+ $(jq -c '{code,msg}' <<<"$DOUT" 2>/dev/null)}; left: $(echo $leaks)"
				crash_reset
			fi
		done
	done <"$TMP/points"
	echo "# $name: $i kill points: ADD killed $killed times, completed $done times${completed:+ (at$completed)}"
	for v in "${variants[@]}"; do
		[ "${nfail[$v]:-0}" -eq 0 ] && [ "${npass[$v]:-0}" -gt 0 ] &&
			pass "crash $name: DEL '$v' after ${npass[$v]} kill points: exit 0, nothing left"
	done
	[ "$killed" -gt 0 ] || fail "crash $name: no kill point killed ADD (is strace injection working?)"
}

# crash_lengths SIZE: truncation lengths for a file of SIZE bytes: 0, 1, size-1 always, every
# length for files up to CRASH_FULL_LEN (16) bytes, else ~10 evenly spaced ones.
crash_lengths() {
	local s=$1 step
	step=$(((s + 9) / 10))
	{
		echo 0; [ "$s" -gt 1 ] && echo 1; [ "$s" -gt 0 ] && echo $((s - 1))
		if [ "$s" -le "${CRASH_FULL_LEN:-16}" ]; then seq 0 $((s - 1)); else seq 0 "$step" $((s - 1)); fi
	} | sort -nu
}

# crash_written: the files ADD wrote or changed, vs the baseline (content), minus CRASH_PL_SKIP.
crash_written() {
	local f
	crash_files | while IFS= read -r f; do
		[ -n "${CRASH_PL_SKIP:-}" ] && [[ $f =~ $CRASH_PL_SKIP ]] && continue
		case $(basename "$f") in lock | *.lock) continue ;; esac
		if grep -qxF "$f" "$TMP/base.files" && cmp -s "$f" "$TMP/base.content/$(echo "$f" | md5sum | cut -c1-32)"; then
			continue
		fi
		echo "$f"
	done
}

# crash_power_loss NAME: after a complete ADD, each file it wrote truncated to every length
# (crash_lengths), then DEL (+ crash_gc): exit 0 and nothing left. The file is picked by its
# position among the written files of that ADD (names such as leases differ between ADDs).
crash_power_loss() {
	local name=$1 f nfiles idx len leaks trials=0 bad=0
	local -a sizes
	local size
	mkdir -p "$TMP/base.content"
	while IFS= read -r f; do cp "$f" "$TMP/base.content/$(echo "$f" | md5sum | cut -c1-32)"; done <"$TMP/base.files"
	crash_pod
	crash_run ADD "$CPODNS"
	[ "$RC" -eq 0 ] || { fail "crash $name: power-loss ADD failed: $OUT"; return; }
	crash_written >"$TMP/written"
	nfiles=$(wc -l <"$TMP/written")
	while IFS= read -r f; do sizes+=("$(stat -c %s "$f")"); done <"$TMP/written"
	echo "# $name: ADD writes $nfiles file(s):" $(sed "s|^$TMP/||" "$TMP/written")
	crash_run DEL "$CPODNS"; ip netns del "$CPOD"
	for idx in $(seq 1 "$nfiles"); do
		size=${sizes[$((idx - 1))]}
		for len in $(crash_lengths "$size"); do
			trials=$((trials + 1))
			# Each trial starts from the baseline: a persistent file a trial cut
			# (last_reserved_ip) would else make the next ADD leave it as it was, and it
			# would not count as written.
			while IFS= read -r f; do
				[ -e "$f" ] && cp "$TMP/base.content/$(echo "$f" | md5sum | cut -c1-32)" "$f"
			done <"$TMP/base.files"
			crash_pod
			crash_run ADD "$CPODNS"
			f=$(crash_written | sed -n "${idx}p")
			if [ "$RC" -ne 0 ] || [ -z "$f" ]; then
				bad=$((bad + 1)); fail "crash $name: power loss: ADD failed or wrote no file #$idx: $OUT"
				crash_reset; ip netns del "$CPOD" 2>/dev/null; continue
			fi
			[ "$len" -ge "$(stat -c %s "$f")" ] || truncate -s "$len" "$f"
			crash_run DEL "$CPODNS"; DRC=$RC; DOUT=$OUT CRASH_NS_GONE=0
			if declare -F crash_gc >/dev/null; then crash_gc; [ "$DRC" -ne 0 ] || DRC=$RC; fi
			leaks=$(crash_leaks)
			ip netns del "$CPOD" 2>/dev/null
			if [ "$DRC" -ne 0 ] || [ -n "$leaks" ]; then
				bad=$((bad + 1))
				fail "crash $name: power loss: ${f#"$TMP"/} cut to $len of $size bytes: DEL/GC rc $DRC${DOUT:+ $(jq -c '{code,msg}' <<<"$DOUT" 2>/dev/null)}; left: $(echo $leaks)"
				crash_reset
			fi
		done
	done
	[ "$bad" -eq 0 ] && [ "$trials" -gt 0 ] &&
		pass "crash $name: power loss: $nfiles file(s) cut to $trials lengths, DEL exit 0, nothing left"
	[ "$trials" -gt 0 ] || fail "crash $name: power loss: ADD wrote no file to cut"
}
