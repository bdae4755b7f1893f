// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin: pod annotation -> NADs -> ordered delegates, intent log, network-status. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delegates/dlg.h"
#include "lib/cni/args.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/nad.h"
#include "lib/grpc/podresources.h"
#include "lib/kube/pod.h"
#include "lib/kube/relay.h"
#include "lib/cni/netns.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/conf.h"
#include "meta/meta.h"
#include "meta/networks.h"

#define POD_ANNOTATIONS_KEY "io.kubernetes.cri.pod-annotations"
#define DEFAULT_NETWORK_ANNOTATION "v1.multus-cni.io/default-network"
#define CACHE_MAX (4u << 20)

/* One attachment of the plan; also what the intent log records. */
struct attachment {
	char *name; /* "ns/nad", or the cluster network's name */
	char *ifname;
	bool is_default;
	struct dlg_list list;
	cJSON *cap_args;	/* owned, or NULL */
	cJSON *default_route;	/* owned gateways, or NULL */
	char *device_info_file; /* the attachment's CNI device-info file, or NULL */
	struct cni_result *result;
};

/* Device IDs kubelet allocated to the pod, per resource, handed out in order (NAD-33). */
struct resource_ids {
	char *name;
	char **ids;
	size_t n, next;
};

struct plan {
	struct meta_conf conf;
	const struct cni_ctx *ctx;
	const char *pod_ns, *pod_name;
	char *path; /* CNI_PATH + binDir */
	struct kube_config *kube;
	const cJSON *annotations; /* borrowed from runtimeConfig or pod */
	struct kube_pod *pod;
	struct attachment *att;
	size_t n_att;
	struct resource_ids *res;
	size_t n_res;
};

static void plan_done(struct plan *p)
{
	for (size_t i = 0; i < p->n_att; i++) {
		free(p->att[i].name);
		free(p->att[i].ifname);
		dlg_list_done(&p->att[i].list);
		cJSON_Delete(p->att[i].cap_args);
		cJSON_Delete(p->att[i].default_route);
		free(p->att[i].device_info_file);
		cni_result_free(p->att[i].result);
	}
	free(p->att);
	for (size_t i = 0; i < p->n_res; i++) {
		free(p->res[i].name);
		gr_podresources_ids_free(p->res[i].ids);
	}
	free(p->res);
	free(p->path);
	kube_pod_free(p->pod);
	kube_config_free(p->kube);
	meta_conf_done(&p->conf);
}

