// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the whereabouts IPAM: conf keys and refusals, range math, object names, the
 * pool codec on hostile input, and ADD/DEL/GC against an in-test API (conflicts, outages). */
#include <errno.h>
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
#include "lib/cni/skel.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "whereabouts/internal.h"

#define ARGS "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"

static struct cni_ctx ctx;
static char tmp[64];

static int init_cmd(enum cni_cmd cmd, const char *id, const char *ifname, const char *conf,
		    const char *args, struct cni_err *err)
{
	struct cni_env env = { .cmd = cmd,
			       .container_id = (char *)id,
			       .ifname = (char *)ifname,
			       .path = (char *)"/nonexistent",
			       .args = (char *)args };
	cni_ctx_done(&ctx);
	return cni_ctx_init(&ctx, &env, conf, strlen(conf), &whereabouts_plugin, err);
}

/* {"cniVersion":"1.1.0","name":"wbnet","type":"macvlan","ipam":{"type":"whereabouts",IPAM}} */
static char *netconf(const char *ipam)
{
	return xasprintf("{\"cniVersion\":\"1.1.0\",\"name\":\"wbnet\",\"type\":\"macvlan\","
			 "\"ipam\":{\"type\":\"whereabouts\",%s}}",
			 ipam);
}

static int parse(const char *ipam, const char *root, struct wb_conf *ret, struct cni_err *err)
{
	_cleanup_free_ char *conf = netconf(ipam);
	int r = init_cmd(CNI_CMD_ADD, "c1", "net1", conf, ARGS, err);
	return r < 0 ? r : wb_conf_parse(&ctx, root, ret, err);
}

static void assert_ip(const struct ip_addr *a, const char *want)
{
	char buf[IP_STR_LEN];
	format_ip(a, buf);
	assert_string_equal(buf, want);
}

/* ---- conf ----------------------------------------------------------------------------------- */

