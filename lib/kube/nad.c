// SPDX-License-Identifier: Apache-2.0
/* NetworkAttachmentDefinition GET: spec.config and the resourceName annotation. */
#include <errno.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/internal.h"
#include "lib/kube/nad.h"
#include "lib/util/cleanup.h"

void kube_nad_free(struct kube_nad *nad)
{
	if (!nad)
		return;
	free(nad->ns);
	free(nad->name);
	free(nad->config);
	free(nad->resource_name);
	cJSON_Delete(nad->obj);
	free(nad);
}

int kube_nad_check_name(const char *ns, const char *name, struct cni_err *err)
{
	/* kube_check_names always checks a namespace: a valid stand-in when there is none. */
	return kube_check_names(ns ? ns : "default", name, false, "network-attachment-definition",
				err);
}

int kube_nad_get(const struct kube_config *cfg, const char *ns, const char *name,
		 struct kube_nad **ret, struct cni_err *err)
{
	int r = kube_nad_check_name(ns, name, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = xasprintf(
		"/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions/%s", ns,
		name);
	_cleanup_free_ char *what = xasprintf("get network-attachment-definitions/%s/%s", ns, name);
	_cleanup_json_ cJSON *obj = NULL;
	r = kube_get_object(cfg, path, what, "NetworkAttachmentDefinition", &obj, err);
	if (r < 0)
		return r;
	const cJSON *ann = NULL;
	r = kube_object_annotations(obj, what, &ann, err);
	if (r < 0)
		return r;
	const cJSON *spec = json_get(obj, "spec"), *config = json_get(spec, "config");
	if (spec && !cJSON_IsObject(spec) && !cJSON_IsNull(spec))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: spec: must be an object", what);
	if (config && !cJSON_IsString(config) && !cJSON_IsNull(config))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: spec.config: must be a string",
				   what);
	const cJSON *res = json_get(ann, KUBE_ANN_RESOURCE_NAME);
	struct kube_nad *nad = xcalloc(1, sizeof(*nad));
	nad->ns = xstrdup(ns);
	nad->name = xstrdup(name);
	if (cJSON_IsString(config) && *config->valuestring)
		nad->config = xstrdup(config->valuestring);
	if (cJSON_IsString(res) && *res->valuestring)
		nad->resource_name = xstrdup(res->valuestring);
	nad->annotations = ann;
	nad->obj = TAKE_PTR(obj);
	*ret = nad;
	return 0;
}
