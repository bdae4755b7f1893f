// SPDX-License-Identifier: Apache-2.0
/* Unit tests for CNI_* env loading/validation and CNI_ARGS parsing (SPEC.md "Parameters"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/args.h"

static void clear_env(void)
{
	const char *vars[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
			       "CNI_IFNAME",  "CNI_ARGS",	 "CNI_PATH" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void set_full_env(const char *cmd)
{
	clear_env();
	setenv("CNI_COMMAND", cmd, 1);
	setenv("CNI_CONTAINERID", "abc123", 1);
	setenv("CNI_NETNS", "/run/netns/x", 1);
	setenv("CNI_IFNAME", "net1", 1);
	setenv("CNI_PATH", "/usr/lib/cni", 1);
}

struct env_case {
	const char *cmd;
	const char *unset;		  /* variable to remove, or NULL */
	const char *set_name, *set_value; /* variable to override, or NULL */
	int code;			  /* expected CNI code, 0 = success */
	const char *msg;		  /* substring expected in the message */
};

static void run_env_case(const struct env_case *c)
{
	set_full_env(c->cmd);
	if (c->unset)
		unsetenv(c->unset);
	if (c->set_name)
		setenv(c->set_name, c->set_value, 1);
	struct cni_env env = { 0 };
	struct cni_err err = { 0 };
	int r = cni_env_load(&env, &err);
	if (c->code == 0) {
		assert_int_equal(r, 0);
		cni_env_done(&env);
		return;
	}
	assert_true(r < 0);
	assert_int_equal(err.code, c->code);
	if (!strstr(err.msg, c->msg))
		fail_msg("message '%s' lacks '%s'", err.msg, c->msg);
}