static void test_conf_range_forms(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	struct wb_conf c;
	assert_int_equal(
		parse("\"range\":\"192.168.2.225/28\",\"gateway\":\"192.168.2.1\"", NULL, &c, &err),
		0);
	char cidr[IPNET_STR_LEN];
	wb_range_cidr(&c.ranges[0], cidr);
	assert_string_equal(cidr, "192.168.2.224/28");
	assert_ip(&c.ranges[0].first, "192.168.2.225");
	assert_ip(&c.ranges[0].last, "192.168.2.238");
	assert_true(c.overlapping); /* whereabouts' default */
	assert_int_equal(c.timeout_ms, WB_TIMEOUT_MS_DEFAULT);
	wb_conf_done(&c);
	/* start-end form */
	assert_int_equal(parse("\"range\":\"192.168.2.225-192.168.2.230/28\"", NULL, &c, &err), 0);
	assert_ip(&c.ranges[0].first, "192.168.2.225");
	assert_ip(&c.ranges[0].last, "192.168.2.230");
	wb_conf_done(&c);
	/* range_start/range_end, exclude (CIDR and address), dual stack ipRanges */
	assert_int_equal(parse("\"range\":\"10.0.0.0/24\",\"range_start\":\"10.0.0.10\","
			       "\"range_end\":\"10.0.0.20\",\"exclude\":[\"10.0.0.12/31\","
			       "\"10.0.0.15\"],\"ipRanges\":[{\"range\":\"fd00::/64\"}],"
			       "\"network_name\":\"blue\",\"enable_overlapping_ranges\":false",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.n_ranges, 2);
	assert_ip(&c.ranges[0].first, "10.0.0.10");
	assert_ip(&c.ranges[0].last, "10.0.0.20");
	assert_int_equal(c.ranges[0].n_exclude, 2);
	assert_int_equal(c.ranges[0].exclude[1].prefix, 32);
	assert_ip(&c.ranges[1].first, "fd00::1");
	assert_ip(&c.ranges[1].last, "fd00::ffff:ffff:ffff:fffe");
	assert_false(c.overlapping);
	assert_string_equal(c.network_name, "blue");
	wb_conf_done(&c);
	/* /32 and /31 hand out what they have */
	assert_int_equal(parse("\"range\":\"10.9.9.9/32\"", NULL, &c, &err), 0);
	assert_ip(&c.ranges[0].first, "10.9.9.9");
	assert_ip(&c.ranges[0].last, "10.9.9.9");
	wb_conf_done(&c);
}

struct bad_case {
	const char *ipam, *field;
	int code;
};

static void test_conf_bad_input(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ "\"gateway\":\"10.0.0.1\"", "ipam.range", 7 },
		{ "\"range\":\"10.0.0.0/33\"", "ipam.range", 7 },
		{ "\"range\":\"nonsense\"", "ipam.range", 7 },
		{ "\"range\":\"10.0.1.5-10.0.0.9/24\"", "ipam.range", 7 },
		{ "\"range\":\"10.0.0.9-10.0.0.5/24\"", "ipam.range", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"range_start\":\"10.1.0.1\"", "ipam.range_start", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"range_end\":\"x\"", "ipam.range_end", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"exclude\":[\"fd00::/64\"]", "ipam.exclude[0]", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"exclude\":[7]", "ipam.exclude[0]", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"gateway\":\"10.0.0\"", "ipam.gateway", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"network_name\":\"Bad_Name\"", "ipam.network_name",
		  7 },
		{ "\"range\":\"10.0.0.0/24\",\"datastore\":\"etcd\"", "ipam.datastore", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"node_slice_size\":\"/24\"", "ipam.node_slice_size",
		  7 },
		{ "\"range\":\"10.0.0.0/24\",\"node_slice_size\":\"2x\"", "ipam.node_slice_size",
		  7 },
		{ "\"range\":\"10.0.0.0/24\",\"sleep_for_race\":\"1\"", "ipam.sleep_for_race", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"ipRanges\":[{\"range\":\"10.0.0.128/25\"}]",
		  "ipam.ipRanges", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"kubernetes\":{\"kubeconfig\":\"../k\"}",
		  "ipam.kubernetes.kubeconfig", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"configuration_path\":\"/etc/shadow\"",
		  "ipam.configuration_path", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"configuration_path\":"
		  "\"/etc/cni/net.d/whereabouts.d/../../x\"",
		  "ipam.configuration_path", 7 },
		{ "\"range\":\"10.0.0.0/24\",\"apiTimeoutMs\":1", "ipam.apiTimeoutMs", 7 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cni_err err = { 0 };
		struct wb_conf c = { 0 };
		int r = parse(cases[i].ipam, NULL, &c, &err);
		if (r >= 0 || err.code != cases[i].code || !strstr(err.msg, cases[i].field))
			fail_msg("case %zu (%s): r=%d code=%d msg '%s'", i, cases[i].ipam, r,
				 err.code, err.msg);
		wb_conf_done(&c);
	}
}

