/* SPDX-License-Identifier: Apache-2.0 */
/* SR-IOV helpers: VF attributes through the PF (IFLA_VF_*, raw netlink) and moving an existing
 * netdev between network namespaces under a temporary name. */
#pragma once

#include <netlink/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/util/parse.h"

struct cni_err;

/* Which fields of struct net_vf_state are meaningful (set or read). */
enum {
	NET_VF_MAC = 1 << 0,
	NET_VF_VLAN = 1 << 1, /* vlan, qos and proto together */
	NET_VF_SPOOFCHK = 1 << 2,
	NET_VF_TRUST = 1 << 3,
	NET_VF_RATE = 1 << 4, /* min and max together */
	NET_VF_LINK_STATE = 1 << 5,
};

/* IFLA_VF_LINK_STATE_* values. */
enum {
	NET_VF_LINK_AUTO = 0,
	NET_VF_LINK_ENABLE = 1,
	NET_VF_LINK_DISABLE = 2
};

/* One VF as the PF sees it. proto is in host order (ETH_P_8021Q or ETH_P_8021AD): the netlink
 * attribute is big-endian and converted here, never by callers. */
struct net_vf_state {
	unsigned has; /* NET_VF_* */
	uint8_t mac[MAC_LEN];
	uint32_t vlan, qos;
	uint16_t proto;
	bool spoofchk, trust;
	uint32_t min_rate, max_rate; /* Mbps */
	uint32_t link_state;	     /* NET_VF_LINK_* */
};

/* Read VF vf of PF pf_ifindex (RTM_GETLINK with RTEXT_FILTER_VF) in sk's netns. The attributes
 * the driver reports are flagged in ret->has. No such VF -> -ENOENT, code 104. */
int net_vf_get(struct nl_sock *sk, int pf_ifindex, uint32_t vf, struct net_vf_state *ret,
	       struct cni_err *err);
/* Set the fields of s selected by mask (each must be in s->has) on VF vf in one RTM_SETLINK.
 * 802.1Q VLANs use IFLA_VF_VLAN, 802.1ad IFLA_VF_VLAN_LIST. Netlink errors -> code 100. */
int net_vf_set(struct nl_sock *sk, int pf_ifindex, uint32_t vf, unsigned mask,
	       const struct net_vf_state *s, struct cni_err *err);

/* Link changes by index in sk's netns; each leaves the other attributes alone. */
int net_link_set_down_index(struct nl_sock *sk, int ifindex, struct cni_err *err);
int net_link_rename_index(struct nl_sock *sk, int ifindex, const char *name, struct cni_err *err);
int net_link_set_mac_index(struct nl_sock *sk, int ifindex, const uint8_t mac[MAC_LEN],
			   struct cni_err *err);
int net_link_set_mtu_index(struct nl_sock *sk, int ifindex, uint32_t mtu, struct cni_err *err);
/* Move ifindex (in sk's netns) into the netns netns_fd, keeping its name. */
int net_link_move_index(struct nl_sock *sk, int ifindex, int netns_fd, struct cni_err *err);
/* A random temporary interface name "plx<8 hex>": links are created under it, then renamed. */
int net_tmp_ifname(char ret[16], struct cni_err *err);
