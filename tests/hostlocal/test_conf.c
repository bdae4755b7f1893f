// SPDX-License-Identifier: Apache-2.0
/* Unit tests for host-local: conf defaults and checks, range arithmetic, allocation order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostlocal/builtins.h"
#include "lib/cni/args.h"
#include "lib/cni/ipam.h"
#include "lib/cni/skel.h"
#include "lib/util/file.h"
#include "lib/util/safedir.h"

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

static void rm_rf(const char *path)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
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

/* IPv6 rangeEnd is the last address of the subnet (the reference code, not its README). */
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

/* Bounds: in the subnet, not its network or IPv4 broadcast address, start <= end even with the
 * default end; paths: absolute without empty, '.' or '..' components. */
static void test_conf_range_and_path_errors(void **state)
{
	(void)state;
	one_error(
		"\"ranges\":[[{\"subnet\":\"10.9.0.0/24\",\"rangeStart\":\"10.9.0.255\"}]]",
		"1.0.0", NULL, 7,
		"ipam.ranges[0][0].rangeStart: 10.9.0.255 is the broadcast address of 10.9.0.0/24");
	one_error("\"ranges\":[[{\"subnet\":\"10.9.0.0/24\",\"rangeEnd\":\"10.9.0.255\"}]]",
		  "1.0.0", NULL, 7, "ipam.ranges[0][0].rangeEnd: 10.9.0.255 is the broadcast");
	one_error("\"ranges\":[[{\"subnet\":\"10.9.0.0/24\",\"rangeStart\":\"10.9.0.0\"}]]",
		  "1.0.0", NULL, 7,
		  "ipam.ranges[0][0].rangeStart: 10.9.0.0 is the network address of 10.9.0.0/24");
	one_error("\"ranges\":[[{\"subnet\":\"fd00::/120\",\"rangeStart\":\"fd00::\"}]]", "1.0.0",
		  NULL, 7, "ipam.ranges[0][0].rangeStart: fd00:: is the network address");
	one_error("\"ranges\":[[{\"subnet\":\"10.9.0.0/24\",\"rangeStart\":\"10.9.0.20\","
		  "\"rangeEnd\":\"10.9.0.10\"}]]",
		  "1.0.0", NULL, 7,
		  "ipam.ranges[0][0].rangeEnd: rangeStart 10.9.0.20 is after rangeEnd 10.9.0.10");
	one_error("\"ranges\":[[{\"subnet\":\"10.9.0.0/24\"},{\"subnet\":\"10.9.1.0/24\","
		  "\"gateway\":\"fd00::1\"}]]",
		  "1.0.0", NULL, 7, "ipam.ranges[0][1].gateway: not of the family");
	/* The legacy top-level range names its keys under ipam. */
	one_error("\"subnet\":\"10.9.0.0/24\",\"rangeStart\":\"10.9.1.1\"", "1.0.0", NULL, 7,
		  "ipam.rangeStart: not in network 10.9.0.0/24");
	const char *bad[] = { "relative/dir", "/var/lib/../../etc", "/var//lib", "/var/./lib",
			      "/var/lib/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char ipam[256];
		snprintf(ipam, sizeof(ipam),
			 "\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"10.9.0.0/24\"}]]", bad[i]);
		one_error(ipam, "1.0.0", NULL, 7, "ipam.dataDir: '");
		snprintf(ipam, sizeof(ipam),
			 "\"resolvConf\":\"%s\",\"ranges\":[[{\"subnet\":\"10.9.0.0/24\"}]]",
			 bad[i]);
		one_error(ipam, "1.0.0", NULL, 7, "ipam.resolvConf: '");
	}
	/* Bounds that are allowed: the last IPv6 address, IPv4 network + 1 and broadcast - 1. */
	struct hl_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(
		parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":"
		      "\"host-local\",\"ranges\":[[{\"subnet\":\"10.9.0.0/24\",\"rangeStart\":"
		      "\"10.9.0.1\",\"rangeEnd\":\"10.9.0.254\"}],[{\"subnet\":\"fd00::/120\","
		      "\"rangeStart\":\"fd00::ff\"}]]}}",
		      NULL, &c, &err),
		0);
	assert_ip(&c.sets[1].ranges[0].start, "fd00::ff");
	assert_ip(&c.sets[1].ranges[0].end, "fd00::ff");
	hl_conf_done(&c);
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
	assert_non_null(strstr(err.msg, "ipam.resolvConf: open '/nonexistent/resolv.conf'"));
	/* A symlink, a FIFO (which must not block) and a directory are refused. */
	char dir[] = "/tmp/plexus-resolv-dir.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char ln[96], fifo[96], big[96];
	snprintf(ln, sizeof(ln), "%s/ln", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	assert_int_equal(symlink("/etc/passwd", ln), 0);
	assert_true(hl_resolv_parse(ln, &d, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "ipam.resolvConf: '"));
	assert_non_null(strstr(err.msg, "' is a symlink"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_true(hl_resolv_parse(fifo, &d, &err) < 0);
	assert_non_null(strstr(err.msg, "is not a regular file"));
	assert_true(hl_resolv_parse(dir, &d, &err) < 0);
	assert_non_null(strstr(err.msg, "is not a regular file"));
	FILE *f = fopen(big, "w");
	assert_non_null(f);
	for (int i = 0; i < HL_RESOLV_MAX / 16 + 1; i++)
		fputs("nameserver 1.1.1.1\n", f);
	fclose(f);
	assert_true(hl_resolv_parse(big, &d, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "is larger than 64 KiB"));
	rm_rf(dir);
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

/* ADDs of containers c0, c1, ... get exactly want[], in order. */
static void assert_adds(const char *const *want, int n)
{
	struct cni_err err = { 0 };
	char ip[IP_STR_LEN];
	for (int i = 0; i < n; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		if (run(CNI_CMD_ADD, id, NULL, ip, &err) != 0)
			fail_msg("ADD %s: %s", id, err.msg);
		assert_string_equal(ip, want[i]);
	}
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
	assert_adds(want, 5);
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
	rm_rf(dd);
}

static void put(const char *name, const char *text)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/n/%s", dd, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static bool present(const char *name)
{
	char path[160];
	struct stat st;
	snprintf(path, sizeof(path), "%s/n/%s", dd, name);
	return lstat(path, &st) == 0;
}

static void assert_content(const char *name, const char *want)
{
	char path[160], *data = NULL;
	snprintf(path, sizeof(path), "%s/%s", dd, name);
	assert_int_equal(file_read_all(path, 4096, &data, NULL), 0);
	assert_string_equal(data, want);
	free(data);
}

/* A fresh dataDir holding network "n"'s store, conf_buf a host-local conf for SUBNET, and a file
 * "victim" (content "precious") beside the store, whose path goes to VICTIM. */
static void store_setup(const char *subnet, char victim[160])
{
	char path[160];
	strcpy(dd, "/tmp/plexus-hl.XXXXXX");
	assert_non_null(mkdtemp(dd));
	snprintf(conf_buf, sizeof(conf_buf),
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"ipam\":{\"type\":\"host-local\","
		 "\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"%s\"}]]}}",
		 dd, subnet);
	snprintf(path, sizeof(path), "%s/n", dd);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(victim, 160, "%s/victim", dd);
	FILE *f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
}

/* What killed writers and planted names leave in the store: under the lock, ADD reclaims
 * empty and garbage leases and removes temp files; symlinks are never written through; DEL
 * sweeps too; a well-formed lease of someone else is left alone. */
static void test_store_crash_residue(void **state)
{
	(void)state;
	char victim[160];
	store_setup("10.6.0.0/28", victim);
	put("10.6.0.2", "");			    /* a writer killed before its write */
	put("10.6.0.3", "  \n");		    /* whitespace only: empty once trimmed */
	put("10.6.0.4", "bad id!\r\neth0");	    /* no CNI container ID */
	put("10.6.0.5", "c9\r\nbad/ifname");	    /* no CNI ifname */
	put("10.6.0.6", "other\r\neth0");	    /* someone's lease */
	put("10.6.0.7", "old");			    /* someone's lease, old format */
	put(SAFEDIR_TMP_PREFIX "10.6.0.9.77", "x"); /* a writer killed before its link */
	char ln[160];
	snprintf(ln, sizeof(ln), "%s/n/10.6.0.8", dd);
	assert_int_equal(symlink(victim, ln), 0);
	snprintf(ln, sizeof(ln), "%s/n/last_reserved_ip.0", dd);
	assert_int_equal(symlink(victim, ln), 0);

	struct cni_err err = { 0 };
	/* No readable last_reserved_ip (a symlink is not read): from rangeStart. */
	const char *want[] = { "10.6.0.2", "10.6.0.3", "10.6.0.4", "10.6.0.5", "10.6.0.8" };
	assert_adds(want, 5);
	assert_false(present(SAFEDIR_TMP_PREFIX "10.6.0.9.77"));
	assert_true(present("10.6.0.6"));
	assert_true(present("10.6.0.7"));
	assert_content("victim", "precious");
	assert_content("n/10.6.0.8", "c4\r\neth0");
	assert_content("n/last_reserved_ip.0", "10.6.0.8");
	assert_content("n/10.6.0.6", "other\r\neth0");
	assert_content("n/10.6.0.7", "old");

	/* DEL sweeps a temp file too. */
	put(SAFEDIR_TMP_PREFIX "10.6.0.9.78", "c1\r\neth0");
	assert_int_equal(run(CNI_CMD_DEL, "c1", NULL, NULL, &err), 0);
	assert_false(present("10.6.0.3"));
	assert_false(present(SAFEDIR_TMP_PREFIX "10.6.0.9.78"));

	/* GC keeps the valid attachments (and an old-format lease of a valid ID). */
	snprintf(conf_buf, sizeof(conf_buf),
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":["
		 "{\"containerID\":\"c2\",\"ifname\":\"eth0\"},{\"containerID\":\"old\","
		 "\"ifname\":\"net1\"}],\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
		 "\"ranges\":[[{\"subnet\":\"10.6.0.0/28\"}]]}}",
		 dd);
	put("10.6.0.12", "");
	/* The vtable slot itself: cni_plugin_run would also forward GC to ipam.type. */
	assert_int_equal(parse_cmd(CNI_CMD_GC, NULL, conf_buf, NULL, &err), 0);
	assert_int_equal(ctx.n_valid_attachments, 2);
	if (hostlocal_plugin.gc(&ctx, &err) != 0)
		fail_msg("GC: %s", err.msg);
	assert_true(present("10.6.0.4"));
	assert_true(present("10.6.0.7"));
	assert_true(present("lock"));
	assert_true(present("last_reserved_ip.0"));
	const char *gone[] = { "10.6.0.2", "10.6.0.5", "10.6.0.6", "10.6.0.8", "10.6.0.12" };
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (present(gone[i]))
			fail_msg("%s survived GC", gone[i]);
	assert_content("victim", "precious");
	rm_rf(dd);
}

static ino_t inode_of(const char *name)
{
	char path[160];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dd, name);
	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

/* last_reserved_ip is rewritten in place (no new inode per ADD), cut to the new value; a hard
 * link to another file is replaced, never written through. */
static void test_store_last_ip_in_place(void **state)
{
	(void)state;
	char path[160], victim[160], ip[64];
	store_setup("10.7.0.0/24", victim);
	struct cni_err err = { 0 };
	assert_int_equal(run(CNI_CMD_ADD, "c1", NULL, ip, &err), 0);
	assert_string_equal(ip, "10.7.0.2");
	ino_t ino = inode_of("n/last_reserved_ip.0");
	put("last_reserved_ip.0", "10.7.0.9\n\n\n\n");
	assert_int_equal(run(CNI_CMD_ADD, "c2", NULL, ip, &err), 0);
	assert_string_equal(ip, "10.7.0.10");
	assert_content("n/last_reserved_ip.0", "10.7.0.10");
	assert_true(inode_of("n/last_reserved_ip.0") == ino);

	snprintf(path, sizeof(path), "%s/n/last_reserved_ip.0", dd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(link(victim, path), 0);
	assert_int_equal(run(CNI_CMD_ADD, "c3", NULL, ip, &err), 0);
	assert_content("victim", "precious");
	assert_content("n/last_reserved_ip.0", ip);
	assert_true(inode_of("n/last_reserved_ip.0") != inode_of("victim"));
	rm_rf(dd);
}

/* Unsafe dataDirs are refused with code 7 naming ipam.dataDir, and nothing is created. */
static void test_store_unsafe_data_dir(void **state)
{
	(void)state;
	char root[] = "/tmp/plexus-hl-dd.XXXXXX";
	assert_non_null(mkdtemp(root));
	char ww[96], ln[96], made[128];
	snprintf(ww, sizeof(ww), "%s/ww", root);
	snprintf(ln, sizeof(ln), "%s/ln", root);
	assert_int_equal(mkdir(ww, 0755), 0);
	assert_int_equal(chmod(ww, 0777), 0);
	assert_int_equal(symlink(root, ln), 0);
	struct {
		const char *data_dir, *want, *not_made;
	} cases[] = {
		{ "ww/data", "' is owned by another user or writable by group or others",
		  "ww/data" },
		{ "ln/data", "' is a symlink", "data" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(conf_buf, sizeof(conf_buf),
			 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":"
			 "\"host-local\",\"dataDir\":\"%s/%s\",\"ranges\":[[{\"subnet\":"
			 "\"10.6.0.0/28\"}]]}}",
			 root, cases[i].data_dir);
		struct cni_err err = { 0 };
		char ip[IP_STR_LEN];
		assert_true(run(CNI_CMD_ADD, "c1", NULL, ip, &err) < 0);
		assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
		if (!strstr(err.msg, "ipam.dataDir: '") || !strstr(err.msg, cases[i].want))
			fail_msg("%s: '%s'", cases[i].data_dir, err.msg);
		snprintf(made, sizeof(made), "%s/%s", root, cases[i].not_made);
		struct stat st;
		assert_int_equal(lstat(made, &st), -1);
	}
	rm_rf(root);
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
	rm_rf(dd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_conf_defaults_v4, teardown),
		cmocka_unit_test_teardown(test_conf_defaults_v6, teardown),
		cmocka_unit_test_teardown(test_conf_every_key, teardown),
		cmocka_unit_test_teardown(test_conf_errors, teardown),
		cmocka_unit_test_teardown(test_conf_range_and_path_errors, teardown),
		cmocka_unit_test_teardown(test_conf_v4_and_v6_at_020, teardown),
		cmocka_unit_test_teardown(test_range_arith, teardown),
		cmocka_unit_test_teardown(test_resolv_conf, teardown),
		cmocka_unit_test_teardown(test_alloc_sequence, teardown),
		cmocka_unit_test_teardown(test_store_crash_residue, teardown),
		cmocka_unit_test_teardown(test_store_last_ip_in_place, teardown),
		cmocka_unit_test_teardown(test_store_unsafe_data_dir, teardown),
		cmocka_unit_test_teardown(test_hook_inprocess, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
