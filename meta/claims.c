// SPDX-License-Identifier: Apache-2.0
/* A NAD's resourceName satisfied from the pod's ResourceClaims (Dynamic Resource Allocation,
 * resource.k8s.io/v1), and the claims' device status (networkData) written after ADD. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cni/result.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/event.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/pod.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"
#include "meta/internal.h"

#define ATTR_DEVICE_ID "k8s.cni.cncf.io/deviceID"
#define ATTR_RESOURCE "k8s.cni.cncf.io/resourceName"
/* Bounds on what one pod makes plexus read: Kubernetes allows 32 results per claim. */
#define CLAIMS_MAX 32
#define RESULTS_MAX 32
/* A write of a claim's status that lost a race with another writer is redone this often. */
#define STATUS_TRIES 3

static const char *str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(json_get(obj, key));
}

/* A device attribute's string value (DeviceAttribute {"string": ...}), or NULL. */
static const char *attr(const cJSON *dev, const char *name)
{
	return str(json_get(json_get(dev, "attributes"), name), "string");
}

static bool name_ok(const char *s)
{
	return s && kube_dns1123_subdomain(s);
}

/* The claim at p->claims[i] is reserved for this pod (status.reservedFor names its UID). */
static bool reserved_for_pod(const cJSON *claim, const char *uid)
{
	const cJSON *c;
	cJSON_ArrayForEach (c, json_get(json_get(claim, "status"), "reservedFor")) {
		const char *res = str(c, "resource"), *u = str(c, "uid");
		if (res && u && !strcmp(res, "pods") && !strcmp(u, uid))
			return true;
	}
	return false;
}

/* LIST this node's ResourceSlices once (the field selector, then each slice checked again). */
static int slices_load(struct plan *p, const char *node, struct cni_err *err)
{
	if (p->slices)
		return 0;
	static const char slices[] = "/apis/resource.k8s.io/v1/resourceslices";
	_cleanup_free_ char *path = xasprintf("%s?fieldSelector=spec.nodeName=%s", slices, node);
	_cleanup_json_ cJSON *list = NULL;
	int r = kube_get_object(p->kube, path, "list resourceslices", "ResourceSliceList", &list,
				err);
	if (r < 0)
		return cni_err_wrap(err, "the ResourceSlices of node '%s'", node);
	if (!cJSON_IsArray(json_get(list, "items")))
		return cni_err_set(err, CNI_ERR_DECODE, 0,
				   "list resourceslices: response has no items array");
	p->slices = TAKE_PTR(list);
	return 0;
}

/* Find result's device in this node's slices. 0 with *ret (borrowed) when found, 1 when its
 * driver publishes nothing on this node (not a device plexus configures), < 0 when the driver
 * does but the pool or the device is not there. */
static int slice_device(const struct plan *p, const char *node, const char *claim,
			const char *driver, const char *pool, const char *device, const cJSON **ret,
			struct cni_err *err)
{
	bool driver_here = false, pool_here = false;
	double gen = -1;
	const cJSON *s;
	/* Two passes: while a driver rewrites a pool, only its newest generation counts. */
	for (int pass = 0; pass < 2; pass++)
		cJSON_ArrayForEach (s, json_get(p->slices, "items")) {
			const cJSON *spec = json_get(s, "spec");
			const char *n = str(spec, "nodeName"), *d = str(spec, "driver");
			if (!n || !d || strcmp(n, node) || strcmp(d, driver))
				continue;
			driver_here = true;
			const char *pn = str(json_get(spec, "pool"), "name");
			const cJSON *g = json_get(json_get(spec, "pool"), "generation");
			double sg = cJSON_IsNumber(g) ? g->valuedouble : 0;
			if (!pn || strcmp(pn, pool))
				continue;
			pool_here = true;
			if (pass == 0) {
				gen = sg > gen ? sg : gen;
				continue;
			}
			if (sg != gen)
				continue;
			const cJSON *dev;
			cJSON_ArrayForEach (dev, json_get(spec, "devices")) {
				const char *dn = str(dev, "name");
				if (dn && !strcmp(dn, device)) {
					*ret = dev;
					return 0;
				}
			}
		}
	if (!driver_here)
		return 1;
	if (!pool_here)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV,
				   "resource claim '%s': pool '%s' is not one of driver '%s' on "
				   "node '%s'",
				   claim, pool, driver, node);
	return cni_err_set(err, CNI_ERR_DEVICE, ENODEV,
			   "resource claim '%s': device '%s' is not in pool '%s' of driver '%s' "
			   "on node '%s'",
			   claim, device, pool, driver, node);
}

