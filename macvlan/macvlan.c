// SPDX-License-Identifier: Apache-2.0
/* The macvlan plugin: a macvlan link on a master, created in the pod netns (docs/macvlan.md). */
#include <errno.h>
#include <linux/if_link.h>
#include <netlink/route/link/macvlan.h>
#include <stdio.h>
#include <string.h>

#include "lib/net/sublink.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "macvlan/macvlan.h"

static const char *const macvlan_aliases[] = { "plexus-macvlan", NULL };

/* Template: kind, mode, MAC and the source-mode MAC list (master and MTU: lib/net/sublink.c). */
static int macvlan_build(const void *priv, struct rtnl_link **ret, struct cni_err *err)
{
	const struct macvlan_conf *c = priv;
	_cleanup_link_ struct rtnl_link *tmpl = rtnl_link_macvlan_alloc();
	if (!tmpl)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = rtnl_link_macvlan_set_mode(tmpl, c->mode);
	if (r < 0)
		return net_err(err, r, "macvlan: set mode '%s'", c->mode_name);
	if (c->has & MACVLAN_HAS_MAC) {
		struct nl_addr *addr = nl_addr_build(AF_LLC, c->mac, MAC_LEN);
		if (!addr)
			return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
		rtnl_link_set_addr(tmpl, addr);
		nl_addr_put(addr);
	}
	if (c->mode == MACVLAN_MODE_SOURCE) {
		r = rtnl_link_macvlan_set_macmode(tmpl, MACVLAN_MACADDR_SET);
		for (size_t i = 0; r >= 0 && i < c->n_source_macs; i++) {
			struct nl_addr *addr = nl_addr_build(AF_LLC, c->source_macs[i], MAC_LEN);
			if (!addr)
				return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
			r = rtnl_link_macvlan_add_macaddr(tmpl, addr);
			nl_addr_put(addr);
		}
		if (r < 0)
			return net_err(err, r, "macvlan: source MAC list");
	}
	*ret = TAKE_PTR(tmpl);
	return 0;
}

/* IFLA_MACVLAN_BC_QUEUE_LEN is not in libnl: a raw changelink in the pod netns (kernel >= 5.11). */
static int macvlan_after_create(const void *priv, struct nl_sock *sk, int ifindex,
				struct cni_err *err)
{
	const struct macvlan_conf *c = priv;
	if (!(c->has & MACVLAN_HAS_BCQUEUELEN))
		return 0;
	char what[40];
	snprintf(what, sizeof(what), "bcqueuelen: set %u", c->bcqueuelen);
	return net_link_set_info_data(sk, ifindex, "macvlan", IFLA_MACVLAN_BC_QUEUE_LEN,
				      &c->bcqueuelen, sizeof(c->bcqueuelen), what, err);
}

static int macvlan_check_link(const void *priv, struct rtnl_link *link, const char *ifname,
			      struct cni_err *err)
{
	const struct macvlan_conf *c = priv;
	if (!rtnl_link_is_macvlan(link))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' is not a macvlan link",
				   ifname);
	if (rtnl_link_macvlan_get_mode(link) != c->mode)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "'%s' has macvlan mode %u, config says '%s'", ifname,
				   rtnl_link_macvlan_get_mode(link), c->mode_name);
	return 0;
}

static const struct net_sublink_ops macvlan_ops = {
	.kind = "macvlan",
	.build = macvlan_build,
	.after_create = macvlan_after_create,
	.check_link = macvlan_check_link,
};

static struct net_sublink_conf sublink_conf(const struct macvlan_conf *c)
{
	return (struct net_sublink_conf){ .master = c->master,
					  .link_in_container = c->link_in_container,
					  .has_mtu = c->has & MACVLAN_HAS_MTU,
					  .mtu = c->mtu,
					  .priv = c };
}

static int macvlan_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct macvlan_conf conf;
	int r = macvlan_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	struct net_sublink_conf sc = sublink_conf(&conf);
	struct cni_result *result = NULL;
	r = net_sublink_add(ctx, &macvlan_ops, &sc, &result, err);
	if (r >= 0) {
		log_info("added macvlan '%s' (mode %s) with %zu address(es)", ctx->ifname,
			 conf.mode_name, result->n_ips);
		*ret = result;
	}
	macvlan_conf_done(&conf);
	return r;
}

static int macvlan_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	return net_sublink_del(ctx, &macvlan_ops, err);
}

/* CHECK (CNI spec, section 'CHECK'): prevResult's interface exists as configured. */
static int macvlan_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	if (!ctx->prev_result)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "prevResult: required prevResult missing");
	struct macvlan_conf conf;
	int r = macvlan_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	struct net_sublink_conf sc = sublink_conf(&conf);
	r = net_sublink_check(ctx, &macvlan_ops, &sc, err);
	macvlan_conf_done(&conf);
	return r;
}

const struct cni_plugin macvlan_plugin = {
	.name = "macvlan",
	.aliases = macvlan_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = macvlan_add,
	.del = macvlan_del,
	.check = macvlan_check,
	/* STATUS and GC: nothing of our own; the core forwards both to IPAM. */
};
