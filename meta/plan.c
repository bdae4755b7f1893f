// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's plan: pod annotations, NADs and selections -> ordered attachments. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cni/args.h"
#include "lib/grpc/podresources.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/nad.h"
#include "lib/kube/pod.h"
#include "lib/kube/relay.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"
#include "meta/networks.h"
#include "meta/policy.h"

int meta_plan_ready(const struct plan *p, int code, struct cni_err *err)
{
	const char *ready = p->conf.readiness_indicator_file;
	if (ready && access(ready, F_OK) < 0)
		return cni_err_set(
			err, code, ENOENT,
			"readinessindicatorfile '%s' does not exist: the cluster network "
			"is not ready",
			ready);
	return 0;
}

void meta_att_done(struct attachment *a)
{
	free(a->name);
	free(a->ifname);
	dlg_list_done(&a->list);
	cJSON_Delete(a->cap_args);
	cJSON_Delete(a->default_route);
	free(a->device_info_file);
	free(a->device_info_source);
	cni_result_free(a->result);
}

void meta_plan_done(struct plan *p)
{
	for (size_t i = 0; i < p->n_att; i++)
		meta_att_done(&p->att[i]);
	free(p->att);
	for (size_t i = 0; i < p->n_res; i++) {
		free(p->res[i].name);
		gr_podresources_ids_free(p->res[i].ids);
	}
	free(p->res);
	meta_claims_done(p);
	meta_nads_fetched_free(p);
	free(p->path);
	kube_pod_free(p->pod);
	kube_config_free(p->kube);
	meta_conf_done(&p->conf);
}

int meta_kube(struct plan *p, struct cni_err *err)
{
	if (p->kube)
		return 0;
	if (!kube_config_configured(p->conf.kubeconfig))
		return META_NO_API;
	int r = kube_config_load(p->conf.kubeconfig, &p->kube, err);
	if (r < 0)
		return cni_err_wrap(err, "kubernetes client");
	p->kube->timeout_ms = p->conf.api_timeout_ms;
	p->kube->connect_timeout_ms = p->conf.api_connect_timeout_ms;
	if (p->conf.api_relay && *p->conf.api_relay) {
		p->kube->ops = &kube_relay_ops;
		p->kube->ops_data = (void *)p->conf.api_relay;
	}
	return 0;
}

/* The pod's annotations: from the runtime when it passes them (no API call), else GET pod. */
int meta_plan_annotations(struct plan *p, struct cni_err *err)
{
	const cJSON *ann = json_get(p->ctx->runtime_config, POD_ANNOTATIONS_KEY);
	if (cJSON_IsObject(ann)) {
		p->annotations = ann;
	} else if (p->pod_name) {
		int r = meta_kube(p, err);
		if (r < 0)
			return r;
		if (r == META_NO_API) {
			log_info("no API is configured (no kubeconfig, no in-cluster environment): "
				 "the annotations of pod '%s/%s' are not read",
				 p->pod_ns, p->pod_name);
			return 0;
		}
		r = kube_pod_get(p->kube, p->pod_ns, p->pod_name, &p->pod, err);
		if (r < 0)
			return r;
		p->annotations = p->pod->annotations;
	}
	/* Bounded work per pod, checked before the first NAD request. */
	return meta_policy_check_pod(&p->conf, p->pod_ns, p->annotations, err);
}

static const char *annotation(const struct plan *p, const char *key)
{
	return cJSON_GetStringValue(json_get(p->annotations, key));
}

