// SPDX-License-Identifier: Apache-2.0
/* Unit tests for ipvlan netconf parsing: defaults, every key, chained mode, errors. */
#include <linux/if_link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipvlan/ipvlan.h"
#include "lib/cni/args.h"
#include "lib/cni/skel.h"

/* Parse conf as verb cmd would. The conf borrows from *ctx: cni_ctx_done(ctx) after the
 * asserts (also on failure, when ctx_init succeeded, which parse reports via *inited). */
static int parse_cmd(enum cni_cmd cmd, const char *conf, struct cni_ctx *ctx,
		     struct ipvlan_conf *ret, struct cni_err *err)
{
	struct cni_env env = { .cmd = cmd,
			       .container_id = (char *)"c1",
			       .ifname = (char *)"net1",
			       .netns = (char *)"/run/netns/x",
			       .path = (char *)"/usr/lib/cni" };
	memset(ctx, 0, sizeof(*ctx));
	ctx->netns_fd = -1;
	int r = cni_ctx_init(ctx, &env, conf, strlen(conf), &ipvlan_plugin, err);
	if (r == 0)
		r = ipvlan_conf_parse(ctx, ret, err);
	return r;
}

#define HL ",\"ipam\":{\"type\":\"host-local\"}"

static void test_conf_defaults(void **state)
{
	(void)state;
	struct cni_ctx ctx;
	struct ipvlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse_cmd(CNI_CMD_ADD,
				   "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"ipvlan\"" HL
				   "}",
				   &ctx, &c, &err),
			 0);
	assert_null(c.master);
	assert_int_equal(c.mode, IPVLAN_MODE_L2);
	assert_string_equal(c.mode_name, "l2");
	assert_int_equal(c.has, 0);
	assert_false(c.link_in_container);
	assert_null(c.preset);
	cni_ctx_done(&ctx);
}

static void test_conf_every_key(void **state)
{
	(void)state;
	struct cni_ctx ctx;
	struct ipvlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse_cmd(CNI_CMD_ADD,
				   "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"ipvlan\","
				   "\"master\":\"eth1\",\"mode\":\"l3s\",\"mtu\":1400,"
				   "\"flag\":\"vepa\",\"linkInContainer\":true,"
				   "\"unknownKey\":{\"x\":1}" HL "}",
				   &ctx, &c, &err),
			 0);
	assert_string_equal(c.master, "eth1");
	assert_int_equal(c.mode, IPVLAN_MODE_L3S);
	assert_int_equal(c.has, IPVLAN_HAS_MTU | IPVLAN_HAS_FLAG);
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.flag, IPVLAN_F_VEPA);
	assert_string_equal(c.flag_name, "vepa");
	assert_true(c.link_in_container);
	cni_ctx_done(&ctx);
}

static void test_conf_modes_and_flags(void **state)
{
	(void)state;
	const struct {
		const char *mode, *flag;
		uint16_t mode_v, flag_v;
	} cases[] = {
		{ "l2", "bridge", IPVLAN_MODE_L2, 0 },
		{ "l3", "private", IPVLAN_MODE_L3, IPVLAN_F_PRIVATE },
		{ "l3s", "vepa", IPVLAN_MODE_L3S, IPVLAN_F_VEPA },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char conf[200];
		snprintf(conf, sizeof(conf),
			 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"%s\",\"flag\":\"%"
			 "s\"" HL "}",
			 cases[i].mode, cases[i].flag);
		struct cni_ctx ctx;
		struct ipvlan_conf c;
		struct cni_err err = { 0 };
		assert_int_equal(parse_cmd(CNI_CMD_ADD, conf, &ctx, &c, &err), 0);
		assert_int_equal(c.mode, cases[i].mode_v);
		assert_int_equal(c.flag, cases[i].flag_v);
		assert_true(c.has & IPVLAN_HAS_FLAG);
		cni_ctx_done(&ctx);
	}
}

#define PREV_ONE_IFACE                                                                    \
	",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth7\"}]," \
	"\"ips\":[{\"address\":\"10.1.0.5/24\",\"interface\":0}]}"

/* Reference loadConf: no master + prevResult -> its single named interface; no IPAM type ->
 * prevResult's IPs are applied. */
static void test_conf_chained(void **state)
{
	(void)state;
	struct cni_ctx ctx;
	struct ipvlan_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse_cmd(CNI_CMD_ADD,
				   "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"" PREV_ONE_IFACE "}",
				   &ctx, &c, &err),
			 0);
	assert_string_equal(c.master, "eth7");
	assert_non_null(c.preset);
	assert_int_equal(c.preset->n_ips, 1);
	cni_ctx_done(&ctx);
	/* An explicit master wins; an IPAM type means IPAM runs. */
	assert_int_equal(parse_cmd(CNI_CMD_ADD,
				   "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"master\":\"m0\"" HL
					   PREV_ONE_IFACE "}",
				   &ctx, &c, &err),
			 0);
	assert_string_equal(c.master, "m0");
	assert_null(c.preset);
	cni_ctx_done(&ctx);
	/* CHECK and DEL do not apply the chained rules. */
	assert_int_equal(
		parse_cmd(CNI_CMD_DEL, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", &ctx, &c, &err),
		0);
	assert_null(c.master);
	cni_ctx_done(&ctx);
}

struct bad_case {
	enum cni_cmd cmd;
	const char *conf;
	int code;
	const char *field;
};

static void test_conf_errors_name_the_field(void **state)
{
	(void)state;
	const struct bad_case cases[] = {
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"l4\"" HL "}", 7,
		  "mode:" },
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"bridge\"" HL "}", 7,
		  "mode:" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":2" HL "}", 7,
		  "mode" },
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"flag\":\"passthru\"" HL "}", 7,
		  "flag:" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"flag\":true" HL "}", 7,
		  "flag" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mtu\":-1" HL "}", 7,
		  "mtu" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mtu\":\"1500\"" HL "}",
		  7, "mtu" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"master\":5" HL "}", 7,
		  "master" },
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"master\":\"a-very-long-name-x\"" HL
		  "}",
		  7, "master" },
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"linkInContainer\":1" HL "}", 7,
		  "linkInContainer" },
		/* No IPAM and nothing chained: the reference fails too (no L2-only ipvlan). */
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 7, "ipam:" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{}}", 7,
		  "ipam:" },
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"cniVersion\":\"1.0."
		  "0\","
		  "\"interfaces\":[{\"name\":\"a\"}]}}",
		  7, "ipam:" },
		/* Chained without a single named interface. */
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"" HL ",\"prevResult\":{\"cniVersion\":"
		  "\"1.0.0\",\"interfaces\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
		  7, "master:" },
		{ CNI_CMD_ADD,
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"" HL
		  ",\"prevResult\":{\"cniVersion\":\"1.0.0\"}}",
		  7, "master:" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"0.5.0\",\"name\":\"n\"" HL "}", 1, "0.5.0" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":[]}", 7, "ipam" },
		{ CNI_CMD_ADD, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"", 6, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_ctx ctx;
		struct ipvlan_conf c;
		struct cni_err err = { 0 };
		int r = parse_cmd(cases[i].cmd, cases[i].conf, &ctx, &c, &err);
		cni_ctx_done(&ctx);
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
		cmocka_unit_test(test_conf_modes_and_flags),
		cmocka_unit_test(test_conf_chained),
		cmocka_unit_test(test_conf_errors_name_the_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
