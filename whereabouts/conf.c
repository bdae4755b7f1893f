// SPDX-License-Identifier: Apache-2.0
/* whereabouts netconf: its documented keys, the flat file merge, what plexus refuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/safedir.h"
#include "whereabouts/whereabouts.h"

#define FLAT_MAX (64 * 1024)

/* whereabouts' flat file locations, in its order; configuration_path must be inside one of
 * their directories: the flat file names the credential, so it is the node admin's. */
static const char *const flat_paths[] = {
	"/etc/kubernetes/cni/net.d/whereabouts.d/whereabouts.conf",
	"/etc/cni/net.d/whereabouts.d/whereabouts.conf",
	"/host/etc/cni/net.d/whereabouts.d/whereabouts.conf",
};

void wb_conf_done(struct wb_conf *c)
{
	for (size_t i = 0; i < c->n_ranges; i++)
		wb_range_done(&c->ranges[i]);
	free(c->ranges);
	free(c->network_name);
	free(c->kubeconfig);
	free(c->api_relay);
	free(c->routes);
	free(c->flat_file);
	cni_dns_done(&c->dns);
	memset(c, 0, sizeof(*c));
}

static bool under_flat_dir(const char *path)
{
	if (safedir_path_check(path) < 0)
		return false;
	for (size_t i = 0; i < sizeof(flat_paths) / sizeof(flat_paths[0]); i++) {
		size_t dl = (size_t)(strrchr(flat_paths[i], '/') - flat_paths[i]) + 1;
		if (!strncmp(path, flat_paths[i], dl) && path[dl] && !strchr(path + dl, '/'))
			return true;
	}
	return false;
}

/* Copy the members of flat that ipam lacks into ipam (one level into objects, like mergo). */
static void merge(cJSON *ipam, const cJSON *flat)
{
	const cJSON *f;
	cJSON_ArrayForEach (f, flat) {
		cJSON *mine = cJSON_GetObjectItemCaseSensitive(ipam, f->string);
		if (!mine || cJSON_IsNull(mine)) {
			cJSON_DeleteItemFromObjectCaseSensitive(ipam, f->string);
			cJSON_AddItemToObject(ipam, f->string, cJSON_Duplicate(f, true));
		} else if (cJSON_IsObject(mine) && cJSON_IsObject(f)) {
			merge(mine, f);
		}
	}
}

/* The first flat file that exists, merged into ipam. */
static int merge_flat(cJSON *ipam, const char *root, struct wb_conf *c, struct cni_err *err)
{
	const char *cp = NULL;
	int r = json_get_string(ipam, "configuration_path", "ipam.configuration_path", &cp, NULL,
				err);
	if (r < 0)
		return r;
	if (cp && *cp && !under_flat_dir(cp))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EPERM,
				   "ipam.configuration_path: '%s' is not a file in a whereabouts.d "
				   "directory of the node",
				   cp);
	const char *list[4];
	size_t n = 0;
	if (cp && *cp)
		list[n++] = cp;
	for (size_t i = 0; i < sizeof(flat_paths) / sizeof(flat_paths[0]); i++)
		list[n++] = flat_paths[i];
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = xasprintf("%s%s", root ? root : "", list[i]);
		_cleanup_free_ char *text = NULL;
		size_t len;
		r = safedir_read(AT_FDCWD, path, FLAT_MAX, &text, &len);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return cni_err_set(err, CNI_ERR_IO, -r, "whereabouts flat file '%s': %s",
					   list[i], strerror(-r));
		_cleanup_json_ cJSON *flat = NULL;
		if (json_parse(text, len, list[i], &flat, err) < 0)
			return -EINVAL;
		if (!cJSON_IsObject(flat))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "whereabouts flat file '%s': not a JSON object",
					   list[i]);
		merge(ipam, flat);
		c->flat_file = xstrdup(list[i]);
		return 0;
	}
	return 0;
}

static int dup_string(const cJSON *obj, const char *key, const char *path, char **ret,
		      struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(obj, key, path, &s, NULL, err);
	if (r >= 0 && s && *s)
		*ret = xstrdup(s);
	return r;
}