static int kube(struct plan *p, struct cni_err *err)
{
	if (p->kube)
		return 0;
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
static int load_annotations(struct plan *p, struct cni_err *err)
{
	const cJSON *ann = json_get(p->ctx->runtime_config, POD_ANNOTATIONS_KEY);
	if (cJSON_IsObject(ann)) {
		p->annotations = ann;
		return 0;
	}
	if (!p->pod_name)
		return 0;
	int r = kube(p, err);
	if (r < 0)
		return r;
	r = kube_pod_get(p->kube, p->pod_ns, p->pod_name, &p->pod, err);
	if (r < 0)
		return r;
	p->annotations = p->pod->annotations;
	return 0;
}

static const char *annotation(const struct plan *p, const char *key)
{
	return cJSON_GetStringValue(json_get(p->annotations, key));
}

/* NAD-02: a conf or conflist file in confDir whose "name" is name (.conflist first). */
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

/* A NAD's config (NAD-02): spec.config, else the confDir file of that name. */
static int nad_conf(struct plan *p, const char *ns, const char *name, char **ret,
		    char **ret_resource, struct cni_err *err)
{
	int r = kube(p, err);
	if (r < 0)
		return r;
	_cleanup_(kube_nad_freep) struct kube_nad *nad = NULL;
	r = kube_nad_get(p->kube, ns, name, &nad, err);
	if (r < 0)
		return r;
	if (ret_resource && nad->resource_name)
		*ret_resource = xstrdup(nad->resource_name);
	if (nad->config) {
		*ret = xstrdup(nad->config);
		return 0;
	}
	return conf_from_dir(p->conf.conf_dir, name, ret, err);
}

static struct attachment *add_att(struct plan *p, const char *name, const char *ifname,
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

/* The cluster-wide default network (NAD-18, NAD-29), attached first as CNI_IFNAME. */
static int plan_default(struct plan *p, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *name = NULL;
	const char *override = annotation(p, DEFAULT_NETWORK_ANNOTATION);
	int r;
	if (override && *override) {
		struct meta_selection *sel = NULL;
		size_t n = 0;
		r = meta_networks_parse(override, &sel, &n, err);
		if (r == 0 && n != 1)
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					DEFAULT_NETWORK_ANNOTATION ": exactly one network, not %zu",
					n);
		if (r < 0) {
			meta_selections_free(sel, n);
			return r;
		}
		const char *ns = sel[0].namespace ? sel[0].namespace : p->pod_ns;
		name = xasprintf("%s/%s", ns, sel[0].name);
		r = nad_conf(p, ns, sel[0].name, &text, NULL, err);
		meta_selections_free(sel, n);
	} else if (!p->conf.cluster_network) {
		/* Legacy form; Multus ignores delegates when clusterNetwork is set. */
		text = json_print(cJSON_GetArrayItem(p->conf.delegates, 0));
		r = 0;
	} else if (strchr(p->conf.cluster_network, '/')) {
		r = conf_from_path(p->conf.cluster_network, &text, err);
	} else {
		name = xasprintf("%s/%s", p->conf.multus_namespace, p->conf.cluster_network);
		/* A NAD in multusNamespace, else a config of that name in confDir (Multus). */
		struct cni_err e = { 0 };
		r = nad_conf(p, p->conf.multus_namespace, p->conf.cluster_network, &text, NULL, &e);
		if (r < 0) {
			r = conf_from_dir(p->conf.conf_dir, p->conf.cluster_network, &text, err);
			if (r < 0 && e.msg[0])
				(void)cni_err_wrap(err, "no NAD either (%s)", e.msg);
		}
	}
	if (r < 0)
		return cni_err_wrap(err, "cluster network");
	struct attachment *a =
		add_att(p, name ? name : "", p->ctx->ifname ? p->ctx->ifname : "", true);
	r = parse_list(p, a, text, NULL, err);
	if (r < 0)
		return r;
	if (!name) {
		/* Named by its own config. */
		free(a->name);
		a->name = xstrdup(a->list.name);
	}
	/* NAD-25: what the runtime passes (portMappings, bandwidth...) is the default's only. */
	if (p->ctx->runtime_config) {
		a->cap_args = cJSON_Duplicate(p->ctx->runtime_config, true);
		cJSON_DeleteItemFromObjectCaseSensitive(a->cap_args, POD_ANNOTATIONS_KEY);
	}
	return 0;
}

static bool declares(const struct dlg_list *l, const char *cap)
{
	const cJSON *pl;
	cJSON_ArrayForEach (pl, l->plugins) {
		if (cJSON_IsTrue(json_get(json_get(pl, "capabilities"), cap)))
			return true;
	}
	return false;
}

/* Selection keys -> capability args; a key no plugin declares fails the attachment (NAD-09). */
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
		if (r == 0 && !declares(&a->list, caps[i].cap) && strcmp(caps[i].cap, "deviceID"))
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

/* cni-args -> every plugin's args.cni, the annotation winning over the NAD (§2.7 item 9). */
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

/* The next device of resource allocated to the pod, asking kubelet once per resource. */
static int next_device(struct plan *p, const char *resource, const char **ret, struct cni_err *err)
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
	if (r->next >= r->n)
		return cni_err_set(
			err, CNI_ERR_DEVICE, ENODEV,
			"resource '%s': kubelet allocated %zu device(s) to the pod, none "
			"left for this attachment",
			resource, r->n);
	*ret = r->ids[r->next++];
	return 0;
}

