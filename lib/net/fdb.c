// SPDX-License-Identifier: Apache-2.0
/* VXLAN FDB and neighbour entries: the flood list (all-zero MAC, head-end replication, as
 * `bridge fdb append 00:00:00:00:00:00 dst <vtep>`), per-MAC entries and ARP/NDP entries. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/route/neighbour.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/cni/err.h"
#include "lib/net/internal.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"

static const uint8_t zero_mac[6];

/* One dump of RTM_GETNEIGH for family, entries of ifindex handed to keep(). */
struct neigh_dump {
	int ifindex;
	void (*keep)(struct neigh_dump *d, const struct ndmsg *ndm, struct nlattr **tb);
	void *list; /* grows, owned */
	size_t n;
};

static int dump_cb(struct nl_msg *msg, void *arg)
{
	struct neigh_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	if (nlh->nlmsg_type != RTM_NEWNEIGH ||
	    nlmsg_parse(nlh, sizeof(struct ndmsg), tb, NDA_MAX, NULL) < 0)
		return NL_OK;
	struct ndmsg *ndm = nlmsg_data(nlh);
	if (ndm->ndm_ifindex == d->ifindex)
		d->keep(d, ndm, tb);
	return NL_OK;
}

static bool attr_ip(const struct nlattr *a, struct ip_addr *ret)
{
	int len = a ? nla_len(a) : 0;
	if (len != 4 && len != 16)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->family = len == 4 ? AF_INET : AF_INET6;
	memcpy(ret->raw, nla_data(a), (size_t)len);
	return true;
}

/* VXLAN FDB entries (NTF_SELF, with a destination). */
static void keep_fdb(struct neigh_dump *d, const struct ndmsg *ndm, struct nlattr **tb)
{
	struct net_fdb_entry e = { 0 };
	if (ndm->ndm_family != AF_BRIDGE || !(ndm->ndm_flags & NTF_SELF) || !tb[NDA_LLADDR] ||
	    nla_len(tb[NDA_LLADDR]) != 6 || !attr_ip(tb[NDA_DST], &e.dst))
		return;
	memcpy(e.mac, nla_data(tb[NDA_LLADDR]), 6);
	struct net_fdb_entry *l = xrealloc(d->list, (d->n + 1) * sizeof(*l));
	l[d->n++] = e;
	d->list = l;
}

/* Permanent ARP/NDP entries. */
static void keep_neigh(struct neigh_dump *d, const struct ndmsg *ndm, struct nlattr **tb)
{
	struct net_neigh_entry e = { 0 };
	if ((ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) ||
	    !(ndm->ndm_state & NUD_PERMANENT) || !tb[NDA_LLADDR] || nla_len(tb[NDA_LLADDR]) != 6 ||
	    !attr_ip(tb[NDA_DST], &e.ip))
		return;
	memcpy(e.mac, nla_data(tb[NDA_LLADDR]), 6);
	struct net_neigh_entry *l = xrealloc(d->list, (d->n + 1) * sizeof(*l));
	l[d->n++] = e;
	d->list = l;
}

static int neigh_dump(struct nl_sock *sk, int family, struct neigh_dump *d, struct cni_err *err)
{
	int r = 0;
	/* Retry dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR). */
	for (int i = 0; i < 5; i++) {
		struct ndmsg ndm = { .ndm_family = (uint8_t)family };
		/* nl_socket_get_cb takes a reference of its own. */
		struct nl_cb *orig = nl_socket_get_cb(sk);
		struct nl_cb *cb = orig ? nl_cb_clone(orig) : NULL;
		if (orig)
			nl_cb_put(orig);
		if (!cb)
			return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM,
					   "allocate netlink callback");
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_cb, d);
		r = nl_send_simple(sk, RTM_GETNEIGH, NLM_F_DUMP, &ndm, sizeof(ndm));
		if (r >= 0)
			r = nl_recvmsgs(sk, cb);
		nl_cb_put(cb);
		if (r >= 0)
			return 0;
		free(d->list);
		d->list = NULL;
		d->n = 0;
		if (r != -NLE_DUMP_INTR)
			break;
	}
	return net_err(err, r, "dump neighbours of link with index %d", d->ifindex);
}

int net_fdb_list(struct nl_sock *sk, int ifindex, struct net_fdb_entry **ret, size_t *ret_n,
		 struct cni_err *err)
{
	struct neigh_dump d = { .ifindex = ifindex, .keep = keep_fdb };
	int r = neigh_dump(sk, AF_BRIDGE, &d, err);
	if (r < 0)
		return r;
	*ret = d.list;
	*ret_n = d.n;
	return 0;
}

int net_neigh_list(struct nl_sock *sk, int ifindex, struct net_neigh_entry **ret, size_t *ret_n,
		   struct cni_err *err)
{
	struct neigh_dump d = { .ifindex = ifindex, .keep = keep_neigh };
	int r = neigh_dump(sk, AF_UNSPEC, &d, err);
	if (r < 0)
		return r;
	*ret = d.list;
	*ret_n = d.n;
	return 0;
}

