// SPDX-License-Identifier: Apache-2.0
/* The node's pools as ResourceSlices (resource.k8s.io/v1): one pool per configured resource,
 * at most DRA_SLICE_MAX_DEVICES devices a slice, a new pool generation on every change. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra/internal.h"
#include "lib/json/json.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/list.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "lib/util/sysfs.h"

#define SLICES_PATH "/apis/resource.k8s.io/v1/resourceslices"
/* Attribute names of the NPWG's DRA integration, which Multus matches NADs against. */
#define ATTR_DEVICE_ID "k8s.cni.cncf.io/deviceID"
#define ATTR_RESOURCE "k8s.cni.cncf.io/resourceName"
/* The standard attribute for PCIe topology alignment (KEP-4381). */
#define ATTR_PCIE_ROOT "resource.kubernetes.io/pcieRoot"

void dra_device_name(const char *bdf, char *out)
{
	size_t i = 0;
	for (; bdf[i] && i < DP_BDF_MAX - 1; i++)
		out[i] = bdf[i] == ':' || bdf[i] == '.' ? '-' : bdf[i];
	out[i] = '\0';
}

int dra_pools_init(struct dra *d, struct cni_err *err)
{
	d->n_pools = d->cfg.n_pools;
	d->pools = xcalloc(d->n_pools + 1, sizeof(*d->pools));
	for (size_t p = 0; p < d->n_pools; p++) {
		struct dra_pool *dp = &d->pools[p];
		dp->cfg = &d->cfg.pools[p];
		dp->dirty = true;
		int n = snprintf(dp->name, sizeof(dp->name), "%s-%s", d->node, dp->cfg->name);
		for (char *c = dp->name; *c; c++)
			*c = *c == '_' ? '-' : (char)tolower((unsigned char)*c);
		if (n < 0 || (size_t)n >= sizeof(dp->name) || !kube_dns1123_subdomain(dp->name))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "resourceList[%zu]: pool name '%s' is not a DNS "
					   "subdomain",
					   p, dp->name);
		/* Its slices are named "<pool>-<driver>-<k>": they must fit a name too. */
		if (strlen(dp->name) + strlen(d->driver) + 6 > DRA_POOL_NAME_MAX)
			return cni_err_set(
				err, CNI_ERR_INVALID_CONFIG, ENAMETOOLONG,
				"resourceList[%zu]: pool '%s' and driver '%s' make slice "
				"names longer than %d characters",
				p, dp->name, d->driver, DRA_POOL_NAME_MAX);
		for (size_t q = 0; q < p; q++)
			if (!strcmp(d->pools[q].name, dp->name))
				return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						   "resourceList[%zu]: pool name '%s' also names "
						   "resourceList[%zu]",
						   p, dp->name, q);
	}
	return 0;
}

void dra_pools_free(struct dra *d)
{
	for (size_t p = 0; p < d->n_pools; p++) {
		free(d->pools[p].devs);
		free(d->pools[p].selector);
		free(d->pools[p].published);
	}
	free(d->pools);
	d->pools = NULL;
	d->n_pools = 0;
}

static void attr_str(cJSON *attrs, const char *name, const char *val)
{
	if (*val)
		(void)cJSON_AddStringToObject(cJSON_AddObjectToObject(attrs, name), "string", val);
}

static void attr_int(cJSON *attrs, const char *name, int val)
{
	(void)cJSON_AddNumberToObject(cJSON_AddObjectToObject(attrs, name), "int", val);
}

/* "pci0000:5e" from the device's place under /sys/devices; "" when not found. */
static void pcie_root(const char *bdf, char *out, size_t size)
{
	_cleanup_free_ char *link = sysfs_path("/sys/bus/pci/devices/%s", bdf);
	char real[PATH_MAX];
	out[0] = '\0';
	if (!realpath(link, real))
		return;
	const char *p = strstr(real, "/sys/devices/pci");
	if (p)
		snprintf(out, size, "%.*s", (int)strcspn(p + 13, "/"), p + 13);
}

