// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sriov netconf parsing: defaults, every key, deviceID/MAC sources, errors. */
#include <linux/if_ether.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/args.h"
#include "lib/cni/skel.h"
#include "tests/lib/conf_ctx.h"
#include "sriov/sriov.h"

static int parse(const char *conf, const char *args, struct sriov_conf *ret, struct cni_err *err)
{
	int r = conf_ctx_load(&sriov_plugin, conf, args, err);
	return r < 0 ? r : sriov_conf_parse(&conf_ctx, ret, err);
}

#define HEAD "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"sriov\","

static void test_conf_defaults(void **state)
{
	(void)state;
	struct sriov_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD "\"deviceID\":\"0000:03:02.3\"}", NULL, &c, &err), 0);
	assert_string_equal(c.device_id, "0000:03:02.3");
	assert_int_equal(c.has, 0);
	assert_int_equal(c.vlan, 0);
	assert_int_equal(c.vlan_proto, ETH_P_8021Q);
	assert_null(c.device_info_file);
	/* The VLAN triple is always applied (reference behaviour); nothing else. */
	struct net_vf_state cur = { .has = NET_VF_VLAN | NET_VF_SPOOFCHK,
				    .vlan = 7,
				    .qos = 2,
				    .spoofchk = true },
			    want;
	unsigned mask;
	sriov_conf_wanted(&c, &cur, &want, &mask);
	assert_int_equal(mask, NET_VF_VLAN);
	assert_int_equal(want.vlan, 0);
	assert_int_equal(want.qos, 0);
	assert_true(want.spoofchk);
}

static void test_conf_every_key(void **state)
{
	(void)state;
	struct sriov_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD
			       "\"deviceID\":\"0000:AF:00.7\",\"vlan\":4094,\"vlanQoS\":7,"
			       "\"vlanProto\":\"802.1AD\",\"mac\":\"02:00:00:00:00:01\","
			       "\"spoofchk\":\"off\",\"trust\":\"on\",\"link_state\":\"disable\","
			       "\"min_tx_rate\":10,\"max_tx_rate\":100,\"MTU\":9000,"
			       "\"logLevel\":\"debug\",\"runtimeConfig\":{\"CNIDeviceInfoFile\":"
			       "\"/run/x.json\"}}",
			       NULL, &c, &err),
			 0);
	assert_string_equal(c.device_id, "0000:af:00.7");
	assert_int_equal(c.vlan, 4094);
	assert_int_equal(c.vlan_qos, 7);
	assert_int_equal(c.vlan_proto, ETH_P_8021AD);
	assert_int_equal(c.mac[5], 1);
	assert_false(c.spoofchk);
	assert_true(c.trust);
	assert_int_equal(c.link_state, NET_VF_LINK_DISABLE);
	assert_int_equal(c.min_tx_rate, 10);
	assert_int_equal(c.max_tx_rate, 100);
	assert_int_equal(c.mtu, 9000);
	assert_string_equal(c.device_info_file, "/run/x.json");
	assert_int_equal(c.has, SRIOV_HAS_VLAN | SRIOV_HAS_MAC | SRIOV_HAS_SPOOFCHK |
					SRIOV_HAS_TRUST | SRIOV_HAS_LINK_STATE |
					SRIOV_HAS_MIN_RATE | SRIOV_HAS_MAX_RATE | SRIOV_HAS_MTU);
	struct net_vf_state cur = { .has = 0x3f, .min_rate = 1, .max_rate = 2 }, want;
	unsigned mask;
	sriov_conf_wanted(&c, &cur, &want, &mask);
	assert_int_equal(mask, 0x3f);
	assert_int_equal(want.proto, ETH_P_8021AD);
	assert_int_equal(want.max_rate, 100);
	/* lower-case "mtu" works too; max_tx_rate 0 means "no limit", any min goes. */
	assert_int_equal(parse(HEAD "\"deviceID\":\"0000:03:02.3\",\"mtu\":1400,"
				    "\"min_tx_rate\":50,\"max_tx_rate\":0}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.mtu, 1400);
	/* only min given: max keeps the VF's current value */
	assert_int_equal(
		parse(HEAD "\"deviceID\":\"0000:03:02.3\",\"min_tx_rate\":5}", NULL, &c, &err), 0);
	sriov_conf_wanted(&c, &cur, &want, &mask);
	assert_int_equal(want.min_rate, 5);
	assert_int_equal(want.max_rate, 2);
}

static void test_conf_device_id_sources(void **state)
{
	(void)state;
	struct sriov_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(HEAD "\"pciBusID\":\"0000:03:02.4\"}", NULL, &c, &err), 0);
	assert_string_equal(c.device_id, "0000:03:02.4");
	assert_int_equal(parse(HEAD "\"deviceID\":\"0000:03:02.3\",\"pciBusID\":\"0000:03:02.4\"}",
			       NULL, &c, &err),
			 0);
	assert_string_equal(c.device_id, "0000:03:02.3");
	assert_int_equal(parse(HEAD "\"deviceID\":\"0000:03:02.3\",\"runtimeConfig\":"
				    "{\"deviceID\":\"0000:03:02.5\"}}",
			       NULL, &c, &err),
			 0);
	assert_string_equal(c.device_id, "0000:03:02.5");
}

