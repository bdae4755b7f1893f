// SPDX-License-Identifier: Apache-2.0
/* net_iface_configure: the reference ipam.ConfigureIface (addresses, link up, DAD, routes). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/cni/err.h"
#include "lib/net/internal.h"
#include "lib/net/net.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

#define SETTLE_TIMEOUT_MS 5000
#define SETTLE_POLL_MS 20

/* An address cannot be added while IPv6 is disabled on the link; lo is enabled too
 * as the reference does. Read first so an already-enabled netns is left untouched. */
static int enable_ipv6(const char *ifname, struct cni_err *err)
{
	const char *ifaces[] = { "lo", ifname };
	for (size_t i = 0; i < ARRAY_SIZE(ifaces); i++) {
		char key[128], val[16];
		(void)snprintf(key, sizeof(key), "net/ipv6/conf/%s/disable_ipv6", ifaces[i]);
		if (net_sysctl_get(key, val, sizeof(val), NULL) < 0) {
			log_debug("read sysctl '%s' failed, ignoring", key);
			continue;
		}
		if (!strcmp(val, "0"))
			continue;
		int r = net_sysctl_set(key, "0", err);
		if (r < 0)
			return cni_err_wrap(err, "enable ipv6 on '%s'", ifaces[i]);
	}
	/* Keep v6 addresses across a down/up of the link; older kernels lack the knob. */
	char key[128];
	(void)snprintf(key, sizeof(key), "net/ipv6/conf/%s/keep_addr_on_down", ifname);
	if (net_sysctl_set(key, "1", NULL) < 0)
		log_debug("set sysctl '%s' failed, ignoring", key);
	return 0;
}

/* 1 while any address on ifindex is still tentative (DAD running). A DAD failure never
 * settles; waiting for it would only burn the timeout, so it counts as settled. */
static int has_tentative(struct nl_sock *sk, int ifindex, struct cni_err *err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r = net_addr_dump(sk, &cache, err);
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		unsigned flags = rtnl_addr_get_flags(a);
		if (rtnl_addr_get_ifindex(a) == ifindex && (flags & IFA_F_TENTATIVE) &&
		    !(flags & IFA_F_DADFAILED))
			return 1;
	}
	return 0;
}

/* Routes via an IPv6 gateway fail while the source address is tentative. Like the
 * reference (ip.SettleAddresses) a timeout is not an error: the route add will say. */
static int settle_addresses(struct nl_sock *sk, int ifindex, struct cni_err *err)
{
	int64_t deadline = clock_now_ms() + SETTLE_TIMEOUT_MS;
	for (;;) {
		int r = has_tentative(sk, ifindex, err);
		if (r <= 0)
			return r;
		if (clock_now_ms() >= deadline) {
			log_debug("addresses still tentative after %d ms, ignoring",
				  SETTLE_TIMEOUT_MS);
			return 0;
		}
		struct timespec ts = { .tv_nsec = SETTLE_POLL_MS * 1000000L };
		(void)nanosleep(&ts, NULL);
	}
}

int net_iface_configure(const char *ifname, int iface_index, const struct cni_result *result,
			struct cni_err *err)
{
	if (iface_index < 0 || (size_t)iface_index >= result->n_interfaces)
		return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
				   "configure '%s': interface index %d out of range", ifname,
				   iface_index);
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(ifname, &sk, &link, err);
	if (r < 0)
		return r;
	int ifindex = rtnl_link_get_ifindex(link);

	struct ip_addr v4gw = { 0 }, v6gw = { 0 };
	bool v6_enabled = false;
	for (size_t i = 0; i < result->n_ips; i++) {
		const struct cni_ip *ip = &result->ips[i];
		char s[IPNET_STR_LEN];
		format_ipnet(&ip->address, s);
		/* IPs without an interface belong to none; others to their own. */
		if (ip->interface < 0)
			continue;
		if ((size_t)ip->interface >= result->n_interfaces)
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
					   "ip '%s' has invalid interface index %d", s,
					   ip->interface);
		if (ip->interface != iface_index)
			continue;

		if (ip->address.ip.family == AF_INET6 && !v6_enabled) {
			r = enable_ipv6(ifname, err);
			if (r < 0)
				return r;
			v6_enabled = true;
		}
		r = net_addr_add(sk, ifindex, &ip->address, err);
		if (r < 0)
			return cni_err_wrap(err, "configure '%s'", ifname);

		if (ip->gateway.family == AF_INET && !v4gw.family)
			v4gw = ip->gateway;
		else if (ip->gateway.family == AF_INET6 && !v6gw.family)
			v6gw = ip->gateway;
	}

	r = net_link_set_up_index(sk, ifindex, err);
	if (r < 0)
		return cni_err_wrap(err, "configure '%s'", ifname);

	if (v6gw.family) {
		r = settle_addresses(sk, ifindex, err);
		if (r < 0)
			return cni_err_wrap(err, "configure '%s'", ifname);
	}

	for (size_t i = 0; i < result->n_routes; i++) {
		struct cni_route route = result->routes[i];
		/* As the reference ConfigureIface: a route without gw goes via the first gateway of
		 * its family. */
		if (!route.gw.family)
			route.gw = route.dst.ip.family == AF_INET ? v4gw : v6gw;
		r = net_route_add(sk, ifindex, &route, err);
		if (r < 0)
			return cni_err_wrap(err, "configure '%s'", ifname);
	}
	return 0;
}