static void add_range(struct wb_conf *c, struct wb_range *r)
{
	c->ranges = xrealloc(c->ranges, (c->n_ranges + 1) * sizeof(*c->ranges));
	c->ranges[c->n_ranges++] = *r;
	memset(r, 0, sizeof(*r));
}

/* Keys whereabouts has that plexus ignores (docs/ipam.md says why) or refuses. */
static const char *const ignored[] = {
	"log_file",
	"log_level",
	"reconciler_cron_expression",
	"leader_lease_duration",
	"leader_renew_deadline",
	"leader_retry_period",
	"sleep_for_race",
};
static const char *const refused[] = { "addresses" };

/* node_slice_size: whereabouts' string form, a prefix length with or without its '/'. */
static int parse_slice_size(const cJSON *ipam, struct wb_conf *c, struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(ipam, "node_slice_size", "ipam.node_slice_size", &s, NULL, err);
	if (r < 0 || !s || !*s)
		return r;
	const struct wb_range *rg = &c->ranges[0];
	unsigned bits = (unsigned)ip_family_len(rg->net.ip.family) * 8;
	uint64_t v;
	if (parse_u64(s + (*s == '/'), bits, &v) < 0 || v <= rg->net.prefix)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"ipam.node_slice_size: '%s' is not a prefix length longer than the "
			"range's /%u and at most /%u",
			s, rg->net.prefix, bits);
	if (c->n_ranges != 1)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"ipam.node_slice_size: needs exactly one range (ipam.range or one "
			"ipam.ipRanges entry)");
	if (wb_range_n_slices(rg, (unsigned)v) > WB_SLICES_MAX)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"ipam.node_slice_size: '%s' cuts the range into more than %d slices", s,
			WB_SLICES_MAX);
	c->slice_prefix = (unsigned)v;
	return 0;
}

