// SPDX-License-Identifier: Apache-2.0
/* Unit tests for host-local: conf defaults and checks, range arithmetic, allocation order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostlocal/builtins.h"
#include "lib/cni/args.h"
#include "lib/cni/ipam.h"
#include "lib/cni/skel.h"
#include "lib/util/file.h"

static struct cni_ctx ctx;

static int parse_cmd(enum cni_cmd cmd, const char *id, const char *conf, const char *args,
		     struct cni_err *err)
{
	struct cni_env env = { .cmd = cmd,
			       .container_id = (char *)id,
			       .ifname = (char *)"eth0",
			       .path = (char *)"/nonexistent",
			       .args = (char *)args };
	cni_ctx_done(&ctx);
	return cni_ctx_init(&ctx, &env, conf, strlen(conf), &hostlocal_plugin, err);
}

static int parse(const char *conf, const char *args, struct hl_conf *ret, struct cni_err *err)
{
	int r = parse_cmd(CNI_CMD_ADD, "c1", conf, args, err);
	return r < 0 ? r : hl_conf_parse(&ctx, ret, err);
}

static int teardown(void **state)
{
	(void)state;
	cni_ctx_done(&ctx);
	return 0;
}

static void assert_ip(const struct ip_addr *a, const char *want)
{
	char buf[IP_STR_LEN];
	format_ip(a, buf);
	assert_string_equal(buf, want);
}

static void test_conf_defaults_v4(void **state)
{
	(void)state;
	struct hl_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":"
			       "\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}]]}}",
			       NULL, &c, &err),
			 0);
	assert_string_equal(c.data_dir, "/var/lib/cni/networks");
	assert_string_equal(c.name, "n");
	assert_int_equal(c.n_sets, 1);
	assert_ip(&c.sets[0].ranges[0].start, "10.1.2.1");
	assert_ip(&c.sets[0].ranges[0].end, "10.1.2.254");
	assert_ip(&c.sets[0].ranges[0].gateway, "10.1.2.1");
	assert_int_equal(c.sets[0].ranges[0].subnet.prefix, 24);
	hl_conf_done(&c);
}

/* IPv6 rangeEnd is the last address of the subnet, as the reference code (its docs say ".255"). */
static void test_conf_defaults_v6(void **state)
{
	(void)state;
	struct hl_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":"
			       "\"host-local\",\"ranges\":[[{\"subnet\":\"2001:db8:1::/118\"}]]}}",
			       NULL, &c, &err),
			 0);
	assert_ip(&c.sets[0].ranges[0].start, "2001:db8:1::1");
	assert_ip(&c.sets[0].ranges[0].end, "2001:db8:1::3ff");
	assert_ip(&c.sets[0].ranges[0].gateway, "2001:db8:1::1");
	hl_conf_done(&c);
}

static void test_conf_every_key(void **state)
{
	(void)state;
	struct hl_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(
		parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"ips\":"
		      "[\"10.2.0.7\"]}},\"runtimeConfig\":{\"ips\":[\"10.2.0.8/24\"],\"ipRanges\":"
		      "[[{\"subnet\":\"10.9.0.0/16\"}]]},\"ipam\":{\"type\":\"host-local\","
		      "\"dataDir\":\"/tmp/x\",\"resolvConf\":\"/etc/resolv.conf\",\"subnet\":"
		      "\"10.3.0.0/24\",\"rangeStart\":\"10.3.0.10\",\"rangeEnd\":\"10.3.0.20\","
		      "\"gateway\":\"10.3.0.254\",\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":"
		      "\"10.96.0.0/12\",\"gw\":\"10.3.0.1\"}],\"ranges\":[[{\"subnet\":"
		      "\"10.2.0.0/24\"},{\"subnet\":\"10.4.0.0/24\"}],[{\"subnet\":"
		      "\"2001:db8::/64\"}]]}}",
		      "IgnoreUnknown=1;IP=10.2.0.5,10.2.0.6;K8S_POD_NAME=p", &c, &err),
		0);
	assert_string_equal(c.data_dir, "/tmp/x");
	assert_string_equal(c.resolv_conf, "/etc/resolv.conf");
	/* ipRanges, then the legacy range, then ranges. */
	assert_int_equal(c.n_sets, 4);
	assert_int_equal(c.sets[0].ranges[0].subnet.prefix, 16);
	assert_ip(&c.sets[1].ranges[0].start, "10.3.0.10");
	assert_ip(&c.sets[1].ranges[0].end, "10.3.0.20");
	assert_ip(&c.sets[1].ranges[0].gateway, "10.3.0.254");
	assert_int_equal(c.sets[2].n, 2);
	assert_ip(&c.sets[3].ranges[0].end, "2001:db8::ffff:ffff:ffff:ffff");
	assert_int_equal(c.n_routes, 2);
	assert_int_equal(c.routes[0].gw.family, 0);
	/* CNI_ARGS, args.cni.ips, runtimeConfig.ips in that order. */
	assert_int_equal(c.n_requested, 4);
	assert_ip(&c.requested[0], "10.2.0.5");
	assert_ip(&c.requested[1], "10.2.0.6");
	assert_ip(&c.requested[2], "10.2.0.7");
	assert_ip(&c.requested[3], "10.2.0.8");
	hl_conf_done(&c);
}

