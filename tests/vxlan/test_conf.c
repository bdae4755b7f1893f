// SPDX-License-Identifier: Apache-2.0
/* Unit tests for vxlan netconf parsing: defaults, every key, MAC priority, errors, names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/cni/args.h"
#include "lib/cni/skel.h"
#include "tests/lib/conf_ctx.h"
#include "vxlan/vxlan.h"

static int parse(const char *conf, const char *args, struct vxlan_conf *ret, struct cni_err *err)
{
	int r = conf_ctx_load(&vxlan_plugin, conf, args, err);
	return r < 0 ? r : vxlan_conf_parse(&conf_ctx, ret, err);
}

#define HEAD "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"vxlan\","

static void test_conf_defaults(void **state)
{
	(void)state;
	struct vxlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD "\"vni\":42}", NULL, &c, &err), 0);
	assert_int_equal(c.vni, 42);
	assert_int_equal(c.port, 4789);
	assert_null(c.master);
	assert_int_equal(c.has, 0);
	assert_int_equal(c.family, 0);
	assert_true(c.learning);
	assert_false(c.udp_csum);
	assert_false(c.delete_on_last_del);
	assert_int_equal(c.n_remotes, 0);
	assert_string_equal(c.bridge, "pxb42");
	assert_string_equal(c.vxdev, "vx42");
	vxlan_conf_done(&c);
}

static void test_conf_every_key(void **state)
{
	(void)state;
	struct vxlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD
			       "\"vni\":16777215,\"port\":8472,\"master\":\"eth1\","
			       "\"local\":\"10.0.0.1\",\"remotes\":[\"10.0.0.2\",\"10.0.0.3\","
			       "\"10.0.0.2\"],\"learning\":false,\"udpcsum\":true,\"ttl\":16,"
			       "\"mtu\":1400,\"bridge\":\"br-tenant\",\"deleteOnLastDel\":true,"
			       "\"mac\":\"02:00:00:00:00:01\",\"unknownKey\":{\"x\":1}}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.vni, 16777215);
	assert_int_equal(c.port, 8472);
	assert_string_equal(c.master, "eth1");
	assert_int_equal(c.has, VXLAN_HAS_LOCAL | VXLAN_HAS_TTL | VXLAN_HAS_MTU | VXLAN_HAS_MAC);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.n_remotes, 2); /* duplicates collapse */
	assert_int_equal(c.remotes[1].raw[3], 3);
	assert_false(c.learning);
	assert_true(c.udp_csum);
	assert_true(c.delete_on_last_del);
	assert_int_equal(c.ttl, 16);
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.mac[5], 1);
	assert_string_equal(c.bridge, "br-tenant");
	assert_string_equal(c.vxdev, "vx16777215");
	vxlan_conf_done(&c);
}

static void test_conf_group_and_ipv6(void **state)
{
	(void)state;
	struct vxlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD "\"vni\":7,\"master\":\"eth0\",\"group\":\"239.1.1.1\"}", NULL,
			       &c, &err),
			 0);
	assert_int_equal(c.has, VXLAN_HAS_GROUP);
	assert_int_equal(c.family, AF_INET);
	vxlan_conf_done(&c);
	assert_int_equal(
		parse(HEAD "\"vni\":7,\"remotes\":[\"fd00::2\"],\"mtu\":0}", NULL, &c, &err), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.has, 0); /* mtu 0 = default */
	vxlan_conf_done(&c);
	assert_int_equal(parse(HEAD "\"vni\":7,\"master\":\"eth0\",\"group\":\"ff05::1\","
				    "\"local\":\"fd00::1\"}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.family, AF_INET6);
	vxlan_conf_done(&c);
}

static void test_conf_mac_priority(void **state)
{
	(void)state;
	struct vxlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD "\"vni\":1,\"mac\":\"02:00:00:00:00:01\"}",
			       "IgnoreUnknown=1;MAC=02:00:00:00:00:02", &c, &err),
			 0);
	assert_int_equal(c.mac[5], 2);
	vxlan_conf_done(&c);
	assert_int_equal(parse(HEAD "\"vni\":1,\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:03\"}}",
			       "MAC=02:00:00:00:00:02", &c, &err),
			 0);
	assert_int_equal(c.mac[5], 3);
	assert_int_equal(c.has, VXLAN_HAS_MAC);
	vxlan_conf_done(&c);
}

