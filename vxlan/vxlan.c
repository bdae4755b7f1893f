// SPDX-License-Identifier: Apache-2.0
/* The vxlan plugin: one veth per pod on the per-VNI bridge of this node (docs/vxlan.md). */
#include <errno.h>
#include <netlink/route/link/veth.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/ipam.h"
#include "lib/json/json.h"
#include "lib/util/file.h"
#include "lib/cni/netns.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "vxlan/vxlan.h"

static const char *const vxlan_aliases[] = { "plexus-vxlan", NULL };

/* Index of the pod interface in the result: [bridge, host veth, pod veth] as the bridge
 * plugin reports it. */
#define POD_IFACE 2

/* Host veth names tried per attachment before giving up: a name taken by another link (a
 * hash collision) moves on to the next candidate. */
#define HVETH_TRIES 8

void vxlan_host_veth_name(const char *container_id, const char *ifname, unsigned salt,
			  char ret[IFNAMSIZ])
{
	/* FNV-1a over "containerID\0ifname" (then the salt): stable across processes. */
	uint32_t h = 2166136261u;
	for (const char *p = container_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0) * 16777619u;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	if (salt) {
		h = (h ^ 0) * 16777619u;
		for (unsigned i = 0; i < 4; i++)
			h = (h ^ (uint8_t)(salt >> (8 * i))) * 16777619u;
	}
	(void)snprintf(ret, IFNAMSIZ, "vxh%08x", h);
}

/* The ifalias that marks a host veth as this attachment's: the proof DEL and CHECK need before
 * they touch a host link. A container ID too long for an ifalias (255 bytes) is hashed. */
static char *host_tag(const struct cni_ctx *ctx)
{
	char *tag = xasprintf("plexus-vxlan:%s:%s", ctx->container_id, ctx->ifname);
	if (strlen(tag) < 256)
		return tag;
	free(tag);
	char h[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, h);
	return xasprintf("plexus-vxlan:%s", h);
}

static bool has_tag(struct rtnl_link *l, const char *tag)
{
	const char *alias = rtnl_link_get_ifalias(l);
	return alias && strcmp(alias, tag) == 0;
}

/* The host link carrying tag, or -ENODEV (code 104). The caller owns *ret. */
static int find_tagged(struct nl_sock *sk, const char *tag, struct rtnl_link **ret,
		       struct cni_err *err)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0)
		return net_err(err, r, "dump links");
	struct rtnl_link *found = NULL;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o))
		if (has_tag((struct rtnl_link *)o, tag)) {
			nl_object_get(o);
			found = (struct rtnl_link *)o;
		}
	nl_cache_free(cache);
	if (!found)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV, "no host veth tagged '%s'", tag);
	*ret = found;
	return 0;
}

/* A host veth name for this attachment that no link has. Our own tagged veth under a
 * candidate means an ADD without DEL. */
static int pick_host_veth(struct nl_sock *sk, const struct cni_ctx *ctx, const char *tag,
			  char ret[IFNAMSIZ], struct cni_err *err)
{
	for (unsigned salt = 0; salt < HVETH_TRIES; salt++) {
		vxlan_host_veth_name(ctx->container_id, ctx->ifname, salt, ret);
		_cleanup_link_ struct rtnl_link *old = NULL;
		int r = net_link_get(sk, ret, &old, NULL);
		if (r == -ENODEV)
			return 0;
		if (r < 0)
			return net_link_get(sk, ret, &old, err);
		if (has_tag(old, tag))
			return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
					   "vxlan: host veth '%s' for this container and ifname "
					   "already exists (ADD without DEL?)",
					   ret);
		log_debug("host veth name '%s' is taken by another link, trying the next", ret);
	}
	return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
			   "vxlan: no free host veth name for this container and ifname (%d taken)",
			   HVETH_TRIES);
}

static void link_mac(struct rtnl_link *l, char buf[MAC_STR_LEN])
{
	struct nl_addr *a = rtnl_link_get_addr(l);
	buf[0] = '\0';
	if (a && nl_addr_get_len(a) == MAC_LEN)
		format_mac(nl_addr_get_binary_addr(a), buf);
}

struct host_out {
	char hveth[IFNAMSIZ];
	char bridge_mac[MAC_STR_LEN];
	char host_mac[MAC_STR_LEN];
	uint32_t mtu;
	int pod_ifindex; /* the pod veth in the pod netns: undo deletes the pair through it */
	bool created;	 /* this ADD created the VTEP or the bridge */
};

