#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier, randomized: the meta-plugin set-up of meta.sh; each cycle kills one ADD at a random
# point and runs a random DEL variant, then the leak check of driver.bash. Half the cycles use a
# random strace kill point of plexus itself, half a timer: SIGKILL to the ADD's whole PID
# namespace after a random delay within the ADD's duration, which also lands inside the exec'd
# delegates (bridge, host-local) as a runtime's timeout does. Runs CRASH_SECONDS (default 60),
# or CHAOS_CYCLES cycles when set (make chaos). Prints the cycle, kill and leak counts.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
source "$(dirname "$0")/meta-env.bash"
crash_warmup meta
crash_count "$TMP/points" || exit 1
mapfile -t POINTS < <(awk '{for (k = 1; k <= $2; k++) print $1, k}' "$TMP/points")
# The ADD's duration, bare: the timer kills at a uniform point of it.
crash_pod
t0=$(date +%s%N)
crash_run ADD "$CPODNS"
ADD_MS=$((($(date +%s%N) - t0) / 1000000 + 1))
crash_run DEL "$CPODNS"; ip netns del "$CPOD"
VARIANTS=($CRASH_VARIANTS)
SEED=${CRASH_SEED:-$$}
RANDOM=$SEED
echo "# random: seed $SEED, ${#POINTS[@]} strace kill points, ADD ~${ADD_MS} ms"

# timer_add MS: ADD, SIGKILL after MS ms to unshare, whose --kill-child then kills the PID
# namespace's init, and the kernel every process in it; sets RC (137 when killed). DEL starts
# once no process of the ADD is left, as a runtime waits for the plugin it killed.
timer_add() {
	crash_env ADD "$CCID" "$CPODNS"
	"${ENVCMD[@]}" unshare -pf --kill-child --mount-proc "$CBIN" <<<"$CONF" >/dev/null 2>&1 &
	local pid=$! n
	sleep "$(printf '0.%03d' "$1")"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RC=$?
	for n in $(seq 50); do
		grep -qsz "^CNI_CONTAINERID=$CCID\$" /proc/[0-9]*/environ || break
		sleep 0.02
	done
}

cycles=0 killed=0 tkilled=0 leaky=0 nstrace=0 ntimer=0
end=$(($(date +%s) + ${CRASH_SECONDS:-60}))
while if [ -n "${CHAOS_CYCLES:-}" ]; then [ "$cycles" -lt "$CHAOS_CYCLES" ]; else [ "$(date +%s)" -lt "$end" ]; fi; do
	cycles=$((cycles + 1))
	v=${VARIANTS[$((RANDOM % ${#VARIANTS[@]}))]}
	crash_pod
	if [ $((RANDOM % 2)) -eq 0 ]; then
		nstrace=$((nstrace + 1))
		read -r sc k <<<"${POINTS[$((RANDOM % ${#POINTS[@]}))]}"
		point="$sc#$k"
		crash_run ADD "$CPODNS" -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$k"
	else
		ntimer=$((ntimer + 1))
		ms=$((RANDOM % (ADD_MS > 999 ? 999 : ADD_MS)))
		point="timer ${ms}ms"
		timer_add "$ms"
	fi
	RC0=$RC
	if [ "$RC" -eq 137 ]; then
		killed=$((killed + 1))
		[ "${point#timer}" = "$point" ] || tkilled=$((tkilled + 1))
	fi
	crash_del "$v"
	leaks=$(crash_leaks)
	ip netns del "$CPOD" 2>/dev/null
	if [ "$DRC" -ne 0 ] || [ -n "$leaks" ]; then
		leaky=$((leaky + 1))
		fail "crash random: cycle $cycles, kill at $point ($([ "$RC0" -eq 137 ] && echo killed || echo "ADD completed")), DEL '$v': DEL rc $DRC; left: $(echo $leaks)"
		crash_reset
	fi
done
echo "# random: $cycles cycles ($nstrace strace kill points, $ntimer timer kills), ADD killed $killed times ($tkilled by the timer), $leaky cycles leaked"
[ "$leaky" -gt 0 ] || pass "crash random: $cycles cycles ($killed ADDs killed, seed $SEED): every DEL exit 0, nothing left"
[ "$killed" -gt 0 ] || fail "crash random: no ADD was killed in $cycles cycles"
[ "$leaky" -eq 0 ] && [ "$killed" -gt 0 ] # the exit status, for make chaos
