// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: CNI result JSON decoded with every fallback version, re-encoded to all. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/cni/result.h"
#include "lib/json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int fb = 0; fb < CNI_VERSION_COUNT; fb++) {
		struct cni_result *r = NULL;
		struct cni_err err = { 0 };
		if (cni_result_parse((const char *)data, size, (enum cni_version)fb, &r, &err) < 0)
			continue;
		struct cni_result *copy = cni_result_dup(r);
		for (int v = 0; v < CNI_VERSION_COUNT; v++) {
			cJSON *out = NULL;
			if (cni_result_encode(copy, (enum cni_version)v, &out, &err) < 0)
				continue;
			/* Whatever we print must decode again. */
			char *text = json_print(out);
			struct cni_result *again = NULL;
			if (cni_result_parse(text, strlen(text), (enum cni_version)v, &again,
					     &err) < 0)
				abort();
			cni_result_free(again);
			free(text);
			cJSON_Delete(out);
		}
		cni_result_free(copy);
		cni_result_free(r);
	}
	return 0;
}
