// SPDX-License-Identifier: Apache-2.0
/* Tests for delegates/: conflist parsing, per-plugin request building (CNI SPEC.md, section
 * 'Deriving execution configuration from plugin configuration'), exec chains with recording fake
 * plugins, and (as root) a built-in run in-process next to an exec'd one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "delegates/dlg.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

#define FIXTURES "tests/fixtures/bin"

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/plexus-test-dlg.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static struct dlg_list parse_ok(const char *text, const char *name, const char *version)
{
	struct dlg_list l;
	struct cni_err err = { 0 };
	if (dlg_list_parse(text, strlen(text), name, version, &l, &err) < 0)
		fail_msg("parse failed: %s", err.msg);
	return l;
}

static void test_dlg_builtin_table(void **state)
{
	(void)state;
	assert_string_equal(dlg_builtin("macvlan")->name, "macvlan");
	assert_string_equal(dlg_builtin("plexus-macvlan")->name, "macvlan");
	assert_string_equal(dlg_builtin("ipvlan")->name, "ipvlan");
	assert_string_equal(dlg_builtin("plexus-vxlan")->name, "vxlan");
	assert_null(dlg_builtin("bridge"));
	assert_null(dlg_builtin("host-local"));
	assert_string_equal(dlg_builtin("plexus-sriov")->name, "sriov");
	assert_null(dlg_builtin(NULL));
}

static void test_dlg_parse_single_config_is_wrapped(void **state)
{
	(void)state;
	struct dlg_list l =
		parse_ok("{\"cniVersion\":\"0.4.0\",\"name\":\"a\",\"type\":\"macvlan\","
			 "\"master\":\"eth0\"}",
			 NULL, NULL);
	assert_int_equal(l.n_plugins, 1);
	assert_string_equal(l.name, "a");
	assert_int_equal(l.version, CNI_V040);
	assert_string_equal(
		cJSON_GetStringValue(json_get(cJSON_GetArrayItem(l.plugins, 0), "master")), "eth0");
	dlg_list_done(&l);
}

/* A NAD's config may omit name (NPWG spec v1.3 §3.4.2) and cniVersion. */
static void test_dlg_parse_fills_name_and_version(void **state)
{
	(void)state;
	struct dlg_list l = parse_ok("{\"plugins\":[{\"type\":\"macvlan\"},{\"type\":\"tuning\"}]}",
				     "nad-name", "1.0.0");
	assert_string_equal(l.name, "nad-name");
	assert_int_equal(l.version, CNI_V100);
	assert_int_equal(l.n_plugins, 2);
	dlg_list_done(&l);
	l = parse_ok("{\"name\":\"\",\"cniVersion\":\"0.3.1\",\"type\":\"macvlan\"}", "nad",
		     "1.0.0");
	assert_string_equal(l.name, "nad");
	assert_int_equal(l.version, CNI_V031);
	dlg_list_done(&l);
}

static void test_dlg_parse_errors(void **state)
{
	(void)state;
	const struct {
		const char *text;
		int code;
		const char *msg;
	} cases[] = {
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"},{}]}", 7,
		  "plugins[1].type" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[]}", 7, "plugins" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":{}}", 7, "plugins" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 7, "plugins" },
		{ "{\"cniVersion\":\"1.0.0\",\"type\":\"a\"}", 7, "name" },
		{ "{\"name\":\"n\",\"type\":\"a\"}", 7, "cniVersion" },
		{ "{\"cniVersion\":\"7.0.0\",\"name\":\"n\",\"type\":\"a\"}", 1, "cniVersion" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"../sh\"}", 7,
		  "plugins[0].type" },
		{ "[1]", 7, "JSON object" },
		{ "{", 6, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dlg_list l;
		struct cni_err err = { 0 };
		if (dlg_list_parse(cases[i].text, strlen(cases[i].text), NULL, NULL, &l, &err) >= 0)
			fail_msg("case %zu accepted", i);
		if (err.code != cases[i].code || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: code %d '%s'", i, err.code, err.msg);
	}
}

/* CNI SPEC.md, section 'Deriving execution configuration from plugin configuration': version
 * and name from the list; runtimeConfig only for declared capabilities. */
