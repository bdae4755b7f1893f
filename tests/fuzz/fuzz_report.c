// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the attachment and pool report datagrams (lib/metrics/report.h). What
 * parses must hold the bounds the exposition relies on, and encode back to a datagram that
 * parses to the same report. Invariants abort. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/metrics/report.h"
#include "lib/util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static int pool_one(const uint8_t *data, size_t size)
{
	static struct report_pools r, again;
	struct cni_err err = { 0 };
	int ret = report_pool_parse((const char *)data, size, &r, &err);
	if (ret < 0) {
		check(ret == -EINVAL && err.code == CNI_ERR_DECODE && err.msg[0]);
		return 0;
	}
	check(r.n >= 1 && r.n <= REPORT_ENTRIES_MAX && size <= REPORT_DGRAM_MAX);
	char *buf = xmalloc(REPORT_DGRAM_MAX);
	report_pool_begin(buf);
	for (size_t i = 0; i < r.n; i++) {
		const struct report_pool *p = &r.p[i];
		check(p->allocated >= 0 && p->allocated <= p->addresses && p->addresses < 1e39);
		check(report_pool_append(buf, p->network, p->plugin, p->ipam, p->range,
					 p->addresses, p->allocated));
	}
	check(report_pool_parse(buf, strlen(buf), &again, &err) == 0 && again.n == r.n);
	for (size_t i = 0; i < r.n; i++)
		check(!strcmp(again.p[i].network, r.p[i].network) &&
		      !strcmp(again.p[i].range, r.p[i].range) &&
		      again.p[i].allocated == r.p[i].allocated);
	free(buf);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (report_is_pool((const char *)data, size))
		return pool_one(data, size);
	static struct report r, again;
	struct cni_err err = { 0 };
	int ret = report_parse((const char *)data, size, &r, &err);
	if (ret < 0) {
		check(ret == -EINVAL && err.code == CNI_ERR_DECODE && err.msg[0]);
		return 0;
	}
	check(r.verb && r.n >= 1 && r.n <= REPORT_ENTRIES_MAX && size <= REPORT_DGRAM_MAX);
	char *buf = xmalloc(REPORT_DGRAM_MAX);
	report_begin(buf, r.verb);
	for (size_t i = 0; i < r.n; i++) {
		const struct report_entry *e = &r.e[i];
		check(report_label_ok(e->network, false) && report_label_ok(e->plugin, true));
		check(e->duration_us >= 0 && e->duration_us <= REPORT_DURATION_MAX_US);
		check(e->code >= 0 && e->code <= REPORT_CODE_MAX);
		check(report_append(buf, e->network, e->plugin, e->duration_us, e->code));
	}
	check(report_parse(buf, strlen(buf), &again, &err) == 0);
	check(again.verb == r.verb && again.n == r.n);
	for (size_t i = 0; i < r.n; i++)
		check(!strcmp(again.e[i].network, r.e[i].network) &&
		      !strcmp(again.e[i].plugin, r.e[i].plugin) &&
		      again.e[i].duration_us == r.e[i].duration_us &&
		      again.e[i].code == r.e[i].code);
	free(buf);
	return 0;
}
