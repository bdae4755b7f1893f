// SPDX-License-Identifier: Apache-2.0
/* Unit tests for exec of external plugins, against tests/fixtures/bin/fake-plugin. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/exec.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

/* Tests run from the repository root (tests/run.sh). */
#define FIXTURES "tests/fixtures/bin"

static char record[64];
static char plugin_dir[64]; /* unique per test run; write_plugin makes it */

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
	if (plugin_dir[0]) {
		_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", plugin_dir);
		(void)!system(cmd);
	}
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

/* A plugin written for one test into a fresh directory: "#!/bin/sh\n" + body. */
static void write_plugin(const char *name, const char *body)
{
	if (!plugin_dir[0]) {
		(void)snprintf(plugin_dir, sizeof(plugin_dir), "/tmp/plexus-test-exec-%d.XXXXXX",
			       (int)getpid());
		assert_non_null(mkdtemp(plugin_dir));
	}
	_cleanup_free_ char *path = xasprintf("%s/%s", plugin_dir, name);
	_cleanup_free_ char *text = xasprintf("#!/bin/sh\n%s\n", body);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0700), 0);
}

/* The process group the plugin wrote to $DIR/pgid; 0 if it wrote none. */
static int plugin_pgid(void)
{
	_cleanup_free_ char *path = xasprintf("%s/pgid", plugin_dir);
	_cleanup_free_ char *text = NULL;
	if (file_read_all(path, 64, &text, NULL) < 0)
		return 0;
	return atoi(text);
}

/* Live (not zombie) processes in process group pgid, from /proc/<pid>/stat. */
static int group_alive(int pgid)
{
	int n = 0;
	DIR *d = opendir("/proc");
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		_cleanup_free_ char *path = xasprintf("/proc/%s/stat", e->d_name);
		_cleanup_free_ char *st = NULL;
		if (file_read_all(path, 4096, &st, NULL) < 0)
			continue;
		/* "pid (comm) state ppid pgrp ...": comm may hold spaces, so parse after ')'. */
		const char *p = strrchr(st, ')');
		char state = 0;
		int ppid = 0, pgrp = 0;
		if (p && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
		    state != 'Z' && state != 'X')
			n++;
	}
	closedir(d);
	return n;
}

/* SIGKILL is delivered asynchronously: give the group up to 2 s to be gone. */
static void assert_group_gone(void)
{
	int pgid = plugin_pgid();
	assert_true(pgid > 1);
	int alive = 0;
	for (int i = 0; i < 200 && (alive = group_alive(pgid)) > 0; i++) {
		struct timespec pause = { .tv_nsec = 10 * 1000000 };
		(void)nanosleep(&pause, NULL);
	}
	assert_int_equal(alive, 0);
}

static struct cni_exec_req dir_req(const char *name, int timeout_ms)
{
	struct cni_exec_req req = base_req();
	req.type = name;
	req.path = plugin_dir;
	req.timeout_ms = timeout_ms;
	return req;
}

/* Run the plugin expecting the timeout error; checks the message and that its group is gone. */
static void expect_timeout(const char *name)
{
	struct cni_exec_req req = dir_req(name, 300);
	char *out = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(cni_exec_run(&req, &out, NULL, &err), -ETIMEDOUT);
	assert_null(out);
	assert_int_equal(err.code, 11);
	_cleanup_free_ char *want = xasprintf("plugin '%s' ADD timed out after 300 ms", name);
	assert_non_null(strstr(err.msg, want));
	assert_group_gone();
}

/* Every process writes its pgid as the first thing, so a test can look the group up. */
#define PGID "cat >/dev/null; cut -d' ' -f5 /proc/$$/stat >\"$(dirname \"$0\")/pgid\"; "

static void test_exec_run_closed_stdout_then_hang_times_out(void **state)
{
	(void)state;
	write_plugin("closes-stdout", PGID "exec >&-; sleep 30");
	expect_timeout("closes-stdout");
}

static void test_exec_run_grandchild_holding_stdout_times_out(void **state)
{
	(void)state;
	/* The plugin answers and exits 0, but a child it forked keeps stdout open. */
	write_plugin("grandchild", PGID "(trap '' TERM; sleep 30; echo late) & echo '{}'; exit 0");
	expect_timeout("grandchild");
}

