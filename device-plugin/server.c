// SPDX-License-Identifier: Apache-2.0
/* The DevicePlugin service of one pool: options, ListAndWatch, Allocate, preferred allocation. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device-plugin/internal.h"
#include "lib/metrics/metrics.h"
#include "lib/grpc/proto/deviceplugin_v1beta1.pb-c.h"
#include "lib/grpc/server.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/sysfs.h"

#define DP_SVC "/v1beta1.DevicePlugin/"

char *dp_env_name(const char *resource)
{
	char *s = xasprintf("PCIDEVICE_%s", resource);
	for (char *c = s + 10; *c; c++)
		*c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
	return s;
}

#define PACK(type, msg, ret, ret_len)                                 \
	do {                                                          \
		*(ret_len) = v1beta1__##type##__get_packed_size(msg); \
		*(ret) = xmalloc(*(ret_len) ? *(ret_len) : 1);        \
		(void)v1beta1__##type##__pack(msg, *(ret));           \
	} while (0)

static int get_options(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		       size_t *ret_len, struct cni_err *err)
{
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	(void)ud, (void)req, (void)req_len, (void)err;
	o.get_preferred_allocation_available = 1;
	PACK(device_plugin_options, &o, ret_resp, ret_len);
	return 0;
}

static int pre_start(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		     size_t *ret_len, struct cni_err *err)
{
	V1beta1__PreStartContainerResponse o = V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;
	(void)ud, (void)req, (void)req_len, (void)err;
	PACK(pre_start_container_response, &o, ret_resp, ret_len);
	return 0;
}

/* Pack the pool's current devices; the caller holds ps->lock. */
static void send_devices(struct dp_pool_srv *ps, struct dp_watch *w)
{
	size_t n = ps->n_devs;
	V1beta1__Device *devs = xcalloc(n + 1, sizeof(*devs));
	V1beta1__Device **pdevs = xcalloc(n + 1, sizeof(*pdevs));
	V1beta1__TopologyInfo *topo = xcalloc(n + 1, sizeof(*topo));
	V1beta1__NUMANode *numa = xcalloc(n + 1, sizeof(*numa));
	V1beta1__NUMANode **pnuma = xcalloc(n + 1, sizeof(*pnuma));
	V1beta1__ListAndWatchResponse m = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;

	for (size_t i = 0; i < n; i++) {
		const struct dp_vf *vf = &ps->devs[i];
		v1beta1__device__init(&devs[i]);
		devs[i].id = (char *)vf->bdf;
		devs[i].health = (char *)(vf->healthy ? "Healthy" : "Unhealthy");
		if (!ps->pool->exclude_topology && vf->numa_node >= 0) {
			v1beta1__topology_info__init(&topo[i]);
			v1beta1__numanode__init(&numa[i]);
			numa[i].id = vf->numa_node;
			pnuma[i] = &numa[i];
			topo[i].n_nodes = 1;
			topo[i].nodes = &pnuma[i];
			devs[i].topology = &topo[i];
		}
		pdevs[i] = &devs[i];
	}
	m.n_devices = n;
	m.devices = pdevs;
	uint8_t *buf = NULL;
	size_t len = 0;
	PACK(list_and_watch_response, &m, &buf, &len);
	if (gr_stream_send(w->st, buf, len) == 0)
		w->sent_gen = ps->gen;
	free(buf);
	free(pnuma);
	free(numa);
	free(topo);
	free(pdevs);
	free(devs);
}

static int list_and_watch(void *ud, struct gr_stream *st, const uint8_t *req, size_t req_len,
			  struct cni_err *err)
{
	struct dp_pool_srv *ps = ud;
	(void)req, (void)req_len, (void)err;
	ps->watches = xrealloc(ps->watches, (ps->n_watches + 1) * sizeof(*ps->watches));
	struct dp_watch *w = &ps->watches[ps->n_watches++];
	*w = (struct dp_watch){ .st = st };
	(void)pthread_mutex_lock(&ps->lock);
	send_devices(ps, w);
	(void)pthread_mutex_unlock(&ps->lock);
	metrics_set(dp_mx.streams, (double)ps->n_watches, ps->pool->resource);
	log_debug("'%s': ListAndWatch started", ps->pool->resource);
	return 0;
}

