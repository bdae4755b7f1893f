// SPDX-License-Identifier: Apache-2.0
/* The CNI result: internal 1.1.0 model, decoding from and encoding to every spec version. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/cni/result.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"

#define PATH_MAX_LEN 64

/* "base.key" (or "key" at the top level) for error messages; a long path is just cut. */
static const char *path_join(char buf[PATH_MAX_LEN], const char *base, const char *key)
{
	int n = snprintf(buf, PATH_MAX_LEN, "%s%s%s", base, *base ? "." : "", key);
	if (n < 0)
		buf[0] = '\0';
	return buf;
}

static char *strdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static bool str_empty(const char *s)
{
	return !s || !*s;
}

/* ---- lifetime -------------------------------------------------------------------------- */

struct cni_result *cni_result_new(void)
{
	return xcalloc(1, sizeof(struct cni_result));
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **strv_dup(char *const *v, size_t n)
{
	if (n == 0)
		return NULL;
	char **c = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

void cni_dns_done(struct cni_dns *d)
{
	if (!d)
		return;
	strv_free(d->nameservers, d->n_nameservers);
	free(d->domain);
	strv_free(d->search, d->n_search);
	strv_free(d->options, d->n_options);
	memset(d, 0, sizeof(*d));
}

static void iface_done(struct cni_iface *i)
{
	free(i->name);
	free(i->mac);
	free(i->sandbox);
	free(i->socket_path);
	free(i->pci_id);
}

void cni_result_free(struct cni_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_interfaces; i++)
		iface_done(&r->interfaces[i]);
	free(r->interfaces);
	free(r->ips);
	free(r->routes);
	cni_dns_done(&r->dns);
	free(r);
}

#define _cleanup_result_ _cleanup_(cni_result_freep)

/* ---- building ------------------------------------------------------------------------- */

size_t cni_result_add_iface(struct cni_result *r, const char *name, const char *mac,
			    const char *sandbox)
{
	r->interfaces = xrealloc(r->interfaces, (r->n_interfaces + 1) * sizeof(*r->interfaces));
	r->interfaces[r->n_interfaces] = (struct cni_iface){
		.name = xstrdup(name ? name : ""),
		.mac = strdup_or_null(mac),
		.sandbox = strdup_or_null(sandbox),
	};
	return r->n_interfaces++;
}

void cni_result_add_ip(struct cni_result *r, const struct cni_ip *ip)
{
	r->ips = xrealloc(r->ips, (r->n_ips + 1) * sizeof(*r->ips));
	r->ips[r->n_ips++] = *ip;
}

void cni_result_add_route(struct cni_result *r, const struct cni_route *route)
{
	r->routes = xrealloc(r->routes, (r->n_routes + 1) * sizeof(*r->routes));
	r->routes[r->n_routes++] = *route;
}

void cni_dns_copy(struct cni_dns *dst, const struct cni_dns *src)
{
	/* Copy first: dst and src may be the same object. */
	struct cni_dns c = {
		.nameservers = strv_dup(src->nameservers, src->n_nameservers),
		.n_nameservers = src->n_nameservers,
		.domain = strdup_or_null(src->domain),
		.search = strv_dup(src->search, src->n_search),
		.n_search = src->n_search,
		.options = strv_dup(src->options, src->n_options),
		.n_options = src->n_options,
	};
	cni_dns_done(dst);
	*dst = c;
}

bool cni_dns_is_empty(const struct cni_dns *d)
{
	return d->n_nameservers == 0 && str_empty(d->domain) && d->n_search == 0 &&
	       d->n_options == 0;
}

struct cni_result *cni_result_dup(const struct cni_result *r)
{
	struct cni_result *c = cni_result_new();
	for (size_t i = 0; i < r->n_interfaces; i++) {
		const struct cni_iface *s = &r->interfaces[i];
		size_t k = cni_result_add_iface(c, s->name, s->mac, s->sandbox);
		c->interfaces[k].mtu = s->mtu;
		c->interfaces[k].socket_path = strdup_or_null(s->socket_path);
		c->interfaces[k].pci_id = strdup_or_null(s->pci_id);
	}
	for (size_t i = 0; i < r->n_ips; i++)
		cni_result_add_ip(c, &r->ips[i]);
	for (size_t i = 0; i < r->n_routes; i++)
		cni_result_add_route(c, &r->routes[i]);
	cni_dns_copy(&c->dns, &r->dns);
	return c;
}

/* ---- decoding ------------------------------------------------------------------------- */

/* The json getters report type errors as code 7 (config); in a result they are code 6. */
static int as_decode(int r, struct cni_err *err)
{
	if (r < 0 && err)
		err->code = CNI_ERR_DECODE;
	return r;
}

static int get_str(const cJSON *obj, const char *key, const char *path, const char **ret,
		   struct cni_err *err)
{
	char p[PATH_MAX_LEN];
	path_join(p, path, key);
	return as_decode(json_get_string(obj, key, p, ret, NULL, err), err);
}

static int get_u32(const cJSON *obj, const char *key, const char *path, uint32_t max, uint32_t *ret,
		   bool *ret_present, struct cni_err *err)
{
	char p[PATH_MAX_LEN];
	path_join(p, path, key);
	int64_t v = 0;
	bool present = false;
	int r = as_decode(json_get_int(obj, key, p, 0, max, &v, &present, err), err);
	if (r < 0)
		return r;
	if (present)
		*ret = (uint32_t)v;
	*ret_present = present;
	return 0;
}

static int decode_cidr(const cJSON *obj, const char *key, const char *path, bool required,
		       struct ip_net *ret, struct cni_err *err)
{
	const char *s = NULL;
	int r = get_str(obj, key, path, &s, err);
	if (r < 0)
		return r;
	if (!s) {
		if (required)
			return cni_err_set(err, CNI_ERR_DECODE, 0, "%s.%s: missing", path, key);
		return 0;
	}
	if (parse_ipnet(s, ret) < 0)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s.%s: invalid CIDR '%s'", path, key,
				   s);
	return 0;
}

