// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the meta-plugin's configuration (Multus keys and defaults) and network-status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "meta/conf.h"
#include "meta/meta.h"

static void test_meta_conf_defaults(void **state)
{
	(void)state;
	_cleanup_json_ cJSON *j = cJSON_Parse("{\"clusterNetwork\":\"flannel\",\"unknown\":1}");
	struct meta_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(meta_conf_parse(j, &c, &err), 0);
	assert_string_equal(c.cluster_network, "flannel");
	assert_string_equal(c.conf_dir, "/etc/cni/multus/net.d");
	assert_string_equal(c.cni_dir, "/var/lib/cni/multus");
	assert_string_equal(c.multus_namespace, "kube-system");
	assert_string_equal(c.pod_resources_socket, "/var/lib/kubelet/pod-resources/kubelet.sock");
	assert_null(c.kubeconfig);
	assert_false(c.namespace_isolation);
	assert_int_equal(c.n_global_namespaces, 1);
	assert_string_equal(c.global_namespaces[0], "default");
	assert_int_equal(c.n_system_namespaces, 1);
	assert_string_equal(c.system_namespaces[0], "kube-system");
	assert_int_equal(c.api_timeout_ms, 10000);
	assert_null(c.in_process_types);
	assert_true(c.in_process_ipam);
	assert_null(c.api_relay);
	assert_int_equal(c.max_parallel, 4);
	meta_conf_done(&c);
}

static void test_meta_conf_every_key(void **state)
{
	(void)state;
	_cleanup_json_ cJSON *j = cJSON_Parse(
		"{\"clusterNetwork\":\"/etc/cni/net.d\",\"kubeconfig\":\"/k\",\"confDir\":\"/c\","
		"\"cniDir\":\"/d\",\"binDir\":\"/b\",\"namespaceIsolation\":true,"
		"\"globalNamespaces\":\"a, b,c\",\"systemNamespaces\":[\"x\",\"y\"],"
		"\"multusNamespace\":\"m\",\"readinessindicatorfile\":\"/r\","
		"\"retryDeleteOnError\":true,\"defaultNetworks\":[\"n1\"],"
		"\"inProcessTypes\":[],\"apiTimeoutSeconds\":3,\"apiConnectTimeoutSeconds\":1,"
		"\"failOnStatusPatchError\":true,\"inProcessIPAM\":false,"
		"\"apiRelay\":\"/run/plexus/api.sock\",\"maxParallelAttachments\":1}");
	struct meta_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(meta_conf_parse(j, &c, &err), 0);
	assert_int_equal(c.n_global_namespaces, 3);
	assert_string_equal(c.global_namespaces[2], "c");
	assert_true(meta_ns_in(c.system_namespaces, c.n_system_namespaces, "y"));
	assert_false(meta_ns_in(c.system_namespaces, c.n_system_namespaces, "z"));
	assert_true(c.namespace_isolation && c.retry_delete_on_error && c.fail_on_status_error);
	assert_int_equal(c.api_timeout_ms, 3000);
	assert_int_equal(c.api_connect_timeout_ms, 1000);
	assert_int_equal(cJSON_GetArraySize(c.in_process_types), 0);
	assert_false(c.in_process_ipam);
	assert_string_equal(c.api_relay, "/run/plexus/api.sock");
	assert_int_equal(c.max_parallel, 1);
	meta_conf_done(&c);
}

