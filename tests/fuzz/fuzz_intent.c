// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: an intent log as DEL, GC and CHECK read it back (meta_intent_parse). A log
 * is plexus's own file, but a crash, a power loss or the disk can leave any bytes in it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meta/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cJSON *conf;
	if (!conf)
		conf = cJSON_Parse(
			"{\"cniVersion\":\"1.0.0\",\"name\":\"p\",\"type\":\"plexus\","
			"\"clusterNetwork\":\"c\",\"cniDir\":\"/nonexistent/plexus-fuzz\","
			"\"deviceInfoDir\":\"/nonexistent/plexus-fuzz/devinfo\"}");
	struct cni_ctx ctx = { .container_id = "0123abcd",
			       .ifname = "eth0",
			       .netns_fd = -1,
			       .version = CNI_V100,
			       .conf = conf };
	struct plan p;
	struct cni_err err = { 0 };
	if (meta_plan_init(&p, &ctx, &err) < 0)
		return 0;
	/* The parser takes a NUL-terminated text of len bytes, as file_read_all hands it. */
	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		(void)meta_intent_parse(&p, text, size, &err);
		free(text);
	}
	meta_plan_done(&p);
	return 0;
}
