# SPDX-License-Identifier: Apache-2.0
# Shared set-up of the meta-plugin benchmarks (bench/meta.sh, bench/parallel.sh), sourced after
# BUILD, TMP and die() are set: the rusage tool, the API server fixture, plexus-apid and Multus.

# bench_rusage: build $BUILD/bench/rusage when missing or older than its source; sets RUSAGE.
bench_rusage() {
	mkdir -p "$BUILD/bench"
	RUSAGE=$BUILD/bench/rusage
	if [ ! -x "$RUSAGE" ] || [ bench/rusage.c -nt "$RUSAGE" ]; then
		cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$RUSAGE" bench/rusage.c || die "cannot build rusage"
	fi
}

# bench_api NODE [FIXTURE_OPTION...]: the TLS API server fixture serving $TMP/state.json inside
# netns NODE (token "t"); sets API_PID and PORT and writes $TMP/kubeconfig.
bench_api() {
	local node=$1
	shift
	bash tests/fixtures/apiserver/mkcerts.sh "$TMP/pki"
	ip netns exec "$node" node tests/fixtures/apiserver/apiserver.js --cert "$TMP/pki/server.crt" \
		--key "$TMP/pki/server.key" --state "$TMP/state.json" --token t "$@" >"$TMP/port" 2>/dev/null &
	API_PID=$!
	for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
	PORT=$(head -n1 "$TMP/port")
	[ -n "$PORT" ] || die "API server did not start"
	printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:%s", certificate-authority: "%s"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n' \
		"$PORT" "$TMP/pki/ca.crt" >"$TMP/kubeconfig"
}

# bench_apid NODE [OPTION...]: plexus-apid for $TMP/kubeconfig on $TMP/api.sock; sets APID_PID.
bench_apid() {
	local node=$1
	shift
	ip netns exec "$node" "$BUILD/bin/plexus-apid" --kubeconfig "$TMP/kubeconfig" \
		--socket "$TMP/api.sock" --log-level warning "$@" &
	APID_PID=$!
	for _ in $(seq 100); do [ -S "$TMP/api.sock" ] && break; sleep 0.05; done
	[ -S "$TMP/api.sock" ] || die "plexus-apid did not start"
}

# bench_multus: find a Multus v4.1.4 build to run side by side: BENCH_MULTUS_DIR (a directory
# holding `multus`) when set, else the optional anchor beside the repository, unpacked once into
# $BUILD/bench/multus. Sets MULTUS_DIR, or leaves it empty and sets MULTUS_WHY.
bench_multus() {
	local anchor=$TOP/../shared/anchors/multus
	MULTUS_DIR= MULTUS_WHY=
	if [ -n "${BENCH_MULTUS_DIR:-}" ]; then
		if [ -x "$BENCH_MULTUS_DIR/multus" ]; then MULTUS_DIR=$BENCH_MULTUS_DIR; else
			MULTUS_WHY="no executable 'multus' in BENCH_MULTUS_DIR ($BENCH_MULTUS_DIR)"
		fi
	elif [ -f "$anchor/get.sh" ]; then
		if bash "$anchor/get.sh" "$BUILD/bench/multus" >&2; then MULTUS_DIR=$BUILD/bench/multus; else
			MULTUS_WHY="unpacking the Multus anchor failed"
		fi
	else
		MULTUS_WHY="no Multus build (set BENCH_MULTUS_DIR to a directory holding a Multus v4.1.4 'multus')"
	fi
	[ -z "$MULTUS_WHY" ] || echo "bench: Multus rows skipped: $MULTUS_WHY" >&2
}

# bench_node NODE POD: network namespaces NODE (lo up; eth9, one end of a veth pair with eth9p,
# both up: the macvlan master) and POD.
bench_node() {
	ip netns add "$1" && ip netns add "$2" || die "netns"
	ip -n "$1" link set lo up
	ip -n "$1" link add eth9 type veth peer name eth9p && ip -n "$1" link set eth9 up &&
		ip -n "$1" link set eth9p up || die "veth"
}