static void test_conf_host_veth_name(void **state)
{
	(void)state;
	char a[IFNAMSIZ], b[IFNAMSIZ], d[IFNAMSIZ];
	vxlan_host_veth_name("container-1", "net1", 0, a);
	vxlan_host_veth_name("container-1", "net1", 0, b);
	vxlan_host_veth_name("container-1", "net2", 0, d);
	assert_string_equal(a, b);
	assert_string_not_equal(a, d);
	assert_int_equal(strlen(a), 11);
	assert_memory_equal(a, "vxh", 3);
	/* The split between id and ifname matters: "ab"+"c" is not "a"+"bc". */
	vxlan_host_veth_name("ab", "c", 0, a);
	vxlan_host_veth_name("a", "bc", 0, b);
	assert_string_not_equal(a, b);
	/* Each salt gives another candidate of the same shape. */
	for (unsigned salt = 1; salt < 8; salt++) {
		vxlan_host_veth_name("container-1", "net1", salt, b);
		vxlan_host_veth_name("container-1", "net1", salt - 1, d);
		assert_string_not_equal(b, d);
		assert_int_equal(strlen(b), 11);
		assert_memory_equal(b, "vxh", 3);
	}
}

struct bad_case {
	const char *conf;
	const char *args;
	int code;
	const char *field;
};

/* Peers from the API: learning defaults off (the agent programs every remote MAC), and can
 * still be asked for; an empty remotes list is no conflict. */
static void test_conf_peers_kubernetes(void **state)
{
	(void)state;
	struct vxlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(
		parse(HEAD "\"vni\":9,\"peers\":\"kubernetes\",\"remotes\":[]}", NULL, &c, &err),
		0);
	assert_true(c.peers_kube);
	assert_false(c.learning);
	vxlan_conf_done(&c);
	assert_int_equal(
		parse(HEAD "\"vni\":9,\"peers\":\"kubernetes\",\"learning\":true}", NULL, &c, &err),
		0);
	assert_true(c.peers_kube && c.learning);
	vxlan_conf_done(&c);
	assert_int_equal(parse(HEAD "\"vni\":9}", NULL, &c, &err), 0);
	assert_false(c.peers_kube);
	vxlan_conf_done(&c);
}

