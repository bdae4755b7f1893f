/* SPDX-License-Identifier: Apache-2.0 */
/* Shared ADD/DEL/CHECK of a "sub-link on a master" plugin (macvlan, ipvlan), as the
 * reference plugins behave (docs/macvlan.md, docs/ipvlan.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/cni.h"
#include "lib/net/net.h"

/* What differs per link kind. priv is the plugin's parsed conf, passed back unchanged. */
struct net_sublink_ops {
	/* "macvlan": used in messages ("macvlan: create 'net1' on 'eth0': ..."). */
	const char *kind;
	/* A new template with the kind-specific attributes (kind, mode, MAC...). The caller
	 * owns *ret and sets the master ifindex and MTU itself. Runs in the master's netns. */
	int (*build)(const void *priv, struct rtnl_link **ret, struct cni_err *err);
	/* Optional: run in the pod netns right after creation, before IPs (sk is a socket
	 * there, ifindex the new link's). An error undoes the ADD. */
	int (*after_create)(const void *priv, struct nl_sock *sk, int ifindex, struct cni_err *err);
	/* CHECK: link (in the pod netns, named ifname) has the configured kind and mode.
	 * Mismatch -> code 104. */
	int (*check_link)(const void *priv, struct rtnl_link *link, const char *ifname,
			  struct cni_err *err);
};

/* The netconf fields every sub-link plugin has. */
struct net_sublink_conf {
	const char *master;	/* borrowed; NULL = the default-route interface */
	bool link_in_container; /* master is looked up in the pod netns */
	bool has_mtu;
	uint32_t mtu; /* must be <= the master's MTU */
	/* ADD only: apply these IPs and routes (chained mode) instead of running IPAM; borrowed. */
	const struct cni_result *preset;
	const void *priv; /* handed to the ops callbacks */
};

/* ADD: create the link on the master directly in the pod netns (temp name, then
 * CNI_IFNAME), IPAM ADD (unless c->preset or no ipam type), arp/ndisc_notify + addresses and
 * routes, or just link up when L2-only. *ret: one interface (name, mac, mtu, sandbox), every IP
 * on interface 0, the netconf's dns; the caller owns it. Any failure undoes the link and the
 * IPAM lease before returning. */
int net_sublink_add(const struct cni_ctx *ctx, const struct net_sublink_ops *ops,
		    const struct net_sublink_conf *c, struct cni_result **ret, struct cni_err *err);
/* DEL: IPAM DEL, then delete CNI_IFNAME in the netns, and a link of ops->kind left under the
 * attachment's temporary name by a killed ADD; a missing netns or link is success. Never looks
 * up the master. */
int net_sublink_del(const struct cni_ctx *ctx, const struct net_sublink_ops *ops,
		    struct cni_err *err);
/* CHECK (as the reference macvlan): prevResult has CNI_IFNAME in sandbox CNI_NETNS, IPAM CHECK, the
 * master exists (and the MTU fits), ops->check_link, the recorded MAC, addresses and routes. */
int net_sublink_check(const struct cni_ctx *ctx, const struct net_sublink_ops *ops,
		      const struct net_sublink_conf *c, struct cni_err *err);

/* Send a changelink for ifindex carrying IFLA_LINKINFO {IFLA_INFO_KIND kind, IFLA_INFO_DATA
 * {attr: data}}, for attributes libnl cannot set. Failure -> net_err with "what" as the message
 * prefix (code 100). */
int net_link_set_info_data(struct nl_sock *sk, int ifindex, const char *kind, int attr,
			   const void *data, size_t len, const char *what, struct cni_err *err);
