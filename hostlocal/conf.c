// SPDX-License-Identifier: Apache-2.0
/* host-local netconf: ranges, defaults, requested IPs and resolv.conf, as the reference reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "hostlocal/hostlocal.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/safedir.h"

int hl_ip_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->raw, b->raw, ip_family_len(a->family));
	return c < 0 ? -1 : c > 0;
}

void hl_ip_next(struct ip_addr *a)
{
	for (size_t i = ip_family_len(a->family); i-- > 0;)
		if (++a->raw[i] != 0)
			break;
}

static bool subnet_contains(const struct ip_net *n, const struct ip_addr *ip)
{
	if (n->ip.family != ip->family)
		return false;
	struct ip_net m = { .ip = *ip, .prefix = n->prefix };
	ip_net_mask(&m);
	return ip_addr_equal(&m.ip, &n->ip);
}

bool hl_range_contains(const struct hl_range *r, const struct ip_addr *ip)
{
	return subnet_contains(&r->subnet, ip) && hl_ip_cmp(ip, &r->start) >= 0 &&
	       hl_ip_cmp(ip, &r->end) <= 0;
}

int hl_rangeset_find(const struct hl_rangeset *s, const struct ip_addr *ip)
{
	for (size_t i = 0; i < s->n; i++)
		if (hl_range_contains(&s->ranges[i], ip))
			return (int)i;
	return -1;
}

static void range_str(const struct hl_range *r, char *buf, size_t len)
{
	char a[IP_STR_LEN], b[IP_STR_LEN];
	format_ip(&r->start, a);
	format_ip(&r->end, b);
	(void)snprintf(buf, len, "%s-%s", a, b);
}

void hl_rangeset_str(const struct hl_rangeset *s, char *buf, size_t len)
{
	size_t off = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < s->n && off + 1 < len; i++) {
		char one[2 * IP_STR_LEN + 2];
		range_str(&s->ranges[i], one, sizeof(one));
		int n = snprintf(buf + off, len - off, "%s%s", i ? "," : "", one);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

void hl_conf_done(struct hl_conf *c)
{
	for (size_t i = 0; i < c->n_sets; i++)
		free(c->sets[i].ranges);
	free(c->sets);
	free(c->routes);
	free(c->requested);
	memset(c, 0, sizeof(*c));
}

/* An address key of a range: absent leaves *ret unset (family 0). */
static int get_ip(const cJSON *obj, const char *key, const char *path, struct ip_addr *ret,
		  struct cni_err *err)
{
	const char *s = NULL;
	char field[160];
	(void)snprintf(field, sizeof(field), "%s.%s", path, key);
	int r = json_get_string(obj, key, field, &s, NULL, err);
	if (r < 0 || !s || !*s)
		return r;
	if (parse_ip(s, ret) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: invalid IP '%s'",
				   field, s);
	return 0;
}

/* rangeStart or rangeEnd: inside the subnet, neither its network address nor (IPv4) its
 * broadcast address, which are never handed out. */
static int check_bound(const struct ip_net *subnet, const struct ip_addr *last,
		       const struct ip_addr *ip, const char *path, const char *key, const char *net,
		       struct cni_err *err)
{
	char a[IP_STR_LEN];
	format_ip(ip, a);
	if (!subnet_contains(subnet, ip))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s.%s: not in network %s",
				   path, key, net);
	if (ip_addr_equal(ip, &subnet->ip))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s.%s: %s is the network address of %s", path, key, a, net);
	if (ip->family == AF_INET && ip_addr_equal(ip, last))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s.%s: %s is the broadcast address of %s", path, key, a, net);
	return 0;
}

/* Range.Canonicalize of the reference: subnet is a network address bigger than /31 (/127),
 * gateway = network + 1, rangeStart = network + 1, rangeEnd = last address (IPv4: - 1). */
