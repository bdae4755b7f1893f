// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: netconf bytes through the host-local and static IPAM conf parsers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hostlocal/hostlocal.h"
#include "lib/cni/args.h"
#include "lib/cni/skel.h"
#include "staticipam/staticipam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_env env = {
		.cmd = CNI_CMD_ADD,
		.container_id = (char *)"c1",
		.ifname = (char *)"eth0",
		.path = (char *)"/nonexistent",
		.args = (char *)"IgnoreUnknown=1;IP=10.1.0.5,10.1.0.6/24;GATEWAY=10.1.0.1"
	};
	struct cni_ctx ctx;
	struct cni_err err = { 0 };
	if (cni_ctx_init(&ctx, &env, (const char *)data, size, &hostlocal_plugin, &err) == 0) {
		struct hl_conf h;
		if (hl_conf_parse(&ctx, &h, &err) == 0)
			hl_conf_done(&h);
		struct staticipam_conf s;
		if (staticipam_conf_parse(&ctx, &s, &err) == 0)
			staticipam_conf_done(&s);
	}
	cni_ctx_done(&ctx);
	return 0;
}
