// SPDX-License-Identifier: Apache-2.0
/* Pod GET and the network-status merge patch on the pods/status subresource. */
#include <errno.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/pod.h"
#include "lib/util/cleanup.h"

void kube_pod_free(struct kube_pod *pod)
{
	if (!pod)
		return;
	free(pod->ns);
	free(pod->name);
	free(pod->uid);
	cJSON_Delete(pod->obj);
	free(pod);
}

int kube_pod_get(const struct kube_config *cfg, const char *ns, const char *name,
		 struct kube_pod **ret, struct cni_err *err)
{
	int r = kube_check_names(ns, name, false, "pod", err);
	if (r < 0)
		return r;
	/* Validated names hold only [a-z0-9.-]: nothing to escape in the path. */
	_cleanup_free_ char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", ns, name);
	_cleanup_free_ char *what = xasprintf("get pods/%s/%s", ns, name);
	_cleanup_json_ cJSON *obj = NULL;
	r = kube_get_object(cfg, path, what, "Pod", &obj, err);
	if (r < 0)
		return r;
	const cJSON *ann = NULL, *meta = json_get(obj, "metadata");
	r = kube_object_annotations(obj, what, &ann, err);
	if (r < 0)
		return r;
	const cJSON *uid = json_get(meta, "uid");
	struct kube_pod *pod = xcalloc(1, sizeof(*pod));
	pod->ns = xstrdup(ns);
	pod->name = xstrdup(name);
	pod->uid = cJSON_IsString(uid) ? xstrdup(uid->valuestring) : NULL;
	pod->annotations = ann;
	pod->obj = TAKE_PTR(obj);
	*ret = pod;
	return 0;
}

const char *kube_pod_annotation(const struct kube_pod *pod, const char *key)
{
	const cJSON *v = pod ? json_get(pod->annotations, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int kube_pod_status_patch_network_status(const struct kube_config *cfg, const char *ns,
					 const char *name, const char *status_json,
					 struct cni_err *err)
{
	int r = kube_check_names(ns, name, false, "pod", err);
	if (r < 0)
		return r;
	_cleanup_json_ cJSON *status = NULL;
	r = json_parse(status_json, status_json ? strlen(status_json) : 0, "network-status",
		       &status, err);
	if (r < 0 || !cJSON_IsArray(status))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "network-status: expected a JSON array");
	/* The annotation value is the array's text; cJSON escapes it as a JSON string. */
	_cleanup_free_ char *compact = json_print(status);
	_cleanup_json_ cJSON *patch = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *ann = meta ? cJSON_AddObjectToObject(meta, "annotations") : NULL;
	if (!ann || !cJSON_AddStringToObject(ann, KUBE_ANN_NETWORK_STATUS, compact))
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "network-status: out of memory");
	_cleanup_free_ char *body = json_print(patch);
	_cleanup_free_ char *path = xasprintf("/api/v1/namespaces/%s/pods/%s/status", ns, name);
	_cleanup_free_ char *what = xasprintf("patch pods/%s/%s/status", ns, name);
	struct kube_request req = {
		.method = "PATCH",
		.path = path,
		.content_type = "application/merge-patch+json",
		.body = body,
		.body_len = strlen(body),
		.what = what,
	};
	return kube_request(cfg, &req, NULL, NULL, err);
}