/* node_slice_size in both of whereabouts' forms; slices, their bounds and pool names. */
static void test_conf_node_slices(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	struct wb_conf c;
	assert_int_equal(
		parse("\"range\":\"10.0.0.0/24\",\"node_slice_size\":\"26\"", NULL, &c, &err), 0);
	assert_int_equal(c.slice_prefix, 26);
	wb_conf_done(&c);
	assert_int_equal(parse("\"range\":\"10.0.0.0/24\",\"range_start\":\"10.0.0.10\","
			       "\"range_end\":\"10.0.0.200\",\"exclude\":[\"10.0.0.70\"],"
			       "\"node_slice_size\":\"/26\"",
			       NULL, &c, &err),
			 0);
	assert_int_equal(c.slice_prefix, 26);
	assert_int_equal(wb_range_n_slices(&c.ranges[0], 26), 4);
	struct ip_net s;
	char buf[IPNET_STR_LEN], name[WB_NAME_MAX];
	assert_int_equal(wb_range_slice(&c.ranges[0], 26, 3, &s), 0);
	format_ipnet(&s, buf);
	assert_string_equal(buf, "10.0.0.192/26");
	assert_int_equal(wb_range_slice(&c.ranges[0], 26, 4, &s), -ERANGE);
	struct wb_range sub = { 0 };
	assert_int_equal(wb_range_sub(&c.ranges[0], &s, &sub), 0);
	assert_ip(&sub.first, "10.0.0.193");
	assert_ip(&sub.last, "10.0.0.200"); /* range_end applies */
	wb_range_done(&sub);
	assert_int_equal(wb_range_slice(&c.ranges[0], 26, 1, &s), 0);
	assert_int_equal(wb_range_sub(&c.ranges[0], &s, &sub), 0);
	assert_ip(&sub.first, "10.0.0.65");
	assert_ip(&sub.last, "10.0.0.126");
	assert_int_equal(sub.n_exclude, 1);
	struct ip_addr ip;
	assert_int_equal(wb_range_first_free(&sub, NULL, NULL, 0, &ip), 1);
	assert_ip(&ip, "10.0.0.65");
	assert_int_equal(wb_slice_ippool_name(&s, "blue", "node-a", name), 0);
	assert_string_equal(name, "blue-node-a-10.0.0.64-26");
	assert_int_equal(wb_slice_ippool_name(&s, NULL, "node-a", name), 0);
	assert_string_equal(name, "node-a-10.0.0.64-26");
	wb_range_done(&sub);
	/* Not an aligned slice of the range, or outside it. */
	assert_int_equal(parse_ipnet("10.0.0.1/26", &s), 0);
	assert_int_equal(wb_range_sub(&c.ranges[0], &s, &sub), -ERANGE);
	assert_int_equal(parse_ipnet("10.0.1.0/26", &s), 0);
	assert_int_equal(wb_range_sub(&c.ranges[0], &s, &sub), -ERANGE);
	wb_conf_done(&c);
}

/* The flat file fills what the NAD leaves out; the NAD wins. */
static void test_conf_flat_file_merge(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/root/etc/cni/net.d/whereabouts.d", tmp);
	assert_int_equal(file_mkdir_p(dir, 0755), 0);
	char path[192], root[96];
	snprintf(path, sizeof(path), "%s/whereabouts.conf", dir);
	snprintf(root, sizeof(root), "%s/root", tmp);
	const char *flat =
		"{\"datastore\":\"kubernetes\",\"kubernetes\":{\"kubeconfig\":"
		"\"/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig\"},"
		"\"gateway\":\"10.0.0.254\",\"reconciler_cron_expression\":\"30 4 * * *\"}";
	assert_int_equal(file_write_atomic(path, flat, strlen(flat), 0644), 0);
	struct cni_err err = { 0 };
	struct wb_conf c;
	assert_int_equal(
		parse("\"range\":\"10.0.0.0/24\",\"gateway\":\"10.0.0.1\"", root, &c, &err), 0);
	assert_string_equal(c.kubeconfig, "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig");
	assert_ip(&c.gateway, "10.0.0.1");
	assert_string_equal(c.flat_file, "/etc/cni/net.d/whereabouts.d/whereabouts.conf");
	wb_conf_done(&c);
}

/* ---- range math and names ------------------------------------------------------------------- */