static void law_closed(void *ud, struct gr_stream *st)
{
	struct dp_pool_srv *ps = ud;
	for (size_t i = 0; i < ps->n_watches; i++)
		if (ps->watches[i].st == st) {
			ps->watches[i] = ps->watches[--ps->n_watches];
			break;
		}
	metrics_set(dp_mx.streams, (double)ps->n_watches, ps->pool->resource);
}

static void on_wake(void *ud)
{
	struct dp_pool_srv *ps = ud;
	(void)pthread_mutex_lock(&ps->lock);
	for (size_t i = 0; i < ps->n_watches; i++)
		if (ps->watches[i].sent_gen != ps->gen)
			send_devices(ps, &ps->watches[i]);
	(void)pthread_mutex_unlock(&ps->lock);
}

void dp_pool_publish(struct dp_pool_srv *ps, const struct dp_vf *devs, const int *selector,
		     size_t n)
{
	(void)pthread_mutex_lock(&ps->lock);
	bool same = n == ps->n_devs && (!n || (!memcmp(devs, ps->devs, n * sizeof(*devs)) &&
					       !memcmp(selector, ps->selector, n * sizeof(int))));
	if (!same) {
		free(ps->devs);
		free(ps->selector);
		ps->devs = n ? xmalloc(n * sizeof(*devs)) : NULL;
		ps->selector = n ? xmalloc(n * sizeof(int)) : NULL;
		if (n) {
			memcpy(ps->devs, devs, n * sizeof(*devs));
			memcpy(ps->selector, selector, n * sizeof(int));
		}
		ps->n_devs = n;
		ps->gen++;
	}
	(void)pthread_mutex_unlock(&ps->lock);
	if (!same && ps->srv)
		gr_server_wake(ps->srv);
}

/* ---- Allocate ---------------------------------------------------------------------------- */

struct alloc_dev {
	struct dp_vf vf;
	bool vhost;
};

/* Owned strings of one container response. */
struct cresp {
	V1beta1__ContainerAllocateResponse r;
	V1beta1__ContainerAllocateResponse__EnvsEntry env[2], *penv[2];
	V1beta1__DeviceSpec *specs;
	V1beta1__DeviceSpec **pspecs;
	char **strs; /* everything we allocated for the messages */
	size_t n_strs;
};

static char *keep(struct cresp *c, char *s)
{
	c->strs = xrealloc(c->strs, (c->n_strs + 1) * sizeof(*c->strs));
	c->strs[c->n_strs++] = s;
	return s;
}

static int add_spec(struct cresp *c, const char *path, struct cni_err *err)
{
	for (size_t i = 0; i < c->r.n_devices; i++)
		if (!strcmp(c->specs[i].host_path, path))
			return 0;
	_cleanup_free_ char *check = sysfs_path("%s", path);
	if (!sysfs_exists(check))
		return cni_err_set(err, CNI_ERR_DEVICE, EBUSY, "device node '%s' missing", check);
	size_t n = c->r.n_devices;
	c->specs = xrealloc(c->specs, (n + 1) * sizeof(*c->specs));
	V1beta1__DeviceSpec *s = &c->specs[n];
	v1beta1__device_spec__init(s);
	s->container_path = keep(c, xstrdup(path));
	s->host_path = s->container_path;
	s->permissions = (char *)"mrw";
	c->r.n_devices = n + 1;
	return 0;
}

static int container_response(const struct dp_pool_srv *ps, const struct alloc_dev *devs, size_t n,
			      struct cresp *c, struct cni_err *err)
{
	_cleanup_json_ cJSON *info = cJSON_CreateObject();
	size_t len = 1;
	int r;

