// SPDX-License-Identifier: Apache-2.0
/* The macvlan plugin: a macvlan link on a master, created in the pod netns (CHECKLIST §3.1). */
#include <errno.h>
#include <linux/if_link.h>
#include <netlink/route/link/macvlan.h>
#include <string.h>

#include "lib/cni/ipam.h"
#include "lib/cni/netns.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "macvlan/macvlan.h"

static const char *const macvlan_aliases[] = { "plexus-macvlan", NULL };

/* Look up the master (or the default-route interface) in the current netns and check the
 * requested MTU against it. */
static int find_master(struct nl_sock *sk, const struct macvlan_conf *c, struct rtnl_link **ret,
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
	if ((c->has & MACVLAN_HAS_MTU) && c->mtu > master_mtu)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "mtu: invalid MTU %u, must be [0, master MTU(%u)]", c->mtu,
				   master_mtu);
	*ret = TAKE_PTR(link);
	return 0;
}

struct create_args {
	const struct cni_ctx *ctx;
	const struct macvlan_conf *conf;
	int ifindex; /* out: index in the pod netns */
};

/* Runs in the master's netns: build the macvlan and create it in the pod netns. */
static int create_link(void *arg, struct cni_err *err)
{
	struct create_args *a = arg;
	const struct macvlan_conf *c = a->conf;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *master = NULL;
	r = find_master(sk, c, &master, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *tmpl = rtnl_link_macvlan_alloc();
	if (!tmpl)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_link(tmpl, rtnl_link_get_ifindex(master));
	r = rtnl_link_macvlan_set_mode(tmpl, c->mode);
	if (r < 0)
		return net_err(err, r, "macvlan: set mode '%s'", c->mode_name);
	if (c->has & MACVLAN_HAS_MTU)
		rtnl_link_set_mtu(tmpl, c->mtu);
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
	r = net_link_create_in_netns(sk, tmpl, a->ctx->netns_fd, a->ctx->ifname, &a->ifindex,
				     err);
	if (r < 0)
		return cni_err_wrap(err, "macvlan: create '%s' on '%s'", a->ctx->ifname,
				    rtnl_link_get_name(master));
	return 0;
}

/* IFLA_MACVLAN_BC_QUEUE_LEN is not in libnl: send a raw changelink (kernel >= 5.11). */
static int set_bcqueuelen(struct nl_sock *sk, int ifindex, uint32_t len, struct cni_err *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_ACK);
	if (!msg)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	struct nlattr *info = r < 0 ? NULL : nla_nest_start(msg, IFLA_LINKINFO);
	if (info && nla_put_string(msg, IFLA_INFO_KIND, "macvlan") >= 0) {
		struct nlattr *data = nla_nest_start(msg, IFLA_INFO_DATA);
		if (data && nla_put_u32(msg, IFLA_MACVLAN_BC_QUEUE_LEN, len) >= 0) {
			nla_nest_end(msg, data);
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
	return r < 0 ? net_err(err, r, "bcqueuelen: set %u", len) : 0;
}

struct setup_args {
	const struct cni_ctx *ctx;
	const struct macvlan_conf *conf;
	struct cni_result *result; /* IPs to configure, or NULL for L2-only */
	char mac[MAC_STR_LEN];     /* out */
	uint32_t mtu;              /* out */
};

/* Runs in the pod netns: bcqueuelen, read back MAC/MTU, then IPs or just link up. */
static int setup_in_pod(void *arg, struct cni_err *err)
{
	struct setup_args *a = arg;
	const char *ifname = a->ctx->ifname;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *link = NULL;
	r = net_link_get(sk, ifname, &link, err);
	if (r < 0)
		return r;
	if (a->conf->has & MACVLAN_HAS_BCQUEUELEN) {
		r = set_bcqueuelen(sk, rtnl_link_get_ifindex(link), a->conf->bcqueuelen, err);
		if (r < 0)
			return r;
	}
	struct nl_addr *addr = rtnl_link_get_addr(link);
	if (addr && nl_addr_get_len(addr) == MAC_LEN)
		format_mac(nl_addr_get_binary_addr(addr), a->mac);
	a->mtu = rtnl_link_get_mtu(link);
	if (!a->result)
		return net_link_set_up(sk, ifname, err);
	/* PLG-02: announce the new addresses; failures are harmless. */
	_cleanup_free_ char *arp = xasprintf("net/ipv4/conf/%s/arp_notify", ifname);
	_cleanup_free_ char *ndisc = xasprintf("net/ipv6/conf/%s/ndisc_notify", ifname);
	(void)net_sysctl_set(arp, "1", NULL);
	(void)net_sysctl_set(ndisc, "1", NULL);
	return net_iface_configure(ifname, 0, a->result, err);
}

static int del_link_fn(void *arg, struct cni_err *err)
{
	const char *ifname = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	return net_link_del(sk, ifname, err);
}

static void undo_link(const struct cni_ctx *ctx)
{
	struct cni_err e = { 0 };
	if (cni_netns_run(ctx->netns_fd, del_link_fn, (void *)ctx->ifname, &e) < 0)
		log_warning("undo: delete '%s': %s, ignoring", ctx->ifname, e.msg);
}

static int macvlan_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct macvlan_conf conf;
	int r = macvlan_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	struct create_args ca = { .ctx = ctx, .conf = &conf };
	r = conf.link_in_container ? cni_netns_run(ctx->netns_fd, create_link, &ca, err)
				   : create_link(&ca, err);
	if (r < 0)
		goto out;

	/* Interface 0 is ours, so every IPAM address gets ips[].interface = 0 (PLG-03). */
	struct cni_result *result = cni_result_new();
	(void)cni_result_add_iface(result, ctx->ifname, NULL, ctx->netns_path);
	if (ctx->ipam_type) {
		struct cni_result *ipam = NULL;
		r = cni_ipam_add(ctx, &ipam, err);
		if (r < 0) {
			cni_result_free(result);
			undo_link(ctx);
			goto out;
		}
		result->ips = TAKE_PTR(ipam->ips);
		result->n_ips = ipam->n_ips;
		ipam->n_ips = 0;
		result->routes = TAKE_PTR(ipam->routes);
		result->n_routes = ipam->n_routes;
		ipam->n_routes = 0;
		cni_result_free(ipam);
		for (size_t i = 0; i < result->n_ips; i++)
			result->ips[i].interface = 0;
	}
	struct setup_args sa = { .ctx = ctx, .conf = &conf,
				 .result = ctx->ipam_type ? result : NULL };
	r = cni_netns_run(ctx->netns_fd, setup_in_pod, &sa, err);
	if (r < 0) {
		undo_link(ctx);
		if (ctx->ipam_type) {
			struct cni_err e = { 0 };
			if (cni_ipam_del(ctx, &e) < 0)
				log_warning("undo: %s, ignoring", e.msg);
		}
		cni_result_free(result);
		goto out;
	}
	if (sa.mac[0])
		result->interfaces[0].mac = xstrdup(sa.mac);
	result->interfaces[0].mtu = sa.mtu;
	/* The reference reports the netconf's dns, not IPAM's. */
	cni_dns_copy(&result->dns, &ctx->dns);
	log_info("added macvlan '%s' (mode %s) with %zu address(es)", ctx->ifname, conf.mode_name,
		 result->n_ips);
	*ret = result;
out:
	macvlan_conf_done(&conf);
	return r;
}

static int macvlan_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	/* CNI-27: DEL needs nothing ADD needed (no master lookup); IPAM first (CNI-25). */
	int r = cni_ipam_del(ctx, err);
	if (r < 0)
		return r;
	if (ctx->netns_fd < 0)
		return 0;
	return cni_netns_run(ctx->netns_fd, del_link_fn, (void *)ctx->ifname, err);
}

