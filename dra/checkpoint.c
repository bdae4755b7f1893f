// SPDX-License-Identifier: Apache-2.0
/* The prepared-claims checkpoint: what prepare did, so repeats, restarts and unprepare agree. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra/internal.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

#define CKPT_MAX (16 << 20)

void dra_claim_done(struct dra_claim *c)
{
	free(c->devs);
	c->devs = NULL;
	c->n_devs = 0;
}

void dra_ckpt_free(struct dra *d)
{
	for (size_t i = 0; i < d->n_claims; i++)
		dra_claim_done(&d->claims[i]);
	free(d->claims);
	d->claims = NULL;
	d->n_claims = 0;
}

struct dra_claim *dra_ckpt_find(struct dra *d, const char *uid)
{
	for (size_t i = 0; i < d->n_claims; i++)
		if (!strcmp(d->claims[i].uid, uid))
			return &d->claims[i];
	return NULL;
}

static bool bdf_ok(const char *s)
{
	unsigned int a, b, c, f;
	int n = 0;
	return sscanf(s, "%4x:%2x:%2x.%1x%n", &a, &b, &c, &f, &n) == 4 && n == 12 &&
	       strlen(s) == 12;
}

/* Names read back from the file end up in paths and sysfs writes: same alphabet as written. */
static bool word_ok(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static int get_str(const cJSON *o, const char *key, const char *path, char *buf, size_t size,
		   bool empty_ok, const char *extra, struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(o, key, path, &s, NULL, err);
	if (r < 0)
		return r;
	if (!s || strlen(s) >= size || (*s && !word_ok(s, extra)) || (!*s && !empty_ok))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s.%s: missing or invalid",
				   path, key);
	snprintf(buf, size, "%s", s);
	return 0;
}

static int parse_dev(const cJSON *o, const char *path, struct dra_dev *dv, struct cni_err *err)
{
	bool vfio = false;
	int64_t grp = -1;
	char p1[96], p2[96];
	snprintf(p1, sizeof(p1), "%s.vfio", path);
	snprintf(p2, sizeof(p2), "%s.iommuGroup", path);
	int r = get_str(o, "request", path, dv->request, sizeof(dv->request), false, "-_/.", err);
	if (r >= 0)
		r = get_str(o, "pool", path, dv->pool, sizeof(dv->pool), false, "-.", err);
	if (r >= 0)
		r = get_str(o, "device", path, dv->device, sizeof(dv->device), false, "-", err);
	if (r >= 0)
		r = get_str(o, "bdf", path, dv->bdf, sizeof(dv->bdf), false, ":.", err);
	if (r >= 0)
		r = get_str(o, "resource", path, dv->resource, sizeof(dv->resource), false, "-_./",
			    err);
	if (r >= 0)
		r = get_str(o, "origDriver", path, dv->orig_driver, sizeof(dv->orig_driver), true,
			    "-_", err);
	if (r >= 0)
		r = json_get_bool(o, "vfio", p1, &vfio, NULL, err);
	if (r >= 0)
		r = json_get_int(o, "iommuGroup", p2, -1, INT32_MAX, &grp, NULL, err);
	if (r < 0)
		return r;
	if (!bdf_ok(dv->bdf))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s.bdf: bad PCI address",
				   path);
	dv->vfio = vfio;
	dv->iommu_group = (int)grp;
	return 0;
}

static int parse_claim(const cJSON *o, const char *path, struct dra_claim *c, struct cni_err *err)
{
	const cJSON *devs = NULL;
	int64_t state = 0;
	char p[64], ps[64], pd[64];
	snprintf(ps, sizeof(ps), "%s.state", path);
	snprintf(pd, sizeof(pd), "%s.devices", path);
	int r = get_str(o, "uid", path, c->uid, sizeof(c->uid), false, "-", err);
	if (r >= 0)
		r = get_str(o, "namespace", path, c->ns, sizeof(c->ns), false, "-", err);
	if (r >= 0)
		r = get_str(o, "name", path, c->name, sizeof(c->name), false, "-.", err);
	if (r >= 0)
		r = json_get_int(o, "state", ps, DRA_PREPARING, DRA_PREPARED, &state, NULL, err);
	if (r >= 0)
		r = json_get_array(o, "devices", pd, &devs, err);
	if (r < 0)
		return r;
	c->state = (enum dra_claim_state)state;
	size_t n = (size_t)cJSON_GetArraySize(devs);
	c->devs = xcalloc(n + 1, sizeof(*c->devs));
	const cJSON *it;
	cJSON_ArrayForEach (it, devs) {
		snprintf(p, sizeof(p), "%s.devices[%zu]", path, c->n_devs);
		r = parse_dev(it, p, &c->devs[c->n_devs], err);
		if (r < 0)
			return r;
		c->n_devs++;
	}
	return 0;
}

