// SPDX-License-Identifier: Apache-2.0
/* Routes: add with all CNI 1.1 fields, dump with retries, find the default-route link. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "lib/cni/err.h"
#include "lib/net/internal.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"

#define ROUTE_STR_LEN 128 /* "'dst' via 'gw'" */

int net_route_dump(struct nl_sock *sk, int family, struct nl_cache **ret, struct cni_err *err)
{
	int r = 0;
	/* NLM_F_DUMP_INTR means the table changed mid-dump; retry like the reference. */
	for (int i = 0; i < 5; i++) {
		struct nl_cache *cache = NULL;
		r = rtnl_route_alloc_cache(sk, family, 0, &cache);
		if (r != -NLE_DUMP_INTR) {
			if (r < 0)
				break;
			*ret = cache;
			return 0;
		}
	}
	return net_err(err, r, "dump routes");
}

static int route_oif(struct rtnl_route *rt)
{
	struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
	return nh ? rtnl_route_nh_get_ifindex(nh) : 0;
}

int net_default_route_iface(struct nl_sock *sk, char ret[IFNAMSIZ], struct cni_err *err)
{
	static const int families[] = { AF_INET, AF_INET6 };
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		_cleanup_cache_ struct nl_cache *cache = NULL;
		int r = net_route_dump(sk, families[f], &cache, err);
		if (r < 0)
			return r;
		for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
			struct rtnl_route *rt = (struct rtnl_route *)o;
			struct nl_addr *dst = rtnl_route_get_dst(rt);
			/* The reference lists the main table only (netlink.RouteList). */
			if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
			    (dst && nl_addr_get_prefixlen(dst) != 0))
				continue;
			int oif = route_oif(rt);
			if (oif <= 0)
				continue; /* unreachable/blackhole or multipath: no single link */
			_cleanup_link_ struct rtnl_link *link = NULL;
			r = net_link_get_by_index(sk, oif, &link, err);
			if (r < 0)
				return cni_err_wrap(err, "default route");
			(void)snprintf(ret, IFNAMSIZ, "%s", rtnl_link_get_name(link));
			return 0;
		}
	}
	return cni_err_set(err, CNI_ERR_DEVICE, ENOENT, "no default route interface found");
}

static void route_str(const struct cni_route *route, const struct ip_addr *gw,
		      char buf[ROUTE_STR_LEN])
{
	char dst[IPNET_STR_LEN], via[IP_STR_LEN];
	format_ipnet(&route->dst, dst);
	if (gw->family) {
		format_ip(gw, via);
		(void)snprintf(buf, ROUTE_STR_LEN, "'%s' via '%s'", dst, via);
	} else {
		(void)snprintf(buf, ROUTE_STR_LEN, "'%s'", dst);
	}
}

int net_route_add(struct nl_sock *sk, int ifindex, const struct cni_route *route,
		  struct cni_err *err)
{
	char what[ROUTE_STR_LEN];
	route_str(route, &route->gw, what);
	int family = route->dst.ip.family;
	if (family != AF_INET && family != AF_INET6)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "route without a valid destination");
	if (route->gw.family && route->gw.family != family)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "route %s: gateway family differs from destination", what);

	/* The kernel refuses IPv4 destinations with host bits set. */
	struct ip_net dst = route->dst;
	ip_net_mask(&dst);

	_cleanup_route_ struct rtnl_route *rt = rtnl_route_alloc();
	_cleanup_nl_addr_ struct nl_addr *dst_a = NULL;
	_cleanup_nl_addr_ struct nl_addr *gw_a = NULL;
	if (!rt)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate route");
	int r = net_nl_addr_new(&dst.ip, dst.prefix, &dst_a, err);
	if (r < 0)
		return cni_err_wrap(err, "add route %s", what);
	r = rtnl_route_set_dst(rt, dst_a);
	if (r < 0)
		return net_err(err, r, "add route %s", what);
	rtnl_route_set_table(rt, route->has & CNI_ROUTE_HAS_TABLE ? route->table : RT_TABLE_MAIN);
	/* netlink.RouteAdd's defaults: proto boot, unicast. */
	rtnl_route_set_protocol(rt, RTPROT_BOOT);
	rtnl_route_set_type(rt, RTN_UNICAST);
	uint8_t scope = route->gw.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (route->has & CNI_ROUTE_HAS_SCOPE)
		scope = route->scope;
	rtnl_route_set_scope(rt, scope);
	if (route->has & CNI_ROUTE_HAS_PRIORITY)
		rtnl_route_set_priority(rt, route->priority);
	/* Apply the route mtu/advmss of CNI spec 1.1.0, which the reference ignores. */
	if (route->has & CNI_ROUTE_HAS_MTU) {
		r = rtnl_route_set_metric(rt, RTAX_MTU, route->mtu);
		if (r < 0)
			return net_err(err, r, "add route %s: mtu", what);
	}
	if (route->has & CNI_ROUTE_HAS_ADVMSS) {
		r = rtnl_route_set_metric(rt, RTAX_ADVMSS, route->advmss);
		if (r < 0)
			return net_err(err, r, "add route %s: advmss", what);
	}

	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	if (!nh)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate nexthop");
	rtnl_route_nh_set_ifindex(nh, ifindex);
	if (route->gw.family) {
		r = net_nl_addr_new(&route->gw, ip_family_len(family) * 8, &gw_a, err);
		if (r < 0) {
			rtnl_route_nh_free(nh);
			return cni_err_wrap(err, "add route %s", what);
		}
		rtnl_route_nh_set_gateway(nh, gw_a);
	}
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */

	r = rtnl_route_add(sk, rt, NLM_F_EXCL);
	if (r < 0)
		return net_err(err, r, "add route %s", what);
	return 0;
}

int net_route_del_default(struct nl_sock *sk, int family, struct cni_err *err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r = net_route_dump(sk, family, &cache, err);
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
		    (dst && nl_addr_get_prefixlen(dst) != 0))
			continue;
		r = rtnl_route_delete(sk, rt, 0);
		if (r < 0 && r != -NLE_OBJ_NOTFOUND)
			return net_err(err, r, "delete default route");
	}
	return 0;
}