/* A conf or conflist file in confDir whose "name" is name (.conflist first), as Multus. */
static int conf_from_dir(const char *dir, const char *name, char **ret, struct cni_err *err)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, errno,
				   "network '%s': no config for it in confDir '%s'", name, dir);
	int r = -ENOENT;
	for (int pass = 0; pass < 2 && r == -ENOENT; pass++) {
		const char *ext = pass == 0 ? ".conflist" : ".conf";
		for (int i = 0; i < n && r == -ENOENT; i++) {
			const char *f = ents[i]->d_name;
			size_t l = strlen(f), e = strlen(ext);
			if (l <= e || strcmp(f + l - e, ext) != 0)
				continue;
			_cleanup_free_ char *path = xasprintf("%s/%s", dir, f), *text = NULL;
			_cleanup_json_ cJSON *json = NULL;
			if (file_read_all(path, CACHE_MAX, &text, NULL) < 0 ||
			    !(json = cJSON_Parse(text)))
				continue;
			const char *n2 = cJSON_GetStringValue(json_get(json, "name"));
			if (n2 && strcmp(n2, name) == 0) {
				*ret = TAKE_PTR(text);
				r = 0;
			}
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENOENT,
				   "network '%s': no config for it in confDir '%s'", name, dir);
	return 0;
}

/* A path: a conf/conflist file, or a directory whose first config (sorted) is used. */
static int conf_from_path(const char *path, char **ret, struct cni_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, errno,
				   "clusterNetwork: '%s' does not exist", path);
	if (S_ISREG(st.st_mode)) {
		int r = file_read_all(path, CACHE_MAX, ret, NULL);
		return r < 0 ? cni_err_set(err, CNI_ERR_IO, -r, "clusterNetwork: read '%s'", path)
			     : 0;
	}
	struct dirent **ents = NULL;
	int n = scandir(path, &ents, NULL, alphasort), r = -ENOENT;
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		size_t l = strlen(f);
		if (r == -ENOENT && ((l > 5 && !strcmp(f + l - 5, ".conf")) ||
				     (l > 9 && !strcmp(f + l - 9, ".conflist")) ||
				     (l > 5 && !strcmp(f + l - 5, ".json")))) {
			_cleanup_free_ char *p = xasprintf("%s/%s", path, f);
			r = file_read_all(p, CACHE_MAX, ret, NULL);
		}
		free(ents[i]);
	}
	free(ents);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENOENT,
				   "clusterNetwork: no network configuration in '%s'", path);
	return 0;
}

/* A NAD's config: spec.config, else the confDir file of that name (NPWG network-attachment
 * spec, as Multus; then *ret_from_dir is set: admin input). Without an API, the confDir file
 * for what the admin names (tenant: false); a tenant's selection is then refused, since no NAD
 * can say the tenant may use that file. */
static int nad_conf(struct plan *p, const char *ns, const char *name, bool tenant, char **ret,
		    char **ret_resource, bool *ret_from_dir, struct cni_err *err)
{
	int r = meta_kube(p, err);
	if (r < 0)
		return r;
	if (r == META_NO_API && tenant)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EPERM,
			"no API is configured: a network the pod selects cannot be "
			"resolved (only clusterNetwork and defaultNetworks, from confDir)");
	if (r == META_NO_API) {
		*ret_from_dir = true;
		return conf_from_dir(p->conf.conf_dir, name, ret, err);
	}
	_cleanup_(kube_nad_freep) struct kube_nad *own = NULL;
	const struct kube_nad *nad = NULL;
	struct nad_fetch *f = meta_nad_fetched(p, ns, name);
	r = f ? meta_nad_fetched_get(f, &nad, err) : kube_nad_get(p->kube, ns, name, &own, err);
	if (r < 0)
		return r;
	if (own)
		nad = own;
	if (ret_resource && nad->resource_name)
		*ret_resource = xstrdup(nad->resource_name);
	if (nad->config) {
		*ret = xstrdup(nad->config);
		return 0;
	}
	*ret_from_dir = true;
	return conf_from_dir(p->conf.conf_dir, name, ret, err);
}

struct attachment *meta_att_add(struct plan *p, const char *name, const char *ifname,
				bool is_default)
{
	p->att = xrealloc(p->att, (p->n_att + 1) * sizeof(*p->att));
	struct attachment *a = &p->att[p->n_att++];
	memset(a, 0, sizeof(*a));
	a->name = xstrdup(name);
	a->ifname = xstrdup(ifname);
	a->is_default = is_default;
	return a;
}

