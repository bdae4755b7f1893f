// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: CNI_ARGS strings and the env validators. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/args.h"
#include "lib/util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = xstrndup((const char *)data, size);
	struct cni_kv *kv = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	if (cni_args_parse(s, &kv, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			(void)cni_kv_get(kv, n, kv[i].key);
		cni_kv_free(kv, n);
	}
	(void)cni_validate_container_id(s, CNI_ERR_INVALID_ENV, &err);
	(void)cni_validate_ifname(s, CNI_ERR_INVALID_ENV, &err);
	(void)cni_validate_network_name(s, &err);
	return 0;
}