static void one_error(const char *ipam, const char *version, const char *args, int code,
		      const char *want)
{
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "{\"cniVersion\":\"%s\",\"name\":\"n\",\"ipam\":{\"type\":\"host-local\",%s}}",
		 version, ipam);
	struct hl_conf c;
	struct cni_err err = { 0 };
	int r = parse(conf, args, &c, &err);
	if (r == 0)
		fail_msg("accepted: %s", conf);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, want))
		fail_msg("'%s' lacks '%s'", err.msg, want);
}

static void test_conf_errors(void **state)
{
	(void)state;
	one_error("\"ranges\":[]", "1.0.0", NULL, 7, "no IP ranges specified");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/31\"}]]", "1.0.0", NULL, 7,
		  "ipam.ranges[0][0].subnet: network 10.0.0.0/31 too small");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/32\"}]]", "1.0.0", NULL, 7, "too small");
	one_error("\"ranges\":[[{\"subnet\":\"2001:db8::/127\"}]]", "1.0.0", NULL, 7, "too small");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.1/24\"}]]", "1.0.0", NULL, 7,
		  "network has host bits set");
	one_error("\"ranges\":[[{\"rangeStart\":\"10.0.0.1\"}]]", "1.0.0", NULL, 7,
		  "ipam.ranges[0][0].subnet: missing");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\",\"rangeStart\":\"10.0.1.1\"}]]",
		  "1.0.0", NULL, 7, "ipam.ranges[0][0].rangeStart: not in network");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\",\"rangeEnd\":\"10.0.1.1\"}]]", "1.0.0",
		  NULL, 7, "ipam.ranges[0][0].rangeEnd: not in network");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\",\"gateway\":\"x\"}]]", "1.0.0", NULL, 7,
		  "ipam.ranges[0][0].gateway: invalid IP");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"},{\"subnet\":\"10.0.0.0/25\"}]]",
		  "1.0.0", NULL, 7, "subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"},{\"subnet\":\"2001:db8::/64\"}]]",
		  "1.0.0", NULL, 7, "mixed address families");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}],[{\"subnet\":\"10.0.0.0/16\"}]]",
		  "1.0.0", NULL, 7, "range set 0 overlaps with 1");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}],[{\"subnet\":\"10.1.0.0/16\"}]]",
		  "0.2.0", NULL, 7, "does not support more than 1 address per family");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}]]", "1.0.0", "FOO=1", 4,
		  "unknown args");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}]]", "1.0.0", "IP=10.0.0.300", 4,
		  "CNI_ARGS: IP: invalid IP address");
	one_error("\"ranges\":{}", "1.0.0", NULL, 7, "ipam.ranges: must be a list");
	one_error("\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}]],\"routes\":[{\"dst\":\"x\"}]",
		  "1.0.0", NULL, 7, "ipam.routes");
}

static void test_conf_v4_and_v6_at_020(void **state)
{
	(void)state;
	struct hl_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"ipam\":{\"type\":"
			       "\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}],"
			       "[{\"subnet\":\"2001:db8::/64\"}]]}}",
			       NULL, &c, &err),
			 0);
	hl_conf_done(&c);
}

