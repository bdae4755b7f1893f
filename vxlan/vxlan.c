// SPDX-License-Identifier: Apache-2.0
/* The vxlan plugin: one veth per pod on the per-VNI bridge of this node (CHECKLIST §4.3 A). */
#include <errno.h>
#include <netlink/route/link/veth.h>
#include <stdio.h>
#include <string.h>

#include "lib/cni/ipam.h"
#include "lib/cni/netns.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "vxlan/vxlan.h"

static const char *const vxlan_aliases[] = { "plexus-vxlan", NULL };

/* Index of the pod interface in the result: [bridge, host veth, pod veth] as the bridge
 * plugin reports it (CHECKLIST VX-15). */
#define POD_IFACE 2

void vxlan_host_veth_name(const char *container_id, const char *ifname, char ret[IFNAMSIZ])
{
	/* FNV-1a over "containerID\0ifname": stable across processes, no state needed. */
	uint32_t h = 2166136261u;
	for (const char *p = container_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0) * 16777619u;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	(void)snprintf(ret, IFNAMSIZ, "vxh%08x", h);
}

static void nl_addrp(struct nl_addr **p)
{
	if (*p)
		nl_addr_put(*p);
}

static void link_mac(struct rtnl_link *l, char buf[MAC_STR_LEN])
{
	struct nl_addr *a = rtnl_link_get_addr(l);
	buf[0] = '\0';
	if (a && nl_addr_get_len(a) == MAC_LEN)
		format_mac(nl_addr_get_binary_addr(a), buf);
}

struct host_out {
	char bridge_mac[MAC_STR_LEN];
	char host_mac[MAC_STR_LEN];
	uint32_t mtu;
};

/* Under the per-VNI lock: VTEP + bridge, then the veth (pod end straight into the netns
 * under a temporary name, renamed to CNI_IFNAME there), host end on the bridge and up.
 * Holding the lock until the port is attached keeps a last-DEL cleanup from removing the
 * bridge in between. */
static int host_setup(const struct cni_ctx *ctx, const struct vxlan_conf *c, const char *hveth,
		      struct host_out *out, struct cni_err *err)
{
	_cleanup_close_ int lock = -1;
	int r = vxlan_lock(c->vni, &lock, err);
	if (r < 0)
		return r;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	struct vxlan_host h;
	r = vxlan_host_ensure(sk, c, &h, err);
	if (r < 0)
		return r;

	_cleanup_link_ struct rtnl_link *old = NULL;
	if (net_link_get(sk, hveth, &old, NULL) >= 0)
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: host veth '%s' for this container and ifname already "
				   "exists (ADD without DEL?)",
				   hveth);

	_cleanup_link_ struct rtnl_link *tmpl = rtnl_link_veth_alloc();
	if (!tmpl)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_mtu(tmpl, h.mtu);
	if (c->has & VXLAN_HAS_MAC) {
		_cleanup_(nl_addrp) struct nl_addr *a = nl_addr_build(AF_LLC, c->mac, MAC_LEN);
		if (!a)
			return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
		rtnl_link_set_addr(tmpl, a);
	}
	/* The peer has no IFLA_NET_NS_FD of its own: it stays in the netns of the request. */
	struct rtnl_link *peer = rtnl_link_veth_get_peer(tmpl);
	rtnl_link_set_name(peer, hveth);
	rtnl_link_set_mtu(peer, h.mtu);
	rtnl_link_put(peer);
	int pod_ifindex;
	r = net_link_create_in_netns(sk, tmpl, ctx->netns_fd, ctx->ifname, &pod_ifindex, err);
	if (r < 0)
		return cni_err_wrap(err, "vxlan: create veth '%s' / '%s'", ctx->ifname, hveth);

	_cleanup_link_ struct rtnl_link *hl = NULL;
	_cleanup_link_ struct rtnl_link *br = NULL;
	r = net_link_get(sk, hveth, &hl, err);
	if (r >= 0)
		r = net_link_get_by_index(sk, h.bridge_ifindex, &br, err);
	if (r >= 0) {
		r = rtnl_link_enslave(sk, br, hl);
		if (r < 0)
			r = net_err(err, r, "vxlan: attach '%s' to bridge '%s'", hveth, c->bridge);
	}
	if (r >= 0)
		r = net_link_set_up(sk, hveth, err);
	if (r < 0) {
		(void)net_link_del(sk, hveth, NULL);
		return r;
	}
	link_mac(hl, out->host_mac);
	link_mac(br, out->bridge_mac);
	out->mtu = h.mtu;
	return 0;
}

