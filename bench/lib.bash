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