static void test_range_first_free_order(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	struct wb_conf c;
	assert_int_equal(
		parse("\"range\":\"10.0.0.0/29\",\"exclude\":[\"10.0.0.2/31\"]", NULL, &c, &err),
		0);
	struct wb_alloc a[] = {
		{ .offset = 1, .id = "x", .podref = "a/b", .ifname = "", .valid = true },
		{ .offset = 4, .id = "y", .podref = "a/c", .ifname = "", .valid = true }
	};
	struct wb_pool p = { .allocs = a, .n = 2 };
	struct ip_addr ip, skip;
	assert_int_equal(wb_range_first_free(&c.ranges[0], &p, NULL, 0, &ip), 1);
	assert_ip(&ip, "10.0.0.5"); /* .1 held, .2-.3 excluded, .4 held */
	assert_int_equal(parse_ip("10.0.0.5", &skip), 0);
	assert_int_equal(wb_range_first_free(&c.ranges[0], &p, &skip, 1, &ip), 1);
	assert_ip(&ip, "10.0.0.6");
	struct ip_addr sk2[2] = { skip };
	assert_int_equal(parse_ip("10.0.0.6", &sk2[1]), 0);
	assert_int_equal(wb_range_first_free(&c.ranges[0], &p, sk2, 2, &ip), 0); /* full */
	wb_conf_done(&c);
}

/* A huge IPv6 range excluded almost whole: the scan is bounded by the excludes, not 2^120. */
static void test_range_huge_v6_bounded(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	struct wb_conf c;
	assert_int_equal(parse("\"range\":\"fd00::/8\",\"exclude\":[\"fd00::/9\",\"fd80::/10\","
			       "\"fdc0::/10\"]",
			       NULL, &c, &err),
			 0);
	struct ip_addr ip;
	assert_int_equal(wb_range_first_free(&c.ranges[0], NULL, NULL, 0, &ip), 0);
	wb_conf_done(&c);
	/* Past 2^63 from the network address no allocation key can hold the offset. */
	assert_int_equal(
		parse("\"range\":\"fd00::/8\",\"range_start\":\"fd00::1:0:0:0:0\"", NULL, &c, &err),
		0);
	assert_int_equal(wb_range_first_free(&c.ranges[0], NULL, NULL, 0, &ip), 0);
	wb_conf_done(&c);
}

static void test_names(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	struct wb_conf c;
	char name[WB_NAME_MAX];
	assert_int_equal(parse("\"range\":\"10.0.0.0/24\",\"ipRanges\":[{\"range\":\"fd00::/64\"}]",
			       NULL, &c, &err),
			 0);
	assert_int_equal(wb_pool_name(&c.ranges[0], NULL, name), 0);
	assert_string_equal(name, "10.0.0.0-24");
	assert_int_equal(wb_pool_name(&c.ranges[1], NULL, name), 0);
	assert_string_equal(name, "fd00---64");
	assert_int_equal(wb_pool_name(&c.ranges[0], "blue", name), 0);
	assert_string_equal(name, "blue-10.0.0.0-24");
	struct ip_addr ip;
	assert_int_equal(parse_ip("fd00::", &ip), 0);
	assert_int_equal(wb_orip_name(&ip, NULL, name), 0);
	assert_string_equal(name, "fd00--0");
	assert_int_equal(parse_ip("fd00::a:5", &ip), 0);
	assert_int_equal(wb_orip_name(&ip, "blue", name), 0);
	assert_string_equal(name, "blue-fd00--a-5");
	assert_int_equal(parse_ip("10.0.0.5", &ip), 0);
	assert_int_equal(wb_orip_name(&ip, NULL, name), 0);
	assert_string_equal(name, "10.0.0.5");
	wb_conf_done(&c);
}

/* ---- codec ---------------------------------------------------------------------------------- */

