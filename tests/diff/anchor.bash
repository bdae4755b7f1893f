# SPDX-License-Identifier: Apache-2.0
# Differential tests compare plexus with a reference build. diff_anchor NAME [BINARY]: find the
# reference binary BINARY (default NAME): $<BINARY>_BIN (upper case, '-' as '_', e.g.
# WHEREABOUTS_BIN, MULTUS_DAEMON_BIN) when set, else the optional anchor NAME beside the
# repository (../shared/anchors/NAME), unpacked once into $BUILD/diff/NAME. Sets ANCHOR_BIN
# (its directory holds the anchor's other binaries), or leaves it empty and prints
# "NOTRUN: why" (tests/run.sh counts such a script as not run: neither a pass nor a skip).
diff_anchor() {
	local name=$1 bin=${2:-$1} var anchor
	var=$(tr '[:lower:]-' '[:upper:]_' <<<"$bin")_BIN
	anchor=$TOP/../shared/anchors/$name
	ANCHOR_BIN=
	if [ -n "${!var:-}" ]; then
		[ -x "${!var}" ] && ANCHOR_BIN=${!var} || echo "NOTRUN: $var (${!var}) is not executable"
	elif [ -f "$anchor/get.sh" ]; then
		if bash "$anchor/get.sh" "$BUILD/diff/$name" >&2 && [ -x "$BUILD/diff/$name/$bin" ]; then
			ANCHOR_BIN=$BUILD/diff/$name/$bin
		else
			echo "NOTRUN: unpacking the $name anchor failed"
		fi
	else
		echo "NOTRUN: no reference $bin build (set $var to one)"
	fi
}
