// SPDX-License-Identifier: Apache-2.0
/* host-local IPAM in-process: the reference allocator order over the reference on-disk store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlocal/internal.h"
#include "lib/util/cleanup.h"

/* The reference RangeIter: from last_reserved_ip + 1 (or rangeStart), through the ranges of
 * the set in order, wrapping, skipping each range's gateway, until back at the first. */
struct hl_iter {
	const struct hl_rangeset *set;
	size_t idx;
	struct ip_addr cur, start; /* family 0 = not yet */
};

static bool iter_next(struct hl_iter *it, struct ip_addr *ret, size_t *ret_range)
{
	for (;;) {
		const struct hl_range *r = &it->set->ranges[it->idx];
		if (!it->cur.family) {
			it->cur = it->start = r->start;
		} else {
			if (ip_addr_equal(&it->cur, &r->end)) {
				it->idx = (it->idx + 1) % it->set->n;
				r = &it->set->ranges[it->idx];
				it->cur = r->start;
			} else {
				hl_ip_next(&it->cur);
			}
			if (!it->start.family)
				it->start = it->cur;
			else if (ip_addr_equal(&it->cur, &it->start))
				return false;
		}
		if (ip_addr_equal(&it->cur, &r->gateway))
			continue;
		*ret = it->cur;
		*ret_range = it->idx;
		return true;
	}
}

static void iter_init(const struct hl_store *st, const struct hl_rangeset *set, size_t set_idx,
		      struct hl_iter *it)
{
	struct ip_addr last;
	*it = (struct hl_iter){ .set = set };
	/* A stale or foreign last IP only costs the round-robin position once. */
	hl_store_last_ip(st, set_idx, &last);
	if (!last.family)
		return;
	int i = hl_rangeset_find(set, &last);
	if (i < 0)
		return;
	it->idx = (size_t)i;
	it->cur = last;
}

/* Allocator.Get of the reference for one range set. */
static int alloc_get(struct hl_store *st, const struct hl_rangeset *set, size_t set_idx,
		     const char *id, const char *ifname, const struct ip_addr *req,
		     struct cni_ip *ret, struct cni_err *err)
{
	char setstr[1024], ipstr[IP_STR_LEN];
	hl_rangeset_str(set, setstr, sizeof(setstr));
	struct ip_addr ip;
	size_t ri;
	int r;
	if (req) {
		format_ip(req, ipstr);
		int i = hl_rangeset_find(set, req);
		if (i < 0)
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL, "%s not in range set %s",
					   ipstr, setstr);
		ri = (size_t)i;
		if (ip_addr_equal(req, &set->ranges[ri].gateway))
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
					   "requested ip %s is subnet's gateway", ipstr);
		r = hl_store_reserve(st, req, id, ifname, set_idx);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_IO, -r, "reserve %s: %s", ipstr,
					   strerror(-r));
		if (r == 0)
			return cni_err_set(err, CNI_ERR_IPAM, EEXIST,
					   "requested IP address %s is not available in range "
					   "set %s",
					   ipstr, setstr);
		ip = *req;
	} else {
		/* SPEC: a second ADD of one attachment is not a new allocation. */
		_cleanup_free_ struct ip_addr *held = NULL;
		size_t n = hl_store_get_by_id(st, id, ifname, &held);
		for (size_t i = 0; i < n; i++)
			if (hl_rangeset_find(set, &held[i]) >= 0) {
				format_ip(&held[i], ipstr);
				return cni_err_set(err, CNI_ERR_IPAM, EEXIST,
						   "%s has been allocated to %s, duplicate "
						   "allocation is not allowed",
						   ipstr, id);
			}
		struct hl_iter it;
		iter_init(st, set, set_idx, &it);
		for (;;) {
			if (!iter_next(&it, &ip, &ri))
				return cni_err_set(err, CNI_ERR_IPAM, ENOSPC,
						   "no IP addresses available in range set: %s",
						   setstr);
			r = hl_store_reserve(st, &ip, id, ifname, set_idx);
			if (r < 0) {
				format_ip(&ip, ipstr);
				return cni_err_set(err, CNI_ERR_IO, -r, "reserve %s: %s", ipstr,
						   strerror(-r));
			}
			if (r == 1)
				break;
		}
	}
	*ret = (struct cni_ip){ .address = { .ip = ip, .prefix = set->ranges[ri].subnet.prefix },
				.gateway = set->ranges[ri].gateway,
				.interface = -1 };
	return 0;
}

/* Everything ADD checks before it touches the store: the conf, and resolvConf readable. */
static int hl_validate(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	int r = hl_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	_cleanup_(cni_result_freep) struct cni_result *res = cni_result_new();
	return c.resolv_conf ? hl_resolv_parse(c.resolv_conf, &res->dns, err) : 0;
}

