// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the typed cJSON getters and strict JSON parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char doc[] = "{\"s\":\"str\",\"b\":true,\"i\":1500,\"neg\":-3,\"f\":1.5,\"big\":1e300,"
			  "\"o\":{\"x\":1},\"a\":[1,2],\"n\":null,\"MTU\":9000}";

static cJSON *load_doc(void)
{
	cJSON *j = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(json_parse(doc, strlen(doc), "doc", &j, &err), 0);
	return j;
}

static void expect_err(int r, const struct cni_err *err, int code, const char *msg)
{
	assert_true(r < 0);
	assert_int_equal(err->code, code);
	if (!strstr(err->msg, msg))
		fail_msg("message '%s' lacks '%s'", err->msg, msg);
}

enum kind {
	K_STRING,
	K_BOOL,
	K_INT,
	K_OBJECT,
	K_ARRAY
};

struct get_case {
	enum kind kind;
	const char *key;
	int64_t min, max;
	int code;	 /* 0 = success */
	bool present;	 /* expected when code == 0 */
	const char *msg; /* expected message substring when code != 0 */
};

static void run_get_case(const cJSON *j, const struct get_case *c)
{
	struct cni_err err = { 0 };
	char path[64];
	(void)snprintf(path, sizeof(path), "macvlan.%s", c->key);
	bool present = !c->present;
	const char *s = "unchanged";
	bool b = false;
	int64_t i = -77;
	const cJSON *o = NULL;
	int r = 0;
	switch (c->kind) {
	case K_STRING:
		r = json_get_string(j, c->key, path, &s, &present, &err);
		break;
	case K_BOOL:
		r = json_get_bool(j, c->key, path, &b, &present, &err);
		break;
	case K_INT:
		r = json_get_int(j, c->key, path, c->min, c->max, &i, &present, &err);
		break;
	case K_OBJECT:
		r = json_get_object(j, c->key, path, &o, &err);
		present = o != NULL;
		break;
	case K_ARRAY:
		r = json_get_array(j, c->key, path, &o, &err);
		present = o != NULL;
		break;
	}
	if (c->code) {
		expect_err(r, &err, c->code, c->msg);
		return;
	}
	if (r != 0)
		fail_msg("key '%s': unexpected error '%s'", c->key, err.msg);
	assert_int_equal(present, c->present);
	if (!c->present) {
		assert_string_equal(s, "unchanged");
		assert_int_equal(i, -77);
		assert_null(o);
	}
}

static void test_json_getters_table(void **state)
{
	(void)state;
	cJSON *j = load_doc();
	const struct get_case cases[] = {
		{ K_STRING, "s", 0, 0, 0, true, NULL },
		{ K_STRING, "missing", 0, 0, 0, false, NULL },
		{ K_STRING, "n", 0, 0, 0, false, NULL },
		{ K_STRING, "i", 0, 0, 7, false, "macvlan.i: must be a string" },
		{ K_STRING, "S", 0, 0, 0, false, NULL }, /* case-sensitive */
		{ K_BOOL, "b", 0, 0, 0, true, NULL },
		{ K_BOOL, "s", 0, 0, 7, false, "macvlan.s: must be a boolean" },
		{ K_BOOL, "i", 0, 0, 7, false, "macvlan.i: must be a boolean" },
		{ K_INT, "i", 0, 65535, 0, true, NULL },
		{ K_INT, "neg", -10, 10, 0, true, NULL },
		{ K_INT, "neg", 0, 10, 7, false, "macvlan.neg: must be between 0 and 10" },
		{ K_INT, "i", 0, 1000, 7, false, "macvlan.i: must be between 0 and 1000" },
		{ K_INT, "f", 0, 10, 7, false, "macvlan.f: must be an integer" },
		{ K_INT, "big", INT64_MIN, INT64_MAX, 7, false, "macvlan.big: must be between" },
		{ K_INT, "s", 0, 10, 7, false, "macvlan.s: must be an integer" },
		{ K_INT, "b", 0, 10, 7, false, "macvlan.b: must be an integer" },
		{ K_INT, "mtu", 0, 10, 0, false, NULL }, /* "MTU" is another key */
		{ K_INT, "n", 0, 10, 0, false, NULL },
		{ K_OBJECT, "o", 0, 0, 0, true, NULL },
		{ K_OBJECT, "n", 0, 0, 0, false, NULL },
		{ K_OBJECT, "a", 0, 0, 7, false, "macvlan.a: must be an object" },
		{ K_ARRAY, "a", 0, 0, 0, true, NULL },
		{ K_ARRAY, "missing", 0, 0, 0, false, NULL },
		{ K_ARRAY, "o", 0, 0, 7, false, "macvlan.o: must be an array" },
	};
	for (size_t k = 0; k < NELEM(cases); k++)
		run_get_case(j, &cases[k]);
	cJSON_Delete(j);
}