static void test_dlg_plugin_conf_injects(void **state)
{
	(void)state;
	struct dlg_list l = parse_ok("{\"cniVersion\":\"0.4.0\",\"name\":\"net\",\"plugins\":["
				     "{\"type\":\"a\",\"name\":\"other\",\"cniVersion\":\"0.1.0\","
				     "\"capabilities\":{\"mac\":true,\"ips\":false},"
				     "\"runtimeConfig\":{\"stale\":1},\"x\":{\"kept\":true}},"
				     "{\"type\":\"b\"}]}",
				     NULL, NULL);
	_cleanup_json_ cJSON *caps = cJSON_Parse("{\"mac\":\"02:00:00:00:00:09\","
						 "\"ips\":[\"10.0.0.9/24\"],\"portMappings\":[]}");
	struct dlg_rt rt = { .ifname = "net1", .cap_args = caps };
	struct cni_result *prev = NULL;
	struct cni_err err = { 0 };
	const char *prev_json =
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.9/24\"}]}";
	assert_int_equal(cni_result_parse(prev_json, strlen(prev_json), CNI_V100, &prev, &err), 0);

	_cleanup_free_ char *text = NULL;
	assert_int_equal(dlg_plugin_conf(&l, 0, &rt, prev, &text, &err), 0);
	_cleanup_json_ cJSON *got = cJSON_Parse(text);
	_cleanup_json_ cJSON *want =
		cJSON_Parse("{\"type\":\"a\",\"name\":\"net\",\"cniVersion\":\"0.4.0\","
			    "\"capabilities\":{\"mac\":true,\"ips\":false},\"x\":{\"kept\":true},"
			    "\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:09\"},"
			    "\"prevResult\":{\"cniVersion\":\"0.4.0\","
			    "\"ips\":[{\"version\":\"4\",\"address\":\"10.0.0.9/24\"}]}}");
	if (!cJSON_Compare(got, want, true))
		fail_msg("got %s", text);

	/* No declared capability: no runtimeConfig at all; no prev: no prevResult. */
	_cleanup_free_ char *text2 = NULL;
	assert_int_equal(dlg_plugin_conf(&l, 1, &rt, NULL, &text2, &err), 0);
	_cleanup_json_ cJSON *got2 = cJSON_Parse(text2);
	assert_null(json_get(got2, "runtimeConfig"));
	assert_null(json_get(got2, "prevResult"));
	cni_result_free(prev);
	dlg_list_done(&l);
}

static char *read_file(const char *path)
{
	char *data = NULL;
	if (file_read_all(path, 1 << 20, &data, NULL) < 0)
		fail_msg("cannot read %s", path);
	return data;
}

/* CNI SPEC.md, section 'Adding an attachment': plugins run in order, each with the previous
 * result as prevResult. */
static void test_dlg_list_add_chains_results(void **state)
{
	(void)state;
	_cleanup_free_ char *rec = xasprintf("%s/rec", tmp);
	_cleanup_free_ char *log = xasprintf("%s/log", tmp);
	setenv("FAKE_RECORD", rec, 1);
	setenv("FAKE_LOG", log, 1);
	setenv("FAKE_MODE", "ok", 1);
	setenv("FAKE_RESULT",
	       "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"net1\"}],"
	       "\"ips\":[{\"address\":\"10.1.0.5/24\",\"interface\":0}]}",
	       1);
	setenv("FAKE_RESULT_fake_second", "{\"ips\":[{\"address\":\"10.1.0.6/24\"}]}",
	       1); /* no cniVersion: the request's, as in libcni */
	struct dlg_list l = parse_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":["
				     "{\"type\":\"fake-plugin\"},{\"type\":\"fake-second\"}]}",
				     NULL, NULL);
	struct dlg_rt rt = {
		.container_id = "c1", .netns = "/run/netns/x", .ifname = "net1", .path = FIXTURES
	};
	struct cni_result *res = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(dlg_list_add(&l, &rt, &res, &err), 0);
	assert_int_equal(res->n_ips, 1);
	char buf[IPNET_STR_LEN];
	format_ipnet(&res->ips[0].address, buf);
	assert_string_equal(buf, "10.1.0.6/24");
	cni_result_free(res);

	_cleanup_free_ char *order = read_file(log);
	assert_string_equal(order, "ADD fake-plugin\nADD fake-second\n");
	_cleanup_free_ char *second_path = xasprintf("%s.fake-second.stdin", rec);
	_cleanup_free_ char *second = read_file(second_path);
	_cleanup_json_ cJSON *conf = cJSON_Parse(second);
	const cJSON *prev = json_get(conf, "prevResult");
	assert_non_null(prev);
	assert_string_equal(cJSON_GetStringValue(json_get(
				    cJSON_GetArrayItem(json_get(prev, "ips"), 0), "address")),
			    "10.1.0.5/24");
	unsetenv("FAKE_RESULT_fake_second");
	dlg_list_done(&l);
}

