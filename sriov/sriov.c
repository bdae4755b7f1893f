// SPDX-License-Identifier: Apache-2.0
/* The sriov plugin: a VF netdev moved into the pod, or a DPDK VF reported by PCI address. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/cni/ipam.h"
#include "lib/cni/netns.h"
#include "lib/json/json.h"
#include "lib/net/net.h"
#include "lib/net/vf.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "sriov/sriov.h"

static const char *const sriov_aliases[] = { "plexus-sriov", NULL };

/* Netdev lookups after a netns dies poll this long: the kernel returns the VF late. */
#define RETURN_WAIT_STEPS 20
#define RETURN_WAIT_NS 100000000L
/* Some drivers (i40e/iavf) apply an admin MAC asynchronously: re-set and re-read. */
#define MAC_TRIES 5

static void sleep_step(void)
{
	struct timespec ts = { 0, RETURN_WAIT_NS };
	(void)nanosleep(&ts, NULL);
}

static void mac_str(const uint8_t mac[MAC_LEN], char buf[MAC_STR_LEN])
{
	format_mac(mac, buf);
}

/* ---- PF side ------------------------------------------------------------------------------ */

/* Apply mask of want through the PF; the admin MAC is read back until it sticks. */
static int pf_apply(const struct sriov_vf *vf, const struct sriov_pf_ops *ops, unsigned mask,
		    const struct net_vf_state *want, struct cni_err *err)
{
	int r = ops->set(vf, mask, want, err);
	if (r < 0)
		return cni_err_wrap(err, "VF '%s'", vf->bdf);
	if (!(mask & NET_VF_MAC))
		return 0;
	for (int i = 0; i < MAC_TRIES; i++) {
		struct net_vf_state cur;
		r = ops->get(vf, &cur, err);
		if (r < 0)
			return cni_err_wrap(err, "VF '%s'", vf->bdf);
		if (!(cur.has & NET_VF_MAC) || memcmp(cur.mac, want->mac, MAC_LEN) == 0)
			return 0;
		sleep_step();
		r = ops->set(vf, NET_VF_MAC, want, err);
		if (r < 0)
			return cni_err_wrap(err, "VF '%s'", vf->bdf);
	}
	char m[MAC_STR_LEN];
	mac_str(want->mac, m);
	return cni_err_set(err, CNI_ERR_DEVICE, EIO, "VF '%s': admin MAC '%s' did not stick",
			   vf->bdf, m);
}

/* Put back what ADD changed (before the netdev moves: some drivers refuse MAC changes
 * from a VF that is not trusted any more). */
static int pf_restore(const struct sriov_vf *vf, const struct sriov_pf_ops *ops,
		      const struct sriov_cache *c, struct cni_err *err)
{
	unsigned mask = c->applied & c->orig.has;
	/* A VF that reported no VLAN still had VLAN 0 that ADD replaced. */
	struct net_vf_state orig = c->orig;
	if ((c->applied & NET_VF_VLAN) && !(orig.has & NET_VF_VLAN)) {
		orig.vlan = orig.qos = 0;
		orig.proto = 0x8100;
		orig.has |= NET_VF_VLAN;
		mask |= NET_VF_VLAN;
	}
	if (!mask)
		return 0;
	int r = ops->set(vf, mask, &orig, err);
	return r < 0 ? cni_err_wrap(err, "restore VF '%s'", vf->bdf) : 0;
}

/* ---- device info (device-info spec 1.1.0) ------------------------------------------------- */

static int write_device_info(const char *path, const struct sriov_vf *vf, struct cni_err *err)
{
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "pci");
	cJSON_AddStringToObject(o, "version", "1.1.0");
	cJSON *pci = cJSON_AddObjectToObject(o, "pci");
	cJSON_AddStringToObject(pci, "pci-address", vf->bdf);
	cJSON_AddStringToObject(pci, "pf-pci-address", vf->pf_bdf);
	_cleanup_free_ char *text = json_print(o);
	_cleanup_free_ char *dir = xstrdup(path);
	int r = file_mkdir_p(dirname(dir), 0755);
	if (r >= 0)
		r = file_write_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r,
				   "runtimeConfig.CNIDeviceInfoFile: write '%s': %s", path,
				   strerror(-r));
	return 0;
}

/* Remove the device-info file and any temp file a killed write left next to it (written under
 * the VF lock, which the caller holds). */
static void remove_device_info(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("remove device-info file '%s': %m, ignoring", path);
	(void)file_unlink_temps(path, false);
}

