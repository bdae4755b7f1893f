/* SPDX-License-Identifier: Apache-2.0 */
/* libnl-route-3 wrappers: links, addresses, routes, sysctls. libnl errors are translated to
 * struct cni_err here and nowhere else. Sockets belong to the netns they were opened in:
 * open them after entering the target netns. */
#pragma once

#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/result.h"

struct cni_err;

static inline void net_sock_freep(struct nl_sock **p)
{
	if (*p)
		nl_socket_free(*p);
}
static inline void net_link_putp(struct rtnl_link **p)
{
	if (*p)
		rtnl_link_put(*p);
}
static inline void net_nl_addr_putp(struct nl_addr **p)
{
	if (*p)
		nl_addr_put(*p);
}
static inline void net_cache_freep(struct nl_cache **p)
{
	if (*p)
		nl_cache_free(*p);
}
#define _cleanup_nl_sock_ __attribute__((cleanup(net_sock_freep)))
#define _cleanup_link_ __attribute__((cleanup(net_link_putp)))
#define _cleanup_nl_addr_ __attribute__((cleanup(net_nl_addr_putp)))
#define _cleanup_cache_ __attribute__((cleanup(net_cache_freep)))

/* Translate a negative libnl error into err (code 100) with "what: <nl_geterror text>"; the
 * -NLE_* is mapped back to the closest errno (NLE_EXIST -> EEXIST, NLE_OBJ_NOTFOUND -> ENOENT).
 * Returns a negative errno-like value. */
int net_err(struct cni_err *err, int nlerr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A connected NETLINK_ROUTE socket in the current netns (SOCK_CLOEXEC). The caller owns *ret
 * (free with nl_socket_free or _cleanup_nl_sock_). */
int net_sock_open(struct nl_sock **ret, struct cni_err *err);

/* net_sock_open, then net_link_get(name) on that socket: the start of most work inside a
 * netns. Both are the caller's (NULL when not made); errors as those two give them. */
int net_sock_link_open(const char *name, struct nl_sock **ret_sk, struct rtnl_link **ret_link,
		       struct cni_err *err);
/* Look up a link by name. Missing -> -ENODEV, code 104, "link 'x' not found". The caller
 * owns *ret (rtnl_link_put or _cleanup_link_). By index: same, "link with index N ...". */
int net_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret, struct cni_err *err);
int net_link_get_by_index(struct nl_sock *sk, int ifindex, struct rtnl_link **ret,
			  struct cni_err *err);
/* Name of the interface carrying the first default route (0/0, IPv4 then IPv6) in the
 * current netns. None -> -ENOENT, code 104. Retries dumps interrupted by NLM_F_DUMP_INTR. */
int net_default_route_iface(struct nl_sock *sk, char ret[IFNAMSIZ], struct cni_err *err);

/* The temporary name of an attachment's link between its creation in (or move into) the pod
 * netns and the rename to CNI_IFNAME: "plx" + 12 hex digits of a hash of (containerID, ifname).
 * Deterministic, so a DEL after a kill in that window finds the link. */
void net_tmp_ifname_for(const char *container_id, const char *ifname, char ret[IFNAMSIZ]);
/* Whether name has the form of a temporary name (any attachment's). */
bool net_tmp_ifname_is(const char *name);

/* Create the link described by tmpl (kind, link/master ifindex, mode, mtu, address...) under
 * tmpname (net_tmp_ifname_for) directly in the netns netns_fd (IFLA_NET_NS_FD), then, inside
 * that netns, rename it to ifname. sk is a socket in the netns where tmpl's master lives.
 * A link of tmpl's kind already called tmpname there (left by a killed ADD) is deleted first.
 * If ifname already exists in the target netns: -EEXIST, code 104, nothing left behind.
 * On any failure the temporary link is deleted. ret_ifindex is the index in the target netns.
 * tmpl is not modified (a clone is sent); it must not carry IFF_UP (renaming needs the link
 * down). Invalid ifname -> -EINVAL, code 104; netlink failures -> code 100. */
int net_link_create_in_netns(struct nl_sock *sk, struct rtnl_link *tmpl, int netns_fd,
			     const char *tmpname, const char *ifname, int *ret_ifindex,
			     struct cni_err *err);
