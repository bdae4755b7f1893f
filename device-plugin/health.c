// SPDX-License-Identifier: Apache-2.0
/* Link carrier tracking from rtnetlink link events (RTMGRP_LINK), in the daemon's netns. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <net/if.h>

#include "device-plugin/health.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

/* From <linux/if.h>, which clashes with <net/if.h>. */
#define DP_IFF_LOWER_UP 0x10000
#define DP_OPER_NOTPRESENT 1
#define DP_OPER_DOWN 2
#define DP_OPER_LOWERLAYERDOWN 3

struct dp_link {
	int ifindex;
	char name[IFNAMSIZ];
	bool carrier;
};

struct dp_health {
	int fd; /* subscribed to RTMGRP_LINK; also used for the dump */
	struct dp_link *links;
	size_t n, cap;
	bool dumping;
};

int dp_health_fd(const struct dp_health *h)
{
	return h->fd;
}

void dp_health_free(struct dp_health *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		(void)close(h->fd);
	free(h->links);
	free(h);
}

static struct dp_link *find_index(struct dp_health *h, int ifindex)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->links[i].ifindex == ifindex)
			return &h->links[i];
	return NULL;
}

/* Apply one RTM_NEWLINK/RTM_DELLINK; *changed when a carrier or name changed. */
static void apply(struct dp_health *h, const struct nlmsghdr *nh, bool *changed)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	struct dp_link *l = find_index(h, ifi->ifi_index);
	if (nh->nlmsg_type == RTM_DELLINK) {
		if (l) {
			*l = h->links[--h->n];
			*changed = true;
		}
		return;
	}
	const char *name = NULL;
	int oper = -1;
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
		else if (a->rta_type == IFLA_OPERSTATE && RTA_PAYLOAD(a) >= 1)
			oper = *(const unsigned char *)RTA_DATA(a);
	}
	/* Carrier: the kernel's IFF_LOWER_UP, and not an operstate that says down. */
	bool carrier = (ifi->ifi_flags & DP_IFF_LOWER_UP) && oper != DP_OPER_DOWN &&
		       oper != DP_OPER_LOWERLAYERDOWN && oper != DP_OPER_NOTPRESENT;
	if (!l) {
		if (!name)
			return;
		if (h->n == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 32;
			h->links = xrealloc(h->links, h->cap * sizeof(*h->links));
		}
		l = &h->links[h->n++];
		memset(l, 0, sizeof(*l));
		l->ifindex = ifi->ifi_index;
		l->carrier = !carrier; /* force "changed" below */
	}
	if (name && strncmp(l->name, name, IFNAMSIZ)) {
		(void)snprintf(l->name, sizeof(l->name), "%s", name);
		*changed = true;
	}
	if (l->carrier != carrier) {
		l->carrier = carrier;
		*changed = true;
		log_debug("link '%s': carrier %s", l->name, carrier ? "on" : "off");
	}
}

/* Read what is queued; with block, read until the dump's NLMSG_DONE. */
static int drain(struct dp_health *h, bool block, bool *changed)
{
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t k = recv(h->fd, buf, sizeof(buf), block ? 0 : MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && !block)
				return 0;
			return -errno;
		}
		int len = (int)k;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				if (nh->nlmsg_type == NLMSG_ERROR) {
					const struct nlmsgerr *e = NLMSG_DATA(nh);
					if (e->error)
						return e->error;
				}
				block = false;
				continue;
			}
			if (nh->nlmsg_type == RTM_NEWLINK || nh->nlmsg_type == RTM_DELLINK)
				apply(h, nh, changed);
		}
	}
}

static int dump(struct dp_health *h, bool *changed)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1 },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	if (send(h->fd, &req, sizeof(req), 0) < 0)
		return -errno;
	return drain(h, true, changed);
}

int dp_health_open(struct dp_health **ret, struct cni_err *err)
{
	struct dp_health *h = xcalloc(1, sizeof(*h));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	bool changed = false;
	int r;

	h->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = cni_err_set(err, CNI_ERR_NETLINK, errno, "health: netlink socket: %s",
				strerror(errno));
		dp_health_free(h);
		return r;
	}
	int size = 1 << 20;
	(void)setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* Subscribed before the dump, so no change between the two is lost. */
	r = dump(h, &changed);
	if (r < 0) {
		r = cni_err_set(err, CNI_ERR_NETLINK, -r, "health: link dump: %s", strerror(-r));
		dp_health_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

int dp_health_process(struct dp_health *h, bool *ret_changed, struct cni_err *err)
{
	bool changed = false;
	int r = drain(h, false, &changed);
	if (r == -ENOBUFS) {
		/* Events were lost: start over from a fresh dump. */
		log_warning("health: netlink overrun, re-reading all links");
		h->n = 0;
		changed = true;
		r = dump(h, &changed);
	}
	if (r < 0)
		return cni_err_set(err, CNI_ERR_NETLINK, -r, "health: netlink: %s", strerror(-r));
	*ret_changed = changed;
	return 0;
}

bool dp_health_link_ok(const struct dp_health *h, const char *ifname)
{
	if (!h || !ifname[0])
		return true;
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->links[i].name, ifname))
			return h->links[i].carrier;
	return true;
}