static int parse_list(struct plan *p, struct attachment *a, const char *text,
		      const char *default_name, struct cni_err *err)
{
	int r = dlg_list_parse(text, strlen(text), default_name, cni_version_str(p->ctx->version),
			       &a->list, err);
	return r < 0 ? cni_err_wrap(err, "network '%s'", a->name) : 0;
}

/* The tenant policy, before anything of the network runs or is recorded. A refused network
 * (the plan's last attachment) leaves the plan: DEL, which runs what an API plan holds even
 * when planning failed part-way, must never run it. */
static int policy_check(struct plan *p, struct attachment *a, bool admin, const cJSON *cni_args,
			struct cni_err *err)
{
	int r = meta_policy_check_network(&p->conf.policy, a->name, &a->list, admin, err);
	if (r >= 0 && cni_args)
		r = meta_policy_check_cni_args(a->name, &a->list, cni_args, err);
	if (r < 0) {
		meta_att_done(a);
		p->n_att--;
	}
	return r;
}

/* The cluster-wide default network (NPWG network-attachment spec), attached first as CNI_IFNAME. */
int meta_plan_default(struct plan *p, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *name = NULL, *nad_name = NULL;
	const char *override = annotation(p, META_DEFAULT_NETWORK_ANNOTATION);
	bool admin = true; /* policy: only the override comes from a tenant */
	int r;
	if (override && *override) {
		struct meta_selection *sel = NULL;
		size_t n = 0;
		r = meta_networks_parse(override, &sel, &n, err);
		if (r == 0 && n != 1)
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					META_DEFAULT_NETWORK_ANNOTATION
					": exactly one network, not %zu",
					n);
		if (r < 0) {
			meta_selections_free(sel, n);
			return r;
		}
		/* Unqualified means multusNamespace (as Multus); namespace isolation applies. */
		const char *ns = sel[0].namespace ? sel[0].namespace : p->conf.multus_namespace;
		name = xasprintf("%s/%s", ns, sel[0].name);
		nad_name = xstrdup(sel[0].name);
		bool from_dir = false;
		r = meta_policy_check_isolation(
			p->conf.namespace_isolation, p->conf.global_namespaces,
			p->conf.n_global_namespaces, p->pod_ns, ns, sel[0].name, err);
		if (r == 0)
			r = nad_conf(p, ns, sel[0].name, true, &text, NULL, &from_dir, err);
		admin = from_dir || meta_policy_trusted(&p->conf.policy, ns);
		meta_selections_free(sel, n);
	} else if (!p->conf.cluster_network) {
		/* Legacy form; Multus ignores delegates when clusterNetwork is set. */
		text = json_print(cJSON_GetArrayItem(p->conf.delegates, 0));
		r = 0;
	} else if (strchr(p->conf.cluster_network, '/')) {
		r = conf_from_path(p->conf.cluster_network, &text, err);
	} else {
		name = xasprintf("%s/%s", p->conf.multus_namespace, p->conf.cluster_network);
		nad_name = xstrdup(p->conf.cluster_network);
		/* A NAD in multusNamespace, else a config of that name in confDir, but only when
		 * the API says the NAD does not exist (or no API is configured): falling back on a
		 * 5xx, 403, timeout or a kubeconfig that does not load would turn an API outage
		 * into "invalid config" and could attach a stale local config in place of the NAD.
		 */
		struct cni_err e = { 0 };
		bool from_dir = false;
		r = nad_conf(p, p->conf.multus_namespace, p->conf.cluster_network, false, &text,
			     NULL, &from_dir, &e);
		if (r < 0 && !from_dir && e.code == CNI_ERR_KUBE_API && e.sys == ENOENT) {
			r = conf_from_dir(p->conf.conf_dir, p->conf.cluster_network, &text, err);
			if (r < 0)
				(void)cni_err_wrap(err, "no NAD either (%s)", e.msg);
		} else if (r < 0) {
			*err = e;
			return cni_err_wrap(err, "cluster network '%s'", name);
		}
	}
	if (r < 0)
		return cni_err_wrap(err, "cluster network");
	struct attachment *a =
		meta_att_add(p, name ? name : "", p->ctx->ifname ? p->ctx->ifname : "", true);
	/* A NAD's config may omit "name": the NAD's is used, as for secondaries (Multus). */
	r = parse_list(p, a, text, nad_name, err);
	if (r < 0)
		return r;
	if (!name) {
		/* Named by its own config. */
		free(a->name);
		a->name = xstrdup(a->list.name);
	}
	r = policy_check(p, a, admin, NULL, err);
	if (r < 0)
		return r;
	/* What the runtime passes (portMappings, bandwidth...) is the default's only. */
	if (p->ctx->runtime_config) {
		a->cap_args = cJSON_Duplicate(p->ctx->runtime_config, true);
		cJSON_DeleteItemFromObjectCaseSensitive(a->cap_args, POD_ANNOTATIONS_KEY);
	}
	return 0;
}

