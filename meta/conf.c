// SPDX-License-Identifier: Apache-2.0
/* Multus-compatible configuration of the meta-plugin (docs/meta.md lists every key). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "meta/conf.h"

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void meta_conf_done(struct meta_conf *c)
{
	strv_free(c->global_namespaces, c->n_global_namespaces);
	strv_free(c->system_namespaces, c->n_system_namespaces);
	meta_policy_done(&c->policy);
	memset(c, 0, sizeof(*c));
}

bool meta_ns_in(char *const *list, size_t n, const char *ns)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], ns) == 0)
			return true;
	return false;
}

/* Multus takes these as comma-separated strings; a JSON list is accepted too. */
static int get_ns_list(const cJSON *conf, const char *key, const char *dflt, char ***ret,
		       size_t *ret_n, struct cni_err *err)
{
	const cJSON *v = json_get(conf, key);
	char **list = NULL;
	size_t n = 0;
	if (cJSON_IsArray(v)) {
		const cJSON *e;
		cJSON_ArrayForEach (e, v) {
			if (!cJSON_IsString(e)) {
				strv_free(list, n);
				return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						   "%s: must be a list of strings", key);
			}
			list = xrealloc(list, (n + 1) * sizeof(*list));
			list[n++] = xstrdup(e->valuestring);
		}
	} else {
		if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: must be a comma-separated string", key);
		const char *s = cJSON_IsString(v) && *v->valuestring ? v->valuestring : dflt;
		_cleanup_free_ char *copy = xstrdup(s);
		char *save = NULL;
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			list = xrealloc(list, (n + 1) * sizeof(*list));
			list[n++] = xstrdup(t);
		}
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

static int get_str(const cJSON *conf, const char *key, const char *dflt, const char **ret,
		   struct cni_err *err)
{
	const char *v = NULL;
	int r = json_get_string(conf, key, key, &v, NULL, err);
	if (r < 0)
		return r;
	*ret = v && *v ? v : dflt;
	return 0;
}

static int get_seconds(const cJSON *conf, const char *key, long dflt_ms, long *ret,
		       struct cni_err *err)
{
	int64_t v = 0;
	bool present = false;
	int r = json_get_int(conf, key, key, 1, 3600, &v, &present, err);
	if (r < 0)
		return r;
	*ret = present ? (long)v * 1000 : dflt_ms;
	return 0;
}

int meta_conf_parse(const cJSON *conf, struct meta_conf *ret, struct cni_err *err)
{
	struct meta_conf c = { 0 };
	int r;
	if ((r = get_str(conf, "kubeconfig", NULL, &c.kubeconfig, err)) < 0 ||
	    (r = get_str(conf, "confDir", "/etc/cni/multus/net.d", &c.conf_dir, err)) < 0 ||
	    (r = get_str(conf, "cniDir", "/var/lib/cni/multus", &c.cni_dir, err)) < 0 ||
	    (r = get_str(conf, "binDir", NULL, &c.bin_dir, err)) < 0 ||
	    (r = get_str(conf, "clusterNetwork", NULL, &c.cluster_network, err)) < 0 ||
	    (r = get_str(conf, "multusNamespace", "kube-system", &c.multus_namespace, err)) < 0 ||
	    (r = get_str(conf, "readinessindicatorfile", NULL, &c.readiness_indicator_file, err)) <
		    0 ||
	    (r = get_str(conf, "podResourcesSocket", "/var/lib/kubelet/pod-resources/kubelet.sock",
			 &c.pod_resources_socket, err)) < 0 ||
	    (r = get_str(conf, "deviceInfoDir", "/var/run/k8s.cni.cncf.io/devinfo",
			 &c.device_info_dir, err)) < 0 ||
	    (r = get_str(conf, "apiRelay", NULL, &c.api_relay, err)) < 0)
		goto fail;
	if ((r = json_get_array(conf, "defaultNetworks", "defaultNetworks", &c.default_networks,
				err)) < 0 ||
	    (r = json_get_array(conf, "delegates", "delegates", &c.delegates, err)) < 0 ||
	    (r = json_get_array(conf, "inProcessTypes", "inProcessTypes", &c.in_process_types,
				err)) < 0)
		goto fail;
	const cJSON *e;
	cJSON_ArrayForEach (e, c.default_networks) {
		if (!cJSON_IsString(e) || !*e->valuestring) {
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					"defaultNetworks: must be a list of network names");
			goto fail;
		}
	}
	cJSON_ArrayForEach (e, c.in_process_types) {
		if (!cJSON_IsString(e)) {
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					"inProcessTypes: must be a list of plugin types");
			goto fail;
		}
	}
	if (c.delegates && (cJSON_GetArraySize(c.delegates) == 0 ||
			    !cJSON_IsObject(cJSON_GetArrayItem(c.delegates, 0)))) {
		r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				"delegates: must be a non-empty list of network configurations");
		goto fail;
	}
	if (!c.cluster_network && !c.delegates) {
		r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				"clusterNetwork: missing (or give the legacy 'delegates' list)");
		goto fail;
	}
	if ((r = json_get_bool(conf, "namespaceIsolation", "namespaceIsolation",
			       &c.namespace_isolation, NULL, err)) < 0 ||
	    (r = json_get_bool(conf, "retryDeleteOnError", "retryDeleteOnError",
			       &c.retry_delete_on_error, NULL, err)) < 0 ||
	    (r = json_get_bool(conf, "failOnStatusPatchError", "failOnStatusPatchError",
			       &c.fail_on_status_error, NULL, err)) < 0)
		goto fail;
	bool present = false;
	if ((r = json_get_bool(conf, "inProcessIPAM", "inProcessIPAM", &c.in_process_ipam, &present,
			       err)) < 0)
		goto fail;
	if (!present)
		c.in_process_ipam = true;
	if ((r = get_seconds(conf, "apiTimeoutSeconds", 10000, &c.api_timeout_ms, err)) < 0 ||
	    (r = get_seconds(conf, "apiConnectTimeoutSeconds", 3000, &c.api_connect_timeout_ms,
			     err)) < 0 ||
	    (r = get_seconds(conf, "delegateTimeoutSeconds", 60000, &c.delegate_timeout_ms, err)) <
		    0)
		goto fail;
	int64_t par = 0;
	bool has_par = false;
	if ((r = json_get_int(conf, "maxParallelAttachments", "maxParallelAttachments", 1,
			      META_MAX_PARALLEL, &par, &has_par, err)) < 0)
		goto fail;
	c.max_parallel = has_par ? (size_t)par : 4;
	if ((r = get_ns_list(conf, "globalNamespaces", "default", &c.global_namespaces,
			     &c.n_global_namespaces, err)) < 0 ||
	    (r = get_ns_list(conf, "systemNamespaces", "kube-system", &c.system_namespaces,
			     &c.n_system_namespaces, err)) < 0)
		goto fail;
	if ((r = meta_policy_parse(conf, c.multus_namespace, &c.policy, err)) < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	meta_conf_done(&c);
	return r;
}