static void test_pool_decode_hostile(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	struct wb_conf c;
	assert_int_equal(parse("\"range\":\"10.0.0.0/24\"", NULL, &c, &err), 0);
	struct wb_pool p;
	const char *ok = "{\"metadata\":{\"resourceVersion\":\"7\"},\"spec\":{\"range\":"
			 "\"10.0.0.0/24\",\"allocations\":{\"5\":{\"id\":\"c5\",\"podref\":"
			 "\"ns/p\",\"ifname\":\"net1\"},\"x\":{},\"-1\":{},\"3\":7,"
			 "\"99999999999999999999\":{},\"2\":{\"id\":1,\"podref\":\"ns/q\"}}}}";
	assert_int_equal(wb_pool_decode(ok, strlen(ok), &c.ranges[0], &p, &err), 0);
	assert_string_equal(p.resource_version, "7");
	assert_int_equal(p.n, 3); /* 2, 3, 5: bad values still hold their offsets */
	assert_true(wb_pool_taken(&p, 2) && wb_pool_taken(&p, 3) && wb_pool_taken(&p, 5));
	assert_false(p.allocs[0].valid || p.allocs[1].valid);
	assert_int_equal(wb_pool_find(&p, "c5", NULL, "net1"), 2);
	assert_int_equal(wb_pool_find(&p, NULL, "ns/p", "net1"), 2);
	assert_int_equal(wb_pool_find(&p, NULL, "ns/q", ""), -1); /* malformed: nobody's */
	struct ip_addr ip;
	assert_int_equal(wb_range_first_free(&c.ranges[0], &p, NULL, 0, &ip), 1);
	assert_ip(&ip, "10.0.0.1");
	/* set/unset keep members we do not know */
	wb_pool_set(&p, 1, "c1", "ns/r", "net1");
	wb_pool_unset(&p, 5);
	_cleanup_free_ char *out = json_print(p.obj);
	assert_non_null(
		strstr(out, "\"1\":{\"id\":\"c1\",\"podref\":\"ns/r\",\"ifname\":\"net1\"}"));
	assert_null(strstr(out, "\"5\":"));
	assert_non_null(strstr(out, "\"x\":{}"));
	wb_pool_done(&p);
	static const char *const bad[] = {
		"[]",
		"{\"spec\":{\"range\":\"10.0.0.0/24\"}}", /* no resourceVersion */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"range\":\"10.0.1.0/24\"}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"range\":\"10.0.0.0/24\","
		"\"allocations\":[]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"range\":5}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"range\":\"10.0.0.0/24\"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cni_err e = { 0 };
		if (wb_pool_decode(bad[i], strlen(bad[i]), &c.ranges[0], &p, &e) >= 0)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(e.code, CNI_ERR_KUBE_API);
	}
	wb_conf_done(&c);
}

/* ---- the plugin against an in-test API --------------------------------------------------------
 */

struct obj {
	char *path, *json;
	unsigned rv;
};

static struct api {
	struct obj objs[64];
	size_t n;
	unsigned rv;
	unsigned conflicts; /* the next PUTs of a pool answer 409 after another writer's change */
	bool down;
	unsigned writes;
} api;

static void api_reset(void)
{
	for (size_t i = 0; i < api.n; i++) {
		free(api.objs[i].path);
		free(api.objs[i].json);
	}
	memset(&api, 0, sizeof(api));
	api.rv = 100;
}

static struct obj *api_find(const char *path)
{
	for (size_t i = 0; i < api.n; i++)
		if (!strcmp(api.objs[i].path, path))
			return &api.objs[i];
	return NULL;
}

/* Store body at path with a new resourceVersion. */
static void api_store(struct obj *o, const char *path, const char *body)
{
	_cleanup_json_ cJSON *j = cJSON_Parse(body);
	cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metadata");
	char rv[16];
	snprintf(rv, sizeof(rv), "%u", ++api.rv);
	cJSON_DeleteItemFromObjectCaseSensitive(m, "resourceVersion");
	cJSON_AddStringToObject(m, "resourceVersion", rv);
	if (!o) {
		o = &api.objs[api.n++];
		*o = (struct obj){ .path = xstrdup(path) };
	}
	free(o->json);
	o->json = json_print(j);
	o->rv = api.rv;
}

static void answer(struct kube_response *resp, long status, const char *body)
{
	resp->status = status;
	resp->body = xstrdup(body ? body : "{}");
	resp->len = strlen(resp->body);
}

