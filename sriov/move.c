// SPDX-License-Identifier: Apache-2.0
/* sriov: moving a VF netdev into the pod netns and back, each step recorded before it is taken. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/netns.h"
#include "lib/net/net.h"
#include "lib/net/vf.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "sriov/sriov.h"

static int open_host_netns(int *ret, struct cni_err *err)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_NETNS, errno, "open own netns: %m");
	*ret = fd;
	return 0;
}

static int eexist(const char *ifname, struct cni_err *err)
{
	return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
			   "interface '%s' already exists in the container netns", ifname);
}

static int name_free_in_pod(void *arg, struct cni_err *err)
{
	const char *ifname = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(ifname, &sk, &link, err);
	if (r == 0)
		return eexist(ifname, err);
	if (r == -ENODEV)
		memset(err, 0, sizeof(*err));
	return r == -ENODEV ? 0 : r;
}

int sriov_pod_name_free(const struct cni_ctx *ctx, struct cni_err *err)
{
	return cni_netns_run(ctx->netns_fd, name_free_in_pod, (void *)ctx->ifname, err);
}

/* Down, original MAC and MTU back, newname; leaves the link in this netns. */
static int reset_netdev(struct nl_sock *sk, int ifindex, struct rtnl_link *link,
			const struct sriov_cache *c, const char *newname, struct cni_err *err)
{
	int r = net_link_set_down_index(sk, ifindex, err);
	struct nl_addr *addr = rtnl_link_get_addr(link);
	if (r >= 0 && addr && nl_addr_get_len(addr) == MAC_LEN &&
	    memcmp(nl_addr_get_binary_addr(addr), c->host_mac, MAC_LEN) != 0)
		r = net_link_set_mac_index(sk, ifindex, c->host_mac, err);
	if (r >= 0 && c->host_mtu && rtnl_link_get_mtu(link) != c->host_mtu)
		r = net_link_set_mtu_index(sk, ifindex, c->host_mtu, err);
	if (r >= 0 && newname && strcmp(rtnl_link_get_name(link), newname) != 0)
		r = net_link_rename_index(sk, ifindex, newname, err);
	return r;
}

/* The link is the netdev the cache describes as far as its kind tells (a real VF has none,
 * every link a pod or a user can create has one). */
static bool kind_is_vf(struct rtnl_link *link, const struct sriov_cache *c)
{
	const char *kind = rtnl_link_get_type(link), *want = c->host_kind;
	if (kind ? want && strcmp(kind, want) == 0 : want == NULL)
		return true;
	log_warning("'%s' (index %d) is a '%s' link, not the VF: leaving it",
		    rtnl_link_get_name(link), rtnl_link_get_ifindex(link), kind ? kind : "(none)");
	return false;
}

static int restore_link(struct nl_sock *sk, struct rtnl_link *link, const struct sriov_cache *c,
			struct cni_err *err)
{
	const char *name = rtnl_link_get_name(link);
	int r = reset_netdev(sk, rtnl_link_get_ifindex(link), link, c, c->host_ifname, err);
	if (r == -EEXIST)
		return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
				   "cannot rename VF netdev '%s' back to '%s': name taken", name,
				   c->host_ifname);
	return r < 0 ? cni_err_wrap(err, "restore VF netdev '%s'", name) : 0;
}

int sriov_host_restore(const char *name, const struct sriov_cache *c, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(name, &sk, &link, err);
	if (r < 0)
		return r;
	return restore_link(sk, link, c, err);
}

int sriov_host_find_restore(const struct cni_ctx *ctx, const struct sriov_cache *c, bool *ret_found,
			    struct cni_err *err)
{
	char tmp[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, tmp);
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = c->host_ifindex > 0 ? net_link_get_by_index(sk, c->host_ifindex, &link, err) : -ENODEV;
	if (r >= 0 && !kind_is_vf(link, c)) {
		rtnl_link_put(TAKE_PTR(link));
		r = -ENODEV;
	}
	if (r == -ENODEV) {
		memset(err, 0, sizeof(*err));
		r = net_link_get(sk, tmp, &link, err);
		if (r >= 0 && !kind_is_vf(link, c)) {
			rtnl_link_put(TAKE_PTR(link));
			r = -ENODEV;
		}
	}
	*ret_found = r >= 0;
	if (r == -ENODEV) {
		memset(err, 0, sizeof(*err));
		return 0;
	}
	if (r < 0)
		return r;
	log_info("VF '%s' is in the host as '%s'", c->device_id, rtnl_link_get_name(link));
	return restore_link(sk, link, c, err);
}

struct return_args {
	int ifindex;	     /* the VF in the pod, or 0: look it up by ... */
	const char *ifname;  /* ... its temporary name */
	const char *tmpname; /* the name it travels back under */
	const struct sriov_cache *cache;
	int host_fd;
	bool found; /* out */
};

/* In the pod: the VF back to the host under a->tmpname. Found by the ifindex ADD recorded,
 * never by CNI_IFNAME: a pod with NET_ADMIN may have renamed it and put another link there. */
