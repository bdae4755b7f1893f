// SPDX-License-Identifier: Apache-2.0
/* The path macvlan and ipvlan share: a link on a master, created in the pod netns, plus IPAM. */
#include <errno.h>
#include <string.h>

#include "lib/cni/ipam.h"
#include "lib/cni/netns.h"
#include "lib/net/sublink.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

/* Look up the master (or the default-route interface) in the current netns and check the
 * requested MTU against it. */
static int find_master(struct nl_sock *sk, const struct net_sublink_conf *c, struct rtnl_link **ret,
		       struct cni_err *err)
{
	char name[IFNAMSIZ];
	const char *master = c->master;
	int r;
	if (!master) {
		r = net_default_route_iface(sk, name, err);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, -r,
					   "master: not set and no default route interface found");
		master = name;
	}
	_cleanup_link_ struct rtnl_link *link = NULL;
	r = net_link_get(sk, master, &link, err);
	if (r == -ENODEV)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				   "master: link '%s' not found%s", master,
				   c->link_in_container ? " in the container netns" : "");
	if (r < 0)
		return r;
	unsigned master_mtu = rtnl_link_get_mtu(link);
	if (c->has_mtu && c->mtu > master_mtu)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "mtu: invalid MTU %u, must be [0, master MTU(%u)]", c->mtu,
				   master_mtu);
	*ret = TAKE_PTR(link);
	return 0;
}

struct create_args {
	const struct cni_ctx *ctx;
	const struct net_sublink_ops *ops;
	const struct net_sublink_conf *conf;
	int ifindex; /* out: index in the pod netns */
};

