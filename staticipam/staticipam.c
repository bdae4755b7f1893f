// SPDX-License-Identifier: Apache-2.0
/* static IPAM in-process: conf parsing and the ADD/DEL/CHECK verbs of the reference. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "staticipam/staticipam.h"

void staticipam_conf_done(struct staticipam_conf *c)
{
	free(c->addrs);
	free(c->routes);
	cni_dns_done(&c->dns);
	memset(c, 0, sizeof(*c));
}

static void add_addr(struct staticipam_conf *c, const struct ip_net *a, const struct ip_addr *gw)
{
	c->addrs = xrealloc(c->addrs, (c->n_addrs + 1) * sizeof(*c->addrs));
	c->addrs[c->n_addrs++] = (struct staticipam_addr){ .address = *a, .gateway = *gw };
}

static bool net_contains(const struct ip_net *n, const struct ip_addr *ip)
{
	if (n->ip.family != ip->family)
		return false;
	struct ip_net a = *n, b = { .ip = *ip, .prefix = n->prefix };
	ip_net_mask(&a);
	ip_net_mask(&b);
	return ip_addr_equal(&a.ip, &b.ip);
}

/* Why a with host bits kept cannot be an interface address: the network address or the IPv4
 * broadcast of its prefix (/31, /32, /127, /128 have neither), or NULL. */
static const char *addr_unusable(const struct ip_net *a)
{
	unsigned bits = (unsigned)ip_family_len(a->ip.family) * 8;
	if ((unsigned)a->prefix + 1 >= bits)
		return NULL;
	struct ip_net n = *a;
	ip_net_mask(&n);
	if (ip_addr_equal(&n.ip, &a->ip))
		return "is the network address of its prefix";
	if (a->ip.family != AF_INET)
		return NULL;
	uint32_t host = ~(uint32_t)0 >> a->prefix;
	for (unsigned i = 0; i < 4; i++)
		if ((a->ip.raw[i] | (uint8_t)(host >> (24 - 8 * i))) != a->ip.raw[i])
			return NULL;
	return "is the broadcast address of its prefix";
}

static void trim(char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
	char *end = *s + strlen(*s);
	while (end > *s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
}

static int parse_env_args(const struct cni_ctx *ctx, struct staticipam_conf *c, struct cni_err *err)
{
	const char *ign = cni_ctx_arg(ctx, "IgnoreUnknown");
	bool ignore = ign && (strcmp(ign, "1") == 0 || strcasecmp(ign, "true") == 0);
	if (ign && !ignore && strcmp(ign, "0") != 0 && strcasecmp(ign, "false") != 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "CNI_ARGS: IgnoreUnknown: invalid boolean '%s'", ign);
	for (size_t i = 0; i < ctx->n_args && !ignore; i++)
		if (strcmp(ctx->args[i].key, "IP") != 0 &&
		    strcmp(ctx->args[i].key, "GATEWAY") != 0 &&
		    strcmp(ctx->args[i].key, "IgnoreUnknown") != 0)
			return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
					   "CNI_ARGS: unknown args [\"%s=%s\"]", ctx->args[i].key,
					   ctx->args[i].value);
	const char *ip = cni_ctx_arg(ctx, "IP"), *gw = cni_ctx_arg(ctx, "GATEWAY");
	char *save = NULL;
	if (ip && *ip) {
		_cleanup_free_ char *copy = xstrdup(ip);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			trim(&t);
			struct ip_net n;
			if (parse_ipnet(t, &n) < 0)
				return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
						   "CNI_ARGS: IP: invalid CIDR '%s'", t);
			const char *why = addr_unusable(&n);
			if (why)
				return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
						   "CNI_ARGS: IP: '%s' %s", t, why);
			add_addr(c, &n, &(struct ip_addr){ 0 });
		}
	}
	if (gw && *gw) {
		_cleanup_free_ char *copy = xstrdup(gw);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			trim(&t);
			struct ip_addr g;
			if (parse_ip(t, &g) < 0)
				return cni_err_set(
					err, CNI_ERR_INVALID_ENV, EINVAL,
					"CNI_ARGS: GATEWAY: invalid gateway address '%s'", t);
			for (size_t i = 0; i < c->n_addrs; i++)
				if (net_contains(&c->addrs[i].address, &g))
					c->addrs[i].gateway = g;
		}
	}
	return 0;
}

/* args.cni.ips / runtimeConfig.ips: CIDR strings that replace every address so far. */
static int replace_from(struct staticipam_conf *c, const cJSON *list, const char *path,
			struct cni_err *err)
{
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: must be a list", path);
	if (cJSON_GetArraySize(list) == 0)
		return 0;
	c->n_addrs = 0;
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach (item, list) {
		struct ip_net n;
		if (!cJSON_IsString(item) || parse_ipnet(item->valuestring, &n) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s[%zu]: an entry in the 'ips' field is NOT in CIDR "
					   "notation, got '%s'",
					   path, i, cJSON_IsString(item) ? item->valuestring : "");
		const char *why = addr_unusable(&n);
		if (why)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s[%zu]: '%s' %s",
					   path, i, item->valuestring, why);
		add_addr(c, &n, &(struct ip_addr){ 0 });
		i++;
	}
	return 0;
}