/* Absent or "" is "no address" (Go marshals a nil net.IP as omitted). */
static int decode_ip(const cJSON *obj, const char *key, const char *path, struct ip_addr *ret,
		     struct cni_err *err)
{
	const char *s = NULL;
	int r = get_str(obj, key, path, &s, err);
	if (r < 0)
		return r;
	if (str_empty(s))
		return 0;
	if (parse_ip(s, ret) < 0)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s.%s: invalid IP address '%s'", path,
				   key, s);
	return 0;
}

static int get_array(const cJSON *obj, const char *key, const char *path, const cJSON **ret,
		     struct cni_err *err)
{
	char p[PATH_MAX_LEN];
	path_join(p, path, key);
	return as_decode(json_get_array(obj, key, p, ret, err), err);
}

static int require_object(const cJSON *v, const char *path, struct cni_err *err)
{
	if (!cJSON_IsObject(v))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: must be an object", path);
	return 0;
}

static int decode_strv(const cJSON *obj, const char *key, const char *path, int code, char ***ret,
		       size_t *ret_n, struct cni_err *err)
{
	const cJSON *arr = NULL;
	int r = json_get_array(obj, key, path, &arr, err);
	if (r < 0) {
		err->code = code;
		return r;
	}
	int n = cJSON_GetArraySize(arr);
	if (n <= 0)
		return 0;
	char **v = xcalloc((size_t)n, sizeof(char *));
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach (e, arr) {
		if (!cJSON_IsString(e)) {
			strv_free(v, i);
			return cni_err_set(err, code, 0, "%s[%zu]: must be a string", path, i);
		}
		v[i++] = xstrdup(e->valuestring);
	}
	*ret = v;
	*ret_n = i;
	return 0;
}

static int dns_decode(const cJSON *json, const char *field, int code, struct cni_dns *ret,
		      struct cni_err *err)
{
	struct cni_dns d = { 0 };
	if (!json || cJSON_IsNull(json)) {
		*ret = d;
		return 0;
	}
	if (!cJSON_IsObject(json))
		return cni_err_set(err, code, 0, "%s: must be an object", field);
	char p[PATH_MAX_LEN];
	path_join(p, field, "nameservers");
	int r = decode_strv(json, "nameservers", p, code, &d.nameservers, &d.n_nameservers, err);
	if (r < 0)
		goto fail;
	path_join(p, field, "search");
	r = decode_strv(json, "search", p, code, &d.search, &d.n_search, err);
	if (r < 0)
		goto fail;
	path_join(p, field, "options");
	r = decode_strv(json, "options", p, code, &d.options, &d.n_options, err);
	if (r < 0)
		goto fail;
	const char *domain = NULL;
	path_join(p, field, "domain");
	r = json_get_string(json, "domain", p, &domain, NULL, err);
	if (r < 0) {
		err->code = code;
		goto fail;
	}
	if (!str_empty(domain))
		d.domain = xstrdup(domain);
	*ret = d;
	return 0;
fail:
	cni_dns_done(&d);
	return r;
}

