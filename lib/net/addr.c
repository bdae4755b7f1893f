// SPDX-License-Identifier: Apache-2.0
/* Addresses: add (like `ip addr add`), dump, and our ip_addr <-> nl_addr conversion. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/cni/err.h"
#include "lib/net/internal.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"

int net_nl_addr_new(const struct ip_addr *ip, unsigned prefix, struct nl_addr **ret,
		    struct cni_err *err)
{
	size_t len = ip_family_len(ip->family);
	if (!len || prefix > len * 8)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "invalid address");
	struct nl_addr *a = nl_addr_build(ip->family, ip->raw, len);
	if (!a)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate address");
	nl_addr_set_prefixlen(a, (int)prefix);
	*ret = a;
	return 0;
}

bool net_nl_addr_is(struct nl_addr *a, const struct ip_addr *ip)
{
	size_t len = ip_family_len(ip->family);
	return a && nl_addr_get_family(a) == ip->family && nl_addr_get_len(a) == len &&
	       !memcmp(nl_addr_get_binary_addr(a), ip->raw, len);
}

int net_addr_dump(struct nl_sock *sk, struct nl_cache **ret, struct cni_err *err)
{
	int r = 0;
	/* NLM_F_DUMP_INTR: retry up to 5 times, as the reference (pkg/netlinksafe) does. */
	for (int i = 0; i < 5; i++) {
		struct nl_cache *cache = NULL;
		r = rtnl_addr_alloc_cache(sk, &cache);
		if (r != -NLE_DUMP_INTR) {
			if (r < 0)
				break;
			*ret = cache;
			return 0;
		}
	}
	return net_err(err, r, "dump addresses");
}

int net_addr_add(struct nl_sock *sk, int ifindex, const struct ip_net *addr, struct cni_err *err)
{
	char s[IPNET_STR_LEN];
	format_ipnet(addr, s);
	_cleanup_rtaddr_ struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_nl_addr_ struct nl_addr *local = NULL;
	_cleanup_nl_addr_ struct nl_addr *brd = NULL;
	if (!a)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate address");
	int r = net_nl_addr_new(&addr->ip, addr->prefix, &local, err);
	if (r < 0)
		return cni_err_wrap(err, "add address '%s'", s);
	rtnl_addr_set_ifindex(a, ifindex);
	r = rtnl_addr_set_local(a, local);
	if (r < 0)
		return net_err(err, r, "add address '%s'", s);
	rtnl_addr_set_prefixlen(a, addr->prefix);

	/* netlink.AddrAdd (the reference) adds the broadcast for IPv4 below /31. */
	if (addr->ip.family == AF_INET && addr->prefix < 31) {
		struct ip_addr b = addr->ip;
		uint32_t host = addr->prefix ? 0xffffffffu >> addr->prefix : 0xffffffffu;
		b.v4.s_addr |= htonl(host);
		r = net_nl_addr_new(&b, 32, &brd, err);
		if (r < 0)
			return cni_err_wrap(err, "add address '%s'", s);
		r = rtnl_addr_set_broadcast(a, brd);
		if (r < 0)
			return net_err(err, r, "add address '%s'", s);
	}

	r = rtnl_addr_add(sk, a, NLM_F_EXCL);
	if (r < 0)
		return net_err(err, r, "add address '%s'", s);
	return 0;
}
