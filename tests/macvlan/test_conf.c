// SPDX-License-Identifier: Apache-2.0
/* Unit tests for macvlan netconf parsing: defaults, every key, MAC priority, errors. */
#include <linux/if_link.h>
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
#include "macvlan/macvlan.h"

/* Parse conf (+ CNI_ARGS) as an ADD would; returns macvlan_conf_parse's value. */
static int parse(const char *conf, const char *args, struct macvlan_conf *ret, struct cni_err *err)
{
	int r = conf_ctx_load(&macvlan_plugin, conf, args, err);
	return r < 0 ? r : macvlan_conf_parse(&conf_ctx, ret, err);
}

static void test_conf_defaults(void **state)
{
	(void)state;
	struct macvlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"macvlan\"}",
			       NULL, &c, &err),
			 0);
	assert_null(c.master);
	assert_int_equal(c.mode, MACVLAN_MODE_BRIDGE);
	assert_int_equal(c.has, 0);
	assert_false(c.link_in_container);
	macvlan_conf_done(&c);
}

static void test_conf_every_key(void **state)
{
	(void)state;
	struct macvlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"macvlan\","
			       "\"master\":\"eth1\",\"mode\":\"vepa\",\"mtu\":1400,"
			       "\"mac\":\"02:00:00:00:00:01\",\"linkInContainer\":true,"
			       "\"bcqueuelen\":100,\"unknownKey\":{\"x\":1}}",
			       NULL, &c, &err),
			 0);
	assert_string_equal(c.master, "eth1");
	assert_int_equal(c.mode, MACVLAN_MODE_VEPA);
	assert_int_equal(c.has, MACVLAN_HAS_MTU | MACVLAN_HAS_MAC | MACVLAN_HAS_BCQUEUELEN);
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.bcqueuelen, 100);
	assert_int_equal(c.mac[5], 1);
	assert_true(c.link_in_container);
	macvlan_conf_done(&c);
}

static void test_conf_modes(void **state)
{
	(void)state;
	const struct {
		const char *name;
		uint32_t mode;
	} modes[] = { { "bridge", MACVLAN_MODE_BRIDGE },
		      { "private", MACVLAN_MODE_PRIVATE },
		      { "vepa", MACVLAN_MODE_VEPA },
		      { "passthru", MACVLAN_MODE_PASSTHRU } };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char conf[200];
		snprintf(conf, sizeof(conf),
			 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"%s\"}",
			 modes[i].name);
		struct macvlan_conf c;
		struct cni_err err = { 0 };
		assert_int_equal(parse(conf, NULL, &c, &err), 0);
		assert_int_equal(c.mode, modes[i].mode);
		macvlan_conf_done(&c);
	}
}

static void test_conf_source_mode(void **state)
{
	(void)state;
	struct macvlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"source\","
			       "\"sourceMacs\":[\"02:00:00:00:00:0a\",\"02:00:00:00:00:0b\"]}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.mode, MACVLAN_MODE_SOURCE);
	assert_int_equal(c.n_source_macs, 2);
	assert_int_equal(c.source_macs[1][5], 0x0b);
	macvlan_conf_done(&c);
}

/* Reference priority: conf mac < CNI_ARGS MAC= < runtimeConfig.mac. */
static void test_conf_mac_priority(void **state)
{
	(void)state;
	struct macvlan_conf c;
	struct cni_err err = { 0 };
	const char *base = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mac\":\"02:00:00:00:00:01\"";
	char conf[300];
	snprintf(conf, sizeof(conf), "%s}", base);
	assert_int_equal(parse(conf, "IgnoreUnknown=1;MAC=02:00:00:00:00:02", &c, &err), 0);
	assert_int_equal(c.mac[5], 2);
	macvlan_conf_done(&c);
	snprintf(conf, sizeof(conf), "%s,\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:03\"}}", base);
	assert_int_equal(parse(conf, "MAC=02:00:00:00:00:02", &c, &err), 0);
	assert_int_equal(c.mac[5], 3);
	macvlan_conf_done(&c);
}

struct bad_case {
	const char *conf;
	const char *args;
	int code;
	const char *field;
};

static void test_conf_errors_name_the_field(void **state)
{
	(void)state;
	const struct bad_case cases[] = {
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"bogus\"}", NULL, 7,
		  "mode:" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":7}", NULL, 7, "mode" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mtu\":-1}", NULL, 7, "mtu" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mtu\":\"1500\"}", NULL, 7, "mtu" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mac\":\"zz:00:00:00:00:01\"}", NULL,
		  7, "mac:" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mac\":\"01:00:5e:00:00:01\"}", NULL,
		  7, "multicast" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", "MAC=nope", 4, "CNI_ARGS MAC" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"runtimeConfig\":{\"mac\":\"x\"}}",
		  NULL, 7, "runtimeConfig.mac" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"master\":5}", NULL, 7, "master" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"master\":\"a-very-long-name-x\"}",
		  NULL, 7, "master" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"linkInContainer\":\"yes\"}", NULL, 7,
		  "linkInContainer" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"bcqueuelen\":-5}", NULL, 7,
		  "bcqueuelen" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"source\"}", NULL, 7,
		  "sourceMacs" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"sourceMacs\":[\"02:00:00:00:00:01\"]"
		  "}",
		  NULL, 7, "sourceMacs" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"source\",\"sourceMacs\":[1]"
		  "}",
		  NULL, 7, "sourceMacs[0]" },
		{ "{\"cniVersion\":\"1.0.0\"}", NULL, 7, "name" },
		{ "{\"cniVersion\":\"0.5.0\",\"name\":\"n\"}", NULL, 1, "0.5.0" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":[]}", NULL, 7, "ipam" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"", NULL, 6, "" },
		{ "[]", NULL, 6, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct macvlan_conf c;
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
		cmocka_unit_test(test_conf_modes),
		cmocka_unit_test(test_conf_source_mode),
		cmocka_unit_test(test_conf_mac_priority),
		cmocka_unit_test(test_conf_errors_name_the_field),
	};
	conf_ctx.netns_fd = -1;
	return cmocka_run_group_tests(tests, NULL, conf_ctx_teardown);
}