/* In the host: tag the new host veth, put it on the bridge, bring it up. */
static int host_port(struct nl_sock *sk, const struct vxlan_conf *c, const char *hveth,
		     const char *tag, int bridge_ifindex, struct host_out *out, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *hl = NULL;
	_cleanup_link_ struct rtnl_link *br = NULL;
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_ifalias(change, tag);
	int r = net_link_get(sk, hveth, &hl, err);
	if (r >= 0 && (r = rtnl_link_change(sk, hl, change, 0)) < 0)
		r = net_err(err, r, "vxlan: tag host veth '%s'", hveth);
	if (r >= 0)
		r = net_link_get_by_index(sk, bridge_ifindex, &br, err);
	if (r >= 0 && (r = rtnl_link_enslave(sk, br, hl)) < 0)
		r = net_err(err, r, "vxlan: attach '%s' to bridge '%s'", hveth, c->bridge);
	if (r >= 0)
		r = net_link_set_up(sk, hveth, err);
	if (r < 0)
		return r;
	link_mac(hl, out->host_mac);
	link_mac(br, out->bridge_mac);
	return 0;
}

static int undo_pod_veth(void *arg, struct cni_err *err)
{
	const int *ifindex = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	return r < 0 ? r : net_link_del_index(sk, *ifindex, err);
}

/* Delete the veth pair this ADD made, through its pod end (the host end goes with it): a host
 * link is never deleted by a name that another attachment might hold. */
static void undo_veth(const struct cni_ctx *ctx, int pod_ifindex)
{
	struct cni_err e = { 0 };
	if (pod_ifindex > 0 && cni_netns_run(ctx->netns_fd, undo_pod_veth, &pod_ifindex, &e) < 0)
		log_warning("undo: delete '%s': %s, ignoring", ctx->ifname, e.msg);
}

/* Take the per-VNI lock, then a netlink socket in this (the host) netns. */
static int lock_and_open(const struct vxlan_conf *c, int *ret_lock, struct nl_sock **ret_sk,
			 struct cni_err *err)
{
	int r = vxlan_lock(c->vni, ret_lock, err);
	return r < 0 ? r : net_sock_open(ret_sk, err);
}

/* With the lock held: VTEP and bridge go when no other port is left, if this ADD created one
 * of them or the network deletes them on the last DEL. */
static void undo_host(struct nl_sock *sk, const struct vxlan_conf *c, bool created)
{
	struct cni_err e = { 0 };
	if ((created || c->delete_on_last_del) && vxlan_host_cleanup(sk, c, &e) < 0)
		log_warning("undo: cleanup of '%s'/'%s': %s, ignoring", c->vxdev, c->bridge, e.msg);
}

/* The veth pair: pod end straight into the pod netns under its temporary name, renamed to
 * CNI_IFNAME there; host end named out->hveth with the pod MTU. */
static int create_pair(struct nl_sock *sk, const struct cni_ctx *ctx, const struct vxlan_conf *c,
		       uint32_t mtu, struct host_out *out, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *tmpl = rtnl_link_veth_alloc();
	if (!tmpl)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_link_set_mtu(tmpl, mtu);
	if (c->has & VXLAN_HAS_MAC) {
		_cleanup_nl_addr_ struct nl_addr *a = nl_addr_build(AF_LLC, c->mac, MAC_LEN);
		if (!a)
			return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
		rtnl_link_set_addr(tmpl, a);
	}
	/* The peer has no IFLA_NET_NS_FD of its own: it stays in the netns of the request. */
	struct rtnl_link *peer = rtnl_link_veth_get_peer(tmpl);
	rtnl_link_set_name(peer, out->hveth);
	rtnl_link_set_mtu(peer, mtu);
	rtnl_link_put(peer);
	char tmpname[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, tmpname);
	int r = net_link_create_in_netns(sk, tmpl, ctx->netns_fd, tmpname, ctx->ifname,
					 &out->pod_ifindex, err);
	return r < 0 ? cni_err_wrap(err, "vxlan: create veth '%s' / '%s'", ctx->ifname, out->hveth)
		     : 0;
}

/* Under the per-VNI lock: VTEP + bridge, the veth pair, host end tagged, on the bridge and
 * up. Holding the lock until the port is attached keeps a last-DEL cleanup from removing the
 * bridge in between. On failure everything it made is gone. */
