/* SPDX-License-Identifier: Apache-2.0 */
/* kubelet PodResources v1 client: which devices of a resource a pod was allocated. */
#pragma once

#include <stddef.h>

#include "lib/cni/err.h"

/* kubelet's default PodResources socket. */
#define GR_PODRESOURCES_SOCKET "/var/lib/kubelet/pod-resources/kubelet.sock"

/*
 * Ask kubelet (v1.PodResourcesLister/List on socket_path, bounded by timeout_ms) for the
 * device IDs of resource_name ("intel.com/sriov") allocated to pod pod_ns/pod_name, in
 * container order then kubelet's order within a container. An unknown pod or a pod without
 * that resource is success with *ret_n = 0. *ret_ids is a NULL-terminated array the caller
 * frees with gr_podresources_ids_free(). Errors as gr_call_unary(); an undecodable response
 * is CNI_ERR_DECODE.
 */
int gr_podresources_get_devices(const char *socket_path, const char *pod_ns, const char *pod_name,
				const char *resource_name, char ***ret_ids, size_t *ret_n,
				int timeout_ms, struct cni_err *err);
/* Free an array returned by gr_podresources_get_devices(); NULL is fine. */
void gr_podresources_ids_free(char **ids);
