// SPDX-License-Identifier: Apache-2.0
/* Unit tests for static IPAM: addresses, routes, dns, input priority, CHECK, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/cni/args.h"
#include "lib/cni/skel.h"
#include "staticipam/staticipam.h"

static struct cni_ctx ctx;

static int init(enum cni_cmd cmd, const char *conf, const char *args, struct cni_err *err)
{
	struct cni_env env = { .cmd = cmd,
			       .container_id = (char *)"c1",
			       .ifname = (char *)"eth0",
			       .path = (char *)"/nonexistent",
			       .args = (char *)args };
	cni_ctx_done(&ctx);
	return cni_ctx_init(&ctx, &env, conf, strlen(conf), &staticipam_plugin, err);
}

static int parse(const char *conf, const char *args, struct staticipam_conf *ret,
		 struct cni_err *err)
{
	int r = init(CNI_CMD_ADD, conf, args, err);
	return r < 0 ? r : staticipam_conf_parse(&ctx, ret, err);
}

static int teardown(void **state)
{
	(void)state;
	cni_ctx_done(&ctx);
	return 0;
}

static void assert_net(const struct ip_net *n, const char *want)
{
	char buf[IPNET_STR_LEN];
	format_ipnet(n, buf);
	assert_string_equal(buf, want);
}

#define BASE "{\"cniVersion\":\"1.0.0\",\"name\":\"n\""
#define ADDRS                                                                                   \
	"\"addresses\":[{\"address\":\"10.10.0.5/24\",\"gateway\":\"10.10.0.1\"},{\"address\":" \
	"\"2001:db8::5/64\"}]"

static void test_conf_every_key(void **state)
{
	(void)state;
	struct staticipam_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(BASE
			       ",\"ipam\":{\"type\":\"static\"," ADDRS
			       ",\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{\"nameservers\":"
			       "[\"10.10.0.53\"],\"domain\":\"d\",\"search\":[\"s\"]}}}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.n_addrs, 2);
	assert_net(&c.addrs[0].address, "10.10.0.5/24");
	assert_int_equal(c.addrs[0].gateway.family, AF_INET);
	assert_net(&c.addrs[1].address, "2001:db8::5/64");
	assert_int_equal(c.addrs[1].gateway.family, 0);
	assert_int_equal(c.n_routes, 1);
	assert_int_equal(c.dns.n_nameservers, 1);
	assert_string_equal(c.dns.domain, "d");
	staticipam_conf_done(&c);
}

/* CNI_ARGS IP= appends to the conf and GATEWAY= applies to the addresses containing it. */
static void test_conf_cni_args(void **state)
{
	(void)state;
	struct staticipam_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(BASE ",\"ipam\":{\"type\":\"static\"," ADDRS "}}",
			       "IP=10.20.0.5/24, 10.30.0.5/16;GATEWAY=10.30.0.1", &c, &err),
			 0);
	assert_int_equal(c.n_addrs, 4);
	assert_net(&c.addrs[2].address, "10.20.0.5/24");
	assert_int_equal(c.addrs[2].gateway.family, 0);
	assert_net(&c.addrs[3].address, "10.30.0.5/16");
	assert_int_equal(c.addrs[3].gateway.family, AF_INET);
	staticipam_conf_done(&c);
}

/* runtimeConfig.ips > args.cni.ips > conf + CNI_ARGS. */
static void test_conf_priority(void **state)
{
	(void)state;
	struct staticipam_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse(BASE ",\"args\":{\"cni\":{\"ips\":[\"10.40.0.5/24\"]}},\"ipam\":{"
				    "\"type\":\"static\"," ADDRS "}}",
			       "IP=10.20.0.5/24", &c, &err),
			 0);
	assert_int_equal(c.n_addrs, 1);
	assert_net(&c.addrs[0].address, "10.40.0.5/24");
	staticipam_conf_done(&c);
	assert_int_equal(parse(BASE
			       ",\"args\":{\"cni\":{\"ips\":[\"10.40.0.5/24\"]}},"
			       "\"runtimeConfig\":{\"ips\":[\"10.50.0.5/24\",\"10.60.0.5/24\"]},"
			       "\"ipam\":{\"type\":\"static\"," ADDRS "}}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.n_addrs, 2);
	assert_net(&c.addrs[1].address, "10.60.0.5/24");
	staticipam_conf_done(&c);
}

static void one_error(const char *conf, const char *args, int code, const char *want)
{
	struct staticipam_conf c;
	struct cni_err err = { 0 };
	if (parse(conf, args, &c, &err) == 0)
		fail_msg("accepted: %s", conf);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, want))
		fail_msg("'%s' lacks '%s'", err.msg, want);
}

static void test_conf_errors(void **state)
{
	(void)state;
	one_error(BASE
		  ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":\"10.0.0.1\"}]}}",
		  NULL, 7,
		  "ipam.addresses[0].address: the 'address' field is expected to be in CIDR");
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{}]}}", NULL, 7,
		  "ipam.addresses[0].address");
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":\"10.0.0.1/8\","
		       "\"gateway\":\"g\"}]}}",
		  NULL, 7, "ipam.addresses[0].gateway: invalid IP");
	one_error(BASE ",\"ipam\":{\"type\":\"static\"}}", "IP=10.0.0.1", 4,
		  "CNI_ARGS: IP: invalid CIDR");
	one_error(BASE ",\"ipam\":{\"type\":\"static\"}}", "IP=10.0.0.1/8;GATEWAY=x", 4,
		  "CNI_ARGS: GATEWAY");
	one_error(BASE ",\"ipam\":{\"type\":\"static\"}}", "FOO=bar", 4, "unknown args");
	one_error(BASE
		  ",\"runtimeConfig\":{\"ips\":[\"10.0.0.1\"]},\"ipam\":{\"type\":\"static\"}}",
		  NULL, 7, "runtimeConfig.ips[0]: an entry in the 'ips' field is NOT in CIDR");
	one_error("{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"ipam\":{\"type\":\"static\","
		  "\"addresses\":[{\"address\":\"10.0.0.1/8\"},{\"address\":\"10.1.0.1/8\"}]}}",
		  NULL, 7, "does not support more than 1 address per family");
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"routes\":{}}}", NULL, 7,
		  "ipam.routes: must be a list");
}

