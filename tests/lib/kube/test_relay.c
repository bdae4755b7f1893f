// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the API relay client (lib/kube/relay.c): the request filter, the answer parser
 * and the transport against an in-test Unix-socket daemon, including the libcurl fallback. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/relay.h"
#include "lib/util/cleanup.h"

#define MERGE "application/merge-patch+json"
#define POD_PATH "/api/v1/namespaces/default/pods/web-0"
#define NAD_PATH "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/"
#define WB_PATH "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/"
#define JSON "application/json"

/* ---- kube_relay_allowed -------------------------------------------------------------------- */

struct allow_case {
	const char *method, *path, *ctype;
};

#define RES "/apis/resource.k8s.io/v1"
#define CLAIM RES "/namespaces/default/resourceclaims/web-0-vf-x7k2p"
#define SLICES RES "/resourceslices?fieldSelector=spec.nodeName="

static const struct allow_case allowed[] = {
	{ "GET", POD_PATH, NULL },
	{ "GET", "/api/v1/namespaces/kube-system/pods/coredns-5d78c9869d-abcde", NULL },
	{ "PATCH", "/api/v1/namespaces/ns1/pods/web-0.x/status", MERGE },
	{ "PATCH", "/api/v1/namespaces/default/pods/web-0/status", MERGE },
	{ "GET", NAD_PATH "macvlan-conf", NULL },
	{ "GET", NAD_PATH "sriov.net-a", NULL }, /* NAD names are subdomains */
	{ "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/a/network-attachment-definitions/b", NULL },
	{ "POST", "/api/v1/namespaces/default/events", "application/json" },
	{ "GET", WB_PATH "ippools/10.0.0.0-24", NULL },
	{ "PUT", WB_PATH "ippools/blue-fd00---64", JSON },
	{ "POST", WB_PATH "ippools", JSON },
	{ "GET", WB_PATH "overlappingrangeipreservations/10.0.0.5", NULL },
	{ "POST", WB_PATH "overlappingrangeipreservations", JSON },
	{ "PUT", WB_PATH "overlappingrangeipreservations/fd00--5", JSON },
	{ "DELETE", WB_PATH "overlappingrangeipreservations/10.0.0.5", NULL },
	/* a pod's ResourceClaims and this node's ResourceSlices (docs/dra.md) */
	{ "GET", CLAIM, NULL },
	{ "GET", RES "/namespaces/kube-system/resourceclaims/a.b", NULL },
	{ "PATCH", CLAIM "/status", MERGE },
	{ "GET", SLICES "node-1", NULL },
	{ "GET", SLICES "worker.example.com", NULL },
};

static void test_relay_allowed_accepts(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
		const struct allow_case *c = &allowed[i];
		if (!kube_relay_allowed(c->method, c->path, c->ctype))
			fail_msg("refused: %s %s (%s)", c->method, c->path,
				 c->ctype ? c->ctype : "-");
	}
}

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L64 L63 "a"