/* NAD-31..34: the resource's device goes into every plugin as deviceID and pciBusID (as Multus
 * does) and as runtimeConfig.deviceID; the device plugin's device-info file is copied to this
 * attachment's own, whose path reaches plugins declaring CNIDeviceInfoFile. */
static int plan_device(struct plan *p, struct attachment *a, const char *resource,
		       struct cni_err *err)
{
	const char *dev = NULL;
	if (!a->cap_args)
		a->cap_args = cJSON_CreateObject();
	if (resource) {
		int r = next_device(p, resource, &dev, err);
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
	if (!dev && !declares(&a->list, "CNIDeviceInfoFile"))
		return 0;
	_cleanup_free_ char *base = xasprintf("%s-%s_%s", a->name, p->ctx->container_id, a->ifname);
	for (char *c = base; *c; c++)
		if (*c == '/')
			*c = '-';
	_cleanup_free_ char *dir = xasprintf("%s/cni", p->conf.device_info_dir);
	a->device_info_file = xasprintf("%s/%s", dir, base);
	if (dev) {
		_cleanup_free_ char *res = xstrdup(resource), *text = NULL;
		for (char *c = res; *c; c++)
			if (*c == '/')
				*c = '-';
		_cleanup_free_ char *dp =
			xasprintf("%s/dp/%s-%s-device.json", p->conf.device_info_dir, res, dev);
		size_t len = 0;
		if (file_read_all(dp, CACHE_MAX, &text, &len) == 0) {
			int r = file_mkdir_p(dir, 0755);
			if (r >= 0)
				r = file_write_atomic(a->device_info_file, text, len, 0644);
			if (r < 0)
				return cni_err_set(err, CNI_ERR_IO, -r, "device-info '%s': %s",
						   a->device_info_file, strerror(-r));
		}
	}
	cJSON_DeleteItemFromObjectCaseSensitive(a->cap_args, "CNIDeviceInfoFile");
	cJSON_AddStringToObject(a->cap_args, "CNIDeviceInfoFile", a->device_info_file);
	return 0;
}

static int plan_selection(struct plan *p, struct meta_selection *s, size_t index,
			  struct cni_err *err)
{
	const char *ns = s->namespace ? s->namespace : p->pod_ns;
	/* NAD-24: namespace isolation as Multus defines it. */
	if (p->conf.namespace_isolation && strcmp(ns, p->pod_ns) != 0 &&
	    !meta_ns_in(p->conf.global_namespaces, p->conf.n_global_namespaces, ns))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EPERM,
				   "namespace isolation: pod in '%s' may not use network '%s/%s'",
				   p->pod_ns, ns, s->name);
	_cleanup_free_ char *name = xasprintf("%s/%s", ns, s->name);
	_cleanup_free_ char *text = NULL, *resource = NULL;
	int r = nad_conf(p, ns, s->name, &text, &resource, err);
	if (r < 0)
		return cni_err_wrap(err, "network '%s'", name);
	/* NAD-12: net1, net2... by position unless the pod names the interface. */
	_cleanup_free_ char *gen = xasprintf("net%zu", index + 1);
	const char *ifname = s->ifname ? s->ifname : gen;
	for (size_t i = 0; i < p->n_att; i++)
		if (strcmp(p->att[i].ifname, ifname) == 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EEXIST,
					   "network '%s': interface '%s' is already used by '%s'",
					   name, ifname, p->att[i].name);
	struct attachment *a = add_att(p, name, ifname, false);
	r = parse_list(p, a, text, s->name, err);
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
static int plan_secondary(struct plan *p, struct cni_err *err)
{
	struct meta_selection *sel = NULL;
	size_t n = 0, index = 0;
	int r = 0;
	bool system = meta_ns_in(p->conf.system_namespaces, p->conf.n_system_namespaces,
				 p->pod_ns ? p->pod_ns : "");
	const cJSON *dn;
	const cJSON *defaults = system ? NULL : p->conf.default_networks;
	cJSON_ArrayForEach (dn, defaults) {
		struct meta_selection s = { .name = dn->valuestring,
					    .namespace = (char *)p->conf.multus_namespace };
		r = plan_selection(p, &s, index++, err);
		if (r < 0)
			return r;
	}
	r = meta_networks_parse(annotation(p, META_NETWORKS_ANNOTATION), &sel, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = plan_selection(p, &sel[i], index++, err);
	meta_selections_free(sel, n);
	return r;
}

static char *cache_path(const struct plan *p)
{
	return xasprintf("%s/%s.json", p->conf.cni_dir, p->ctx->container_id);
}

static cJSON *att_json(const struct attachment *a)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", a->name);
	cJSON_AddStringToObject(j, "ifname", a->ifname);
	cJSON_AddBoolToObject(j, "default", a->is_default);
	cJSON_AddItemToObject(j, "conf", cJSON_Duplicate(a->list.json, true));
	if (a->cap_args)
		cJSON_AddItemToObject(j, "capArgs", cJSON_Duplicate(a->cap_args, true));
	if (a->default_route)
		cJSON_AddItemToObject(j, "defaultRoute", cJSON_Duplicate(a->default_route, true));
	if (a->device_info_file) {
		cJSON_AddStringToObject(j, "deviceInfoFile", a->device_info_file);
		/* NAD-35: what the chain left in the file goes into network-status. */
		_cleanup_free_ char *text = NULL;
		cJSON *info = NULL;
		if (file_read_all(a->device_info_file, CACHE_MAX, &text, NULL) == 0 &&
		    (info = cJSON_Parse(text)) && cJSON_IsObject(info))
			cJSON_AddItemToObject(j, "deviceInfo", info);
		else
			cJSON_Delete(info);
	}
	cJSON *res = NULL;
	if (a->result && cni_result_encode(a->result, CNI_V110, &res, NULL) == 0)
		cJSON_AddItemToObject(j, "result", res);
	return j;
}

/* The intent log (DESIGN §2.4): written before the first delegate runs and after each one, so
 * DEL can undo exactly what was attempted without the API. */
static int cache_write(const struct plan *p, size_t attempted, struct cni_err *err)
{
	int r = file_mkdir_p(p->conf.cni_dir, 0700);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "cniDir '%s': %s", p->conf.cni_dir,
				   strerror(-r));
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "containerID", p->ctx->container_id);
	cJSON_AddStringToObject(j, "netns", p->ctx->netns_path ? p->ctx->netns_path : "");
	cJSON_AddStringToObject(j, "cniArgs", p->ctx->args_raw ? p->ctx->args_raw : "");
	cJSON_AddStringToObject(j, "cniVersion", cni_version_str(p->ctx->version));
	cJSON *list = cJSON_AddArrayToObject(j, "attachments");
	for (size_t i = 0; i < p->n_att; i++) {
		cJSON *a = att_json(&p->att[i]);
		cJSON_AddBoolToObject(a, "attempted", i < attempted);
		cJSON_AddItemToArray(list, a);
	}
	_cleanup_free_ char *text = json_print(j);
	_cleanup_free_ char *path = cache_path(p);
	r = file_write_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "intent log '%s': %s", path, strerror(-r));
	return 0;
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