static cJSON *device_json(const struct dra_pool *dp, const struct dp_vf *vf)
{
	char name[DP_BDF_MAX], root[64];
	cJSON *o = cJSON_CreateObject();
	dra_device_name(vf->bdf, name);
	(void)cJSON_AddStringToObject(o, "name", name);
	cJSON *a = cJSON_AddObjectToObject(o, "attributes");
	attr_str(a, "pciAddress", vf->bdf);
	attr_str(a, "pfPciAddress", vf->pf_bdf);
	attr_str(a, "pfName", vf->pf_ifname);
	attr_int(a, "vfIndex", vf->vf_index);
	attr_str(a, "vendor", vf->vendor);
	attr_str(a, "device", vf->device);
	attr_str(a, "driver", vf->driver);
	attr_str(a, "linkType", vf->link_type);
	if (vf->numa_node >= 0)
		attr_int(a, "numaNode", vf->numa_node);
	pcie_root(vf->bdf, root, sizeof(root));
	attr_str(a, ATTR_PCIE_ROOT, root);
	attr_str(a, ATTR_DEVICE_ID, vf->bdf);
	attr_str(a, ATTR_RESOURCE, dp->cfg->resource);
	return o;
}

/* The devices of slice k: the pool's healthy VFs (unhealthy ones are withdrawn). */
static cJSON *chunk_json(const struct dra_pool *dp, size_t k)
{
	cJSON *arr = cJSON_CreateArray();
	size_t seen = 0;
	for (size_t i = 0; i < dp->n_devs; i++) {
		if (!dp->devs[i].healthy)
			continue;
		if (seen++ / DRA_SLICE_MAX_DEVICES == k)
			cJSON_AddItemToArray(arr, device_json(dp, &dp->devs[i]));
	}
	return arr;
}

static size_t n_healthy(const struct dra_pool *dp)
{
	size_t n = 0;
	for (size_t i = 0; i < dp->n_devs; i++)
		n += dp->devs[i].healthy;
	return n;
}

static char *slice_name(const struct dra *d, const struct dra_pool *dp, size_t k)
{
	char *s = xasprintf("%s-%s-%zu", dp->name, d->driver, k);
	for (char *c = s; *c; c++)
		if (*c == '.')
			*c = '-';
	return s;
}

/* GET one slice: 0 with *ret (NULL when it does not exist). */
static int get_slice(const struct dra *d, const char *name, cJSON **ret, struct cni_err *err)
{
	_cleanup_free_ char *path = xasprintf(SLICES_PATH "/%s", name);
	_cleanup_free_ char *what = xasprintf("get resourceslices/%s", name);
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	struct kube_request req = { .method = "GET", .path = path, .what = what };
	int r = kube_request(d->kube, &req, &body, &len, err);
	*ret = NULL;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return json_parse(body, len, what, ret, err);
}

static int send_slice(const struct dra *d, const char *method, const char *name, const cJSON *obj,
		      struct cni_err *err)
{
	_cleanup_free_ char *path =
		!strcmp(method, "POST") ? xstrdup(SLICES_PATH) : xasprintf(SLICES_PATH "/%s", name);
	_cleanup_free_ char *what = xasprintf("%s resourceslices/%s", method, name);
	_cleanup_free_ char *text = obj ? json_print(obj) : NULL;
	struct kube_request req = { .method = method,
				    .path = path,
				    .content_type = text ? "application/json" : NULL,
				    .body = text,
				    .body_len = text ? strlen(text) : 0,
				    .what = what };
	return kube_request(d->kube, &req, NULL, NULL, err);
}

static int64_t slice_generation(const cJSON *s)
{
	const cJSON *g = json_get(json_get(json_get(s, "spec"), "pool"), "generation");
	return cJSON_IsNumber(g) ? (int64_t)g->valuedouble : 0;
}

/* The pool's devices as published text (one JSON array per slice, joined): what tells a
 * real change from a republish of the same list. */