/* Selection keys -> capability args; a key no plugin declares fails the attachment
 * (NPWG network-attachment spec). */
static int selection_caps(struct attachment *a, struct meta_selection *s, struct cni_err *err)
{
	struct {
		const char *cap;
		cJSON *value;
		const char *key;
	} caps[] = {
		{ "ips", s->ips, "ips" },
		{ "mac", s->mac ? cJSON_CreateString(s->mac) : NULL, "mac" },
		{ "portMappings", s->port_mappings, "portMappings" },
		{ "bandwidth", s->bandwidth, "bandwidth" },
		{ "infinibandGUID",
		  s->infiniband_guid ? cJSON_CreateString(s->infiniband_guid) : NULL,
		  "infiniband-guid" },
		{ "deviceID", s->device_id ? cJSON_CreateString(s->device_id) : NULL, "deviceID" },
	};
	s->ips = s->port_mappings = s->bandwidth = NULL; /* ownership moves below */
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		if (!caps[i].value)
			continue;
		if (r == 0 && !dlg_list_declares(&a->list, caps[i].cap) &&
		    strcmp(caps[i].cap, "deviceID"))
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					"network '%s': the pod asks for '%s' but no plugin of the "
					"network declares the capability '%s'",
					a->name, caps[i].key, caps[i].cap);
		if (!a->cap_args)
			a->cap_args = cJSON_CreateObject();
		cJSON_AddItemToObject(a->cap_args, caps[i].cap, caps[i].value);
	}
	return r;
}

/* cni-args -> every plugin's args.cni, the annotation winning over the NAD (NPWG spec). */
static void merge_cni_args(struct attachment *a, const cJSON *cni_args)
{
	cJSON *pl;
	cJSON_ArrayForEach (pl, (cJSON *)a->list.plugins) {
		cJSON *args = (cJSON *)json_get(pl, "args");
		if (!cJSON_IsObject(args)) {
			cJSON_DeleteItemFromObjectCaseSensitive(pl, "args");
			args = cJSON_AddObjectToObject(pl, "args");
		}
		cJSON *cni = (cJSON *)json_get(args, "cni");
		if (!cJSON_IsObject(cni)) {
			cJSON_DeleteItemFromObjectCaseSensitive(args, "cni");
			cni = cJSON_AddObjectToObject(args, "cni");
		}
		const cJSON *kv;
		cJSON_ArrayForEach (kv, cni_args) {
			cJSON_DeleteItemFromObjectCaseSensitive(cni, kv->string);
			cJSON_AddItemToObject(cni, kv->string, cJSON_Duplicate(kv, true));
		}
	}
}

/* The device (capability argument deviceID) of prior's attachment (name, ifname), or NULL. */
static const char *prior_device(const struct plan *prior, const char *name, const char *ifname)
{
	for (size_t i = 0; prior && i < prior->n_att; i++)
		if (!strcmp(prior->att[i].name, name) && !strcmp(prior->att[i].ifname, ifname))
			return cJSON_GetStringValue(json_get(prior->att[i].cap_args, "deviceID"));
	return NULL;
}