static struct dlg_rt att_rt(const struct plan *p, const struct attachment *a)
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

static int plan_init(struct plan *p, const struct cni_ctx *ctx, struct cni_err *err)
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

static void rollback(struct plan *p, size_t attempted)
{
	for (size_t i = attempted; i-- > 0;) {
		struct attachment *a = &p->att[i];
		struct dlg_rt rt = att_rt(p, a);
		struct cni_err e = { 0 };
		if (dlg_list_del(&a->list, &rt, a->result, &e) < 0)
			log_warning("rollback of '%s' (%s): %s", a->name, a->ifname, e.msg);
		if (a->device_info_file)
			(void)unlink(a->device_info_file);
	}
}

static void patch_status(struct plan *p, struct cni_err *err, int *ret)
{
	if (!p->pod_name)
		return;
	_cleanup_json_ cJSON *atts = cJSON_CreateArray();
	for (size_t i = 0; i < p->n_att; i++)
		cJSON_AddItemToArray(atts, att_json(&p->att[i]));
	_cleanup_json_ cJSON *status = meta_network_status(atts);
	_cleanup_free_ char *text = json_print(status);
	struct cni_err e = { 0 };
	int r = kube(p, &e);
	if (r >= 0)
		r = kube_pod_status_patch_network_status(p->kube, p->pod_ns, p->pod_name, text, &e);
	if (r < 0) {
		if (p->conf.fail_on_status_error) {
			*err = e;
			*ret = r;
			return;
		}
		log_warning("network-status of pod '%s/%s' not written: %s, ignoring", p->pod_ns,
			    p->pod_name, e.msg);
	}
}