struct pod_args {
	const char *ifname;
	const struct cni_result *result; /* NULL: L2-only, just bring the link up */
	char mac[MAC_STR_LEN];		 /* out */
	uint32_t mtu;			 /* out */
};

static int pod_setup(void *arg, struct cni_err *err)
{
	struct pod_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(a->ifname, &sk, &link, err);
	if (r < 0)
		return r;
	link_mac(link, a->mac);
	a->mtu = rtnl_link_get_mtu(link);
	if (!a->result)
		return net_link_set_up(sk, a->ifname, err);
	/* PLG-02: announce the new addresses; failures are harmless. */
	_cleanup_free_ char *arp = xasprintf("net/ipv4/conf/%s/arp_notify", a->ifname);
	_cleanup_free_ char *ndisc = xasprintf("net/ipv6/conf/%s/ndisc_notify", a->ifname);
	(void)net_sysctl_set(arp, "1", NULL);
	(void)net_sysctl_set(ndisc, "1", NULL);
	return net_iface_configure(a->ifname, POD_IFACE, a->result, err);
}

static int del_host_veth(const char *hveth, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	return net_link_del(sk, hveth, err);
}

static void undo_veth(const char *hveth)
{
	struct cni_err e = { 0 };
	if (del_host_veth(hveth, &e) < 0)
		log_warning("undo: delete '%s': %s, ignoring", hveth, e.msg);
}

static int vxlan_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct vxlan_conf c;
	int r = vxlan_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	char hveth[IFNAMSIZ];
	vxlan_host_veth_name(ctx->container_id, ctx->ifname, hveth);
	struct host_out ho = { 0 };
	r = host_setup(ctx, &c, hveth, &ho, err);
	if (r < 0)
		goto out;

	struct cni_result *result = cni_result_new();
	size_t i = cni_result_add_iface(result, c.bridge, ho.bridge_mac[0] ? ho.bridge_mac : NULL,
					NULL);
	result->interfaces[i].mtu = ho.mtu;
	i = cni_result_add_iface(result, hveth, ho.host_mac[0] ? ho.host_mac : NULL, NULL);
	result->interfaces[i].mtu = ho.mtu;
	(void)cni_result_add_iface(result, ctx->ifname, NULL, ctx->netns_path);
	if (ctx->ipam_type) {
		struct cni_result *ipam = NULL;
		r = cni_ipam_add(ctx, &ipam, err);
		if (r < 0) {
			cni_result_free(result);
			undo_veth(hveth);
			goto out;
		}
		result->ips = TAKE_PTR(ipam->ips);
		result->n_ips = ipam->n_ips;
		ipam->n_ips = 0;
		result->routes = TAKE_PTR(ipam->routes);
		result->n_routes = ipam->n_routes;
		ipam->n_routes = 0;
		for (size_t k = 0; k < result->n_ips; k++)
			result->ips[k].interface = POD_IFACE;
		cni_result_free(ipam);
	}
	struct pod_args pa = { .ifname = ctx->ifname, .result = ctx->ipam_type ? result : NULL };
	r = cni_netns_run(ctx->netns_fd, pod_setup, &pa, err);
	if (r < 0) {
		undo_veth(hveth);
		if (ctx->ipam_type) {
			struct cni_err e = { 0 };
			if (cni_ipam_del(ctx, &e) < 0)
				log_warning("undo: %s, ignoring", e.msg);
		}
		cni_result_free(result);
		goto out;
	}
	if (pa.mac[0])
		result->interfaces[POD_IFACE].mac = xstrdup(pa.mac);
	result->interfaces[POD_IFACE].mtu = pa.mtu;
	cni_dns_copy(&result->dns, &ctx->dns);
	log_info("added '%s' (host '%s') on bridge '%s', vni %u port %u, %zu address(es)",
		 ctx->ifname, hveth, c.bridge, c.vni, c.port, result->n_ips);
	*ret = result;
