#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# VM tier for DRA: a claimed VF on netdevsim, end to end. Runs on the host: boots one VM
# (tests/vm/runner/plexus-vm --netdevsim) with the build's bin/, tests/, node, curl and openssl,
# the grpc-js peer's modules and the upstream kubelet protos, and runs tests/vm/inner/dra.sh
# there (PASS:/FAIL: lines). The guest has no network to the host, so everything runs inside it:
# the API server fixture, the kubelet stand-in, plexus-dra and the meta-plugin.
set -u
source "$(dirname "$0")/../lib.sh"
VM=$TOP/tests/vm/runner/plexus-vm
PEER=$TOP/tests/fixtures/grpc

for b in plexus-dra plexus; do
	[ -x "$BIN/$b" ] || { fail "vm/dra: $BIN/$b missing (run make first)"; exit 1; }
done
need_tools vm/dra node curl openssl
grpc_peer_ready || { fail "vm/dra: npm ci failed in $PEER"; exit 1; }
# The runner skips node_modules directories: the peer's modules go in under another name
# (NODE_PATH in the guest), and the protos the peer loads at the path it resolves here.
PROTOS=$(cd "$PEER" && node -e 'process.stdout.write(require("./common").protoDir)')
[ -f "$PROTOS/dra-v1.proto" ] || { fail "vm/dra: kubelet protos missing in '$PROTOS'"; exit 1; }
X=$(t_tmpdir)
cp -a "$PEER/node_modules" "$X/nm"

"$VM" --netdevsim --mem 1G --timeout "${VM_TIMEOUT:-600}" \
	--extra-dir "$TOP/tests" --extra-dir "$BIN" --extra-dir "$X" --extra-dir "$PROTOS" \
	--bin "$(command -v node)" --bin "$(command -v curl)" --bin "$(command -v openssl)" --env OPENSSL_CONF=/dev/null \
	--env PLEXUS_BUILD="$BUILD" --env NODE_PATH="$X/nm" --env PLEXUS_KUBELET_PROTOS="$PROTOS" \
	--cwd "$TOP" -- bash "$TOP/tests/vm/inner/dra.sh"
rc=$?
[ "$rc" -eq 0 ] || fail "vm/dra: the VM run exited $rc (124 timeout, 125 harness/VM failure)"