static int hl_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	int r = hl_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	_cleanup_(cni_result_freep) struct cni_result *res = cni_result_new();
	if (c.resolv_conf && (r = hl_resolv_parse(c.resolv_conf, &res->dns, err)) < 0)
		return r;
	_cleanup_(hl_store_close) struct hl_store st = HL_STORE_INIT;
	if ((r = hl_store_open(&c, true, &st, err)) < 0)
		return r;
	_cleanup_free_ bool *used = xcalloc(c.n_requested + 1, sizeof(bool));
	for (size_t s = 0; s < c.n_sets; s++) {
		/* First still-unused requested address inside this set (the reference picks
		 * one in map order; ours is deterministic: CNI_ARGS, args, runtimeConfig). */
		const struct ip_addr *req = NULL;
		for (size_t i = 0; i < c.n_requested && !req; i++)
			if (!used[i] && hl_rangeset_find(&c.sets[s], &c.requested[i]) >= 0)
				req = &c.requested[i];
		for (size_t i = 0; req && i < c.n_requested; i++)
			if (ip_addr_equal(&c.requested[i], req))
				used[i] = true;
		struct cni_ip ip;
		r = alloc_get(&st, &c.sets[s], s, ctx->container_id, ctx->ifname, req, &ip, err);
		if (r < 0) {
			if (s > 0)
				hl_store_release(&st, ctx->container_id, ctx->ifname);
			return cni_err_wrap(err, "failed to allocate for range %zu", s);
		}
		cni_result_add_ip(res, &ip);
	}
	char left[1024] = "";
	size_t off = 0;
	for (size_t i = 0; i < c.n_requested; i++) {
		if (used[i])
			continue;
		char s[IP_STR_LEN];
		format_ip(&c.requested[i], s);
		off += (size_t)snprintf(left + off, sizeof(left) > off ? sizeof(left) - off : 0,
					" %s", s);
		for (size_t j = i; j < c.n_requested; j++)
			if (ip_addr_equal(&c.requested[j], &c.requested[i]))
				used[j] = true;
		if (off >= sizeof(left))
			break;
	}
	if (left[0]) {
		hl_store_release(&st, ctx->container_id, ctx->ifname);
		return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
				   "failed to allocate all requested IPs:%s", left);
	}
	for (size_t i = 0; i < c.n_routes; i++)
		cni_result_add_route(res, &c.routes[i]);
	*ret = TAKE_PTR(res);
	return 0;
}

/* The conf of ctx and its store, opened (and swept with sweep) for DEL, CHECK or GC. */
static int open_store(const struct cni_ctx *ctx, bool sweep, struct hl_conf *c, struct hl_store *st,
		      struct cni_err *err)
{
	int r = hl_conf_parse(ctx, c, err);
	return r < 0 ? r : hl_store_open(c, sweep, st, err);
}

static int hl_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	_cleanup_(hl_store_close) struct hl_store st = HL_STORE_INIT;
	int r = open_store(ctx, true, &c, &st, err);
	if (r < 0)
		return r;
	hl_store_release(&st, ctx->container_id, ctx->ifname);
	return 0;
}

/* CHECK: some address of this attachment is reserved, whatever it is (as the reference). */
static int hl_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	_cleanup_(hl_store_close) struct hl_store st = HL_STORE_INIT;
	int r = open_store(ctx, false, &c, &st, err);
	if (r < 0)
		return r;
	if (!hl_store_find(&st, ctx->container_id, ctx->ifname))
		return cni_err_set(err, CNI_ERR_IPAM, ENOENT,
				   "host-local: Failed to find address added by container %s",
				   ctx->container_id);
	return 0;
}

/* GC (CNI SPEC.md "GC: Clean up any stale resources"): release every lease whose owner is not
 * in cni.dev/valid-attachments, after the sweep of crashed writers' files. */
static int hl_gc(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	_cleanup_(hl_store_close) struct hl_store st = HL_STORE_INIT;
	int r = open_store(ctx, true, &c, &st, err);
	if (r < 0)
		return r;
	hl_store_gc(&st, ctx->valid_attachments, ctx->n_valid_attachments);
	return 0;
}

static const char *const hostlocal_aliases[] = { "plexus-host-local", "plexus-hostlocal", NULL };

const struct cni_plugin hostlocal_plugin = {
	.name = "host-local",
	.aliases = hostlocal_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = hl_add,
	.del = hl_del,
	.check = hl_check,
	.gc = hl_gc,
	.validate = hl_validate,
};
