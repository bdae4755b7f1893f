/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the lib/net sources only: libnl cleanups, address conversion, dumps. */
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

#include "lib/net/net.h"
#include "lib/util/parse.h"

struct cni_err;

static inline void net_route_putp(struct rtnl_route **p)
{
	if (*p)
		rtnl_route_put(*p);
}
static inline void net_rtaddr_putp(struct rtnl_addr **p)
{
	if (*p)
		rtnl_addr_put(*p);
}
#define _cleanup_route_ __attribute__((cleanup(net_route_putp)))
#define _cleanup_rtaddr_ __attribute__((cleanup(net_rtaddr_putp)))

/* A new nl_addr for ip with prefix length prefix; the caller puts it. */
int net_nl_addr_new(const struct ip_addr *ip, unsigned prefix, struct nl_addr **ret,
		    struct cni_err *err);
/* Whether a (from the kernel) holds exactly ip. */
bool net_nl_addr_is(struct nl_addr *a, const struct ip_addr *ip);

/* Dump all routes of family / all addresses into a new cache, retrying dumps that the kernel
 * flagged NLM_F_DUMP_INTR. The caller frees the cache. */
int net_route_dump(struct nl_sock *sk, int family, struct nl_cache **ret, struct cni_err *err);
int net_addr_dump(struct nl_sock *sk, struct nl_cache **ret, struct cni_err *err);

/* Set IFF_UP on the link with this index. */
int net_link_set_up_index(struct nl_sock *sk, int ifindex, struct cni_err *err);