/* In a netconf, a malformed "dns" is an invalid config (code 7); results use code 6. */
int cni_dns_decode(const cJSON *json, const char *field, struct cni_dns *ret, struct cni_err *err)
{
	struct cni_err tmp = { 0 };
	return dns_decode(json, field, CNI_ERR_INVALID_CONFIG, ret, err ? err : &tmp);
}

/* Route fields; the 1.1.0 extras are accepted from any version (Go shares types.Route). */
static int decode_route(const cJSON *j, const char *path, struct cni_route *ret,
			struct cni_err *err)
{
	struct cni_route rt = { 0 };
	int r = require_object(j, path, err);
	if (r < 0)
		return r;
	r = decode_cidr(j, "dst", path, true, &rt.dst, err);
	if (r < 0)
		return r;
	r = decode_ip(j, "gw", path, &rt.gw, err);
	if (r < 0)
		return r;
	const struct {
		const char *key;
		unsigned flag;
		uint32_t *field;
	} nums[] = {
		{ "mtu", CNI_ROUTE_HAS_MTU, &rt.mtu },
		{ "advmss", CNI_ROUTE_HAS_ADVMSS, &rt.advmss },
		{ "priority", CNI_ROUTE_HAS_PRIORITY, &rt.priority },
		{ "table", CNI_ROUTE_HAS_TABLE, &rt.table },
	};
	for (size_t i = 0; i < ARRAY_SIZE(nums); i++) {
		bool present = false;
		r = get_u32(j, nums[i].key, path, UINT32_MAX, nums[i].field, &present, err);
		if (r < 0)
			return r;
		if (present)
			rt.has |= nums[i].flag;
	}
	bool present = false;
	uint32_t scope = 0;
	r = get_u32(j, "scope", path, UINT8_MAX, &scope, &present, err);
	if (r < 0)
		return r;
	if (present) {
		rt.scope = (uint8_t)scope;
		rt.has |= CNI_ROUTE_HAS_SCOPE;
	}
	*ret = rt;
	return 0;
}

static int decode_routes(const cJSON *obj, const char *path, struct cni_result *res,
			 struct cni_err *err)
{
	const cJSON *arr = NULL;
	int r = get_array(obj, "routes", path, &arr, err);
	if (r < 0)
		return r;
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach (e, arr) {
		char p[PATH_MAX_LEN], idx[32];
		(void)snprintf(idx, sizeof(idx), "routes[%zu]", i++);
		path_join(p, path, idx);
		struct cni_route rt;
		r = decode_route(e, p, &rt, err);
		if (r < 0)
			return r;
		cni_result_add_route(res, &rt);
	}
	return 0;
}

int cni_routes_decode(const cJSON *obj, const char *path, struct cni_route **ret, size_t *ret_n,
		      struct cni_err *err)
{
	const cJSON *routes = cJSON_GetObjectItemCaseSensitive(obj, "routes");
	if (routes && !cJSON_IsNull(routes) && !cJSON_IsArray(routes))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s.routes: must be a list",
				   path);
	struct cni_result *tmp = cni_result_new();
	int r = decode_routes(obj, path, tmp, err);
	if (r < 0) {
		cni_result_free(tmp);
		if (err)
			err->code = CNI_ERR_INVALID_CONFIG;
		return r;
	}
	*ret = TAKE_PTR(tmp->routes);
	*ret_n = tmp->n_routes;
	tmp->n_routes = 0;
	cni_result_free(tmp);
	return 0;
}

/* 0.1.0/0.2.0 "ip4"/"ip6": {"ip": CIDR, "gateway": IP, "routes": [...]}. */
static int decode_ipconfig_020(const cJSON *obj, const char *key, int family,
			       struct cni_result *res, struct cni_err *err)
{
	const cJSON *j = json_get(obj, key);
	if (!j || cJSON_IsNull(j))
		return 0;
	int r = require_object(j, key, err);
	if (r < 0)
		return r;
	struct cni_ip ip = { .interface = -1 };
	r = decode_cidr(j, "ip", key, true, &ip.address, err);
	if (r < 0)
		return r;
	if (ip.address.ip.family != family)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s.ip: not an IPv%c address", key,
				   family == AF_INET ? '4' : '6');
	r = decode_ip(j, "gateway", key, &ip.gateway, err);
	if (r < 0)
		return r;
	cni_result_add_ip(res, &ip);
	return decode_routes(j, key, res, err);
}