static int host_setup(const struct cni_ctx *ctx, const struct vxlan_conf *c, struct host_out *out,
		      struct cni_err *err)
{
	_cleanup_close_ int lock = -1;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = lock_and_open(c, &lock, &sk, err);
	if (r < 0)
		return r;
	struct vxlan_host h;
	r = vxlan_host_ensure(sk, c, &h, err);
	if (r < 0)
		return r;
	out->created = h.created;
	_cleanup_free_ char *tag = host_tag(ctx);
	r = pick_host_veth(sk, ctx, tag, out->hveth, err);
	if (r >= 0)
		r = create_pair(sk, ctx, c, h.mtu, out, err);
	if (r >= 0) {
		r = host_port(sk, c, out->hveth, tag, h.bridge_ifindex, out, err);
		if (r < 0)
			undo_veth(ctx, out->pod_ifindex);
	}
	if (r < 0) {
		undo_host(sk, c, out->created);
		return r;
	}
	out->mtu = h.mtu;
	return 0;
}

/* After host_setup succeeded: the veth pair, then VTEP and bridge under the lock. */
static void undo_add(const struct cni_ctx *ctx, const struct vxlan_conf *c,
		     const struct host_out *ho)
{
	undo_veth(ctx, ho->pod_ifindex);
	if (!ho->created && !c->delete_on_last_del)
		return;
	_cleanup_close_ int lock = -1;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	struct cni_err e = { 0 };
	if (lock_and_open(c, &lock, &sk, &e) < 0) {
		log_warning("undo: %s, ignoring", e.msg);
		return;
	}
	undo_host(sk, c, ho->created);
}

static void undo_ipam(const struct cni_ctx *ctx)
{
	struct cni_err e = { 0 };
	if (ctx->ipam_type && cni_ipam_del(ctx, &e) < 0)
		log_warning("undo: %s, ignoring", e.msg);
}

struct pod_args {
	const char *ifname;
	const struct cni_result *result; /* NULL: L2-only, just bring the link up */
	char mac[MAC_STR_LEN];		 /* out */
	uint32_t mtu;			 /* out */
};

static int pod_setup(void *arg, struct cni_err *err)
{
	struct pod_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(a->ifname, &sk, &link, err);
	if (r < 0)
		return r;
	link_mac(link, a->mac);
	a->mtu = rtnl_link_get_mtu(link);
	if (!a->result)
		return net_link_set_up(sk, a->ifname, err);
	/* Announce the new addresses (arp_notify, ndisc_notify), as the reference macvlan plugin
	 * does; failures are harmless. */
	_cleanup_free_ char *arp = xasprintf("net/ipv4/conf/%s/arp_notify", a->ifname);
	_cleanup_free_ char *ndisc = xasprintf("net/ipv6/conf/%s/ndisc_notify", a->ifname);
	(void)net_sysctl_set(arp, "1", NULL);
	(void)net_sysctl_set(ndisc, "1", NULL);
	return net_iface_configure(a->ifname, POD_IFACE, a->result, err);
}

/* The pod record of a "peers": "kubernetes" attachment (vxlan.h), named by the attachment's
 * temporary ifname, a hash of (containerID, ifname). */
static char *record_path(const struct cni_ctx *ctx, uint32_t vni)
{
	char h[IFNAMSIZ];
	net_tmp_ifname_for(ctx->container_id, ctx->ifname, h);
	return xasprintf("%s/vxlan/%u/%s" VXLAN_RECORD_SUFFIX, vxlan_run_dir(), vni, h);
}

/* After the pod is configured: what plexus-apid publishes for it on this node's Node. */
static int record_write(const struct cni_ctx *ctx, const struct vxlan_conf *c,
			const struct host_out *ho, const struct cni_result *result,
			struct cni_err *err)
{
	_cleanup_free_ char *path = record_path(ctx, c->vni);
	_cleanup_free_ char *dir = xasprintf("%s/vxlan/%u", vxlan_run_dir(), c->vni);
	_cleanup_free_ char *tag = host_tag(ctx);
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "hostVeth", ho->hveth);
	cJSON_AddStringToObject(j, "tag", tag);
	cJSON_AddStringToObject(j, "mac", result->interfaces[POD_IFACE].mac);
	cJSON *ips = cJSON_AddArrayToObject(j, "ips");
	for (size_t i = 0; i < result->n_ips; i++) {
		char s[IP_STR_LEN];
		format_ip(&result->ips[i].address.ip, s);
		cJSON_AddItemToArray(ips, cJSON_CreateString(s));
	}
	_cleanup_free_ char *text = json_print(j);
	int r = file_mkdir_p(dir, 0755);
	if (r >= 0)
		r = file_write_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "vxlan: write pod record '%s': %s", path,
				   strerror(-r));
	return 0;
}