static int api_exchange(void *data, const struct kube_config *cfg, const struct kube_request *req,
			const char *token, long timeout_ms, struct kube_response *resp,
			struct cni_err *err)
{
	(void)data, (void)cfg, (void)token, (void)timeout_ms;
	if (api.down)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ECONNREFUSED, "Failed to connect");
	struct obj *o = api_find(req->path);
	if (!strcmp(req->method, "GET")) {
		answer(resp, o ? 200 : 404, o ? o->json : NULL);
		return 0;
	}
	api.writes++;
	_cleanup_json_ cJSON *b =
		req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
	if (!strcmp(req->method, "POST")) {
		const char *name = cJSON_GetStringValue(json_get(json_get(b, "metadata"), "name"));
		_cleanup_free_ char *path = xasprintf("%s/%s", req->path, name);
		if (api_find(path)) {
			answer(resp, 409, "{\"reason\":\"AlreadyExists\"}");
			return 0;
		}
		api_store(NULL, path, req->body);
		answer(resp, 201, api_find(path)->json);
		return 0;
	}
	if (!strcmp(req->method, "DELETE")) {
		if (!o) {
			answer(resp, 404, NULL);
			return 0;
		}
		free(o->path);
		free(o->json);
		*o = api.objs[--api.n];
		answer(resp, 200, NULL);
		return 0;
	}
	/* PUT */
	const char *rv = cJSON_GetStringValue(json_get(json_get(b, "metadata"), "resourceVersion"));
	if (!o) {
		answer(resp, 404, NULL);
		return 0;
	}
	if (api.conflicts && strstr(req->path, "/ippools/")) {
		api.conflicts--;
		api_store(o, req->path, o->json); /* another writer */
	}
	if (!rv || strtoul(rv, NULL, 10) != o->rv) {
		answer(resp, 409, "{\"reason\":\"Conflict\"}");
		return 0;
	}
	api_store(o, req->path, req->body);
	answer(resp, 200, o->json);
	return 0;
}

static const struct kube_transport_ops api_ops = { .exchange = api_exchange };

static const char *ipam_conf(void)
{
	static char buf[512];
	snprintf(buf, sizeof(buf),
		 "\"range\":\"10.5.0.0/29\",\"gateway\":\"10.5.0.1\",\"exclude\":[\"10.5.0.1\"],"
		 "\"kubernetes\":{\"kubeconfig\":\"%s/kubeconfig\"}",
		 tmp);
	return buf;
}

static int run(enum cni_cmd cmd, const char *id, const char *args, struct cni_result **ret,
	       struct cni_err *err)
{
	_cleanup_free_ char *conf = netconf(ipam_conf());
	int r = init_cmd(cmd, id, "net1", conf, args, err);
	if (r < 0)
		return r;
	switch (cmd) {
	case CNI_CMD_ADD:
		return whereabouts_plugin.add(&ctx, ret, err);
	case CNI_CMD_DEL:
		return whereabouts_plugin.del(&ctx, err);
	case CNI_CMD_CHECK:
		return whereabouts_plugin.check(&ctx, err);
	default:
		return whereabouts_plugin.gc(&ctx, err);
	}
}

static char *add_ip(const char *id, const char *pod)
{
	_cleanup_free_ char *args = xasprintf("K8S_POD_NAMESPACE=default;K8S_POD_NAME=%s", pod);
	struct cni_result *res = NULL;
	struct cni_err err = { 0 };
	if (run(CNI_CMD_ADD, id, args, &res, &err) < 0)
		fail_msg("ADD %s: %s", id, err.msg);
	assert_int_equal(res->n_ips, 1);
	char s[IPNET_STR_LEN];
	format_ipnet(&res->ips[0].address, s);
	assert_int_equal(res->ips[0].gateway.family, AF_INET);
	cni_result_free(res);
	return xstrdup(s);
}

