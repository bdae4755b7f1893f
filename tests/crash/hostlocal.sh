#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: plexus-hostlocal standalone killed at every kill point of ADD, then the runtime's
# DEL: no lease or temp file may be left; then each file ADD wrote cut to every length, then DEL.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
crash_node plxch
CRASH_DIRS=("$TMP/ipam")
CBIN=$BIN/plexus-hostlocal
CONF=$(jq -cn --arg d "$TMP/ipam" '{cniVersion:"1.0.0",name:"crash-hl",type:"host-local",
	ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.224.0.0/24"}],[{subnet:"fd00:224::/64"}]]}}')
crash_warmup hostlocal
crash_kill_points hostlocal
crash_power_loss hostlocal