int net_fdb_flood_list(struct nl_sock *sk, int ifindex, struct ip_addr **ret, size_t *ret_n,
		       struct cni_err *err)
{
	_cleanup_free_ struct net_fdb_entry *all = NULL;
	size_t n = 0, k = 0;
	int r = net_fdb_list(sk, ifindex, &all, &n, err);
	if (r < 0)
		return r;
	struct ip_addr *list = n ? xcalloc(n, sizeof(*list)) : NULL;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(all[i].mac, zero_mac, 6))
			list[k++] = all[i].dst;
	*ret = list;
	*ret_n = k;
	return 0;
}

/* A neighbour object: an FDB entry (family AF_BRIDGE, NTF_SELF, dst = remote VTEP) or an
 * ARP/NDP entry (family of dst) of ifindex, permanent, for lladdr mac. */
static int neigh_new(int ifindex, int family, const uint8_t mac[6], const struct ip_addr *dst,
		     struct rtnl_neigh **ret, struct cni_err *err)
{
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	_cleanup_nl_addr_ struct nl_addr *ll = nl_addr_build(AF_LLC, mac, 6);
	_cleanup_nl_addr_ struct nl_addr *ip = NULL;
	if (!n || !ll) {
		if (n)
			rtnl_neigh_put(n);
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate neighbour");
	}
	int r = net_nl_addr_new(dst, (unsigned)ip_family_len(dst->family) * 8, &ip, err);
	if (r < 0) {
		rtnl_neigh_put(n);
		return r;
	}
	/* libnl refuses a dst whose family differs from the neighbour's: set the dst first. */
	r = rtnl_neigh_set_dst(n, ip);
	if (r < 0) {
		rtnl_neigh_put(n);
		return net_err(err, r, "set neighbour destination");
	}
	rtnl_neigh_set_family(n, family);
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	if (family == AF_BRIDGE)
		rtnl_neigh_set_flags(n, NTF_SELF);
	*ret = n;
	return 0;
}

/* Add n (flags NLM_F_*) or, with del, delete it (missing is success); frees n. Errors name
 * what, mac (unless all-zero, or an ARP/NDP entry's) and dst. */
static int neigh_apply(struct nl_sock *sk, struct rtnl_neigh *n, int flags, bool del,
		       const char *what, const uint8_t mac[6], const struct ip_addr *dst,
		       struct cni_err *err)
{
	int r = del ? rtnl_neigh_delete(sk, n, 0) : rtnl_neigh_add(sk, n, flags);
	rtnl_neigh_put(n);
	if (del && (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV))
		return 0;
	if (r >= 0)
		return 0;
	char s[IP_STR_LEN], m[MAC_STR_LEN];
	format_ip(dst, s);
	if (!mac || !memcmp(mac, zero_mac, 6))
		return net_err(err, r, "%s '%s'", what, s);
	format_mac(mac, m);
	return net_err(err, r, "%s '%s' dst '%s'", what, m, s);
}

int net_fdb_flood_append(struct nl_sock *sk, int ifindex, const struct ip_addr *dst,
			 struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = neigh_new(ifindex, AF_BRIDGE, zero_mac, dst, &n, err);
	/* `bridge fdb append`: one more destination for the all-zero entry. */
	return r < 0 ? r
		     : neigh_apply(sk, n, NLM_F_CREATE | NLM_F_APPEND, false,
				   "append flood entry for", zero_mac, dst, err);
}

int net_fdb_flood_del(struct nl_sock *sk, int ifindex, const struct ip_addr *dst,
		      struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = neigh_new(ifindex, AF_BRIDGE, zero_mac, dst, &n, err);
	return r < 0 ? r
		     : neigh_apply(sk, n, 0, true, "delete flood entry for", zero_mac, dst, err);
}

int net_fdb_set(struct nl_sock *sk, int ifindex, const uint8_t mac[6], const struct ip_addr *dst,
		struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = neigh_new(ifindex, AF_BRIDGE, mac, dst, &n, err);
	/* `bridge fdb replace MAC dev VX dst D self permanent`. */
	return r < 0 ? r
		     : neigh_apply(sk, n, NLM_F_CREATE | NLM_F_REPLACE, false, "set FDB entry", mac,
				   dst, err);
}

int net_fdb_del(struct nl_sock *sk, int ifindex, const uint8_t mac[6], const struct ip_addr *dst,
		struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = neigh_new(ifindex, AF_BRIDGE, mac, dst, &n, err);
	return r < 0 ? r : neigh_apply(sk, n, 0, true, "delete FDB entry", mac, dst, err);
}

int net_neigh_set(struct nl_sock *sk, int ifindex, const struct ip_addr *ip, const uint8_t mac[6],
		  struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = neigh_new(ifindex, ip->family, mac, ip, &n, err);
	return r < 0 ? r
		     : neigh_apply(sk, n, NLM_F_CREATE | NLM_F_REPLACE, false, "set neighbour",
				   NULL, ip, err);
}

int net_neigh_del(struct nl_sock *sk, int ifindex, const struct ip_addr *ip, struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = neigh_new(ifindex, ip->family, zero_mac, ip, &n, err);
	return r < 0 ? r : neigh_apply(sk, n, 0, true, "delete neighbour", NULL, ip, err);
}
