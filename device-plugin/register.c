// SPDX-License-Identifier: Apache-2.0
/* Registration with kubelet: v1beta1.Registration/Register on <kubelet-dir>/kubelet.sock. */
#include <errno.h>
#include <stdlib.h>

#include "device-plugin/internal.h"
#include "lib/grpc/client.h"
#include "lib/grpc/proto/deviceplugin_v1beta1.pb-c.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

#define REGISTER_PATH "/v1beta1.Registration/Register"
#define REGISTER_TIMEOUT_MS 5000

int dp_register(const char *kubelet_dir, const struct dp_pool_srv *ps, struct cni_err *err)
{
	V1beta1__RegisterRequest rr = V1BETA1__REGISTER_REQUEST__INIT;
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	_cleanup_free_ char *sock = xasprintf("%s/%s", kubelet_dir, DP_KUBELET_SOCK);
	_cleanup_free_ uint8_t *resp = NULL;
	size_t resp_len = 0;

	o.pre_start_required = 0;
	o.get_preferred_allocation_available = 1;
	rr.version = (char *)"v1beta1";
	rr.endpoint = ps->endpoint;
	rr.resource_name = ps->pool->resource;
	rr.options = &o;
	size_t len = v1beta1__register_request__get_packed_size(&rr);
	_cleanup_free_ uint8_t *buf = xmalloc(len ? len : 1);
	(void)v1beta1__register_request__pack(&rr, buf);
	int r = gr_call_unary(sock, REGISTER_PATH, buf, len, &resp, &resp_len, REGISTER_TIMEOUT_MS,
			      err);
	if (r < 0)
		return cni_err_wrap(err, "register '%s' with '%s'", ps->pool->resource, sock);
	log_info("registered '%s' (endpoint '%s') with kubelet", ps->pool->resource, ps->endpoint);
	return 0;
}