/* The network devices (those carrying ATTR_RESOURCE) of claim i, appended to p->cdev. */
static int claim_devices(struct plan *p, size_t i, const char *node, const char *uid,
			 struct cni_err *err)
{
	const cJSON *claim = cJSON_GetArrayItem(p->claims, (int)i);
	const char *name = str(json_get(claim, "metadata"), "name");
	const cJSON *results = json_get(
		json_get(json_get(json_get(claim, "status"), "allocation"), "devices"), "results");
	if (!cJSON_IsArray(results))
		return 0; /* not allocated: the scheduler has not run (kubelet would not either) */
	if (cJSON_GetArraySize(results) > RESULTS_MAX)
		return cni_err_set(err, CNI_ERR_DEVICE, E2BIG,
				   "resource claim '%s': more than %d allocated devices", name,
				   RESULTS_MAX);
	const cJSON *res;
	cJSON_ArrayForEach (res, results) {
		const char *driver = str(res, "driver"), *pool = str(res, "pool"),
			   *device = str(res, "device");
		if (!driver || !pool || !device)
			return cni_err_set(err, CNI_ERR_DECODE, 0,
					   "resource claim '%s': status.allocation.devices.results "
					   "entry without driver, pool and device",
					   name);
		int r = slices_load(p, node, err);
		if (r < 0)
			return r;
		const cJSON *dev = NULL;
		r = slice_device(p, node, name, driver, pool, device, &dev, err);
		if (r < 0)
			return r;
		const char *resource = r == 0 ? attr(dev, ATTR_RESOURCE) : NULL;
		if (!resource)
			continue; /* not a network device */
		const char *pci = attr(dev, ATTR_DEVICE_ID);
		if (!parse_pci_address_ok(pci))
			return cni_err_set(
				err, CNI_ERR_DEVICE, EINVAL,
				"resource claim '%s': device '%s' of pool '%s': attribute "
				"%s '%s' is not a PCI address",
				name, device, pool, ATTR_DEVICE_ID, pci ? pci : "(none)");
		/* Only now, for a device plexus would configure: the claim must be this pod's. */
		if (!reserved_for_pod(claim, uid))
			return cni_err_set(
				err, CNI_ERR_DEVICE, EPERM,
				"resource claim '%s' is not reserved for pod '%s/%s' (uid "
				"'%s')",
				name, p->pod_ns, p->pod_name, uid);
		bool seen = false;
		for (size_t k = 0; k < p->n_cdev; k++)
			seen |= !strcmp(p->cdev[k].pci, pci);
		if (seen)
			continue; /* each device at most once per pod */
		p->cdev = xrealloc(p->cdev, (p->n_cdev + 1) * sizeof(*p->cdev));
		p->cdev[p->n_cdev++] = (struct claim_dev){
			.claim = i,
			.driver = xstrdup(driver),
			.pool = xstrdup(pool),
			.device = xstrdup(device),
			.resource = xstrdup(resource),
			.pci = xstrdup(pci),
			.att = -1,
		};
	}
	return 0;
}