static void test_meta_conf_errors_name_the_key(void **state)
{
	(void)state;
	const char *cases[][2] = {
		{ "{}", "clusterNetwork" },
		{ "{\"clusterNetwork\":5}", "clusterNetwork" },
		{ "{\"clusterNetwork\":\"x\",\"namespaceIsolation\":\"yes\"}",
		  "namespaceIsolation" },
		{ "{\"clusterNetwork\":\"x\",\"defaultNetworks\":[1]}", "defaultNetworks" },
		{ "{\"clusterNetwork\":\"x\",\"globalNamespaces\":7}", "globalNamespaces" },
		{ "{\"delegates\":[]}", "delegates" },
		{ "{\"clusterNetwork\":\"x\",\"apiTimeoutSeconds\":0}", "apiTimeoutSeconds" },
		{ "{\"clusterNetwork\":\"x\",\"inProcessTypes\":[true]}", "inProcessTypes" },
		{ "{\"clusterNetwork\":\"x\",\"inProcessIPAM\":1}", "inProcessIPAM" },
		{ "{\"clusterNetwork\":\"x\",\"apiRelay\":[]}", "apiRelay" },
		{ "{\"clusterNetwork\":\"x\",\"maxParallelAttachments\":0}",
		  "maxParallelAttachments" },
		{ "{\"clusterNetwork\":\"x\",\"maxParallelAttachments\":65}",
		  "maxParallelAttachments" },
		{ "{\"clusterNetwork\":\"x\",\"maxParallelAttachments\":\"2\"}",
		  "maxParallelAttachments" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_json_ cJSON *j = cJSON_Parse(cases[i][0]);
		struct meta_conf c;
		struct cni_err err = { 0 };
		if (meta_conf_parse(j, &c, &err) >= 0)
			fail_msg("case %zu accepted", i);
		if (err.code != 7 || !strstr(err.msg, cases[i][1]))
			fail_msg("case %zu: code %d '%s'", i, err.code, err.msg);
	}
}

/* Configurations shaped like the examples in Multus's configuration reference: every key
 * Multus documents is accepted (unknown ones such as logOptions ignored). */
static void test_meta_conf_accepts_multus_examples(void **state)
{
	(void)state;
	const char *examples[] = {
		"{\"cniVersion\":\"0.3.1\",\"name\":\"node-cni-network\",\"type\":\"multus\","
		"\"kubeconfig\":\"/etc/kubernetes/node-kubeconfig.yaml\","
		"\"confDir\":\"/etc/cni/multus/net.d\",\"cniDir\":\"/var/lib/cni/multus\","
		"\"binDir\":\"/opt/cni/bin\",\"logFile\":\"/var/log/multus.log\","
		"\"logLevel\":\"debug\",\"logOptions\":{\"maxAge\":5,\"maxSize\":100,"
		"\"maxBackups\":5,\"compress\":true},\"capabilities\":{\"portMappings\":true},"
		"\"namespaceIsolation\":false,\"clusterNetwork\":\"/etc/cni/net.d/"
		"99-flannel.conf\","
		"\"defaultNetworks\":[\"sidecarCRD\",\"exampleNetwork\"],"
		"\"systemNamespaces\":[\"kube-system\",\"admin\"],\"multusNamespace\":\"kube-"
		"system\","
		"\"allowTryDeleteOnErr\":false}",
		"{\"name\":\"node-cni-network\",\"type\":\"multus\",\"readinessindicatorfile\":"
		"\"\","
		"\"Note1\":\"a comment\",\"clusterNetwork\":\"defaultCRD\","
		"\"defaultNetworks\":[\"sidecarCRD\",\"flannel\"],"
		"\"delegates\":[{\"type\":\"weave-net\",\"hairpinMode\":true},{\"type\":"
		"\"macvlan\"}]}",
		"{\"name\":\"multus-cni-network\",\"type\":\"multus\",\"logToStderr\":true,"
		"\"globalNamespaces\":\"default,tenant-a\",\"namespaceIsolation\":true,"
		"\"retryDeleteOnError\":true,\"delegates\":[{\"cniVersion\":\"0.3.1\","
		"\"name\":\"default-cni-network\",\"plugins\":[{\"type\":\"flannel\","
		"\"delegate\":{\"isDefaultGateway\":true}}]}]}",
	};
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		_cleanup_json_ cJSON *j = cJSON_Parse(examples[i]);
		assert_non_null(j);
		struct meta_conf c;
		struct cni_err err = { 0 };
		if (meta_conf_parse(j, &c, &err) < 0)
			fail_msg("example %zu refused: %s", i, err.msg);
		meta_conf_done(&c);
	}
}

/* NPWG spec v1.3 §5 and the reference client: one entry per sandbox interface, default only on
 * the first of the default network, IPs without prefix, unindexed IPs on the last sandbox entry. */
static void test_meta_network_status_shape(void **state)
{
	(void)state;
	_cleanup_json_ cJSON *atts = cJSON_Parse(
		"[{\"name\":\"cluster\",\"ifname\":\"eth0\",\"default\":true,\"result\":{"
		"\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"cni0\"},{\"name\":\"veth1\"},"
		"{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\",\"sandbox\":\"/run/netns/p\"}],"
		"\"ips\":[{\"address\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\",\"interface\":2}],"
		"\"dns\":{\"nameservers\":[\"10.0.0.10\"]}}},"
		"{\"name\":\"ns/net\",\"ifname\":\"net1\",\"default\":false,"
		"\"defaultRoute\":[\"10.2.0.1\"],\"result\":{\"cniVersion\":\"1.1.0\","
		"\"interfaces\":[{\"name\":\"net1\",\"mtu\":1450,\"sandbox\":\"/run/netns/p\"}],"
		"\"ips\":[{\"address\":\"10.2.0.5/24\"},{\"address\":\"fd00::5/"
		"64\",\"interface\":0}]}},"
		"{\"name\":\"ns/l2\",\"ifname\":\"net2\",\"default\":false}]");
	_cleanup_json_ cJSON *got = meta_network_status(atts);
	_cleanup_json_ cJSON *want = cJSON_Parse(
		"[{\"name\":\"cluster\",\"interface\":\"eth0\",\"ips\":[\"10.1.0.5\"],"
		"\"mac\":\"02:00:00:00:00:01\",\"default\":true,\"dns\":{\"nameservers\":[\"10.0.0."
		"10\"]}},"
		"{\"name\":\"ns/net\",\"interface\":\"net1\",\"ips\":[\"fd00::5\",\"10.2.0.5\"],"
		"\"mtu\":1450,\"default\":false,\"default-route\":[\"10.2.0.1\"],"
		"\"gateway\":[\"10.2.0.1\"]},"
		"{\"name\":\"ns/l2\",\"interface\":\"net2\",\"ips\":[],\"default\":false}]");
	if (!cJSON_Compare(got, want, true)) {
		char *s = cJSON_PrintUnformatted(got);
		fail_msg("got %s", s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_conf_defaults),
		cmocka_unit_test(test_meta_conf_every_key),
		cmocka_unit_test(test_meta_conf_errors_name_the_key),
		cmocka_unit_test(test_meta_conf_accepts_multus_examples),
		cmocka_unit_test(test_meta_network_status_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
