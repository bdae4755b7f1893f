/* SPDX-License-Identifier: Apache-2.0 */
/* Pods through the Kubernetes API: GET (annotations, uid) and the network-status patch. */
#pragma once

#include <cjson/cJSON.h>

struct cni_err;
struct kube_config;

#define KUBE_ANN_NETWORKS "k8s.v1.cni.cncf.io/networks"
#define KUBE_ANN_NETWORK_STATUS "k8s.v1.cni.cncf.io/network-status"
#define KUBE_ANN_DEFAULT_NETWORK "v1.multus-cni.io/default-network"

/* A fetched pod. Everything is owned by the struct; annotations is borrowed from obj (NULL
 * when the pod has none; every value is a string). */
struct kube_pod {
	char *ns;
	char *name;
	char *uid; /* NULL if the object has none */
	cJSON *obj;
	const cJSON *annotations;
};

/* GET /api/v1/namespaces/NS/pods/NAME. ns and name are validated first (code 7). A missing
 * pod is -ENOENT (code 101); see http.h for the other errors. */
int kube_pod_get(const struct kube_config *cfg, const char *ns, const char *name,
		 struct kube_pod **ret, struct cni_err *err);
/* The annotation's value (borrowed from pod), or NULL. */
const char *kube_pod_annotation(const struct kube_pod *pod, const char *key);
void kube_pod_free(struct kube_pod *pod);

/* Set the k8s.v1.cni.cncf.io/network-status annotation to status_json (a JSON array, which is
 * validated: code 7 otherwise) with one JSON merge patch (RFC 7386) on pods/NAME/status. */
int kube_pod_status_patch_network_status(const struct kube_config *cfg, const char *ns,
					 const char *name, const char *status_json,
					 struct cni_err *err);

static inline void kube_pod_freep(struct kube_pod **p)
{
	kube_pod_free(*p);
}
#define _cleanup_kube_pod_ __attribute__((cleanup(kube_pod_freep)))
