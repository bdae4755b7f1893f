// SPDX-License-Identifier: Apache-2.0
/* The host side of a VXLAN network on a node: the VTEP vx<VNI>, its bridge, the flood list. */
#include <errno.h>
#include <netlink/route/addr.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/vxlan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "vxlan/vxlan.h"

#define RUN_DIR_DEFAULT "/run/plexus"

const char *vxlan_run_dir(void)
{
	const char *run = secure_getenv("PLEXUS_RUN_DIR");
	return run && *run ? run : RUN_DIR_DEFAULT;
}

int vxlan_lock(uint32_t vni, int *ret_fd, struct cni_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/vxlan", vxlan_run_dir());
	_cleanup_free_ char *path = xasprintf("%s/%u.lock", dir, vni);
	int r = file_mkdir_p(dir, 0755);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "vxlan: create lock directory '%s': %s",
				   dir, strerror(-r));
	int fd = file_lock(path);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_IO, -fd, "vxlan: lock '%s': %s", path,
				   strerror(-fd));
	*ret_fd = fd;
	return 0;
}

/* The underlay as resolved on this node. */
struct underlay {
	int ifindex;
	char name[IFNAMSIZ];
	uint32_t mtu;
	struct ip_addr local;
};

static bool nl_addr_to_ip(struct nl_addr *a, struct ip_addr *ret)
{
	if (!a)
		return false;
	int family = nl_addr_get_family(a);
	size_t len = ip_family_len(family);
	if (!len || nl_addr_get_len(a) != len)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->family = family;
	memcpy(ret->raw, nl_addr_get_binary_addr(a), len);
	return true;
}

/* Calls fn for every address of the current netns until it returns true. 1 = stopped there,
 * 0 = not, < 0 error. */
static int addr_walk(struct nl_sock *sk, bool (*fn)(struct rtnl_addr *a, void *arg), void *arg,
		     struct cni_err *err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		return net_err(err, r, "dump addresses");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
		if (fn((struct rtnl_addr *)o, arg))
			return 1;
	return 0;
}

struct addr_match {
	int family;
	int ifindex;
	struct ip_addr ip;
};

/* The link carrying m->ip: sets m->ifindex. */
static bool match_owner(struct rtnl_addr *a, void *arg)
{
	struct addr_match *m = arg;
	struct ip_addr ip;
	if (!nl_addr_to_ip(rtnl_addr_get_local(a), &ip) || !ip_addr_equal(&ip, &m->ip))
		return false;
	m->ifindex = rtnl_addr_get_ifindex(a);
	return true;
}

/* A global address of m->family on m->ifindex: sets m->ip. */
static bool match_global(struct rtnl_addr *a, void *arg)
{
	struct addr_match *m = arg;
	if (rtnl_addr_get_ifindex(a) != m->ifindex || rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE)
		return false;
	return nl_addr_to_ip(rtnl_addr_get_local(a), &m->ip) && m->ip.family == m->family;
}

static int resolve_underlay(struct nl_sock *sk, const struct vxlan_conf *c, struct underlay *u,
			    struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	char s[IP_STR_LEN];
	int r;
	if (c->master) {
		r = net_link_get(sk, c->master, &link, err);
		if (r == -ENODEV)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
					   "master: link '%s' not found", c->master);
		if (r < 0)
			return r;
	} else if (c->has & VXLAN_HAS_LOCAL) {
		struct addr_match m = { .ip = c->local };
		r = addr_walk(sk, match_owner, &m, err);
		if (r < 0)
			return r;
		format_ip(&c->local, s);
		if (r == 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EADDRNOTAVAIL,
					   "local: address '%s' is not configured on any interface "
					   "(set 'master')",
					   s);
		r = net_link_get_by_index(sk, m.ifindex, &link, err);
		if (r < 0)
			return r;
	} else {
		char name[IFNAMSIZ];
		r = net_default_route_iface(sk, name, err);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, -r,
					   "master: not set and no default route interface found");
		r = net_link_get(sk, name, &link, err);
		if (r < 0)
			return r;
	}
	u->ifindex = rtnl_link_get_ifindex(link);
	(void)snprintf(u->name, sizeof(u->name), "%s", rtnl_link_get_name(link));
	u->mtu = rtnl_link_get_mtu(link);
	if (c->has & VXLAN_HAS_LOCAL) {
		u->local = c->local;
		return 0;
	}
	/* The underlay family is the conf's; without one, IPv4 first, then IPv6. */
	struct addr_match m = { .ifindex = u->ifindex, .family = c->family ? c->family : AF_INET };
	r = addr_walk(sk, match_global, &m, err);
	if (r == 0 && !c->family) {
		m.family = AF_INET6;
		r = addr_walk(sk, match_global, &m, err);
	}
	if (r < 0)
		return r;
	if (r == 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EADDRNOTAVAIL,
				   "local: not set and master '%s' has no global %s address",
				   u->name,
				   c->family == AF_INET6  ? "IPv6"
				   : c->family == AF_INET ? "IPv4"
							  : "IP");
	u->local = m.ip;
	return 0;
}