struct default_route_args {
	const char *ifname;
	const struct ip_addr *gws;
	size_t n;
};

/* Inside the pod: drop every default route of the gateways' families, then add one via each
 * gateway on ifname, in order (the first has the lowest metric). */
static int default_route_in_pod(void *arg, struct cni_err *err)
{
	struct default_route_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(a->ifname, &sk, &link, err);
	if (r < 0)
		return r;
	bool done[2] = { false, false };
	for (size_t i = 0; i < a->n; i++) {
		int v6 = a->gws[i].family == AF_INET6;
		if (!done[v6] && (r = net_route_del_default(sk, a->gws[i].family, err)) < 0)
			return r;
		done[v6] = true;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct cni_route rt = { .gw = a->gws[i],
					.has = CNI_ROUTE_HAS_PRIORITY,
					.priority = (uint32_t)i };
		rt.dst.ip.family = a->gws[i].family;
		r = net_route_add(sk, rtnl_link_get_ifindex(link), &rt, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* NAD-20: the attachment whose selection carries default-route gets the pod's default route
 * via its gateways (the listed ones, or its IPAM gateways when the list is empty); every other
 * attachment loses its default routes of those families, in the pod and in the cached results
 * so CHECK and DEL stay consistent. */
static int apply_default_route(struct plan *p, struct cni_err *err)
{
	struct attachment *chosen = NULL;
	for (size_t i = 0; i < p->n_att; i++)
		if (p->att[i].default_route)
			chosen = &p->att[i];
	if (!chosen)
		return 0;
	_cleanup_free_ struct ip_addr *gws = NULL;
	size_t n = 0;
	const cJSON *g;
	cJSON_ArrayForEach (g, chosen->default_route) {
		gws = xrealloc(gws, (n + 1) * sizeof(*gws));
		if (parse_ip(g->valuestring, &gws[n]) == 0)
			n++;
	}
	for (size_t i = 0; n == 0 && chosen->result && i < chosen->result->n_ips; i++) {
		if (!chosen->result->ips[i].gateway.family)
			continue;
		gws = xrealloc(gws, (n + 1) * sizeof(*gws));
		gws[n++] = chosen->result->ips[i].gateway;
	}
	if (n == 0)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"network '%s': default-route without a gateway, and its IPAM gave "
			"none",
			chosen->name);
	/* network-status reports the gateways in use. */
	cJSON_Delete(chosen->default_route);
	chosen->default_route = cJSON_CreateArray();
	for (size_t j = 0; j < n; j++) {
		char buf[IP_STR_LEN];
		format_ip(&gws[j], buf);
		cJSON_AddItemToArray(chosen->default_route, cJSON_CreateString(buf));
	}
	struct default_route_args a = { .ifname = chosen->ifname, .gws = gws, .n = n };
	int r = cni_netns_run(p->ctx->netns_fd, default_route_in_pod, &a, err);
	if (r < 0)
		return cni_err_wrap(err, "network '%s': default-route", chosen->name);
	for (size_t i = 0; i < p->n_att; i++) {
		struct cni_result *res = p->att[i].result;
		for (size_t k = 0; res && k < res->n_routes;) {
			bool same_family = false;
			for (size_t j = 0; j < n; j++)
				same_family |= res->routes[k].dst.ip.family == gws[j].family;
			if (res->routes[k].dst.prefix == 0 && same_family) {
				memmove(&res->routes[k], &res->routes[k + 1],
					(res->n_routes - k - 1) * sizeof(res->routes[0]));
				res->n_routes--;
			} else {
				k++;
			}
		}
	}
	for (size_t j = 0; chosen->result && j < n; j++) {
		struct cni_route rt = { .gw = gws[j] };
		rt.dst.ip.family = gws[j].family;
		cni_result_add_route(chosen->result, &rt);
	}
	return 0;
}

static int meta_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct plan p;
	int r = plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	const char *ready = p.conf.readiness_indicator_file;
	if (ready && access(ready, F_OK) < 0) {
		r = cni_err_set(err, CNI_ERR_TRY_AGAIN, ENOENT,
				"readinessindicatorfile '%s' does not exist: the cluster network "
				"is not ready",
				ready);
		goto out;
	}
	if ((r = load_annotations(&p, err)) < 0 || (r = plan_default(&p, err)) < 0 ||
	    (r = plan_secondary(&p, err)) < 0 || (r = cache_write(&p, 0, err)) < 0) {
		/* Nothing ran yet, but planning may have copied device-info files. */
		for (size_t i = 0; i < p.n_att; i++)
			if (p.att[i].device_info_file)
				(void)unlink(p.att[i].device_info_file);
		goto out;
	}
	for (size_t i = 0; i < p.n_att; i++) {
		struct attachment *a = &p.att[i];
		struct dlg_rt rt = att_rt(&p, a);
		/* Record the attempt first: a crash mid-ADD must still be undone by DEL. */
		if ((r = cache_write(&p, i + 1, err)) < 0 ||
		    (r = dlg_list_add(&a->list, &rt, &a->result, err)) < 0) {
			if (r < 0 && a->list.json)
				(void)cni_err_wrap(err, "network '%s' (%s)", a->name, a->ifname);
			/* NAD-21: stop and undo every attempted attachment, this one included. */
			rollback(&p, i + 1);
			_cleanup_free_ char *path = cache_path(&p);
			(void)unlink(path);
			goto out;
		}
		log_info("attached '%s' as '%s'", a->name, a->ifname);
	}
	if ((r = apply_default_route(&p, err)) < 0) {
		rollback(&p, p.n_att);
		_cleanup_free_ char *path = cache_path(&p);
		(void)unlink(path);
		goto out;
	}
	if ((r = cache_write(&p, p.n_att, err)) < 0)
		goto out;
	patch_status(&p, err, &r);
	if (r < 0)
		goto out;
	/* NAD-26: the runtime gets the cluster network's result. */
	*ret = TAKE_PTR(p.att[0].result);
out:
	plan_done(&p);
	return r;
}

/* Rebuild the plan from an intent log. */
static int plan_from_cache(struct plan *p, const char *text, struct cni_err *err)
{
	_cleanup_json_ cJSON *j = NULL;
	int r = json_parse(text, strlen(text), "intent log", &j, err);
	if (r < 0)
		return r;
	const cJSON *a;
	cJSON_ArrayForEach (a, json_get(j, "attachments")) {
		if (json_get(a, "attempted") && !cJSON_IsTrue(json_get(a, "attempted")))
			continue;
		struct attachment *att = add_att(p, cJSON_GetStringValue(json_get(a, "name")) ?: "",
						 cJSON_GetStringValue(json_get(a, "ifname")) ?: "",
						 cJSON_IsTrue(json_get(a, "default")));
		_cleanup_free_ char *conf = json_print(json_get(a, "conf"));
		r = dlg_list_parse(conf, strlen(conf), NULL, NULL, &att->list, err);
		if (r < 0)
			return cni_err_wrap(err, "intent log: network '%s'", att->name);
		const char *dif = cJSON_GetStringValue(json_get(a, "deviceInfoFile"));
		if (dif)
			att->device_info_file = xstrdup(dif);
		const cJSON *caps = json_get(a, "capArgs"), *res = json_get(a, "result");
		if (caps)
			att->cap_args = cJSON_Duplicate(caps, true);
		if (res && cni_result_decode(res, CNI_V110, &att->result, NULL) < 0)
			att->result = NULL;
	}
	return 0;
}

static int meta_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r = plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	path = cache_path(&p);
	r = file_read_all(path, CACHE_MAX, &text, NULL);
	if (r == 0) {
		r = plan_from_cache(&p, text, err);
	} else {
		/* No intent log: rebuild from the API; if that fails there is nothing we can
		 * name to clean up, and failing would only make the runtime retry forever. */
		struct cni_err e = { 0 };
		r = load_annotations(&p, &e);
		if (r >= 0)
			r = plan_default(&p, &e);
		if (r >= 0)
			r = plan_secondary(&p, &e);
		if (r < 0) {
			log_warning("DEL: no intent log '%s' and no plan from the API (%s): "
				    "nothing to clean up",
				    path, e.msg);
			r = 0;
			goto out;
		}
	}
	if (r < 0)
		goto out;
	/* NAD-22: try every attachment, report the first failure. The built-ins' links are
	 * deleted together at the end: one kernel RCU wait for the pod instead of one each. */
	int first = 0;
	net_del_batch_begin(ctx->netns_fd);
	for (size_t i = p.n_att; i-- > 0;) {
		struct attachment *a = &p.att[i];
		struct dlg_rt rt = att_rt(&p, a);
		struct cni_err e = { 0 };
		int rr = dlg_list_del(&a->list, &rt, a->result, &e);
		if (a->device_info_file)
			(void)unlink(a->device_info_file);
		if (rr < 0) {
			log_warning("DEL '%s' (%s): %s", a->name, a->ifname, e.msg);
			if (!first) {
				first = rr;
				*err = e;
				(void)cni_err_wrap(err, "network '%s' (%s)", a->name, a->ifname);
			}
		}
	}
	struct cni_err e = { 0 };
	int rb = net_del_batch_end(&e);
	if (rb < 0) {
		log_warning("DEL: delete the pod's links: %s", e.msg);
		if (!first) {
			first = rb;
			*err = e;
		}
	}
	r = first;
	if (r == 0 || !p.conf.retry_delete_on_error)
		(void)unlink(path);
out:
	plan_done(&p);
	return r;
}