static int decode_iface(const cJSON *j, const char *path, struct cni_result *res,
			struct cni_err *err)
{
	int r = require_object(j, path, err);
	if (r < 0)
		return r;
	const char *name = NULL, *mac = NULL, *sandbox = NULL, *sock = NULL, *pci = NULL;
	if ((r = get_str(j, "name", path, &name, err)) < 0 ||
	    (r = get_str(j, "mac", path, &mac, err)) < 0 ||
	    (r = get_str(j, "sandbox", path, &sandbox, err)) < 0 ||
	    (r = get_str(j, "socketPath", path, &sock, err)) < 0 ||
	    (r = get_str(j, "pciID", path, &pci, err)) < 0)
		return r;
	if (!name)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s.name: missing", path);
	uint32_t mtu = 0;
	bool present = false;
	r = get_u32(j, "mtu", path, UINT32_MAX, &mtu, &present, err);
	if (r < 0)
		return r;
	/* Go omits empty strings; keep NULL for them so encoding round-trips. */
	size_t k = cni_result_add_iface(res, name, str_empty(mac) ? NULL : mac,
					str_empty(sandbox) ? NULL : sandbox);
	struct cni_iface *i = &res->interfaces[k];
	i->mtu = mtu;
	i->socket_path = str_empty(sock) ? NULL : xstrdup(sock);
	i->pci_id = str_empty(pci) ? NULL : xstrdup(pci);
	return 0;
}

static int decode_ip_entry(const cJSON *j, const char *path, enum cni_version v,
			   struct cni_result *res, struct cni_err *err)
{
	int r = require_object(j, path, err);
	if (r < 0)
		return r;
	struct cni_ip ip = { .interface = -1 };
	r = decode_cidr(j, "address", path, true, &ip.address, err);
	if (r < 0)
		return r;
	r = decode_ip(j, "gateway", path, &ip.gateway, err);
	if (r < 0)
		return r;
	int64_t idx = 0;
	bool present = false;
	char p[PATH_MAX_LEN];
	path_join(p, path, "interface");
	r = as_decode(json_get_int(j, "interface", p, INT32_MIN, INT32_MAX, &idx, &present, err),
		      err);
	if (r < 0)
		return r;
	if (present) {
		if (idx < 0 || (uint64_t)idx >= res->n_interfaces)
			return cni_err_set(err, CNI_ERR_DECODE, 0,
					   "%s: index %lld out of range (%zu interfaces)", p,
					   (long long)idx, res->n_interfaces);
		ip.interface = (int)idx;
	}
	/* 0.3.x/0.4.0 carry a redundant "version"; 1.x dropped it, so ignore it there. */
	if (v < CNI_V100) {
		const char *ver = NULL;
		r = get_str(j, "version", path, &ver, err);
		if (r < 0)
			return r;
		if (ver) {
			const char *want = ip.address.ip.family == AF_INET ? "4" : "6";
			if (strcmp(ver, "4") != 0 && strcmp(ver, "6") != 0)
				return cni_err_set(err, CNI_ERR_DECODE, 0,
						   "%s.version: must be \"4\" or \"6\", not '%s'",
						   path, ver);
			if (strcmp(ver, want) != 0)
				return cni_err_set(err, CNI_ERR_DECODE, 0,
						   "%s.version: '%s' does not match the address",
						   path, ver);
		}
	}
	cni_result_add_ip(res, &ip);
	return 0;
}

static int decode_rich(const cJSON *json, enum cni_version v, struct cni_result *res,
		       struct cni_err *err)
{
	const cJSON *arr = NULL, *e;
	int r = get_array(json, "interfaces", "", &arr, err);
	if (r < 0)
		return r;
	size_t i = 0;
	cJSON_ArrayForEach (e, arr) {
		char p[PATH_MAX_LEN];
		(void)snprintf(p, sizeof(p), "interfaces[%zu]", i++);
		r = decode_iface(e, p, res, err);
		if (r < 0)
			return r;
	}
	/* After interfaces, whatever the key order: ips[].interface indexes into them. */
	arr = NULL;
	r = get_array(json, "ips", "", &arr, err);
	if (r < 0)
		return r;
	i = 0;
	cJSON_ArrayForEach (e, arr) {
		char p[PATH_MAX_LEN];
		(void)snprintf(p, sizeof(p), "ips[%zu]", i++);
		r = decode_ip_entry(e, p, v, res, err);
		if (r < 0)
			return r;
	}
	return decode_routes(json, "", res, err);
}