/* Runs in the master's netns: build the link and create it in the pod netns. */
static int create_link(void *arg, struct cni_err *err)
{
	struct create_args *a = arg;
	const struct net_sublink_conf *c = a->conf;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *master = NULL;
	r = find_master(sk, c, &master, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *tmpl = NULL;
	r = a->ops->build(c->priv, &tmpl, err);
	if (r < 0)
		return r;
	rtnl_link_set_link(tmpl, rtnl_link_get_ifindex(master));
	if (c->has_mtu)
		rtnl_link_set_mtu(tmpl, c->mtu);
	char tmpname[IFNAMSIZ];
	net_tmp_ifname_for(a->ctx->container_id, a->ctx->ifname, tmpname);
	r = net_link_create_in_netns(sk, tmpl, a->ctx->netns_fd, tmpname, a->ctx->ifname,
				     &a->ifindex, err);
	if (r < 0)
		return cni_err_wrap(err, "%s: create '%s' on '%s'", a->ops->kind, a->ctx->ifname,
				    rtnl_link_get_name(master));
	return 0;
}

struct setup_args {
	const struct cni_ctx *ctx;
	const struct net_sublink_ops *ops;
	const struct net_sublink_conf *conf;
	struct cni_result *result; /* IPs to configure, or NULL for L2-only */
	char mac[MAC_STR_LEN];	   /* out */
	uint32_t mtu;		   /* out */
};

/* Runs in the pod netns: after_create, read back MAC/MTU, then IPs or just link up. */
static int setup_in_pod(void *arg, struct cni_err *err)
{
	struct setup_args *a = arg;
	const char *ifname = a->ctx->ifname;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(ifname, &sk, &link, err);
	if (r < 0)
		return r;
	if (a->ops->after_create) {
		r = a->ops->after_create(a->conf->priv, sk, rtnl_link_get_ifindex(link), err);
		if (r < 0)
			return r;
	}
	struct nl_addr *addr = rtnl_link_get_addr(link);
	if (addr && nl_addr_get_len(addr) == MAC_LEN)
		format_mac(nl_addr_get_binary_addr(addr), a->mac);
	a->mtu = rtnl_link_get_mtu(link);
	if (!a->result)
		return net_link_set_up(sk, ifname, err);
	/* As the reference: announce the new addresses; failures are harmless. */
	_cleanup_free_ char *arp = xasprintf("net/ipv4/conf/%s/arp_notify", ifname);
	_cleanup_free_ char *ndisc = xasprintf("net/ipv6/conf/%s/ndisc_notify", ifname);
	(void)net_sysctl_set(arp, "1", NULL);
	(void)net_sysctl_set(ndisc, "1", NULL);
	return net_iface_configure(ifname, 0, a->result, err);
}

static void undo_link(const struct cni_ctx *ctx)
{
	struct cni_err e = { 0 };
	if (net_link_del_in_netns(ctx->netns_fd, ctx->ifname, &e) < 0)
		log_warning("undo: delete '%s': %s, ignoring", ctx->ifname, e.msg);
}

/* Move the IPs and routes of src into dst; every IP goes to interface 0. */
static void take_ips(struct cni_result *dst, struct cni_result *src)
{
	dst->ips = TAKE_PTR(src->ips);
	dst->n_ips = src->n_ips;
	src->n_ips = 0;
	dst->routes = TAKE_PTR(src->routes);
	dst->n_routes = src->n_routes;
	src->n_routes = 0;
	for (size_t i = 0; i < dst->n_ips; i++)
		dst->ips[i].interface = 0;
}

int net_sublink_add(const struct cni_ctx *ctx, const struct net_sublink_ops *ops,
		    const struct net_sublink_conf *c, struct cni_result **ret, struct cni_err *err)
{
	struct create_args ca = { .ctx = ctx, .ops = ops, .conf = c };
	int r = c->link_in_container ? cni_netns_run(ctx->netns_fd, create_link, &ca, err)
				     : create_link(&ca, err);
	if (r < 0)
		return r;

	/* Interface 0 is ours, so every address gets ips[].interface = 0. */
	struct cni_result *result = cni_result_new();
	(void)cni_result_add_iface(result, ctx->ifname, NULL, ctx->netns_path);
	bool run_ipam = !c->preset && ctx->ipam_type;
	if (c->preset) {
		struct cni_result *prev = cni_result_dup(c->preset);
		take_ips(result, prev);
		cni_result_free(prev);
	} else if (run_ipam) {
		struct cni_result *ipam = NULL;
		r = cni_ipam_add(ctx, &ipam, err);
		if (r < 0) {
			cni_result_free(result);
			undo_link(ctx);
			return r;
		}
		take_ips(result, ipam);
		cni_result_free(ipam);
	}
	struct setup_args sa = {
		.ctx = ctx, .ops = ops, .conf = c, .result = c->preset || run_ipam ? result : NULL
	};
	r = cni_netns_run(ctx->netns_fd, setup_in_pod, &sa, err);
	if (r < 0) {
		undo_link(ctx);
		if (run_ipam) {
			struct cni_err e = { 0 };
			if (cni_ipam_del(ctx, &e) < 0)
				log_warning("undo: %s, ignoring", e.msg);
		}
		cni_result_free(result);
		return r;
	}
	if (sa.mac[0])
		result->interfaces[0].mac = xstrdup(sa.mac);
	result->interfaces[0].mtu = sa.mtu;
	/* The reference reports the netconf's dns, not IPAM's. */
	cni_dns_copy(&result->dns, &ctx->dns);
	*ret = result;
	return 0;
}

int net_sublink_del(const struct cni_ctx *ctx, const struct net_sublink_ops *ops,
		    struct cni_err *err)
{
	/* DEL needs nothing ADD needed (no master lookup: it may be gone); IPAM first, so the
	 * lease is released even when the netns is gone (CNI spec, section 'DEL'). */
	int r = cni_ipam_del(ctx, err);
	if (r < 0)
		return r;
	if (ctx->netns_fd < 0)
		return 0;
	char tmpname[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, tmpname);
	return net_link_del_attachment(ctx->netns_fd, ctx->ifname, tmpname, ops->kind, err);
}

struct check_args {
	const struct cni_ctx *ctx;
	const struct net_sublink_ops *ops;
	const struct net_sublink_conf *conf;
	const struct cni_result *prev;
	size_t iface;
};

static int check_in_pod(void *arg, struct cni_err *err)
{
	struct check_args *a = arg;
	return net_check_pod_iface(a->ctx->ifname, a->prev, a->iface, a->ops->check_link,
				   a->conf->priv, err);
}

static int check_master(void *arg, struct cni_err *err)
{
	const struct net_sublink_conf *c = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *master = NULL;
	return find_master(sk, c, &master, err);
}

int net_sublink_check(const struct cni_ctx *ctx, const struct net_sublink_ops *ops,
		      const struct net_sublink_conf *c, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	size_t i;
	int r = cni_ctx_prev_iface(ctx, &i, err);
	if (r < 0)
		return r;
	r = cni_ipam_check(ctx, err);
	if (r < 0)
		return r;
	r = c->link_in_container ? cni_netns_run(ctx->netns_fd, check_master, (void *)c, err)
				 : check_master((void *)c, err);
	if (r < 0)
		return r;
	struct check_args a = { .ctx = ctx, .ops = ops, .conf = c, .prev = prev, .iface = i };
	return cni_netns_run(ctx->netns_fd, check_in_pod, &a, err);
}

int net_link_set_info_data(struct nl_sock *sk, int ifindex, const char *kind, int attr,
			   const void *data, size_t len, const char *what, struct cni_err *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_ACK);
	if (!msg)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	struct nlattr *info = r < 0 ? NULL : nla_nest_start(msg, IFLA_LINKINFO);
	if (info && nla_put_string(msg, IFLA_INFO_KIND, kind) >= 0) {
		struct nlattr *nested = nla_nest_start(msg, IFLA_INFO_DATA);
		if (nested && nla_put(msg, attr, (int)len, data) >= 0) {
			nla_nest_end(msg, nested);
			nla_nest_end(msg, info);
			r = nl_send_sync(sk, msg); /* frees msg */
			msg = NULL;
		} else {
			r = -NLE_NOMEM;
		}
	} else if (r >= 0) {
		r = -NLE_NOMEM;
	}
	nlmsg_free(msg);
	return r < 0 ? net_err(err, r, "%s", what) : 0;
}