struct configure_args {
	const char *ifname;
	const struct cni_result *result;
};

/* In the pod: addresses and routes (the link comes up after the addresses, so arp_notify
 * announces them), or just up for an L2-only attachment. */
static int pod_configure(void *arg, struct cni_err *err)
{
	struct configure_args *a = arg;
	if (a->result->n_ips)
		return net_iface_configure(a->ifname, 0, a->result, err);
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	return net_link_set_up(sk, a->ifname, err);
}

/* ---- ADD ---------------------------------------------------------------------------------- */

struct add_state {
	const struct cni_ctx *ctx;
	struct sriov_conf conf;
	struct sriov_vf vf;
	const struct sriov_pf_ops *ops;
	struct sriov_cache cache;
	bool recorded, ipam_done;
	/* A stale allocation taken over (sriov_alloc_stale): its record, and its cache's path. */
	struct sriov_cache prev;
	char *prev_cache;
};

/* Undo in reverse order, as the records say, then drop them; a step that fails keeps them so
 * the runtime's DEL finishes the job. */
static void add_undo(struct add_state *s)
{
	struct cni_err e = { 0 };
	bool ok = true;
	if (s->cache.device_info_file)
		remove_device_info(s->cache.device_info_file);
	if (s->ipam_done && cni_ipam_del(s->ctx, &e) < 0)
		log_warning("undo: %s, ignoring", e.msg);
	if (!s->recorded)
		return;
	memset(&e, 0, sizeof(e));
	if (pf_restore(&s->vf, s->ops, &s->cache, &e) < 0) {
		log_warning("undo: %s, keeping the records for DEL", e.msg);
		ok = false;
	}
	memset(&e, 0, sizeof(e));
	bool found = false;
	if (sriov_return_from_pod(s->ctx, s->ctx->netns_fd, &s->cache, &found, &e) < 0) {
		log_warning("undo: %s, keeping the records for DEL", e.msg);
		ok = false;
	}
	if (ok) {
		sriov_cache_remove(s->ctx);
		sriov_alloc_drop(s->vf.bdf);
	}
}

/* The host netdev's MAC and MTU before anything changes. */
static int save_host_netdev(struct sriov_cache *c, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(c->host_ifname, &sk, &link, err);
	if (r < 0)
		return cni_err_wrap(err, "VF '%s' netdev", c->device_id);
	struct nl_addr *addr = rtnl_link_get_addr(link);
	if (addr && nl_addr_get_len(addr) == MAC_LEN)
		memcpy(c->host_mac, nl_addr_get_binary_addr(addr), MAC_LEN);
	c->host_mtu = rtnl_link_get_mtu(link);
	c->host_ifindex = rtnl_link_get_ifindex(link);
	const char *kind = rtnl_link_get_type(link);
	c->host_kind = kind ? xstrdup(kind) : NULL;
	return 0;
}

/* Intent before side effect: the original state and the allocation are on disk before the
 * VF is touched, and each later step updates the cache before it changes anything. */
