// SPDX-License-Identifier: Apache-2.0
/* whereabouts range math: offsets, bounds, excludes, first free address, object names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/internal.h"
#include "lib/util/cleanup.h"
#include "whereabouts/whereabouts.h"

typedef unsigned __int128 u128;

static u128 ip_u128(const struct ip_addr *ip)
{
	u128 v = 0;
	for (size_t i = 0; i < ip_family_len(ip->family); i++)
		v = (v << 8) | ip->raw[i];
	return v;
}

static void u128_ip(int family, u128 v, struct ip_addr *ret)
{
	*ret = (struct ip_addr){ .family = family };
	for (size_t i = ip_family_len(family); i-- > 0; v >>= 8)
		ret->raw[i] = (uint8_t)v;
}

static u128 family_max(int family)
{
	return family == AF_INET ? (u128)UINT32_MAX : ~(u128)0;
}

int wb_ip_offset(const struct ip_addr *base, const struct ip_addr *ip, uint64_t *ret)
{
	if (base->family != ip->family)
		return -ERANGE;
	u128 b = ip_u128(base), v = ip_u128(ip);
	if (v < b || v - b > (u128)INT64_MAX)
		return -ERANGE;
	*ret = (uint64_t)(v - b);
	return 0;
}

int wb_ip_add(const struct ip_addr *base, uint64_t off, struct ip_addr *ret)
{
	u128 b = ip_u128(base);
	if (family_max(base->family) - b < off)
		return -ERANGE;
	u128_ip(base->family, b + off, ret);
	return 0;
}

/* First and last address of n (network and broadcast). */
static void net_bounds(const struct ip_net *n, u128 *lo, u128 *hi)
{
	unsigned bits = (unsigned)ip_family_len(n->ip.family) * 8;
	u128 host = n->prefix >= bits ? 0 : (~(u128)0) >> (128 - (bits - n->prefix));
	*lo = ip_u128(&n->ip) & ~host;
	*hi = *lo | host;
}

static bool net_contains(const struct ip_net *n, const struct ip_addr *ip)
{
	if (n->ip.family != ip->family)
		return false;
	u128 lo, hi, v = ip_u128(ip);
	net_bounds(n, &lo, &hi);
	return v >= lo && v <= hi;
}

void wb_range_done(struct wb_range *r)
{
	free(r->exclude);
	memset(r, 0, sizeof(*r));
}

void wb_range_cidr(const struct wb_range *r, char buf[IPNET_STR_LEN])
{
	format_ipnet(&r->net, buf);
}

void wb_range_str(const struct wb_range *r, char *buf, size_t len)
{
	char a[IP_STR_LEN], b[IP_STR_LEN], c[IPNET_STR_LEN];
	format_ip(&r->first, a);
	format_ip(&r->last, b);
	wb_range_cidr(r, c);
	(void)snprintf(buf, len, "%s (%s-%s)", c, a, b);
}

static int get_ip(const cJSON *obj, const char *key, const char *path, struct ip_addr *ret,
		  struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(obj, key, path, &s, NULL, err);
	if (r < 0 || !s)
		return r;
	if (parse_ip(s, ret) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s.%s: invalid IP '%s'",
				   path, key, s);
	return 0;
}

/* exclude: CIDRs or single addresses of the range's family. */
static int parse_excludes(const cJSON *obj, const char *path, struct wb_range *r,
			  struct cni_err *err)
{
	const cJSON *arr = NULL;
	int rc = json_get_array(obj, "exclude", path, &arr, err);
	if (rc < 0 || !arr)
		return rc;
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	r->exclude = xcalloc(n ? n : 1, sizeof(*r->exclude));
	const cJSON *e;
	cJSON_ArrayForEach (e, arr) {
		bool had = false;
		struct ip_net x;
		const char *s = cJSON_GetStringValue(e);
		if (!s || parse_ip_or_ipnet(s, &x, &had) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s.exclude[%zu]: not a CIDR or an IP address", path, i);
		if (x.ip.family != r->net.ip.family)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s.exclude[%zu]: '%s' is not of the range's family",
					   path, i, s);
		if (!had)
			x.prefix = (uint8_t)(ip_family_len(x.ip.family) * 8);
		ip_net_mask(&x);
		r->exclude[i++] = x;
	}
	r->n_exclude = i;
	return 0;
}