static int parse_range(const cJSON *obj, const char *path, struct hl_range *ret,
		       struct cni_err *err)
{
	if (!cJSON_IsObject(obj))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: must be an object",
				   path);
	char field[160];
	(void)snprintf(field, sizeof(field), "%s.subnet", path);
	const char *s = NULL;
	int r = json_get_string(obj, "subnet", field, &s, NULL, err);
	if (r < 0)
		return r;
	if (!s || !*s)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: missing", field);
	struct hl_range x = { 0 };
	if (parse_ipnet(s, &x.subnet) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: invalid CIDR '%s'",
				   field, s);
	unsigned bits = (unsigned)ip_family_len(x.subnet.ip.family) * 8;
	if (x.subnet.prefix > bits - 2)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: network %s too small to allocate from", field, s);
	struct ip_net net = x.subnet;
	ip_net_mask(&net);
	if (!ip_addr_equal(&net.ip, &x.subnet.ip)) {
		char buf[IP_STR_LEN];
		format_ip(&net.ip, buf);
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: network has host bits set. For a subnet mask of length %u "
				   "the network address is %s",
				   field, x.subnet.prefix, buf);
	}
	if ((r = get_ip(obj, "gateway", path, &x.gateway, err)) < 0 ||
	    (r = get_ip(obj, "rangeStart", path, &x.start, err)) < 0 ||
	    (r = get_ip(obj, "rangeEnd", path, &x.end, err)) < 0)
		return r;
	/* Defaults of the reference's Range.Canonicalize: gateway and rangeStart network + 1,
	 * rangeEnd the last address (IPv4: the one before broadcast). The gateway is never
	 * allocated and, as in the reference, may lie anywhere of the family. */
	struct ip_addr last = x.subnet.ip;
	for (size_t i = 0; i < bits / 8; i++) {
		unsigned b = i * 8;
		if (b + 8 <= x.subnet.prefix)
			continue;
		last.raw[i] |=
			b >= x.subnet.prefix ? 0xff : (uint8_t)(0xff >> (x.subnet.prefix - b));
	}
	if (!x.gateway.family) {
		x.gateway = x.subnet.ip;
		hl_ip_next(&x.gateway);
	} else if (x.gateway.family != x.subnet.ip.family) {
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s.gateway: not of the family of network %s", path, s);
	}
	bool start_set = x.start.family, end_set = x.end.family;
	if ((start_set &&
	     (r = check_bound(&x.subnet, &last, &x.start, path, "rangeStart", s, err)) < 0) ||
	    (end_set && (r = check_bound(&x.subnet, &last, &x.end, path, "rangeEnd", s, err)) < 0))
		return r;
	if (!start_set) {
		x.start = x.subnet.ip;
		hl_ip_next(&x.start);
	}
	if (!end_set) {
		x.end = last;
		if (x.end.family == AF_INET)
			x.end.raw[3]--;
	}
	/* The reference checks this only for an explicit rangeEnd; a rangeStart past the
	 * default end would make its iterator run into the next network. */
	if (hl_ip_cmp(&x.end, &x.start) < 0) {
		char a[IP_STR_LEN], b[IP_STR_LEN];
		format_ip(&x.start, a);
		format_ip(&x.end, b);
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s.%s: rangeStart %s is after rangeEnd %s", path,
				   end_set ? "rangeEnd" : "rangeStart", a, b);
	}
	*ret = x;
	return 0;
}

static bool range_overlaps(const struct hl_range *a, const struct hl_range *b)
{
	if (a->start.family != b->start.family)
		return false;
	return hl_range_contains(a, &b->start) || hl_range_contains(a, &b->end) ||
	       hl_range_contains(b, &a->start) || hl_range_contains(b, &a->end);
}

/* One range set (a JSON list of ranges): same family, no overlap inside. */
static int parse_rangeset(const cJSON *list, const char *path, struct hl_rangeset *ret,
			  struct cni_err *err)
{
	if (!cJSON_IsArray(list))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: must be a list", path);
	size_t n = (size_t)cJSON_GetArraySize(list);
	if (n == 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: empty range set",
				   path);
	_cleanup_free_ struct hl_range *ranges = xcalloc(n, sizeof(*ranges));
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach (item, list) {
		char p[128];
		(void)snprintf(p, sizeof(p), "%s[%zu]", path, i);
		int r = parse_range(item, p, &ranges[i], err);
		if (r < 0)
			return r;
		if (i && ranges[i].start.family != ranges[0].start.family)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: mixed address families", path);
		i++;
	}
	for (i = 0; i + 1 < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (range_overlaps(&ranges[i], &ranges[j])) {
				char a[128], b[128];
				range_str(&ranges[i], a, sizeof(a));
				range_str(&ranges[j], b, sizeof(b));
				return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						   "%s: subnets %s and %s overlap", path, a, b);
			}
	ret->ranges = TAKE_PTR(ranges);
	ret->n = n;
	return 0;
}