/* Read the pod's claims (status.resourceClaimStatuses) and their network devices, once. */
static int claims_load(struct plan *p, struct cni_err *err)
{
	p->claims_loaded = true;
	int r = meta_kube(p, err);
	if (r != 0 || !p->pod_name)
		return r < 0 ? r : 0; /* no API: no claims */
	if (!p->pod && (r = kube_pod_get(p->kube, p->pod_ns, p->pod_name, &p->pod, err)) < 0)
		return r;
	const cJSON *statuses = json_get(json_get(p->pod->obj, "status"), "resourceClaimStatuses");
	if (!cJSON_IsArray(statuses) || cJSON_GetArraySize(statuses) == 0)
		return 0;
	if (cJSON_GetArraySize(statuses) > CLAIMS_MAX)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, E2BIG,
				   "pod status.resourceClaimStatuses: more than %d claims",
				   CLAIMS_MAX);
	/* The node the pod runs on: kubelet runs only the pods bound to its own node. */
	const char *node = str(json_get(p->pod->obj, "spec"), "nodeName");
	if (!name_ok(node))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "pod spec.nodeName: '%s' is not a node name",
				   node ? node : "(none)");
	if (!p->pod->uid)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "pod has no metadata.uid");
	p->claims = cJSON_CreateArray();
	const cJSON *st;
	size_t idx = 0;
	cJSON_ArrayForEach (st, statuses) {
		idx++;
		/* The name comes from the pod spec (or the claim template controller): tenant. */
		const cJSON *n = json_get(st, "resourceClaimName");
		if (!n || cJSON_IsNull(n))
			continue; /* this pod claim needs no ResourceClaim */
		if (!name_ok(cJSON_GetStringValue(n)))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "pod status.resourceClaimStatuses[%zu]."
					   "resourceClaimName: not a valid object name",
					   idx - 1);
		_cleanup_free_ char *path =
			xasprintf("/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s",
				  p->pod_ns, n->valuestring);
		_cleanup_free_ char *what =
			xasprintf("get resourceclaims/%s/%s", p->pod_ns, n->valuestring);
		cJSON *claim = NULL;
		r = kube_get_object(p->kube, path, what, "ResourceClaim", &claim, err);
		if (r < 0)
			return r;
		cJSON_AddItemToArray(p->claims, claim);
		const cJSON *md = json_get(claim, "metadata");
		const char *cns = str(md, "namespace"), *cname = str(md, "name");
		if (!cns || !cname || strcmp(cns, p->pod_ns) || strcmp(cname, n->valuestring))
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "%s: the answer is another object", what);
		r = claim_devices(p, (size_t)cJSON_GetArraySize(p->claims) - 1, node, p->pod->uid,
				  err);
		if (r < 0)
			return r;
	}
	return 0;
}

int meta_claims_device(struct plan *p, size_t att, const char *resource, const char **ret,
		       struct cni_err *err)
{
	if (!p->claims_loaded) {
		int r = claims_load(p, err);
		if (r < 0)
			return cni_err_wrap(err, "resource '%s' from the pod's resource claims",
					    resource);
	}
	for (size_t i = 0; i < p->n_cdev; i++) {
		struct claim_dev *d = &p->cdev[i];
		if (d->att < 0 && !strcmp(d->resource, resource)) {
			d->att = (long)att;
			*ret = d->pci;
			return 0;
		}
	}
	return META_CLAIMS_NONE;
}

/* KEP-4817 AllocatedDeviceStatus of d as configured by attachment a. */
static cJSON *device_status(const struct claim_dev *d, const struct attachment *a)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "driver", d->driver);
	cJSON_AddStringToObject(o, "pool", d->pool);
	cJSON_AddStringToObject(o, "device", d->device);
	char now[32];
	kube_event_time((int64_t)time(NULL), now);
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "Ready");
	cJSON_AddStringToObject(c, "status", "True");
	cJSON_AddStringToObject(c, "reason", "NetworkConfigured");
	cJSON_AddStringToObject(c, "message", "configured by plexus");
	cJSON_AddStringToObject(c, "lastTransitionTime", now);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "conditions"), c);
	cJSON *nd = cJSON_AddObjectToObject(o, "networkData");
	cJSON_AddStringToObject(nd, "interfaceName", a->ifname);
	cJSON *ips = cJSON_AddArrayToObject(nd, "ips");
	const struct cni_result *r = a->result;
	int iface = -1;
	for (size_t i = 0; r && i < r->n_interfaces; i++)
		if (r->interfaces[i].sandbox && *r->interfaces[i].sandbox &&
		    (iface < 0 || !strcmp(r->interfaces[i].name, a->ifname)))
			iface = (int)i;
	/* CIDR notation, as the API field asks; IPs naming no interface are this one's too. */
	for (size_t k = 0; r && k < r->n_ips; k++) {
		int in = r->ips[k].interface;
		if (in != iface && in >= 0 && (size_t)in < r->n_interfaces)
			continue;
		char buf[IPNET_STR_LEN];
		format_ipnet(&r->ips[k].address, buf);
		cJSON_AddItemToArray(ips, cJSON_CreateString(buf));
	}
	if (iface >= 0 && r->interfaces[iface].mac)
		cJSON_AddStringToObject(nd, "hardwareAddress", r->interfaces[iface].mac);
	return o;
}