# bench_multus_thick NODE NODE_NAME PRIMARY_CONF: Multus thick from MULTUS_DIR (multus-daemon +
# multus-shim; bench_multus first) inside netns NODE against the API server fixture (bench_api
# first): the daemon's informers cache the pods whose spec.nodeName is NODE_NAME and the NADs;
# its auto-generated config delegates to PRIMARY_CONF (the cluster network). The daemon wants
# in-cluster credentials at the fixed service-account path, so it runs in a private mount
# namespace whose /run is a tmpfs holding them (the host's /run/netns bound in: create every
# pod netns before). Writes the shim's config to $TMP/mt; sets MTHICK_PID, or leaves it empty
# and sets MTHICK_WHY.
bench_multus_thick() {
	local node=$1 name=$2 d=$TMP/mthick sa=/run/secrets/kubernetes.io/serviceaccount
	MTHICK_PID= MTHICK_WHY=
	if [ ! -x "$MULTUS_DIR/multus-daemon" ] || [ ! -x "$MULTUS_DIR/multus-shim" ]; then
		MTHICK_WHY="no executable 'multus-daemon' and 'multus-shim' in $MULTUS_DIR"
	elif ! command -v unshare >/dev/null; then
		MTHICK_WHY="unshare missing"
	fi
	[ -z "$MTHICK_WHY" ] || { echo "bench: Multus thick rows skipped: $MTHICK_WHY" >&2; return 0; }
	mkdir -p "$d/net.d" "$d/sock" "$d/oldrun" "$d/cache"
	cp "$3" "$d/net.d/10-cluster.conf"
	jq -n --arg d "$d" '{cniVersion: "1.0.0", cniConfigDir: ($d + "/net.d"),
		multusAutoconfigDir: ($d + "/net.d"), multusConfigFile: "auto", socketDir: ($d + "/sock"),
		cniDir: ($d + "/cache"), binDir: "/usr/lib/cni", logLevel: "error",
		logFile: ($d + "/multus.log")}' >"$d/daemon.json"
	printf t >"$d/token"
	ip netns exec "$node" env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$PORT" \
		MULTUS_NODE_NAME="$name" unshare -m --propagation private bash -c '
		d=$1 sa=$2
		mount --rbind /run "$d/oldrun" && mount -t tmpfs tmpfs /run && mkdir -p /run/netns "$sa" &&
			mount --rbind "$d/oldrun/netns" /run/netns && cp "$4/pki/ca.crt" "$d/token" "$sa/" &&
			echo default >"$sa/namespace" || exit 1
		exec "$3" -config "$d/daemon.json"' _ "$d" "$sa" "$MULTUS_DIR/multus-daemon" "$TMP" \
		>"$d/daemon.out" 2>&1 &
	MTHICK_PID=$!
	for _ in $(seq 300); do
		[ -S "$d/sock/multus.sock" ] && [ -s "$d/net.d/00-multus.conf" ] && break
		kill -0 "$MTHICK_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -S "$d/sock/multus.sock" ] && [ -s "$d/net.d/00-multus.conf" ]; then
		jq -c --arg s "$d/sock" '. + {daemonSocketDir: $s}' "$d/net.d/00-multus.conf" >"$TMP/mt"
	else
		MTHICK_WHY="multus-daemon did not start: $(tail -n 3 "$d/daemon.out" | tr '\n' ' ')"
		echo "bench: Multus thick rows skipped: $MTHICK_WHY" >&2
		kill "$MTHICK_PID" 2>/dev/null
		MTHICK_PID=
	fi
}

# bench_vf_tree SYS [IFNAME]: a fake sysfs tree under SYS of 8 PFs x 128 iavf VFs (BDFs
# 0000:30-37:02-11.0-7), built with tests/fixtures/mksysfs.sh; IFNAME, if given, is the first
# VF's netdev. The device plugin and DRA benchmarks share it.
bench_vf_tree() {
	local sys=$1 ifname0=${2:-} mk=$TOP/tests/fixtures/mksysfs.sh pf vf pfbdf vfbdf ifname
	for pf in $(seq 0 7); do
		pfbdf=$(printf '0000:%02x:00.0' $((0x30 + pf)))
		"$mk" "$sys" pf "$pfbdf" "pf$pf" nofake || die "mksysfs pf"
		echo 128 >"$sys/sys/devices/pci0000:00/$pfbdf/sriov_numvfs"
		for vf in $(seq 0 127); do
			vfbdf=$(printf '0000:%02x:%02x.%d' $((0x30 + pf)) $((2 + vf / 8)) $((vf % 8)))
			ifname=
			[ "$pf$vf" = 00 ] && ifname=$ifname0
			"$mk" "$sys" vf "$pfbdf" "$vf" "$vfbdf" iavf $ifname || die "mksysfs vf"
		done
	done
}

# bench_peer SCRIPT ARG...: the grpc-js kubelet stand-in tests/fixtures/grpc/SCRIPT as coprocess
# KL (KL_PID set, stderr in $TMP/kubelet.err), waited for until it says it is ready. Then
# `send LINE` writes to it and `expect JQ_FILTER [SECONDS]` reads up to the next matching line
# (into LINE).
bench_peer() {
	local script=$1
	shift
	coproc KL { cd "$TOP/tests/fixtures/grpc" && exec node "$script" "$@" 2>"$TMP/kubelet.err"; }
	KL_PID=$KL_PID
	expect '.event=="ready"' 30 || die "kubelet stand-in did not start: $(cat "$TMP/kubelet.err")"
}
send() { printf '%s\n' "$1" >&"${KL[1]}"; }
expect() {
	local line end=$((SECONDS + ${2:-10}))
	LINE=
	while [ "$SECONDS" -le "$end" ] && IFS= read -r -t "${2:-10}" line <&"${KL[0]}"; do
		jq -e "$1" <<<"$line" >/dev/null 2>&1 && { LINE=$line; return 0; }
	done
	return 1
}