static void test_json_get_values(void **state)
{
	(void)state;
	cJSON *j = load_doc();
	struct cni_err err = { 0 };
	const char *s = NULL;
	bool b = false;
	int64_t i = 0;
	assert_int_equal(json_get_string(j, "s", "s", &s, NULL, &err), 0);
	assert_string_equal(s, "str");
	assert_int_equal(json_get_bool(j, "b", "b", &b, NULL, &err), 0);
	assert_true(b);
	assert_int_equal(json_get_int(j, "MTU", "MTU", 0, 65535, &i, NULL, &err), 0);
	assert_int_equal(i, 9000);
	assert_int_equal(json_get_int(j, "neg", "neg", -3, -3, &i, NULL, &err), 0);
	assert_int_equal(i, -3);
	assert_null(json_get(j, "mtu"));
	assert_non_null(json_get(j, "MTU"));
	assert_null(json_get(NULL, "x"));
	assert_null(json_get(json_get(j, "a"), "x")); /* not an object */
	/* A non-object parent behaves as "absent". */
	assert_int_equal(json_get_string(NULL, "s", "s", &s, NULL, &err), 0);
	cJSON_Delete(j);
}

struct parse_case {
	const char *text;
	size_t len; /* 0 = strlen */
	bool ok;
	const char *msg;
};

static void test_json_parse_table(void **state)
{
	(void)state;
	const struct parse_case cases[] = {
		{ "{}", 0, true, NULL },
		{ "  {\"a\":1}\n\t ", 0, true, NULL },
		{ "null", 0, true, NULL },
		{ "[1,2]", 0, true, NULL },
		{ "{\"a\":1}garbage", 7, true, NULL }, /* length stops before the junk */
		{ "{\"a\":1}garbage", 0, false, "stdin: invalid JSON: trailing data at offset 7" },
		{ "{\"a\":1} {}", 0, false, "trailing data" },
		{ "{\"a\":1}\0", 8, false, "control character at offset 7" },
		{ "\0{}", 3, false, "control character at offset 0" },
		{ "{\"a\":\"x\001\"}", 0, false, "control character" },
		{ "{\"a\":", 0, false, "stdin: invalid JSON at offset" },
		{ "{\"a\":1", 0, false, "invalid JSON" },
		{ "", 0, false, "stdin: empty input" },
		{ "   \n", 0, false, "stdin: empty input" },
		{ "{'a':1}", 0, false, "invalid JSON" },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct parse_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		/* Exact-size heap copy so ASan catches any read past len. */
		char *buf = malloc(len ? len : 1);
		memcpy(buf, c->text, len);
		cJSON *j = NULL;
		struct cni_err err = { 0 };
		int r = json_parse(buf, len, "stdin", &j, &err);
		free(buf);
		if (c->ok) {
			if (r != 0)
				fail_msg("case %zu: unexpected error '%s'", i, err.msg);
			assert_non_null(j);
			cJSON_Delete(j);
			continue;
		}
		assert_null(j);
		expect_err(r, &err, 6, c->msg);
	}
}

static void test_json_print_compact(void **state)
{
	(void)state;
	cJSON *j = NULL;
	const char in[] = "{ \"a\" : [ 1 , \"x\" ] }";
	assert_int_equal(json_parse(in, strlen(in), "t", &j, NULL), 0);
	char *s = json_print(j);
	assert_string_equal(s, "{\"a\":[1,\"x\"]}");
	free(s);
	cJSON_Delete(j);
}

static void test_json_cleanup_frees(void **state)
{
	(void)state;
	_cleanup_json_ cJSON *j = NULL;
	assert_int_equal(json_parse("[1]", 3, "t", &j, NULL), 0);
	_cleanup_json_ cJSON *none = NULL;
	(void)none;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_getters_table),
		cmocka_unit_test(test_json_get_values),
		cmocka_unit_test(test_json_parse_table),
		cmocka_unit_test(test_json_print_compact),
		cmocka_unit_test(test_json_cleanup_frees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