static char *pool_key(const struct dra_pool *dp, size_t count)
{
	char *key = xstrdup("");
	for (size_t k = 0; k < count; k++) {
		_cleanup_json_ cJSON *arr = chunk_json(dp, k);
		_cleanup_free_ char *t = json_print(arr);
		char *n = xasprintf("%s%s\n", key, t);
		free(key);
		key = n;
	}
	return key;
}

struct sync_arg {
	const struct dra *d;
	const struct dra_pool *dp;
	size_t count;
};

/* In the API child: make the pool's slices in the API say what dp has. What is there now
 * decides: the slices' versions, the highest generation, and whether they already say exactly
 * this (a restart adopts them without a new generation). *ret = "<generation> <changed>". */
static int sync_pool(void *arg, char **ret, size_t *ret_len, struct cni_err *err)
{
	const struct sync_arg *a = arg;
	const struct dra *d = a->d;
	const struct dra_pool *dp = a->dp;
	size_t count = a->count;
	cJSON **cur = xcalloc(count + 1, sizeof(*cur));
	int64_t gen = dp->generation;
	bool same = true;
	int r = 0;
	for (size_t k = 0; k < count && r >= 0; k++) {
		_cleanup_free_ char *name = slice_name(d, dp, k);
		r = get_slice(d, name, &cur[k], err);
		if (r < 0 || !cur[k]) {
			same = false;
			continue;
		}
		int64_t g = slice_generation(cur[k]);
		const cJSON *spec = json_get(cur[k], "spec");
		_cleanup_json_ cJSON *want = chunk_json(dp, k);
		const cJSON *cnt = json_get(json_get(spec, "pool"), "resourceSliceCount");
		same = same && g == slice_generation(cur[0]) && cJSON_IsNumber(cnt) &&
		       (size_t)cnt->valuedouble == count &&
		       cJSON_Compare(json_get(spec, "devices"), want, true);
		if (g > gen)
			gen = g;
	}
	if (r >= 0 && !same)
		gen++;
	for (size_t k = 0; k < count && r >= 0 && !same; k++) {
		_cleanup_free_ char *name = slice_name(d, dp, k);
		_cleanup_json_ cJSON *obj = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(obj, "apiVersion", "resource.k8s.io/v1");
		(void)cJSON_AddStringToObject(obj, "kind", "ResourceSlice");
		cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
		(void)cJSON_AddStringToObject(meta, "name", name);
		const char *rv = kube_object_rv(cur[k]);
		if (rv)
			(void)cJSON_AddStringToObject(meta, "resourceVersion", rv);
		cJSON *spec = cJSON_AddObjectToObject(obj, "spec");
		(void)cJSON_AddStringToObject(spec, "driver", d->driver);
		(void)cJSON_AddStringToObject(spec, "nodeName", d->node);
		cJSON *pool = cJSON_AddObjectToObject(spec, "pool");
		(void)cJSON_AddStringToObject(pool, "name", dp->name);
		(void)cJSON_AddNumberToObject(pool, "generation", (double)gen);
		(void)cJSON_AddNumberToObject(pool, "resourceSliceCount", (double)count);
		cJSON_AddItemToObject(spec, "devices", chunk_json(dp, k));
		r = send_slice(d, cur[k] ? "PUT" : "POST", name, obj, err);
	}
	for (size_t k = 0; k < count; k++)
		cJSON_Delete(cur[k]);
	free(cur);
	/* Slices past the new count (the pool shrank) go, or consumers would see stale ones. */
	for (size_t k = count; r >= 0; k++) {
		_cleanup_free_ char *name = slice_name(d, dp, k);
		_cleanup_json_ cJSON *old = NULL;
		r = get_slice(d, name, &old, err);
		if (r < 0 || !old)
			break;
		r = send_slice(d, "DELETE", name, NULL, err);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0)
		return r;
	*ret = xasprintf("%lld %d", (long long)gen, !same);
	*ret_len = strlen(*ret);
	return 0;
}