static void test_env_required_per_command(void **state)
{
	(void)state;
	const struct env_case cases[] = {
		{ "ADD", NULL, NULL, NULL, 0, NULL },
		{ "ADD", "CNI_NETNS", NULL, NULL, 4, "required env variables [CNI_NETNS] missing" },
		{ "ADD", "CNI_CONTAINERID", NULL, NULL, 4, "[CNI_CONTAINERID]" },
		{ "ADD", "CNI_IFNAME", NULL, NULL, 4, "[CNI_IFNAME]" },
		{ "ADD", "CNI_PATH", NULL, NULL, 4, "[CNI_PATH]" },
		{ "CHECK", "CNI_NETNS", NULL, NULL, 4, "CNI_NETNS" },
		/* DEL: CNI_NETNS is optional (SPEC.md "DEL"). */
		{ "DEL", "CNI_NETNS", NULL, NULL, 0, NULL },
		{ "DEL", "CNI_IFNAME", NULL, NULL, 4, "CNI_IFNAME" },
		{ "STATUS", "CNI_CONTAINERID", NULL, NULL, 0, NULL },
		{ "STATUS", "CNI_PATH", NULL, NULL, 4, "CNI_PATH" },
		{ "GC", "CNI_IFNAME", NULL, NULL, 0, NULL },
		{ "VERSION", "CNI_PATH", NULL, NULL, 0, NULL },
		{ "BOGUS", NULL, NULL, NULL, 4, "unknown CNI_COMMAND: BOGUS" },
		{ "ADD", NULL, "CNI_NETNS", "", 4, "CNI_NETNS" },
		{ "ADD", NULL, "CNI_CONTAINERID", "-leading-dash", 4, "CNI_CONTAINERID" },
		{ "ADD", NULL, "CNI_CONTAINERID", "has space", 4, "CNI_CONTAINERID" },
		{ "ADD", NULL, "CNI_CONTAINERID", "ok_id.with-dots", 0, NULL },
		{ "ADD", NULL, "CNI_IFNAME", "this-is-16-chars", 4, "CNI_IFNAME" },
		{ "ADD", NULL, "CNI_IFNAME", "fifteen-chars-x", 0, NULL },
		{ "ADD", NULL, "CNI_IFNAME", "a/b", 4, "CNI_IFNAME" },
		{ "ADD", NULL, "CNI_IFNAME", "a:b", 4, "CNI_IFNAME" },
		{ "ADD", NULL, "CNI_IFNAME", "a b", 4, "CNI_IFNAME" },
		{ "ADD", NULL, "CNI_IFNAME", "..", 4, "CNI_IFNAME" },
		{ "DEL", NULL, "CNI_IFNAME", ".", 4, "CNI_IFNAME" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_env_case(&cases[i]);
}

static void test_env_missing_command(void **state)
{
	(void)state;
	clear_env();
	struct cni_env env = { 0 };
	struct cni_err err = { 0 };
	assert_true(cni_env_load(&env, &err) < 0);
	assert_int_equal(err.code, 4);
	assert_non_null(strstr(err.msg, "CNI_COMMAND"));
}

static void test_env_lists_every_missing_variable(void **state)
{
	(void)state;
	clear_env();
	setenv("CNI_COMMAND", "ADD", 1);
	struct cni_env env = { 0 };
	struct cni_err err = { 0 };
	assert_true(cni_env_load(&env, &err) < 0);
	assert_string_equal(err.msg, "required env variables "
				     "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing");
}

static void test_args_parse_pairs(void **state)
{
	(void)state;
	struct cni_kv *kv = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	assert_int_equal(
		cni_args_parse("IgnoreUnknown=1;K8S_POD_NAME=p;;X=a=b;MAC=", &kv, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(cni_kv_get(kv, n, "IgnoreUnknown"), "1");
	assert_string_equal(cni_kv_get(kv, n, "K8S_POD_NAME"), "p");
	/* SPEC.md "Parameters", CNI_ARGS: split on the first '=' only. */
	assert_string_equal(cni_kv_get(kv, n, "X"), "a=b");
	assert_string_equal(cni_kv_get(kv, n, "MAC"), "");
	assert_null(cni_kv_get(kv, n, "mac")); /* keys are case-sensitive */
	cni_kv_free(kv, n);
}

static void test_args_parse_empty(void **state)
{
	(void)state;
	struct cni_kv *kv = NULL;
	size_t n = 7;
	struct cni_err err = { 0 };
	assert_int_equal(cni_args_parse(NULL, &kv, &n, &err), 0);
	assert_int_equal(n, 0);
	cni_kv_free(kv, n);
	assert_int_equal(cni_args_parse("", &kv, &n, &err), 0);
	assert_int_equal(n, 0);
	cni_kv_free(kv, n);
}

static void test_args_parse_rejects_bad_pair(void **state)
{
	(void)state;
	const char *bad[] = { "NOEQUALS", "A=1;B", "=value" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cni_kv *kv = NULL;
		size_t n = 0;
		struct cni_err err = { 0 };
		assert_true(cni_args_parse(bad[i], &kv, &n, &err) < 0);
		assert_int_equal(err.code, 4);
		assert_non_null(strstr(err.msg, "CNI_ARGS"));
	}
}

static void test_network_name_validation(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	assert_int_equal(cni_validate_network_name("net-a.b_c", &err), 0);
	assert_true(cni_validate_network_name("", &err) < 0);
	assert_int_equal(err.code, 7);
	assert_true(cni_validate_network_name("../etc", &err) < 0);
	assert_int_equal(err.code, 7);
	assert_non_null(strstr(err.msg, "name"));
	assert_true(cni_validate_network_name("a/b", &err) < 0);
}

static void test_cmd_names_round_trip(void **state)
{
	(void)state;
	const char *names[] = { "ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		enum cni_cmd c;
		assert_int_equal(cni_cmd_parse(names[i], &c), 0);
		assert_string_equal(cni_cmd_str(c), names[i]);
	}
	enum cni_cmd c;
	assert_true(cni_cmd_parse("add", &c) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_required_per_command),
		cmocka_unit_test(test_env_missing_command),
		cmocka_unit_test(test_env_lists_every_missing_variable),
		cmocka_unit_test(test_args_parse_pairs),
		cmocka_unit_test(test_args_parse_empty),
		cmocka_unit_test(test_args_parse_rejects_bad_pair),
		cmocka_unit_test(test_network_name_validation),
		cmocka_unit_test(test_cmd_names_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
