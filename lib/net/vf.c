// SPDX-License-Identifier: Apache-2.0
/* SR-IOV VF attributes through the PF (raw IFLA_VF_*) and netdev moves between netns. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "lib/cni/err.h"
#include "lib/net/net.h"
#include "lib/net/vf.h"
#include "lib/util/cleanup.h"

struct get_args {
	uint32_t vf;
	bool found;
	struct net_vf_state *st;
};

/* Fill a->st from one IFLA_VF_INFO nest if it describes a->vf. */
static void parse_vf_info(struct nlattr *info, struct get_args *a)
{
	struct nlattr *tb[IFLA_VF_MAX + 1];
	if (nla_parse_nested(tb, IFLA_VF_MAX, info, NULL) < 0 || !tb[IFLA_VF_MAC])
		return;
	const struct ifla_vf_mac *mac = nla_data(tb[IFLA_VF_MAC]);
	if (nla_len(tb[IFLA_VF_MAC]) < (int)sizeof(*mac) || mac->vf != a->vf)
		return;
	struct net_vf_state *s = a->st;
	memset(s, 0, sizeof(*s));
	a->found = true;
	memcpy(s->mac, mac->mac, MAC_LEN);
	s->has |= NET_VF_MAC;
	if (tb[IFLA_VF_VLAN] && nla_len(tb[IFLA_VF_VLAN]) >= (int)sizeof(struct ifla_vf_vlan)) {
		const struct ifla_vf_vlan *v = nla_data(tb[IFLA_VF_VLAN]);
		s->vlan = v->vlan;
		s->qos = v->qos;
		s->proto = ETH_P_8021Q;
		s->has |= NET_VF_VLAN;
	}
	if (tb[IFLA_VF_VLAN_LIST]) {
		struct nlattr *vi;
		int rem;
		nla_for_each_nested(vi, tb[IFLA_VF_VLAN_LIST], rem)
		{
			if (nla_type(vi) != IFLA_VF_VLAN_INFO ||
			    nla_len(vi) < (int)sizeof(struct ifla_vf_vlan_info))
				continue;
			const struct ifla_vf_vlan_info *v = nla_data(vi);
			s->vlan = v->vlan;
			s->qos = v->qos;
			/* The kernel reports the protocol in network order. */
			s->proto = ntohs(v->vlan_proto);
			s->has |= NET_VF_VLAN;
			break;
		}
	}
	if (tb[IFLA_VF_SPOOFCHK] &&
	    nla_len(tb[IFLA_VF_SPOOFCHK]) >= (int)sizeof(struct ifla_vf_spoofchk)) {
		const struct ifla_vf_spoofchk *v = nla_data(tb[IFLA_VF_SPOOFCHK]);
		/* Drivers without spoof checking report (u32)-1. */
		if (v->setting != (uint32_t)-1) {
			s->spoofchk = v->setting != 0;
			s->has |= NET_VF_SPOOFCHK;
		}
	}
	if (tb[IFLA_VF_TRUST] && nla_len(tb[IFLA_VF_TRUST]) >= (int)sizeof(struct ifla_vf_trust)) {
		const struct ifla_vf_trust *v = nla_data(tb[IFLA_VF_TRUST]);
		if (v->setting != (uint32_t)-1) {
			s->trust = v->setting != 0;
			s->has |= NET_VF_TRUST;
		}
	}
	if (tb[IFLA_VF_RATE] && nla_len(tb[IFLA_VF_RATE]) >= (int)sizeof(struct ifla_vf_rate)) {
		const struct ifla_vf_rate *v = nla_data(tb[IFLA_VF_RATE]);
		s->min_rate = v->min_tx_rate;
		s->max_rate = v->max_tx_rate;
		s->has |= NET_VF_RATE;
	}
	if (tb[IFLA_VF_LINK_STATE] &&
	    nla_len(tb[IFLA_VF_LINK_STATE]) >= (int)sizeof(struct ifla_vf_link_state)) {
		const struct ifla_vf_link_state *v = nla_data(tb[IFLA_VF_LINK_STATE]);
		s->link_state = v->link_state;
		s->has |= NET_VF_LINK_STATE;
	}
}

static int get_cb(struct nl_msg *msg, void *arg)
{
	struct get_args *a = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWLINK)
		return NL_SKIP;
	struct nlattr *tb[IFLA_MAX + 1];
	if (nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 ||
	    !tb[IFLA_VFINFO_LIST])
		return NL_SKIP;
	struct nlattr *info;
	int rem;
	nla_for_each_nested(info, tb[IFLA_VFINFO_LIST], rem) if (nla_type(info) == IFLA_VF_INFO &&
								 !a->found) parse_vf_info(info, a);
	return NL_OK;
}

int net_vf_get(struct nl_sock *sk, int pf_ifindex, uint32_t vf, struct net_vf_state *ret,
	       struct cni_err *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = pf_ifindex };
	struct net_vf_state st = { 0 };
	struct get_args a = { .vf = vf, .st = &st };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
	if (!msg)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	if (r >= 0)
		r = nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_VF);
	if (r >= 0)
		r = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return net_err(err, r, "read VF %u of PF index %d", vf, pf_ifindex);
	/* nl_socket_get_cb takes a reference of its own. */
	struct nl_cb *sock_cb = nl_socket_get_cb(sk);
	struct nl_cb *cb = sock_cb ? nl_cb_clone(sock_cb) : NULL;
	if (sock_cb)
		nl_cb_put(sock_cb);
	if (!cb)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, get_cb, &a);
	r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (r < 0)
		return net_err(err, r, "read VF %u of PF index %d", vf, pf_ifindex);
	if (!a.found)
		return cni_err_set(err, CNI_ERR_DEVICE, ENOENT, "PF index %d has no VF %u",
				   pf_ifindex, vf);
	*ret = st;
	return 0;
}