static int return_in_pod(void *arg, struct cni_err *err)
{
	struct return_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = a->ifindex > 0 ? net_link_get_by_index(sk, a->ifindex, &link, err)
			   : net_link_get(sk, a->ifname, &link, err);
	if (r == -ENODEV) {
		memset(err, 0, sizeof(*err));
		return 0;
	}
	if (r < 0)
		return r;
	if (!kind_is_vf(link, a->cache))
		return 0;
	a->found = true;
	int ifindex = rtnl_link_get_ifindex(link);
	r = reset_netdev(sk, ifindex, link, a->cache, a->tmpname, err);
	if (r >= 0)
		r = net_link_move_index(sk, ifindex, a->host_fd, err);
	return r < 0 ? cni_err_wrap(err, "return '%s' to the host", rtnl_link_get_name(link)) : 0;
}

int sriov_return_from_pod(const struct cni_ctx *ctx, int netns_fd, const struct sriov_cache *c,
			  bool *ret_found, struct cni_err *err)
{
	if (!c->moved) {
		*ret_found = false;
		return 0;
	}
	char pod_tmp[IFNAMSIZ], tmp[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, pod_tmp);
	_cleanup_close_ int host_fd = -1;
	int r = net_tmp_ifname(tmp, err);
	if (r >= 0)
		r = open_host_netns(&host_fd, err);
	if (r < 0)
		return r;
	struct return_args a = { .ifindex = c->pod_ifindex,
				 .ifname = pod_tmp,
				 .tmpname = tmp,
				 .cache = c,
				 .host_fd = host_fd };
	r = cni_netns_run(netns_fd, return_in_pod, &a, err);
	if (r < 0)
		return r;
	*ret_found = a.found;
	return a.found ? sriov_host_restore(tmp, c, err) : 0;
}

static int ifindex_in_pod(void *arg, struct cni_err *err)
{
	struct return_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(a->ifname, &sk, &link, err);
	if (r >= 0)
		a->ifindex = rtnl_link_get_ifindex(link);
	return r;
}

struct setup_args {
	int ifindex;
	const char *ifname;
	const struct sriov_conf *conf;
	char mac[MAC_STR_LEN]; /* out */
	uint32_t mtu;	       /* out */
};

/* In the pod: rename from the temporary name, effective MAC, MTU, announce sysctls. */
static int setup_in_pod(void *arg, struct cni_err *err)
{
	struct setup_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = net_link_rename_index(sk, a->ifindex, a->ifname, err);
	if (r == -EEXIST)
		return eexist(a->ifname, err);
	if (r >= 0 && (a->conf->has & SRIOV_HAS_MAC))
		r = net_link_set_mac_index(sk, a->ifindex, a->conf->mac, err);
	if (r >= 0 && (a->conf->has & SRIOV_HAS_MTU))
		r = net_link_set_mtu_index(sk, a->ifindex, a->conf->mtu, err);
	if (r < 0)
		return r;
	/* The kernel announces the addresses when the link comes up after IPAM. */
	_cleanup_free_ char *arp = xasprintf("net/ipv4/conf/%s/arp_notify", a->ifname);
	_cleanup_free_ char *ndisc = xasprintf("net/ipv6/conf/%s/ndisc_notify", a->ifname);
	(void)net_sysctl_set(arp, "1", NULL);
	(void)net_sysctl_set(ndisc, "1", NULL);
	_cleanup_link_ struct rtnl_link *now = NULL;
	r = net_link_get_by_index(sk, a->ifindex, &now, err);
	if (r < 0)
		return r;
	struct nl_addr *addr = rtnl_link_get_addr(now);
	if (addr && nl_addr_get_len(addr) == MAC_LEN)
		format_mac(nl_addr_get_binary_addr(addr), a->mac);
	a->mtu = rtnl_link_get_mtu(now);
	return 0;
}

int sriov_move_into_pod(const struct cni_ctx *ctx, const struct sriov_conf *conf,
			struct sriov_cache *c, char ret_mac[MAC_STR_LEN], uint32_t *ret_mtu,
			struct cni_err *err)
{
	char tmp[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, tmp);
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(c->host_ifname, &sk, &link, err);
	if (r < 0)
		return r;
	int ifindex = rtnl_link_get_ifindex(link);
	c->moved = true;
	r = sriov_cache_save(ctx, c, err);
	if (r < 0)
		return r;
	/* Travel under the attachment's temporary name: a host name never clashes in the pod,
	 * and DEL finds the netdev there if ADD dies before it knows the pod's ifindex. */
	r = net_link_set_down_index(sk, ifindex, err);
	if (r >= 0)
		r = net_link_rename_index(sk, ifindex, tmp, err);
	if (r >= 0) {
		r = net_link_move_index(sk, ifindex, ctx->netns_fd, err);
		if (r < 0)
			(void)net_link_rename_index(sk, ifindex, c->host_ifname, NULL);
	}
	if (r < 0)
		return cni_err_wrap(err, "move VF netdev '%s' into the container netns",
				    c->host_ifname);
	/* The kernel keeps the ifindex unless the pod netns has it taken: ask. */
	struct return_args a = { .ifname = tmp };
	r = cni_netns_run(ctx->netns_fd, ifindex_in_pod, &a, err);
	if (r < 0)
		return r;
	c->pod_ifindex = a.ifindex;
	r = sriov_cache_save(ctx, c, err);
	if (r < 0)
		return r;
	struct setup_args s = { .ifindex = a.ifindex, .ifname = ctx->ifname, .conf = conf };
	r = cni_netns_run(ctx->netns_fd, setup_in_pod, &s, err);
	if (r < 0)
		return r;
	memcpy(ret_mac, s.mac, MAC_STR_LEN);
	*ret_mtu = s.mtu;
	return 0;
}