static const char *pool_json(void)
{
	struct obj *o = api_find("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/"
				 "ippools/10.5.0.0-29");
	return o ? o->json : "";
}

static bool journal_has(const char *id)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/journal/%s@net1.json", tmp, id);
	return access(p, F_OK) == 0;
}

static void test_plugin_add_del_shapes(void **state)
{
	(void)state;
	api_reset();
	_cleanup_free_ char *a = add_ip("ca", "web-0");
	_cleanup_free_ char *b = add_ip("cb", "web-1");
	assert_string_equal(a, "10.5.0.2/29"); /* .1 excluded (the gateway) */
	assert_string_equal(b, "10.5.0.3/29");
	assert_non_null(strstr(pool_json(), "\"range\":\"10.5.0.0/29\",\"allocations\":{\"2\":{"
					    "\"id\":\"ca\",\"podref\":\"default/web-0\",\"ifname\":"
					    "\"net1\"},\"3\":{\"id\":\"cb\""));
	struct obj *orip = api_find("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/"
				    "kube-system/overlappingrangeipreservations/10.5.0.2");
	assert_non_null(orip);
	assert_non_null(strstr(orip->json, "\"kind\":\"OverlappingRangeIPReservation\""));
	assert_non_null(strstr(orip->json, "\"spec\":{\"containerid\":\"ca\",\"podref\":"
					   "\"default/web-0\",\"ifname\":\"net1\"}"));
	assert_true(journal_has("ca"));
	/* A repeated ADD of the same pod interface gets the same address, writing nothing. */
	unsigned w = api.writes;
	_cleanup_free_ char *a2 = add_ip("ca", "web-0");
	assert_string_equal(a2, a);
	assert_int_equal(api.writes, w);
	struct cni_err err = { 0 };
	assert_int_equal(run(CNI_CMD_CHECK, "ca", ARGS, NULL, &err), 0);
	assert_int_equal(run(CNI_CMD_DEL, "ca", ARGS, NULL, &err), 0);
	assert_null(strstr(pool_json(), "\"ca\""));
	assert_null(api_find("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/"
			     "overlappingrangeipreservations/10.5.0.2"));
	assert_false(journal_has("ca"));
	assert_int_equal(run(CNI_CMD_CHECK, "ca", ARGS, NULL, &err), -ENOENT);
	/* DEL again: nothing to do, success */
	assert_int_equal(run(CNI_CMD_DEL, "ca", ARGS, NULL, &err), 0);
	/* The freed address is the lowest again. */
	_cleanup_free_ char *c = add_ip("cc", "web-2");
	assert_string_equal(c, "10.5.0.2/29");
}