static void add_set(struct hl_conf *c, struct hl_rangeset *s)
{
	c->sets = xrealloc(c->sets, (c->n_sets + 1) * sizeof(*c->sets));
	c->sets[c->n_sets++] = *s;
}

static int add_sets(struct hl_conf *c, const cJSON *list, const char *path, struct cni_err *err)
{
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: must be a list", path);
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach (item, list) {
		char p[96];
		(void)snprintf(p, sizeof(p), "%s[%zu]", path, i++);
		struct hl_rangeset s = { 0 };
		int r = parse_rangeset(item, p, &s, err);
		if (r < 0)
			return r;
		add_set(c, &s);
	}
	return 0;
}

static void add_requested(struct hl_conf *c, const struct ip_addr *ip)
{
	c->requested = xrealloc(c->requested, (c->n_requested + 1) * sizeof(*c->requested));
	c->requested[c->n_requested++] = *ip;
}

/* "ips" lists: addresses, a prefix is accepted and ignored (pkg/ip ParseIP). */
static int add_requested_list(struct hl_conf *c, const cJSON *list, const char *path,
			      struct cni_err *err)
{
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: must be a list", path);
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach (item, list) {
		struct ip_net n;
		if (!cJSON_IsString(item) || parse_ip_or_ipnet(item->valuestring, &n, NULL) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s[%zu]: cannot understand ip", path, i);
		add_requested(c, &n.ip);
		i++;
	}
	return 0;
}

/* CNI_ARGS as the reference's LoadArgs reads them: IP= (comma-separated here), and unknown keys
 * are an error unless IgnoreUnknown is true. */
static int parse_env_args(const struct cni_ctx *ctx, struct hl_conf *c, struct cni_err *err)
{
	const char *ign = cni_ctx_arg(ctx, "IgnoreUnknown");
	bool ignore = ign && (strcmp(ign, "1") == 0 || strcasecmp(ign, "true") == 0);
	if (ign && !ignore && strcmp(ign, "0") != 0 && strcasecmp(ign, "false") != 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "CNI_ARGS: IgnoreUnknown: invalid boolean '%s'", ign);
	for (size_t i = 0; i < ctx->n_args && !ignore; i++)
		if (strcmp(ctx->args[i].key, "IP") != 0 &&
		    strcmp(ctx->args[i].key, "IgnoreUnknown") != 0)
			return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
					   "CNI_ARGS: unknown args [\"%s=%s\"]", ctx->args[i].key,
					   ctx->args[i].value);
	const char *ip = cni_ctx_arg(ctx, "IP");
	if (!ip || !*ip)
		return 0;
	_cleanup_free_ char *copy = xstrdup(ip);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		char *end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		struct ip_addr a;
		if (parse_ip(tok, &a) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
					   "CNI_ARGS: IP: invalid IP address '%s'", tok);
		add_requested(c, &a);
	}
	return 0;
}

static int parse_routes(const cJSON *ipam, struct hl_conf *c, struct cni_err *err)
{
	return cni_routes_decode(ipam, "ipam", &c->routes, &c->n_routes, err);
}

/* Tenant-written paths: no relative path, no "..", nothing for a later join to reinterpret. */
static int check_path(const char *path, const char *field, struct cni_err *err)
{
	if (safedir_path_check(path) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: '%s' is not an absolute path without empty, '.' or '..' "
				   "components",
				   field, path);
	return 0;
}

