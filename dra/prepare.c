// SPDX-License-Identifier: Apache-2.0
/* NodePrepareResources / NodeUnprepareResources for one claim: read its allocation from the
 * API, check it, apply its opaque config (vfio-pci), write device-info and CDI specs. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device-plugin/devinfo.h"
#include "dra/internal.h"
#include "lib/json/json.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/sysfs.h"

#define CDI_CLASS "vf"
#define CDI_VERSION "0.5.0"
#define VFIO_DRIVER "vfio-pci"

/* ---- CDI names (container-device-interface parser rules) ------------------------------ */

static bool cdi_chars(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

bool dra_cdi_vendor_ok(const char *s)
{
	size_t n = strlen(s);
	return n && isalpha((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]) &&
	       cdi_chars(s, "-_.");
}

bool dra_cdi_class_ok(const char *s)
{
	size_t n = strlen(s);
	return n && isalpha((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]) &&
	       cdi_chars(s, "-_");
}

bool dra_cdi_device_ok(const char *s)
{
	size_t n = strlen(s);
	return n && isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]) &&
	       cdi_chars(s, "-_.:");
}

char *dra_cdi_id(const struct dra *d, const char *uid, const struct dra_dev *dev)
{
	return xasprintf("%s/" CDI_CLASS "=%s-%s", d->driver, uid, dev->device);
}

static char *cdi_spec_path(const struct dra *d, const char *uid)
{
	return xasprintf("%s/%s-%s.json", d->cdi_dir, d->driver, uid);
}

/* One spec per claim: its devices, vfio nodes for vfio-pci VFs, the VF's address in env. */
static int write_cdi(const struct dra *d, const struct dra_claim *c, struct cni_err *err)
{
	_cleanup_json_ cJSON *spec = cJSON_CreateObject();
	_cleanup_free_ char *kind = xasprintf("%s/" CDI_CLASS, d->driver);
	(void)cJSON_AddStringToObject(spec, "cdiVersion", CDI_VERSION);
	(void)cJSON_AddStringToObject(spec, "kind", kind);
	cJSON *devs = cJSON_AddArrayToObject(spec, "devices");
	for (size_t i = 0; i < c->n_devs; i++) {
		const struct dra_dev *dv = &c->devs[i];
		_cleanup_free_ char *name = xasprintf("%s-%s", c->uid, dv->device);
		if (!dra_cdi_device_ok(name))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "CDI device name '%s' is invalid", name);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(devs, o);
		(void)cJSON_AddStringToObject(o, "name", name);
		cJSON *edits = cJSON_AddObjectToObject(o, "containerEdits");
		_cleanup_free_ char *env = xasprintf("PCIDEVICE_%s=%s", dv->device, dv->bdf);
		for (char *p = env + 10; *p != '='; p++)
			*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(edits, "env"), cJSON_CreateString(env));
		if (!dv->vfio)
			continue;
		cJSON *nodes = cJSON_AddArrayToObject(edits, "deviceNodes");
		_cleanup_free_ char *grp = xasprintf("/dev/vfio/%d", dv->iommu_group);
		const char *paths[] = { "/dev/vfio/vfio", grp };
		for (size_t k = 0; k < ARRAY_SIZE(paths); k++) {
			cJSON *n = cJSON_CreateObject();
			(void)cJSON_AddStringToObject(n, "path", paths[k]);
			cJSON_AddItemToArray(nodes, n);
		}
	}
	_cleanup_free_ char *text = json_print(spec);
	_cleanup_free_ char *path = cdi_spec_path(d, c->uid);
	int r = file_mkdir_p(d->cdi_dir, 0755);
	if (r >= 0)
		r = file_write_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "CDI spec '%s': %s", path, strerror(-r));
	return 0;
}

/* ---- sysfs driver binding ---------------------------------------------------------------- */

static int sysfs_put(const char *path, const char *val, struct cni_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0200);
	int r = fd < 0 ? -errno : file_write_all(fd, val, strlen(val));
	if (r < 0)
		return cni_err_set(err, CNI_ERR_DEVICE, -r, "write '%s' to '%s': %s", val, path,
				   strerror(-r));
	return 0;
}

