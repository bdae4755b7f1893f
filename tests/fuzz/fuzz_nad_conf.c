// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: a NAD's spec.config through the delegate list parser and request builder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "delegates/dlg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dlg_list l;
	struct cni_err err = { 0 };
	if (dlg_list_parse((const char *)data, size, "nad", "1.0.0", &l, &err) < 0)
		return 0;
	cJSON *caps = cJSON_Parse("{\"mac\":\"02:00:00:00:00:01\",\"ips\":[\"10.0.0.1/24\"]}");
	struct dlg_rt rt = { .ifname = "net1", .cap_args = caps };
	for (int i = 0; i < l.n_plugins; i++) {
		char *text = NULL;
		if (dlg_plugin_conf(&l, i, &rt, NULL, &text, &err) == 0)
			free(text);
	}
	cJSON_Delete(caps);
	dlg_list_done(&l);
	return 0;
}
