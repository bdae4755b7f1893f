// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the k8s.v1.cni.cncf.io/networks annotation parser. */
#include <stddef.h>
#include <stdint.h>

#include "lib/cni/err.h"
#include "lib/util/cleanup.h"
#include "meta/networks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = xstrndup((const char *)data, size);
	struct meta_selection *sel = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	if (meta_networks_parse(s, &sel, &n, &err) == 0)
		meta_selections_free(sel, n);
	return 0;
}