int cni_result_decode(const cJSON *json, enum cni_version fallback, struct cni_result **ret,
		      struct cni_err *err)
{
	struct cni_err tmp = { 0 };
	if (!err)
		err = &tmp;
	_cleanup_result_ struct cni_result *res = cni_result_new();
	if (!json || cJSON_IsNull(json)) {
		*ret = TAKE_PTR(res);
		return 0;
	}
	if (!cJSON_IsObject(json))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "result: must be an object");
	const char *vs = NULL;
	int r = get_str(json, "cniVersion", "", &vs, err);
	if (r < 0)
		return r;
	enum cni_version v = fallback;
	if (vs) {
		r = cni_version_parse(vs, &v, err);
		if (r < 0)
			return r;
	}
	if (cni_version_has_rich_result(v)) {
		r = decode_rich(json, v, res, err);
	} else {
		r = decode_ipconfig_020(json, "ip4", AF_INET, res, err);
		if (r >= 0)
			r = decode_ipconfig_020(json, "ip6", AF_INET6, res, err);
	}
	if (r < 0)
		return r;
	r = dns_decode(json_get(json, "dns"), "dns", CNI_ERR_DECODE, &res->dns, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(res);
	return 0;
}

int cni_result_parse(const char *text, size_t len, enum cni_version fallback,
		     struct cni_result **ret, struct cni_err *err)
{
	_cleanup_json_ cJSON *json = NULL;
	int r = json_parse(text, len, "result", &json, err);
	if (r < 0)
		return r;
	return cni_result_decode(json, fallback, ret, err);
}

/* ---- encoding ------------------------------------------------------------------------- */

static void add_ipnet(cJSON *obj, const char *key, const struct ip_net *n)
{
	char buf[IPNET_STR_LEN];
	format_ipnet(n, buf);
	cJSON_AddStringToObject(obj, key, buf);
}

static void add_ip_if_set(cJSON *obj, const char *key, const struct ip_addr *a)
{
	if (ip_family_len(a->family) == 0)
		return;
	char buf[IP_STR_LEN];
	format_ip(a, buf);
	cJSON_AddStringToObject(obj, key, buf);
}

static void add_str_if_set(cJSON *obj, const char *key, const char *s)
{
	if (!str_empty(s))
		cJSON_AddStringToObject(obj, key, s);
}

static void add_strv(cJSON *obj, const char *key, char *const *v, size_t n)
{
	if (n == 0)
		return;
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
}

cJSON *cni_dns_encode(const struct cni_dns *d)
{
	cJSON *obj = cJSON_CreateObject();
	add_strv(obj, "nameservers", d->nameservers, d->n_nameservers);
	add_str_if_set(obj, "domain", d->domain);
	add_strv(obj, "search", d->search, d->n_search);
	add_strv(obj, "options", d->options, d->n_options);
	return obj;
}

static cJSON *encode_route(const struct cni_route *rt, enum cni_version v)
{
	cJSON *o = cJSON_CreateObject();
	add_ipnet(o, "dst", &rt->dst);
	add_ip_if_set(o, "gw", &rt->gw);
	if (v < CNI_V110)
		return o;
	if (rt->has & CNI_ROUTE_HAS_MTU)
		cJSON_AddNumberToObject(o, "mtu", rt->mtu);
	if (rt->has & CNI_ROUTE_HAS_ADVMSS)
		cJSON_AddNumberToObject(o, "advmss", rt->advmss);
	if (rt->has & CNI_ROUTE_HAS_PRIORITY)
		cJSON_AddNumberToObject(o, "priority", rt->priority);
	if (rt->has & CNI_ROUTE_HAS_TABLE)
		cJSON_AddNumberToObject(o, "table", rt->table);
	if (rt->has & CNI_ROUTE_HAS_SCOPE)
		cJSON_AddNumberToObject(o, "scope", rt->scope);
	return o;
}

/* Routes go with the ipconfig of their dst family, and only if that ipconfig exists
 * (pkg/types/040 convertTo02 behaves the same). */