static int add_steps(struct add_state *s, struct cni_result **ret, struct cni_err *err)
{
	const struct cni_ctx *ctx = s->ctx;
	char mac[MAC_STR_LEN] = "";
	uint32_t mtu = 0;
	int r;
	if (!s->vf.dpdk) {
		s->cache.host_ifname = xstrdup(s->vf.ifname);
		r = save_host_netdev(&s->cache, err);
		if (r >= 0)
			r = sriov_pod_name_free(ctx, err);
		if (r < 0)
			return r;
	}
	r = s->ops->get(&s->vf, &s->cache.orig, err);
	if (r < 0)
		return cni_err_wrap(err, "read VF '%s'", s->vf.bdf);
	if (s->prev_cache) {
		/* The stale pod's settings are still on the VF and its netdev: what it saved is
		 * the original. (The netdev keeps the name the kernel gave it on its return.) */
		s->cache.orig = s->prev.orig;
		if (!s->vf.dpdk && s->prev.host_ifname) {
			memcpy(s->cache.host_mac, s->prev.host_mac, MAC_LEN);
			s->cache.host_mtu = s->prev.host_mtu;
		}
	}
	struct net_vf_state want;
	unsigned mask;
	sriov_conf_wanted(&s->conf, &s->cache.orig, &want, &mask);
	s->cache.applied = mask;
	r = sriov_cache_save(ctx, &s->cache, err);
	if (r < 0) {
		sriov_cache_remove(ctx);
		sriov_alloc_drop(s->vf.bdf);
		return r;
	}
	s->recorded = true;
	if (s->prev_cache) {
		/* Ours now: that pod's late DEL finds nothing to undo. */
		log_warning("took over VF '%s' from a pod whose netns is gone", s->vf.bdf);
		sriov_record_remove(s->prev_cache);
		if (s->prev.device_info_file)
			remove_device_info(s->prev.device_info_file);
	}
	r = pf_apply(&s->vf, s->ops, mask, &want, err);
	if (r < 0)
		return r;
	if (!s->vf.dpdk) {
		r = sriov_move_into_pod(ctx, &s->conf, &s->cache, mac, &mtu, err);
		if (r < 0)
			return r;
	}
	struct cni_result *result = cni_result_new();
	*ret = result;
	(void)cni_result_add_iface(result, ctx->ifname, mac[0] ? mac : NULL, ctx->netns_path);
	result->interfaces[0].mtu = mtu;
	result->interfaces[0].pci_id = xstrdup(s->vf.bdf);
	if (s->vf.dpdk && (s->conf.has & SRIOV_HAS_MAC)) {
		mac_str(s->conf.mac, mac);
		result->interfaces[0].mac = xstrdup(mac);
	}
	if (ctx->ipam_type) {
		struct cni_result *ipam = NULL;
		r = cni_ipam_add(ctx, &ipam, err);
		if (r < 0)
			return r;
		s->ipam_done = true;
		result->ips = TAKE_PTR(ipam->ips);
		result->n_ips = ipam->n_ips;
		ipam->n_ips = 0;
		result->routes = TAKE_PTR(ipam->routes);
		result->n_routes = ipam->n_routes;
		ipam->n_routes = 0;
		cni_result_free(ipam);
		for (size_t i = 0; i < result->n_ips; i++)
			result->ips[i].interface = 0;
	}
	/* DPDK: the addresses are reported for the userspace stack, configured nowhere. */
	if (!s->vf.dpdk) {
		struct configure_args ca = { .ifname = ctx->ifname, .result = result };
		r = cni_netns_run(ctx->netns_fd, pod_configure, &ca, err);
		if (r < 0)
			return r;
	}
	if (s->conf.device_info_file) {
		s->cache.device_info_file = xstrdup(s->conf.device_info_file);
		r = sriov_cache_save(ctx, &s->cache, err);
		if (r >= 0)
			r = write_device_info(s->conf.device_info_file, &s->vf, err);
		if (r < 0)
			return r;
	}
	cni_dns_copy(&result->dns, &ctx->dns);
	return 0;
}

static int sriov_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct add_state s = { .ctx = ctx };
	int r = sriov_conf_parse(ctx, &s.conf, err);
	if (r < 0)
		return r;
	if (ctx->netns_fd < 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL, "CNI_NETNS: required for ADD");
	r = sriov_vf_locate(s.conf.device_id, true, &s.vf, err);
	if (r < 0)
		return r;
	memcpy(s.cache.device_id, s.vf.bdf, sizeof(s.cache.device_id));
	s.cache.dpdk = s.vf.dpdk;
	s.ops = sriov_pf_ops_for(&s.vf);
	_cleanup_close_ int lock = -1;
	r = sriov_lock(s.vf.bdf, &lock, err);
	if (r >= 0)
		r = sriov_alloc_check(s.vf.bdf, err);
	if (r >= 0)
		(void)sriov_alloc_stale(s.vf.bdf, ctx, &s.prev, &s.prev_cache);
	struct cni_result *result = NULL;
	if (r >= 0) {
		log_debug("VF '%s': PF '%s' vf %u driver '%s' netdev '%s' (%s backend)", s.vf.bdf,
			  s.vf.pf_bdf, s.vf.index, s.vf.driver ? s.vf.driver : "",
			  s.vf.ifname ? s.vf.ifname : "", s.ops->name);
		r = add_steps(&s, &result, err);
		if (r < 0) {
			add_undo(&s);
			cni_result_free(result);
		} else {
			log_info("added VF '%s' (%s) as '%s'", s.vf.bdf,
				 s.vf.dpdk ? "dpdk" : s.cache.host_ifname, ctx->ifname);
			*ret = result;
		}
	}
	sriov_cache_done(&s.cache);
	sriov_cache_done(&s.prev);
	free(s.prev_cache);
	sriov_vf_done(&s.vf);
	return r;
}

