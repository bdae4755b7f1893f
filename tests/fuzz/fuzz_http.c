// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the observability endpoint's request parser (lib/metrics/http.h) on an
 * exact-size copy of the input. Invariants abort. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics/http.h"
#include "lib/util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct metrics_http_req req = { 0 };
	int r = metrics_http_parse(buf, size, &req);
	if (r > 0) {
		/* The head: within the limit, ends with an empty line, request line first. */
		size_t n = (size_t)r;
		check(n <= size && n <= METRICS_HTTP_REQUEST_MAX && buf[n - 1] == '\n');
		check(n >= 2 && (buf[n - 2] == '\n' || (buf[n - 2] == '\r' && buf[n - 3] == '\n')));
		check(req.method == buf && req.method_len > 0);
		check(req.target == buf + req.method_len + 1 && req.target_len > 0);
		check(req.target[0] == '/' && req.target + req.target_len < buf + n);
		for (size_t i = 0; i < req.target_len; i++)
			check(req.target[i] > ' ' && req.target[i] < 0x7f);
		check(!memchr(buf, '\0', n));
		/* Parsing just the head gives the same answer. */
		struct metrics_http_req again;
		check(metrics_http_parse(buf, n, &again) == r);
	} else if (r == 0) {
		check(size < METRICS_HTTP_REQUEST_MAX);
	} else {
		check(r == -EINVAL || (r == -EFBIG && size >= METRICS_HTTP_REQUEST_MAX));
	}
	free(buf);
	return 0;
}