/* Delete a link by name in the socket's netns. Missing is success (returns 0). */
int net_link_del(struct nl_sock *sk, const char *name, struct cni_err *err);
/* Same by index: the link found or made before, not whatever has its name now. */
int net_link_del_index(struct nl_sock *sk, int ifindex, struct cni_err *err);
/* Set IFF_UP on the named link; missing -> -ENODEV, code 104. */
int net_link_set_up(struct nl_sock *sk, const char *name, struct cni_err *err);
/* Delete ifname inside the netns netns_fd (the pod's); missing is success. */
int net_link_del_in_netns(int netns_fd, const char *ifname, struct cni_err *err);
/* DEL of an attachment's link in netns_fd: a link of kind under tmpname (an ADD killed before
 * its rename) and ifname (through net_link_retire_in_netns). A link called tmpname of another
 * kind is left alone: it is not one we made. Missing links are success. */
int net_link_del_attachment(int netns_fd, const char *ifname, const char *tmpname, const char *kind,
			    struct cni_err *err);

/* Batched link deletion. Every RTM_DELLINK makes the kernel wait for an RCU grace period
 * (rcu_barrier in netdev_run_todo: 10-20 ms here), whatever the link. A caller deleting
 * several links in one netns (the meta-plugin's DEL of a pod) opens a batch for that netns;
 * net_link_retire_in_netns then only tags the link with NET_DEL_GROUP (IFLA_GROUP), and
 * net_del_batch_end deletes the whole group in one request: one wait for all. Outside a batch,
 * or for another netns, net_link_retire_in_netns deletes at once. Process-wide state, one
 * batch at a time: retire may run on several threads, begin and end on one, with no retire
 * in flight. batch_end falls back to
 * deleting the tagged links one by one if the kernel refuses the group; 0 or -errno. */
#define NET_DEL_GROUP 0x706c7864u /* "plxd" */
void net_del_batch_begin(int netns_fd);
int net_link_retire_in_netns(int netns_fd, const char *ifname, struct cni_err *err);
int net_del_batch_end(struct cni_err *err);

/* Write value to /proc/sys/<key> (key uses '/' separators, e.g. "net/ipv4/conf/eth0/arp_notify").
 * Returns 0 or -errno (code 5); keys with "." or ".." components are refused (-EINVAL).
 * _get reads into buf (NUL-terminated, trailing newline removed); too long -> -ERANGE. */
int net_sysctl_set(const char *key, const char *value, struct cni_err *err);
int net_sysctl_get(const char *key, char *buf, size_t size, struct cni_err *err);

/* Add one address to ifindex (with a broadcast for IPv4 below /31 like the reference).
 * Existing address -> -EEXIST, code 100. */
int net_addr_add(struct nl_sock *sk, int ifindex, const struct ip_net *addr, struct cni_err *err);
/* Add one route via ifindex. gw family 0 = on-link/direct. All 1.1 fields are honoured
 * (mtu/advmss as metrics, priority, table, scope). EEXIST is an error. Defaults: table main,
 * scope universe with a gw and link without, proto boot (as netlink.RouteAdd). dst host bits
 * are cleared. gw of another family than dst -> -EINVAL, code 7. */
int net_route_add(struct nl_sock *sk, int ifindex, const struct cni_route *route,
		  struct cni_err *err);

/* Delete every main-table default route (0/0) of family in the current netns; none is fine. */
int net_route_del_default(struct nl_sock *sk, int family, struct cni_err *err);

/* Configure interface ifname (already in the current netns) from result, like the
 * reference ConfigureIface: only ips with interface == iface_index; IPv6 sysctls before the
 * first v6 address; link up; wait for DAD when an IPv6 gateway exists; routes with gw
 * defaulting to the first gateway of the family. Must run inside the target netns.
 * ips with interface -1 or another valid index are skipped; an index outside interfaces[] (or
 * iface_index itself out of range) -> -EINVAL, code 103. A DAD timeout (5 s) is not an error. */
int net_iface_configure(const char *ifname, int iface_index, const struct cni_result *result,
			struct cni_err *err);

