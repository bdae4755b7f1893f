// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the attachment report datagram (lib/metrics/report.c): strict parsing and an
 * encoder whose output always parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/metrics/report.h"
#include "lib/util/cleanup.h"

static int parse(const char *text, struct report *r)
{
	struct cni_err e = { 0 };
	int ret = report_parse(text, strlen(text), r, &e);
	if (ret < 0) {
		assert_int_equal(e.code, CNI_ERR_DECODE);
		assert_non_null(strstr(e.msg, "report"));
	}
	return ret;
}

static void test_report_parse_valid(void **state)
{
	(void)state;
	struct report r;
	assert_int_equal(parse("plexus-report 1 ADD\n"
			       "kube-system/cluster plexus-macvlan 1500 0\n"
			       "team-a/net_1.x macvlan 0 7\n",
			       &r),
			 0);
	assert_string_equal(r.verb, "ADD");
	assert_int_equal(r.n, 2);
	assert_string_equal(r.e[0].network, "kube-system/cluster");
	assert_string_equal(r.e[0].plugin, "plexus-macvlan");
	assert_int_equal(r.e[0].duration_us, 1500);
	assert_int_equal(r.e[0].code, 0);
	assert_string_equal(r.e[1].network, "team-a/net_1.x");
	assert_int_equal(r.e[1].code, 7);
	assert_int_equal(parse("plexus-report 1 GC\nn p 3600000000 999\n", &r), 0);
	assert_string_equal(r.verb, "GC");
}

static void test_report_parse_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"plexus-report 1 ADD\n",		   /* no entries */
		"plexus-report 2 ADD\nn p 1 0\n",	   /* version */
		"plexus-report 1 STATUS\nn p 1 0\n",	   /* verb */
		"plexus-report 1 add\nn p 1 0\n",	   /* case */
		"plexus-report 1 ADD\nn p 1 0",		   /* no final newline */
		"plexus-report 1 ADD\nn p 1\n",		   /* missing code */
		"plexus-report 1 ADD\nn p 1 0 x\n",	   /* extra field */
		"plexus-report 1 ADD\nn  p 1 0\n",	   /* empty field */
		"plexus-report 1 ADD\nn p -1 0\n",	   /* negative duration */
		"plexus-report 1 ADD\nn p 3600000001 0\n", /* over an hour */
		"plexus-report 1 ADD\nn p 1 1000\n",	   /* code */
		"plexus-report 1 ADD\nn p 1 +1\n",	   /* sign */
		"plexus-report 1 ADD\nn\"x p 1 0\n",	   /* quote in a label */
		"plexus-report 1 ADD\nn p/q 1 0\n",	   /* '/' in a plugin */
		"plexus-report 1 ADD\nn\\x p 1 0\n",	   /* backslash */
		"plexus-report 1 ADD\r\nn p 1 0\n",	   /* CR */
		"plexus-report 1 ADD\nn\tp 1 0\n",	   /* tab */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct report r;
		if (parse(bad[i], &r) != -EINVAL)
			fail_msg("accepted case %zu: '%s'", i, bad[i]);
	}
	/* An embedded NUL is not a label character. */
	struct report r;
	struct cni_err e = { 0 };
	static const char nul[] = "plexus-report 1 ADD\nn\0x p 1 0\n";
	assert_int_equal(report_parse(nul, sizeof(nul) - 1, &r, &e), -EINVAL);
}