static void test_range_arith(void **state)
{
	(void)state;
	struct ip_addr a;
	assert_int_equal(parse_ip("10.0.0.255", &a), 0);
	hl_ip_next(&a);
	assert_ip(&a, "10.0.1.0");
	assert_int_equal(parse_ip("255.255.255.255", &a), 0);
	hl_ip_next(&a);
	assert_ip(&a, "0.0.0.0");
	assert_int_equal(parse_ip("2001:db8::ffff", &a), 0);
	hl_ip_next(&a);
	assert_ip(&a, "2001:db8::1:0");
	struct ip_addr b;
	assert_int_equal(parse_ip("10.0.0.2", &a), 0);
	assert_int_equal(parse_ip("10.0.0.10", &b), 0);
	assert_int_equal(hl_ip_cmp(&a, &b), -1);
	assert_int_equal(hl_ip_cmp(&b, &a), 1);
	assert_int_equal(hl_ip_cmp(&a, &a), 0);

	struct hl_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":"
			       "\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.2.0/24\","
			       "\"rangeStart\":\"10.1.2.10\",\"rangeEnd\":\"10.1.2.20\"},"
			       "{\"subnet\":\"10.1.3.0/30\"}]]}}",
			       NULL, &c, &err),
			 0);
	char s[256];
	hl_rangeset_str(&c.sets[0], s, sizeof(s));
	assert_string_equal(s, "10.1.2.10-10.1.2.20,10.1.3.1-10.1.3.2");
	assert_int_equal(parse_ip("10.1.2.9", &a), 0);
	assert_int_equal(hl_rangeset_find(&c.sets[0], &a), -1);
	assert_int_equal(parse_ip("10.1.2.20", &a), 0);
	assert_int_equal(hl_rangeset_find(&c.sets[0], &a), 0);
	assert_int_equal(parse_ip("10.1.3.2", &a), 0);
	assert_int_equal(hl_rangeset_find(&c.sets[0], &a), 1);
	assert_int_equal(parse_ip("10.1.3.3", &a), 0);
	assert_int_equal(hl_rangeset_find(&c.sets[0], &a), -1);
	hl_conf_done(&c);
}

static void test_resolv_conf(void **state)
{
	(void)state;
	char path[] = "/tmp/plexus-resolv.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "# c\n; c\nnameserver 10.0.0.10\nnameserver 10.0.0.11\ndomain "
			    "example.com\nsearch a.example b.example\noptions ndots:5 rotate\n"
			    "bogus\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	struct cni_dns d = { 0 };
	struct cni_err err = { 0 };
	assert_int_equal(hl_resolv_parse(path, &d, &err), 0);
	unlink(path);
	assert_int_equal(d.n_nameservers, 2);
	assert_string_equal(d.nameservers[1], "10.0.0.11");
	assert_string_equal(d.domain, "example.com");
	assert_int_equal(d.n_search, 2);
	assert_string_equal(d.search[1], "b.example");
	assert_int_equal(d.n_options, 2);
	assert_string_equal(d.options[0], "ndots:5");
	cni_dns_done(&d);
	assert_true(hl_resolv_parse("/nonexistent/resolv.conf", &d, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_IO);
}

/* Allocation through the vtable on a temp dataDir: reference order, wrap, gateway skip,
 * duplicate refusal, exhaustion, DEL by (id, ifname), CHECK. */
static char dd[64];
static char conf_buf[512];

static int run(enum cni_cmd cmd, const char *id, const char *args, char *ret_ip,
	       struct cni_err *err)
{
	int r = parse_cmd(cmd, id, conf_buf, args, err);
	if (r < 0)
		return r;
	struct cni_result *res = NULL;
	r = cni_plugin_run(&hostlocal_plugin, &ctx, &res, err);
	if (r == 0 && cmd == CNI_CMD_ADD) {
		assert_int_equal(res->n_ips, 1);
		format_ip(&res->ips[0].address.ip, ret_ip);
	}
	cni_result_free(res);
	return r;
}

static void test_alloc_sequence(void **state)
{
	(void)state;
	strcpy(dd, "/tmp/plexus-hl.XXXXXX");
	assert_non_null(mkdtemp(dd));
	snprintf(conf_buf, sizeof(conf_buf),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":\"host-local\","
		 "\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"10.5.0.0/29\",\"gateway\":"
		 "\"10.5.0.3\"}]]}}",
		 dd);
	struct cni_err err = { 0 };
	char ip[IP_STR_LEN];
	const char *want[] = { "10.5.0.1", "10.5.0.2", "10.5.0.4", "10.5.0.5", "10.5.0.6" };
	for (int i = 0; i < 5; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(run(CNI_CMD_ADD, id, NULL, ip, &err), 0);
		assert_string_equal(ip, want[i]);
	}
	assert_true(run(CNI_CMD_ADD, "c9", NULL, ip, &err) < 0);
	assert_string_equal(err.msg, "failed to allocate for range 0: no IP addresses available in "
				     "range set: 10.5.0.1-10.5.0.6");
	assert_true(run(CNI_CMD_ADD, "c1", NULL, ip, &err) < 0);
	assert_non_null(strstr(err.msg, "10.5.0.2 has been allocated to c1, duplicate"));
	assert_int_equal(run(CNI_CMD_CHECK, "c1", NULL, NULL, &err), 0);
	assert_int_equal(run(CNI_CMD_DEL, "c1", NULL, NULL, &err), 0);
	assert_int_equal(run(CNI_CMD_DEL, "c1", NULL, NULL, &err), 0);
	assert_true(run(CNI_CMD_CHECK, "c1", NULL, NULL, &err) < 0);
	assert_int_equal(run(CNI_CMD_DEL, "c0", NULL, NULL, &err), 0);
	/* Round-robin from last_reserved_ip (10.5.0.6): wraps to .1 before reusing .2. */
	assert_int_equal(run(CNI_CMD_ADD, "c10", NULL, ip, &err), 0);
	assert_string_equal(ip, "10.5.0.1");
	assert_int_equal(run(CNI_CMD_ADD, "c11", NULL, ip, &err), 0);
	assert_string_equal(ip, "10.5.0.2");
	char path[128], *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/n/10.5.0.2", dd);
	assert_int_equal(file_read_all(path, 4096, &data, &len), 0);
	assert_memory_equal(data, "c11\r\neth0", 9);
	assert_int_equal(len, 9);
	free(data);
	snprintf(path, sizeof(path), "%s/n/last_reserved_ip.0", dd);
	assert_int_equal(file_read_all(path, 4096, &data, &len), 0);
	assert_string_equal(data, "10.5.0.2");
	free(data);
	/* Requested IPs: taken, gateway, outside the set. */
	assert_int_equal(run(CNI_CMD_DEL, "c3", NULL, NULL, &err), 0);
	assert_true(run(CNI_CMD_ADD, "c20", "IP=10.5.0.4", ip, &err) < 0);
	assert_non_null(strstr(err.msg, "requested IP address 10.5.0.4 is not available"));
	assert_true(run(CNI_CMD_ADD, "c20", "IP=10.5.0.3", ip, &err) < 0);
	assert_non_null(strstr(err.msg, "requested ip 10.5.0.3 is subnet's gateway"));
	assert_true(run(CNI_CMD_ADD, "c20", "IP=10.6.0.3", ip, &err) < 0);
	assert_non_null(strstr(err.msg, "failed to allocate all requested IPs: 10.6.0.3"));
	assert_int_equal(run(CNI_CMD_ADD, "c20", "IP=10.5.0.5", ip, &err), 0);
	assert_string_equal(ip, "10.5.0.5");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dd);
	assert_int_equal(system(cmd), 0);
}