static uint32_t pod_mtu(const struct vxlan_conf *c, const struct underlay *u)
{
	if (c->has & VXLAN_HAS_MTU)
		return c->mtu;
	uint32_t overhead = u->local.family == AF_INET6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4;
	return u->mtu > overhead ? u->mtu - overhead : 0;
}

static int check_mtu(const struct vxlan_conf *c, const struct underlay *u, struct cni_err *err)
{
	uint32_t overhead = u->local.family == AF_INET6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4;
	uint32_t max = u->mtu > overhead ? u->mtu - overhead : 0;
	if (pod_mtu(c, u) > max || pod_mtu(c, u) < 68)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "mtu: %u does not fit: the underlay '%s' has MTU %u, minus %u "
				   "for the encapsulation leaves %u",
				   pod_mtu(c, u), u->name, u->mtu, overhead, max);
	return 0;
}

/* Compare an existing vx<VNI> with what the conf asks for; mismatch -> code 104. */
static int vtep_compatible(struct rtnl_link *l, const struct vxlan_conf *c,
			   const struct underlay *u, struct cni_err *err)
{
	const char *n = c->vxdev;
	if (!rtnl_link_is_vxlan(l))
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists and is not a vxlan device", n);
	uint32_t id = 0, port = 0, link = 0;
	(void)rtnl_link_vxlan_get_id(l, &id);
	(void)rtnl_link_vxlan_get_port(l, &port);
	if (id != c->vni)
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists with VNI %u, config says vni %u", n, id,
				   c->vni);
	if (port != c->port)
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists with port %u, config says port %u", n, port,
				   c->port);
	if (c->master && rtnl_link_vxlan_get_link(l, &link) >= 0 && (int)link != u->ifindex)
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists on another underlay link (index %u), config "
				   "says master '%s'",
				   n, link, u->name);
	_cleanup_nl_addr_ struct nl_addr *local = NULL;
	struct ip_addr have;
	char a[IP_STR_LEN], b[IP_STR_LEN];
	if (rtnl_link_vxlan_get_local(l, &local) >= 0 && nl_addr_to_ip(local, &have) &&
	    !ip_addr_equal(&have, &u->local)) {
		format_ip(&have, a);
		format_ip(&u->local, b);
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists with local '%s', config wants local '%s'", n,
				   a, b);
	}
	if (!!rtnl_link_vxlan_get_learning(l) != c->learning)
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists with learning %s, config says learning %s",
				   n, rtnl_link_vxlan_get_learning(l) ? "on" : "off",
				   c->learning ? "true" : "false");
	/* ARP/NDP proxy marks the VTEP whose peers come from the API (its neighbour entries
	 * answer the pods' ARP and NDP). */
	if (!!rtnl_link_vxlan_get_proxy(l) != c->peers_kube)
		return cni_err_set(
			err, CNI_ERR_DEVICE, EEXIST,
			"vxlan: '%s' exists %s peers from the Kubernetes API, config says "
			"%s",
			n, rtnl_link_vxlan_get_proxy(l) ? "with" : "without",
			c->peers_kube ? "peers \"kubernetes\"" : "otherwise");
	_cleanup_nl_addr_ struct nl_addr *group = NULL;
	bool has_group = rtnl_link_vxlan_get_group(l, &group) >= 0 && nl_addr_to_ip(group, &have) &&
			 !ip_is_zero(&have);
	if ((c->has & VXLAN_HAS_GROUP) != 0 && (!has_group || !ip_addr_equal(&have, &c->group))) {
		format_ip(&c->group, b);
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists without group '%s'", n, b);
	}
	if (!(c->has & VXLAN_HAS_GROUP) && has_group) {
		format_ip(&have, a);
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "vxlan: '%s' exists with group '%s', config has none", n, a);
	}
	return 0;
}

