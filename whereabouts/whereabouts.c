// SPDX-License-Identifier: Apache-2.0
/* whereabouts IPAM in-process: ADD, DEL, CHECK and GC over whereabouts' own objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/kube/internal.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "whereabouts/internal.h"

/* Pool writes per range before ADD gives up (each also bounded by apiTimeoutMs). */
#define WB_ATTEMPTS_MAX 200

/* One request: conf, journal, API client and the attachment's journal entry. */
struct op {
	const struct cni_ctx *ctx;
	struct wb_conf c;
	struct wb_api a;
	int jfd;
	struct wb_entry e;
	char podref[512];
	/* With node slices: this node's name and the NodeSlicePool's. */
	char node[WB_NAME_MAX], nsp[WB_NAME_MAX];
};

static void op_done(struct op *o)
{
	wb_api_close(&o->a);
	wb_conf_done(&o->c);
	wb_entry_done(&o->e);
	if (o->jfd >= 0)
		close(o->jfd);
}

/* "namespace/name" of the pod (CNI_ARGS K8S_POD_*): whereabouts' podref. */
static int pod_ref(const struct cni_ctx *ctx, char *buf, size_t len, bool need, struct cni_err *err)
{
	const char *ns = cni_ctx_arg(ctx, "K8S_POD_NAMESPACE");
	const char *name = cni_ctx_arg(ctx, "K8S_POD_NAME");
	buf[0] = '\0';
	if (!ns || !name || !*ns || !*name) {
		if (!need)
			return 0;
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "whereabouts: CNI_ARGS K8S_POD_NAMESPACE and K8S_POD_NAME are "
				   "required");
	}
	if (!kube_dns1123_label(ns) || !kube_dns1123_subdomain(name))
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "whereabouts: CNI_ARGS K8S_POD_NAMESPACE/K8S_POD_NAME: not a "
				   "valid pod reference");
	(void)snprintf(buf, len, "%s/%s", ns, name);
	return 0;
}

static int op_open(const struct cni_ctx *ctx, bool need_pod, struct op *o, struct cni_err *err)
{
	*o = (struct op){ .ctx = ctx, .jfd = -1 };
	int r = wb_conf_parse(ctx, NULL, &o->c, err);
	if (r < 0 || (r = pod_ref(ctx, o->podref, sizeof(o->podref), need_pod, err)) < 0)
		return r;
	if (o->c.slice_prefix && ((r = wb_slice_node(o->node, err)) < 0 ||
				  (r = wb_slice_pool_name(&o->c, ctx->name, o->nsp, err)) < 0))
		return r;
	if ((o->jfd = wb_journal_open(err)) < 0)
		return o->jfd;
	return 0;
}

/* The journal entry of the attachment, or a new empty one. */
static void load_entry(struct op *o, const char *id, const char *ifname)
{
	if (wb_journal_read(o->jfd, id, ifname, &o->e) == 0)
		return;
	o->e = (struct wb_entry){ .container_id = xstrdup(id),
				  .ifname = xstrdup(ifname),
				  .network = xstrdup(o->ctx->name ? o->ctx->name : ""),
				  .podref = xstrdup(o->podref) };
	/* For plexus-apid's reconciler: a pod recreated under the same name has a new UID. */
	const char *uid = cni_ctx_arg(o->ctx, "K8S_POD_UID");
	if (uid && *uid)
		o->e.pod_uid = xstrdup(uid);
}

static bool entry_has(const struct wb_entry *e, const struct ip_addr *ip)
{
	for (size_t i = 0; i < e->n_ips; i++)
		if (ip_addr_equal(&e->ips[i], ip))
			return true;
	return false;
}

/* Record ip before the API write that may allocate it ("DEL always cleans"). */
static int note(struct op *o, const struct ip_addr *ip, struct cni_err *err)
{
	if (entry_has(&o->e, ip))
		return 0;
	o->e.ips = xrealloc(o->e.ips, (o->e.n_ips + 1) * sizeof(*o->e.ips));
	o->e.ips[o->e.n_ips++] = *ip;
	return wb_journal_write(o->jfd, &o->e, err);
}

