# SPDX-License-Identifier: Apache-2.0
# Helpers for shell tests: source it. Each check prints "PASS: name" or "FAIL: name", which
# tests/run.sh counts. Everything a test creates is registered and removed on exit.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PLEXUS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
BIN=$BUILD/bin
REF_CNI=${REF_CNI:-/usr/lib/cni}
T_NETNS=() T_LINKS=() T_DIRS=() T_PROCS=()
# Every temp dir lives under one root made here, in the main shell, so that $(t_tmpdir)
# (a subshell) still gets cleaned up.
T_ROOT=$(mktemp -d /tmp/plexus-test.XXXXXX)
T_DIRS+=("$T_ROOT")
# Unique per run so parallel or leftover runs never collide.
T_ID=${T_ID:-$$}

t_cleanup() {
	local x
	# Daemons first: they may hold the netns and dirs below.
	for x in "${T_PROCS[@]}"; do kill "$x" 2>/dev/null && wait "$x" 2>/dev/null; done
	for x in "${T_LINKS[@]}"; do ip link del "$x" 2>/dev/null; done
	for x in "${T_NETNS[@]}"; do ip netns del "$x" 2>/dev/null; done
	for x in "${T_DIRS[@]}"; do rm -rf "$x"; done
}
trap t_cleanup EXIT

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; }
# check NAME CMD...: run CMD, PASS if it exits 0.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "!!! $(basename "$0"): NOT ROOT: these tests need root and are SKIPPED !!!" >&2
		skip "$(basename "$0"): needs root"
		exit 0
	fi
}

t_netns() { ip netns add "$1" && T_NETNS+=("$1"); }
t_tmpdir() { mktemp -d "$T_ROOT/d.XXXXXX"; }
t_link() { T_LINKS+=("$1"); }
# t_proc PID: a background process of this shell, stopped (SIGTERM) by t_cleanup.
t_proc() { T_PROCS+=("$1"); }
# need_tools TEST TOOL...: FAIL and exit when a tool is missing.
need_tools() {
	local t n=$1
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null || { fail "$n: $t missing (scripts/setup.sh installs it)"; exit 1; }
	done
}

# Make the EXIT trap run on ^C / kill too.
trap 'exit 130' INT
trap 'exit 143' TERM

T_N=0 # counter that makes link / netns / dir names unique inside this run
# new_master: sets MASTER to a fresh veth end in the host netns (both ends up, mtu 1500).
# Name: px<id>m<n>a (<= 15 bytes for pids up to 7 digits and n < 100).
new_master() {
	T_N=$((T_N + 1))
	MASTER=px${T_ID}m${T_N}a
	ip link add "$MASTER" type veth peer name "px${T_ID}m${T_N}b" || return 1
	t_link "$MASTER"
	ip link set "$MASTER" up && ip link set "px${T_ID}m${T_N}b" up
}
# new_node NAME: a "node" network namespace NAME (lo up) whose NIC is eth9, a veth pair with
# eth9p, both up: a macvlan master or vxlan underlay of its own.
new_node() {
	t_netns "$1" || return 1
	ip -n "$1" link set lo up &&
		ip -n "$1" link add eth9 type veth peer name eth9p &&
		ip -n "$1" link set eth9 up && ip -n "$1" link set eth9p up
}
# new_pod: sets POD (netns name) and PODNS (its path) to a fresh network namespace.
new_pod() {
	T_N=$((T_N + 1))
	POD=plxpod${T_ID}-$T_N
	PODNS=/run/netns/$POD
	t_netns "$POD"
}
# new_dd: sets DD to a fresh host-local dataDir under $TMP.
new_dd() {
	T_N=$((T_N + 1))
	DD=$TMP/dd$T_N
}
# hl DATADIR [SUBNET]: host-local ipam object with one route via the range's gateway. (Routes
# carry an explicit gw: the reference CHECK fails on gw-less routes, a bug of its own.)
hl() {
	jq -cn --arg d "$1" --arg s "${2:-10.99.0.0/24}" \
		'{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]],
		  routes:[{dst:"10.96.0.0/16",gw:($s | split("/")[0] | sub("\\.0$";".1"))}]}'
}