struct check_args {
	const struct cni_ctx *ctx;
	const struct macvlan_conf *conf;
	const struct cni_result *prev;
	size_t iface;
};

static int check_in_pod(void *arg, struct cni_err *err)
{
	struct check_args *a = arg;
	const char *ifname = a->ctx->ifname;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *link = NULL;
	r = net_link_get(sk, ifname, &link, err);
	if (r < 0)
		return r;
	if (!rtnl_link_is_macvlan(link))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' is not a macvlan link",
				   ifname);
	if (rtnl_link_macvlan_get_mode(link) != a->conf->mode)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "'%s' has macvlan mode %u, config says '%s'", ifname,
				   rtnl_link_macvlan_get_mode(link), a->conf->mode_name);
	const char *want_mac = a->prev->interfaces[a->iface].mac;
	struct nl_addr *addr = rtnl_link_get_addr(link);
	if (want_mac && *want_mac && addr && nl_addr_get_len(addr) == MAC_LEN) {
		char mac[MAC_STR_LEN];
		uint8_t want[MAC_LEN];
		format_mac(nl_addr_get_binary_addr(addr), mac);
		if (parse_mac(want_mac, want) < 0 ||
		    memcmp(want, nl_addr_get_binary_addr(addr), MAC_LEN) != 0)
			return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
					   "'%s' has MAC '%s', prevResult says '%s'", ifname, mac,
					   want_mac);
	}
	r = net_check_addrs(sk, ifname, (int)a->iface, a->prev, err);
	if (r < 0)
		return r;
	return net_check_routes(sk, a->prev, err);
}

static int check_master(void *arg, struct cni_err *err)
{
	const struct macvlan_conf *c = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *master = NULL;
	return find_master(sk, c, &master, err);
}

/* CNI-33: the interface of prevResult exists in the netns as configured. */
static int macvlan_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	if (!prev)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "prevResult: required prevResult missing");
	struct macvlan_conf conf;
	int r = macvlan_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	size_t i;
	for (i = 0; i < prev->n_interfaces; i++)
		if (strcmp(prev->interfaces[i].name, ctx->ifname) == 0 &&
		    prev->interfaces[i].sandbox &&
		    strcmp(prev->interfaces[i].sandbox, ctx->netns_path) == 0)
			break;
	if (i == prev->n_interfaces) {
		r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENOENT,
				"prevResult: no interface '%s' in sandbox '%s'", ctx->ifname,
				ctx->netns_path);
		goto out;
	}
	r = cni_ipam_check(ctx, err);
	if (r < 0)
		goto out;
	r = conf.link_in_container ? cni_netns_run(ctx->netns_fd, check_master, &conf, err)
				   : check_master(&conf, err);
	if (r < 0)
		goto out;
	struct check_args a = { .ctx = ctx, .conf = &conf, .prev = prev, .iface = i };
	r = cni_netns_run(ctx->netns_fd, check_in_pod, &a, err);
out:
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