/* ---- DEL ---------------------------------------------------------------------------------- */

/* After the pod's netns died the kernel hands the VF back as dev<N> (late: it is cleanup
 * work); an ADD killed before the move leaves it in the host too, perhaps under the temporary
 * name. Find it by PCI address (sysfs net/), else by the recorded ifindex or the temporary
 * name, waiting a little. */
static int restore_returned(const struct cni_ctx *ctx, const struct sriov_cache *c,
			    struct cni_err *err)
{
	for (int i = 0; i < RETURN_WAIT_STEPS; i++) {
		_cleanup_free_ char *name = NULL;
		if (sriov_vf_netdev(c->device_id, &name) == 0) {
			log_info("VF '%s' is in the host as '%s'", c->device_id, name);
			int r = sriov_host_restore(name, c, err);
			if (r != -ENODEV)
				return r;
			/* sysfs names a link this netns lacks: look for it as ADD left it */
			memset(err, 0, sizeof(*err));
		}
		bool found = false;
		int r = sriov_host_find_restore(ctx, c, &found, err);
		if (r < 0 || found)
			return r;
		if (i + 1 < RETURN_WAIT_STEPS)
			sleep_step();
	}
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, EAGAIN,
			   "VF '%s': its netdev has not come back to the host yet", c->device_id);
}

static int del_steps(const struct cni_ctx *ctx, const struct sriov_cache *c, struct cni_err *err)
{
	/* IPAM first: the reverse order of ADD (SPEC "DEL"). */
	int r = cni_ipam_del(ctx, err);
	if (r < 0)
		return r;
	struct sriov_vf vf = { 0 };
	r = sriov_vf_locate(c->device_id, false, &vf, err);
	if (r < 0) {
		/* A VF that vanished (SR-IOV disabled, device removed) has nothing to restore. */
		log_warning("DEL: %s, nothing to restore", err->msg);
		memset(err, 0, sizeof(*err));
		return 0;
	}
	r = pf_restore(&vf, sriov_pf_ops_for(&vf), c, err);
	sriov_vf_done(&vf);
	if (r < 0)
		return r;
	if (c->dpdk || !c->host_ifname)
		return 0;
	bool found = false;
	if (ctx->netns_fd >= 0) {
		r = sriov_return_from_pod(ctx, ctx->netns_fd, c, &found, err);
		if (r < 0)
			return r;
	}
	if (found)
		return 0;
	return restore_returned(ctx, c, err);
}

static int sriov_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct sriov_cache c = { 0 };
	int r = sriov_cache_load(ctx, &c, err);
	if (r == -ENOENT) {
		/* Neither the cache nor an allocation record of this attachment: ADD never
		 * touched the VF (the cache is written first), at most left the cache's temp
		 * file; IPAM DEL is idempotent. */
		sriov_cache_remove(ctx);
		struct cni_err e = { 0 };
		if (cni_ipam_del(ctx, &e) < 0)
			log_warning("no cache: IPAM DEL: %s, ignoring", e.msg);
		return 0;
	}
	if (r < 0 && err->code == CNI_ERR_DECODE) {
		/* Neither the cache nor the allocation record decodes: without the original
		 * state nothing can be restored safely (the VF in the pod is known only by the
		 * recorded ifindex); failing would block every retry. */
		log_error("DEL: %s; no allocation record either: VF not restored, cache "
			  "quarantined as '.corrupt'",
			  err->msg);
		sriov_cache_quarantine(ctx);
		struct cni_err e = { 0 };
		if (cni_ipam_del(ctx, &e) < 0)
			log_warning("IPAM DEL: %s, ignoring", e.msg);
		memset(err, 0, sizeof(*err));
		return 0;
	}
	if (r < 0)
		return r;
	_cleanup_close_ int lock = -1;
	r = sriov_lock(c.device_id, &lock, err);
	bool taken = r >= 0 && sriov_alloc_taken_over(c.device_id, ctx);
	if (taken) {
		/* A late DEL: restoring this pod's original state would undo the new owner's. */
		log_warning("DEL: VF '%s' now belongs to another attachment: not touched",
			    c.device_id);
		struct cni_err e = { 0 };
		if (cni_ipam_del(ctx, &e) < 0)
			log_warning("IPAM DEL: %s, ignoring", e.msg);
	} else if (r >= 0) {
		r = del_steps(ctx, &c, err);
	}
	if (r >= 0) {
		if (c.device_info_file)
			remove_device_info(c.device_info_file);
		if (!taken)
			sriov_alloc_drop(c.device_id);
		sriov_cache_remove(ctx);
		log_info("%s VF '%s'", taken ? "forgot the late" : "released", c.device_id);
	}
	sriov_cache_done(&c);
	return r;
}