static int meta_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r = plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	path = cache_path(&p);
	r = file_read_all(path, CACHE_MAX, &text, NULL);
	if (r < 0) {
		r = cni_err_set(err, CNI_ERR_UNKNOWN_CONTAINER, -r,
				"no intent log '%s' for this container", path);
		goto out;
	}
	r = plan_from_cache(&p, text, err);
	for (size_t i = 0; r == 0 && i < p.n_att; i++) {
		struct dlg_rt rt = att_rt(&p, &p.att[i]);
		r = dlg_list_check(&p.att[i].list, &rt, p.att[i].result, err);
		if (r < 0)
			(void)cni_err_wrap(err, "network '%s' (%s)", p.att[i].name,
					   p.att[i].ifname);
	}
out:
	plan_done(&p);
	return r;
}

/* The rt of a verb that concerns no container (STATUS, GC). */
static struct dlg_rt global_rt(const struct plan *p)
{
	return (struct dlg_rt){ .path = p->path, .timeout_ms = (int)p->conf.delegate_timeout_ms };
}

/* STATUS: not ready until the readiness indicator exists (NAD-19); then the cluster network's
 * plugins must be ready too (CNI-36). */
static int meta_status(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	int r = plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	const char *ready = p.conf.readiness_indicator_file;
	if (ready && access(ready, F_OK) < 0) {
		r = cni_err_set(err, CNI_ERR_NOT_AVAILABLE, ENOENT,
				"readinessindicatorfile '%s' does not exist", ready);
		goto out;
	}
	struct cni_err e = { 0 };
	r = plan_default(&p, &e);
	if (r < 0) {
		r = cni_err_set(err, CNI_ERR_NOT_AVAILABLE, -r, "%s", e.msg);
		goto out;
	}
	struct dlg_rt rt = global_rt(&p);
	r = dlg_list_status(&p.att[0].list, &rt, err);
out:
	plan_done(&p);
	return r;
}