/* The kernel allows one device per (VNI, port) in a netns; find another one first so
 * the error names it (flannel.1 uses VNI 1 on 8472). */
static int vni_port_free(struct nl_sock *sk, const struct vxlan_conf *c, struct cni_err *err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0)
		return net_err(err, r, "dump links");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		uint32_t id = 0, port = 0;
		if (!rtnl_link_is_vxlan(l) || !strcmp(rtnl_link_get_name(l), c->vxdev))
			continue;
		if (rtnl_link_vxlan_get_id(l, &id) < 0 || rtnl_link_vxlan_get_port(l, &port) < 0)
			continue;
		if (id == c->vni && port == c->port)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EADDRINUSE,
					   "vni: VNI %u on port %u is already used by vxlan device "
					   "'%s' on this node; choose another vni or port",
					   c->vni, c->port, rtnl_link_get_name(l));
	}
	return 0;
}

static int set_addr(struct rtnl_link *l, const struct ip_addr *ip,
		    int (*set)(struct rtnl_link *, struct nl_addr *), const char *what,
		    struct cni_err *err)
{
	_cleanup_nl_addr_ struct nl_addr *a =
		nl_addr_build(ip->family, ip->raw, ip_family_len(ip->family));
	if (!a)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = set(l, a);
	return r < 0 ? net_err(err, r, "vxlan: set %s", what) : 0;
}

static int vtep_create(struct nl_sock *sk, const struct vxlan_conf *c, const struct underlay *u,
		       int bridge_ifindex, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_vxlan_alloc();
	if (!l)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_name(l, c->vxdev);
	rtnl_link_set_mtu(l, pod_mtu(c, u));
	rtnl_link_set_master(l, bridge_ifindex);
	(void)rtnl_link_vxlan_set_id(l, c->vni);
	(void)rtnl_link_vxlan_set_link(l, (uint32_t)u->ifindex);
	/* Always explicit; the kernel default is 8472, not IANA's 4789. */
	(void)rtnl_link_vxlan_set_port(l, c->port);
	/* The kernel turns learning on when IFLA_VXLAN_LEARNING is absent: send it either way. */
	(void)rtnl_link_vxlan_set_learning(l, c->learning);
	if (u->local.family == AF_INET)
		(void)rtnl_link_vxlan_set_udp_csum(l, c->udp_csum);
	if (c->has & VXLAN_HAS_TTL)
		(void)rtnl_link_vxlan_set_ttl(l, c->ttl);
	if (c->peers_kube) {
		/* Answer ARP and NDP from the neighbour entries plexus-apid programs, so neither
		 * is flooded to the peers. */
		(void)rtnl_link_vxlan_set_proxy(l, 1);
	}
	int r = set_addr(l, &u->local, rtnl_link_vxlan_set_local, "local", err);
	if (r < 0)
		return r;
	if (c->has & VXLAN_HAS_GROUP) {
		r = set_addr(l, &c->group, rtnl_link_vxlan_set_group, "group", err);
		if (r < 0)
			return r;
	}
	r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r == -NLE_EXIST)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EEXIST,
				   "vni: the kernel refuses VNI %u on port %u for '%s': a vxlan "
				   "device with this VNI already exists",
				   c->vni, c->port, c->vxdev);
	if (r < 0)
		return net_err(err, r, "vxlan: create '%s' (vni %u, port %u) on '%s'", c->vxdev,
			       c->vni, c->port, u->name);
	/* The kernel ignores IFLA_IFALIAS in a create request: tag it now. */
	if (c->peers_kube) {
		_cleanup_link_ struct rtnl_link *cur = NULL;
		_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
		if (!change)
			return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
		rtnl_link_set_ifalias(change, VXLAN_PEERS_ALIAS);
		r = net_link_get(sk, c->vxdev, &cur, err);
		if (r >= 0 && (r = rtnl_link_change(sk, cur, change, 0)) < 0)
			r = net_err(err, r, "vxlan: tag '%s'", c->vxdev);
		if (r < 0)
			return r;
	}
	log_debug("created vxlan '%s' vni %u port %u on '%s'", c->vxdev, c->vni, c->port, u->name);
	return 0;
}