/* Hand the VF to `driver` through driver_override ("" restores the default match). */
static int rebind(const char *bdf, const char *driver, bool probe, struct cni_err *err)
{
	_cleanup_free_ char *ovr = sysfs_path("/sys/bus/pci/devices/%s/driver_override", bdf);
	_cleanup_free_ char *link = sysfs_path("/sys/bus/pci/devices/%s/driver", bdf);
	_cleanup_free_ char *unbind = sysfs_path("/sys/bus/pci/devices/%s/driver/unbind", bdf);
	_cleanup_free_ char *probe_path = sysfs_path("/sys/bus/pci/drivers_probe");
	int r = sysfs_put(ovr, *driver ? driver : "\n", err);
	if (r >= 0 && sysfs_exists(link))
		r = sysfs_put(unbind, bdf, err);
	if (r >= 0 && probe)
		r = sysfs_put(probe_path, bdf, err);
	if (r < 0 || !*driver || !sysfs_root_is_real())
		return r;
	/* A fake tree (tests) has no kernel behind it to move the link. */
	_cleanup_free_ char *now = NULL;
	if (sysfs_link_basename(link, &now) < 0 || strcmp(now, driver))
		return cni_err_set(err, CNI_ERR_DEVICE, EIO,
				   "vf '%s': not bound to '%s' after probe", bdf, driver);
	return 0;
}

/* ---- undo -------------------------------------------------------------------------------- */

/* Undo everything prepare may have done for c (each step idempotent); first error wins but
 * every step runs. */
static int undo(const struct dra *d, const struct dra_claim *c, struct cni_err *err)
{
	int ret = 0;
	for (size_t i = 0; i < c->n_devs; i++) {
		const struct dra_dev *dv = &c->devs[i];
		struct cni_err e = { 0 };
		_cleanup_free_ char *info = dp_devinfo_path(d->devinfo_dir, dv->resource, dv->bdf);
		if (unlink(info) < 0 && errno != ENOENT && ret == 0)
			ret = cni_err_set(err, CNI_ERR_IO, errno, "device-info '%s': %s", info,
					  strerror(errno));
		if (dv->vfio && strcmp(dv->orig_driver, VFIO_DRIVER) &&
		    rebind(dv->bdf, "", *dv->orig_driver, &e) < 0 && ret == 0) {
			*err = e;
			ret = -EIO;
		}
	}
	_cleanup_free_ char *cdi = cdi_spec_path(d, c->uid);
	if (unlink(cdi) < 0 && errno != ENOENT && ret == 0)
		ret = cni_err_set(err, CNI_ERR_IO, errno, "CDI spec '%s': %s", cdi,
				  strerror(errno));
	return ret;
}

/* ---- the plan: what the claim's allocation asks of this driver --------------------------- */

/* The VF named `device` of our pool `pool` (copied), with its selector. */
static int find_device(struct dra *d, const char *pool, const char *device, struct dp_vf *ret,
		       const struct dra_pool **ret_pool, int *ret_sel, struct cni_err *err)
{
	int r = -ENOENT;
	(void)pthread_mutex_lock(&d->lock);
	for (size_t p = 0; p < d->n_pools && r == -ENOENT; p++) {
		if (strcmp(d->pools[p].name, pool))
			continue;
		r = -ENODEV;
		for (size_t i = 0; i < d->pools[p].n_devs; i++) {
			char name[DP_BDF_MAX];
			dra_device_name(d->pools[p].devs[i].bdf, name);
			if (strcmp(name, device))
				continue;
			*ret = d->pools[p].devs[i];
			*ret_pool = &d->pools[p];
			*ret_sel = d->pools[p].selector[i];
			r = 0;
			break;
		}
	}
	(void)pthread_mutex_unlock(&d->lock);
	if (r == -ENOENT)
		return cni_err_set(err, CNI_ERR_DEVICE, ENOENT,
				   "pool '%s' is not one of driver '%s' on node '%s'", pool,
				   d->driver, d->node);
	if (r == -ENODEV)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV, "device '%s' not in pool '%s'",
				   device, pool);
	return 0;
}