static const struct allow_case refused[] = {
	/* methods */
	{ "DELETE", POD_PATH, NULL },
	{ "POST", POD_PATH, NULL },
	{ "PUT", POD_PATH, NULL },
	{ "HEAD", POD_PATH, NULL },
	{ "get", POD_PATH, NULL },
	{ "GET ", POD_PATH, NULL },
	{ "", POD_PATH, NULL },
	{ "patch", POD_PATH "/status", MERGE },
	{ "PUT", POD_PATH "/status", MERGE },
	{ "DELETE", NAD_PATH "macvlan-conf", NULL },
	{ "PATCH", NAD_PATH "macvlan-conf", MERGE },
	/* events: only POST of a new one, as JSON, in a namespace */
	{ "POST", "/api/v1/namespaces/default/events", NULL },
	{ "POST", "/api/v1/namespaces/default/events", MERGE },
	{ "PATCH", "/api/v1/namespaces/default/events/web-0.1", MERGE },
	{ "POST", "/api/v1/namespaces/default/events/web-0.1", "application/json" },
	{ "POST", "/api/v1/events", "application/json" },
	{ "POST", "/api/v1/namespaces/Default/events", "application/json" },
	{ "POST", "/api/v1/namespaces/default/events?dryRun=All", "application/json" },
	{ "GET", "/api/v1/namespaces/default/events", NULL },
	/* content types */
	{ "PATCH", POD_PATH "/status", NULL },
	{ "PATCH", POD_PATH "/status", "" },
	{ "PATCH", POD_PATH "/status", "application/json-patch+json" },
	{ "PATCH", POD_PATH "/status", "application/strategic-merge-patch+json" },
	{ "PATCH", POD_PATH "/status", "application/json" },
	{ "PATCH", POD_PATH "/status", MERGE "; charset=utf-8" },
	{ "PATCH", POD_PATH "/status", "APPLICATION/MERGE-PATCH+JSON" },
	{ "GET", POD_PATH, MERGE },
	{ "GET", POD_PATH, "" },
	{ "GET", NAD_PATH "macvlan-conf", "application/json" },
	/* the pod itself is only read, its status only patched */
	{ "PATCH", POD_PATH, MERGE },
	{ "GET", POD_PATH "/status", NULL },
	{ "PATCH", POD_PATH "/log", MERGE },
	{ "GET", POD_PATH "/exec", NULL },
	{ "PATCH", POD_PATH "/status/x", MERGE },
	/* other resources */
	{ "GET", "/api/v1/namespaces/default/secrets/token", NULL },
	{ "GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", NULL },
	{ "GET", "/api/v1/namespaces/default/serviceaccounts/default", NULL },
	{ "GET", "/api/v1/nodes/node-1", NULL },
	{ "PATCH", "/api/v1/nodes/node-1/status", MERGE },
	/* cluster-scoped or collections */
	{ "GET", "/api/v1/pods", NULL },
	{ "GET", "/api/v1/namespaces/default/pods", NULL },
	{ "GET", "/api/v1/namespaces/default", NULL },
	{ "GET", "/api/v1/namespaces", NULL },
	{ "GET", "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions", NULL },
	{ "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions",
	  NULL },
	{ "GET", "/", NULL },
	{ "GET", "/api", NULL },
	/* other groups and versions */
	{ "GET", "/api/v2/namespaces/default/pods/web-0", NULL },
	{ "GET", "/apis/v1/namespaces/default/pods/web-0", NULL },
	{ "GET",
	  "/apis/k8s.cni.cncf.io/v1beta1/namespaces/default/network-attachment-definitions/m",
	  NULL },
	{ "GET", "/apis/k8s.cni.cncf.io/v2/namespaces/default/network-attachment-definitions/m",
	  NULL },
	{ "GET", "/apis/cni.cncf.io/v1/namespaces/default/network-attachment-definitions/m", NULL },
	{ "GET", "/apis/apps/v1/namespaces/default/deployments/web", NULL },
	{ "GET", "/api/v1/namespaces/default/network-attachment-definitions/m", NULL },
	{ "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/default/pods/web-0", NULL },
	/* query strings, fragments, escapes */
	{ "GET", POD_PATH "?watch=true", NULL },
	{ "GET", POD_PATH "?", NULL },
	{ "GET", POD_PATH "#frag", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web%2F0", NULL },
	{ "GET", "/api/v1/namespaces/default%2Fpods/web-0", NULL },
	{ "PATCH", POD_PATH "/status?dryRun=All", MERGE },
	{ "GET", NAD_PATH "m?x", NULL },
	/* dot components */
	{ "GET", "/api/v1/namespaces/default/pods/..", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/.", NULL },
	{ "GET", "/api/v1/namespaces/../pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces/./pods/web-0", NULL },
	{ "GET", "/api/v1/./namespaces/default/pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web-0/..", NULL },
	{ "PATCH", "/api/v1/namespaces/default/pods/web-0/./status", MERGE },
	{ "PATCH", "/api/v1/namespaces/default/pods/web-0/status/..", MERGE },
	{ "GET", "/api/v1/namespaces/default/pods/../../nodes/x", NULL },
	{ "GET", NAD_PATH "..", NULL },
	{ "GET", NAD_PATH ".", NULL },
	/* empty components, trailing slash, extra components */
	{ "GET", "//api/v1/namespaces/default/pods/web-0", NULL },
	{ "GET", "/api//v1/namespaces/default/pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces//pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods//web-0", NULL },
	{ "GET", POD_PATH "/", NULL },
	{ "GET", POD_PATH "//", NULL },
	{ "PATCH", POD_PATH "/status/", MERGE },
	{ "PATCH", POD_PATH "//status", MERGE },
	{ "GET", NAD_PATH "macvlan-conf/", NULL },
	{ "GET", NAD_PATH "macvlan-conf/status", NULL },
	{ "GET", NAD_PATH "/macvlan-conf", NULL },
	{ "GET", POD_PATH "/a/b", NULL },
	{ "GET", "/x" POD_PATH, NULL },
	/* invalid DNS names */
	{ "GET", "/api/v1/namespaces/default/pods/Web-0", NULL },
	{ "GET", "/api/v1/namespaces/Default/pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web_0", NULL },
	{ "GET", "/api/v1/namespaces/de_fault/pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/-web", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web-", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web..0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/.web", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web.", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web 0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web\n0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/w\xc3\xa9", NULL },
	{ "GET", "/api/v1/namespaces/a.b/pods/web-0", NULL }, /* namespaces are labels */
	{ "GET", "/api/v1/namespaces/" L64 "/pods/web-0", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/" L64, NULL },
	{ "GET", "/api/v1/namespaces/default/pods/a." L64, NULL },
	{ "GET", NAD_PATH L64, NULL },
	{ "GET", NAD_PATH "a..b", NULL }, /* NAD names are subdomains: no empty label */
	{ "GET", NAD_PATH "Macvlan", NULL },
	{ "GET", NAD_PATH "mac_vlan", NULL },
	{ "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/" L64 "/network-attachment-definitions/m",
	  NULL },
	{ "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/A/network-attachment-definitions/m", NULL },
	/* whereabouts: only its two kinds, its verbs, its namespace */
	{ "DELETE", WB_PATH "ippools/10.0.0.0-24", NULL },
	{ "PATCH", WB_PATH "ippools/10.0.0.0-24", "application/json-patch+json" },
	{ "PUT", WB_PATH "ippools/10.0.0.0-24", NULL },
	{ "POST", WB_PATH "ippools/10.0.0.0-24", JSON },
	{ "PUT", WB_PATH "ippools", JSON },
	{ "GET", WB_PATH "ippools", NULL }, /* no LIST */
	{ "DELETE", WB_PATH "overlappingrangeipreservations", NULL },
	{ "GET", WB_PATH "nodeslicepools/x", NULL },
	{ "GET", WB_PATH "ippools/Bad_Name", NULL },
	{ "GET", "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/default/ippools/x", NULL },
	{ "GET", "/apis/whereabouts.cni.cncf.io/v1/namespaces/kube-system/ippools/x", NULL },
	{ "GET", WB_PATH "ippools/x/status", NULL },
	{ "GET", WB_PATH "ippools/x", JSON },
	/* not absolute */
	{ "GET", "", NULL },
	{ "GET", "api/v1/namespaces/default/pods/web-0", NULL },
	{ "GET", " /api/v1/namespaces/default/pods/web-0", NULL },
	{ "GET", "https://x/api/v1/namespaces/default/pods/web-0", NULL },
	/* ResourceClaims and ResourceSlices: nothing but the three requests */
	{ "PATCH", CLAIM, MERGE },				     /* the claim, not its status */
	{ "PUT", CLAIM "/status", "application/json" },		     /* only PATCH */
	{ "PATCH", CLAIM "/status", "application/json-patch+json" }, /* only a merge patch */
	{ "PATCH", CLAIM "/status", NULL },
	{ "GET", CLAIM, MERGE },
	{ "DELETE", CLAIM, NULL },
	{ "POST", RES "/namespaces/default/resourceclaims", "application/json" },
	{ "GET", RES "/namespaces/default/resourceclaims", NULL }, /* no LIST of claims */
	{ "GET", RES "/resourceclaims", NULL },
	{ "GET", RES "/namespaces/Default/resourceclaims/x", NULL },
	{ "GET", RES "/namespaces/default/resourceclaims/X", NULL },
	{ "GET", RES "/namespaces/default/resourceclaims/x/status", NULL },
	{ "GET", RES "/namespaces/default/resourceclaims/x?watch=1", NULL },
	{ "GET", RES "/namespaces/default/resourceclaims/x%2F..", NULL },
	{ "GET", "/apis/resource.k8s.io/v1beta1/namespaces/default/resourceclaims/x", NULL },
	{ "GET", RES "/namespaces/default/deviceclasses/x", NULL },
	{ "GET", RES "/resourceslices", NULL }, /* every node's slices */
	{ "GET", RES "/resourceslices/node-1-pool-0", NULL },
	{ "GET", SLICES, NULL },
	{ "GET", SLICES "node-1&watch=1", NULL },
	{ "GET", SLICES "node-1%26watch=1", NULL },
	{ "GET", SLICES "node-1#x", NULL },
	{ "GET", SLICES "Node-1", NULL },
	{ "GET", SLICES "node-1,spec.driver=x", NULL },
	{ "GET", RES "/resourceslices?fieldSelector=spec.driver=x", NULL },
	{ "GET", RES "/resourceslices?watch=1&fieldSelector=spec.nodeName=node-1", NULL },
	{ "PATCH", SLICES "node-1", MERGE },
	{ "GET", SLICES "node-1", "application/json" },
	{ "DELETE", SLICES "node-1", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/web-0?fieldSelector=spec.nodeName=node-1", NULL },
};

static void test_relay_allowed_refuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		const struct allow_case *c = &refused[i];
		if (kube_relay_allowed(c->method, c->path, c->ctype))
			fail_msg("allowed: '%s' '%s' (%s)", c->method, c->path,
				 c->ctype ? c->ctype : "-");
	}
}

static void test_relay_allowed_null_arguments(void **state)
{
	(void)state;
	assert_false(kube_relay_allowed(NULL, POD_PATH, NULL));
	assert_false(kube_relay_allowed("GET", NULL, NULL));
	assert_false(kube_relay_allowed(NULL, NULL, NULL));
	assert_false(kube_relay_allowed(NULL, POD_PATH "/status", MERGE));
}

/* A pod name at the 253-byte subdomain limit passes; one byte more does not. */
static void test_relay_allowed_name_limits(void **state)
{
	(void)state;
	char name[300], path[600];
	(void)snprintf(name, sizeof(name), "%s.%s.%s.%.61s", L63, L63, L63, L63);
	assert_int_equal(strlen(name), 253);
	(void)snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", L63, name);
	assert_true(kube_relay_allowed("GET", path, NULL));
	(void)snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", L63, name);
	assert_true(kube_relay_allowed("PATCH", path, MERGE));
	(void)snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%sa", name);
	assert_false(kube_relay_allowed("GET", path, NULL));
	(void)snprintf(path, sizeof(path), NAD_PATH "%s", L63);
	assert_true(kube_relay_allowed("GET", path, NULL));
}

/* Paths of 511 bytes and more: refused without overrunning the filter's buffer (ASan). */
static void test_relay_allowed_long_paths(void **state)
{
	(void)state;
	for (size_t len = 500; len <= 1100; len++) {
		char *p = xmalloc(len + 1);
		memset(p, 'a', len);
		memcpy(p, POD_PATH "/", sizeof(POD_PATH));
		p[len] = '\0';
		assert_false(kube_relay_allowed("GET", p, NULL));
		/* Valid components repeated past the limit. */
		for (size_t i = 0; i < len; i++)
			p[i] = "/a"[i % 2];
		assert_false(kube_relay_allowed("GET", p, NULL));
		free(p);
	}
	/* A huge path of valid-looking components. */
	size_t big = 1 << 16;
	char *p = xmalloc(big + 1);
	for (size_t i = 0; i < big; i++)
		p[i] = "/api/v1"[i % 7];
	p[big] = '\0';
	assert_false(kube_relay_allowed("GET", p, NULL));
	free(p);
}

/* ---- Dynamic Resource Allocation: claims and this node's slices ---------------------------- */

static void test_relay_is_claim_status(void **state)
{
	(void)state;
	assert_true(kube_relay_is_claim_status("PATCH", CLAIM "/status"));
	assert_false(kube_relay_is_claim_status("PATCH", CLAIM));
	assert_false(kube_relay_is_claim_status("GET", CLAIM "/status"));
	assert_false(kube_relay_is_claim_status("PATCH", POD_PATH "/status"));
	assert_false(kube_relay_is_claim_status(NULL, NULL));
}

#define DEV \
	"{\"driver\":\"sriov.plexus.io\",\"pool\":\"n1-plexus.io-vf\",\"device\":\"0000-5e-02-1\""
static void test_relay_check_claim(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	static const char *const good[] = {
		"{\"metadata\":{\"resourceVersion\":\"12\"},\"status\":{\"devices\":[]}}",
		"{\"metadata\":{\"resourceVersion\":\"12\"},\"status\":{\"devices\":[" DEV
		",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"networkData\":"
		"{\"interfaceName\":\"net1\",\"ips\":[\"10.0.0.2/24\"],\"hardwareAddress\":"
		"\"02:00:00:00:00:01\"}}," DEV ",\"shareID\":\"s\",\"data\":{}}]}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (kube_relay_check_claim(good[i], &err) != 0)
			fail_msg("case %zu refused: %s", i, err.msg);
	static const char *const bad[] = {
		NULL,
		"",
		"[]",
		"{\"status\":{\"devices\":[]}}", /* no resourceVersion guard */
		"{\"metadata\":{\"resourceVersion\":12},\"status\":{\"devices\":[]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\",\"labels\":{}},\"status\":{\"devices\":[]"
		"}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":[]},\"spec\":{}"
		"}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":[],"
		"\"allocation\":null}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"reservedFor\":[]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":{}}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":[1]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":[{\"driver\":"
		"\"d\",\"pool\":\"p\"}]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":[" DEV
		",\"allocation\":{}}]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"status\":{\"devices\":[{\"driver\":"
		"\"\",\"pool\":\"p\",\"device\":\"d\"}]}}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"Status\":{\"devices\":[]}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err = (struct cni_err){ 0 };
		if (kube_relay_check_claim(bad[i], &err) != -EPERM)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.code, 101);
	}
	assert_non_null(strstr(err.msg, "resource claim's status"));
	/* Neither check passes the other's body. */
	assert_int_equal(kube_relay_check_body("PATCH", POD_PATH "/status", good[0], &err), -EPERM);
	assert_int_equal(kube_relay_check_claim("{\"metadata\":{\"annotations\":{\"k8s.v1.cni."
						"cncf.io/network-status\":\"[]\"}}}",
						&err),
			 -EPERM);
}

/* ---- kube_relay_parse_answer --------------------------------------------------------------- */

#define SOCK "/run/plexus/test.sock"

/* Parse from an exact-size heap copy (no NUL after it), so ASan sees any over-read. */
static int parse(const char *buf, size_t len, struct kube_response *resp, struct cni_err *err)
{
	*resp = (struct kube_response){ .retry_after = -1 };
	*err = (struct cni_err){ 0 };
	char *copy = xmalloc(len ? len : 1);
	if (len)
		memcpy(copy, buf, len);
	int r = kube_relay_parse_answer(SOCK, copy, len, resp, err);
	free(copy);
	return r;
}

#define PARSE(lit, resp, err) parse(lit, sizeof(lit) - 1, resp, err)

static void test_relay_parse_ok_with_body(void **state)
{
	(void)state;
	static const char body[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-0\"}}";
	struct kube_response resp;
	struct cni_err err;
	assert_int_equal(PARSE("{\"status\":200,\"retryAfter\":7}\n"
			       "{\"kind\":\"Pod\",\"metadata\":"
			       "{\"name\":\"web-0\"}}",
			       &resp, &err),
			 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.retry_after, 7);
	assert_int_equal(resp.len, sizeof(body) - 1);
	assert_non_null(resp.body);
	assert_memory_equal(resp.body, body, sizeof(body)); /* NUL-terminated too */
	kube_response_done(&resp);
	assert_null(resp.body);
}

static void test_relay_parse_retry_after(void **state)
{
	(void)state;
	static const struct {
		const char *header;
		long status, retry_after;
	} cases[] = {
		{ "{\"status\":200,\"retryAfter\":-1}\n", 200, -1 },
		{ "{\"status\":200}\n", 200, -1 },
		{ "{\"retryAfter\":3,\"status\":429}\n", 429, 3 },
		{ "{\"status\":429,\"retryAfter\":0}\n", 429, 0 },
		{ "{\"status\":429,\"retryAfter\":\"3\"}\n", 429, -1 },
		{ "{\"status\":429,\"retryAfter\":null}\n", 429, -1 },
		{ "{\"status\":503,\"retryAfter\":120}\n", 503, 120 },
		{ "{\"status\":429,\"retryAfter\":86400}\n", 429, 86400 },
		/* Beyond a day, or past LONG_MAX (curl accepts such a header): as absent. */
		{ "{\"status\":429,\"retryAfter\":86401}\n", 429, -1 },
		{ "{\"status\":429,\"retryAfter\":9223372036854775807}\n", 429, -1 },
		{ "{\"status\":429,\"retryAfter\":1e300}\n", 429, -1 },
		{ "{\"status\":429,\"retryAfter\":-5}\n", 429, -1 },
		{ "{\"status\":100}\n", 100, -1 },
		{ "{\"status\":599}\n", 599, -1 },
		{ "  {\"status\":204}  \n", 204, -1 },
		{ "{\"status\":2e2}\n", 200, -1 },
		{ "{\"status\":200,\"extra\":{\"x\":[1,2]}}\n", 200, -1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kube_response resp;
		struct cni_err err;
		int r = parse(cases[i].header, strlen(cases[i].header), &resp, &err);
		if (r != 0)
			fail_msg("'%s': %d %s", cases[i].header, r, err.msg);
		assert_int_equal(resp.status, cases[i].status);
		assert_int_equal(resp.retry_after, cases[i].retry_after);
		assert_int_equal(resp.len, 0);
		assert_non_null(resp.body);
		assert_string_equal(resp.body, "");
		kube_response_done(&resp);
	}
}

static void test_relay_parse_404_status_body(void **state)
{
	(void)state;
	static const char body[] =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		"\"message\":\"pods \\\"web-0\\\" not found\",\"reason\":\"NotFound\",\"details\":"
		"{\"name\":\"web-0\",\"kind\":\"pods\"},\"code\":404}\n";
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "{\"status\":404,\"retryAfter\":-1}\n%s", body);
	struct kube_response resp;
	struct cni_err err;
	assert_int_equal(parse(buf, (size_t)n, &resp, &err), 0);
	assert_int_equal(resp.status, 404);
	assert_int_equal(resp.retry_after, -1);
	assert_int_equal(resp.len, sizeof(body) - 1);
	assert_string_equal(resp.body, body);
	/* The status mapping stays in the plugin and reads the Status body as usual. */
	struct cni_err e2 = { 0 };
	assert_int_equal(kube_http_status_err(resp.status, resp.body, resp.len,
					      "get pods/default/web-0", &e2),
			 -ENOENT);
	assert_non_null(strstr(e2.msg, "not found"));
	kube_response_done(&resp);
}

static void test_relay_parse_empty_body(void **state)
{
	(void)state;
	struct kube_response resp;
	struct cni_err err;
	assert_int_equal(PARSE("{\"status\":200,\"retryAfter\":-1}\n", &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.len, 0);
	assert_non_null(resp.body);
	assert_int_equal(resp.body[0], '\0');
	kube_response_done(&resp);
}

/* Only the first newline ends the header: the body is bytes, NULs and newlines included. */
static void test_relay_parse_binary_body(void **state)
{
	(void)state;
	static const char answer[] = "{\"status\":200}\n\0a\nb\0\n\n\xff\x01{\"status\":500}\n\0";
	static const char body[] = "\0a\nb\0\n\n\xff\x01{\"status\":500}\n\0";
	struct kube_response resp;
	struct cni_err err;
	assert_int_equal(parse(answer, sizeof(answer) - 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.len, sizeof(body) - 1);
	assert_memory_equal(resp.body, body, sizeof(body) - 1);
	assert_int_equal(resp.body[resp.len], '\0');
	kube_response_done(&resp);

	/* A large body is copied whole. */
	size_t big = 3u << 20;
	char *buf = xmalloc(big);
	static const char hdr[] = "{\"status\":200}\n";
	memcpy(buf, hdr, sizeof(hdr) - 1);
	for (size_t i = sizeof(hdr) - 1; i < big; i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(parse(buf, big, &resp, &err), 0);
	assert_int_equal(resp.len, big - (sizeof(hdr) - 1));
	assert_memory_equal(resp.body, buf + sizeof(hdr) - 1, resp.len);
	kube_response_done(&resp);
	free(buf);
}

static void test_relay_parse_error_answer(void **state)
{
	(void)state;
	struct kube_response resp;
	struct cni_err err;
	int r = PARSE("{\"error\":{\"code\":11,\"errno\":110,\"msg\":\"get pods/default/web-0: "
		      "Connection timed out after 5001 milliseconds (curl 28)\"}}\n",
		      &resp, &err);
	assert_true(r < 0);
	assert_int_equal(r, -110);
	assert_int_equal(err.code, 11);
	assert_int_equal(err.sys, 110);
	assert_non_null(strstr(err.msg, "Connection timed out after 5001 milliseconds (curl 28)"));
	assert_non_null(strstr(err.msg, "(via the API relay)"));
	assert_null(resp.body);
	kube_response_done(&resp);

	/* An error wins over a status in the same header; a body after it is ignored. */
	r = PARSE("{\"status\":200,\"error\":{\"code\":101,\"errno\":13,\"msg\":\"forbidden\"}}\n"
		  "body",
		  &resp, &err);
	assert_int_equal(r, -13);
	assert_int_equal(err.code, 101);
	assert_int_equal(err.sys, 13);
	assert_string_equal(err.msg, "forbidden (via the API relay)");
	assert_null(resp.body);
	kube_response_done(&resp);

	/* A message longer than cni_err's buffer is truncated, not overflowed. */
	char buf[4000];
	int n = snprintf(buf, sizeof(buf), "{\"error\":{\"code\":11,\"errno\":5,\"msg\":\"");
	memset(buf + n, 'm', 3000);
	n += 3000;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\"}}\n");
	r = parse(buf, (size_t)n, &resp, &err);
	assert_int_equal(r, -5);
	assert_int_equal(err.code, 11);
	assert_true(strlen(err.msg) < sizeof(err.msg));
	kube_response_done(&resp);
}

/* Codes outside 1-999 become 11, errnos outside 1-4095 become EIO. */
static void test_relay_parse_error_ranges(void **state)
{
	(void)state;
	static const struct {
		const char *header;
		int code, sys;
		const char *msg;
	} cases[] = {
		{ "{\"error\":{\"code\":0,\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":-5,\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":5000,\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":1000,\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":1e20,\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":-1e20,\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":\"7\",\"errno\":110,\"msg\":\"m\"}}\n", 11, 110, "m" },
		{ "{\"error\":{\"code\":1,\"errno\":1,\"msg\":\"m\"}}\n", 1, 1, "m" },
		{ "{\"error\":{\"code\":999,\"errno\":4095,\"msg\":\"m\"}}\n", 999, 4095, "m" },
		{ "{\"error\":{\"code\":7,\"errno\":0,\"msg\":\"m\"}}\n", 7, EIO, "m" },
		{ "{\"error\":{\"code\":7,\"errno\":-110,\"msg\":\"m\"}}\n", 7, EIO, "m" },
		{ "{\"error\":{\"code\":7,\"errno\":4096,\"msg\":\"m\"}}\n", 7, EIO, "m" },
		{ "{\"error\":{\"code\":7,\"errno\":1e300,\"msg\":\"m\"}}\n", 7, EIO, "m" },
		{ "{\"error\":{\"code\":7,\"errno\":\"ETIMEDOUT\",\"msg\":\"m\"}}\n", 7, EIO, "m" },
		{ "{\"error\":{\"code\":7}}\n", 7, EIO, "relay error" },
		{ "{\"error\":{\"code\":7,\"msg\":42}}\n", 7, EIO, "relay error" },
		{ "{\"error\":{}}\n", 11, EIO, "relay error" },
		{ "{\"error\":\"boom\"}\n", 11, EIO, "relay error" },
		{ "{\"error\":null}\n", 11, EIO, "relay error" },
		{ "{\"error\":[11,110]}\n", 11, EIO, "relay error" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kube_response resp;
		struct cni_err err;
		int r = parse(cases[i].header, strlen(cases[i].header), &resp, &err);
		char want[64];
		(void)snprintf(want, sizeof(want), "%s (via the API relay)", cases[i].msg);
		if (r != -cases[i].sys || err.code != cases[i].code || err.sys != cases[i].sys ||
		    strcmp(err.msg, want) != 0)
			fail_msg("'%s': r %d code %d sys %d msg '%s'", cases[i].header, r, err.code,
				 err.sys, err.msg);
		assert_null(resp.body);
		kube_response_done(&resp);
	}
}

static void test_relay_parse_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *answer;
		size_t len;
		const char *msg; /* substring */
	} cases[] = {
#define M(lit, msg) { lit, sizeof(lit) - 1, msg }
		M("", "without a header line"),
		M("{\"status\":200}", "without a header line"),
		M("{\"status\":200}\r", "without a header line"),
		M("\n", "malformed header line"),
		M("   \n{}", "malformed header line"),
		M("not json\n{}", "malformed header line"),
		M("HTTP/1.1 200 OK\nbody", "malformed header line"),
		M("[1,2]\n", "malformed header line"),
		M("[{\"status\":200}]\n", "malformed header line"),
		M("\"status\"\n", "malformed header line"),
		M("200\n", "malformed header line"),
		M("null\n", "malformed header line"),
		M("{\"status\":200\n}", "malformed header line"),
		M("{\"status\":200}{}\n", "malformed header line"),
		M("{\"status\":200}x\n", "malformed header line"),
		M("{\"status\":200,}\n", "malformed header line"),
		M("{\"status\":200}\0\n", "malformed header line"),
		M("{\"status\":\"2\x01\"}\n", "malformed header line"),
		M("{}\n", "without a valid status"),
		M("{\"retryAfter\":1}\nbody", "without a valid status"),
		M("{\"Status\":200}\n", "without a valid status"),
		M("{\"status\":99}\n", "without a valid status"),
		M("{\"status\":0}\n", "without a valid status"),
		M("{\"status\":-200}\n", "without a valid status"),
		M("{\"status\":600}\n", "without a valid status"),
		M("{\"status\":599.5}\n", "without a valid status"),
		M("{\"status\":1e300}\n", "without a valid status"),
		M("{\"status\":\"200\"}\n", "without a valid status"),
		M("{\"status\":true}\n", "without a valid status"),
		M("{\"status\":null}\n", "without a valid status"),
		M("{\"status\":[200]}\n", "without a valid status"),
		M("{\"status\":{\"code\":200}}\n", "without a valid status"),
#undef M
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kube_response resp;
		struct cni_err err;
		int r = parse(cases[i].answer, cases[i].len, &resp, &err);
		if (r != -EPROTO || err.code != 11 || err.sys != EPROTO ||
		    !strstr(err.msg, cases[i].msg) || !strstr(err.msg, "'" SOCK "'"))
			fail_msg("case %zu '%.*s': r %d code %d sys %d msg '%s'", i,
				 (int)cases[i].len, cases[i].answer, r, err.code, err.sys, err.msg);
		assert_null(resp.body);
		kube_response_done(&resp);
	}
}

/* The header line is searched for within KUBE_RELAY_HEADER_MAX bytes only. */
static void test_relay_parse_header_limit(void **state)
{
	(void)state;
	static const char hdr[] = "{\"status\":200}";
	size_t cap = KUBE_RELAY_HEADER_MAX + 64;
	char *buf = xmalloc(cap);
	struct kube_response resp;
	struct cni_err err;

	/* Newline at offset KUBE_RELAY_HEADER_MAX - 1: the longest header accepted. */
	memset(buf, ' ', cap);
	memcpy(buf, hdr, sizeof(hdr) - 1);
	buf[KUBE_RELAY_HEADER_MAX - 1] = '\n';
	memcpy(buf + KUBE_RELAY_HEADER_MAX, "body", 4);
	assert_int_equal(parse(buf, KUBE_RELAY_HEADER_MAX + 4, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.len, 4);
	assert_string_equal(resp.body, "body");
	kube_response_done(&resp);

	/* Newline at offset KUBE_RELAY_HEADER_MAX: one byte too far. */
	memset(buf, ' ', cap);
	memcpy(buf, hdr, sizeof(hdr) - 1);
	buf[KUBE_RELAY_HEADER_MAX] = '\n';
	memcpy(buf + KUBE_RELAY_HEADER_MAX + 1, "body", 4);
	assert_int_equal(parse(buf, KUBE_RELAY_HEADER_MAX + 5, &resp, &err), -EPROTO);
	assert_int_equal(err.code, 11);
	assert_int_equal(err.sys, EPROTO);
	assert_non_null(strstr(err.msg, "without a header line"));
	assert_null(resp.body);
	kube_response_done(&resp);

	/* No newline at all in a long answer, and exactly KUBE_RELAY_HEADER_MAX bytes of it. */
	memset(buf, 'x', cap);
	assert_int_equal(parse(buf, cap, &resp, &err), -EPROTO);
	assert_int_equal(err.code, 11);
	assert_null(resp.body);
	assert_int_equal(parse(buf, KUBE_RELAY_HEADER_MAX, &resp, &err), -EPROTO);
	assert_int_equal(err.code, 11);
	assert_null(resp.body);
	free(buf);
}

/* ---- the transport against an in-test relay daemon ----------------------------------------- */

/* One-connection daemon: accepts, reads the request to EOF (unless no_read), writes `answer`
 * and closes; with no answer, or with hold, it then holds the connection until released. */
struct daemon {
	char dir[32], sock[64];
	int lfd;
	const char *answer;
	size_t answer_len;
	bool hold, no_read;
	char *request;
	size_t request_len;
	bool accepted;
	int release[2]; /* a pipe: closing [1] ends a daemon holding its connection */
	pthread_t thread;
};

static void *daemon_main(void *arg)
{
	struct daemon *d = arg;
	struct pollfd pfd = { .fd = d->lfd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	d->accepted = true;
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	while (!d->no_read) {
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 10000) != 1)
			break;
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	d->request = buf;
	d->request_len = len;
	if (d->answer) {
		for (size_t off = 0; off < d->answer_len;) {
			ssize_t n = send(fd, d->answer + off, d->answer_len - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	if (!d->answer || d->hold) {
		/* The client has shut down its side already: wait for the test's go. */
		pfd = (struct pollfd){ .fd = d->release[0], .events = POLLIN };
		(void)poll(&pfd, 1, 10000);
	}
	(void)close(fd);
	return NULL;
}

static void daemon_path(struct daemon *d)
{
	(void)snprintf(d->dir, sizeof(d->dir), "/tmp/plexus-relay-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	(void)snprintf(d->sock, sizeof(d->sock), "%s/api.sock", d->dir);
	d->lfd = -1;
	assert_int_equal(pipe2(d->release, O_CLOEXEC), 0);
}

/* Bind d->sock; listen and serve one connection when `serve`, else leave it refusing. */
static void daemon_start(struct daemon *d, const char *answer, size_t answer_len, bool serve)
{
	daemon_path(d);
	d->answer = answer;
	d->answer_len = answer_len;
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(d->lfd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock);
	assert_int_equal(bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (serve) {
		assert_int_equal(listen(d->lfd, 1), 0);
		assert_int_equal(pthread_create(&d->thread, NULL, daemon_main, d), 0);
	}
}

static void daemon_join(struct daemon *d)
{
	if (d->release[1] >= 0)
		(void)close(d->release[1]);
	d->release[1] = -1;
	assert_int_equal(pthread_join(d->thread, NULL), 0);
}

static void daemon_done(struct daemon *d)
{
	if (d->lfd >= 0)
		(void)close(d->lfd);
	for (int i = 0; i < 2; i++)
		if (d->release[i] >= 0)
			(void)close(d->release[i]);
	(void)unlink(d->sock);
	(void)rmdir(d->dir);
	free(d->request);
}

#define DAEMON(d) \
	struct daemon d __attribute__((cleanup(daemon_done))) = { .lfd = -1, .release = { -1, -1 } }

static void relay_cfg(struct kube_config *cfg, const char *sock)
{
	*cfg = (struct kube_config){
		.server = "https://127.0.0.1:1",
		.token = "secret-token",
		.connect_timeout_ms = 2000,
		.timeout_ms = 3000,
		.max_response = KUBE_MAX_RESPONSE_DEFAULT,
		.ops = &kube_relay_ops,
		.ops_data = (void *)sock,
	};
}

static int exchange(struct kube_config *cfg, const struct kube_request *req, long timeout_ms,
		    struct kube_response *resp, struct cni_err *err)
{
	*resp = (struct kube_response){ .retry_after = -1 };
	*err = (struct cni_err){ 0 };
	return kube_relay_ops.exchange(cfg->ops_data, cfg, req, cfg->token, timeout_ms, resp, err);
}

static const char *str_field(const cJSON *j, const char *key)
{
	const cJSON *v = json_get(j, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_relay_exchange_get(void **state)
{
	(void)state;
	static const char answer[] = "{\"status\":200,\"retryAfter\":-1}\n{\"kind\":\"Pod\"}\n";
	DAEMON(d);
	daemon_start(&d, answer, sizeof(answer) - 1, true);
	struct kube_config cfg;
	relay_cfg(&cfg, d.sock);
	struct kube_request req = { .method = "GET", .path = POD_PATH, .what = "get pod" };
	struct kube_response resp;
	struct cni_err err;
	int r = exchange(&cfg, &req, 2500, &resp, &err);
	daemon_join(&d);
	if (r < 0)
		fail_msg("%d %s", r, err.msg);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.retry_after, -1);
	assert_int_equal(resp.len, strlen("{\"kind\":\"Pod\"}\n"));
	assert_string_equal(resp.body, "{\"kind\":\"Pod\"}\n");
	kube_response_done(&resp);

	/* The request: exactly these members, never the token. */
	assert_true(d.accepted);
	_cleanup_json_ cJSON *j = NULL;
	assert_int_equal(json_parse(d.request, d.request_len, "request", &j, NULL), 0);
	assert_true(cJSON_IsObject(j));
	assert_string_equal(str_field(j, "method"), "GET");
	assert_string_equal(str_field(j, "path"), POD_PATH);
	assert_null(json_get(j, "contentType"));
	assert_null(json_get(j, "body"));
	const cJSON *t = json_get(j, "timeoutMs");
	assert_true(cJSON_IsNumber(t));
	/* The daemon's margin: 10%, at most 200 ms. */
	assert_int_equal((long)t->valuedouble, 2500 - 200);
	assert_int_equal(cJSON_GetArraySize(j), 3);
	assert_null(memmem(d.request, d.request_len, "secret-token", strlen("secret-token")));
}

static void test_relay_exchange_patch(void **state)
{
	(void)state;
	static const char status[] = "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":"
				     "\"NotFound\",\"code\":404}";
	static const char answer[] = "{\"status\":404,\"retryAfter\":2}\n{\"kind\":\"Status\","
				     "\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}";
	static const char patch[] = "{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/"
				    "network-status\":\"[{\\\"name\\\":\\\"x\\\"}]\\n\"}}}";
	DAEMON(d);
	daemon_start(&d, answer, sizeof(answer) - 1, true);
	struct kube_config cfg;
	relay_cfg(&cfg, d.sock);
	/* body_len excludes the trailing "junk": only body_len bytes are sent. */
	char body[sizeof(patch) + 4];
	memcpy(body, patch, sizeof(patch) - 1);
	memcpy(body + sizeof(patch) - 1, "junk", 4);
	struct kube_request req = { .method = "PATCH",
				    .path = POD_PATH "/status",
				    .content_type = MERGE,
				    .body = body,
				    .body_len = sizeof(patch) - 1,
				    .what = "patch pod" };
	struct kube_response resp;
	struct cni_err err;
	int r = exchange(&cfg, &req, 1234, &resp, &err);
	daemon_join(&d);
	if (r < 0)
		fail_msg("%d %s", r, err.msg);
	assert_int_equal(resp.status, 404);
	assert_int_equal(resp.retry_after, 2);
	assert_int_equal(resp.len, sizeof(status) - 1);
	assert_string_equal(resp.body, status);
	kube_response_done(&resp);

	_cleanup_json_ cJSON *j = NULL;
	assert_int_equal(json_parse(d.request, d.request_len, "request", &j, NULL), 0);
	assert_string_equal(str_field(j, "method"), "PATCH");
	assert_string_equal(str_field(j, "path"), POD_PATH "/status");
	assert_string_equal(str_field(j, "contentType"), MERGE);
	assert_string_equal(str_field(j, "body"), patch);
	/* 10% less (at most 200 ms), so the daemon's own error comes back first. */
	assert_int_equal((long)json_get(j, "timeoutMs")->valuedouble, 1234 - 123);
	assert_int_equal(cJSON_GetArraySize(j), 5);
	/* What the client sends, the daemon's filter lets through. */
	assert_true(kube_relay_allowed(str_field(j, "method"), str_field(j, "path"),
				       str_field(j, "contentType")));
}

/* Failures reported by or about the daemon are relay errors, not a fallback to libcurl. */
static void test_relay_exchange_daemon_errors(void **state)
{
	(void)state;
	static const struct {
		const char *answer;
		size_t max_response;
		int ret, code, sys;
		const char *msg;
	} cases[] = {
		{ "{\"error\":{\"code\":101,\"errno\":13,\"msg\":\"request refused\"}}\n",
		  KUBE_MAX_RESPONSE_DEFAULT, -13, 101, 13, "request refused (via the API relay)" },
		{ "", KUBE_MAX_RESPONSE_DEFAULT, -EPROTO, 11, EPROTO,
		  "answer without a header line" },
		{ "{\"status\":200}", KUBE_MAX_RESPONSE_DEFAULT, -EPROTO, 11, EPROTO,
		  "answer without a header line" },
		{ "garbage\n", KUBE_MAX_RESPONSE_DEFAULT, -EPROTO, 11, EPROTO,
		  "malformed header line" },
		/* more than max_response + KUBE_RELAY_HEADER_MAX bytes */
		{ NULL, 16, -EFBIG, 11, EFBIG, "receive" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *big = NULL;
		const char *answer = cases[i].answer;
		size_t len = answer ? strlen(answer) : 0;
		if (!answer) {
			len = 64 * 1024;
			big = xmalloc(len);
			memset(big, 'b', len);
			memcpy(big, "{\"status\":200}\n", 15);
			answer = big;
		}
		DAEMON(d);
		daemon_start(&d, answer, len, true);
		struct kube_config cfg;
		relay_cfg(&cfg, d.sock);
		cfg.max_response = cases[i].max_response;
		struct kube_request req = { .method = "GET", .path = POD_PATH, .what = "get pod" };
		struct kube_response resp;
		struct cni_err err;
		int r = exchange(&cfg, &req, 2000, &resp, &err);
		daemon_join(&d);
		if (r != cases[i].ret || err.code != cases[i].code || err.sys != cases[i].sys ||
		    !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: r %d code %d sys %d msg '%s'", i, r, err.code, err.sys,
				 err.msg);
		if (cases[i].code == 11 && cases[i].sys != 13)
			assert_non_null(strstr(err.msg, d.sock));
		assert_null(resp.body);
		kube_response_done(&resp);
		free(big);
	}
}

/* A daemon that acknowledges and then never answers: the exchange gives up at its timeout. */
static void test_relay_exchange_timeout(void **state)
{
	(void)state;
	DAEMON(d);
	d.hold = true;
	daemon_start(&d, KUBE_RELAY_ACK, strlen(KUBE_RELAY_ACK), true);
	struct kube_config cfg;
	relay_cfg(&cfg, d.sock);
	struct kube_request req = { .method = "GET", .path = POD_PATH, .what = "get pod" };
	struct kube_response resp;
	struct cni_err err;
	int r = exchange(&cfg, &req, 150, &resp, &err);
	assert_int_equal(r, -ETIMEDOUT);
	assert_int_equal(err.code, 11);
	assert_int_equal(err.sys, ETIMEDOUT);
	assert_non_null(strstr(err.msg, "no answer within 150 ms"));
	assert_null(resp.body);
	daemon_join(&d);
	assert_true(d.accepted);
	assert_true(d.request_len > 0);
}

static void check_direct_fallback(const char *sock)
{
	struct kube_config cfg;
	relay_cfg(&cfg, sock);
	struct kube_request req = { .method = "GET", .path = POD_PATH, .what = "get pod" };
	struct kube_response resp;
	struct cni_err err;
	int r = exchange(&cfg, &req, 3000, &resp, &err);
	if (r >= 0 || err.code != 11 || strstr(err.msg, "API relay") || strstr(err.msg, "relay"))
		fail_msg("'%s': r %d code %d sys %d msg '%s'", sock, r, err.code, err.sys, err.msg);
	/* libcurl's own connect error against cfg->server (curl.c's mapping). */
	assert_int_equal(r, -ECONNREFUSED);
	assert_int_equal(err.sys, ECONNREFUSED);
	assert_non_null(strstr(err.msg, "(curl 7)"));
	kube_response_done(&resp);
}

/* No socket, or nobody listening on it: the plugin talks to the API server itself. */
static void test_relay_exchange_falls_back_to_direct(void **state)
{
	(void)state;
	DAEMON(d);
	daemon_path(&d);
	check_direct_fallback(d.sock); /* ENOENT */

	char missing_dir[160];
	(void)snprintf(missing_dir, sizeof(missing_dir), "%s/no/such/dir/api.sock", d.dir);
	check_direct_fallback(missing_dir); /* ENOENT */

	DAEMON(refusing);
	daemon_start(&refusing, NULL, 0, false); /* bound, not listening: ECONNREFUSED */
	check_direct_fallback(refusing.sock);
}

/* A relay whose listen queue is full (every worker busy) does not block the plugin: the
 * connect fails at once (EAGAIN) and the request goes direct, within its deadline. */
static void test_relay_exchange_full_queue_goes_direct(void **state)
{
	(void)state;
	DAEMON(d);
	daemon_path(&d);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.sock);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 0), 0);
	int queued[8], n = 0;
	/* Fill the queue: never accepted. */
	while (n < 8) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			assert_int_equal(errno, EAGAIN);
			(void)close(fd);
			break;
		}
		queued[n++] = fd;
	}
	assert_true(n < 8);
	check_direct_fallback(d.sock);
	for (int i = 0; i < n; i++)
		(void)close(queued[i]);
	(void)close(ls);
}

/* Other connect failures are relay errors, not a silent fallback. */
static void test_relay_exchange_connect_error(void **state)
{
	(void)state;
	char sock[256];
	memset(sock, 'x', sizeof(sock) - 1);
	sock[0] = '/';
	sock[sizeof(sock) - 1] = '\0';
	struct kube_config cfg;
	relay_cfg(&cfg, sock);
	struct kube_request req = { .method = "GET", .path = POD_PATH, .what = "get pod" };
	struct kube_response resp;
	struct cni_err err;
	int r = exchange(&cfg, &req, 1000, &resp, &err);
	assert_int_equal(r, -ENAMETOOLONG);
	assert_int_equal(err.code, 11);
	assert_non_null(strstr(err.msg, "API relay"));
	assert_non_null(strstr(err.msg, "connect"));
	assert_null(resp.body);

	/* A path through a regular file: ENOTDIR. */
	char dir[] = "/tmp/plexus-relay-XXXXXX", file[64], path[96];
	assert_non_null(mkdtemp(dir));
	(void)snprintf(file, sizeof(file), "%s/file", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	(void)fclose(f);
	(void)snprintf(path, sizeof(path), "%s/api.sock", file);
	relay_cfg(&cfg, path);
	r = exchange(&cfg, &req, 1000, &resp, &err);
	(void)unlink(file);
	(void)rmdir(dir);
	assert_int_equal(r, -ENOTDIR);
	assert_int_equal(err.code, 11);
	assert_non_null(strstr(err.msg, "API relay"));
	assert_null(resp.body);
}

/* A busy daemon answers before reading the request (the plugin's send may then fail with
 * EPIPE, its receive end in ECONNRESET): the request goes direct, not a relay error. */
static void test_relay_exchange_busy_goes_direct(void **state)
{
	(void)state;
	static const char busy[] = "{\"error\":{\"code\":11,\"errno\":16,\"msg\":\"API relay busy: "
				   "2 clients, make the request directly\"}}\n";
	for (int no_read = 0; no_read < 2; no_read++) {
		DAEMON(d);
		d.no_read = no_read;
		daemon_start(&d, busy, sizeof(busy) - 1, true);
		check_direct_fallback(d.sock);
		daemon_join(&d);
		assert_true(d.accepted);
	}
}

/* Last (it marks the relay stuck for the rest of the process): a daemon that accepts and
 * never says a word costs a quarter of the timeout at most, then the request goes direct, and
 * so do the next ones without asking it again. */
static void test_relay_exchange_unacknowledged_goes_direct(void **state)
{
	(void)state;
	DAEMON(d);
	daemon_start(&d, NULL, 0, true);
	check_direct_fallback(d.sock);
	daemon_join(&d);
	assert_true(d.accepted);
	assert_true(d.request_len > 0);
	/* A new daemon on another socket is not even connected to. */
	DAEMON(d2);
	daemon_start(&d2, KUBE_RELAY_ACK, strlen(KUBE_RELAY_ACK), true);
	check_direct_fallback(d2.sock);
	/* Wake its accept with a connection of our own, so the thread ends. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d2.sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)shutdown(fd, SHUT_WR);
	assert_int_equal(pthread_join(d2.thread, NULL), 0);
	(void)close(fd);
	/* It saw only our connection: an empty request. */
	assert_int_equal(d2.request_len, 0);
}

/* ---- kube_relay_check_body ---------------------------------------------------------------- */

/* whereabouts objects: the path's kind, namespace and name only. */
static void test_relay_check_body_whereabouts(void **state)
{
	(void)state;
#define POOL(ns, name)                                                              \
	"{\"apiVersion\":\"whereabouts.cni.cncf.io/v1alpha1\",\"kind\":\"IPPool\"," \
	"\"metadata\":{\"name\":\"" name "\"" ns "},\"spec\":{\"range\":\"10.0.0.0/24\"}}"
	struct cni_err err = { 0 };
	assert_int_equal(kube_relay_check_body("POST", WB_PATH "ippools", POOL("", "p"), &err), 0);
	assert_int_equal(kube_relay_check_body("PUT", WB_PATH "ippools/p",
					       POOL(",\"namespace\":\"kube-system\"", "p"), &err),
			 0);
	assert_int_equal(
		kube_relay_check_body(
			"POST", WB_PATH "overlappingrangeipreservations",
			"{\"apiVersion\":\"whereabouts.cni.cncf.io/v1alpha1\",\"kind\":"
			"\"OverlappingRangeIPReservation\",\"metadata\":{\"name\":\"10.0.0.5\"},"
			"\"spec\":{\"containerid\":\"c\",\"podref\":\"a/b\"}}",
			&err),
		0);
	assert_int_equal(kube_relay_check_body("DELETE", WB_PATH "overlappingrangeipreservations/x",
					       NULL, &err),
			 0);
	struct {
		const char *method, *path, *body;
	} bad[] = {
		{ "PUT", WB_PATH "ippools/p", POOL("", "q") }, /* another name */
		{ "PUT", WB_PATH "ippools/p", POOL(",\"namespace\":\"default\"", "p") },
		{ "PUT", WB_PATH "ippools/p", POOL(",\"namespace\":7", "p") },
		{ "POST", WB_PATH "overlappingrangeipreservations", POOL("", "p") }, /* kind */
		{ "POST", WB_PATH "ippools",
		  "{\"kind\":\"IPPool\",\"metadata\":{\"name\":\"p\"}}" },
		{ "POST", WB_PATH "ippools", "[]" },
		{ "POST", WB_PATH "ippools", "not json" },
		{ "POST", POD_PATH, "{}" },
		{ "DELETE", WB_PATH "overlappingrangeipreservations/x", "{}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err = (struct cni_err){ 0 };
		if (kube_relay_check_body(bad[i].method, bad[i].path, bad[i].body, &err) != -EPERM)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.code, 101);
	}
	/* larger than the relay carries */
	size_t len = KUBE_RELAY_PATCH_MAX + 10;
	char *big = xmalloc(len + 1);
	memset(big, ' ', len);
	memcpy(big, POOL("", "p"), sizeof(POOL("", "p")) - 1);
	big[len] = '\0';
	assert_int_equal(kube_relay_check_body("PUT", WB_PATH "ippools/p", big, &err), -EPERM);
	assert_non_null(strstr(err.msg, "at most"));
	free(big);
#undef POOL
}

/* PLEXUS_WHEREABOUTS_NAMESPACE names the one namespace whereabouts objects may be in. */
static void test_relay_allowed_whereabouts_namespace(void **state)
{
	(void)state;
	const char *p = "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/wb/ippools/x";
	assert_false(kube_relay_allowed("GET", p, NULL));
	setenv("PLEXUS_WHEREABOUTS_NAMESPACE", "wb", 1);
	assert_true(kube_relay_allowed("GET", p, NULL));
	assert_false(kube_relay_allowed("GET", WB_PATH "ippools/x", NULL));
	unsetenv("PLEXUS_WHEREABOUTS_NAMESPACE");
	assert_true(kube_relay_allowed("GET", WB_PATH "ippools/x", NULL));
}

static void test_relay_check_body(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	assert_int_equal(kube_relay_check_body("GET", POD_PATH, NULL, &err), 0);
	assert_int_equal(
		kube_relay_check_body("PATCH", POD_PATH "/status",
				      "{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/"
				      "network-status\":\"[]\"}}}",
				      &err),
		0);
	static const char *const bad_bodies[] = {
		NULL,
		"",
		"not json",
		"[]",
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":[]}}}",
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":null}}}",
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"x\"}}}",
		"{\"metadata\":{\"labels\":{\"k8s.v1.cni.cncf.io/network-status\":\"x\"}}}",
		"{\"Metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"x\"}}}",
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"x\","
		"\"other\":\"y\"}}}",
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"x\"},"
		"\"finalizers\":[]}}",
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"x\"}},"
		"\"status\":{\"phase\":\"Failed\"}}",
		/* a duplicate member: the API server would take the last one */
		"{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"x\"}},"
		"\"metadata\":{\"labels\":{}}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_bodies); i++) {
		err = (struct cni_err){ 0 };
		if (kube_relay_check_body("PATCH", POD_PATH "/status", bad_bodies[i], &err) !=
		    -EPERM)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.code, 101);
	}
	assert_non_null(strstr(err.msg, "forwards only the merge patch"));
	assert_int_equal(kube_relay_check_body("GET", POD_PATH, "{}", &err), -EPERM);
	assert_non_null(strstr(err.msg, "only with PATCH"));

	/* The size cap, just above and at the limit. */
	static const char pre[] = "{\"metadata\":{\"annotations\":{\"k8s.v1.cni.cncf.io/"
				  "network-status\":\"",
			  post[] = "\"}}}";
	size_t len = KUBE_RELAY_PATCH_MAX + 1;
	char *big = xmalloc(len + 1);
	memset(big, 'x', len);
	memcpy(big, pre, sizeof(pre) - 1);
	memcpy(big + len - (sizeof(post) - 1), post, sizeof(post) - 1);
	big[len] = '\0';
	assert_int_equal(kube_relay_check_body("PATCH", POD_PATH "/status", big, &err), -EPERM);
	assert_non_null(strstr(err.msg, "bytes"));
	memcpy(big + len - sizeof(post), post, sizeof(post));
	assert_int_equal(kube_relay_check_body("PATCH", POD_PATH "/status", big, &err), 0);
	free(big);
}

/* The daemon's ack line is skipped. */
static void test_relay_parse_skips_ack(void **state)
{
	(void)state;
	static const char answer[] = KUBE_RELAY_ACK "{\"status\":200,\"retryAfter\":-1}\n{}";
	struct kube_response resp = { .retry_after = -1 };
	struct cni_err err = { 0 };
	assert_int_equal(parse(answer, sizeof(answer) - 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "{}");
	kube_response_done(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_allowed_accepts),
		cmocka_unit_test(test_relay_allowed_refuses),
		cmocka_unit_test(test_relay_allowed_null_arguments),
		cmocka_unit_test(test_relay_allowed_name_limits),
		cmocka_unit_test(test_relay_allowed_long_paths),
		cmocka_unit_test(test_relay_is_claim_status),
		cmocka_unit_test(test_relay_check_claim),
		cmocka_unit_test(test_relay_parse_ok_with_body),
		cmocka_unit_test(test_relay_parse_retry_after),
		cmocka_unit_test(test_relay_parse_404_status_body),
		cmocka_unit_test(test_relay_parse_empty_body),
		cmocka_unit_test(test_relay_parse_binary_body),
		cmocka_unit_test(test_relay_parse_error_answer),
		cmocka_unit_test(test_relay_parse_error_ranges),
		cmocka_unit_test(test_relay_parse_malformed),
		cmocka_unit_test(test_relay_parse_header_limit),
		cmocka_unit_test(test_relay_exchange_get),
		cmocka_unit_test(test_relay_exchange_patch),
		cmocka_unit_test(test_relay_exchange_daemon_errors),
		cmocka_unit_test(test_relay_exchange_timeout),
		cmocka_unit_test(test_relay_exchange_falls_back_to_direct),
		cmocka_unit_test(test_relay_exchange_full_queue_goes_direct),
		cmocka_unit_test(test_relay_exchange_connect_error),
		cmocka_unit_test(test_relay_exchange_busy_goes_direct),
		cmocka_unit_test(test_relay_check_body),
		cmocka_unit_test(test_relay_check_body_whereabouts),
		cmocka_unit_test(test_relay_allowed_whereabouts_namespace),
		cmocka_unit_test(test_relay_parse_skips_ack),
		/* last: it leaves the transport going direct */
		cmocka_unit_test(test_relay_exchange_unacknowledged_goes_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