static void test_plugin_exhausted_names_range(void **state)
{
	(void)state;
	api_reset();
	for (int i = 0; i < 5; i++) {
		char id[8], pod[16];
		snprintf(id, sizeof(id), "x%d", i);
		snprintf(pod, sizeof(pod), "p-%d", i);
		free(add_ip(id, pod));
	}
	struct cni_err err = { 0 };
	struct cni_result *res = NULL;
	assert_int_equal(
		run(CNI_CMD_ADD, "x9", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p-9", &res, &err),
		-ENOSPC);
	assert_non_null(strstr(err.msg, "10.5.0.0/29"));
	assert_int_equal(err.code, CNI_ERR_IPAM);
	assert_false(journal_has("x9") && strstr(pool_json(), "\"x9\""));
}

static void test_plugin_conflicts_converge(void **state)
{
	(void)state;
	api_reset();
	free(add_ip("ca", "web-0"));
	api.conflicts = 5;
	_cleanup_free_ char *b = add_ip("cb", "web-1");
	assert_string_equal(b, "10.5.0.3/29");
	assert_int_equal(api.conflicts, 0);
}

/* The API down: ADD fails with code 11 leaving nothing; DEL succeeds and keeps the journal
 * entry, which GC releases once the API is back. */
static void test_plugin_api_down(void **state)
{
	(void)state;
	api_reset();
	free(add_ip("ca", "web-0"));
	api.down = true;
	struct cni_err err = { 0 };
	struct cni_result *res = NULL;
	assert_true(run(CNI_CMD_ADD, "cb", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1", &res,
			&err) < 0);
	assert_int_equal(err.code, CNI_ERR_TRY_AGAIN);
	assert_int_equal(run(CNI_CMD_DEL, "ca", ARGS, NULL, &err), 0);
	assert_true(journal_has("ca"));
	api.down = false;
	assert_non_null(strstr(pool_json(), "\"ca\""));
	/* GC with ca not valid releases it; a valid attachment stays. */
	free(add_ip("cv", "web-5"));
	_cleanup_free_ char *conf = xasprintf(
		"{\"cniVersion\":\"1.1.0\",\"name\":\"wbnet\",\"type\":\"macvlan\",\"ipam\":{"
		"\"type\":\"whereabouts\",%s},\"cni.dev/valid-attachments\":[{\"containerID\":"
		"\"cv\",\"ifname\":\"net1\"}]}",
		ipam_conf());
	assert_int_equal(init_cmd(CNI_CMD_GC, NULL, NULL, conf, NULL, &err), 0);
	assert_int_equal(whereabouts_plugin.gc(&ctx, &err), 0);
	assert_null(strstr(pool_json(), "\"ca\""));
	assert_non_null(strstr(pool_json(), "\"cv\""));
	assert_false(journal_has("ca"));
	assert_true(journal_has("cv"));
}

/* A claim of the address by another range's pool: the next one is taken. */
static void test_plugin_overlapping_claim_skips(void **state)
{
	(void)state;
	api_reset();
	const char *other =
		"{\"apiVersion\":\"whereabouts.cni.cncf.io/v1alpha1\",\"kind\":"
		"\"OverlappingRangeIPReservation\",\"metadata\":{\"name\":\"10.5.0.2\"},"
		"\"spec\":{\"containerid\":\"zz\",\"podref\":\"other/pod\"}}";
	api_store(NULL,
		  "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/"
		  "overlappingrangeipreservations/10.5.0.2",
		  other);
	_cleanup_free_ char *a = add_ip("ca", "web-0");
	assert_string_equal(a, "10.5.0.3/29");
	/* DEL leaves the other pod's claim alone */
	struct cni_err err = { 0 };
	assert_int_equal(run(CNI_CMD_DEL, "ca", ARGS, NULL, &err), 0);
	assert_non_null(api_find("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/"
				 "overlappingrangeipreservations/10.5.0.2"));
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/plexus-wb-test.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	char p[128];
	snprintf(p, sizeof(p), "%s/kubeconfig", tmp);
	const char *kc = "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n"
			 "    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n"
			 "    token: t\ncontexts:\n- name: t\n  context: {cluster: t, user: u}\n"
			 "current-context: t\n";
	assert_int_equal(file_write_atomic(p, kc, strlen(kc), 0600), 0);
	snprintf(p, sizeof(p), "%s/journal", tmp);
	setenv("PLEXUS_WHEREABOUTS_DIR", p, 1);
	wb_test_ops = &api_ops;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cni_ctx_done(&ctx);
	api_reset();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_range_forms),
		cmocka_unit_test(test_conf_bad_input),
		cmocka_unit_test(test_conf_flat_file_merge),
		cmocka_unit_test(test_conf_node_slices),
		cmocka_unit_test(test_range_first_free_order),
		cmocka_unit_test(test_range_huge_v6_bounded),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_pool_decode_hostile),
		cmocka_unit_test(test_plugin_add_del_shapes),
		cmocka_unit_test(test_plugin_exhausted_names_range),
		cmocka_unit_test(test_plugin_conflicts_converge),
		cmocka_unit_test(test_plugin_api_down),
		cmocka_unit_test(test_plugin_overlapping_claim_skips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
