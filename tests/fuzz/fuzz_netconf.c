// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: netconf bytes through the core's ctx parsing and the macvlan parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/cni/args.h"
#include "lib/cni/skel.h"
#include "macvlan/macvlan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cni_cmd cmds[] = { CNI_CMD_ADD, CNI_CMD_CHECK, CNI_CMD_GC };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct cni_env env = { .cmd = cmds[i],
				       .container_id = (char *)"c1",
				       .ifname = (char *)"net1",
				       .path = (char *)"/nonexistent",
				       .args = (char *)"MAC=02:00:00:00:00:01" };
		struct cni_ctx ctx;
		struct cni_err err = { 0 };
		if (cni_ctx_init(&ctx, &env, (const char *)data, size, &macvlan_plugin, &err) ==
		    0) {
			struct macvlan_conf c;
			if (macvlan_conf_parse(&ctx, &c, &err) == 0)
				macvlan_conf_done(&c);
		}
		cni_ctx_done(&ctx);
	}
	return 0;
}