/* The hook: with host-local registered, cni_ipam_add never looks at CNI_PATH. */
static void test_hook_inprocess(void **state)
{
	(void)state;
	strcpy(dd, "/tmp/plexus-hl.XXXXXX");
	assert_non_null(mkdtemp(dd));
	snprintf(conf_buf, sizeof(conf_buf),
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"macvlan\",\"ipam\":{\"type\":"
		 "\"host-local\",\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"10.5.0.0/24\"}]],"
		 "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}",
		 dd);
	hl_register_builtin_ipam();
	struct cni_err err = { 0 };
	assert_int_equal(parse_cmd(CNI_CMD_ADD, "c1", conf_buf, NULL, &err), 0);
	struct cni_result *res = NULL;
	assert_int_equal(cni_ipam_add(&ctx, &res, &err), 0);
	assert_int_equal(res->n_ips, 1);
	assert_int_equal(res->n_routes, 1);
	assert_ip(&res->ips[0].address.ip, "10.5.0.2");
	assert_ip(&res->ips[0].gateway, "10.5.0.1");
	cni_result_free(res);
	assert_true(cni_ipam_add(&ctx, &res, &err) < 0);
	assert_non_null(strstr(err.msg, "ipam 'host-local' ADD: failed to allocate for range 0"));
	assert_int_equal(cni_ipam_check(&ctx, &err), 0);
	assert_int_equal(cni_ipam_del(&ctx, &err), 0);
	assert_true(cni_ipam_check(&ctx, &err) < 0);
	assert_non_null(strstr(err.msg, "ipam 'host-local' CHECK: host-local: Failed to find"));
	/* The escape hatch: exec from CNI_PATH, which has no host-local here. */
	setenv("PLEXUS_IPAM_EXEC", "1", 1);
	assert_true(cni_ipam_add(&ctx, &res, &err) < 0);
	unsetenv("PLEXUS_IPAM_EXEC");
	cni_ipam_set_builtins(NULL, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dd);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_conf_defaults_v4, teardown),
		cmocka_unit_test_teardown(test_conf_defaults_v6, teardown),
		cmocka_unit_test_teardown(test_conf_every_key, teardown),
		cmocka_unit_test_teardown(test_conf_errors, teardown),
		cmocka_unit_test_teardown(test_conf_v4_and_v6_at_020, teardown),
		cmocka_unit_test_teardown(test_range_arith, teardown),
		cmocka_unit_test_teardown(test_resolv_conf, teardown),
		cmocka_unit_test_teardown(test_alloc_sequence, teardown),
		cmocka_unit_test_teardown(test_hook_inprocess, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