static bool selector_allows_vfio(const struct dp_selector *sel)
{
	if (!(sel->has & DP_SEL_DRIVERS))
		return false;
	for (char **p = sel->drivers; *p; p++)
		if (!strcmp(*p, VFIO_DRIVER))
			return true;
	return false;
}

/* Whether a config entry's `requests` names this result's request ("req" also covers the
 * sub-requests "req/sub" of a firstAvailable request); an empty list means all. */
static bool config_applies(const cJSON *requests, const char *request)
{
	if (!cJSON_GetArraySize(requests))
		return true;
	size_t main_len = strcspn(request, "/");
	const cJSON *it;
	cJSON_ArrayForEach (it, requests) {
		if (!cJSON_IsString(it))
			continue;
		if (!strcmp(it->valuestring, request) ||
		    (strlen(it->valuestring) == main_len &&
		     !strncmp(it->valuestring, request, main_len)))
			return true;
	}
	return false;
}

/* The opaque parameters of one config entry: {"driver": "vfio-pci"} is the only setting. */
static int config_params(const cJSON *params, const char *path, bool *ret_vfio, struct cni_err *err)
{
	const char *drv = NULL;
	if (!cJSON_IsObject(params))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: expected an object",
				   path);
	const cJSON *it;
	cJSON_ArrayForEach (it, params) {
		if (strcmp(it->string, "driver"))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s.%s: unknown key", path, it->string);
	}
	int r = json_get_string(params, "driver", path, &drv, NULL, err);
	if (r < 0)
		return r;
	if (drv && *drv && strcmp(drv, VFIO_DRIVER))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s.driver: '%s' is not supported (only '" VFIO_DRIVER
				   "' or empty)",
				   path, drv);
	*ret_vfio = drv && !strcmp(drv, VFIO_DRIVER);
	return 0;
}

static int get_name(const cJSON *o, const char *key, const char *path, size_t max, const char **ret,
		    struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(o, key, path, &s, NULL, err);
	if (r < 0)
		return r;
	if (!s || !*s || strlen(s) >= max)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "%s.%s: missing or too long", path,
				   key);
	*ret = s;
	return 0;
}