static void test_report_parse_bounds(void **state)
{
	(void)state;
	struct report r;
	char name[REPORT_NETWORK_MAX + 2];
	memset(name, 'a', sizeof(name));
	name[REPORT_NETWORK_MAX] = '\0';
	_cleanup_free_ char *ok = xasprintf("plexus-report 1 DEL\n%s p 1 0\n", name);
	assert_int_equal(parse(ok, &r), 0);
	assert_int_equal(strlen(r.e[0].network), REPORT_NETWORK_MAX);
	name[REPORT_NETWORK_MAX] = 'a';
	name[REPORT_NETWORK_MAX + 1] = '\0';
	_cleanup_free_ char *long_net = xasprintf("plexus-report 1 DEL\n%s p 1 0\n", name);
	assert_int_equal(parse(long_net, &r), -EINVAL);
	char plugin[REPORT_PLUGIN_MAX + 2];
	memset(plugin, 'p', sizeof(plugin));
	plugin[REPORT_PLUGIN_MAX + 1] = '\0';
	_cleanup_free_ char *long_plugin = xasprintf("plexus-report 1 DEL\nn %s 1 0\n", plugin);
	assert_int_equal(parse(long_plugin, &r), -EINVAL);
	/* REPORT_ENTRIES_MAX entries parse; one more does not. */
	_cleanup_free_ char *many = xstrdup("plexus-report 1 CHECK\n");
	for (int i = 0; i <= REPORT_ENTRIES_MAX; i++) {
		if (i == REPORT_ENTRIES_MAX)
			assert_int_equal(parse(many, &r), 0);
		char *more = xasprintf("%sn%d p 1 0\n", many, i);
		free(many);
		many = more;
	}
	assert_int_equal(parse(many, &r), -EINVAL);
	/* Over REPORT_DGRAM_MAX bytes, whatever they are. */
	struct cni_err e = { 0 };
	assert_int_equal(report_parse(many, REPORT_DGRAM_MAX + 1, &r, &e), -EINVAL);
}

static void test_report_encode_round_trip(void **state)
{
	(void)state;
	_cleanup_free_ char *buf = xmalloc(REPORT_DGRAM_MAX);
	report_begin(buf, "ADD");
	assert_true(report_append(buf, "ns/a", "macvlan", 1234, 0));
	/* Invalid labels and out-of-range numbers still give a valid datagram. */
	assert_true(report_append(buf, "ns/bad name\n", "t\"ype", -5, -1));
	assert_true(report_append(buf, "", "x", REPORT_DURATION_MAX_US + 1, 2000));
	struct report r;
	assert_int_equal(parse(buf, &r), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.e[0].network, "ns/a");
	assert_int_equal(r.e[0].duration_us, 1234);
	assert_string_equal(r.e[1].network, "invalid");
	assert_string_equal(r.e[1].plugin, "invalid");
	assert_int_equal(r.e[1].duration_us, 0);
	assert_int_equal(r.e[1].code, REPORT_CODE_MAX);
	assert_string_equal(r.e[2].network, "invalid");
	assert_int_equal(r.e[2].duration_us, REPORT_DURATION_MAX_US);
	assert_int_equal(r.e[2].code, REPORT_CODE_MAX);
	/* Full at REPORT_ENTRIES_MAX entries: the datagram stays valid. */
	for (int i = 3; i < REPORT_ENTRIES_MAX; i++)
		assert_true(report_append(buf, "n", "p", 1, 0));
	assert_false(report_append(buf, "n", "p", 1, 0));
	assert_int_equal(parse(buf, &r), 0);
	assert_int_equal(r.n, REPORT_ENTRIES_MAX);
}

static int pool_parse(const char *text, struct report_pools *r)
{
	struct cni_err e = { 0 };
	int ret = report_pool_parse(text, strlen(text), r, &e);
	if (ret < 0) {
		assert_int_equal(e.code, CNI_ERR_DECODE);
		assert_non_null(strstr(e.msg, "pool report"));
	}
	return ret;
}