static void test_exec_run_sigterm_ignored_times_out(void **state)
{
	(void)state;
	write_plugin("no-term", PGID "trap '' TERM; sleep 30");
	expect_timeout("no-term");
}

static void test_exec_run_failure_kills_its_group(void **state)
{
	(void)state;
	/* A failing plugin's background child (not holding stdout) dies with it. */
	write_plugin("fails", PGID "sleep 30 >/dev/null 2>&1 & "
				   "echo '{\"code\":7,\"msg\":\"bad thing\"}'; exit 1");
	struct cni_exec_req req = dir_req("fails", 10000);
	char *out = NULL;
	struct cni_err err = { 0 };
	assert_true(cni_exec_run(&req, &out, NULL, &err) < 0);
	assert_int_equal(err.code, 7);
	assert_string_equal(err.msg, "bad thing");
	assert_group_gone();
}

static void test_exec_run_sets_the_delegated_marker(void **state)
{
	(void)state;
	/* Whatever our own environment says, the child sees exactly PLEXUS_DELEGATED=1. */
	setenv("PLEXUS_DELEGATED", "0", 1);
	write_plugin("marker", "cat >/dev/null; env | grep '^PLEXUS_DELEGATED' >\"$(dirname "
			       "\"$0\")/marker.env\"; echo '{}'");
	struct cni_exec_req req = dir_req("marker", 10000);
	_cleanup_free_ char *out = NULL;
	struct cni_err err = { 0 };
	int r = cni_exec_run(&req, &out, NULL, &err);
	unsetenv("PLEXUS_DELEGATED");
	assert_int_equal(r, 0);
	_cleanup_free_ char *path = xasprintf("%s/marker.env", plugin_dir);
	_cleanup_free_ char *env = NULL;
	assert_int_equal(file_read_all(path, 4096, &env, NULL), 0);
	assert_string_equal(env, "PLEXUS_DELEGATED=1\n");
}

static void test_exec_run_entry_point_is_not_a_delegate(void **state)
{
	(void)state;
	/* plexus-apid's `plexus --hotplug`: argv[1] given, and no marker, not even ours. */
	setenv("PLEXUS_DELEGATED", "1", 1);
	write_plugin("entry",
		     "cat >/dev/null; { echo \"arg=$1\"; env | grep '^PLEXUS_DELEGATED'; } "
		     ">\"$(dirname \"$0\")/entry.env\"; echo '{}'");
	struct cni_exec_req req = dir_req("entry", 10000);
	req.arg = "--hotplug";
	_cleanup_free_ char *out = NULL;
	struct cni_err err = { 0 };
	int r = cni_exec_run(&req, &out, NULL, &err);
	unsetenv("PLEXUS_DELEGATED");
	assert_int_equal(r, 0);
	_cleanup_free_ char *path = xasprintf("%s/entry.env", plugin_dir);
	_cleanup_free_ char *env = NULL;
	assert_int_equal(file_read_all(path, 4096, &env, NULL), 0);
	assert_string_equal(env, "arg=--hotplug\n");
}

static void test_exec_delegated_reads_the_marker(void **state)
{
	(void)state;
	unsetenv("PLEXUS_DELEGATED");
	assert_false(cni_exec_delegated());
	setenv("PLEXUS_DELEGATED", "", 1);
	assert_false(cni_exec_delegated());
	setenv("PLEXUS_DELEGATED", "1", 1);
	assert_true(cni_exec_delegated());
	unsetenv("PLEXUS_DELEGATED");
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
		cmocka_unit_test(test_exec_run_closed_stdout_then_hang_times_out),
		cmocka_unit_test(test_exec_run_grandchild_holding_stdout_times_out),
		cmocka_unit_test(test_exec_run_sigterm_ignored_times_out),
		cmocka_unit_test(test_exec_run_failure_kills_its_group),
		cmocka_unit_test(test_exec_run_sets_the_delegated_marker),
		cmocka_unit_test(test_exec_run_entry_point_is_not_a_delegate),
		cmocka_unit_test(test_exec_delegated_reads_the_marker),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