static int parse_addresses(const cJSON *ipam, struct staticipam_conf *c, struct cni_err *err)
{
	const cJSON *list = NULL;
	int r = json_get_array(ipam, "addresses", "ipam.addresses", &list, err);
	if (r < 0 || !list)
		return r;
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach (item, list) {
		char path[64];
		(void)snprintf(path, sizeof(path), "ipam.addresses[%zu]", i++);
		if (!cJSON_IsObject(item))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: must be an object", path);
		const char *a = NULL, *g = NULL;
		char field[80];
		(void)snprintf(field, sizeof(field), "%s.address", path);
		if ((r = json_get_string(item, "address", field, &a, NULL, err)) < 0)
			return r;
		struct ip_net n;
		if (!a || parse_ipnet(a, &n) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: the 'address' field is expected to be in CIDR "
					   "notation, got: '%s'",
					   field, a ? a : "");
		const char *why = addr_unusable(&n);
		if (why)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: '%s' %s",
					   field, a, why);
		(void)snprintf(field, sizeof(field), "%s.gateway", path);
		if ((r = json_get_string(item, "gateway", field, &g, NULL, err)) < 0)
			return r;
		struct ip_addr gw = { 0 };
		if (g && *g && parse_ip(g, &gw) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: invalid IP '%s'", field, g);
		if (gw.family && gw.family != n.ip.family)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: '%s' is not of the family of address '%s'", field,
					   g, a);
		add_addr(c, &n, &gw);
	}
	return 0;
}

static int parse_routes(const cJSON *ipam, struct staticipam_conf *c, struct cni_err *err)
{
	return cni_routes_decode(ipam, "ipam", &c->routes, &c->n_routes, err);
}

int staticipam_conf_parse(const struct cni_ctx *ctx, struct staticipam_conf *ret,
			  struct cni_err *err)
{
	_cleanup_(staticipam_conf_done) struct staticipam_conf c = { 0 };
	const cJSON *ipam = ctx->ipam;
	if (!ipam)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam: IPAM config missing 'ipam' key");
	int r;
	if ((r = parse_addresses(ipam, &c, err)) < 0 || (r = parse_routes(ipam, &c, err)) < 0 ||
	    (r = cni_dns_decode(json_get(ipam, "dns"), "ipam.dns", &c.dns, err)) < 0 ||
	    (r = parse_env_args(ctx, &c, err)) < 0)
		return r;
	const cJSON *args = json_get(json_get(ctx->conf, "args"), "cni");
	if ((r = replace_from(&c, json_get(args, "ips"), "args.cni.ips", err)) < 0 ||
	    (r = replace_from(&c, json_get(ctx->runtime_config, "ips"), "runtimeConfig.ips", err)) <
		    0)
		return r;
	unsigned n4 = 0, n6 = 0;
	for (size_t i = 0; i < c.n_addrs; i++) {
		if (c.addrs[i].address.ip.family == AF_INET)
			n4++;
		else
			n6++;
	}
	if ((n4 > 1 || n6 > 1) && ctx->version < CNI_V030)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"cniVersion: CNI version %s does not support more than 1 address "
			"per family",
			cni_version_str(ctx->version));
	*ret = c;
	memset(&c, 0, sizeof(c));
	return 0;
}

static int sipam_validate(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(staticipam_conf_done) struct staticipam_conf c = { 0 };
	return staticipam_conf_parse(ctx, &c, err);
}

static int sipam_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	_cleanup_(staticipam_conf_done) struct staticipam_conf c = { 0 };
	int r = staticipam_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	struct cni_result *res = cni_result_new();
	for (size_t i = 0; i < c.n_addrs; i++)
		cni_result_add_ip(res, &(struct cni_ip){ .address = c.addrs[i].address,
							 .gateway = c.addrs[i].gateway,
							 .interface = -1 });
	for (size_t i = 0; i < c.n_routes; i++)
		cni_result_add_route(res, &c.routes[i]);
	cni_dns_copy(&res->dns, &c.dns);
	*ret = res;
	return 0;
}

/* Nothing was reserved: DEL only validates the conf, like the reference. */
static int sipam_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(staticipam_conf_done) struct staticipam_conf c = { 0 };
	return staticipam_conf_parse(ctx, &c, err);
}

/* Every configured address must appear in prevResult, with its gateway when one is set. */
static int sipam_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(staticipam_conf_done) struct staticipam_conf c = { 0 };
	int r = staticipam_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	const struct cni_result *prev = ctx->prev_result;
	if (!prev)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "prevResult: Required prevResult missing");
	for (size_t i = 0; i < c.n_addrs; i++)
		for (size_t j = 0; j < prev->n_ips; j++) {
			const struct cni_ip *p = &prev->ips[j];
			if (!ip_addr_equal(&c.addrs[i].address.ip, &p->address.ip))
				continue;
			if (!c.addrs[i].gateway.family ||
			    ip_addr_equal(&c.addrs[i].gateway, &p->gateway))
				break;
			char s[IP_STR_LEN];
			format_ip(&p->address.ip, s);
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
					   "static: Failed to match addr %s on interface %s", s,
					   ctx->ifname);
		}
	return 0;
}

static const char *const staticipam_aliases[] = { "plexus-static", "plexus-staticipam", NULL };

const struct cni_plugin staticipam_plugin = {
	.name = "static",
	.aliases = staticipam_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = sipam_add,
	.del = sipam_del,
	.check = sipam_check,
	.validate = sipam_validate,
};