out:
	vxlan_conf_done(&c);
	return r;
}

static int last_del_cleanup(const struct vxlan_conf *c, struct cni_err *err)
{
	_cleanup_close_ int lock = -1;
	int r = vxlan_lock(c->vni, &lock, err);
	if (r < 0)
		return r;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	return vxlan_host_cleanup(sk, c, err);
}

/* CNI-22..27: IPAM first, then the pod end (which takes the host end with it), then the
 * host end by its derived name in case the netns is already gone. */
static int vxlan_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	int r = cni_ipam_del(ctx, err);
	if (r < 0)
		return r;
	if (ctx->netns_fd >= 0) {
		r = net_link_del_in_netns(ctx->netns_fd, ctx->ifname, err);
		if (r < 0)
			return r;
	}
	char hveth[IFNAMSIZ];
	vxlan_host_veth_name(ctx->container_id, ctx->ifname, hveth);
	r = del_host_veth(hveth, err);
	if (r < 0)
		return r;
	/* CNI-27: DEL must not fail on what only the cleanup needs. */
	struct vxlan_conf c;
	struct cni_err e = { 0 };
	if (vxlan_conf_parse(ctx, &c, &e) < 0) {
		log_warning("del: %s, skipping VTEP cleanup", e.msg);
		return 0;
	}
	if (c.delete_on_last_del && last_del_cleanup(&c, &e) < 0)
		log_warning("del: cleanup of '%s'/'%s': %s, ignoring", c.vxdev, c.bridge, e.msg);
	vxlan_conf_done(&c);
	return 0;
}

struct check_args {
	const struct cni_ctx *ctx;
	const struct cni_result *prev;
	size_t iface;
	uint32_t mtu;
};

/* The pod end is a veth with the network's MTU. */
static int check_veth(const void *data, struct rtnl_link *link, const char *ifname,
		      struct cni_err *err)
{
	const uint32_t *mtu = data;
	if (!rtnl_link_is_veth(link))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' is not a veth", ifname);
	if (rtnl_link_get_mtu(link) != *mtu)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' has MTU %u, expected %u",
				   ifname, rtnl_link_get_mtu(link), *mtu);
	return 0;
}

static int check_in_pod(void *arg, struct cni_err *err)
{
	struct check_args *a = arg;
	return net_check_pod_iface(a->ctx->ifname, a->prev, a->iface, check_veth, &a->mtu, err);
}

static int check_host(const struct cni_ctx *ctx, const struct vxlan_conf *c, uint32_t *ret_mtu,
		      struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	struct vxlan_host h;
	r = vxlan_host_check(sk, c, &h, err);
	if (r < 0)
		return r;
	char hveth[IFNAMSIZ];
	vxlan_host_veth_name(ctx->container_id, ctx->ifname, hveth);
	_cleanup_link_ struct rtnl_link *hl = NULL;
	r = net_link_get(sk, hveth, &hl, err);
	if (r < 0)
		return cni_err_wrap(err, "vxlan: host veth");
	if (rtnl_link_get_master(hl) != h.bridge_ifindex)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "vxlan: host veth '%s' is not attached to bridge '%s'", hveth,
				   c->bridge);
	*ret_mtu = h.mtu;
	return 0;
}

static int vxlan_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	size_t i;
	int r = cni_ctx_prev_iface(ctx, &i, err);
	if (r < 0)
		return r;
	struct vxlan_conf c;
	r = vxlan_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	struct check_args a = { .ctx = ctx, .prev = prev, .iface = i };
	r = cni_ipam_check(ctx, err);
	if (r >= 0)
		r = check_host(ctx, &c, &a.mtu, err);
	if (r >= 0)
		r = cni_netns_run(ctx->netns_fd, check_in_pod, &a, err);
	vxlan_conf_done(&c);
	return r;
}

const struct cni_plugin vxlan_plugin = {
	.name = "vxlan",
	.aliases = vxlan_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = vxlan_add,
	.del = vxlan_del,
	.check = vxlan_check,
	/* STATUS and GC: nothing of our own; the core forwards both to IPAM. */
};
