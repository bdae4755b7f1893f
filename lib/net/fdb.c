// SPDX-License-Identifier: Apache-2.0
/* VXLAN flood list: all-zero-MAC bridge FDB entries (head-end replication, as
 * `bridge fdb append 00:00:00:00:00:00 dst <vtep>`). */
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

struct flood_dump {
	int ifindex;
	struct ip_addr *list; /* grows */
	size_t n;
};

static int flood_cb(struct nl_msg *msg, void *arg)
{
	struct flood_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	if (nlh->nlmsg_type != RTM_NEWNEIGH ||
	    nlmsg_parse(nlh, sizeof(struct ndmsg), tb, NDA_MAX, NULL) < 0)
		return NL_OK;
	struct ndmsg *ndm = nlmsg_data(nlh);
	if (ndm->ndm_family != AF_BRIDGE || ndm->ndm_ifindex != d->ifindex ||
	    !(ndm->ndm_flags & NTF_SELF) || !tb[NDA_LLADDR] || !tb[NDA_DST])
		return NL_OK;
	if (nla_len(tb[NDA_LLADDR]) != 6 || memcmp(nla_data(tb[NDA_LLADDR]), zero_mac, 6))
		return NL_OK;
	struct ip_addr a = { 0 };
	int len = nla_len(tb[NDA_DST]);
	if (len == 4)
		a.family = AF_INET;
	else if (len == 16)
		a.family = AF_INET6;
	else
		return NL_OK;
	memcpy(a.raw, nla_data(tb[NDA_DST]), (size_t)len);
	d->list = xrealloc(d->list, (d->n + 1) * sizeof(*d->list));
	d->list[d->n++] = a;
	return NL_OK;
}

int net_fdb_flood_list(struct nl_sock *sk, int ifindex, struct ip_addr **ret, size_t *ret_n,
		       struct cni_err *err)
{
	int r = 0;
	/* Retry dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR). */
	for (int i = 0; i < 5; i++) {
		struct flood_dump d = { .ifindex = ifindex };
		struct ndmsg ndm = { .ndm_family = AF_BRIDGE };
		/* nl_socket_get_cb takes a reference of its own. */
		struct nl_cb *orig = nl_socket_get_cb(sk);
		struct nl_cb *cb = orig ? nl_cb_clone(orig) : NULL;
		if (orig)
			nl_cb_put(orig);
		if (!cb)
			return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM,
					   "allocate netlink callback");
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, flood_cb, &d);
		r = nl_send_simple(sk, RTM_GETNEIGH, NLM_F_DUMP, &ndm, sizeof(ndm));
		if (r >= 0)
			r = nl_recvmsgs(sk, cb);
		nl_cb_put(cb);
		if (r >= 0) {
			*ret = d.list;
			*ret_n = d.n;
			return 0;
		}
		free(d.list);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	return net_err(err, r, "dump FDB of link with index %d", ifindex);
}

static int flood_neigh(int ifindex, const struct ip_addr *dst, struct rtnl_neigh **ret,
		       struct cni_err *err)
{
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	_cleanup_nl_addr_ struct nl_addr *ll = nl_addr_build(AF_LLC, zero_mac, 6);
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
		return net_err(err, r, "set flood entry destination");
	}
	rtnl_neigh_set_family(n, AF_BRIDGE);
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	rtnl_neigh_set_flags(n, NTF_SELF);
	*ret = n;
	return 0;
}

int net_fdb_flood_append(struct nl_sock *sk, int ifindex, const struct ip_addr *dst,
			 struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = flood_neigh(ifindex, dst, &n, err);
	if (r < 0)
		return r;
	/* `bridge fdb append`: one more destination for the all-zero entry. */
	r = rtnl_neigh_add(sk, n, NLM_F_CREATE | NLM_F_APPEND);
	rtnl_neigh_put(n);
	if (r < 0) {
		char s[IP_STR_LEN];
		format_ip(dst, s);
		return net_err(err, r, "append flood entry for '%s'", s);
	}
	return 0;
}

int net_fdb_flood_del(struct nl_sock *sk, int ifindex, const struct ip_addr *dst,
		      struct cni_err *err)
{
	struct rtnl_neigh *n = NULL;
	int r = flood_neigh(ifindex, dst, &n, err);
	if (r < 0)
		return r;
	r = rtnl_neigh_delete(sk, n, 0);
	rtnl_neigh_put(n);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	if (r < 0) {
		char s[IP_STR_LEN];
		format_ip(dst, s);
		return net_err(err, r, "delete flood entry for '%s'", s);
	}
	return 0;
}
