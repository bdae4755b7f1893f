#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: plexus-macvlan (built-in host-local IPAM) killed at every kill point of ADD, then
# the runtime's DEL; and each file ADD wrote cut to every length, then DEL. Driver: driver.bash.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
crash_node plxcm eth9
CRASH_DIRS=("$TMP/ipam")
CBIN=$BIN/plexus-macvlan
CONF=$(jq -cn --arg d "$TMP/ipam" '{cniVersion:"1.0.0",name:"crash-mv",type:"macvlan",master:"eth9",
	mode:"bridge",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.221.0.0/24"}]]}}')
crash_warmup macvlan
crash_kill_points macvlan
crash_power_loss macvlan
