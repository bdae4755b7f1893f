// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the strict integer, MAC, IP and CIDR parsers and formatters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/util/parse.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct u64_case {
	const char *in;
	uint64_t max;
	int r;
	uint64_t want;
};

static void test_parse_u64_table(void **state)
{
	(void)state;
	const struct u64_case cases[] = {
		{ "0", UINT64_MAX, 0, 0 },
		{ "1500", 65535, 0, 1500 },
		{ "0042", UINT64_MAX, 0, 42 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999", UINT64_MAX, -ERANGE, 0 },
		{ "65536", 65535, -ERANGE, 0 },
		{ "", UINT64_MAX, -EINVAL, 0 },
		{ " 1", UINT64_MAX, -EINVAL, 0 },
		{ "1 ", UINT64_MAX, -EINVAL, 0 },
		{ "+1", UINT64_MAX, -EINVAL, 0 },
		{ "-1", UINT64_MAX, -EINVAL, 0 },
		{ "0x10", UINT64_MAX, -EINVAL, 0 },
		{ "1e3", UINT64_MAX, -EINVAL, 0 },
		{ "12a", UINT64_MAX, -EINVAL, 0 },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		uint64_t v = 7777;
		int r = parse_u64(cases[i].in, cases[i].max, &v);
		if (r != cases[i].r)
			fail_msg("'%s': got %d want %d", cases[i].in, r, cases[i].r);
		assert_int_equal(v, r == 0 ? cases[i].want : 7777);
	}
	uint64_t v;
	assert_int_equal(parse_u64(NULL, 1, &v), -EINVAL);
}

struct i64_case {
	const char *in;
	int64_t min, max;
	int r;
	int64_t want;
};

static void test_parse_i64_table(void **state)
{
	(void)state;
	const struct i64_case cases[] = {
		{ "0", INT64_MIN, INT64_MAX, 0, 0 },
		{ "-5", -10, 10, 0, -5 },
		{ "-11", -10, 10, -ERANGE, 0 },
		{ "11", -10, 10, -ERANGE, 0 },
		{ "9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX },
		{ "-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN },
		{ "9223372036854775808", INT64_MIN, INT64_MAX, -ERANGE, 0 },
		{ "-9223372036854775809", INT64_MIN, INT64_MAX, -ERANGE, 0 },
		{ "-", INT64_MIN, INT64_MAX, -EINVAL, 0 },
		{ "--1", INT64_MIN, INT64_MAX, -EINVAL, 0 },
		{ "+1", INT64_MIN, INT64_MAX, -EINVAL, 0 },
		{ " -1", INT64_MIN, INT64_MAX, -EINVAL, 0 },
		{ "", INT64_MIN, INT64_MAX, -EINVAL, 0 },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t v = 7777;
		int r = parse_i64(cases[i].in, cases[i].min, cases[i].max, &v);
		if (r != cases[i].r)
			fail_msg("'%s': got %d want %d", cases[i].in, r, cases[i].r);
		assert_true(v == (r == 0 ? cases[i].want : 7777));
	}
}

struct mac_case {
	const char *in;
	const char *out; /* formatted, NULL = must fail */
};

static void test_parse_mac_table(void **state)
{
	(void)state;
	const struct mac_case cases[] = {
		{ "aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff" },
		{ "AA:BB:CC:DD:EE:0F", "aa:bb:cc:dd:ee:0f" },
		{ "02-42-ac-11-00-02", "02:42:ac:11:00:02" },
		{ "00:00:00:00:00:00", "00:00:00:00:00:00" },
		{ "aa:bb:cc:dd:ee", NULL },
		{ "aa:bb:cc:dd:ee:ff:00", NULL },
		{ "aa:bb-cc:dd:ee:ff", NULL },
		{ "aa.bb.cc.dd.ee.ff", NULL },
		{ "aa:bb:cc:dd:ee:fg", NULL },
		{ "a:bb:cc:dd:ee:fff", NULL },
		{ " aa:bb:cc:dd:ee:f", NULL },
		{ "aa:bb:cc:dd:ee:ff ", NULL },
		{ "0000.5e00.5301", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		uint8_t mac[MAC_LEN] = { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11 };
		int r = parse_mac(cases[i].in, mac);
		if (!cases[i].out) {
			if (r != -EINVAL)
				fail_msg("'%s' accepted", cases[i].in);
			assert_int_equal(mac[0], 0x11);
			continue;
		}
		if (r != 0)
			fail_msg("'%s' rejected", cases[i].in);
		char buf[MAC_STR_LEN];
		format_mac(mac, buf);
		assert_string_equal(buf, cases[i].out);
	}
}

struct ip_case {
	const char *in;
	int family; /* 0 = must fail */
	const char *out;
};

static void test_parse_ip_table(void **state)
{
	(void)state;
	const struct ip_case cases[] = {
		{ "10.1.2.3", AF_INET, "10.1.2.3" },
		{ "0.0.0.0", AF_INET, "0.0.0.0" },
		{ "255.255.255.255", AF_INET, "255.255.255.255" },
		{ "2001:DB8::1", AF_INET6, "2001:db8::1" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", AF_INET6, "2001:db8::1" },
		{ "::", AF_INET6, "::" },
		{ "::ffff:10.1.2.3", AF_INET6, "::ffff:10.1.2.3" },
		{ "256.1.1.1", 0, NULL },
		{ "10.1.2", 0, NULL },
		{ "10.01.2.3", 0, NULL },
		{ " 10.1.2.3", 0, NULL },
		{ "10.1.2.3 ", 0, NULL },
		{ "10.1.2.3\n", 0, NULL },
		{ "10.1.2.3/24", 0, NULL },
		{ "fe80::1%eth0", 0, NULL },
		{ "2001:db8:::1", 0, NULL },
		{ "hello", 0, NULL },
		{ "", 0, NULL },
		{ "1111:2222:3333:4444:5555:6666:7777:8888:9999", 0, NULL },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct ip_addr a = { .family = 99 };
		int r = parse_ip(cases[i].in, &a);
		if (!cases[i].family) {
			if (r != -EINVAL)
				fail_msg("'%s' accepted", cases[i].in);
			assert_int_equal(a.family, 99);
			continue;
		}
		if (r != 0)
			fail_msg("'%s' rejected", cases[i].in);
		assert_int_equal(a.family, cases[i].family);
		char buf[IP_STR_LEN];
		format_ip(&a, buf);
		assert_string_equal(buf, cases[i].out);
	}
}

struct ipnet_case {
	const char *in;
	int mode;   /* 0 = parse_ipnet, 1 = parse_ip_or_ipnet */
	int family; /* 0 = must fail */
	const char *out;
	bool had_prefix;
};

static void test_parse_ipnet_table(void **state)
{
	(void)state;
	const struct ipnet_case cases[] = {
		{ "10.1.2.3/24", 0, AF_INET, "10.1.2.3/24", true },
		{ "0.0.0.0/0", 0, AF_INET, "0.0.0.0/0", true },
		{ "10.1.2.3/32", 0, AF_INET, "10.1.2.3/32", true },
		{ "2001:db8::5/64", 0, AF_INET6, "2001:db8::5/64", true },
		{ "::/0", 0, AF_INET6, "::/0", true },
		{ "::ffff:1.2.3.4/120", 0, AF_INET6, "::ffff:1.2.3.4/120", true },
		{ "10.1.2.3", 0, 0, NULL, false },
		{ "10.1.2.3/33", 0, 0, NULL, false },
		{ "2001:db8::/129", 0, 0, NULL, false },
		{ "10.1.2.3/", 0, 0, NULL, false },
		{ "10.1.2.3/024", 0, 0, NULL, false },
		{ "10.1.2.3/+4", 0, 0, NULL, false },
		{ "10.1.2.3/-1", 0, 0, NULL, false },
		{ "10.1.2.3/24 ", 0, 0, NULL, false },
		{ "10.1.2.3 /24", 0, 0, NULL, false },
		{ "10.1.2.3/24/1", 0, 0, NULL, false },
		{ "/24", 0, 0, NULL, false },
		{ "10.1.2.3", 1, AF_INET, "10.1.2.3/32", false },
		{ "2001:db8::1", 1, AF_INET6, "2001:db8::1/128", false },
		{ "10.1.2.3/8", 1, AF_INET, "10.1.2.3/8", true },
		{ "10.1.2.x", 1, 0, NULL, false },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct ipnet_case *c = &cases[i];
		struct ip_net n = { .prefix = 99 };
		bool had = !c->had_prefix;
		int r = c->mode ? parse_ip_or_ipnet(c->in, &n, &had) : parse_ipnet(c->in, &n);
		if (!c->family) {
			if (r != -EINVAL)
				fail_msg("'%s' accepted", c->in);
			assert_int_equal(n.prefix, 99);
			continue;
		}
		if (r != 0)
			fail_msg("'%s' rejected", c->in);
		assert_int_equal(n.ip.family, c->family);
		char buf[IPNET_STR_LEN];
		format_ipnet(&n, buf);
		assert_string_equal(buf, c->out);
		if (c->mode)
			assert_int_equal(had, c->had_prefix);
	}
}

struct mask_case {
	const char *in, *out;
};

static void test_parse_ip_net_mask(void **state)
{
	(void)state;
	const struct mask_case cases[] = {
		{ "10.1.2.3/24", "10.1.2.0/24" },
		{ "10.1.2.3/0", "0.0.0.0/0" },
		{ "10.1.2.255/25", "10.1.2.128/25" },
		{ "10.1.2.3/32", "10.1.2.3/32" },
		{ "2001:db8::ffff/112", "2001:db8::/112" },
		{ "2001:db8:ffff::1/36", "2001:db8:f000::/36" },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct ip_net n;
		assert_int_equal(parse_ipnet(cases[i].in, &n), 0);
		ip_net_mask(&n);
		char buf[IPNET_STR_LEN];
		format_ipnet(&n, buf);
		assert_string_equal(buf, cases[i].out);
	}
}

static void test_parse_ip_helpers(void **state)
{
	(void)state;
	struct ip_addr a, b, z = { 0 };
	assert_int_equal(ip_family_len(AF_INET), 4);
	assert_int_equal(ip_family_len(AF_INET6), 16);
	assert_int_equal(ip_family_len(0), 0);
	assert_int_equal(parse_ip("10.0.0.1", &a), 0);
	assert_int_equal(parse_ip("10.0.0.1", &b), 0);
	assert_true(ip_addr_equal(&a, &b));
	assert_int_equal(parse_ip("::ffff:10.0.0.1", &b), 0);
	assert_false(ip_addr_equal(&a, &b)); /* mapped addresses stay IPv6 */
	assert_false(ip_is_zero(&a));
	assert_true(ip_is_zero(&z));
	assert_int_equal(parse_ip("::", &b), 0);
	assert_true(ip_is_zero(&b));
	assert_int_equal(parse_ip("0.0.0.0", &b), 0);
	assert_true(ip_is_zero(&b));
	char buf[IP_STR_LEN];
	format_ip(&z, buf);
	assert_string_equal(buf, "");
}

static void test_parse_pci_address_ok(void **state)
{
	(void)state;
	static const char *const good[] = { "0000:5e:02.1", "ffff:FF:1f.7", "0000:00:00.0" };
	static const char *const bad[] = {
		"",
		"5e:02.1",
		"0000:5e:02.8",
		"0000:5e:02.1 ",
		"0000:5e:02",
		"0000-5e-02-1",
		"0000:5e:0g.1",
		"00000:5e:02.1",
		"0000:5e:02.1/",
		"../../etc/x",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(parse_pci_address_ok(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_pci_address_ok(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
	assert_false(parse_pci_address_ok(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64_table),
		cmocka_unit_test(test_parse_i64_table),
		cmocka_unit_test(test_parse_mac_table),
		cmocka_unit_test(test_parse_ip_table),
		cmocka_unit_test(test_parse_ipnet_table),
		cmocka_unit_test(test_parse_ip_net_mask),
		cmocka_unit_test(test_parse_ip_helpers),
		cmocka_unit_test(test_parse_pci_address_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
