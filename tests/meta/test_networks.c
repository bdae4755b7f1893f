// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the k8s.v1.cni.cncf.io/networks annotation parser (NPWG network selection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/util/cleanup.h"
#include "lib/kube/nad.h"
#include "meta/networks.h"

static void expect(const struct meta_selection *s, const char *ns, const char *name,
		   const char *ifname)
{
	assert_string_equal(s->name, name);
	if (ns)
		assert_string_equal(s->namespace, ns);
	else
		assert_null(s->namespace);
	if (ifname)
		assert_string_equal(s->ifname, ifname);
	else
		assert_null(s->ifname);
}

static void test_networks_short_form(void **state)
{
	(void)state;
	struct meta_selection *s = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	assert_int_equal(
		meta_networks_parse(" net-a, other/net-b ,net-c@eth9,ns2/d@net7", &s, &n, &err), 0);
	assert_int_equal(n, 4);
	expect(&s[0], NULL, "net-a", NULL);
	expect(&s[1], "other", "net-b", NULL);
	expect(&s[2], NULL, "net-c", "eth9");
	expect(&s[3], "ns2", "d", "net7");
	meta_selections_free(s, n);
}

static void test_networks_empty(void **state)
{
	(void)state;
	struct meta_selection *s = (void *)1;
	size_t n = 9;
	struct cni_err err = { 0 };
	assert_int_equal(meta_networks_parse("  ", &s, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(s);
	assert_int_equal(meta_networks_parse(NULL, &s, &n, &err), 0);
	assert_int_equal(meta_networks_parse("[]", &s, &n, &err), 0);
	assert_int_equal(n, 0);
	meta_selections_free(s, n);
}

static void test_networks_json_form(void **state)
{
	(void)state;
	struct meta_selection *s = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	const char *v =
		"[{\"name\":\"a\",\"namespace\":\"ns\",\"interface\":\"data0\","
		"\"ips\":[\"10.1.1.5/24\",\"fd00::5\"],\"mac\":\"02:00:00:00:00:05\","
		"\"cni-args\":{\"k\":\"v\"},\"default-route\":[\"10.1.1.1\"],"
		"\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}],"
		"\"bandwidth\":{\"ingressRate\":1000,\"ingressBurst\":100},"
		"\"infiniband-guid\":\"c2:11:22:33:44:55:66:77\",\"deviceID\":\"0000:03:02.1\"},"
		"{\"name\":\"b\",\"namespace\":\"\"}]";
	assert_int_equal(meta_networks_parse(v, &s, &n, &err), 0);
	assert_int_equal(n, 2);
	expect(&s[0], "ns", "a", "data0");
	assert_string_equal(s[0].mac, "02:00:00:00:00:05");
	assert_int_equal(cJSON_GetArraySize(s[0].ips), 2);
	assert_true(s[0].has_default_route);
	assert_string_equal(cJSON_GetArrayItem(s[0].default_route, 0)->valuestring, "10.1.1.1");
	assert_non_null(s[0].cni_args);
	assert_non_null(s[0].port_mappings);
	assert_non_null(s[0].bandwidth);
	assert_string_equal(s[0].device_id, "0000:03:02.1");
	expect(&s[1], NULL, "b", NULL); /* empty namespace = the pod's */
	assert_false(s[1].has_default_route);
	meta_selections_free(s, n);
}

static void test_networks_errors_name_element_and_key(void **state)
{
	(void)state;
	const struct {
		const char *value;
		const char *msg;
	} cases[] = {
		{ "Net_A", "[0].name" },
		{ "ok,bad..name", "[1].name" },
		{ "NS/a", "[0].namespace" },
		{ "a@this-name-is-too-long", "[0].interface" },
		{ "a@", "[0].interface" },
		{ "[{\"namespace\":\"x\"}]", "[0].name: missing" },
		{ "[{\"name\":5}]", "[0].name" },
		{ "[{\"name\":\"a\",\"mac\":\"zz\"}]", "[0].mac" },
		{ "[{\"name\":\"a\",\"ips\":[]}]", "[0].ips" },
		{ "[{\"name\":\"a\",\"ips\":[\"10.0.0.300\"]}]", "[0].ips: invalid IP" },
		{ "[{\"name\":\"a\",\"ips\":[\"10.0.0.3\"],\"ipam-claim-reference\":\"c\"}]",
		  "ipam-claim-reference" },
		{ "[{\"name\":\"a\",\"interface\":\"a/b\"}]", "[0].interface" },
		{ "[{\"name\":\"a\",\"portMappings\":[{\"hostPort\":0,\"containerPort\":80}]}]",
		  "portMappings: hostPort" },
		{ "[{\"name\":\"a\",\"portMappings\":[{\"hostPort\":1,\"containerPort\":80,"
		  "\"protocol\":\"icmp\"}]}]",
		  "protocol" },
		{ "[{\"name\":\"a\",\"bandwidth\":{\"egressBurst\":5}}]", "burst needs its rate" },
		{ "[{\"name\":\"a\",\"bandwidth\":{\"egressRate\":0}}]", "egressRate" },
		{ "[{\"name\":\"a\",\"default-route\":[\"x\"]}]", "[0].default-route" },
		{ "[{\"name\":\"a\",\"default-route\":[]},{\"name\":\"b\",\"default-route\":[]}]",
		  "at most one" },
		{ "[{\"name\":\"a\",\"cni-args\":[1]}]", "[0].cni-args" },
		{ "[\"a\"]", "[0]: must be an object" },
		{ "{\"name\":\"a\"}", "list of objects" },
		{ "[{\"name\":\"a\"}", "k8s.v1.cni.cncf.io/networks" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct meta_selection *s = NULL;
		size_t n = 0;
		struct cni_err err = { 0 };
		if (meta_networks_parse(cases[i].value, &s, &n, &err) >= 0)
			fail_msg("case %zu accepted: %s", i, cases[i].value);
		if (err.code != 7 || !strstr(err.msg, cases[i].msg) ||
		    !strstr(err.msg, META_NETWORKS_ANNOTATION))
			fail_msg("case %zu: code %d '%s', want '%s'", i, err.code, err.msg,
				 cases[i].msg);
	}
}

/* One name rule for the annotation and the API client: object names are DNS-1123 subdomains
 * (dots allowed), namespaces DNS-1123 labels, with kube_nad_check_name's text. */
static void test_networks_name_rule(void **state)
{
	(void)state;
	struct meta_selection *sel = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	assert_int_equal(meta_networks_parse("ns/a.b-c.d, net-1", &sel, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sel[0].name, "a.b-c.d");
	meta_selections_free(sel, n);
	struct cni_err api = { 0 };
	assert_int_equal(kube_nad_check_name("ns", "a.b-c.d", &api), 0);
	const char *bad[] = { "a..b", ".a", "-a", "a-", "A", "a_b" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&err, 0, sizeof(err));
		memset(&api, 0, sizeof(api));
		assert_true(meta_networks_parse(bad[i], &sel, &n, &err) < 0);
		assert_true(kube_nad_check_name("ns", bad[i], &api) < 0);
		assert_int_equal(api.code, 7);
		if (!strstr(err.msg, api.msg) || !strstr(err.msg, "[0].name"))
			fail_msg("'%s': annotation '%s' vs API '%s'", bad[i], err.msg, api.msg);
	}
	char long_label[70];
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	_cleanup_free_ char *sel_text = xasprintf("%s/net", long_label);
	memset(&err, 0, sizeof(err));
	memset(&api, 0, sizeof(api));
	assert_true(meta_networks_parse(sel_text, &sel, &n, &err) < 0);
	assert_true(kube_nad_check_name(long_label, "net", &api) < 0);
	if (!strstr(err.msg, api.msg) || !strstr(err.msg, "[0].namespace"))
		fail_msg("namespace: annotation '%s' vs API '%s'", err.msg, api.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks_short_form),
		cmocka_unit_test(test_networks_empty),
		cmocka_unit_test(test_networks_json_form),
		cmocka_unit_test(test_networks_errors_name_element_and_key),
		cmocka_unit_test(test_networks_name_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