	v1beta1__container_allocate_response__init(&c->r);
	for (size_t i = 0; i < n; i++)
		len += strlen(devs[i].vf.bdf) + 1;
	char *ids = keep(c, xcalloc(1, len));
	for (size_t i = 0; i < n; i++) {
		const struct dp_vf *vf = &devs[i].vf;
		if (i)
			strcat(ids, ",");
		strcat(ids, vf->bdf);
		cJSON_AddItemToObject(info, vf->bdf, dp_devinfo_json(vf));
		if (dp_driver_is_vfio(vf)) {
			if (vf->iommu_group < 0)
				return cni_err_set(
					err, CNI_ERR_DEVICE, EBUSY,
					"vf '%s': bound to vfio-pci but in no iommu group",
					vf->bdf);
			_cleanup_free_ char *grp = xasprintf("/dev/vfio/%d", vf->iommu_group);
			r = add_spec(c, "/dev/vfio/vfio", err);
			if (r >= 0)
				r = add_spec(c, grp, err);
			if (r < 0)
				return r;
		} else if (dp_driver_is_uio(vf)) {
			_cleanup_free_ char *uio =
				sysfs_path("/sys/bus/pci/devices/%s/uio", vf->bdf);
			_cleanup_free_ char *name = NULL;
			if (sysfs_dir_single(uio, &name) < 0)
				return cni_err_set(err, CNI_ERR_DEVICE, EBUSY,
						   "vf '%s': bound to '%s' but has no uio device",
						   vf->bdf, vf->driver);
			_cleanup_free_ char *dev = xasprintf("/dev/%s", name);
			r = add_spec(c, dev, err);
			if (r < 0)
				return r;
		}
		if (devs[i].vhost) {
			r = add_spec(c, "/dev/vhost-net", err);
			if (r >= 0)
				r = add_spec(c, "/dev/net/tun", err);
			if (r < 0)
				return r;
		}
		r = dp_devinfo_write(ps->devinfo_dir, ps->pool->resource, vf, err);
		if (r < 0)
			return r;
	}
	char *env = keep(c, dp_env_name(ps->pool->resource));
	for (int k = 0; k < 2; k++) {
		v1beta1__container_allocate_response__envs_entry__init(&c->env[k]);
		c->penv[k] = &c->env[k];
	}
	c->env[0].key = env;
	c->env[0].value = ids;
	c->env[1].key = keep(c, xasprintf("%s_INFO", env));
	c->env[1].value = keep(c, json_print(info));
	c->r.n_envs = 2;
	c->r.envs = c->penv;
	c->pspecs = xcalloc(c->r.n_devices + 1, sizeof(*c->pspecs));
	for (size_t i = 0; i < c->r.n_devices; i++)
		c->pspecs[i] = &c->specs[i];
	c->r.devices = c->pspecs;
	return 0;
}

/* Copy the pool's devices named by ids; unknown ids are an INVALID_ARGUMENT error. */
static int lookup(struct dp_pool_srv *ps, char **ids, size_t n, struct alloc_dev *out,
		  struct cni_err *err)
{
	int r = 0;
	(void)pthread_mutex_lock(&ps->lock);
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t k = 0;
		while (k < ps->n_devs && strcmp(ps->devs[k].bdf, ids[i]))
			k++;
		if (k == ps->n_devs) {
			r = cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "unknown device '%s' for '%s'",
					ids[i], ps->pool->resource);
			break;
		}
		out[i].vf = ps->devs[k];
		out[i].vhost = ps->pool->selectors[ps->selector[k]].need_vhost_net;
	}
	(void)pthread_mutex_unlock(&ps->lock);
	return r;
}

