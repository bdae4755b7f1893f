/* SPDX-License-Identifier: Apache-2.0 */
/* NetworkAttachmentDefinitions (k8s.cni.cncf.io/v1) through the Kubernetes API. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

struct cni_err;
struct kube_config;

#define KUBE_ANN_RESOURCE_NAME "k8s.v1.cni.cncf.io/resourceName"

/* A fetched NAD. Everything is owned by the struct; annotations is borrowed from obj. */
struct kube_nad {
	char *ns;
	char *name;
	char *config;	     /* spec.config; NULL when spec or config is absent or "" */
	char *resource_name; /* the resourceName annotation, NULL if absent */
	cJSON *obj;
	const cJSON *annotations;
};

/* The Kubernetes object-name rule for a NAD reference: ns a DNS-1123 label, name a DNS-1123
 * subdomain (NADs are custom resources). ns NULL checks the name only. Code 7, the same text
 * for the annotation parser and the API client. */
int kube_nad_check_name(const char *ns, const char *name, struct cni_err *err);

/* GET /apis/k8s.cni.cncf.io/v1/namespaces/NS/network-attachment-definitions/NAME. ns and name
 * must pass kube_nad_check_name (code 7); missing NAD -ENOENT (code 101); a non-string
 * spec.config is code 6. The config text is not parsed here. */
int kube_nad_get(const struct kube_config *cfg, const char *ns, const char *name,
		 struct kube_nad **ret, struct cni_err *err);
void kube_nad_free(struct kube_nad *nad);

static inline void kube_nad_freep(struct kube_nad **p)
{
	kube_nad_free(*p);
}
#define _cleanup_kube_nad_ __attribute__((cleanup(kube_nad_freep)))
