// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the metrics registry's text exposition (lib/metrics/metrics.c, format 0.0.4). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"

static const char *const one_label[] = { "pool", NULL };
static const char *const two_labels[] = { "verb", "code", NULL };

static void expect_render(struct metrics *m, const char *want)
{
	size_t len = 0;
	_cleanup_free_ char *text = metrics_render(m, &len);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
}

static void test_metrics_empty(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	expect_render(m, "");
	metrics_family(m, METRICS_GAUGE, "plexus_x", "No series yet", NULL, NULL, 0);
	expect_render(m, "# HELP plexus_x No series yet\n# TYPE plexus_x gauge\n");
	metrics_free(m);
}

static void test_metrics_counter_labels(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *f = metrics_family(m, METRICS_COUNTER, "plexus_req_total",
						  "Requests", two_labels, NULL, 0);
	metrics_add(f, 1, "GET", "200");
	metrics_add(f, 2, "PATCH", "409");
	metrics_add(f, 1, "GET", "200");
	metrics_add(f, -5, "GET", "200"); /* a counter never goes down */
	expect_render(m, "# HELP plexus_req_total Requests\n"
			 "# TYPE plexus_req_total counter\n"
			 "plexus_req_total{verb=\"GET\",code=\"200\"} 2\n"
			 "plexus_req_total{verb=\"PATCH\",code=\"409\"} 2\n");
	metrics_free(m);
}

static void test_metrics_gauge_set_add_clear(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *g =
		metrics_family(m, METRICS_GAUGE, "plexus_depth", "Depth", NULL, NULL, 0);
	struct metrics_family *p =
		metrics_family(m, METRICS_GAUGE, "plexus_devs", "Devs", one_label, NULL, 0);
	metrics_set(g, 7);
	metrics_add(g, -2);
	metrics_set(p, 3, "a");
	metrics_set(p, 0.25, "b");
	expect_render(m, "# HELP plexus_depth Depth\n# TYPE plexus_depth gauge\nplexus_depth 5\n"
			 "# HELP plexus_devs Devs\n# TYPE plexus_devs gauge\n"
			 "plexus_devs{pool=\"a\"} 3\nplexus_devs{pool=\"b\"} 0.25\n");
	metrics_clear(p);
	metrics_set(p, 1, "c");
	expect_render(m, "# HELP plexus_depth Depth\n# TYPE plexus_depth gauge\nplexus_depth 5\n"
			 "# HELP plexus_devs Devs\n# TYPE plexus_devs gauge\n"
			 "plexus_devs{pool=\"c\"} 1\n");
	metrics_free(m);
}

static void test_metrics_escaping(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *f =
		metrics_family(m, METRICS_GAUGE, "plexus_e", "Back\\slash and\nnewline \"kept\"",
			       one_label, NULL, 0);
	metrics_set(f, 1, "a\"b\\c\nd");
	metrics_set(f, 2, (const char *)NULL);
	expect_render(m, "# HELP plexus_e Back\\\\slash and\\nnewline \"kept\"\n"
			 "# TYPE plexus_e gauge\n"
			 "plexus_e{pool=\"a\\\"b\\\\c\\nd\"} 1\n"
			 "plexus_e{pool=\"\"} 2\n");
	metrics_free(m);
}

static void test_metrics_histogram(void **state)
{
	(void)state;
	static const double b[] = { 0.005, 0.1, 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *h = metrics_family(m, METRICS_HISTOGRAM, "plexus_lat_seconds",
						  "Latency", one_label, b, ARRAY_SIZE(b));
	metrics_observe(h, 0.005, "x"); /* on a bound: counted in it (le = less or equal) */
	metrics_observe(h, 0.05, "x");
	metrics_observe(h, 3, "x");
	metrics_add(h, 1, "x"); /* not a histogram operation: ignored */
	expect_render(m, "# HELP plexus_lat_seconds Latency\n"
			 "# TYPE plexus_lat_seconds histogram\n"
			 "plexus_lat_seconds_bucket{pool=\"x\",le=\"0.005\"} 1\n"
			 "plexus_lat_seconds_bucket{pool=\"x\",le=\"0.1\"} 2\n"
			 "plexus_lat_seconds_bucket{pool=\"x\",le=\"1\"} 2\n"
			 "plexus_lat_seconds_bucket{pool=\"x\",le=\"+Inf\"} 3\n"
			 "plexus_lat_seconds_sum{pool=\"x\"} 3.055\n"
			 "plexus_lat_seconds_count{pool=\"x\"} 3\n");
	metrics_free(m);
}

static void test_metrics_histogram_no_labels(void **state)
{
	(void)state;
	static const double b[] = { 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *h =
		metrics_family(m, METRICS_HISTOGRAM, "plexus_h", "H", NULL, b, ARRAY_SIZE(b));
	metrics_observe(h, 2);
	expect_render(m, "# HELP plexus_h H\n# TYPE plexus_h histogram\n"
			 "plexus_h_bucket{le=\"1\"} 0\nplexus_h_bucket{le=\"+Inf\"} 1\n"
			 "plexus_h_sum 2\nplexus_h_count 1\n");
	metrics_free(m);
}

static void test_metrics_special_values(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *g =
		metrics_family(m, METRICS_GAUGE, "plexus_v", "V", one_label, NULL, 0);
	metrics_set(g, NAN, "nan");
	metrics_set(g, INFINITY, "inf");
	metrics_set(g, -INFINITY, "ninf");
	metrics_set(g, 0.1, "tenth");
	metrics_set(g, 1e300, "big");
	metrics_set(g, -3, "neg");
	expect_render(m, "# HELP plexus_v V\n# TYPE plexus_v gauge\n"
			 "plexus_v{pool=\"nan\"} NaN\nplexus_v{pool=\"inf\"} +Inf\n"
			 "plexus_v{pool=\"ninf\"} -Inf\nplexus_v{pool=\"tenth\"} 0.1\n"
			 "plexus_v{pool=\"big\"} 1e+300\nplexus_v{pool=\"neg\"} -3\n");
	metrics_free(m);
}

static void test_metrics_null_family(void **state)
{
	(void)state;
	metrics_add(NULL, 1, "x");
	metrics_set(NULL, 1);
	metrics_observe(NULL, 1);
	metrics_clear(NULL);
	metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_empty),
		cmocka_unit_test(test_metrics_counter_labels),
		cmocka_unit_test(test_metrics_gauge_set_add_clear),
		cmocka_unit_test(test_metrics_escaping),
		cmocka_unit_test(test_metrics_histogram),
		cmocka_unit_test(test_metrics_histogram_no_labels),
		cmocka_unit_test(test_metrics_special_values),
		cmocka_unit_test(test_metrics_null_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