static int vxlan_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct vxlan_conf c;
	int r = vxlan_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	/* Everything that can be known before the first link exists is checked first. */
	struct host_out ho = { 0 };
	r = cni_ipam_resolve(ctx, err);
	if (r >= 0)
		r = host_setup(ctx, &c, &ho, err);
	if (r < 0)
		goto out;

	struct cni_result *result = cni_result_new();
	size_t i = cni_result_add_iface(result, c.bridge, ho.bridge_mac[0] ? ho.bridge_mac : NULL,
					NULL);
	result->interfaces[i].mtu = ho.mtu;
	i = cni_result_add_iface(result, ho.hveth, ho.host_mac[0] ? ho.host_mac : NULL, NULL);
	result->interfaces[i].mtu = ho.mtu;
	(void)cni_result_add_iface(result, ctx->ifname, NULL, ctx->netns_path);
	if (ctx->ipam_type) {
		struct cni_result *ipam = NULL;
		r = cni_ipam_add(ctx, &ipam, err);
		if (r < 0) {
			cni_result_free(result);
			undo_add(ctx, &c, &ho);
			goto out;
		}
		result->ips = TAKE_PTR(ipam->ips);
		result->n_ips = ipam->n_ips;
		ipam->n_ips = 0;
		result->routes = TAKE_PTR(ipam->routes);
		result->n_routes = ipam->n_routes;
		ipam->n_routes = 0;
		for (size_t k = 0; k < result->n_ips; k++)
			result->ips[k].interface = POD_IFACE;
		cni_result_free(ipam);
	}
	struct pod_args pa = { .ifname = ctx->ifname, .result = ctx->ipam_type ? result : NULL };
	r = cni_netns_run(ctx->netns_fd, pod_setup, &pa, err);
	if (r < 0) {
		undo_ipam(ctx);
		undo_add(ctx, &c, &ho);
		cni_result_free(result);
		goto out;
	}
	if (pa.mac[0])
		result->interfaces[POD_IFACE].mac = xstrdup(pa.mac);
	result->interfaces[POD_IFACE].mtu = pa.mtu;
	if (c.peers_kube) {
		r = pa.mac[0] ? record_write(ctx, &c, &ho, result, err)
			      : cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
					    "vxlan: pod interface '%s' has no MAC", ctx->ifname);
		if (r < 0) {
			undo_ipam(ctx);
			undo_add(ctx, &c, &ho);
			cni_result_free(result);
			goto out;
		}
	}
	cni_dns_copy(&result->dns, &ctx->dns);
	log_info("added '%s' (host '%s') on bridge '%s', vni %u port %u, %zu address(es)",
		 ctx->ifname, ho.hveth, c.bridge, c.vni, c.port, result->n_ips);
	*ret = result;
out:
	vxlan_conf_done(&c);
	return r;
}

static int last_del_cleanup(const struct vxlan_conf *c, struct cni_err *err)
{
	_cleanup_close_ int lock = -1;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = lock_and_open(c, &lock, &sk, err);
	return r < 0 ? r : vxlan_host_cleanup(sk, c, err);
}

/* A host link tagged as this attachment's: only there when the pod netns outlived its path
 * (deleting the pod end takes the host end with it). */
static int del_host_tagged(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tag = host_tag(ctx);
	_cleanup_link_ struct rtnl_link *hl = NULL;
	r = find_tagged(sk, tag, &hl, NULL);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return find_tagged(sk, tag, &hl, err);
	return net_link_del_index(sk, rtnl_link_get_ifindex(hl), err);
}

/* IPAM first, then the pod end (under CNI_IFNAME or, after a killed ADD, its temporary name),
 * which takes the host end with it, then a host end tagged as ours. */
