// SPDX-License-Identifier: Apache-2.0
/* Shared helpers for Kubernetes objects: DNS-1123 names, GET + decode, annotations. */
#include <errno.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/util/cleanup.h"

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool kube_dns1123_label(const char *s)
{
	return s && label_n(s, strlen(s));
}

bool kube_dns1123_subdomain(const char *s)
{
	if (!s || !*s || strlen(s) > 253)
		return false;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (!label_n(s, n))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

int kube_check_names(const char *ns, const char *name, bool name_is_label, const char *kind,
		     struct cni_err *err)
{
	if (!kube_dns1123_label(ns))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "invalid namespace '%s': not a DNS-1123 label", ns ? ns : "");
	if (!(name_is_label ? kube_dns1123_label(name) : kube_dns1123_subdomain(name)))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "invalid %s name '%s': not a DNS-1123 %s", kind,
				   name ? name : "", name_is_label ? "label" : "subdomain");
	return 0;
}

int kube_get_object(const struct kube_config *cfg, const char *path, const char *what,
		    const char *kind, cJSON **ret, struct cni_err *err)
{
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	struct kube_request req = { .method = "GET", .path = path, .what = what };
	int r = kube_request(cfg, &req, &body, &len, err);
	if (r < 0)
		return r;
	_cleanup_json_ cJSON *json = NULL;
	r = json_parse(body, len, what, &json, err);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(json))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: response is not a JSON object",
				   what);
	const cJSON *k = json_get(json, "kind");
	if (kind && k && (!cJSON_IsString(k) || strcmp(k->valuestring, kind) != 0))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: expected kind %s", what, kind);
	*ret = TAKE_PTR(json);
	return 0;
}

int kube_object_annotations(const cJSON *obj, const char *what, const cJSON **ret,
			    struct cni_err *err)
{
	const cJSON *meta = NULL, *ann = NULL;
	int r = json_get_object(obj, "metadata", "metadata", &meta, err);
	if (r < 0)
		goto fail;
	r = json_get_object(meta, "annotations", "metadata.annotations", &ann, err);
	if (r < 0)
		goto fail;
	const cJSON *a;
	cJSON_ArrayForEach (a, ann)
		if (!cJSON_IsString(a))
			return cni_err_set(err, CNI_ERR_DECODE, 0,
					   "%s: metadata.annotations['%s']: expected a string",
					   what, a->string ? a->string : "");
	*ret = ann;
	return 0;
fail:
	if (err)
		err->code = CNI_ERR_DECODE;
	return cni_err_wrap(err, "%s", what);
}