# cni_exec BIN CMD CONF NETNS IFNAME CID [VAR=VALUE...]: run a CNI plugin with exactly the
# CNI environment given (NETNS/IFNAME/CID "-" = leave the variable unset, "" = set empty).
# Sets OUT (stdout), ERR (stderr) and RC; needs $TMP. RUNNER (array) may prefix the command,
# e.g. RUNNER=(ip netns exec node). CNI_EXEC_DEBUG=1 logs every run to stderr.
RUNNER=()
cni_exec() {
	local bin=$1 cmd=$2 conf=$3 ns=$4 ifn=$5 cid=$6
	shift 6
	local env=(PATH="$PATH" CNI_COMMAND="$cmd" CNI_PATH="$REF_CNI")
	[ "$cid" = - ] || env+=(CNI_CONTAINERID="$cid")
	[ "$ns" = - ] || env+=(CNI_NETNS="$ns")
	[ "$ifn" = - ] || env+=(CNI_IFNAME="$ifn")
	[ -z "${KILL_ENV:-}" ] || env+=("$KILL_ENV")
	OUT=$(printf '%s' "$conf" | "${RUNNER[@]}" env -i "${env[@]}" "$@" "$bin" 2>"$TMP/stderr")
	RC=$?
	ERR=$(cat "$TMP/stderr")
	[ -z "${CNI_EXEC_DEBUG:-}" ] || echo "[$cmd rc=$RC] $OUT ${ERR:+stderr: $ERR}" >&2
}
# kill_at K SYSCALL: sets RUNNER so that the next cni_exec runs under strace and is SIGKILLed at
# the K-th SYSCALL of each process (strace counts per syscall and per process), as a runtime's
# timeout would kill it. Afterwards `killed` is true when that happened (exit status 137).
# KILL_ENV goes into the plugin's environment: LeakSanitizer cannot run under ptrace (the leak
# check stays in the runs without strace). kill_off ends it.
kill_at() {
	RUNNER=(strace -f -qq -o /dev/null -e trace="$2" -e inject="$2":signal=KILL:when="$1")
	KILL_ENV=ASAN_OPTIONS=detect_leaks=0
}
kill_off() { RUNNER=() KILL_ENV=; }
killed() { [ "$RC" -eq 137 ]; }
# tmp_ifname CID IFNAME: the temporary name plexus gives the link of attachment (CID, IFNAME)
# until it is renamed (net_tmp_ifname_for: FNV-1a 64 of "CID\0IFNAME", top 48 bits).
tmp_ifname() {
	local h=-3750763034362895579 p=1099511628211 s i c
	s=$1
	for ((i = 0; i < ${#s}; i++)); do printf -v c '%d' "'${s:i:1}"; h=$(((h ^ c) * p)); done
	h=$((h * p))
	s=$2
	for ((i = 0; i < ${#s}; i++)); do printf -v c '%d' "'${s:i:1}"; h=$(((h ^ c) * p)); done
	printf 'plx%012x\n' $(((h >> 16) & 0xffffffffffff))
}
# leases DATADIR: number of host-local IP reservations in DATADIR.
leases() {
	[ -d "$1" ] || { echo 0; return; }
	find "$1" -type f ! -name lock ! -name 'last_reserved_ip*' | wc -l
}

# api_fixture NODE DIR TOKEN [MAX_LIFETIME [ADDRESS]]: start the TLS API server fixture inside
# netns NODE serving DIR/state.json (certificates in DIR/pki, every request logged to
# DIR/api.log), listening on ADDRESS (default 127.0.0.1, which the certificate always names),
# and write DIR/kubeconfig for it. Sets API_PID, and PORT (empty when it did not come up).
api_fixture() {
	local node=$1 dir=$2 token=$3 life=${4:-300} addr=${5:-127.0.0.1}
	# shellcheck disable=SC2046 # no extra SAN for the default address
	bash "$TOP/tests/fixtures/apiserver/mkcerts.sh" "$dir/pki" $([ "$addr" = 127.0.0.1 ] || echo "$addr")
	ip netns exec "$node" node "$TOP/tests/fixtures/apiserver/apiserver.js" \
		--cert "$dir/pki/server.crt" --key "$dir/pki/server.key" --state "$dir/state.json" \
		--token "$token" --log "$dir/api.log" --max-lifetime "$life" --listen "$addr" \
		>"$dir/port" 2>"$dir/api.err" &
	API_PID=$!
	for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
	PORT=$(head -n1 "$dir/port")
	cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://$addr:$PORT
    certificate-authority: $dir/pki/ca.crt
users:
- name: plexus
  user:
    token: $token
contexts:
- name: test
  context: {cluster: test, user: plexus}
current-context: test
KC
}

# Objects for the API server fixture's state.json, one JSON line each. uid NAME: a stable pod
# UID for NAME; nad NS NAME CONFIG_JSON: a NetworkAttachmentDefinition; pod NAME NETWORKS: a pod
# in "default" whose networks annotation is NETWORKS.
uid() { printf '00000000-0000-4000-8000-%012x' "$(cksum <<<"$1" | cut -d' ' -f1)"; }
nad() { # nad NS NAME CONFIG_JSON
	jq -cn --arg ns "$1" --arg n "$2" --arg c "$3" '{apiVersion:"k8s.cni.cncf.io/v1",
		kind:"NetworkAttachmentDefinition",metadata:{namespace:$ns,name:$n},spec:{config:$c}}'
}
pod() { # pod NAME NETWORKS_ANNOTATION
	jq -cn --arg n "$1" --arg a "$2" --arg u "$(uid "$1")" '{apiVersion:"v1",kind:"Pod",metadata:{namespace:"default",
		name:$n,uid:$u,annotations:{"k8s.v1.cni.cncf.io/networks":$a}},spec:{containers:[{name:"c",image:"pause"}]}}'
}
# mv_conf NAME DATADIR SUBNET [MASTER]: a macvlan network (bridge mode, master eth9 unless
# given) with built-in host-local leasing SUBNET under DATADIR.
mv_conf() {
	jq -cn --arg n "$1" --arg d "$2" --arg s "$3" --arg m "${4:-eth9}" '{cniVersion:"1.0.0",name:$n,
		type:"macvlan",master:$m,mode:"bridge",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}}'
}
# peer_expect FILTER [SECONDS]: the next line of the coproc KL (a grpc-js peer of
# tests/fixtures/grpc) matching the jq filter into LINE; every line read goes to
# $TMP/kubelet.log, and its tail to stderr when none matched in time (default 5 s).
peer_expect() {
	local line end=$((SECONDS + ${2:-5}))
	LINE=
	while [ "$SECONDS" -le "$end" ] && IFS= read -r -t "${2:-5}" line <&"${KL[0]}"; do
		echo "$line" >>"$TMP/kubelet.log"
		if jq -e "$1" <<<"$line" >/dev/null 2>&1; then LINE=$line; return 0; fi
	done
	echo "no line matching $1; peer said:" >&2; tail -n 5 "$TMP/kubelet.log" >&2
	return 1
}
# grpc_peer_ready: the grpc-js kubelet peers of tests/fixtures/grpc have their node_modules
# (npm ci once, logged to npm-ci.log there).
grpc_peer_ready() {
	[ -d "$TOP/tests/fixtures/grpc/node_modules/@grpc/grpc-js" ] ||
		(cd "$TOP/tests/fixtures/grpc" && npm ci --no-audit --no-fund >npm-ci.log 2>&1)
}