static bool valid_container(const struct cni_ctx *ctx, const char *id)
{
	for (size_t i = 0; i < ctx->n_valid_attachments; i++)
		if (strcmp(ctx->valid_attachments[i].container_id, id) == 0)
			return true;
	return false;
}

/* GC (CNI-41/42): every intent log of a container not in cni.dev/valid-attachments is undone
 * (its netns is assumed gone) and dropped; then the cluster network gets GC too. Keeps going
 * and reports the first failure. */
static int meta_gc(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	int r = plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	int first = 0;
	struct dirent **ents = NULL;
	int n = scandir(p.conf.cni_dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *id = xstrdup(ents[i]->d_name);
		free(ents[i]);
		size_t l = strlen(id);
		if (l <= 5 || strcmp(id + l - 5, ".json") != 0)
			continue;
		id[l - 5] = '\0';
		if (valid_container(ctx, id))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s.json", p.conf.cni_dir, id);
		_cleanup_free_ char *text = NULL;
		struct plan stale;
		struct cni_ctx sctx = *ctx;
		sctx.container_id = id;
		sctx.netns_path = NULL;
		sctx.netns_fd = -1;
		struct cni_err e = { 0 };
		int rr = plan_init(&stale, &sctx, &e);
		if (rr >= 0 && (rr = file_read_all(path, CACHE_MAX, &text, NULL)) >= 0)
			rr = plan_from_cache(&stale, text, &e);
		for (size_t k = stale.n_att; rr >= 0 && k-- > 0;) {
			struct attachment *a = &stale.att[k];
			struct dlg_rt rt = att_rt(&stale, a);
			rr = dlg_list_del(&a->list, &rt, a->result, &e);
		}
		plan_done(&stale);
		if (rr < 0) {
			log_warning("GC: container '%s': %s", id, e.msg);
			if (!first) {
				first = rr;
				*err = e;
			}
			continue;
		}
		(void)unlink(path);
		log_info("GC: removed the attachments of container '%s'", id);
	}
	free(ents);
	struct cni_err e = { 0 };
	if (plan_default(&p, &e) >= 0) {
		struct dlg_rt rt = global_rt(&p);
		const cJSON *valid = json_get(ctx->conf, "cni.dev/valid-attachments");
		if (!valid)
			valid = json_get(ctx->conf, "cni.dev/attachments");
		if (dlg_list_gc(&p.att[0].list, &rt, valid, &e) < 0 && !first) {
			first = -EIO;
			*err = e;
		}
	}
	r = first;
out:
	plan_done(&p);
	return r;
}

static const char *const meta_aliases[] = { "multus", NULL };

const struct cni_plugin meta_plugin = {
	.name = "plexus",
	.aliases = meta_aliases,
	.versions = CNI_VERSIONS_ALL,
	.top_level_only = true,
	.add = meta_add,
	.del = meta_del,
	.check = meta_check,
	.status = meta_status,
	.gc = meta_gc,
};
