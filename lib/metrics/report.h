/* SPDX-License-Identifier: Apache-2.0 */
/* Attachment reports: one datagram per meta-plugin verb, sent to plexus-apid after the fact
 * (docs/observability.md, "Attachment metrics"). The text, one line each:
 *   plexus-report 1 VERB
 *   NETWORK PLUGIN DURATION_US CODE      (1 to REPORT_ENTRIES_MAX lines)
 * VERB is ADD, DEL, CHECK or GC; NETWORK "ns/name" or a network name ([A-Za-z0-9_.-/]);
 * PLUGIN the delegate's type ([A-Za-z0-9_.-]); CODE the CNI error code, 0 when it worked.
 * Pool usage, one datagram of its own per verb that may change it:
 *   plexus-pool 1
 *   NETWORK PLUGIN IPAM RANGE ADDRESSES ALLOCATED   (1 to REPORT_ENTRIES_MAX lines)
 * IPAM is the IPAM's type (as PLUGIN), RANGE the pool's subnet in canonical CIDR form,
 * ADDRESSES how many it can hand out and ALLOCATED how many are leased (decimal integers,
 * ALLOCATED <= ADDRESSES < 10^39). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cni/err.h"

#define REPORT_DGRAM_MAX 16384
#define REPORT_ENTRIES_MAX 32
/* A namespace (63) + '/' + a NAD name (253). */
#define REPORT_NETWORK_MAX 317
#define REPORT_PLUGIN_MAX 63
/* An hour: anything longer is not a duration the plugin measured. */
#define REPORT_DURATION_MAX_US 3600000000LL
#define REPORT_CODE_MAX 999
/* An IPv6 CIDR's longest text ("ffff:...:ffff/128"). */
#define REPORT_RANGE_MAX 43
/* Decimal digits of an address count: 2^128 has 39. */
#define REPORT_COUNT_DIGITS 39

struct report_entry {
	char network[REPORT_NETWORK_MAX + 1];
	char plugin[REPORT_PLUGIN_MAX + 1];
	int64_t duration_us;
	int code;
};

struct report {
	const char *verb; /* static: "ADD", "DEL", "CHECK" or "GC" */
	size_t n;
	struct report_entry e[REPORT_ENTRIES_MAX];
};

struct report_pool {
	char network[REPORT_NETWORK_MAX + 1];
	char plugin[REPORT_PLUGIN_MAX + 1];
	char ipam[REPORT_PLUGIN_MAX + 1];
	char range[REPORT_RANGE_MAX + 1];
	double addresses, allocated;
};

struct report_pools {
	size_t n;
	struct report_pool p[REPORT_ENTRIES_MAX];
};

/* Whether s is a valid NETWORK (plugin false) or PLUGIN (plugin true) label value. */
bool report_label_ok(const char *s, bool plugin);

/* Parse one datagram of len bytes (not NUL-terminated) strictly into *ret. A datagram that is
 * not exactly the format above is -EINVAL with err naming what is wrong (code 6). */
int report_parse(const char *buf, size_t len, struct report *ret, struct cni_err *err);

/* Start the datagram text in buf (size REPORT_DGRAM_MAX) with the header line for verb. */
void report_begin(char *buf, const char *verb);
/* Append one entry line to buf; invalid label values become "invalid" and out-of-range numbers
 * are clamped, so the datagram stays valid. Returns false (nothing appended) when buf is full. */
bool report_append(char *buf, const char *network, const char *plugin, int64_t duration_us,
		   int code);

/* Whether a datagram of len bytes is a pool report (starts "plexus-pool "). */
bool report_is_pool(const char *buf, size_t len);
/* Parse one pool datagram strictly, as report_parse does. */
int report_pool_parse(const char *buf, size_t len, struct report_pools *ret, struct cni_err *err);
/* Start a pool datagram in buf (size REPORT_DGRAM_MAX). */
void report_pool_begin(char *buf);
/* Append one pool line: false (nothing appended) when buf is full or a value is not valid
 * (a label outside its charset, range not a canonical CIDR, counts out of range). */
bool report_pool_append(char *buf, const char *network, const char *plugin, const char *ipam,
			const char *range, double addresses, double allocated);
