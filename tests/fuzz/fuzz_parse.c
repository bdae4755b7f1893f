// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the strict integer, MAC, IP and CIDR parsers and their formatters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/cleanup.h"
#include "lib/util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = xstrndup((const char *)data, size);
	uint64_t u;
	int64_t i;
	(void)parse_u64(s, UINT64_MAX, &u);
	(void)parse_i64(s, INT64_MIN, INT64_MAX, &i);

	uint8_t mac[MAC_LEN];
	if (parse_mac(s, mac) == 0) {
		char buf[MAC_STR_LEN];
		format_mac(mac, buf);
		uint8_t again[MAC_LEN];
		if (parse_mac(buf, again) < 0 || memcmp(mac, again, MAC_LEN) != 0)
			abort();
	}

	struct ip_addr a;
	if (parse_ip(s, &a) == 0) {
		char buf[IP_STR_LEN];
		format_ip(&a, buf);
		struct ip_addr b;
		if (parse_ip(buf, &b) < 0 || !ip_addr_equal(&a, &b))
			abort();
		(void)ip_is_zero(&a);
	}

	struct ip_net n;
	bool had_prefix;
	if (parse_ip_or_ipnet(s, &n, &had_prefix) == 0) {
		char buf[IPNET_STR_LEN];
		format_ipnet(&n, buf);
		struct ip_net m;
		if (parse_ipnet(buf, &m) < 0 || !ip_addr_equal(&n.ip, &m.ip) ||
		    n.prefix != m.prefix)
			abort();
		ip_net_mask(&m);
	}
	(void)parse_ipnet(s, &n);
	return 0;
}