/* Verification helpers for CHECK, in the current netns. */
/* All of result's ips for iface_index are on ifname (address and prefix length). Missing ->
 * -ENOENT, code 104, "interface 'eth0' lacks address '10.1.2.3/24'"; netlink failure -> 100. */
int net_check_addrs(struct nl_sock *sk, const char *ifname, int iface_index,
		    const struct cni_result *result, struct cni_err *err);
/* Every result route exists: dst, table (main if unset) and, when given, gw among the
 * nexthops. Missing -> -ENOENT, code 104, "route 'dst' via 'gw' not found". */
int net_check_routes(struct nl_sock *sk, const struct cni_result *result, struct cni_err *err);

/* VXLAN flood list (lib/net/fdb.c): the all-zero-MAC FDB entries (AF_BRIDGE, NTF_SELF,
 * NUD_PERMANENT) of VXLAN device ifindex, one destination each. */
/* Destinations of the current entries; *ret is an owned array (free()), possibly NULL. */
int net_fdb_flood_list(struct nl_sock *sk, int ifindex, struct ip_addr **ret, size_t *ret_n,
		       struct cni_err *err);
/* Add dst with NLM_F_CREATE|NLM_F_APPEND (`bridge fdb append 00:..:00 dst D`). An existing
 * entry -> -EEXIST, code 100. */
int net_fdb_flood_append(struct nl_sock *sk, int ifindex, const struct ip_addr *dst,
			 struct cni_err *err);
/* Remove dst's entry; missing is success. */
int net_fdb_flood_del(struct nl_sock *sk, int ifindex, const struct ip_addr *dst,
		      struct cni_err *err);

/* One VXLAN FDB entry (NTF_SELF): frames for mac go to the VTEP dst. */
struct net_fdb_entry {
	uint8_t mac[MAC_LEN];
	struct ip_addr dst;
};
/* One permanent ARP/NDP entry. */
struct net_neigh_entry {
	struct ip_addr ip;
	uint8_t mac[MAC_LEN];
};
/* Every FDB entry with a destination of VXLAN device ifindex, all-zero ones included; *ret is
 * owned (free()), possibly NULL. */
int net_fdb_list(struct nl_sock *sk, int ifindex, struct net_fdb_entry **ret, size_t *ret_n,
		 struct cni_err *err);
/* Create or replace mac's entry with the one destination dst (`bridge fdb replace ... self
 * permanent`). */
int net_fdb_set(struct nl_sock *sk, int ifindex, const uint8_t mac[MAC_LEN],
		const struct ip_addr *dst, struct cni_err *err);
/* Remove mac's entry towards dst; missing is success. */
int net_fdb_del(struct nl_sock *sk, int ifindex, const uint8_t mac[MAC_LEN],
		const struct ip_addr *dst, struct cni_err *err);
/* The permanent IPv4 and IPv6 neighbour entries of ifindex; *ret owned, possibly NULL. */
int net_neigh_list(struct nl_sock *sk, int ifindex, struct net_neigh_entry **ret, size_t *ret_n,
		   struct cni_err *err);
/* Create or replace a permanent neighbour ip -> mac on ifindex (`ip neigh replace ... nud
 * permanent`). */
int net_neigh_set(struct nl_sock *sk, int ifindex, const struct ip_addr *ip,
		  const uint8_t mac[MAC_LEN], struct cni_err *err);
/* Remove ip's neighbour entry on ifindex; missing is success. */
int net_neigh_del(struct nl_sock *sk, int ifindex, const struct ip_addr *ip, struct cni_err *err);

/* Kind-specific CHECK of a pod link (kind, mode, MTU...): mismatch -> code 104. */
typedef int (*net_check_link_fn)(const void *data, struct rtnl_link *link, const char *ifname,
				 struct cni_err *err);
/* CHECK's common part, run inside the pod netns: interface iface of prev, named ifname, exists,
 * passes check_link (optional), has the recorded MAC and addresses; prev's routes exist. */
int net_check_pod_iface(const char *ifname, const struct cni_result *prev, size_t iface,
			net_check_link_fn check_link, const void *data, struct cni_err *err);