/* Remove the allocation of (id, ifname) from IPPool name of range rg (conflicts retried).
 * Returns 1 with *ret_ip the address it held, 0 when it held none (or the pool is absent), or
 * < 0. */
static int release_pool(struct op *o, const struct wb_range *rg, const char *name, const char *id,
			const char *ifname, struct ip_addr *ret_ip, struct cni_err *err)
{
	for (unsigned attempt = 0;; attempt++) {
		_cleanup_(wb_pool_done) struct wb_pool p = { 0 };
		int r = wb_api_get_pool(&o->a, rg, name, false, &p, err);
		if (r < 0)
			return r == -ENOENT ? 0 : r;
		int idx = wb_pool_find(&p, id, NULL, ifname);
		if (idx < 0)
			return 0;
		uint64_t off = p.allocs[idx].offset;
		wb_pool_unset(&p, off);
		r = wb_api_put_pool(&o->a, name, &p, err);
		if (r == -EBUSY && attempt < WB_ATTEMPTS_MAX) {
			wb_api_backoff(&o->a, attempt);
			continue;
		}
		if (r < 0)
			return r;
		return wb_ip_add(&rg->net.ip, off, ret_ip) == 0 ? 1 : 0;
	}
}

/* Allocate one address of range rg from its IPPool name for the attachment, as whereabouts: the
 * pod's interface keeps the address it has; else the lowest free one. The pool first, then (with
 * overlapping ranges) the cluster-wide claim, in whereabouts' order: on one pool the
 * resourceVersion decides between plexus and whereabouts, and the winner makes the claim. */
static int alloc_pool(struct op *o, const struct wb_range *rg, const char *name,
		      struct ip_addr *ret, struct cni_err *err)
{
	const char *id = o->ctx->container_id, *ifname = o->ctx->ifname;
	char rs[160];
	wb_range_str(rg, rs, sizeof(rs));
	_cleanup_free_ struct ip_addr *skip = NULL;
	size_t n_skip = 0;
	for (unsigned attempt = 0; attempt < WB_ATTEMPTS_MAX; attempt++) {
		_cleanup_(wb_pool_done) struct wb_pool p = { 0 };
		int r = wb_api_get_pool(&o->a, rg, name, true, &p, err);
		if (r < 0)
			return r;
		struct ip_addr ip;
		bool write = true;
		int idx = wb_pool_find(&p, NULL, o->podref, ifname);
		if (idx >= 0) {
			if (wb_ip_add(&rg->net.ip, p.allocs[idx].offset, &ip) < 0)
				return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG,
						   "IPPool '%s': offset out of range", name);
			write = strcmp(p.allocs[idx].id, id) != 0;
		} else if (wb_range_first_free(rg, &p, skip, n_skip, &ip) == 0) {
			return cni_err_set(err, CNI_ERR_IPAM, ENOSPC,
					   "whereabouts: no free address in range %s (IPPool '%s')",
					   rs, name);
		}
		bool was_noted = entry_has(&o->e, &ip);
		if ((r = note(o, &ip, err)) < 0)
			return r;
		if (!write) {
			/* This container's already (a repeated ADD): nothing to write. */
			*ret = ip;
			return 0;
		}
		uint64_t off;
		(void)wb_ip_offset(&rg->net.ip, &ip, &off);
		wb_pool_set(&p, off, id, o->podref, ifname);
		r = wb_api_put_pool(&o->a, name, &p, err);
		if (r == -EBUSY) {
			wb_api_backoff(&o->a, attempt);
			continue;
		}
		if (r < 0)
			return r;
		if (o->c.overlapping) {
			/* An existing claim can be this attachment's only when the pool named the
			 * pod already or an earlier ADD of it recorded the address. */
			r = wb_api_claim_ip(&o->a, &ip, o->c.network_name, id, o->podref, ifname,
					    idx >= 0 || was_noted, err);
			if (r < 0)
				return r;
			if (r == 0) {
				/* Another range's pool holds it: give it back, take the next. */
				struct ip_addr gone;
				if ((r = release_pool(o, rg, name, id, ifname, &gone, err)) < 0)
					return r;
				skip = xrealloc(skip, (n_skip + 1) * sizeof(*skip));
				skip[n_skip++] = ip;
				continue;
			}
		}
		*ret = ip;
		return 0;
	}
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, EBUSY,
			   "whereabouts: IPPool '%s': still conflicting after %d attempts", name,
			   WB_ATTEMPTS_MAX);
}

