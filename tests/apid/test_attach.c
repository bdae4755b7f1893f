// SPDX-License-Identifier: Apache-2.0
/* Unit tests for plexus-apid's attachment metrics (apid/attach.c): what a report adds, invalid
 * datagrams counted and ignored, the cap on distinct network/plugin pairs, pool gauges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apid/attach.h"
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"

static struct metrics *reg;

static int send_text(const char *text)
{
	return apid_attach_datagram(text, strlen(text));
}

/* The rendered registry contains line (a whole line). */
static void expect_line(const char *line)
{
	size_t len = 0;
	_cleanup_free_ char *text = metrics_render(reg, &len);
	_cleanup_free_ char *want = xasprintf("\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_attach_records(void **state)
{
	(void)state;
	assert_int_equal(send_text("plexus-report 1 ADD\n"
				   "ns/a macvlan 2000 0\n"
				   "ns/b macvlan 30000 7\n"),
			 0);
	assert_int_equal(send_text("plexus-report 1 DEL\nns/a macvlan 1000 0\n"), 0);
	expect_line("plexus_attachment_operations_total{network=\"ns/a\",plugin=\"macvlan\","
		    "verb=\"ADD\",result=\"ok\"} 1");
	expect_line("plexus_attachment_operations_total{network=\"ns/b\",plugin=\"macvlan\","
		    "verb=\"ADD\",result=\"error\"} 1");
	expect_line("plexus_attachment_operations_total{network=\"ns/a\",plugin=\"macvlan\","
		    "verb=\"DEL\",result=\"ok\"} 1");
	expect_line("plexus_attachment_errors_total{network=\"ns/b\",plugin=\"macvlan\","
		    "verb=\"ADD\",code=\"7\"} 1");
	expect_line("plexus_attachment_duration_seconds_bucket{network=\"ns/b\",plugin=\"macvlan\","
		    "verb=\"ADD\",le=\"0.025\"} 0");
	expect_line("plexus_attachment_duration_seconds_bucket{network=\"ns/b\",plugin=\"macvlan\","
		    "verb=\"ADD\",le=\"0.05\"} 1");
	expect_line("plexus_attachment_duration_seconds_sum{network=\"ns/a\",plugin=\"macvlan\","
		    "verb=\"ADD\"} 0.002");
	expect_line("plexus_attachment_reports_total{result=\"accepted\"} 2");
	expect_line("plexus_attachment_reports_total{result=\"invalid\"} 0");
}

static void test_attach_invalid_counted(void **state)
{
	(void)state;
	assert_int_equal(send_text("plexus-report 1 ADD\nns/x\"} 1\nfake 1 0\n"), -EINVAL);
	assert_int_equal(send_text("garbage"), -EINVAL);
	expect_line("plexus_attachment_reports_total{result=\"invalid\"} 2");
	size_t len = 0;
	_cleanup_free_ char *text = metrics_render(reg, &len);
	assert_null(strstr(text, "ns/x"));
}

static void test_attach_pair_cap(void **state)
{
	(void)state;
	/* 2 pairs are known from the tests before (ns/a, ns/b); fill to the cap, then 10 more. */
	for (int i = 0; i < APID_ATTACH_PAIRS_MAX - 2 + 10; i++) {
		_cleanup_free_ char *t = xasprintf("plexus-report 1 ADD\ncap/n%d macvlan 1 0\n", i);
		assert_int_equal(send_text(t), 0);
	}
	expect_line("plexus_attachment_operations_total{network=\"cap/n0\",plugin=\"macvlan\","
		    "verb=\"ADD\",result=\"ok\"} 1");
	_cleanup_free_ char *last_kept = xasprintf(
		"plexus_attachment_operations_total{network=\"cap/n%d\",plugin=\"macvlan\","
		"verb=\"ADD\",result=\"ok\"} 1",
		APID_ATTACH_PAIRS_MAX - 3);
	expect_line(last_kept);
	expect_line("plexus_attachment_operations_total{network=\"other\",plugin=\"other\","
		    "verb=\"ADD\",result=\"ok\"} 10");
	expect_line("plexus_attachment_overflow_total 10");
	/* A known pair keeps its own series past the cap. */
	assert_int_equal(send_text("plexus-report 1 ADD\nns/a macvlan 1 0\n"), 0);
	expect_line("plexus_attachment_operations_total{network=\"ns/a\",plugin=\"macvlan\","
		    "verb=\"ADD\",result=\"ok\"} 2");
	expect_line("plexus_attachment_overflow_total 10");
}

static void test_attach_pools(void **state)
{
	(void)state;
	assert_int_equal(send_text("plexus-pool 1\n"
				   "ns/a macvlan host-local 10.1.0.0/24 253 2\n"
				   "ns/a macvlan host-local fd00::/64 18446744073709551613 1\n"),
			 0);
	/* A later report sets the gauges, it does not add. */
	assert_int_equal(send_text("plexus-pool 1\nns/a macvlan host-local 10.1.0.0/24 253 1\n"),
			 0);
	expect_line("plexus_ipam_pool_addresses{network=\"ns/a\",plugin=\"macvlan\","
		    "ipam=\"host-local\",range=\"10.1.0.0/24\"} 253");
	expect_line("plexus_ipam_pool_allocated{network=\"ns/a\",plugin=\"macvlan\","
		    "ipam=\"host-local\",range=\"10.1.0.0/24\"} 1");
	expect_line("plexus_ipam_pool_addresses{network=\"ns/a\",plugin=\"macvlan\","
		    "ipam=\"host-local\",range=\"fd00::/64\"} 1.8446744073709552e+19");
	assert_int_equal(send_text("plexus-pool 1\nns/a macvlan host-local 10.1.0.0/24 1 2\n"),
			 -EINVAL);
	/* Fill the cap (2 pools known), then 5 more: left out and counted. */
	for (int i = 0; i < APID_POOLS_MAX - 2 + 5; i++) {
		_cleanup_free_ char *t = xasprintf(
			"plexus-pool 1\ncap/p%d macvlan host-local 10.0.0.0/8 16777214 0\n", i);
		assert_int_equal(send_text(t), 0);
	}
	expect_line("plexus_ipam_pool_overflow_total 5");
	size_t len = 0;
	_cleanup_free_ char *text = metrics_render(reg, &len);
	_cleanup_free_ char *first_out = xasprintf("network=\"cap/p%d\"", APID_POOLS_MAX - 2);
	assert_null(strstr(text, first_out));
	expect_line("plexus_ipam_pool_allocated{network=\"ns/a\",plugin=\"macvlan\","
		    "ipam=\"host-local\",range=\"10.1.0.0/24\"} 1");
}

int main(void)
{
	reg = metrics_new();
	apid_attach_setup(reg);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_records),
		cmocka_unit_test(test_attach_invalid_counted),
		cmocka_unit_test(test_attach_pair_cap),
		cmocka_unit_test(test_attach_pools),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	metrics_free(reg);
	return r;
}
