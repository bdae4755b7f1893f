// SPDX-License-Identifier: Apache-2.0
/* The ipvlan plugin: an ipvlan link on a master, created in the pod netns (docs/ipvlan.md). */
#include <errno.h>
#include <linux/if_link.h>
#include <netlink/route/link/ipvlan.h>
#include <stdio.h>
#include <string.h>

#include "ipvlan/ipvlan.h"
#include "lib/net/sublink.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

static const char *const ipvlan_aliases[] = { "plexus-ipvlan", NULL };

static int ipvlan_build(const void *priv, struct rtnl_link **ret, struct cni_err *err)
{
	const struct ipvlan_conf *c = priv;
	_cleanup_link_ struct rtnl_link *tmpl = rtnl_link_ipvlan_alloc();
	if (!tmpl)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = rtnl_link_ipvlan_set_mode(tmpl, c->mode);
	if (r < 0)
		return net_err(err, r, "ipvlan: set mode '%s'", c->mode_name);
	*ret = TAKE_PTR(tmpl);
	return 0;
}

/* libnl has no IFLA_IPVLAN_FLAGS: a raw changelink in the pod netns. The kernel keeps
 * mode and flags per master (port), so this also applies to the master's other slaves. */
static int ipvlan_after_create(const void *priv, struct nl_sock *sk, int ifindex,
			       struct cni_err *err)
{
	const struct ipvlan_conf *c = priv;
	if (!(c->has & IPVLAN_HAS_FLAG))
		return 0;
	char what[40];
	snprintf(what, sizeof(what), "flag: set '%s'", c->flag_name);
	return net_link_set_info_data(sk, ifindex, "ipvlan", IFLA_IPVLAN_FLAGS, &c->flag,
				      sizeof(c->flag), what, err);
}

static int ipvlan_check_link(const void *priv, struct rtnl_link *link, const char *ifname,
			     struct cni_err *err)
{
	const struct ipvlan_conf *c = priv;
	uint16_t mode = 0;
	if (!rtnl_link_is_ipvlan(link))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' is not an ipvlan link",
				   ifname);
	if (rtnl_link_ipvlan_get_mode(link, &mode) < 0 || mode != c->mode)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "'%s' has ipvlan mode %u, config says '%s'", ifname, mode,
				   c->mode_name);
	return 0;
}

static const struct net_sublink_ops ipvlan_ops = {
	.kind = "ipvlan",
	.build = ipvlan_build,
	.after_create = ipvlan_after_create,
	.check_link = ipvlan_check_link,
};

static struct net_sublink_conf sublink_conf(const struct ipvlan_conf *c)
{
	return (struct net_sublink_conf){ .master = c->master,
					  .link_in_container = c->link_in_container,
					  .has_mtu = c->has & IPVLAN_HAS_MTU,
					  .mtu = c->mtu,
					  .preset = c->preset,
					  .priv = c };
}

static int ipvlan_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct ipvlan_conf conf;
	int r = ipvlan_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	struct net_sublink_conf sc = sublink_conf(&conf);
	struct cni_result *result = NULL;
	r = net_sublink_add(ctx, &ipvlan_ops, &sc, &result, err);
	if (r < 0)
		return r;
	log_info("added ipvlan '%s' (mode %s%s%s) with %zu address(es)", ctx->ifname,
		 conf.mode_name, conf.flag_name ? ", flag " : "",
		 conf.flag_name ? conf.flag_name : "", result->n_ips);
	*ret = result;
	return 0;
}

static int ipvlan_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	return net_sublink_del(ctx, &ipvlan_ops, err);
}

/* CHECK as macvlan's. The flag is not compared: libnl does not parse IFLA_IPVLAN_FLAGS. */
static int ipvlan_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	if (!ctx->prev_result)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "prevResult: required prevResult missing");
	struct ipvlan_conf conf;
	int r = ipvlan_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	struct net_sublink_conf sc = sublink_conf(&conf);
	return net_sublink_check(ctx, &ipvlan_ops, &sc, err);
}

const struct cni_plugin ipvlan_plugin = {
	.name = "ipvlan",
	.aliases = ipvlan_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = ipvlan_add,
	.del = ipvlan_del,
	.check = ipvlan_check,
	/* STATUS and GC: nothing of our own; the core forwards both to IPAM. */
};