int wb_range_parse(const cJSON *obj, const char *path, struct wb_range *ret, struct cni_err *err)
{
	_cleanup_(wb_range_done) struct wb_range r = { 0 };
	const char *s = NULL;
	char field[128];
	(void)snprintf(field, sizeof(field), "%s.range", path);
	int rc = json_get_string(obj, "range", path, &s, NULL, err);
	if (rc < 0)
		return rc;
	if (!s || !*s)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: missing", field);
	/* "start-end/prefix" (whereabouts' start-end form) or a CIDR. */
	struct ip_addr start = { 0 }, end = { 0 };
	const char *cidr = s, *dash = strchr(s, '-');
	char head[IP_STR_LEN];
	if (dash) {
		size_t hl = (size_t)(dash - s);
		if (hl >= sizeof(head))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: invalid range start in '%s'", field, s);
		memcpy(head, s, hl);
		head[hl] = '\0';
		if (parse_ip(head, &start) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: invalid range start '%s'", field, head);
		cidr = dash + 1;
	}
	struct ip_net n;
	if (parse_ipnet(cidr, &n) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: invalid CIDR '%s'",
				   field, cidr);
	if (dash)
		end = n.ip;
	r.net = n;
	ip_net_mask(&r.net);
	if (dash && !net_contains(&r.net, &start))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: range start %s is not in %s", field, head, cidr);
	/* range_start / range_end apply when the start-end form did not set them. */
	struct ip_addr ks = { 0 }, ke = { 0 };
	if ((rc = get_ip(obj, "range_start", path, &ks, err)) < 0 ||
	    (rc = get_ip(obj, "range_end", path, &ke, err)) < 0)
		return rc;
	if (!start.family)
		start = ks;
	if (!end.family)
		end = ke;
	static const char *const keys[] = { "range_start", "range_end" };
	const struct ip_addr *bound[] = { &start, &end };
	for (size_t i = 0; i < 2; i++)
		if (bound[i]->family && !net_contains(&r.net, bound[i]))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s.%s: not in %s",
					   path, keys[i], cidr);
	/* Usable addresses as whereabouts counts them: without the network and broadcast
	 * addresses, except in a /31, /32, /127 or /128 that has no others. */
	u128 lo, hi;
	net_bounds(&r.net, &lo, &hi);
	unsigned bits = (unsigned)ip_family_len(n.ip.family) * 8;
	if (r.net.prefix + 1u < bits) {
		lo++;
		hi--;
	}
	/* A bound outside the usable addresses is ignored, as whereabouts does. */
	if (start.family && ip_u128(&start) >= lo && ip_u128(&start) <= hi)
		lo = ip_u128(&start);
	if (end.family && ip_u128(&end) >= lo && ip_u128(&end) <= hi)
		hi = ip_u128(&end);
	else if (end.family && ip_u128(&end) < lo)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: range end is before range start", field);
	u128_ip(n.ip.family, lo, &r.first);
	u128_ip(n.ip.family, hi, &r.last);
	if ((rc = parse_excludes(obj, path, &r, err)) < 0)
		return rc;
	*ret = r;
	memset(&r, 0, sizeof(r));
	return 0;
}