int wb_conf_parse(const struct cni_ctx *ctx, const char *root, struct wb_conf *ret,
		  struct cni_err *err)
{
	_cleanup_(wb_conf_done) struct wb_conf c = { .overlapping = true,
						     .timeout_ms = WB_TIMEOUT_MS_DEFAULT };
	if (!cJSON_IsObject(ctx->ipam))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "ipam: missing");
	_cleanup_json_ cJSON *ipam = cJSON_Duplicate(ctx->ipam, true);
	int r = merge_flat(ipam, root, &c, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const cJSON *v = json_get(ipam, refused[i]);
		if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 0) &&
		    !(cJSON_IsString(v) && !*v->valuestring))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "ipam.%s: not supported by plexus (docs/ipam.md)",
					   refused[i]);
	}
	const char *ds = NULL;
	if ((r = json_get_string(ipam, "datastore", "ipam.datastore", &ds, NULL, err)) < 0)
		return r;
	if (ds && *ds && strcmp(ds, "kubernetes") != 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.datastore: '%s' is not supported, only 'kubernetes'", ds);
	/* The ignored keys must still have whereabouts' types. */
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		const cJSON *v = json_get(ipam, ignored[i]);
		bool num = i >= 3;
		if (v && !cJSON_IsNull(v) && (num ? !cJSON_IsNumber(v) : !cJSON_IsString(v)))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "ipam.%s: must be a %s", ignored[i],
					   num ? "number" : "string");
	}
	/* The legacy single range first, then ipRanges (dual stack), as whereabouts orders them. */
	struct wb_range one = { 0 };
	const cJSON *rs = json_get(ipam, "range");
	if (rs && !cJSON_IsNull(rs) && !(cJSON_IsString(rs) && !*rs->valuestring)) {
		if ((r = wb_range_parse(ipam, "ipam", &one, err)) < 0)
			return r;
		add_range(&c, &one);
	}
	const cJSON *arr = NULL;
	if ((r = json_get_array(ipam, "ipRanges", "ipam.ipRanges", &arr, err)) < 0)
		return r;
	const cJSON *e;
	size_t i = 0;
	cJSON_ArrayForEach (e, arr) {
		char path[48];
		(void)snprintf(path, sizeof(path), "ipam.ipRanges[%zu]", i++);
		if (!cJSON_IsObject(e))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: must be an object", path);
		if ((r = wb_range_parse(e, path, &one, err)) < 0)
			return r;
		add_range(&c, &one);
	}
	if (!c.n_ranges)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.range: missing (and no ipam.ipRanges)");
	/* Two ranges of one pool name would share one IPPool: refuse overlaps outright. */
	for (size_t a = 0; a < c.n_ranges; a++)
		for (size_t b = a + 1; b < c.n_ranges; b++) {
			struct ip_net x = c.ranges[a].net, y = c.ranges[b].net;
			if (x.ip.family != y.ip.family)
				continue;
			struct ip_net m = x.prefix < y.prefix ? x : y;
			struct ip_net o = { .ip = x.prefix < y.prefix ? y.ip : x.ip,
					    .prefix = m.prefix };
			ip_net_mask(&o);
			if (ip_addr_equal(&o.ip, &m.ip))
				return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						   "ipam.ipRanges: range %zu overlaps range %zu "
						   "(counting ipam.range first)",
						   b, a);
		}
	if ((r = parse_slice_size(ipam, &c, err)) < 0)
		return r;
	const char *gw = NULL;
	if ((r = json_get_string(ipam, "gateway", "ipam.gateway", &gw, NULL, err)) < 0)
		return r;
	if (gw && *gw && parse_ip(gw, &c.gateway) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.gateway: invalid IP '%s'", gw);
	bool exclude_gw = false;
	if ((r = json_get_bool(ipam, "enable_overlapping_ranges", "ipam.enable_overlapping_ranges",
			       &c.overlapping, NULL, err)) < 0 ||
	    (r = json_get_bool(ipam, "exclude_gateway", "ipam.exclude_gateway", &exclude_gw, NULL,
			       err)) < 0)
		return r;
	if (exclude_gw && c.gateway.family)
		for (size_t k = 0; k < c.n_ranges; k++) {
			struct wb_range *x = &c.ranges[k];
			if (x->net.ip.family != c.gateway.family)
				continue;
			x->exclude = xrealloc(x->exclude, (x->n_exclude + 1) * sizeof(*x->exclude));
			x->exclude[x->n_exclude++] = (struct ip_net){
				.ip = c.gateway,
				.prefix = (uint8_t)(ip_family_len(c.gateway.family) * 8)
			};
		}
	if ((r = dup_string(ipam, "network_name", "ipam.network_name", &c.network_name, err)) < 0)
		return r;
	char name[WB_NAME_MAX];
	if (c.network_name && wb_pool_name(&c.ranges[0], c.network_name, name) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.network_name: '%s' does not make a valid object name "
				   "(lowercase letters, digits, '-' and '.')",
				   c.network_name);
	const cJSON *kube = NULL;
	if ((r = json_get_object(ipam, "kubernetes", "ipam.kubernetes", &kube, err)) < 0 ||
	    (r = dup_string(kube, "kubeconfig", "ipam.kubernetes.kubeconfig", &c.kubeconfig, err)) <
		    0 ||
	    (r = dup_string(ipam, "apiRelay", "ipam.apiRelay", &c.api_relay, err)) < 0)
		return r;
	if (c.kubeconfig && safedir_path_check(c.kubeconfig) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.kubernetes.kubeconfig: '%s' is not a clean absolute path",
				   c.kubeconfig);
	if (c.api_relay && safedir_path_check(c.api_relay) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.apiRelay: '%s' is not a clean absolute path", c.api_relay);
	if (c.api_relay && c.slice_prefix)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.node_slice_size: not available through ipam.apiRelay (the "
				   "relay forwards IPPools and reservations only)");
	int64_t t = WB_TIMEOUT_MS_DEFAULT;
	if ((r = json_get_int(ipam, "apiTimeoutMs", "ipam.apiTimeoutMs", 100, 120000, &t, NULL,
			      err)) < 0)
		return r;
	c.timeout_ms = (long)t;
	const cJSON *routes = json_get(ipam, "routes");
	if (routes && !cJSON_IsNull(routes) &&
	    (r = cni_routes_decode(ipam, "ipam", &c.routes, &c.n_routes, err)) < 0)
		return r;
	const cJSON *dns = json_get(ipam, "dns");
	if (dns && !cJSON_IsNull(dns) && (r = cni_dns_decode(dns, "ipam.dns", &c.dns, err)) < 0)
		return r;
	*ret = c;
	memset(&c, 0, sizeof(c));
	return 0;
}