static void test_conf_mac_priority(void **state)
{
	(void)state;
	struct sriov_conf c;
	struct cni_err err = { 0 };
	const char *conf = HEAD "\"deviceID\":\"0000:03:02.3\",\"mac\":\"02:00:00:00:00:01\"";
	char buf[512];
	snprintf(buf, sizeof(buf), "%s}", conf);
	assert_int_equal(parse(buf, "MAC=02:00:00:00:00:02", &c, &err), 0);
	assert_int_equal(c.mac[5], 2);
	snprintf(buf, sizeof(buf), "%s,\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:03\"}}", conf);
	assert_int_equal(parse(buf, "MAC=02:00:00:00:00:02", &c, &err), 0);
	assert_int_equal(c.mac[5], 3);
}

static void test_conf_errors_name_the_field(void **state)
{
	(void)state;
	static const struct {
		const char *conf, *args;
		int code;
		const char *field;
	} cases[] = {
		{ HEAD "\"vlan\":1}", NULL, 7, "deviceID" },
		{ HEAD "\"deviceID\":\"\"}", NULL, 7, "deviceID" },
		{ HEAD "\"deviceID\":\"03:02.3\"}", NULL, 7, "deviceID" },
		{ HEAD "\"deviceID\":\"0000:03:02.8\"}", NULL, 7, "deviceID" },
		{ HEAD "\"deviceID\":\"0000:03:0g.1\"}", NULL, 7, "deviceID" },
		{ HEAD "\"deviceID\":3}", NULL, 7, "deviceID" },
		{ HEAD "\"pciBusID\":\"x\"}", NULL, 7, "pciBusID" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"runtimeConfig\":{\"deviceID\":\"bad\"}}",
		  NULL, 7, "runtimeConfig.deviceID" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlan\":4095}", NULL, 7, "vlan" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlan\":-1}", NULL, 7, "vlan" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlan\":\"5\"}", NULL, 7, "vlan" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlanQoS\":1}", NULL, 7, "vlanQoS" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlan\":2,\"vlanQoS\":8}", NULL, 7,
		  "vlanQoS" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlan\":2,\"vlanProto\":\"802.1x\"}", NULL,
		  7, "vlanProto" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"vlanProto\":\"802.1ad\"}", NULL, 7,
		  "vlanProto" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"mac\":\"zz\"}", NULL, 7, "mac" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"mac\":\"01:00:00:00:00:01\"}", NULL, 7,
		  "mac" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\"}", "MAC=nope", 4, "CNI_ARGS MAC" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"runtimeConfig\":{\"mac\":\"x\"}}", NULL, 7,
		  "runtimeConfig.mac" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"spoofchk\":\"yes\"}", NULL, 7, "spoofchk" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"spoofchk\":true}", NULL, 7, "spoofchk" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"trust\":\"ON\"}", NULL, 7, "trust" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"link_state\":\"up\"}", NULL, 7,
		  "link_state" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"min_tx_rate\":200,\"max_tx_rate\":100}",
		  NULL, 7, "min_tx_rate" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"max_tx_rate\":-3}", NULL, 7,
		  "max_tx_rate" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"MTU\":\"x\"}", NULL, 7, "MTU" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"mtu\":10}", NULL, 7, "mtu" },
		{ HEAD "\"deviceID\":\"0000:03:02.3\",\"runtimeConfig\":{\"CNIDeviceInfoFile\":1}}",
		  NULL, 7, "runtimeConfig.CNIDeviceInfoFile" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sriov_conf c;
		struct cni_err err = { 0 };
		int r = parse(cases[i].conf, cases[i].args, &c, &err);
		if (r >= 0)
			fail_msg("case %zu accepted: %s", i, cases[i].conf);
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
		cmocka_unit_test(test_conf_device_id_sources),
		cmocka_unit_test(test_conf_mac_priority),
		cmocka_unit_test(test_conf_errors_name_the_field),
	};
	conf_ctx.netns_fd = -1;
	return cmocka_run_group_tests(tests, NULL, conf_ctx_teardown);
}