static int bridge_get(struct nl_sock *sk, const struct vxlan_conf *c, struct rtnl_link **ret,
		      struct cni_err *err)
{
	int r = net_link_get(sk, c->bridge, ret, err);
	if (r < 0)
		return r;
	if (!rtnl_link_is_bridge(*ret)) {
		rtnl_link_put(*ret);
		*ret = NULL;
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "bridge: '%s' exists and is not a bridge", c->bridge);
	}
	return 0;
}

static int bridge_ensure(struct nl_sock *sk, const struct vxlan_conf *c, int *ret_ifindex,
			 bool *created, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *br = NULL;
	int r = bridge_get(sk, c, &br, err);
	if (r == -ENODEV) {
		*created = true;
		r = rtnl_link_bridge_add(sk, c->bridge);
		if (r < 0)
			return net_err(err, r, "vxlan: create bridge '%s'", c->bridge);
		log_debug("created bridge '%s'", c->bridge);
		r = bridge_get(sk, c, &br, err);
	}
	if (r < 0)
		return r;
	*ret_ifindex = rtnl_link_get_ifindex(br);
	if (!(rtnl_link_get_flags(br) & IFF_UP))
		return net_link_set_up(sk, c->bridge, err);
	return 0;
}

/* Remotes: add what is missing, drop stale all-zero entries (kept in sync on every ADD). A
 * NAD is cluster-wide, so its remotes list every node, this one included: the node's own
 * address is skipped (flooding to ourselves would only loop frames back). */