static bool prior_holds(const struct plan *prior, const char *dev)
{
	for (size_t i = 0; prior && i < prior->n_att; i++) {
		const char *d = cJSON_GetStringValue(json_get(prior->att[i].cap_args, "deviceID"));
		if (d && strcmp(d, dev) == 0)
			return true;
	}
	return false;
}

/* The next device of resource allocated to the pod for attachment a, asking kubelet once per
 * resource. */
static int next_device(struct plan *p, const struct attachment *a, const char *resource,
		       const char **ret, struct cni_err *err)
{
	struct resource_ids *r = NULL;
	for (size_t i = 0; i < p->n_res && !r; i++)
		if (strcmp(p->res[i].name, resource) == 0)
			r = &p->res[i];
	if (!r) {
		char **ids = NULL;
		size_t n = 0;
		int rc = gr_podresources_get_devices(p->conf.pod_resources_socket, p->pod_ns,
						     p->pod_name ? p->pod_name : "", resource, &ids,
						     &n, (int)p->conf.api_timeout_ms, err);
		if (rc < 0)
			return cni_err_wrap(err, "kubelet PodResources '%s'",
					    p->conf.pod_resources_socket);
		p->res = xrealloc(p->res, (p->n_res + 1) * sizeof(*p->res));
		r = &p->res[p->n_res++];
		*r = (struct resource_ids){ .name = xstrdup(resource), .ids = ids, .n = n };
	}
	/* A hot-plug keeps an attachment's device (same network and interface) and never hands
	 * out one a running attachment holds. */
	const char *kept = prior_device(p->prior, a->name, a->ifname);
	for (size_t i = 0; kept && i < r->n; i++)
		if (strcmp(r->ids[i], kept) == 0) {
			*ret = r->ids[i];
			return 0;
		}
	while (r->next < r->n && prior_holds(p->prior, r->ids[r->next]))
		r->next++;
	if (r->next >= r->n)
		return cni_err_set(
			err, CNI_ERR_DEVICE, ENODEV,
			"resource '%s': kubelet allocated %zu device(s) to the pod, none "
			"left for this attachment",
			resource, r->n);
	*ret = r->ids[r->next++];
	return 0;
}

/* Device-info spec and Multus: the resource's device goes into every plugin as deviceID and
 * pciBusID (as Multus does) and as runtimeConfig.deviceID; the device plugin's device-info file is
 * copied to this attachment's own, whose path reaches plugins declaring CNIDeviceInfoFile. */
char *meta_device_info_path(const struct plan *p, const char *name, const char *ifname)
{
	_cleanup_free_ char *base = xasprintf("%s-%s_%s", name, p->ctx->container_id, ifname);
	for (char *c = base; *c; c++)
		if (*c == '/')
			*c = '-';
	return xasprintf("%s/cni/%s", p->conf.device_info_dir, base);
}

int meta_device_info_copy(const struct attachment *a, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL, *dir = NULL;
	size_t len = 0;
	/* No file from the device plugin: plugins may still write the attachment's own. */
	if (!a->device_info_source ||
	    file_read_all(a->device_info_source, CACHE_MAX, &text, &len) < 0)
		return 0;
	dir = xstrdup(a->device_info_file);
	*strrchr(dir, '/') = '\0';
	int r = file_mkdir_p(dir, 0755);
	if (r >= 0)
		r = file_write_atomic(a->device_info_file, text, len, 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "device-info '%s': %s", a->device_info_file,
				   strerror(-r));
	return 0;
}