/* One slice's range and IPPool name; -ERANGE for a slice outside range 0. */
static int slice_pool(struct op *o, const struct ip_net *slice, struct wb_range *ret,
		      char name[WB_NAME_MAX])
{
	int r = wb_range_sub(&o->c.ranges[0], slice, ret);
	if (r == 0 && (r = wb_slice_ippool_name(slice, o->c.network_name, o->node, name)) < 0)
		wb_range_done(ret);
	return r;
}

/* With node slices: the lowest free address of this node's slices, in their order; when they
 * are full, a slice more (docs/ipam.md "Node slices"). */
static int alloc_sliced(struct op *o, struct ip_addr *ret, struct cni_err *err)
{
	size_t have = WB_SLICES_READ;
	/* A round claims nothing when another ADD of this node claimed a slice meanwhile. */
	for (unsigned round = 0; round < WB_ATTEMPTS_MAX; round++) {
		_cleanup_(wb_slices_done) struct wb_slices s = { 0 };
		int r = wb_slices_get(&o->a, &o->c, o->nsp, o->node, have, &s, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < s.n; i++) {
			_cleanup_(wb_range_done) struct wb_range sub = { 0 };
			char name[WB_NAME_MAX];
			if (slice_pool(o, &s.nets[i], &sub, name) < 0)
				return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						   "ipam.network_name: with node '%s' it makes no "
						   "valid IPPool name for a slice",
						   o->node);
			r = alloc_pool(o, &sub, name, ret, err);
			if (r != -ENOSPC)
				return r;
		}
		have = s.n;
	}
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, EBUSY,
			   "whereabouts: NodeSlicePool '%s': no slice with room after %d rounds",
			   o->nsp, WB_ATTEMPTS_MAX);
}

static int alloc_range(struct op *o, size_t k, struct ip_addr *ret, struct cni_err *err)
{
	if (o->c.slice_prefix)
		return alloc_sliced(o, ret, err);
	char name[WB_NAME_MAX];
	(void)wb_pool_name(&o->c.ranges[k], o->c.network_name, name);
	return alloc_pool(o, &o->c.ranges[k], name, ret, err);
}

/* Apply fn to each IPPool range k's allocations may be in: the range's, or with node slices
 * each of this node's slice pools, until fn returns non-zero. */
typedef int (*pool_fn)(struct op *o, const struct wb_range *rg, const char *name, void *data,
		       struct cni_err *err);
static int each_pool(struct op *o, size_t k, pool_fn fn, void *data, struct cni_err *err)
{
	char name[WB_NAME_MAX];
	if (!o->c.slice_prefix) {
		(void)wb_pool_name(&o->c.ranges[k], o->c.network_name, name);
		return fn(o, &o->c.ranges[k], name, data, err);
	}
	_cleanup_(wb_slices_done) struct wb_slices s = { 0 };
	int r = wb_slices_get(&o->a, &o->c, o->nsp, o->node, WB_SLICES_READ, &s, err);
	for (size_t i = 0; r == 0 && i < s.n; i++) {
		_cleanup_(wb_range_done) struct wb_range sub = { 0 };
		if (slice_pool(o, &s.nets[i], &sub, name) == 0)
			r = fn(o, &sub, name, data, err);
	}
	return r;
}

struct rel {
	const char *id, *ifname;
	struct ip_addr *ip;
};

static int rel_one(struct op *o, const struct wb_range *rg, const char *name, void *data,
		   struct cni_err *err)
{
	struct rel *x = data;
	return release_pool(o, rg, name, x->id, x->ifname, x->ip, err);
}