/* Offsets of p are sorted: binary search. */
bool wb_pool_taken(const struct wb_pool *p, uint64_t offset)
{
	size_t lo = 0, hi = p ? p->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->allocs[mid].offset == offset)
			return true;
		if (p->allocs[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int wb_range_first_free(const struct wb_range *r, const struct wb_pool *p,
			const struct ip_addr *skip, size_t n_skip, struct ip_addr *ret)
{
	u128 base = ip_u128(&r->net.ip), cand = ip_u128(&r->first), last = ip_u128(&r->last);
	/* Every step passes one allocation, one skipped address or one exclude: at most
	 * p->n + n_skip + n_exclude + 1 steps, whatever the size of the range. */
	while (cand <= last) {
		bool moved = false;
		for (size_t i = 0; i < r->n_exclude && !moved; i++) {
			u128 lo, hi;
			net_bounds(&r->exclude[i], &lo, &hi);
			if (cand >= lo && cand <= hi) {
				if (hi >= last)
					return 0;
				cand = hi + 1;
				moved = true;
			}
		}
		if (moved)
			continue;
		u128 off = cand - base;
		bool taken = off <= (u128)INT64_MAX && wb_pool_taken(p, (uint64_t)off);
		for (size_t i = 0; i < n_skip && !taken; i++)
			taken = skip[i].family == r->net.ip.family && ip_u128(&skip[i]) == cand;
		if (!taken) {
			if (off > (u128)INT64_MAX)
				return 0; /* beyond what an allocation key can hold */
			u128_ip(r->net.ip.family, cand, ret);
			return 1;
		}
		if (cand == last)
			break;
		cand++;
	}
	return 0;
}

/* ':' -> '-' (and a trailing ':' gets a '0', as whereabouts does), '/' -> '-'. */
static int normalise(const char *prefix, const char *s, char buf[WB_NAME_MAX])
{
	size_t len = strlen(s);
	int n = snprintf(buf, WB_NAME_MAX, "%s%s%s%s", prefix ? prefix : "", prefix ? "-" : "", s,
			 len && s[len - 1] == ':' ? "0" : "");
	if (n < 0 || n >= WB_NAME_MAX)
		return -EINVAL;
	for (char *c = buf; *c; c++)
		if (*c == ':' || *c == '/')
			*c = '-';
	return kube_dns1123_subdomain(buf) ? 0 : -EINVAL;
}

int wb_pool_name(const struct wb_range *r, const char *network_name, char buf[WB_NAME_MAX])
{
	char cidr[IPNET_STR_LEN];
	wb_range_cidr(r, cidr);
	return normalise(network_name && *network_name ? network_name : NULL, cidr, buf);
}

int wb_orip_name(const struct ip_addr *ip, const char *network_name, char buf[WB_NAME_MAX])
{
	char s[IP_STR_LEN];
	format_ip(ip, s);
	return normalise(network_name && *network_name ? network_name : NULL, s, buf);
}

uint64_t wb_range_n_slices(const struct wb_range *r, unsigned slice_prefix)
{
	unsigned d = slice_prefix - r->net.prefix;
	return d >= 63 ? UINT64_MAX : (uint64_t)1 << d;
}

int wb_range_slice(const struct wb_range *r, unsigned slice_prefix, uint64_t i, struct ip_net *ret)
{
	unsigned bits = (unsigned)ip_family_len(r->net.ip.family) * 8;
	if (slice_prefix <= r->net.prefix || slice_prefix > bits ||
	    i >= wb_range_n_slices(r, slice_prefix))
		return -ERANGE;
	u128 lo, hi;
	net_bounds(&r->net, &lo, &hi);
	u128_ip(r->net.ip.family, lo + ((u128)i << (bits - slice_prefix)), &ret->ip);
	ret->prefix = (uint8_t)slice_prefix;
	return 0;
}

int wb_range_sub(const struct wb_range *r, const struct ip_net *slice, struct wb_range *ret)
{
	u128 lo, hi, rlo = ip_u128(&r->first), rhi = ip_u128(&r->last);
	net_bounds(slice, &lo, &hi);
	if (slice->ip.family != r->net.ip.family || slice->prefix <= r->net.prefix ||
	    !net_contains(&r->net, &slice->ip) || lo != ip_u128(&slice->ip))
		return -ERANGE;
	/* A slice's IPPool hands out what whereabouts' would: not the slice's own network and
	 * broadcast addresses, and only what the whole range allows. */
	unsigned bits = (unsigned)ip_family_len(slice->ip.family) * 8;
	if (slice->prefix + 1u < bits) {
		lo++;
		hi--;
	}
	*ret = (struct wb_range){ .net = *slice };
	u128_ip(slice->ip.family, lo > rlo ? lo : rlo, &ret->first);
	u128_ip(slice->ip.family, hi < rhi ? hi : rhi, &ret->last);
	if (r->n_exclude) {
		ret->exclude = xcalloc(r->n_exclude, sizeof(*ret->exclude));
		memcpy(ret->exclude, r->exclude, r->n_exclude * sizeof(*ret->exclude));
		ret->n_exclude = r->n_exclude;
	}
	return 0;
}
