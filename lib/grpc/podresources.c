// SPDX-License-Identifier: Apache-2.0
/* kubelet PodResources v1 client over lib/grpc: List, then pick one pod's devices. */
#include <errno.h>
#include <string.h>

#include "lib/grpc/client.h"
#include "lib/grpc/podresources.h"
#include "lib/grpc/proto/podresources_v1.pb-c.h"
#include "lib/util/cleanup.h"

#define LIST_PATH "/v1.PodResourcesLister/List"

void gr_podresources_ids_free(char **ids)
{
	if (!ids)
		return;
	for (char **p = ids; *p; p++)
		free(*p);
	free(ids);
}

static void ids_freep(char ***ids)
{
	gr_podresources_ids_free(*ids);
}

static void list_response_freep(V1__ListPodResourcesResponse **m)
{
	if (*m)
		v1__list_pod_resources_response__free_unpacked(*m, NULL);
}

static const V1__PodResources *find_pod(const V1__ListPodResourcesResponse *resp,
					const char *pod_ns, const char *pod_name)
{
	for (size_t i = 0; i < resp->n_pod_resources; i++) {
		const V1__PodResources *p = resp->pod_resources[i];

		if (p && p->name && p->namespace_ && strcmp(p->name, pod_name) == 0 &&
		    strcmp(p->namespace_, pod_ns) == 0)
			return p;
	}
	return NULL;
}

int gr_podresources_get_devices(const char *socket_path, const char *pod_ns, const char *pod_name,
				const char *resource_name, char ***ret_ids, size_t *ret_n,
				int timeout_ms, struct cni_err *err)
{
	_cleanup_(list_response_freep) V1__ListPodResourcesResponse *resp = NULL;
	_cleanup_(ids_freep) char **ids = NULL;
	_cleanup_free_ uint8_t *raw = NULL;
	V1__ListPodResourcesRequest req = V1__LIST_POD_RESOURCES_REQUEST__INIT;
	uint8_t reqbuf[16];
	size_t raw_len = 0, n = 0;
	int r;

	size_t req_len = v1__list_pod_resources_request__pack(&req, reqbuf);
	r = gr_call_unary(socket_path, LIST_PATH, reqbuf, req_len, &raw, &raw_len, timeout_ms, err);
	if (r < 0)
		return cni_err_wrap(err, "podresources '%s'", socket_path);
	resp = v1__list_pod_resources_response__unpack(NULL, raw_len, raw);
	if (!resp)
		return cni_err_set(err, CNI_ERR_DECODE, EBADMSG,
				   "podresources '%s': undecodable ListPodResourcesResponse "
				   "(%zu bytes)",
				   socket_path, raw_len);

	ids = xcalloc(1, sizeof(*ids));
	const V1__PodResources *pod = find_pod(resp, pod_ns, pod_name);
	for (size_t c = 0; pod && c < pod->n_containers; c++) {
		const V1__ContainerResources *ctr = pod->containers[c];

		for (size_t d = 0; ctr && d < ctr->n_devices; d++) {
			const V1__ContainerDevices *dev = ctr->devices[d];

			if (!dev || !dev->resource_name ||
			    strcmp(dev->resource_name, resource_name) != 0)
				continue;
			ids = xrealloc(ids, (n + dev->n_device_ids + 1) * sizeof(*ids));
			for (size_t k = 0; k < dev->n_device_ids; k++)
				ids[n++] = xstrdup(dev->device_ids[k] ? dev->device_ids[k] : "");
			ids[n] = NULL;
		}
	}
	*ret_ids = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}