/* Remove the allocation of (id, ifname) from range k (conflicts retried): 1 with *ret_ip the
 * address it held, 0 when it held none, or < 0. */
static int release_range(struct op *o, size_t k, const char *id, const char *ifname,
			 struct ip_addr *ret_ip, struct cni_err *err)
{
	return each_pool(o, k, rel_one, &(struct rel){ id, ifname, ret_ip }, err);
}

/* Release everything (id, ifname) holds: its allocation in each range's pool, then its claims
 * of those addresses and of those the journal names. Absent is success. */
static int release(struct op *o, const char *id, const char *ifname, const struct wb_entry *e,
		   struct cni_err *err)
{
	_cleanup_free_ struct ip_addr *ips = xcalloc(o->c.n_ranges + 1, sizeof(*ips));
	size_t n_ips = 0;
	int first = 0;
	for (size_t k = 0; k < o->c.n_ranges; k++) {
		int r = release_range(o, k, id, ifname, &ips[n_ips], err);
		if (r > 0)
			n_ips++;
		else if (r < 0 && !first)
			first = r;
	}
	if (first < 0)
		return first;
	for (size_t i = 0; o->c.overlapping && i < n_ips + e->n_ips; i++) {
		const struct ip_addr *ip = i < n_ips ? &ips[i] : &e->ips[i - n_ips];
		int r = wb_api_release_ip(&o->a, ip, o->c.network_name, id, ifname, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int wb_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	_cleanup_(op_done) struct op o;
	int r = op_open(ctx, true, &o, err);
	if (r < 0)
		return r;
	load_entry(&o, ctx->container_id, ctx->ifname);
	if ((r = wb_api_open(&o.c, &o.a, err)) < 0)
		return r;
	if (o.c.slice_prefix)
		o.a.slice_node = o.node;
	_cleanup_(cni_result_freep) struct cni_result *res = cni_result_new();
	for (size_t k = 0; k < o.c.n_ranges; k++) {
		struct ip_addr ip;
		r = alloc_range(&o, k, &ip, err);
		if (r < 0) {
			/* Undo the ranges before this one now if the API lets us; else the
			 * journal keeps them for DEL or GC. */
			struct cni_err e2 = { 0 };
			o.a.deadline_ms += 2000;
			if (release(&o, ctx->container_id, ctx->ifname, &o.e, &e2) == 0)
				wb_journal_remove(o.jfd, ctx->container_id, ctx->ifname);
			return r;
		}
		struct cni_ip cip = { .address = { .ip = ip, .prefix = o.c.ranges[k].net.prefix },
				      .interface = -1 };
		if (o.c.gateway.family == ip.family)
			cip.gateway = o.c.gateway;
		cni_result_add_ip(res, &cip);
	}
	for (size_t i = 0; i < o.c.n_routes; i++)
		cni_result_add_route(res, &o.c.routes[i]);
	cni_dns_copy(&res->dns, &o.c.dns);
	log_debug("whereabouts: ADD took %u API writes", o.a.writes);
	*ret = TAKE_PTR(res);
	return 0;
}

/* Release (id, ifname) and drop its journal entry, or keep the entry for a later DEL or GC when
 * the API cannot be reached. */
static int release_or_keep(struct op *o, const char *id, const char *ifname, struct cni_err *err)
{
	struct cni_err e2 = { 0 };
	int r = o->a.cfg ? 0 : wb_api_open(&o->c, &o->a, &e2);
	if (r == 0)
		r = release(o, id, ifname, &o->e, &e2);
	if (r == 0) {
		wb_journal_remove(o->jfd, id, ifname);
		return 0;
	}
	log_warning("whereabouts: release of '%s' '%s' postponed (kept in the node journal for a "
		    "later DEL or GC): %s",
		    id, ifname, e2.msg);
	r = wb_journal_write(o->jfd, &o->e, err);
	return r < 0 ? r : 0;
}

/* DEL (CNI SPEC.md "DEL: Remove container from network"): idempotent; with the API down it
 * succeeds and the journal keeps the attachment for GC. */
static int wb_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(op_done) struct op o;
	int r = op_open(ctx, false, &o, err);
	if (r < 0)
		return r;
	load_entry(&o, ctx->container_id, ctx->ifname);
	return release_or_keep(&o, ctx->container_id, ctx->ifname, err);
}

/* 1 when the pool holds the attachment's allocation, 0 when not (or absent). */
static int check_one(struct op *o, const struct wb_range *rg, const char *name, void *data,
		     struct cni_err *err)
{
	(void)data;
	_cleanup_(wb_pool_done) struct wb_pool p = { 0 };
	int r = wb_api_get_pool(&o->a, rg, name, false, &p, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	return wb_pool_find(&p, o->ctx->container_id, NULL, o->ctx->ifname) >= 0;
}

static int wb_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(op_done) struct op o;
	int r = op_open(ctx, false, &o, err);
	if (r < 0 || (r = wb_api_open(&o.c, &o.a, err)) < 0)
		return r;
	for (size_t k = 0; k < o.c.n_ranges; k++) {
		char name[WB_NAME_MAX], what[WB_NAME_MAX + 48] = "";
		if (o.c.slice_prefix)
			(void)snprintf(what, sizeof(what), "the slice IPPools of node '%s'",
				       o.node);
		else if (wb_pool_name(&o.c.ranges[k], o.c.network_name, name) == 0)
			(void)snprintf(what, sizeof(what), "IPPool '%s'", name);
		r = each_pool(&o, k, check_one, NULL, err);
		if (r < 0)
			return r;
		if (r == 0)
			return cni_err_set(err, CNI_ERR_IPAM, ENOENT,
					   "whereabouts: no address of container %s in %s",
					   ctx->container_id, what);
	}
	return 0;
}

static bool valid(const struct cni_ctx *ctx, const struct wb_entry *e)
{
	for (size_t i = 0; i < ctx->n_valid_attachments; i++)
		if (!strcmp(ctx->valid_attachments[i].container_id, e->container_id) &&
		    !strcmp(ctx->valid_attachments[i].ifname, e->ifname))
			return true;
	return false;
}

/* GC (CNI SPEC.md "GC: Clean up any stale resources"): release this node's journal entries of
 * this network whose attachment is not in cni.dev/valid-attachments. Other nodes' allocations
 * are never in this node's journal. */
static int wb_gc(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(op_done) struct op o;
	int r = op_open(ctx, false, &o, err);
	if (r < 0)
		return r;
	struct wb_entry *v = NULL;
	size_t n = 0;
	if ((r = wb_journal_list(o.jfd, ctx->name ? ctx->name : "", &v, &n)) < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "whereabouts journal: %s", strerror(-r));
	for (size_t i = 0; i < n; i++) {
		if (!valid(ctx, &v[i])) {
			wb_entry_done(&o.e);
			o.e = v[i];
			memset(&v[i], 0, sizeof(v[i]));
			/* An allocation's owner is its journal's; so is the podref. */
			(void)snprintf(o.podref, sizeof(o.podref), "%s", o.e.podref);
			(void)release_or_keep(&o, o.e.container_id, o.e.ifname, err);
		}
		wb_entry_done(&v[i]);
	}
	free(v);
	wb_journal_sweep(o.jfd, ctx->valid_attachments, ctx->n_valid_attachments);
	return 0;
}

static int wb_validate(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(wb_conf_done) struct wb_conf c = { 0 };
	char podref[512];
	int r = wb_conf_parse(ctx, NULL, &c, err);
	return r < 0 ? r : pod_ref(ctx, podref, sizeof(podref), true, err);
}

static const char *const whereabouts_aliases[] = { "plexus-whereabouts", NULL };

const struct cni_plugin whereabouts_plugin = {
	.name = "whereabouts",
	.aliases = whereabouts_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = wb_add,
	.del = wb_del,
	.check = wb_check,
	.gc = wb_gc,
	.validate = wb_validate,
};
