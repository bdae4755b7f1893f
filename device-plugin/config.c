// SPDX-License-Identifier: Apache-2.0
/* resourceList parsing (sriov-network-device-plugin format) with JSON-path errors, and matching. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device-plugin/config.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/parse.h"

#define PATH_MAX_LEN 160

/* snprintf for JSON paths: a path longer than the buffer is cut, which is fine in a message. */
static void __attribute__((format(printf, 3, 4)))
fmt_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void pf_refs_free(struct dp_pf_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(refs[i].name);
		free(refs[i].ranges);
	}
	free(refs);
}

static void selector_done(struct dp_selector *s)
{
	strv_free(s->vendors);
	strv_free(s->devices);
	strv_free(s->drivers);
	strv_free(s->pci_addresses);
	strv_free(s->link_types);
	pf_refs_free(s->pf_names, s->n_pf_names);
	pf_refs_free(s->root_devices, s->n_root_devices);
	memset(s, 0, sizeof(*s));
}

static void pool_done(struct dp_pool *p)
{
	free(p->name);
	free(p->prefix);
	free(p->resource);
	for (size_t i = 0; i < p->n_selectors; i++)
		selector_done(&p->selectors[i]);
	free(p->selectors);
	memset(p, 0, sizeof(*p));
}

void dp_config_done(struct dp_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_pools; i++)
		pool_done(&cfg->pools[i]);
	free(cfg->pools);
	memset(cfg, 0, sizeof(*cfg));
}

enum str_kind {
	STR_ANY,
	STR_HEX_ID,
	STR_BDF
};

static bool valid_bdf(const char *s)
{
	unsigned int dom, bus, dev, fn;
	int end = 0;
	return strlen(s) == 12 &&
	       sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &end) == 4 && end == 12 &&
	       dev < 32 && fn < 8;
}

/* A string array at obj[key] into a NULL-terminated copy; *ret_present says whether it was given.
 */
static int get_strv(const cJSON *obj, const char *key, const char *path, enum str_kind kind,
		    char ***ret, bool *ret_present, struct cni_err *err)
{
	char p[PATH_MAX_LEN];
	const cJSON *arr = NULL;
	fmt_path(p, sizeof(p), "%s.%s", path, key);
	int r = json_get_array(obj, key, p, &arr, err);
	if (r < 0)
		return r;
	*ret_present = arr != NULL;
	if (!arr)
		return 0;
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	char **v = xcalloc(n + 1, sizeof(*v));
	const cJSON *e;
	cJSON_ArrayForEach (e, arr) {
		char ep[PATH_MAX_LEN + 16];
		fmt_path(ep, sizeof(ep), "%s[%zu]", p, i);
		if (!cJSON_IsString(e) || !e->valuestring[0]) {
			strv_free(v);
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
					   "%s: must be a non-empty string", ep);
		}
		const char *s = e->valuestring;
		if (kind == STR_HEX_ID) {
			if (!strncasecmp(s, "0x", 2))
				s += 2;
			if (strlen(s) != 4 || strspn(s, "0123456789abcdefABCDEF") != 4) {
				strv_free(v);
				return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
						   "%s: bad PCI id '%s' (want 4 hex digits)", ep,
						   e->valuestring);
			}
		} else if (kind == STR_BDF && !valid_bdf(s)) {
			strv_free(v);
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
					   "%s: bad PCI address '%s' (want dddd:bb:dd.f)", ep, s);
		}
		v[i] = xstrdup(s);
		if (kind != STR_ANY)
			for (char *c = v[i]; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		i++;
	}
	*ret = v;
	return 0;
}

/* "0-3,7" -> ranges. */
static int parse_ranges(const char *s, struct dp_range **ret, size_t *ret_n)
{
	_cleanup_free_ char *copy = xstrdup(s);
	_cleanup_free_ struct dp_range *rs = NULL;
	size_t n = 0;
	char *save = NULL;

	if (!*s || s[strlen(s) - 1] == ',')
		return -EINVAL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t lo, hi;
		char *dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (parse_u64(tok, 65535, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (dash && parse_u64(dash + 1, 65535, &hi) < 0)
			return -EINVAL;
		if (hi < lo)
			return -EINVAL;
		rs = xrealloc(rs, (n + 1) * sizeof(*rs));
		rs[n++] = (struct dp_range){ (int)lo, (int)hi };
	}
	*ret = TAKE_PTR(rs);
	*ret_n = n;
	return 0;
}

static int get_pf_refs(const cJSON *obj, const char *key, const char *path, bool bdf,
		       struct dp_pf_ref **ret, size_t *ret_n, bool *ret_present,
		       struct cni_err *err)
{
	char **v = NULL;
	int r = get_strv(obj, key, path, STR_ANY, &v, ret_present, err);
	if (r < 0 || !*ret_present)
		return r;
	size_t n = 0;
	while (v[n])
		n++;
	struct dp_pf_ref *refs = xcalloc(n ? n : 1, sizeof(*refs));
	for (size_t i = 0; i < n; i++) {
		char *hash = strchr(v[i], '#');
		if (hash)
			*hash = '\0';
		refs[i].name = xstrdup(v[i]);
		if (hash)
			*hash = '#';
		if (!refs[i].name[0] || (bdf && !valid_bdf(refs[i].name)))
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s.%s[%zu]: bad %s '%s'",
					path, key, i, bdf ? "PCI address" : "PF name", v[i]);
		else if (hash && parse_ranges(hash + 1, &refs[i].ranges, &refs[i].n_ranges) < 0)
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
					"%s.%s[%zu]: bad VF range '%s'", path, key, i, hash + 1);
		if (r < 0) {
			pf_refs_free(refs, n);
			strv_free(v);
			return r;
		}
	}
	strv_free(v);
	*ret = refs;
	*ret_n = n;
	return 0;
}

