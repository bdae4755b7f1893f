// SPDX-License-Identifier: Apache-2.0
/* CHECK helpers: compare a result's addresses and routes with the current netns. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "lib/cni/err.h"
#include "lib/net/internal.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"

static bool addr_present(struct nl_cache *cache, int ifindex, const struct ip_net *want)
{
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		if (rtnl_addr_get_ifindex(a) == ifindex &&
		    rtnl_addr_get_prefixlen(a) == want->prefix &&
		    net_nl_addr_is(rtnl_addr_get_local(a), &want->ip))
			return true;
	}
	return false;
}

int net_check_addrs(struct nl_sock *sk, const char *ifname, int iface_index,
		    const struct cni_result *result, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_link_get(sk, ifname, &link, err);
	if (r < 0)
		return r;
	_cleanup_cache_ struct nl_cache *cache = NULL;
	r = net_addr_dump(sk, &cache, err);
	if (r < 0)
		return r;
	int ifindex = rtnl_link_get_ifindex(link);
	for (size_t i = 0; i < result->n_ips; i++) {
		const struct cni_ip *ip = &result->ips[i];
		char s[IPNET_STR_LEN];
		format_ipnet(&ip->address, s);
		if (ip->interface >= 0 && (size_t)ip->interface >= result->n_interfaces)
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
					   "ip '%s' has invalid interface index %d", s,
					   ip->interface);
		if (ip->interface != iface_index)
			continue;
		if (!addr_present(cache, ifindex, &ip->address))
			return cni_err_set(err, CNI_ERR_DEVICE, ENOENT,
					   "interface '%s' lacks address '%s'", ifname, s);
	}
	return 0;
}

static bool route_matches(struct rtnl_route *rt, const struct cni_route *want,
			  const struct ip_net *dst)
{
	uint32_t table = want->has & CNI_ROUTE_HAS_TABLE ? want->table : RT_TABLE_MAIN;
	if (rtnl_route_get_table(rt) != table)
		return false;
	struct nl_addr *d = rtnl_route_get_dst(rt);
	unsigned plen = d ? (unsigned)nl_addr_get_prefixlen(d) : 0;
	if (plen != dst->prefix)
		return false;
	/* A default route may come without RTA_DST: libnl then hands back an empty address. */
	if (plen && !net_nl_addr_is(d, &dst->ip))
		return false;
	if (!want->gw.family)
		return true;
	for (int i = 0; i < rtnl_route_get_nnexthops(rt); i++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, i);
		if (net_nl_addr_is(rtnl_route_nh_get_gateway(nh), &want->gw))
			return true;
	}
	return false;
}

int net_check_routes(struct nl_sock *sk, const struct cni_result *result, struct cni_err *err)
{
	_cleanup_cache_ struct nl_cache *v4 = NULL;
	_cleanup_cache_ struct nl_cache *v6 = NULL;
	for (size_t i = 0; i < result->n_routes; i++) {
		const struct cni_route *want = &result->routes[i];
		int family = want->dst.ip.family;
		if (family != AF_INET && family != AF_INET6)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "route without a valid destination");
		struct nl_cache **cache = family == AF_INET ? &v4 : &v6;
		if (!*cache) {
			int r = net_route_dump(sk, family, cache, err);
			if (r < 0)
				return r;
		}
		struct ip_net dst = want->dst;
		ip_net_mask(&dst);
		bool found = false;
		for (struct nl_object *o = nl_cache_get_first(*cache); o && !found;
		     o = nl_cache_get_next(o))
			found = route_matches((struct rtnl_route *)o, want, &dst);
		if (!found) {
			char d[IPNET_STR_LEN], g[IP_STR_LEN] = "";
			format_ipnet(&want->dst, d);
			if (want->gw.family)
				format_ip(&want->gw, g);
			return cni_err_set(err, CNI_ERR_DEVICE, ENOENT,
					   "route '%s'%s%s%s not found", d, *g ? " via '" : "", g,
					   *g ? "'" : "");
		}
	}
	return 0;
}

int net_check_pod_iface(const char *ifname, const struct cni_result *prev, size_t iface,
			net_check_link_fn check_link, const void *data, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(ifname, &sk, &link, err);
	if (r < 0)
		return r;
	if (check_link && (r = check_link(data, link, ifname, err)) < 0)
		return r;
	const char *want = prev->interfaces[iface].mac;
	struct nl_addr *addr = rtnl_link_get_addr(link);
	uint8_t w[MAC_LEN];
	if (want && *want && addr && nl_addr_get_len(addr) == MAC_LEN &&
	    (parse_mac(want, w) < 0 || memcmp(w, nl_addr_get_binary_addr(addr), MAC_LEN) != 0)) {
		char mac[MAC_STR_LEN];
		format_mac(nl_addr_get_binary_addr(addr), mac);
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "'%s' has MAC '%s', prevResult says '%s'", ifname, mac, want);
	}
	r = net_check_addrs(sk, ifname, (int)iface, prev, err);
	if (r < 0)
		return r;
	return net_check_routes(sk, prev, err);
}