static void test_conf_errors_name_the_field(void **state)
{
	(void)state;
	const struct bad_case cases[] = {
		{ HEAD "\"port\":4789}", NULL, 7, "vni: required" },
		{ HEAD "\"vni\":0}", NULL, 7, "vni" },
		{ HEAD "\"vni\":16777216}", NULL, 7, "vni" },
		{ HEAD "\"vni\":\"5\"}", NULL, 7, "vni" },
		{ HEAD "\"vni\":1.5}", NULL, 7, "vni" },
		{ HEAD "\"vni\":1,\"port\":0}", NULL, 7, "port" },
		{ HEAD "\"vni\":1,\"port\":65536}", NULL, 7, "port" },
		{ HEAD "\"vni\":1,\"master\":7}", NULL, 7, "master" },
		{ HEAD "\"vni\":1,\"master\":\"a-very-long-name-x\"}", NULL, 7, "master" },
		{ HEAD "\"vni\":1,\"local\":\"10.0.0.300\"}", NULL, 7, "local" },
		{ HEAD "\"vni\":1,\"local\":\"0.0.0.0\"}", NULL, 7, "local" },
		{ HEAD "\"vni\":1,\"local\":\"239.0.0.1\"}", NULL, 7, "local" },
		{ HEAD "\"vni\":1,\"remotes\":\"10.0.0.2\"}", NULL, 7, "remotes" },
		{ HEAD "\"vni\":1,\"remotes\":[\"10.0.0.2\",\"x\"]}", NULL, 7, "remotes[1]" },
		{ HEAD "\"vni\":1,\"remotes\":[5]}", NULL, 7, "remotes[0]" },
		{ HEAD "\"vni\":1,\"remotes\":[\"239.1.1.1\"]}", NULL, 7, "remotes[0]" },
		{ HEAD "\"vni\":1,\"remotes\":[\"10.0.0.2\",\"fd00::2\"]}", NULL, 7, "remotes[1]" },
		{ HEAD "\"vni\":1,\"local\":\"fd00::1\",\"remotes\":[\"10.0.0.2\"]}", NULL, 7,
		  "remotes[0]" },
		{ HEAD "\"vni\":1,\"master\":\"e\",\"group\":\"10.0.0.1\"}", NULL, 7, "group" },
		{ HEAD "\"vni\":1,\"group\":\"239.1.1.1\"}", NULL, 7, "group" },
		{ HEAD "\"vni\":1,\"master\":\"e\",\"group\":\"239.1.1.1\",\"remotes\":[]}", NULL,
		  7, "group" },
		{ HEAD "\"vni\":1,\"learning\":\"yes\"}", NULL, 7, "learning" },
		{ HEAD "\"vni\":1,\"udpcsum\":1}", NULL, 7, "udpcsum" },
		{ HEAD "\"vni\":1,\"deleteOnLastDel\":\"no\"}", NULL, 7, "deleteOnLastDel" },
		{ HEAD "\"vni\":1,\"ttl\":256}", NULL, 7, "ttl" },
		{ HEAD "\"vni\":1,\"mtu\":-1}", NULL, 7, "mtu" },
		{ HEAD "\"vni\":1,\"mtu\":67}", NULL, 7, "mtu" },
		{ HEAD "\"vni\":1,\"mtu\":70000}", NULL, 7, "mtu" },
		{ HEAD "\"vni\":1,\"bridge\":\"has space\"}", NULL, 7, "bridge" },
		{ HEAD "\"vni\":1,\"bridge\":\"sixteen-chars-xx\"}", NULL, 7, "bridge" },
		{ HEAD "\"vni\":1,\"bridge\":\"vx1\"}", NULL, 7, "bridge" },
		{ HEAD "\"vni\":1,\"mac\":\"zz:00:00:00:00:01\"}", NULL, 7, "mac:" },
		{ HEAD "\"vni\":1,\"mac\":\"01:00:5e:00:00:01\"}", NULL, 7, "multicast" },
		{ HEAD "\"vni\":1}", "MAC=nope", 4, "CNI_ARGS MAC" },
		{ HEAD "\"vni\":1,\"runtimeConfig\":{\"mac\":\"x\"}}", NULL, 7,
		  "runtimeConfig.mac" },
		{ "{\"cniVersion\":\"1.0.0\",\"vni\":1}", NULL, 7, "name" },
		{ HEAD "\"vni\":1,\"peers\":\"etcd\"}", NULL, 7, "peers: unknown value 'etcd'" },
		{ HEAD "\"vni\":1,\"peers\":5}", NULL, 7, "peers" },
		{ HEAD "\"vni\":1,\"peers\":\"kubernetes\",\"remotes\":[\"10.0.0.2\"]}", NULL, 7,
		  "peers: \"kubernetes\" is exclusive with 'remotes'" },
		{ HEAD
		  "\"vni\":1,\"peers\":\"kubernetes\",\"master\":\"e\",\"group\":\"239.1.1.1\"}",
		  NULL, 7, "peers: \"kubernetes\" is exclusive with 'group'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vxlan_conf c;
		struct cni_err err = { 0 };
		int r = parse(cases[i].conf, cases[i].args, &c, &err);
		if (r >= 0) {
			vxlan_conf_done(&c);
			fail_msg("case %zu accepted: %s", i, cases[i].conf);
		}
		if (err.code != cases[i].code || !strstr(err.msg, cases[i].field))
			fail_msg("case %zu: got code %d '%s', want code %d naming '%s'", i,
				 err.code, err.msg, cases[i].code, cases[i].field);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_every_key),
		cmocka_unit_test(test_conf_group_and_ipv6),
		cmocka_unit_test(test_conf_mac_priority),
		cmocka_unit_test(test_conf_host_veth_name),
		cmocka_unit_test(test_conf_peers_kubernetes),
		cmocka_unit_test(test_conf_errors_name_the_field),
	};
	conf_ctx.netns_fd = -1;
	return cmocka_run_group_tests(tests, NULL, conf_ctx_teardown);
}
