#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: plexus-macvlan (built-in host-local IPAM) killed at every kill point of ADD, then
# the runtime's DEL; and each file ADD wrote cut to every length, then DEL. Driver: driver.bash.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
TMP=$(t_tmpdir)
CRASH_NODE=plxcm$T_ID
t_netns "$CRASH_NODE"
ip -n "$CRASH_NODE" link set lo up
ip -n "$CRASH_NODE" link add eth9 type veth peer name eth9p
ip -n "$CRASH_NODE" link set eth9 up
ip -n "$CRASH_NODE" link set eth9p up
CRASH_DIRS=("$TMP/ipam")
CONF=$(jq -cn --arg d "$TMP/ipam" '{cniVersion:"1.0.0",name:"crash-mv",type:"macvlan",master:"eth9",
	mode:"bridge",ipam:{type:"host-local",dataDir:$d,ranges:[[{subnet:"10.221.0.0/24"}]]}}')
crash_env() {
	ENVCMD=(ip netns exec "$CRASH_NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2"
		CNI_NETNS="$3" CNI_IFNAME=net1 CNI_PATH="$REF_CNI")
	CBIN=$BIN/plexus-macvlan
}
crash_warmup macvlan
crash_kill_points macvlan
crash_power_loss macvlan