int dra_ckpt_parse(struct dra *d, const char *text, size_t len, struct cni_err *err)
{
	_cleanup_json_ cJSON *root = NULL;
	const cJSON *claims = NULL;
	int r = json_parse(text, len, "checkpoint", &root, err);
	if (r >= 0)
		r = json_get_array(root, "claims", "checkpoint.claims", &claims, err);
	if (r < 0)
		return r;
	const cJSON *it;
	cJSON_ArrayForEach (it, claims) {
		char p[48];
		struct dra_claim c = { 0 };
		snprintf(p, sizeof(p), "checkpoint.claims[%zu]", d->n_claims);
		r = parse_claim(it, p, &c, err);
		if (r < 0) {
			dra_claim_done(&c);
			dra_ckpt_free(d);
			return r;
		}
		d->claims = xrealloc(d->claims, (d->n_claims + 1) * sizeof(*d->claims));
		d->claims[d->n_claims++] = c;
	}
	return 0;
}

int dra_ckpt_load(struct dra *d, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(d->ckpt_path, CKPT_MAX, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "checkpoint '%s': %s", d->ckpt_path,
				   strerror(-r));
	r = dra_ckpt_parse(d, text, len, err);
	if (r < 0)
		return cni_err_wrap(err, "'%s'", d->ckpt_path);
	log_info("checkpoint '%s': %zu claim(s)", d->ckpt_path, d->n_claims);
	return 0;
}

int dra_ckpt_save(struct dra *d, struct cni_err *err)
{
	_cleanup_json_ cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "claims");
	for (size_t i = 0; i < d->n_claims; i++) {
		const struct dra_claim *c = &d->claims[i];
		cJSON *o = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(o, "uid", c->uid);
		(void)cJSON_AddStringToObject(o, "namespace", c->ns);
		(void)cJSON_AddStringToObject(o, "name", c->name);
		(void)cJSON_AddNumberToObject(o, "state", c->state);
		cJSON *devs = cJSON_AddArrayToObject(o, "devices");
		for (size_t k = 0; k < c->n_devs; k++) {
			const struct dra_dev *dv = &c->devs[k];
			cJSON *x = cJSON_CreateObject();
			(void)cJSON_AddStringToObject(x, "request", dv->request);
			(void)cJSON_AddStringToObject(x, "pool", dv->pool);
			(void)cJSON_AddStringToObject(x, "device", dv->device);
			(void)cJSON_AddStringToObject(x, "bdf", dv->bdf);
			(void)cJSON_AddStringToObject(x, "resource", dv->resource);
			(void)cJSON_AddStringToObject(x, "origDriver", dv->orig_driver);
			(void)cJSON_AddBoolToObject(x, "vfio", dv->vfio);
			(void)cJSON_AddNumberToObject(x, "iommuGroup", dv->iommu_group);
			cJSON_AddItemToArray(devs, x);
		}
		cJSON_AddItemToArray(arr, o);
	}
	_cleanup_free_ char *text = json_print(root);
	/* Durable: after a power loss the record must still say what to undo. */
	int r = file_write_durable(d->ckpt_path, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "checkpoint '%s': %s", d->ckpt_path,
				   strerror(-r));
	return 0;
}

static struct dra_claim claim_copy(const struct dra_claim *c)
{
	struct dra_claim x = *c;
	x.devs = xcalloc(c->n_devs + 1, sizeof(*x.devs));
	if (c->n_devs)
		memcpy(x.devs, c->devs, c->n_devs * sizeof(*x.devs));
	return x;
}

int dra_ckpt_put(struct dra *d, const struct dra_claim *c, struct cni_err *err)
{
	struct dra_claim *old = dra_ckpt_find(d, c->uid);
	struct dra_claim saved = { 0 };
	if (old) {
		saved = *old;
		*old = claim_copy(c);
	} else {
		d->claims = xrealloc(d->claims, (d->n_claims + 1) * sizeof(*d->claims));
		d->claims[d->n_claims++] = claim_copy(c);
	}
	int r = dra_ckpt_save(d, err);
	if (r < 0) {
		if (old) {
			dra_claim_done(old);
			*old = saved;
		} else {
			dra_claim_done(&d->claims[--d->n_claims]);
		}
		return r;
	}
	dra_claim_done(&saved);
	return 0;
}

int dra_ckpt_drop(struct dra *d, const char *uid, struct cni_err *err)
{
	struct dra_claim *c = dra_ckpt_find(d, uid);
	if (!c)
		return 0;
	struct dra_claim saved = *c;
	*c = d->claims[--d->n_claims];
	int r = dra_ckpt_save(d, err);
	if (r < 0) {
		/* Put it back: the record must stay while the file still has it. */
		d->claims = xrealloc(d->claims, (d->n_claims + 1) * sizeof(*d->claims));
		d->claims[d->n_claims++] = saved;
		return r;
	}
	dra_claim_done(&saved);
	return 0;
}