static const char *const selector_keys[] = { "vendors",	     "devices", "drivers",
					     "pciAddresses", "pfNames", "rootDevices",
					     "linkTypes",    "isRdma",	"needVhostNet" };

static int parse_selector(const cJSON *obj, const char *path, struct dp_selector *s,
			  struct cni_err *err)
{
	bool present;
	int r;
	if (!cJSON_IsObject(obj))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be an object", path);
	const cJSON *e;
	cJSON_ArrayForEach (e, obj) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(selector_keys); i++)
			known |= !strcmp(e->string, selector_keys[i]);
		if (!known)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
					   "%s.%s: unknown selector", path, e->string);
	}
#define STRV(key, field, kind, bit)                                           \
	do {                                                                  \
		r = get_strv(obj, key, path, kind, &s->field, &present, err); \
		if (r < 0)                                                    \
			return r;                                             \
		if (present)                                                  \
			s->has |= bit;                                        \
	} while (0)
	STRV("vendors", vendors, STR_HEX_ID, DP_SEL_VENDORS);
	STRV("devices", devices, STR_HEX_ID, DP_SEL_DEVICES);
	STRV("drivers", drivers, STR_ANY, DP_SEL_DRIVERS);
	STRV("pciAddresses", pci_addresses, STR_BDF, DP_SEL_PCI_ADDRESSES);
	STRV("linkTypes", link_types, STR_ANY, DP_SEL_LINK_TYPES);
#undef STRV
	r = get_pf_refs(obj, "pfNames", path, false, &s->pf_names, &s->n_pf_names, &present, err);
	if (r < 0)
		return r;
	if (present)
		s->has |= DP_SEL_PF_NAMES;
	r = get_pf_refs(obj, "rootDevices", path, true, &s->root_devices, &s->n_root_devices,
			&present, err);
	if (r < 0)
		return r;
	if (present)
		s->has |= DP_SEL_ROOT_DEVICES;
	char p[PATH_MAX_LEN + 16];
	fmt_path(p, sizeof(p), "%s.isRdma", path);
	r = json_get_bool(obj, "isRdma", p, &s->is_rdma, &present, err);
	if (r < 0)
		return r;
	if (present && s->is_rdma)
		s->has |= DP_SEL_IS_RDMA;
	fmt_path(p, sizeof(p), "%s.needVhostNet", path);
	return json_get_bool(obj, "needVhostNet", p, &s->need_vhost_net, NULL, err);
}

static bool valid_name(const char *s)
{
	return s[0] &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
		       strlen(s);
}

static int parse_pool(const cJSON *obj, const char *path, const char *default_prefix,
		      struct dp_pool *p, struct cni_err *err)
{
	char fp[PATH_MAX_LEN];
	const char *name = NULL, *prefix = default_prefix, *type = "netDevice";
	bool present;
	int r;