int dra_plan(struct dra *d, const cJSON *claim, struct dra_claim *c, struct cni_err *err)
{
	const cJSON *meta = NULL, *status = NULL, *alloc = NULL, *devices = NULL, *results = NULL,
		    *configs = NULL;
	const char *uid = NULL;
	int r = json_get_object(claim, "metadata", "claim", &meta, err);
	if (r >= 0)
		r = json_get_string(meta, "uid", "metadata", &uid, NULL, err);
	if (r < 0)
		return r;
	if (!uid || strcmp(uid, c->uid))
		return cni_err_set(err, CNI_ERR_DEVICE, ESTALE,
				   "uid '%s' is not the claim's ('%s'): it was recreated", c->uid,
				   uid ? uid : "");
	r = json_get_object(claim, "status", "claim", &status, err);
	if (r >= 0)
		r = json_get_object(status, "allocation", "status", &alloc, err);
	if (r >= 0 && !alloc)
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "not allocated");
	if (r >= 0)
		r = json_get_object(alloc, "devices", "status.allocation", &devices, err);
	if (r >= 0)
		r = json_get_array(devices, "results", "status.allocation.devices", &results, err);
	if (r >= 0)
		r = json_get_array(devices, "config", "status.allocation.devices", &configs, err);
	if (r < 0)
		return r;

	c->devs = xcalloc((size_t)cJSON_GetArraySize(results) + 1, sizeof(*c->devs));
	int idx = -1;
	const cJSON *res;
	cJSON_ArrayForEach (res, results) {
		char path[64];
		const char *drv = NULL, *pool = NULL, *device = NULL, *request = NULL;
		snprintf(path, sizeof(path), "status.allocation.devices.results[%d]", ++idx);
		r = get_name(res, "driver", path, 64, &drv, err);
		if (r < 0)
			return r;
		if (strcmp(drv, d->driver))
			continue; /* another driver's device in the same claim */
		r = get_name(res, "pool", path, DRA_POOL_NAME_MAX + 1, &pool, err);
		if (r >= 0)
			r = get_name(res, "device", path, DP_BDF_MAX, &device, err);
		if (r >= 0)
			r = get_name(res, "request", path, 64, &request, err);
		if (r < 0)
			return r;
		/* It goes into the checkpoint, which refuses other characters when read back. */
		if (strspn(request, "abcdefghijklmnopqrstuvwxyz0123456789-/") != strlen(request))
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "%s.request: invalid name '%s'", path, request);
		struct dp_vf vf;
		const struct dra_pool *dp = NULL;
		int sel = -1;
		r = find_device(d, pool, device, &vf, &dp, &sel, err);
		if (r < 0)
			return cni_err_wrap(err, "request '%s'", request);
		struct dra_dev *dv = &c->devs[c->n_devs++];
		snprintf(dv->request, sizeof(dv->request), "%s", request);
		snprintf(dv->pool, sizeof(dv->pool), "%s", pool);
		snprintf(dv->device, sizeof(dv->device), "%s", device);
		snprintf(dv->bdf, sizeof(dv->bdf), "%s", vf.bdf);
		snprintf(dv->resource, sizeof(dv->resource), "%s", dp->cfg->resource);
		snprintf(dv->orig_driver, sizeof(dv->orig_driver), "%s", vf.driver);
		dv->iommu_group = vf.iommu_group;

		/* Class config first, then the claim's: a later entry wins (the API's order). */
		bool vfio = !strcmp(vf.driver, VFIO_DRIVER);
		int k = -1;
		const cJSON *cfg;
		cJSON_ArrayForEach (cfg, configs) {
			char cpath[64];
			const cJSON *opaque = json_get(cfg, "opaque");
			const cJSON *reqs = json_get(cfg, "requests");
			const cJSON *odrv = json_get(opaque, "driver");
			snprintf(cpath, sizeof(cpath),
				 "status.allocation.devices.config[%d].opaque.parameters", ++k);
			if (!cJSON_IsString(odrv) || strcmp(odrv->valuestring, d->driver) ||
			    !config_applies(reqs, request))
				continue;
			r = config_params(json_get(opaque, "parameters"), cpath, &vfio, err);
			if (r < 0)
				return r;
		}
		if (vfio && strcmp(vf.driver, VFIO_DRIVER) &&
		    !selector_allows_vfio(&dp->cfg->selectors[sel]))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EPERM,
					   "request '%s': driver '" VFIO_DRIVER
					   "' not allowed on pool '%s' (its selector does not list "
					   "it in drivers)",
					   request, pool);
		if (vfio && vf.iommu_group < 0)
			return cni_err_set(err, CNI_ERR_DEVICE, ENODEV,
					   "request '%s': vf '%s' is in no iommu group", request,
					   vf.bdf);
		dv->vfio = vfio;
	}
	if (!c->n_devs)
		return cni_err_set(err, CNI_ERR_DEVICE, ENOENT,
				   "no device of driver '%s' in the allocation", d->driver);
	return 0;
}

struct fetch_arg {
	const struct kube_config *kube;
	const char *ns, *name;
};

/* In the API child: GET the claim, its body to *ret. */
static int fetch_body(void *arg, char **ret, size_t *ret_len, struct cni_err *err)
{
	const struct fetch_arg *a = arg;
	_cleanup_free_ char *path = xasprintf(
		"/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s", a->ns, a->name);
	_cleanup_free_ char *what = xasprintf("get resourceclaims/%s/%s", a->ns, a->name);
	struct kube_request req = { .method = "GET", .path = path, .what = what };
	return kube_request(a->kube, &req, ret, ret_len, err);
}

static int fetch_claim(struct dra *d, const char *ns, const char *name, cJSON **ret,
		       struct cni_err *err)
{
	if (!d->kube)
		return cni_err_set(err, CNI_ERR_KUBE_API, ENOTCONN, "no Kubernetes API configured");
	int r = kube_check_names(ns, name, false, "resourceclaim", err);
	if (r < 0)
		return r;
	struct fetch_arg a = { .kube = d->kube, .ns = ns, .name = name };
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	r = dra_api_run(fetch_body, &a, &body, &len, err);
	if (r >= 0)
		r = json_parse(body, len, "resourceclaim", ret, err);
	return r;
}

