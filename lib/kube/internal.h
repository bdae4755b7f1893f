/* SPDX-License-Identifier: Apache-2.0 */
/* lib/kube internals shared by pod.c and nad.c: name validation, GET-as-JSON, annotations. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

struct cni_err;
struct kube_config;

/* DNS-1123 label (namespaces) and subdomain (pod and NAD names), as Kubernetes names objects. */
bool kube_dns1123_label(const char *s);
bool kube_dns1123_subdomain(const char *s);
/* Validate ns (label) and name (label or subdomain) before they go into a URL: code 7. */
int kube_check_names(const char *ns, const char *name, bool name_is_label, const char *kind,
		     struct cni_err *err);
/* GET path and parse the object; checks kind when `kind` is non-NULL. *ret is owned. */
int kube_get_object(const struct kube_config *cfg, const char *path, const char *what,
		    const char *kind, cJSON **ret, struct cni_err *err);
/* metadata.annotations of obj (borrowed, NULL if none); every value must be a string (code 6,
 * naming `what`). */
int kube_object_annotations(const cJSON *obj, const char *what, const cJSON **ret,
			    struct cni_err *err);