static int allocate(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		    size_t *ret_len, struct cni_err *err)
{
	struct dp_pool_srv *ps = ud;
	V1beta1__AllocateRequest *ar = v1beta1__allocate_request__unpack(NULL, req_len, req);
	if (!ar)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "undecodable AllocateRequest");
	size_t n = ar->n_container_requests;
	struct cresp *cs = xcalloc(n + 1, sizeof(*cs));
	V1beta1__ContainerAllocateResponse **pcs = xcalloc(n + 1, sizeof(*pcs));
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		V1beta1__ContainerAllocateRequest *cr = ar->container_requests[i];
		struct alloc_dev *devs = xcalloc(cr->n_devices_ids + 1, sizeof(*devs));
		r = lookup(ps, cr->devices_ids, cr->n_devices_ids, devs, err);
		if (r == 0)
			r = container_response(ps, devs, cr->n_devices_ids, &cs[i], err);
		free(devs);
		pcs[i] = &cs[i].r;
	}
	if (r == 0) {
		V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;
		resp.n_container_responses = n;
		resp.container_responses = pcs;
		PACK(allocate_response, &resp, ret_resp, ret_len);
		log_info("'%s': allocated %zu container request(s)", ps->pool->resource, n);
		size_t devs = 0;
		for (size_t i = 0; i < n; i++)
			devs += ar->container_requests[i]->n_devices_ids;
		metrics_add(dp_mx.allocated, (double)devs, ps->pool->resource);
		metrics_add(dp_mx.allocate, 1, ps->pool->resource, "ok");
	} else {
		log_warning("'%s': allocate: %s", ps->pool->resource, err->msg);
		metrics_add(dp_mx.allocate, 1, ps->pool->resource, "error");
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < cs[i].n_strs; k++)
			free(cs[i].strs[k]);
		free(cs[i].strs);
		free(cs[i].specs);
		free(cs[i].pspecs);
	}
	free(pcs);
	free(cs);
	v1beta1__allocate_request__free_unpacked(ar, NULL);
	return r;
}

/* ---- GetPreferredAllocation -------------------------------------------------------------- */

static const struct dp_vf *find_vf(const struct dp_vf *known, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(known[i].bdf, id))
			return &known[i];
	return NULL;
}

void dp_prefer(const struct dp_vf *known, size_t n_known, char **avail, size_t n_avail, char **must,
	       size_t n_must, size_t size, char ***ret, size_t *ret_n)
{
	char **out = xcalloc(size + n_must + 1, sizeof(*out));
	bool *used = xcalloc(n_avail + 1, sizeof(*used));
	size_t n = 0;

	/* must_include first, in kubelet's order (kubelet guarantees they are available). */
	for (size_t i = 0; i < n_must && n < size; i++) {
		out[n++] = must[i];
		for (size_t k = 0; k < n_avail; k++)
			if (!strcmp(avail[k], must[i]))
				used[k] = true;
	}
	while (n < size) {
		/* Per candidate: same PF as a chosen VF, same NUMA node as the first chosen VF,
		 * then the PF's number of free candidates (best fit for what is still needed when
		 * nothing is chosen yet, else most), then BDF order. */
		const struct dp_vf *first = n ? find_vf(known, n_known, out[0]) : NULL;
		long best = -1, best_score = -1;
		for (size_t k = 0; k < n_avail; k++) {
			if (used[k])
				continue;
			const struct dp_vf *vf = find_vf(known, n_known, avail[k]);
			long same_pf = 0, same_numa = 0, free_on_pf = 0;
			for (size_t j = 0; vf && j < n; j++) {
				const struct dp_vf *o = find_vf(known, n_known, out[j]);
				if (o && !strcmp(o->pf_bdf, vf->pf_bdf))
					same_pf = 1;
			}
			if (vf && first && first->numa_node >= 0 &&
			    first->numa_node == vf->numa_node)
				same_numa = 1;
			for (size_t j = 0; vf && j < n_avail; j++) {
				const struct dp_vf *o =
					used[j] ? NULL : find_vf(known, n_known, avail[j]);
				if (o && !strcmp(o->pf_bdf, vf->pf_bdf))
					free_on_pf++;
			}
			long need = (long)(size - n);
			long fit = free_on_pf >= need ? 100000 - (free_on_pf - need) : free_on_pf;
			long score = same_pf * 4000000000L + same_numa * 2000000000L + fit;
			if (score > best_score ||
			    (score == best_score && strcmp(avail[k], avail[best]) < 0)) {
				best = (long)k;
				best_score = score;
			}
		}
		if (best < 0)
			break;
		used[best] = true;
		out[n++] = avail[best];
	}
	free(used);
	*ret = out;
	*ret_n = n;
}