/* DEL runs in reverse, keeps going past a failure and reports the first one. */
static void test_dlg_list_del_reverse_and_continues(void **state)
{
	(void)state;
	_cleanup_free_ char *log = xasprintf("%s/log-del", tmp);
	setenv("FAKE_LOG", log, 1);
	setenv("FAKE_RECORD", "/dev/null", 1);
	setenv("FAKE_MODE", "error", 1);
	setenv("FAKE_FAIL_ONLY", "fake-second", 1);
	setenv("FAKE_CODE", "11", 1);
	struct dlg_list l = parse_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":["
				     "{\"type\":\"fake-plugin\"},{\"type\":\"fake-second\"}]}",
				     NULL, NULL);
	struct dlg_rt rt = { .container_id = "c1", .ifname = "net1", .path = FIXTURES };
	struct cni_err err = { 0 };
	assert_true(dlg_list_del(&l, &rt, NULL, &err) < 0);
	assert_int_equal(err.code, 11);
	assert_non_null(strstr(err.msg, "fake-second DEL"));
	_cleanup_free_ char *order = read_file(log);
	assert_string_equal(order, "DEL fake-second\nDEL fake-plugin\n");
	unsetenv("FAKE_FAIL_ONLY");
	dlg_list_done(&l);
}

static void test_dlg_list_check_rules(void **state)
{
	(void)state;
	struct dlg_rt rt = { .container_id = "c1", .ifname = "net1", .path = FIXTURES };
	struct cni_err err = { 0 };
	struct dlg_list l =
		parse_ok("{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"x\"}", NULL, NULL);
	assert_true(dlg_list_check(&l, &rt, NULL, &err) < 0);
	assert_int_equal(err.code, 1);
	dlg_list_done(&l);
	l = parse_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"disableCheck\":true,"
		     "\"plugins\":[{\"type\":\"no-such-plugin\"}]}",
		     NULL, NULL);
	assert_int_equal(dlg_list_check(&l, &rt, NULL, &err), 0);
	dlg_list_done(&l);
}

static bool sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0;
}

/* A built-in (macvlan, in-process) chained with an exec'd reference plugin (tuning). */
static void test_dlg_builtin_in_process_with_exec_chain(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "!!! NOT ROOT: in-process delegate test SKIPPED !!!\n");
		skip();
	}
	int id = (int)getpid();
	char master[16], ns[32], nspath[64];
	snprintf(master, sizeof(master), "pxd%da", id);
	snprintf(ns, sizeof(ns), "plxdlg%d", id);
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", ns);
	assert_true(sh("ip link add %s type veth peer name pxd%db && ip link set %s up && "
		       "ip netns add %s",
		       master, id, master, ns));
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"chain\",\"plugins\":["
		 "{\"type\":\"plexus-macvlan\",\"master\":\"%s\",\"ipam\":{\"type\":\"static\","
		 "\"addresses\":[{\"address\":\"10.77.1.2/24\"}]}},"
		 "{\"type\":\"tuning\",\"mac\":\"02:00:00:77:01:02\"}]}",
		 master);
	struct dlg_list l = parse_ok(conf, NULL, NULL);
	struct dlg_rt rt = { .container_id = "c-dlg",
			     .netns = nspath,
			     .ifname = "net1",
			     .path = "/usr/lib/cni",
			     .timeout_ms = 10000 };
	struct cni_result *res = NULL;
	struct cni_err err = { 0 };
	int r = dlg_list_add(&l, &rt, &res, &err);
	bool link_ok = sh("ip -n %s link show net1 | grep -q 02:00:00:77:01:02", ns);
	bool addr_ok = sh("ip -n %s addr show net1 | grep -q 10.77.1.2/24", ns);
	struct cni_err del_err = { 0 };
	int rd = dlg_list_del(&l, &rt, res, &del_err);
	bool gone = !sh("ip -n %s link show net1 >/dev/null 2>&1", ns);
	(void)sh("ip link del %s; ip netns del %s", master, ns);
	dlg_list_done(&l);
	if (r < 0)
		fail_msg("ADD: %s", err.msg);
	assert_non_null(res);
	assert_int_equal(res->n_interfaces, 1);
	assert_string_equal(res->interfaces[0].mac, "02:00:00:77:01:02");
	cni_result_free(res);
	assert_true(link_ok);
	assert_true(addr_ok);
	if (rd < 0)
		fail_msg("DEL: %s", del_err.msg);
	assert_true(gone);
}

int main(void)
{
	unsetenv("FAKE_FAIL_ONLY");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlg_builtin_table),
		cmocka_unit_test(test_dlg_parse_single_config_is_wrapped),
		cmocka_unit_test(test_dlg_parse_fills_name_and_version),
		cmocka_unit_test(test_dlg_parse_errors),
		cmocka_unit_test(test_dlg_plugin_conf_injects),
		cmocka_unit_test(test_dlg_list_add_chains_results),
		cmocka_unit_test(test_dlg_list_del_reverse_and_continues),
		cmocka_unit_test(test_dlg_list_check_rules),
		cmocka_unit_test(test_dlg_builtin_in_process_with_exec_chain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