static int put_vf_attrs(struct nl_msg *msg, uint32_t vf, unsigned mask,
			const struct net_vf_state *s)
{
	int r = 0;
	if (mask & NET_VF_MAC) {
		struct ifla_vf_mac m = { .vf = vf };
		memcpy(m.mac, s->mac, MAC_LEN);
		r = nla_put(msg, IFLA_VF_MAC, sizeof(m), &m);
	}
	if (r >= 0 && (mask & NET_VF_VLAN)) {
		if (s->proto == ETH_P_8021AD) {
			struct nlattr *list = nla_nest_start(msg, IFLA_VF_VLAN_LIST);
			/* Network order on the wire (the byte-order trap of libnl's API). */
			struct ifla_vf_vlan_info v = { .vf = vf,
						       .vlan = s->vlan,
						       .qos = s->qos,
						       .vlan_proto = htons(ETH_P_8021AD) };
			r = list ? nla_put(msg, IFLA_VF_VLAN_INFO, sizeof(v), &v) : -NLE_NOMEM;
			if (r >= 0)
				nla_nest_end(msg, list);
		} else {
			struct ifla_vf_vlan v = { .vf = vf, .vlan = s->vlan, .qos = s->qos };
			r = nla_put(msg, IFLA_VF_VLAN, sizeof(v), &v);
		}
	}
	if (r >= 0 && (mask & NET_VF_SPOOFCHK)) {
		struct ifla_vf_spoofchk v = { .vf = vf, .setting = s->spoofchk };
		r = nla_put(msg, IFLA_VF_SPOOFCHK, sizeof(v), &v);
	}
	if (r >= 0 && (mask & NET_VF_TRUST)) {
		struct ifla_vf_trust v = { .vf = vf, .setting = s->trust };
		r = nla_put(msg, IFLA_VF_TRUST, sizeof(v), &v);
	}
	if (r >= 0 && (mask & NET_VF_RATE)) {
		struct ifla_vf_rate v = { .vf = vf,
					  .min_tx_rate = s->min_rate,
					  .max_tx_rate = s->max_rate };
		r = nla_put(msg, IFLA_VF_RATE, sizeof(v), &v);
	}
	if (r >= 0 && (mask & NET_VF_LINK_STATE)) {
		struct ifla_vf_link_state v = { .vf = vf, .link_state = s->link_state };
		r = nla_put(msg, IFLA_VF_LINK_STATE, sizeof(v), &v);
	}
	return r;
}

int net_vf_set(struct nl_sock *sk, int pf_ifindex, uint32_t vf, unsigned mask,
	       const struct net_vf_state *s, struct cni_err *err)
{
	mask &= s->has;
	if (!mask)
		return 0;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = pf_ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_ACK);
	if (!msg)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	struct nlattr *list = r < 0 ? NULL : nla_nest_start(msg, IFLA_VFINFO_LIST);
	struct nlattr *info = list ? nla_nest_start(msg, IFLA_VF_INFO) : NULL;
	r = info ? put_vf_attrs(msg, vf, mask, s) : -NLE_NOMEM;
	if (r >= 0) {
		nla_nest_end(msg, info);
		nla_nest_end(msg, list);
		r = nl_send_sync(sk, msg); /* frees msg */
	} else {
		nlmsg_free(msg);
	}
	if (r < 0)
		return net_err(err, r, "set VF %u of PF index %d", vf, pf_ifindex);
	return 0;
}

/* One RTM_NEWLINK change on ifindex built by the caller on `change`. */
static int change_index(struct nl_sock *sk, int ifindex, struct rtnl_link *change, const char *what,
			struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *orig = rtnl_link_alloc();
	if (!orig)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_ifindex(orig, ifindex);
	int r = rtnl_link_change(sk, orig, change, 0);
	if (r < 0)
		return net_err(err, r, "%s (link index %d)", what, ifindex);
	return 0;
}

int net_link_set_down_index(struct nl_sock *sk, int ifindex, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_unset_flags(change, IFF_UP);
	return change_index(sk, ifindex, change, "set link down", err);
}

int net_link_rename_index(struct nl_sock *sk, int ifindex, const char *name, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_name(change, name);
	char what[64];
	(void)snprintf(what, sizeof(what), "rename link to '%s'", name);
	return change_index(sk, ifindex, change, what, err);
}

int net_link_set_mac_index(struct nl_sock *sk, int ifindex, const uint8_t mac[MAC_LEN],
			   struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	struct nl_addr *addr = nl_addr_build(AF_LLC, mac, MAC_LEN);
	if (!change || !addr) {
		if (addr)
			nl_addr_put(addr);
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	}
	rtnl_link_set_addr(change, addr);
	nl_addr_put(addr);
	char s[MAC_STR_LEN], what[64];
	format_mac(mac, s);
	(void)snprintf(what, sizeof(what), "set MAC '%s'", s);
	return change_index(sk, ifindex, change, what, err);
}

int net_link_set_mtu_index(struct nl_sock *sk, int ifindex, uint32_t mtu, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_mtu(change, mtu);
	char what[40];
	(void)snprintf(what, sizeof(what), "set MTU %u", mtu);
	return change_index(sk, ifindex, change, what, err);
}

int net_link_move_index(struct nl_sock *sk, int ifindex, int netns_fd, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_ns_fd(change, netns_fd);
	return change_index(sk, ifindex, change, "move link to another netns", err);
}

int net_tmp_ifname(char ret[16], struct cni_err *err)
{
	uint32_t rnd;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_IO, e, "getrandom: %s", strerror(e));
	}
	(void)snprintf(ret, 16, "plx%08x", rnd);
	return 0;
}