static int plan_device(struct plan *p, struct attachment *a, const char *resource,
		       struct cni_err *err)
{
	const char *dev = NULL;
	if (!a->cap_args)
		a->cap_args = cJSON_CreateObject();
	if (resource) {
		/* A device from the pod's ResourceClaims first (DRA), else from PodResources. */
		int r = meta_claims_device(p, (size_t)(a - p->att), resource, &dev, err);
		if (r == META_CLAIMS_NONE)
			r = next_device(p, a, resource, &dev, err);
		if (r < 0)
			return cni_err_wrap(err, "network '%s'", a->name);
		cJSON *pl;
		cJSON_ArrayForEach (pl, (cJSON *)a->list.plugins) {
			cJSON_DeleteItemFromObjectCaseSensitive(pl, "deviceID");
			cJSON_DeleteItemFromObjectCaseSensitive(pl, "pciBusID");
			cJSON_AddStringToObject(pl, "deviceID", dev);
			cJSON_AddStringToObject(pl, "pciBusID", dev);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(a->cap_args, "deviceID");
		cJSON_AddStringToObject(a->cap_args, "deviceID", dev);
	}
	if (!dev && !dlg_list_declares(&a->list, "CNIDeviceInfoFile"))
		return 0;
	a->device_info_file = meta_device_info_path(p, a->name, a->ifname);
	/* Only named here: the copy is a side effect, made once the intent log records the file
	 * (meta_device_info_copy). */
	if (dev) {
		_cleanup_free_ char *res = xstrdup(resource);
		for (char *c = res; *c; c++)
			if (*c == '/')
				*c = '-';
		a->device_info_source =
			xasprintf("%s/dp/%s-%s-device.json", p->conf.device_info_dir, res, dev);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(a->cap_args, "CNIDeviceInfoFile");
	cJSON_AddStringToObject(a->cap_args, "CNIDeviceInfoFile", a->device_info_file);
	return 0;
}

/* node_conf: a defaultNetworks entry (the admin's choice, so no namespace isolation). */
static int plan_selection(struct plan *p, struct meta_selection *s, size_t index, bool node_conf,
			  struct cni_err *err)
{
	const char *ns = s->namespace ? s->namespace : p->pod_ns;
	int r = 0;
	if (!node_conf)
		r = meta_policy_check_isolation(
			p->conf.namespace_isolation, p->conf.global_namespaces,
			p->conf.n_global_namespaces, p->pod_ns, ns, s->name, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = xasprintf("%s/%s", ns, s->name);
	_cleanup_free_ char *text = NULL, *resource = NULL;
	bool from_dir = false;
	r = nad_conf(p, ns, s->name, !node_conf, &text, &resource, &from_dir, err);
	if (r < 0)
		return cni_err_wrap(err, "network '%s'", name);
	/* net1, net2... by position unless the pod names the interface. */
	_cleanup_free_ char *gen = xasprintf("net%zu", index + 1);
	const char *ifname = s->ifname ? s->ifname : gen;
	for (size_t i = 0; i < p->n_att; i++)
		if (strcmp(p->att[i].ifname, ifname) == 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EEXIST,
					   "network '%s': interface '%s' is already used by '%s'",
					   name, ifname, p->att[i].name);
	struct attachment *a = meta_att_add(p, name, ifname, false);
	r = parse_list(p, a, text, s->name, err);
	if (r < 0)
		return r;
	bool admin = node_conf || from_dir || meta_policy_trusted(&p->conf.policy, ns);
	r = policy_check(p, a, admin, s->cni_args, err);
	if (r < 0)
		return r;
	if (s->cni_args)
		merge_cni_args(a, s->cni_args);
	if (s->has_default_route)
		a->default_route = TAKE_PTR(s->default_route);
	r = selection_caps(a, s, err);
	if (r < 0)
		return r;
	return plan_device(p, a, resource, err);
}

/* defaultNetworks (not for systemNamespaces pods), then the pod's own selection. */
int meta_plan_secondary(struct plan *p, struct cni_err *err)
{
	struct meta_selection *sel = NULL;
	size_t n = 0, index = 0;
	int r = 0;
	bool system = meta_ns_in(p->conf.system_namespaces, p->conf.n_system_namespaces,
				 p->pod_ns ? p->pod_ns : "");
	const cJSON *dn;
	const cJSON *defaults = system ? NULL : p->conf.default_networks;
	struct cni_err perr = { 0 };
	int parsed = meta_networks_parse(annotation(p, META_NETWORKS_ANNOTATION), &sel, &n, &perr);
	/* Every NAD of the pod requested at once, defaultNetworks first, then used in order. */
	size_t n_def = (size_t)cJSON_GetArraySize(defaults), n_all = n_def + (parsed == 0 ? n : 0);
	_cleanup_free_ struct meta_selection *defs = xcalloc(n_def ? n_def : 1, sizeof(*defs));
	_cleanup_free_ struct meta_selection **all = xcalloc(n_all ? n_all : 1, sizeof(*all));
	size_t k = 0;
	cJSON_ArrayForEach (dn, defaults) {
		defs[k] = (struct meta_selection){ .name = dn->valuestring,
						   .namespace = (char *)p->conf.multus_namespace };
		all[k] = &defs[k];
		k++;
	}
	for (size_t i = 0; k < n_all; i++)
		all[k++] = &sel[i];
	/* Through plexus-apid only: each request is its own cheap connection there, while
	 * directly one connection (one TLS handshake) serves them all in turn. */
	if (n_all > 1 && p->conf.max_parallel > 1 && p->conf.api_relay && *p->conf.api_relay &&
	    meta_kube(p, &(struct cni_err){ 0 }) == 0)
		meta_nads_prefetch(p, all, n_all, n_def);
	for (size_t i = 0; r == 0 && i < n_all; i++)
		r = plan_selection(p, all[i], index++, i < n_def, err);
	if (r == 0 && parsed < 0) { /* the annotation's error, after defaultNetworks */
		*err = perr;
		r = parsed;
	}
	meta_selections_free(sel, n);
	return r;
}

static bool in_process(const struct plan *p, const struct attachment *a)
{
	const cJSON *types = p->conf.in_process_types, *t;
	if (!types)
		return true;
	const cJSON *pl;
	cJSON_ArrayForEach (pl, a->list.plugins) {
		const char *type = cJSON_GetStringValue(json_get(pl, "type"));
		bool listed = false;
		cJSON_ArrayForEach (t, types) {
			listed |= strcmp(t->valuestring, type) == 0;
		}
		if (dlg_builtin(type) && !listed)
			return false;
	}
	return true;
}

struct dlg_rt meta_att_rt(const struct plan *p, const struct attachment *a)
{
	return (struct dlg_rt){
		.container_id = p->ctx->container_id,
		.netns = p->ctx->netns_path,
		.ifname = a->ifname,
		.args = p->ctx->args_raw,
		.path = p->path,
		.cap_args = a->cap_args,
		.exec_builtins = !in_process(p, a),
		.timeout_ms = (int)p->conf.delegate_timeout_ms,
	};
}

int meta_plan_init(struct plan *p, const struct cni_ctx *ctx, struct cni_err *err)
{
	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	int r = meta_conf_parse(ctx->conf, &p->conf, err);
	if (r < 0)
		return r;
	/* The IPAM escape hatch (docs/ipam.md) in the environment reaches both the in-process
	 * delegates and the plexus-<kind> binaries exec'd for the others. */
	if (!p->conf.in_process_ipam && setenv("PLEXUS_IPAM_EXEC", "1", 1) < 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, errno, "setenv: %s", strerror(errno));
	p->pod_ns = cni_ctx_arg(ctx, "K8S_POD_NAMESPACE");
	p->pod_name = cni_ctx_arg(ctx, "K8S_POD_NAME");
	if (!p->pod_ns || !*p->pod_ns)
		p->pod_ns = "default";
	p->path = p->conf.bin_dir ? xasprintf("%s:%s", ctx->path ? ctx->path : "", p->conf.bin_dir)
				  : xstrdup(ctx->path ? ctx->path : "");
	return 0;
}

/* The rt of a verb that concerns no container (STATUS, GC). */
struct dlg_rt meta_global_rt(const struct plan *p)
{
	return (struct dlg_rt){ .path = p->path, .timeout_ms = (int)p->conf.delegate_timeout_ms };
}