static void test_report_pool_parse(void **state)
{
	(void)state;
	_cleanup_free_ struct report_pools *r = xmalloc(sizeof(*r));
	const char *ok = "plexus-pool 1\n"
			 "default/mv-a macvlan host-local 10.1.0.0/24 253 2\n"
			 "cluster macvlan whereabouts fd00::/64 18446744073709551613 0\n";
	assert_true(report_is_pool(ok, strlen(ok)));
	assert_false(report_is_pool("plexus-report 1 ADD\n", 20));
	assert_int_equal(pool_parse(ok, r), 0);
	assert_int_equal(r->n, 2);
	assert_string_equal(r->p[0].network, "default/mv-a");
	assert_string_equal(r->p[0].ipam, "host-local");
	assert_string_equal(r->p[0].range, "10.1.0.0/24");
	assert_true(r->p[0].addresses == 253 && r->p[0].allocated == 2);
	assert_true(r->p[1].addresses == 18446744073709551613.0);
	static const char *const bad[] = {
		"plexus-pool 2\nn p i 10.0.0.0/8 1 0\n",
		"plexus-pool 1\n",
		"plexus-pool 1\nn p i 10.0.0.0/8 1 0",	  /* no newline */
		"plexus-pool 1\nn p i 10.0.0.0/8 1 2\n",  /* more leased than there are */
		"plexus-pool 1\nn p i 10.0.0.0/33 1 0\n", /* not a CIDR */
		"plexus-pool 1\nn p i fd00:0::/64 1 0\n", /* not canonical */
		"plexus-pool 1\nn p i 10.0.0.0/8 01 0\n", /* leading zero */
		"plexus-pool 1\nn p i 10.0.0.0/8 -1 0\n",
		"plexus-pool 1\nn p i 10.0.0.0/8 1e3 0\n",
		"plexus-pool 1\nn p i 10.0.0.0/8 1000000000000000000000000000000000000000 0\n",
		/* 39 digits, but 10^39 once a double: it could not be encoded again. */
		"plexus-pool 1\nn p i 10.0.0.0/8 999999999999999999999999999999999999999 0\n",
		"plexus-pool 1\nn p/x i 10.0.0.0/8 1 0\n",  /* '/' in a plugin */
		"plexus-pool 1\nn p i\"} 10.0.0.0/8 1 0\n", /* label injection */
		"plexus-pool 1\nn p i 10.0.0.0/8 1 0 extra\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(pool_parse(bad[i], r) < 0);
	/* 33 entries: one too many. */
	_cleanup_free_ char *big = xstrdup("plexus-pool 1\n");
	for (int i = 0; i < REPORT_ENTRIES_MAX + 1; i++) {
		char *more = xasprintf("%sn%d p i 10.0.0.0/8 1 0\n", big, i);
		free(big);
		big = more;
	}
	assert_true(pool_parse(big, r) < 0);
}

static void test_report_pool_encode(void **state)
{
	(void)state;
	_cleanup_free_ char *buf = xmalloc(REPORT_DGRAM_MAX);
	_cleanup_free_ struct report_pools *r = xmalloc(sizeof(*r));
	report_pool_begin(buf);
	assert_true(report_pool_append(buf, "default/a", "macvlan", "host-local", "10.0.0.0/24",
				       253, 7));
	assert_true(report_pool_append(buf, "default/b", "macvlan", "host-local", "fd00::/64",
				       18446744073709551613.0, 1));
	/* Invalid values are refused, not sent. */
	assert_false(
		report_pool_append(buf, "bad name", "macvlan", "host-local", "10.0.0.0/24", 1, 0));
	assert_false(report_pool_append(buf, "a", "macvlan", "host-local", "10.0.0.1", 1, 0));
	assert_false(report_pool_append(buf, "a", "macvlan", "host-local", "10.0.0.0/24", 1, 2));
	assert_false(report_pool_append(buf, "a", "macvlan", "host-local", "10.0.0.0/24", 0.5, 0));
	assert_int_equal(pool_parse(buf, r), 0);
	assert_int_equal(r->n, 2);
	assert_true(r->p[0].addresses == 253 && r->p[0].allocated == 7);
	assert_true(r->p[1].addresses == 18446744073709551613.0 && r->p[1].allocated == 1);
	for (int i = 2; i < REPORT_ENTRIES_MAX; i++)
		assert_true(report_pool_append(buf, "n", "p", "i", "10.0.0.0/8", 1, 0));
	assert_false(report_pool_append(buf, "n", "p", "i", "10.0.0.0/8", 1, 0));
	assert_int_equal(pool_parse(buf, r), 0);
	assert_int_equal(r->n, REPORT_ENTRIES_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_parse_valid),
		cmocka_unit_test(test_report_parse_invalid),
		cmocka_unit_test(test_report_parse_bounds),
		cmocka_unit_test(test_report_encode_round_trip),
		cmocka_unit_test(test_report_pool_parse),
		cmocka_unit_test(test_report_pool_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