static cJSON *encode_ipconfig_020(const struct cni_result *r, const struct cni_ip *ip)
{
	cJSON *o = cJSON_CreateObject();
	add_ipnet(o, "ip", &ip->address);
	add_ip_if_set(o, "gateway", &ip->gateway);
	cJSON *routes = NULL;
	for (size_t i = 0; i < r->n_routes; i++) {
		if (r->routes[i].dst.ip.family != ip->address.ip.family)
			continue;
		if (!routes)
			routes = cJSON_AddArrayToObject(o, "routes");
		cJSON_AddItemToArray(routes, encode_route(&r->routes[i], CNI_V020));
	}
	return o;
}

static int encode_020(const struct cni_result *r, cJSON *out, struct cni_err *err)
{
	const struct cni_ip *ip4 = NULL, *ip6 = NULL;
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];
		if (ip->address.ip.family == AF_INET && !ip4)
			ip4 = ip;
		else if (ip->address.ip.family == AF_INET6 && !ip6)
			ip6 = ip;
	}
	if (!ip4 && !ip6)
		return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0,
				   "cannot convert: no valid IP addresses");
	if (ip4)
		cJSON_AddItemToObject(out, "ip4", encode_ipconfig_020(r, ip4));
	if (ip6)
		cJSON_AddItemToObject(out, "ip6", encode_ipconfig_020(r, ip6));
	return 0;
}

static int encode_rich(const struct cni_result *r, enum cni_version v, cJSON *out,
		       struct cni_err *err)
{
	if (r->n_interfaces) {
		cJSON *arr = cJSON_AddArrayToObject(out, "interfaces");
		for (size_t i = 0; i < r->n_interfaces; i++) {
			const struct cni_iface *f = &r->interfaces[i];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			cJSON_AddStringToObject(o, "name", f->name ? f->name : "");
			add_str_if_set(o, "mac", f->mac);
			if (v >= CNI_V110 && f->mtu)
				cJSON_AddNumberToObject(o, "mtu", f->mtu);
			add_str_if_set(o, "sandbox", f->sandbox);
			if (v >= CNI_V110) {
				add_str_if_set(o, "socketPath", f->socket_path);
				add_str_if_set(o, "pciID", f->pci_id);
			}
		}
	}
	if (r->n_ips) {
		cJSON *arr = cJSON_AddArrayToObject(out, "ips");
		for (size_t i = 0; i < r->n_ips; i++) {
			const struct cni_ip *ip = &r->ips[i];
			int fam = ip->address.ip.family;
			if (fam != AF_INET && fam != AF_INET6)
				return cni_err_set(err, CNI_ERR_INTERNAL, 0,
						   "ips[%zu].address: unset", i);
			if (ip->interface >= 0 && (size_t)ip->interface >= r->n_interfaces)
				return cni_err_set(err, CNI_ERR_INTERNAL, 0,
						   "ips[%zu].interface: index %d out of range "
						   "(%zu interfaces)",
						   i, ip->interface, r->n_interfaces);
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			if (v < CNI_V100)
				cJSON_AddStringToObject(o, "version", fam == AF_INET ? "4" : "6");
			if (ip->interface >= 0)
				cJSON_AddNumberToObject(o, "interface", ip->interface);
			add_ipnet(o, "address", &ip->address);
			add_ip_if_set(o, "gateway", &ip->gateway);
		}
	}
	if (r->n_routes) {
		cJSON *arr = cJSON_AddArrayToObject(out, "routes");
		for (size_t i = 0; i < r->n_routes; i++) {
			if (ip_family_len(r->routes[i].dst.ip.family) == 0)
				return cni_err_set(err, CNI_ERR_INTERNAL, 0,
						   "routes[%zu].dst: unset", i);
			cJSON_AddItemToArray(arr, encode_route(&r->routes[i], v));
		}
	}
	return 0;
}

/* Empty arrays and an empty "dns" are omitted. Go's types always print "dns":{} (omitempty
 * has no effect on a struct); an absent dns decodes identically, so we keep output short. */
int cni_result_encode(const struct cni_result *r, enum cni_version v, cJSON **ret,
		      struct cni_err *err)
{
	const char *vs = cni_version_str(v);
	if (!vs)
		return cni_err_set(err, CNI_ERR_INTERNAL, 0, "unknown CNI version %d", (int)v);
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "cniVersion", vs);
	int rc = cni_version_has_rich_result(v) ? encode_rich(r, v, out, err)
						: encode_020(r, out, err);
	if (rc < 0)
		return rc;
	if (!cni_dns_is_empty(&r->dns))
		cJSON_AddItemToObject(out, "dns", cni_dns_encode(&r->dns));
	*ret = TAKE_PTR(out);
	return 0;
}