	if (!cJSON_IsObject(obj))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be an object", path);
	fmt_path(fp, sizeof(fp), "%s.resourceName", path);
	r = json_get_string(obj, "resourceName", fp, &name, &present, err);
	if (r < 0)
		return r;
	if (!present || !valid_name(name))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: %s (want [A-Za-z0-9_.-]+)",
				   fp, present ? "bad resource name" : "missing");
	fmt_path(fp, sizeof(fp), "%s.resourcePrefix", path);
	r = json_get_string(obj, "resourcePrefix", fp, &prefix, NULL, err);
	if (r < 0)
		return r;
	if (!valid_name(prefix))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: bad prefix '%s'", fp,
				   prefix);
	fmt_path(fp, sizeof(fp), "%s.deviceType", path);
	r = json_get_string(obj, "deviceType", fp, &type, NULL, err);
	if (r < 0)
		return r;
	if (strcmp(type, "netDevice"))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "%s: unsupported device type '%s' (want netDevice)", fp, type);
	fmt_path(fp, sizeof(fp), "%s.excludeTopology", path);
	r = json_get_bool(obj, "excludeTopology", fp, &p->exclude_topology, NULL, err);
	if (r < 0)
		return r;
	p->name = xstrdup(name);
	p->prefix = xstrdup(prefix);
	p->resource = xasprintf("%s/%s", prefix, name);

	/* Upstream accepts one selector object (older releases) or an ordered list of them. */
	fmt_path(fp, sizeof(fp), "%s.selectors", path);
	const cJSON *sels = json_get(obj, "selectors");
	if (!sels || cJSON_IsNull(sels))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: missing", fp);
	if (cJSON_IsObject(sels)) {
		p->selectors = xcalloc(1, sizeof(*p->selectors));
		p->n_selectors = 1;
		return parse_selector(sels, fp, &p->selectors[0], err);
	}
	if (!cJSON_IsArray(sels) || cJSON_GetArraySize(sels) == 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "%s: must be a non-empty array of objects", fp);
	size_t n = (size_t)cJSON_GetArraySize(sels);
	p->selectors = xcalloc(n, sizeof(*p->selectors));
	p->n_selectors = n;
	for (size_t i = 0; i < n; i++) {
		char sp[PATH_MAX_LEN + 16];
		fmt_path(sp, sizeof(sp), "%s[%zu]", fp, i);
		r = parse_selector(cJSON_GetArrayItem(sels, (int)i), sp, &p->selectors[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int dp_config_parse(const char *text, size_t len, const char *default_prefix, struct dp_config *ret,
		    struct cni_err *err)
{
	_cleanup_json_ cJSON *root = NULL;
	const cJSON *list = NULL;
	int r = json_parse(text, len, "device plugin config", &root, err);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(root))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "config: must be an object");
	r = json_get_array(root, "resourceList", "resourceList", &list, err);
	if (r < 0)
		return r;
	if (!list)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "resourceList: missing");

	struct dp_config cfg = { 0 };
	cfg.n_pools = (size_t)cJSON_GetArraySize(list);
	cfg.pools = xcalloc(cfg.n_pools ? cfg.n_pools : 1, sizeof(*cfg.pools));
	for (size_t i = 0; i < cfg.n_pools && r >= 0; i++) {
		char path[64];
		fmt_path(path, sizeof(path), "resourceList[%zu]", i);
		r = parse_pool(cJSON_GetArrayItem(list, (int)i), path, default_prefix,
			       &cfg.pools[i], err);
		for (size_t k = 0; k < i && r >= 0; k++)
			if (!strcmp(cfg.pools[k].resource, cfg.pools[i].resource))
				r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
						"%s.resourceName: '%s' already used by "
						"resourceList[%zu]",
						path, cfg.pools[i].resource, k);
	}
	if (r < 0) {
		dp_config_done(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int dp_config_load(const char *path, const char *default_prefix, struct dp_config *ret,
		   struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, 1 << 20, &text, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "config '%s': %s", path, strerror(-r));
	r = dp_config_parse(text, len, default_prefix, ret, err);
	if (r < 0)
		return cni_err_wrap(err, "config '%s'", path);
	return 0;
}

static bool in_strv(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static bool in_refs(const struct dp_pf_ref *refs, size_t n, const char *name, int index)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(refs[i].name, name))
			continue;
		if (!refs[i].n_ranges)
			return true;
		for (size_t k = 0; k < refs[i].n_ranges; k++)
			if (index >= refs[i].ranges[k].lo && index <= refs[i].ranges[k].hi)
				return true;
	}
	return false;
}

bool dp_selector_match(const struct dp_selector *s, const struct dp_vf *vf)
{
	if ((s->has & DP_SEL_VENDORS) && !in_strv(s->vendors, vf->vendor))
		return false;
	if ((s->has & DP_SEL_DEVICES) && !in_strv(s->devices, vf->device))
		return false;
	if ((s->has & DP_SEL_DRIVERS) && !in_strv(s->drivers, vf->driver))
		return false;
	if ((s->has & DP_SEL_PCI_ADDRESSES) && !in_strv(s->pci_addresses, vf->bdf))
		return false;
	if ((s->has & DP_SEL_LINK_TYPES) && !in_strv(s->link_types, vf->link_type))
		return false;
	if ((s->has & DP_SEL_IS_RDMA) && !vf->rdma)
		return false;
	if ((s->has & DP_SEL_PF_NAMES) &&
	    (!vf->pf_ifname[0] ||
	     !in_refs(s->pf_names, s->n_pf_names, vf->pf_ifname, vf->vf_index)))
		return false;
	if ((s->has & DP_SEL_ROOT_DEVICES) &&
	    !in_refs(s->root_devices, s->n_root_devices, vf->pf_bdf, vf->vf_index))
		return false;
	return true;
}

int dp_pool_match(const struct dp_pool *pool, const struct dp_vf *vf)
{
	for (size_t i = 0; i < pool->n_selectors; i++)
		if (dp_selector_match(&pool->selectors[i], vf))
			return (int)i;
	return -1;
}