int hl_conf_parse(const struct cni_ctx *ctx, struct hl_conf *ret, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { .name = ctx->name,
						     .data_dir = HL_DEFAULT_DATA_DIR };
	const cJSON *ipam = ctx->ipam;
	if (!ipam)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam: IPAM config missing 'ipam' key");
	int r = parse_env_args(ctx, &c, err);
	if (r < 0)
		return r;
	const cJSON *args = json_get(json_get(ctx->conf, "args"), "cni");
	if ((r = add_requested_list(&c, json_get(args, "ips"), "args.cni.ips", err)) < 0)
		return r;
	if ((r = add_requested_list(&c, json_get(ctx->runtime_config, "ips"), "runtimeConfig.ips",
				    err)) < 0)
		return r;

	const char *s = NULL;
	if ((r = json_get_string(ipam, "dataDir", "ipam.dataDir", &s, NULL, err)) < 0)
		return r;
	if (s && *s && (r = check_path(s, "ipam.dataDir", err)) < 0)
		return r;
	if (s && *s)
		c.data_dir = s;
	s = NULL;
	if ((r = json_get_string(ipam, "resolvConf", "ipam.resolvConf", &s, NULL, err)) < 0)
		return r;
	if (s && *s && (r = check_path(s, "ipam.resolvConf", err)) < 0)
		return r;
	if (s && *s)
		c.resolv_conf = s;
	if ((r = parse_routes(ipam, &c, err)) < 0)
		return r;

	/* Order: runtimeConfig.ipRanges, the legacy top-level range, then ranges. */
	if ((r = add_sets(&c, json_get(ctx->runtime_config, "ipRanges"), "runtimeConfig.ipRanges",
			  err)) < 0)
		return r;
	const cJSON *legacy = json_get(ipam, "subnet");
	if (cJSON_IsString(legacy) && *legacy->valuestring) {
		struct hl_rangeset set = { .ranges = xcalloc(1, sizeof(struct hl_range)), .n = 1 };
		r = parse_range(ipam, "ipam", set.ranges, err);
		if (r < 0) {
			free(set.ranges);
			return r;
		}
		add_set(&c, &set);
	}
	if ((r = add_sets(&c, json_get(ipam, "ranges"), "ipam.ranges", err)) < 0)
		return r;
	if (c.n_sets == 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.ranges: no IP ranges specified");

	unsigned n4 = 0, n6 = 0;
	for (size_t i = 0; i < c.n_sets; i++) {
		if (c.sets[i].ranges[0].start.family == AF_INET)
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
	for (size_t i = 0; i + 1 < c.n_sets; i++)
		for (size_t j = i + 1; j < c.n_sets; j++)
			for (size_t a = 0; a < c.sets[i].n; a++)
				for (size_t b = 0; b < c.sets[j].n; b++)
					if (range_overlaps(&c.sets[i].ranges[a],
							   &c.sets[j].ranges[b]))
						return cni_err_set(err, CNI_ERR_INVALID_CONFIG,
								   EINVAL,
								   "ipam.ranges: range set %zu "
								   "overlaps with %zu",
								   i, j);
	*ret = c;
	memset(&c, 0, sizeof(c));
	return 0;
}

static void strv_add(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

int hl_resolv_parse(const char *path, struct cni_dns *ret, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	int r = safedir_read(AT_FDCWD, path, HL_RESOLV_MAX, &text, NULL);
	if (r == -ELOOP || r == -EINVAL || r == -EFBIG)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, -r, "ipam.resolvConf: '%s' %s",
				   path,
				   r == -ELOOP	  ? "is a symlink"
				   : r == -EINVAL ? "is not a regular file"
						  : "is larger than 64 KiB");
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "ipam.resolvConf: open '%s': %s", path,
				   strerror(-r));
	struct cni_dns d = { 0 };
	char *lsave = NULL;
	for (char *line = strtok_r(text, "\n", &lsave); line; line = strtok_r(NULL, "\n", &lsave)) {
		char *save = NULL, *key = strtok_r(line, " \t\r", &save);
		if (!key || key[0] == '#' || key[0] == ';')
			continue;
		char *val = strtok_r(NULL, " \t\r", &save);
		if (!val)
			continue;
		if (strcmp(key, "nameserver") == 0) {
			strv_add(&d.nameservers, &d.n_nameservers, val);
		} else if (strcmp(key, "domain") == 0) {
			free(d.domain);
			d.domain = xstrdup(val);
		} else if (strcmp(key, "search") == 0 || strcmp(key, "options") == 0) {
			bool search = key[0] == 's';
			for (; val; val = strtok_r(NULL, " \t\r", &save))
				strv_add(search ? &d.search : &d.options,
					 search ? &d.n_search : &d.n_options, val);
		}
	}
	*ret = d;
	return 0;
}