/* ---- CHECK -------------------------------------------------------------------------------- */

struct check_args {
	const struct cni_ctx *ctx;
	const struct cni_result *prev;
	size_t iface;
};

static int check_in_pod(void *arg, struct cni_err *err)
{
	struct check_args *a = arg;
	return net_check_pod_iface(a->ctx->ifname, a->prev, a->iface, NULL, NULL, err);
}

/* The PF still holds what the conf asks for. */
static int check_pf(const struct sriov_conf *conf, const struct sriov_vf *vf, struct cni_err *err)
{
	struct net_vf_state cur, want;
	unsigned mask;
	const struct sriov_pf_ops *ops = sriov_pf_ops_for(vf);
	int r = ops->get(vf, &cur, err);
	if (r < 0)
		return cni_err_wrap(err, "read VF '%s'", vf->bdf);
	sriov_conf_wanted(conf, &cur, &want, &mask);
	mask &= cur.has;
	if (((mask & NET_VF_MAC) && memcmp(cur.mac, conf->mac, MAC_LEN)) ||
	    ((mask & NET_VF_VLAN) && (cur.vlan != conf->vlan || cur.qos != conf->vlan_qos ||
				      (conf->vlan && cur.proto != conf->vlan_proto))) ||
	    ((mask & NET_VF_SPOOFCHK) && cur.spoofchk != conf->spoofchk) ||
	    ((mask & NET_VF_TRUST) && cur.trust != conf->trust) ||
	    ((mask & NET_VF_LINK_STATE) && cur.link_state != conf->link_state) ||
	    ((conf->has & SRIOV_HAS_MIN_RATE) && (mask & NET_VF_RATE) &&
	     cur.min_rate != conf->min_tx_rate) ||
	    ((conf->has & SRIOV_HAS_MAX_RATE) && (mask & NET_VF_RATE) &&
	     cur.max_rate != conf->max_tx_rate))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "VF '%s': PF settings differ from the config (vlan %u qos %u "
				   "spoofchk %d trust %d link_state %u rates %u/%u)",
				   vf->bdf, cur.vlan, cur.qos, cur.spoofchk, cur.trust,
				   cur.link_state, cur.min_rate, cur.max_rate);
	return 0;
}

static int sriov_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	size_t i;
	int r = cni_ctx_prev_iface(ctx, &i, err);
	if (r < 0)
		return r;
	struct sriov_conf conf;
	r = sriov_conf_parse(ctx, &conf, err);
	if (r < 0)
		return r;
	struct sriov_cache c = { 0 };
	r = sriov_cache_load(ctx, &c, err);
	if (r == -ENOENT)
		return cni_err_set(err, CNI_ERR_DEVICE, ENOENT,
				   "no saved state for container '%s' interface '%s'",
				   ctx->container_id, ctx->ifname);
	if (r < 0)
		return r;
	bool same = strcmp(c.device_id, conf.device_id) == 0;
	bool dpdk = c.dpdk;
	sriov_cache_done(&c);
	if (!same)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				   "deviceID: '%s' is not the VF ADD attached", conf.device_id);
	struct sriov_vf vf;
	r = sriov_vf_locate(conf.device_id, false, &vf, err);
	if (r < 0)
		return r;
	r = check_pf(&conf, &vf, err);
	if (r >= 0 && dpdk && !sriov_driver_is_dpdk(vf.driver))
		r = cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
				"VF '%s' is bound to '%s', not a DPDK driver any more", vf.bdf,
				vf.driver ? vf.driver : "(none)");
	sriov_vf_done(&vf);
	if (r < 0)
		return r;
	r = cni_ipam_check(ctx, err);
	if (r < 0 || dpdk)
		return r;
	struct check_args a = { .ctx = ctx, .prev = prev, .iface = i };
	return cni_netns_run(ctx->netns_fd, check_in_pod, &a, err);
}

const struct cni_plugin sriov_plugin = {
	.name = "sriov",
	.aliases = sriov_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = sriov_add,
	.del = sriov_del,
	.check = sriov_check,
	/* STATUS and GC: nothing of our own; the core forwards both to IPAM. */
};
