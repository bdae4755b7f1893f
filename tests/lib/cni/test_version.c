// SPDX-License-Identifier: Apache-2.0
/* Unit tests for CNI spec version parsing and result-shape queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/cni/version.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct version_case {
	const char *in;
	int code; /* 0 = success */
	enum cni_version want;
	const char *msg;
};

static void test_version_parse_table(void **state)
{
	(void)state;
	const struct version_case cases[] = {
		{ "0.1.0", 0, CNI_V010, NULL },
		{ "0.2.0", 0, CNI_V020, NULL },
		{ "0.3.0", 0, CNI_V030, NULL },
		{ "0.3.1", 0, CNI_V031, NULL },
		{ "0.4.0", 0, CNI_V040, NULL },
		{ "1.0.0", 0, CNI_V100, NULL },
		{ "1.1.0", 0, CNI_V110, NULL },
		{ "0.5.0", 1, 0,
		  "incompatible CNI versions: config is \"0.5.0\", plugin supports [\"0.1.0\" "
		  "\"0.2.0\" \"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]" },
		{ "2.0.0", 1, 0, "config is \"2.0.0\"" },
		{ "1.2.0", 1, 0, "incompatible CNI versions" },
		{ "10.20.30", 1, 0, "incompatible CNI versions" },
		{ "1.0", 6, 0, "invalid CNI version '1.0'" },
		{ "1", 6, 0, "invalid CNI version '1'" },
		{ "1.0.0.0", 6, 0, "'1.0.0.0'" },
		{ "01.0.0", 6, 0, "'01.0.0'" },
		{ "1.0.0-rc1", 6, 0, "'1.0.0-rc1'" },
		{ " 1.0.0", 6, 0, "' 1.0.0'" },
		{ "1.0.0 ", 6, 0, "'1.0.0 '" },
		{ "v1.0.0", 6, 0, "'v1.0.0'" },
		{ "1..0", 6, 0, "invalid CNI version" },
		{ "abc", 6, 0, "'abc'" },
		{ "", 6, 0, "invalid CNI version" },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct version_case *c = &cases[i];
		enum cni_version v = CNI_VERSION_COUNT;
		struct cni_err err = { 0 };
		int r = cni_version_parse(c->in, &v, &err);
		if (c->code == 0) {
			if (r != 0)
				fail_msg("'%s': unexpected error '%s'", c->in, err.msg);
			assert_int_equal(v, c->want);
			continue;
		}
		assert_true(r < 0);
		assert_int_equal(v, CNI_VERSION_COUNT); /* untouched on error */
		if (err.code != c->code)
			fail_msg("'%s': code %d, want %d", c->in, err.code, c->code);
		if (!strstr(err.msg, c->msg))
			fail_msg("'%s': message '%s' lacks '%s'", c->in, err.msg, c->msg);
	}
}

static void test_version_parse_null(void **state)
{
	(void)state;
	enum cni_version v;
	struct cni_err err = { 0 };
	assert_true(cni_version_parse(NULL, &v, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_DECODE);
	/* A NULL err is allowed (callers probing a version). */
	assert_true(cni_version_parse("9.9.9", &v, NULL) < 0);
}

static void test_version_str_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < CNI_VERSION_COUNT; i++) {
		const char *s = cni_version_str((enum cni_version)i);
		assert_non_null(s);
		enum cni_version v;
		assert_int_equal(cni_version_parse(s, &v, NULL), 0);
		assert_int_equal(v, i);
	}
	assert_string_equal(cni_version_str(CNI_VERSION_LATEST), "1.1.0");
	assert_null(cni_version_str(CNI_VERSION_COUNT));
}

static void test_version_rich_result(void **state)
{
	(void)state;
	const bool want[CNI_VERSION_COUNT] = {
		[CNI_V010] = false, [CNI_V020] = false, [CNI_V030] = true, [CNI_V031] = true,
		[CNI_V040] = true,  [CNI_V100] = true,	[CNI_V110] = true,
	};
	for (int i = 0; i < CNI_VERSION_COUNT; i++)
		assert_int_equal(cni_version_has_rich_result((enum cni_version)i), want[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_parse_table),
		cmocka_unit_test(test_version_parse_null),
		cmocka_unit_test(test_version_str_round_trip),
		cmocka_unit_test(test_version_rich_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
