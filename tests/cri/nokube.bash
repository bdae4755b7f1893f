# SPDX-License-Identifier: Apache-2.0
# What the tests of plexus outside Kubernetes share (source after tests/lib.sh; not named *.sh:
# tests/run.sh runs every tests/cri/*.sh as a test): a static busybox image and the node side
# of docs/install.md's "Without Kubernetes" example.

# busybox_image DIR NAME: an OCI archive DIR/image.tar of a static busybox (sleep, ping, ip),
# built with umoci like `make image`, named NAME, entrypoint sleep 600.
busybox_image() {
	local d=$1 name=$2 c
	mkdir -p "$d/rootfs/bin"
	cp /bin/busybox "$d/rootfs/bin/busybox"
	for c in sleep ping ip; do ln -s busybox "$d/rootfs/bin/$c"; done
	SOURCE_DATE_EPOCH=0 "$TOP/install/oci-archive.sh" "$d/rootfs" "$d/image.tar" "$name" \
		--config.entrypoint /bin/sleep --config.cmd 600 --config.workingdir / >/dev/null 2>&1
}

# have_static_busybox: /bin/busybox exists and is static (the image has no libc).
have_static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }

# nokube_net DIR NET CONFLIST: the conflist CONFLIST of network NET, the plexus meta-plugin with
# no kubeconfig, whose confDir (DIR/confdir) holds the cluster network "cluster" (reference
# bridge BR + host-local 10.246.0.0/24) and the defaultNetworks macvlan "lan" on a fresh veth
# master (built-in plexus-macvlan, host-local 10.247.0.0/24). Leases go under DIR/ipam-*,
# intent logs under DIR/cache, plexus's log to DIR/plexus.log. Sets BR and MASTER.
nokube_net() {
	local d=$1 net=$2 conflist=$3
	new_master || return 1
	BR=plxb$T_ID$T_N
	t_link "$BR"
	mkdir -p "$d/confdir"
	hlr() { jq -cn --arg d "$d/ipam-$1" --arg s "$2" '{type:"host-local",dataDir:$d,ranges:[[{subnet:$s}]]}'; }
	jq -cn --arg b "$BR" --argjson i "$(hlr cluster 10.246.0.0/24)" \
		'{cniVersion:"1.0.0",name:"cluster",plugins:[{type:"bridge",bridge:$b,isGateway:true,ipam:$i}]}' \
		>"$d/confdir/10-cluster.conflist"
	jq -cn --arg m "$MASTER" --argjson i "$(hlr lan 10.247.0.0/24)" \
		'{cniVersion:"1.0.0",name:"lan",type:"macvlan",master:$m,mode:"bridge",ipam:$i}' \
		>"$d/confdir/20-lan.conf"
	jq -n --arg n "$net" --arg d "$d" \
		'{cniVersion:"1.0.0",name:$n,plugins:[{type:"plexus",clusterNetwork:"cluster",
		  defaultNetworks:["lan"],confDir:($d+"/confdir"),cniDir:($d+"/cache"),
		  logLevel:"info",logFile:($d+"/plexus.log")}]}' >"$conflist"
}

# nokube_in_nets A0 A1 B0 B1: both containers' eth0 are on the cluster network, net1 on lan.
nokube_in_nets() { [[ $1 == 10.246.0.* && $3 == 10.246.0.* && $2 == 10.247.0.* && $4 == 10.247.0.* ]]; }

# nokube_clean DIR WHO: nothing of the containers is left on the node (checks named WHO: ...):
# no intent log, no lease,
# no veth on the cluster bridge, no error or warning in plexus's log.
nokube_clean() {
	local d=$1 who=$2
	check "$who: no intent log left" test -z "$(ls -A "$d/cache")"
	check "$who: no lease left" test -z "$(find "$d"/ipam-* -type f -name '10.*')"
	check "$who: no veth left on the cluster bridge" \
		test -z "$(ip -j link show master "$BR" | jq -r '.[].ifname')"
	check "$who: plexus logged no error" bash -c "! grep -E ' (error|warning) ' $d/plexus.log"
}
