// SPDX-License-Identifier: Apache-2.0
/* Unit tests for exec of external plugins, against tests/fixtures/bin/fake-plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/exec.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

/* Tests run from the repository root (tests/run.sh). */
#define FIXTURES "tests/fixtures/bin"

static char record[64];

static int setup(void **state)
{
	(void)state;
	(void)snprintf(record, sizeof(record), "/tmp/plexus-test-exec.%d", (int)getpid());
	setenv("FAKE_RECORD", record, 1);
	setenv("CNI_STALE", "must-not-leak", 1);
	setenv("UNRELATED", "kept", 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *env = xasprintf("%s.env", record);
	_cleanup_free_ char *in = xasprintf("%s.stdin", record);
	(void)unlink(env);
	(void)unlink(in);
	return 0;
}

static struct cni_exec_req base_req(void)
{
	static const char conf[] = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}";
	return (struct cni_exec_req){
		.type = "fake-plugin",
		.path = "/nonexistent:" FIXTURES,
		.cmd = CNI_CMD_ADD,
		.container_id = "c1",
		.netns = "/run/netns/x",
		.ifname = "net1",
		.args = "K8S_POD_NAME=p",
		.stdin_data = conf,
		.stdin_len = sizeof(conf) - 1,
		.timeout_ms = 5000,
	};
}

static void test_exec_find_searches_path_in_order(void **state)
{
	(void)state;
	_cleanup_free_ char *p = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(cni_exec_find("fake-plugin", "/nonexistent::" FIXTURES, &p, &err), 0);
	assert_string_equal(p, FIXTURES "/fake-plugin");
}

static void test_exec_find_missing_is_code_7(void **state)
{
	(void)state;
	char *p = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(cni_exec_find("no-such-plugin", FIXTURES, &p, &err), -ENOENT);
	assert_int_equal(err.code, 7);
	assert_non_null(strstr(err.msg, "no-such-plugin"));
	assert_true(cni_exec_find("../bin/sh", FIXTURES, &p, &err) < 0);
	assert_int_equal(err.code, 7);
	assert_true(cni_exec_find("fake-plugin", "", &p, &err) < 0);
}

static void test_exec_run_passes_env_and_stdin(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "ok", 1);
	setenv("FAKE_RESULT", "{\"cniVersion\":\"1.0.0\"}", 1);
	struct cni_exec_req req = base_req();
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	struct cni_err err = { 0 };
	assert_int_equal(cni_exec_run(&req, &out, &len, &err), 0);
	assert_string_equal(out, "{\"cniVersion\":\"1.0.0\"}\n");

	_cleanup_free_ char *env_path = xasprintf("%s.env", record);
	_cleanup_free_ char *in_path = xasprintf("%s.stdin", record);
	_cleanup_free_ char *env = NULL, *in = NULL;
	assert_int_equal(file_read_all(env_path, 1 << 16, &env, NULL), 0);
	assert_int_equal(file_read_all(in_path, 1 << 16, &in, NULL), 0);
	assert_string_equal(in, req.stdin_data);
	/* Exactly the request's CNI_* variables: ours (CNI_STALE) are not inherited. */
	assert_string_equal(env, "CNI_ARGS=K8S_POD_NAME=p\n"
				 "CNI_COMMAND=ADD\n"
				 "CNI_CONTAINERID=c1\n"
				 "CNI_IFNAME=net1\n"
				 "CNI_NETNS=/run/netns/x\n"
				 "CNI_PATH=/nonexistent:" FIXTURES "\n");
}

static void test_exec_run_unset_fields_stay_unset(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "ok", 1);
	struct cni_exec_req req = base_req();
	req.cmd = CNI_CMD_GC;
	req.container_id = req.netns = req.ifname = req.args = NULL;
	_cleanup_free_ char *out = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(cni_exec_run(&req, &out, NULL, &err), 0);
	_cleanup_free_ char *env_path = xasprintf("%s.env", record);
	_cleanup_free_ char *env = NULL;
	assert_int_equal(file_read_all(env_path, 1 << 16, &env, NULL), 0);
	assert_string_equal(env, "CNI_COMMAND=GC\nCNI_PATH=/nonexistent:" FIXTURES "\n");
}

static void test_exec_run_propagates_plugin_error(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "error", 1);
	setenv("FAKE_CODE", "11", 1);
	struct cni_exec_req req = base_req();
	char *out = NULL;
	struct cni_err err = { 0 };
	assert_true(cni_exec_run(&req, &out, NULL, &err) < 0);
	assert_null(out);
	assert_int_equal(err.code, 11);
	assert_string_equal(err.msg, "fake failure");
	assert_string_equal(err.details, "more");
}

static void test_exec_run_non_json_failure_is_code_102(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "garbage", 1);
	struct cni_exec_req req = base_req();
	char *out = NULL;
	struct cni_err err = { 0 };
	assert_true(cni_exec_run(&req, &out, NULL, &err) < 0);
	assert_int_equal(err.code, 102);
	assert_non_null(strstr(err.msg, "exit status 3"));
	assert_non_null(strstr(err.msg, "not json at all"));
}

static void test_exec_run_killed_by_signal(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "signal", 1);
	struct cni_exec_req req = base_req();
	char *out = NULL;
	struct cni_err err = { 0 };
	assert_true(cni_exec_run(&req, &out, NULL, &err) < 0);
	assert_int_equal(err.code, 102);
	assert_non_null(strstr(err.msg, "signal 9"));
}

static void test_exec_run_timeout_is_code_11(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "sleep", 1);
	struct cni_exec_req req = base_req();
	req.timeout_ms = 200;
	char *out = NULL;
	struct cni_err err = { 0 };
	assert_true(cni_exec_run(&req, &out, NULL, &err) < 0);
	assert_int_equal(err.code, 11);
	assert_non_null(strstr(err.msg, "timed out"));
}

static void test_exec_run_plugin_ignoring_stdin(void **state)
{
	(void)state;
	setenv("FAKE_MODE", "noread", 1);
	struct cni_exec_req req = base_req();
	/* Larger than a pipe buffer, so writing it would block if nobody reads. */
	size_t big = 1 << 20;
	_cleanup_free_ char *data = xmalloc(big);
	memset(data, ' ', big);
	req.stdin_data = data;
	req.stdin_len = big;
	_cleanup_free_ char *out = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(cni_exec_run(&req, &out, NULL, &err), 0);
	assert_string_equal(out, "{}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_find_searches_path_in_order),
		cmocka_unit_test(test_exec_find_missing_is_code_7),
		cmocka_unit_test(test_exec_run_passes_env_and_stdin),
		cmocka_unit_test(test_exec_run_unset_fields_stay_unset),
		cmocka_unit_test(test_exec_run_propagates_plugin_error),
		cmocka_unit_test(test_exec_run_non_json_failure_is_code_102),
		cmocka_unit_test(test_exec_run_killed_by_signal),
		cmocka_unit_test(test_exec_run_timeout_is_code_11),
		cmocka_unit_test(test_exec_run_plugin_ignoring_stdin),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
