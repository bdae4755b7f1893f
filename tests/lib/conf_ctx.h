/* SPDX-License-Identifier: Apache-2.0 */
/* For plugin conf unit tests: build the request context an ADD of `conf` would get
 * (container c1, ifname net1, netns /run/netns/x, CNI_PATH /usr/lib/cni, CNI_ARGS args).
 * Confs borrow strings from the context's tree, so it lives until the next call or
 * conf_ctx_teardown (use it as the cmocka teardown). */
#pragma once

#include <string.h>

#include "lib/cni/skel.h"

static struct cni_ctx conf_ctx;

static int conf_ctx_load(const struct cni_plugin *plugin, const char *conf, const char *args,
			 struct cni_err *err)
{
	struct cni_env env = { .cmd = CNI_CMD_ADD,
			       .container_id = (char *)"c1",
			       .ifname = (char *)"net1",
			       .netns = (char *)"/run/netns/x",
			       .path = (char *)"/usr/lib/cni",
			       .args = (char *)args };
	cni_ctx_done(&conf_ctx);
	return cni_ctx_init(&conf_ctx, &env, conf, strlen(conf), plugin, err);
}

static int conf_ctx_teardown(void **state)
{
	(void)state;
	cni_ctx_done(&conf_ctx);
	return 0;
}