static bool same_device(const cJSON *o, const struct claim_dev *d)
{
	const char *dr = str(o, "driver"), *po = str(o, "pool"), *de = str(o, "device");
	return dr && po && de && !strcmp(dr, d->driver) && !strcmp(po, d->pool) &&
	       !strcmp(de, d->device);
}

/* One merge patch of claim's status.devices: its other entries kept, ours replaced, guarded
 * by the read resourceVersion (a concurrent writer makes it 409). */
static int patch_claim(struct plan *p, size_t ci, const cJSON *claim, struct cni_err *err)
{
	const char *name = str(json_get(claim, "metadata"), "name");
	const char *rv = str(json_get(claim, "metadata"), "resourceVersion");
	if (!rv)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "claim '%s' has no resourceVersion",
				   name);
	_cleanup_json_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(patch, "metadata"), "resourceVersion", rv);
	cJSON *devs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "status"), "devices");
	const cJSON *old;
	cJSON_ArrayForEach (old, json_get(json_get(claim, "status"), "devices")) {
		bool ours = false;
		for (size_t k = 0; k < p->n_cdev; k++)
			ours |= p->cdev[k].claim == ci && p->cdev[k].att >= 0 &&
				same_device(old, &p->cdev[k]);
		if (!ours)
			cJSON_AddItemToArray(devs, cJSON_Duplicate(old, true));
	}
	for (size_t k = 0; k < p->n_cdev; k++)
		if (p->cdev[k].claim == ci && p->cdev[k].att >= 0)
			cJSON_AddItemToArray(devs,
					     device_status(&p->cdev[k], &p->att[p->cdev[k].att]));
	_cleanup_free_ char *path = xasprintf(
		"/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s/status", p->pod_ns, name);
	return kube_request_json(p->kube, "PATCH", path, patch, NULL, NULL, err);
}

void meta_claims_status(struct plan *p)
{
	for (size_t ci = 0; p->kube && ci < (size_t)cJSON_GetArraySize(p->claims); ci++) {
		bool used = false;
		for (size_t k = 0; k < p->n_cdev; k++)
			used |= p->cdev[k].claim == ci && p->cdev[k].att >= 0;
		if (!used)
			continue;
		cJSON *claim = cJSON_GetArrayItem(p->claims, (int)ci);
		_cleanup_free_ char *name = xstrdup(str(json_get(claim, "metadata"), "name"));
		struct cni_err e = { 0 };
		int r = 0;
		_cleanup_json_ cJSON *fresh = NULL;
		for (int t = 0; t < STATUS_TRIES; t++) {
			r = patch_claim(p, ci, fresh ? fresh : claim, &e);
			if (r != -EBUSY || t + 1 == STATUS_TRIES)
				break;
			/* 409: someone else wrote the claim since it was read; read it again. */
			_cleanup_free_ char *path = xasprintf(
				"/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s",
				p->pod_ns, name);
			cJSON_Delete(TAKE_PTR(fresh));
			r = kube_get_object(p->kube, path, "get resourceclaims", "ResourceClaim",
					    &fresh, &e);
			if (r < 0)
				break;
		}
		if (r < 0) {
			log_warning("device status of resource claim '%s/%s' not written: %s, "
				    "ignoring",
				    p->pod_ns, name, e.msg);
			_cleanup_free_ char *text = xasprintf(
				"Device status of resource claim %s not written: CNI error %d: %s",
				name, e.code, e.msg);
			meta_events_warning(p, KUBE_EVENT_CLAIM_STATUS, text);
		}
	}
}

void meta_claims_done(struct plan *p)
{
	for (size_t i = 0; i < p->n_cdev; i++) {
		free(p->cdev[i].driver);
		free(p->cdev[i].pool);
		free(p->cdev[i].device);
		free(p->cdev[i].resource);
		free(p->cdev[i].pci);
	}
	free(p->cdev);
	cJSON_Delete(p->claims);
	cJSON_Delete(p->slices);
}
