#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier for plexus-ipvlan (built-in host-local IPAM), run inside the VM runner
# (tests/vm/runner/plexus-vm) by tests/vm/crash-ipvlan.sh (this kernel has no ipvlan): killed
# at every kill point of ADD, then the runtime's DEL; each file ADD wrote cut to every length,
# then DEL. Driver: tests/crash/driver.bash, the same as tests/crash/macvlan.sh.
source "$(dirname "$0")/../../lib.sh"
need_root
source "$(dirname "$0")/../../crash/driver.bash"
crash_node plxci eth9
CRASH_DIRS=("$TMP/ipam")
CBIN=$BIN/plexus-ipvlan
CONF=$(jq -cn --arg d "$TMP/ipam" '{cniVersion:"1.0.0",name:"crash-iv",type:"ipvlan",master:"eth9",
	mode:"l2",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.229.0.0/24"}]]}}')
crash_warmup ipvlan
crash_kill_points ipvlan
crash_power_loss ipvlan