static int sync_flood(struct nl_sock *sk, const struct vxlan_conf *c, const struct ip_addr *self,
		      int ifindex, struct cni_err *err)
{
	_cleanup_free_ struct ip_addr *have = NULL;
	size_t n = 0;
	int r = net_fdb_flood_list(sk, ifindex, &have, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		bool wanted = false;
		for (size_t j = 0; j < c->n_remotes && !wanted; j++)
			wanted = ip_addr_equal(&have[i], &c->remotes[j]) &&
				 !ip_addr_equal(&have[i], self);
		if (!wanted) {
			r = net_fdb_flood_del(sk, ifindex, &have[i], err);
			if (r < 0)
				return r;
		}
	}
	for (size_t j = 0; j < c->n_remotes; j++) {
		if (ip_addr_equal(&c->remotes[j], self))
			continue;
		bool present = false;
		for (size_t i = 0; i < n && !present; i++)
			present = ip_addr_equal(&have[i], &c->remotes[j]);
		if (!present) {
			r = net_fdb_flood_append(sk, ifindex, &c->remotes[j], err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int host_ensure(struct nl_sock *sk, const struct vxlan_conf *c, struct vxlan_host *ret,
		       bool *created, struct cni_err *err)
{
	struct underlay u;
	int r = resolve_underlay(sk, c, &u, err);
	if (r < 0)
		return r;
	r = check_mtu(c, &u, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *vx = NULL;
	r = net_link_get(sk, c->vxdev, &vx, err);
	if (r < 0 && r != -ENODEV)
		return r;
	if (vx) {
		r = vtep_compatible(vx, c, &u, err);
		if (r < 0)
			return r;
	} else {
		r = vni_port_free(sk, c, err);
		if (r < 0)
			return r;
	}
	int br_ifindex = 0;
	r = bridge_ensure(sk, c, &br_ifindex, created, err);
	if (r < 0)
		return r;
	if (!vx) {
		*created = true;
		r = vtep_create(sk, c, &u, br_ifindex, err);
		if (r < 0)
			return r;
		r = net_link_get(sk, c->vxdev, &vx, err);
		if (r < 0)
			return r;
	} else if (rtnl_link_get_master(vx) != br_ifindex) {
		_cleanup_link_ struct rtnl_link *br = NULL;
		r = net_link_get_by_index(sk, br_ifindex, &br, err);
		if (r >= 0)
			r = rtnl_link_enslave(sk, br, vx);
		if (r < 0)
			return net_err(err, r, "vxlan: attach '%s' to bridge '%s'", c->vxdev,
				       c->bridge);
	}
	if (!(rtnl_link_get_flags(vx) & IFF_UP)) {
		r = net_link_set_up(sk, c->vxdev, err);
		if (r < 0)
			return r;
	}
	int vx_ifindex = rtnl_link_get_ifindex(vx);
	/* With peers from the API, plexus-apid owns the flood list. */
	if (!(c->has & VXLAN_HAS_GROUP) && !c->peers_kube) {
		r = sync_flood(sk, c, &u.local, vx_ifindex, err);
		if (r < 0)
			return cni_err_wrap(err, "vxlan: remotes on '%s'", c->vxdev);
	}
	*ret = (struct vxlan_host){ .bridge_ifindex = br_ifindex,
				    .vx_ifindex = vx_ifindex,
				    .mtu = pod_mtu(c, &u),
				    .created = *created };
	return 0;
}

int vxlan_host_ensure(struct nl_sock *sk, const struct vxlan_conf *c, struct vxlan_host *ret,
		      struct cni_err *err)
{
	bool created = false;
	int r = host_ensure(sk, c, ret, &created, err);
	struct cni_err e = { 0 };
	/* A failed ADD leaves the node as it found it. */
	if (r < 0 && created && vxlan_host_cleanup(sk, c, &e) < 0)
		log_warning("undo: cleanup of '%s'/'%s': %s, ignoring", c->vxdev, c->bridge, e.msg);
	return r;
}

int vxlan_host_check(struct nl_sock *sk, const struct vxlan_conf *c, struct vxlan_host *ret,
		     struct cni_err *err)
{
	struct underlay u;
	int r = resolve_underlay(sk, c, &u, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *vx = NULL;
	r = net_link_get(sk, c->vxdev, &vx, err);
	if (r < 0)
		return cni_err_wrap(err, "vxlan: VTEP");
	r = vtep_compatible(vx, c, &u, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *br = NULL;
	r = bridge_get(sk, c, &br, err);
	if (r < 0)
		return cni_err_wrap(err, "vxlan: bridge");
	if (rtnl_link_get_master(vx) != rtnl_link_get_ifindex(br))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "vxlan: '%s' is not attached to bridge '%s'", c->vxdev,
				   c->bridge);
	*ret = (struct vxlan_host){ .bridge_ifindex = rtnl_link_get_ifindex(br),
				    .vx_ifindex = rtnl_link_get_ifindex(vx),
				    .mtu = (c->has & VXLAN_HAS_MTU) ? c->mtu
								    : rtnl_link_get_mtu(vx) };
	return 0;
}

int vxlan_host_cleanup(struct nl_sock *sk, const struct vxlan_conf *c, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *br = NULL;
	int r = bridge_get(sk, c, &br, err);
	if (r == -ENODEV)
		return net_link_del(sk, c->vxdev, err);
	if (r < 0)
		return r;
	_cleanup_cache_ struct nl_cache *cache = NULL;
	r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0)
		return net_err(err, r, "dump links");
	int br_ifindex = rtnl_link_get_ifindex(br);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		if (rtnl_link_get_master(l) == br_ifindex &&
		    strcmp(rtnl_link_get_name(l), c->vxdev) != 0) {
			log_debug("bridge '%s' still has port '%s', keeping it", c->bridge,
				  rtnl_link_get_name(l));
			return 0;
		}
	}
	r = net_link_del(sk, c->vxdev, err);
	if (r < 0)
		return r;
	r = net_link_del(sk, c->bridge, err);
	if (r < 0)
		return r;
	log_info("last attachment gone: deleted '%s' and '%s'", c->vxdev, c->bridge);
	return 0;
}