static int publish_pool(struct dra *d, struct dra_pool *dp, struct cni_err *err)
{
	size_t n = n_healthy(dp);
	size_t count = n ? (n + DRA_SLICE_MAX_DEVICES - 1) / DRA_SLICE_MAX_DEVICES : 1;
	_cleanup_free_ char *key = pool_key(dp, count);
	if (dp->published && !strcmp(key, dp->published)) {
		dp->dirty = false;
		return 0;
	}
	struct sync_arg a = { .d = d, .dp = dp, .count = count };
	_cleanup_free_ char *out = NULL;
	long long gen = 0;
	int changed = 0;
	int r = dra_api_run(sync_pool, &a, &out, NULL, err);
	if (r < 0)
		return cni_err_wrap(err, "pool '%s'", dp->name);
	if (sscanf(out, "%lld %d", &gen, &changed) != 2)
		return cni_err_set(err, CNI_ERR_INTERNAL, EIO, "pool '%s': bad answer", dp->name);
	if (changed)
		log_info("pool '%s': published %zu device(s) in %zu slice(s), generation %lld",
			 dp->name, n, count, gen);
	free(dp->published);
	dp->published = TAKE_PTR(key);
	dp->generation = gen;
	dp->dirty = false;
	return 0;
}

/* Slices of this node and driver whose pool is no longer configured (a config change while
 * the driver was down) would offer devices nobody prepares: delete them. */
static int prune(void *arg, char **ret, size_t *ret_len, struct cni_err *err)
{
	const struct dra *d = arg;
	(void)ret, (void)ret_len;
	_cleanup_free_ char *field =
		xasprintf("spec.nodeName=%s,spec.driver=%s", d->node, d->driver);
	_cleanup_json_ cJSON *items = NULL;
	_cleanup_free_ char *rv = NULL;
	int r = kube_list(d->kube, SLICES_PATH, &(struct kube_selectors){ .field = field }, 0,
			  &items, &rv, err);
	const cJSON *it;
	cJSON_ArrayForEach (it, items) {
		const cJSON *name = json_get(json_get(it, "metadata"), "name");
		const cJSON *pool = json_get(json_get(json_get(it, "spec"), "pool"), "name");
		const cJSON *node = json_get(json_get(it, "spec"), "nodeName");
		const cJSON *drv = json_get(json_get(it, "spec"), "driver");
		bool ours = false;
		if (r < 0 || !cJSON_IsString(name) || !cJSON_IsString(pool) ||
		    !cJSON_IsString(node) || !cJSON_IsString(drv) ||
		    !kube_dns1123_subdomain(name->valuestring))
			continue;
		/* The selector is the server's business; check again what we delete. */
		if (strcmp(node->valuestring, d->node) || strcmp(drv->valuestring, d->driver))
			continue;
		for (size_t p = 0; p < d->n_pools && !ours; p++)
			ours = !strcmp(d->pools[p].name, pool->valuestring);
		if (ours)
			continue;
		r = send_slice(d, "DELETE", name->valuestring, NULL, err);
		if (r == -ENOENT)
			r = 0;
		if (r >= 0)
			log_info("deleted slice '%s' of pool '%s': pool not configured",
				 name->valuestring, pool->valuestring);
	}
	return r;
}

int dra_slices_publish(struct dra *d, struct cni_err *err)
{
	int ret = 0;
	if (!d->kube)
		return 0;
	if (!d->pruned) {
		if (dra_api_run(prune, d, NULL, NULL, err) < 0)
			return cni_err_wrap(err, "stale slices");
		d->pruned = true;
	}
	for (size_t p = 0; p < d->n_pools; p++) {
		struct cni_err e = { 0 };
		if (!d->pools[p].dirty)
			continue;
		/* The plugin thread only reads the lists; this thread is their only writer. */
		if (publish_pool(d, &d->pools[p], &e) < 0 && ret == 0) {
			*err = e;
			ret = -EAGAIN;
		}
	}
	return ret;
}
