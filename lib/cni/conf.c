// SPDX-License-Identifier: Apache-2.0
/* Netconf fields several plugins read the same way. */
#include <errno.h>
#include <string.h>

#include "lib/cni/conf.h"
#include "lib/json/json.h"

static int mac_from(const char *s, const char *field, int code, uint8_t mac[MAC_LEN],
		    struct cni_err *err)
{
	if (parse_mac(s, mac) < 0)
		return cni_err_set(err, code, EINVAL, "%s: invalid MAC address '%s'", field, s);
	if (mac[0] & 1)
		return cni_err_set(err, code, EINVAL, "%s: '%s' is a multicast address", field, s);
	return 0;
}

int cni_conf_mac(const struct cni_ctx *ctx, uint8_t ret[MAC_LEN], bool *ret_set,
		 struct cni_err *err)
{
	const char *conf = NULL, *rc = NULL, *arg = cni_ctx_arg(ctx, "MAC");
	int r = json_get_string(ctx->conf, "mac", "mac", &conf, NULL, err);
	if (r < 0)
		return r;
	r = json_get_string(ctx->runtime_config, "mac", "runtimeConfig.mac", &rc, NULL, err);
	if (r < 0)
		return r;
	/* Every given value is validated, even one a higher-priority source overrides. */
	uint8_t mac[MAC_LEN];
	bool set = false;
	if (conf && *conf) {
		if ((r = mac_from(conf, "mac", CNI_ERR_INVALID_CONFIG, mac, err)) < 0)
			return r;
		set = true;
	}
	if (arg && *arg) {
		if ((r = mac_from(arg, "CNI_ARGS MAC", CNI_ERR_INVALID_ENV, mac, err)) < 0)
			return r;
		set = true;
	}
	if (rc && *rc) {
		if ((r = mac_from(rc, "runtimeConfig.mac", CNI_ERR_INVALID_CONFIG, mac, err)) < 0)
			return r;
		set = true;
	}
	if (set)
		memcpy(ret, mac, MAC_LEN);
	*ret_set = set;
	return 0;
}
