/* SPDX-License-Identifier: Apache-2.0 */
/* The vxlan plugin (design A: a bridge + VTEP per VNI, a veth per pod): vtable, netconf, host side.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/cni.h"
#include "lib/util/parse.h"

struct nl_sock;

#define VXLAN_VNI_MAX 16777215u
#define VXLAN_DEFAULT_PORT 4789
/* Encapsulation overhead: outer IP + UDP 8 + VXLAN 8 + inner Ethernet 14. */
#define VXLAN_OVERHEAD_V4 50
#define VXLAN_OVERHEAD_V6 70

enum {
	VXLAN_HAS_MTU = 1 << 0,
	VXLAN_HAS_MAC = 1 << 1,
	VXLAN_HAS_TTL = 1 << 2,
	VXLAN_HAS_LOCAL = 1 << 3,
	VXLAN_HAS_GROUP = 1 << 4,
};

struct vxlan_conf {
	uint32_t vni;
	uint16_t port;
	const char *master;	 /* borrowed from the conf tree; NULL = derived */
	struct ip_addr local;	 /* VXLAN_HAS_LOCAL */
	struct ip_addr group;	 /* VXLAN_HAS_GROUP: multicast */
	struct ip_addr *remotes; /* owned; unicast peer VTEPs */
	size_t n_remotes;
	int family; /* underlay family from local/group/remotes, 0 = not fixed by the conf */
	bool learning;
	bool udp_csum;
	bool delete_on_last_del;
	bool peers_kube; /* "peers": "kubernetes": plexus-apid --vxlan-peers programs the peers */
	uint8_t ttl;	 /* VXLAN_HAS_TTL */
	uint32_t mtu;	 /* VXLAN_HAS_MTU */
	uint8_t mac[MAC_LEN];  /* VXLAN_HAS_MAC: pod interface MAC */
	unsigned has;	       /* VXLAN_HAS_* */
	char bridge[IFNAMSIZ]; /* "pxb<VNI>" or the "bridge" key */
	char vxdev[IFNAMSIZ];  /* "vx<VNI>" */
};

/* The ifalias of a VTEP whose peers come from the Kubernetes API ("peers": "kubernetes"):
 * plexus-apid --vxlan-peers programs FDB and neighbour entries only on such VTEPs. */
#define VXLAN_PEERS_ALIAS "plexus-vxlan:peers=kubernetes"
/* Pod records of a "peers": "kubernetes" network, one file per attachment:
 * <run dir>/vxlan/<vni>/<attachment's temporary ifname>.json = {"hostVeth", "tag", "mac",
 * "ips"}; written by ADD, removed by DEL, read and validated by plexus-apid. */
#define VXLAN_RECORD_SUFFIX ".json"

/* Parse and validate the vxlan keys of ctx->conf plus the MAC overrides (conf "mac" <
 * CNI_ARGS MAC= < runtimeConfig.mac). Pure: touches no kernel state. Errors name the field
 * (code 7; code 4 for CNI_ARGS). Free with vxlan_conf_done. */
int vxlan_conf_parse(const struct cni_ctx *ctx, struct vxlan_conf *ret, struct cni_err *err);
void vxlan_conf_done(struct vxlan_conf *c);

/* What the host side looks like once ensured. */
struct vxlan_host {
	int bridge_ifindex;
	int vx_ifindex;
	uint32_t mtu; /* the MTU pods get: conf mtu or the underlay's minus the overhead */
	bool created; /* ensure created the VTEP or the bridge */
};

/* $PLEXUS_RUN_DIR, or /run/plexus when unset or empty. Borrowed. */
const char *vxlan_run_dir(void);

/* Take the per-VNI lock <PLEXUS_RUN_DIR or /run/plexus>/vxlan/<vni>.lock; *ret_fd holds it
 * until closed. Failure -> code 5. */
int vxlan_lock(uint32_t vni, int *ret_fd, struct cni_err *err);
/* With the lock held, in the host netns: create or verify the VTEP and the bridge, enslave,
 * bring up, sync the remotes' flood entries. Errors: unknown master/local, a VNI/port used by
 * another device (code 7), an incompatible existing vx<VNI> or bridge (code 104). On failure
 * a VTEP or bridge it created is removed again (when the bridge has no other port). */
int vxlan_host_ensure(struct nl_sock *sk, const struct vxlan_conf *c, struct vxlan_host *ret,
		      struct cni_err *err);
/* CHECK: like ensure but only verifies (VTEP compatible, enslaved, bridge present). */
int vxlan_host_check(struct nl_sock *sk, const struct vxlan_conf *c, struct vxlan_host *ret,
		     struct cni_err *err);
/* With the lock held: delete the VTEP and the bridge when no port but the VTEP is left on the
 * bridge. Missing objects are fine. */
int vxlan_host_cleanup(struct nl_sock *sk, const struct vxlan_conf *c, struct cni_err *err);

/* Candidate host-side veth name number salt for an attachment: "vxh" + 8 hex digits of a hash
 * of (containerID, ifname, salt). ADD takes the first candidate no link has; DEL and CHECK find
 * the veth by its ifalias tag, never by this name. */
void vxlan_host_veth_name(const char *container_id, const char *ifname, unsigned salt,
			  char ret[IFNAMSIZ]);

extern const struct cni_plugin vxlan_plugin;
