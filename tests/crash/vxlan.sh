#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: plexus-vxlan (deleteOnLastDel, built-in host-local IPAM) killed at every kill point
# of ADD, then the runtime's DEL: the pod's veth, the VTEP and the bridge (no pod is left on the
# VNI), leases and run-dir records must all be gone. Then the power-loss pass. Driver: driver.bash.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
crash_node plxcv ul0
ip -n "$CRASH_NODE" addr add 10.222.0.1/24 dev ul0
ip -n "$CRASH_NODE" route add default via 10.222.0.254 dev ul0
CRASH_DIRS=("$TMP/ipam" "$TMP/run")
CRASH_ENV=(PLEXUS_RUN_DIR="$TMP/run")
CBIN=$BIN/plexus-vxlan
CONF=$(jq -cn --arg d "$TMP/ipam" '{cniVersion:"1.0.0",name:"crash-vx",type:"plexus-vxlan",vni:4242,
	deleteOnLastDel:true,remotes:["10.222.0.2"],
	ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.223.0.0/24"}]]}}')
crash_warmup vxlan
crash_kill_points vxlan
crash_power_loss vxlan