static int preferred(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		     size_t *ret_len, struct cni_err *err)
{
	struct dp_pool_srv *ps = ud;
	V1beta1__PreferredAllocationRequest *pr =
		v1beta1__preferred_allocation_request__unpack(NULL, req_len, req);
	if (!pr)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "undecodable PreferredAllocationRequest");
	size_t n = pr->n_container_requests;
	V1beta1__ContainerPreferredAllocationResponse *cs = xcalloc(n + 1, sizeof(*cs));
	V1beta1__ContainerPreferredAllocationResponse **pcs = xcalloc(n + 1, sizeof(*pcs));

	(void)pthread_mutex_lock(&ps->lock);
	for (size_t i = 0; i < n; i++) {
		V1beta1__ContainerPreferredAllocationRequest *c = pr->container_requests[i];
		v1beta1__container_preferred_allocation_response__init(&cs[i]);
		size_t size = c->allocation_size > 0 ? (size_t)c->allocation_size : 0;
		dp_prefer(ps->devs, ps->n_devs, c->available_deviceids, c->n_available_deviceids,
			  c->must_include_deviceids, c->n_must_include_deviceids, size,
			  &cs[i].deviceids, &cs[i].n_deviceids);
		pcs[i] = &cs[i];
	}
	(void)pthread_mutex_unlock(&ps->lock);
	V1beta1__PreferredAllocationResponse resp = V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
	resp.n_container_responses = n;
	resp.container_responses = pcs;
	PACK(preferred_allocation_response, &resp, ret_resp, ret_len);
	for (size_t i = 0; i < n; i++)
		free(cs[i].deviceids);
	free(pcs);
	free(cs);
	v1beta1__preferred_allocation_request__free_unpacked(pr, NULL);
	return 0;
}

static const struct gr_method methods[] = {
	{ .path = DP_SVC "GetDevicePluginOptions", .unary = get_options },
	{ .path = DP_SVC "ListAndWatch", .stream = list_and_watch, .closed = law_closed },
	{ .path = DP_SVC "Allocate", .unary = allocate },
	{ .path = DP_SVC "GetPreferredAllocation", .unary = preferred },
	{ .path = DP_SVC "PreStartContainer", .unary = pre_start },
};

static void *serve(void *arg)
{
	struct dp_pool_srv *ps = arg;
	struct cni_err err = { 0 };
	if (gr_server_run(ps->srv, &err) < 0)
		log_error("'%s': server: %s", ps->pool->resource, err.msg);
	return NULL;
}

int dp_pool_start(struct dp_pool_srv *ps, struct cni_err *err)
{
	int r = gr_server_new(ps->sock_path, methods, ARRAY_SIZE(methods), ps, &ps->srv, err);
	if (r < 0)
		return cni_err_wrap(err, "'%s'", ps->pool->resource);
	gr_server_set_wake(ps->srv, on_wake);
	r = pthread_create(&ps->thread, NULL, serve, ps);
	if (r) {
		gr_server_free(ps->srv);
		ps->srv = NULL;
		return cni_err_set(err, CNI_ERR_INTERNAL, r, "'%s': thread: %s", ps->pool->resource,
				   strerror(r));
	}
	ps->running = true;
	ps->registered = false;
	return 0;
}

void dp_pool_stop(struct dp_pool_srv *ps)
{
	if (!ps->running)
		return;
	gr_server_stop(ps->srv);
	(void)pthread_join(ps->thread, NULL);
	gr_server_free(ps->srv);
	ps->srv = NULL;
	ps->running = false;
	free(ps->watches);
	ps->watches = NULL;
	ps->n_watches = 0;
	ps->registered = false;
	metrics_set(dp_mx.streams, 0, ps->pool->resource);
}