static bool uid_ok(const char *s)
{
	size_t n = strlen(s);
	return n && n < 64 && strspn(s, "0123456789abcdefABCDEF-") == n;
}

/* ---- the two calls ----------------------------------------------------------------------- */

static int apply(struct dra *d, const struct dra_claim *c, struct cni_err *err)
{
	for (size_t i = 0; i < c->n_devs; i++) {
		const struct dra_dev *dv = &c->devs[i];
		struct dp_vf vf = { 0 };
		snprintf(vf.bdf, sizeof(vf.bdf), "%s", dv->bdf);
		(void)pthread_mutex_lock(&d->lock);
		for (size_t p = 0; p < d->n_pools; p++)
			for (size_t k = 0; k < d->pools[p].n_devs; k++)
				if (!strcmp(d->pools[p].devs[k].bdf, dv->bdf))
					vf = d->pools[p].devs[k];
		(void)pthread_mutex_unlock(&d->lock);
		if (dv->vfio && strcmp(dv->orig_driver, VFIO_DRIVER)) {
			int r = rebind(dv->bdf, VFIO_DRIVER, true, err);
			if (r < 0)
				return r;
		}
		if (dv->vfio) {
			_cleanup_free_ char *node = sysfs_path("/dev/vfio/%d", dv->iommu_group);
			if (!sysfs_exists(node))
				return cni_err_set(err, CNI_ERR_DEVICE, ENODEV,
						   "vf '%s': '%s' missing after the vfio-pci bind",
						   dv->bdf, node);
		}
		int r = dp_devinfo_write(d->devinfo_dir, dv->resource, &vf, err);
		if (r < 0)
			return r;
	}
	return write_cdi(d, c, err);
}

int dra_prepare(struct dra *d, const char *ns, const char *uid, const char *name,
		const struct dra_claim **ret, struct cni_err *err)
{
	struct dra_claim *old = dra_ckpt_find(d, uid);
	if (old && old->state == DRA_PREPARED) {
		*ret = old; /* a repeated call (kubelet retries, restarts): same answer */
		return 0;
	}
	if (!uid_ok(uid))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "invalid claim uid '%s'",
				   uid);
	_cleanup_json_ cJSON *obj = NULL;
	int r = fetch_claim(d, ns, name, &obj, err);
	if (r < 0)
		return r;
	struct dra_claim c = { .state = DRA_PREPARING };
	snprintf(c.uid, sizeof(c.uid), "%s", uid);
	snprintf(c.ns, sizeof(c.ns), "%s", ns);
	snprintf(c.name, sizeof(c.name), "%s", name);
	r = dra_plan(d, obj, &c, err);
	if (r < 0)
		goto out;
	/* An interrupted earlier attempt bound the VF already: its original driver stands. */
	for (size_t i = 0; old && i < c.n_devs; i++)
		for (size_t k = 0; k < old->n_devs; k++)
			if (!strcmp(old->devs[k].bdf, c.devs[i].bdf) && old->devs[k].vfio)
				memcpy(c.devs[i].orig_driver, old->devs[k].orig_driver,
				       sizeof(c.devs[i].orig_driver));
	/* Intent first: a crash from here on leaves a record that unprepare can undo. */
	r = dra_ckpt_put(d, &c, err);
	if (r < 0)
		goto out;
	r = apply(d, &c, err);
	if (r < 0) {
		struct cni_err e2 = { 0 };
		if (undo(d, &c, &e2) < 0 || dra_ckpt_drop(d, uid, &e2) < 0)
			log_warning("undoing claim '%s/%s': %s, ignoring", ns, name, e2.msg);
		goto out;
	}
	c.state = DRA_PREPARED;
	r = dra_ckpt_put(d, &c, err);
	if (r >= 0)
		*ret = dra_ckpt_find(d, uid);
out:
	dra_claim_done(&c);
	return r;
}

int dra_unprepare(struct dra *d, const char *uid, struct cni_err *err)
{
	struct dra_claim *c = dra_ckpt_find(d, uid);
	if (!c)
		return 0; /* never prepared here, or already unprepared */
	int r = undo(d, c, err);
	if (r < 0)
		return r;
	return dra_ckpt_drop(d, uid, err);
}