/* Network and IPv4 broadcast addresses are refused where an address is given; /31, /32 and
 * /127 have neither. */
static void test_conf_unusable_addresses(void **state)
{
	(void)state;
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":"
		       "\"10.0.0.0/24\"}]}}",
		  NULL, 7,
		  "ipam.addresses[0].address: '10.0.0.0/24' is the network address of its prefix");
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":"
		       "\"10.0.0.5/24\"},{\"address\":\"10.0.3.255/22\"}]}}",
		  NULL, 7,
		  "ipam.addresses[1].address: '10.0.3.255/22' is the broadcast address of its "
		  "prefix");
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":"
		       "\"2001:db8::/64\"}]}}",
		  NULL, 7, "ipam.addresses[0].address: '2001:db8::/64' is the network address");
	one_error(BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":"
		       "\"10.0.0.5/24\",\"gateway\":\"2001:db8::1\"}]}}",
		  NULL, 7, "ipam.addresses[0].gateway: '2001:db8::1' is not of the family");
	one_error(BASE ",\"ipam\":{\"type\":\"static\"}}", "IP=10.0.0.255/24", 4,
		  "CNI_ARGS: IP: '10.0.0.255/24' is the broadcast address");
	one_error(BASE ",\"runtimeConfig\":{\"ips\":[\"10.0.0.5/24\",\"10.1.0.0/16\"]},"
		       "\"ipam\":{\"type\":\"static\"}}",
		  NULL, 7, "runtimeConfig.ips[1]: '10.1.0.0/16' is the network address");
	one_error(BASE ",\"args\":{\"cni\":{\"ips\":[\"10.2.0.255/24\"]}},"
		       "\"ipam\":{\"type\":\"static\"}}",
		  NULL, 7, "args.cni.ips[0]: '10.2.0.255/24' is the broadcast address");
	const char *ok[] = {
		"10.0.0.0/31",	  "10.0.0.1/31",   "10.0.0.7/32",
		"2001:db8::/127", "10.0.0.254/24", "2001:db8::ffff:ffff:ffff:ffff/64"
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char conf[256];
		snprintf(conf, sizeof(conf),
			 BASE ",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":"
			      "\"%s\"}]}}",
			 ok[i]);
		struct staticipam_conf c;
		struct cni_err err = { 0 };
		if (parse(conf, NULL, &c, &err) != 0)
			fail_msg("%s refused: %s", ok[i], err.msg);
		assert_int_equal(c.n_addrs, 1);
		staticipam_conf_done(&c);
	}
}

static void test_add_and_check(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	const char *conf = BASE ",\"ipam\":{\"type\":\"static\"," ADDRS
				",\"routes\":[{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.10.0.1\"}]}}";
	assert_int_equal(init(CNI_CMD_ADD, conf, NULL, &err), 0);
	struct cni_result *res = NULL;
	assert_int_equal(cni_plugin_run(&staticipam_plugin, &ctx, &res, &err), 0);
	assert_int_equal(res->n_ips, 2);
	assert_int_equal(res->n_routes, 1);
	cni_result_free(res);
	assert_int_equal(init(CNI_CMD_DEL, conf, NULL, &err), 0);
	assert_int_equal(cni_plugin_run(&staticipam_plugin, &ctx, NULL, &err), 0);
	assert_int_equal(init(CNI_CMD_CHECK, conf, NULL, &err), 0);
	assert_true(cni_plugin_run(&staticipam_plugin, &ctx, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "prevResult"));
	const char *ok = BASE ",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":"
			      "\"10.10.0.5/24\",\"gateway\":\"10.10.0.1\"}]},\"ipam\":{\"type\":"
			      "\"static\"," ADDRS "}}";
	assert_int_equal(init(CNI_CMD_CHECK, ok, NULL, &err), 0);
	assert_int_equal(cni_plugin_run(&staticipam_plugin, &ctx, NULL, &err), 0);
	const char *bad = BASE ",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":"
			       "\"10.10.0.5/24\",\"gateway\":\"10.10.0.9\"}]},\"ipam\":{\"type\":"
			       "\"static\"," ADDRS "}}";
	assert_int_equal(init(CNI_CMD_CHECK, bad, NULL, &err), 0);
	assert_true(cni_plugin_run(&staticipam_plugin, &ctx, NULL, &err) < 0);
	assert_string_equal(err.msg, "static: Failed to match addr 10.10.0.5 on interface eth0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_conf_every_key, teardown),
		cmocka_unit_test_teardown(test_conf_cni_args, teardown),
		cmocka_unit_test_teardown(test_conf_priority, teardown),
		cmocka_unit_test_teardown(test_conf_errors, teardown),
		cmocka_unit_test_teardown(test_conf_unusable_addresses, teardown),
		cmocka_unit_test_teardown(test_add_and_check, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