static int vxlan_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	/* The pod record goes first, so plexus-apid stops publishing a pod whose links and
	 * lease are about to go. */
	struct vxlan_conf rc;
	struct cni_err re = { 0 };
	if (vxlan_conf_parse(ctx, &rc, &re) >= 0) {
		_cleanup_free_ char *path = rc.peers_kube ? record_path(ctx, rc.vni) : NULL;
		if (path && unlink(path) < 0 && errno != ENOENT)
			log_warning("del: remove '%s': %s, ignoring", path, strerror(errno));
		vxlan_conf_done(&rc);
	}
	/* An IPAM that cannot be found or cannot parse its config (code 7) cannot hold a lease
	 * under it: DEL goes on, or the runtime would retry a DEL that never succeeds. */
	int r = cni_ipam_del(ctx, err);
	if (r < 0 && err->code != CNI_ERR_INVALID_CONFIG)
		return r;
	if (r < 0) {
		log_warning("del: %s, ignoring", err->msg);
		memset(err, 0, sizeof(*err));
	}
	if (ctx->netns_fd >= 0) {
		char tmpname[IFNAMSIZ];
		net_tmp_ifname_for(ctx->container_id, ctx->ifname, tmpname);
		r = net_link_del_attachment(ctx->netns_fd, ctx->ifname, tmpname, "veth", err);
		if (r < 0)
			return r;
	}
	r = del_host_tagged(ctx, err);
	if (r < 0)
		return r;
	/* DEL must not fail on what only the cleanup needs. */
	struct vxlan_conf c;
	struct cni_err e = { 0 };
	if (vxlan_conf_parse(ctx, &c, &e) < 0) {
		log_warning("del: %s, skipping VTEP cleanup", e.msg);
		return 0;
	}
	if (c.delete_on_last_del && last_del_cleanup(&c, &e) < 0)
		log_warning("del: cleanup of '%s'/'%s': %s, ignoring", c.vxdev, c.bridge, e.msg);
	vxlan_conf_done(&c);
	return 0;
}

struct check_args {
	const struct cni_ctx *ctx;
	const struct cni_result *prev;
	size_t iface;
	uint32_t mtu;
};

/* The pod end is a veth with the network's MTU. */
static int check_veth(const void *data, struct rtnl_link *link, const char *ifname,
		      struct cni_err *err)
{
	const uint32_t *mtu = data;
	if (!rtnl_link_is_veth(link))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' is not a veth", ifname);
	if (rtnl_link_get_mtu(link) != *mtu)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "'%s' has MTU %u, expected %u",
				   ifname, rtnl_link_get_mtu(link), *mtu);
	return 0;
}

static int check_in_pod(void *arg, struct cni_err *err)
{
	struct check_args *a = arg;
	return net_check_pod_iface(a->ctx->ifname, a->prev, a->iface, check_veth, &a->mtu, err);
}

static int check_host(const struct cni_ctx *ctx, const struct vxlan_conf *c, uint32_t *ret_mtu,
		      struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	struct vxlan_host h;
	r = vxlan_host_check(sk, c, &h, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tag = host_tag(ctx);
	_cleanup_link_ struct rtnl_link *hl = NULL;
	r = find_tagged(sk, tag, &hl, err);
	if (r < 0)
		return cni_err_wrap(err, "vxlan: host veth");
	const char *hveth = rtnl_link_get_name(hl);
	if (rtnl_link_get_master(hl) != h.bridge_ifindex)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "vxlan: host veth '%s' is not attached to bridge '%s'", hveth,
				   c->bridge);
	*ret_mtu = h.mtu;
	return 0;
}

static int vxlan_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	size_t i;
	int r = cni_ctx_prev_iface(ctx, &i, err);
	if (r < 0)
		return r;
	struct vxlan_conf c;
	r = vxlan_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	struct check_args a = { .ctx = ctx, .prev = prev, .iface = i };
	r = cni_ipam_check(ctx, err);
	if (r >= 0)
		r = check_host(ctx, &c, &a.mtu, err);
	if (r >= 0)
		r = cni_netns_run(ctx->netns_fd, check_in_pod, &a, err);
	vxlan_conf_done(&c);
	return r;
}

const struct cni_plugin vxlan_plugin = {
	.name = "vxlan",
	.aliases = vxlan_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = vxlan_add,
	.del = vxlan_del,
	.check = vxlan_check,
	/* STATUS and GC: nothing of our own; the core forwards both to IPAM. */
};
