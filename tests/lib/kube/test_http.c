// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/kube requests through the transport seam: status mapping, retries,
 * token handling, size limit, pod/NAD decoding and the network-status patch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/nad.h"
#include "lib/kube/pod.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

/* One canned outcome: an HTTP response, or a transport error when fail_code is set. */
struct canned {
	long status;
	const char *body;
	long retry_after;
	int fail_code;
	long takes_ms; /* time the exchange "takes" on the fake clock */
};

struct fake {
	const struct canned *script;
	size_t n, calls;
	long now, slept;
	char method[16], path[256], ctype[64];
	char *body, *tokens[8];
	long timeouts[8];
};

static int fake_exchange(void *data, const struct kube_config *cfg, const struct kube_request *req,
			 const char *token, long timeout_ms, struct kube_response *resp,
			 struct cni_err *err)
{
	(void)cfg;
	struct fake *f = data;
	assert_true(f->calls < f->n);
	const struct canned *c = &f->script[f->calls];
	if (f->calls < ARRAY_SIZE(f->tokens)) {
		f->tokens[f->calls] = token ? xstrdup(token) : NULL;
		f->timeouts[f->calls] = timeout_ms;
	}
	f->calls++;
	(void)snprintf(f->method, sizeof(f->method), "%s", req->method);
	(void)snprintf(f->path, sizeof(f->path), "%s", req->path);
	(void)snprintf(f->ctype, sizeof(f->ctype), "%s",
		       req->content_type ? req->content_type : "");
	free(f->body);
	f->body = req->body ? xstrndup(req->body, req->body_len) : NULL;
	f->now += c->takes_ms;
	if (c->fail_code)
		return cni_err_set(err, c->fail_code, ECONNREFUSED, "Failed to connect (curl 7)");
	resp->status = c->status;
	resp->body = c->body ? xstrdup(c->body) : NULL;
	resp->len = c->body ? strlen(c->body) : 0;
	resp->retry_after = c->retry_after;
	return 0;
}

static void fake_sleep(void *data, long ms)
{
	struct fake *f = data;
	f->slept += ms;
	f->now += ms;
}

static long fake_now(void *data)
{
	return ((struct fake *)data)->now;
}

static const struct kube_transport_ops fake_ops = {
	.exchange = fake_exchange,
	.sleep_ms = fake_sleep,
	.now_ms = fake_now,
};

static void fake_done(struct fake *f)
{
	free(f->body);
	for (size_t i = 0; i < ARRAY_SIZE(f->tokens); i++)
		free(f->tokens[i]);
}

#define SCRIPT(f, ...)                                                                     \
	static const struct canned f##_script[] = { __VA_ARGS__ };                         \
	struct fake f __attribute__((cleanup(fake_done))) = { .script = f##_script,        \
							      .n = ARRAY_SIZE(f##_script), \
							      .now = 1000 }

static void cfg_init(struct kube_config *cfg, struct fake *f)
{
	*cfg = (struct kube_config){
		.server = "https://127.0.0.1:6443",
		.token = "tok",
		.connect_timeout_ms = KUBE_CONNECT_TIMEOUT_MS_DEFAULT,
		.timeout_ms = KUBE_TIMEOUT_MS_DEFAULT,
		.max_response = KUBE_MAX_RESPONSE_DEFAULT,
		.ops = &fake_ops,
		.ops_data = f,
	};
}

#define STATUS(code, reason, msg)                                                            \
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\"," \
	"\"message\":\"" msg "\",\"reason\":\"" reason "\",\"code\":" #code "}"

static const char POD[] =
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\",\"namespace\":"
	"\"default\",\"uid\":\"6d5c1f8e-1\",\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":"
	"\"net-a,other/net-b@eth9\",\"v1.multus-cni.io/default-network\":\"kube-system/flannel\"}},"
	"\"spec\":{},\"status\":{}}";

struct status_case {
	long status;
	const char *body;
	int ret, code;
	const char *msg, *details;
};

/* Every mapping in kube_http_status_err, through kube_pod_get; msg is a prefix. */
static void test_http_status_mapping_table(void **state)
{
	(void)state;
	const struct status_case cases[] = {
		{ 404, STATUS(404, "NotFound", "pods \\\"web\\\" not found"), -ENOENT, 101,
		  "not found: get pods/default/web: pods \"web\" not found", "HTTP 404 NotFound" },
		{ 401, STATUS(401, "Unauthorized", "Unauthorized"), -EACCES, 101,
		  "unauthorized: get pods/default/web: Unauthorized", "HTTP 401 Unauthorized" },
		{ 403,
		  STATUS(403, "Forbidden",
			 "pods \\\"web\\\" is forbidden: User "
			 "\\\"system:serviceaccount:kube-system:"
			 "plexus\\\" cannot get resource \\\"pods\\\""),
		  -EACCES, 101,
		  "forbidden: get pods/default/web: pods \"web\" is forbidden: User "
		  "\"system:serviceaccount:kube-system:plexus\" cannot get",
		  "HTTP 403 Forbidden" },
		{ 409, STATUS(409, "Conflict", "the object has been modified"), -EBUSY, 101,
		  "conflict: get pods/default/web: the object has been modified",
		  "HTTP 409 Conflict" },
		{ 400, "not json", -EINVAL, 101, "bad request: get pods/default/web", "HTTP 400" },
		{ 422, STATUS(422, "Invalid", "bad\\nline"), -EINVAL, 101,
		  "invalid: get pods/default/web: bad line", "HTTP 422 Invalid" },
		{ 302, "", -EPROTO, 101, "unexpected HTTP status 302: get pods/default/web",
		  "HTTP 302" },
		{ 418, "{\"kind\":\"Pod\",\"message\":\"x\"}", -EPROTO, 101,
		  "unexpected HTTP status 418: get pods/default/web", "HTTP 418" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct status_case *c = &cases[i];
		struct canned one[] = { { c->status, c->body, -1, 0, 0 } };
		struct fake f = { .script = one, .n = 1 };
		struct kube_config cfg;
		cfg_init(&cfg, &f);
		struct cni_err err = { 0 };
		struct kube_pod *pod = NULL;
		int r = kube_pod_get(&cfg, "default", "web", &pod, &err);
		if (r != c->ret || err.code != c->code ||
		    strncmp(err.msg, c->msg, strlen(c->msg)) != 0 ||
		    strcmp(err.details, c->details) != 0)
			fail_msg("case %zu (HTTP %ld): r=%d code=%d msg='%s' details='%s'", i,
				 c->status, r, err.code, err.msg, err.details);
		assert_null(pod);
		assert_int_equal(f.calls, 1); /* none of these is retried */
		fake_done(&f);
	}
}

static void test_http_get_pod_ok(void **state)
{
	(void)state;
	SCRIPT(f, { 200, POD, -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), 0);
	assert_string_equal(f.method, "GET");
	assert_string_equal(f.path, "/api/v1/namespaces/default/pods/web");
	assert_string_equal(f.tokens[0], "tok");
	assert_string_equal(pod->uid, "6d5c1f8e-1");
	assert_string_equal(kube_pod_annotation(pod, KUBE_ANN_NETWORKS), "net-a,other/net-b@eth9");
	assert_string_equal(kube_pod_annotation(pod, KUBE_ANN_DEFAULT_NETWORK),
			    "kube-system/flannel");
	assert_null(kube_pod_annotation(pod, KUBE_ANN_NETWORK_STATUS));
}

static void test_http_pod_decode_errors(void **state)
{
	(void)state;
	const struct {
		const char *body;
		const char *msg;
	} cases[] = {
		{ "{\"kind\":\"Pod\",\"metadata\":{\"annotations\":{\"a\":1}}}",
		  "get pods/default/web: metadata.annotations['a']: expected a string" },
		{ "{\"kind\":\"Pod\",\"metadata\":{\"annotations\":[]}}",
		  "get pods/default/web: metadata.annotations: must be an object" },
		{ "{\"kind\":\"Service\",\"metadata\":{}}",
		  "get pods/default/web: expected kind Pod" },
		{ "[1]", "get pods/default/web: response is not a JSON object" },
		{ "{\"kind\":", "get pods/default/web: invalid JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct canned one[] = { { 200, cases[i].body, -1, 0, 0 } };
		struct fake f = { .script = one, .n = 1 };
		struct kube_config cfg;
		cfg_init(&cfg, &f);
		struct cni_err err = { 0 };
		struct kube_pod *pod = NULL;
		int r = kube_pod_get(&cfg, "default", "web", &pod, &err);
		if (r >= 0 || err.code != 6 || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: r=%d code=%d msg='%s'", i, r, err.code, err.msg);
		fake_done(&f);
	}
}

static void test_http_invalid_names_make_no_request(void **state)
{
	(void)state;
	const char *bad_ns[] = { "", "Default", "a/b", "a..b", "-a", "a.b", "%2e%2e" };
	const char *bad_pod[] = { "", "Web", "a/b", "..", "a_b", "x?y", "-a" };
	struct fake f = { .n = 0 };
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	for (size_t i = 0; i < ARRAY_SIZE(bad_ns); i++) {
		struct cni_err err = { 0 };
		struct kube_pod *pod = NULL;
		assert_int_equal(kube_pod_get(&cfg, bad_ns[i], "web", &pod, &err), -EINVAL);
		assert_int_equal(err.code, 7);
		assert_non_null(strstr(err.msg, "invalid namespace"));
		assert_int_equal(kube_pod_get(&cfg, "default", bad_pod[i], &pod, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "invalid pod name"));
		struct kube_nad *nad = NULL;
		assert_int_equal(kube_nad_get(&cfg, "default", bad_pod[i], &nad, &err), -EINVAL);
		assert_int_equal(err.code, 7);
		assert_int_equal(
			kube_pod_status_patch_network_status(&cfg, bad_ns[i], "web", "[]", &err),
			-EINVAL);
	}
	/* Pod and NAD names are subdomains (Kubernetes object names): no empty label. */
	struct cni_err err = { 0 };
	struct kube_nad *nad = NULL;
	assert_int_equal(kube_nad_get(&cfg, "default", "a..b", &nad, &err), -EINVAL);
	assert_int_equal(f.calls, 0);
}

static void test_http_429_retry_after_honoured(void **state)
{
	(void)state;
	SCRIPT(f, { 429, STATUS(429, "TooManyRequests", "slow down"), 1, 0, 0 },
	       { 429, STATUS(429, "TooManyRequests", "slow down"), 2, 0, 0 },
	       { 200, POD, -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), 0);
	assert_int_equal(f.calls, 3);
	assert_int_equal(f.slept, 3000);
}

static void test_http_429_gives_up_with_try_again(void **state)
{
	(void)state;
	SCRIPT(f, { 429, STATUS(429, "TooManyRequests", "slow down"), -1, 0, 0 },
	       { 429, STATUS(429, "TooManyRequests", "slow down"), -1, 0, 0 },
	       { 429, STATUS(429, "TooManyRequests", "slow down"), -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -EAGAIN);
	assert_int_equal(err.code, 11);
	assert_string_equal(err.msg, "too many requests: get pods/default/web: slow down");
	assert_int_equal(f.calls, 3);
	assert_int_equal(f.slept, 2000); /* no Retry-After: 1 s each */
}

static void test_http_429_wait_bounded_by_total_timeout(void **state)
{
	(void)state;
	/* Retry-After 600 is clamped to 10 s; a second 10 s wait would pass the 15 s budget. */
	SCRIPT(f, { 429, "", 600, 0, 0 }, { 429, "", 600, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -EAGAIN);
	assert_int_equal(err.code, 11);
	assert_int_equal(f.calls, 2);
	assert_int_equal(f.slept, KUBE_RETRY_AFTER_MAX_S * 1000);
	/* The retry got only what was left of the budget. */
	assert_int_equal(f.timeouts[0], 15000);
	assert_int_equal(f.timeouts[1], 5000);
}

static void test_http_5xx_retried_once(void **state)
{
	(void)state;
	SCRIPT(f, { 500, STATUS(500, "InternalError", "etcd hiccup"), -1, 0, 0 },
	       { 200, POD, -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), 0);
	assert_int_equal(f.calls, 2);
	assert_int_equal(f.slept, KUBE_BACKOFF_5XX_MS);

	SCRIPT(g,
	       { 503, STATUS(503, "ServiceUnavailable", "apiserver is shutting down"), -1, 0, 0 },
	       { 503, "<html>bad gateway</html>", -1, 0, 0 });
	cfg_init(&cfg, &g);
	struct kube_pod *none = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &none, &err), -EAGAIN);
	assert_int_equal(err.code, 11);
	assert_string_equal(err.msg, "server error 503: get pods/default/web");
	assert_string_equal(err.details, "HTTP 503");
	assert_int_equal(g.calls, 2);
}

static void test_http_transport_error_and_timeout(void **state)
{
	(void)state;
	SCRIPT(f, { 0, NULL, -1, 11, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -ECONNREFUSED);
	assert_int_equal(err.code, 11);
	assert_string_equal(err.msg, "get pods/default/web: Failed to connect (curl 7)");

	/* A 500 that used up the whole budget is not retried. */
	SCRIPT(g, { 500, "", -1, 0, 15000 });
	cfg_init(&cfg, &g);
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -EAGAIN);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.slept, 0);
}

static void test_http_size_limit(void **state)
{
	(void)state;
	SCRIPT(f, { 200, POD, -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	cfg.max_response = 64;
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -EFBIG);
	assert_int_equal(err.code, 101);
	assert_string_equal(err.msg, "get pods/default/web: response larger than 64 bytes");
}

static void test_http_token_file_reread_every_request(void **state)
{
	(void)state;
	char dir[] = "/tmp/plexus-test-kubetok.XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *tf = xasprintf("%s/token", dir);
	assert_int_equal(file_write_atomic(tf, "first\n", 6, 0600), 0);
	SCRIPT(f, { 200, POD, -1, 0, 0 }, { 200, POD, -1, 0, 0 }, { 200, POD, -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	cfg.token = NULL;
	cfg.token_file = tf;
	struct cni_err err = { 0 };
	for (int i = 0; i < 2; i++) {
		_cleanup_kube_pod_ struct kube_pod *pod = NULL;
		assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), 0);
		assert_int_equal(file_write_atomic(tf, "rotated", 7, 0600), 0);
	}
	assert_string_equal(f.tokens[0], "first");
	assert_string_equal(f.tokens[1], "rotated");
	/* A token that would split the header is refused before anything is sent. */
	assert_int_equal(file_write_atomic(tf, "a\r\nX-Evil: 1", 12, 0600), 0);
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -EINVAL);
	assert_int_equal(err.code, 7);
	assert_null(strstr(err.msg, "Evil"));
	assert_int_equal(unlink(tf), 0);
	assert_int_equal(kube_pod_get(&cfg, "default", "web", &pod, &err), -ENOENT);
	assert_int_equal(err.code, 5);
	assert_int_equal(f.calls, 2);
	assert_int_equal(rmdir(dir), 0);
}

static void test_http_nad_get(void **state)
{
	(void)state;
	SCRIPT(f,
	       { 200,
		 "{\"apiVersion\":\"k8s.cni.cncf.io/v1\",\"kind\":\"NetworkAttachmentDefinition\","
		 "\"metadata\":{\"name\":\"sriov-a\",\"namespace\":\"default\",\"annotations\":{"
		 "\"k8s.v1.cni.cncf.io/resourceName\":\"intel.com/sriov_netdevice\"}},"
		 "\"spec\":{\"config\":\"{\\\"cniVersion\\\":\\\"1.0.0\\\",\\\"type\\\":"
		 "\\\"sriov\\\"}\"}}",
		 -1, 0, 0 },
	       { 200,
		 "{\"apiVersion\":\"k8s.cni.cncf.io/v1\",\"kind\":\"NetworkAttachmentDefinition\","
		 "\"metadata\":{\"name\":\"bare\"}}",
		 -1, 0, 0 },
	       { 200, "{\"kind\":\"NetworkAttachmentDefinition\",\"spec\":{\"config\":\"\"}}", -1,
		 0, 0 },
	       { 200, "{\"kind\":\"NetworkAttachmentDefinition\",\"spec\":{\"config\":{}}}", -1, 0,
		 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	_cleanup_kube_nad_ struct kube_nad *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(kube_nad_get(&cfg, "default", "sriov-a", &a, &err), 0);
	assert_string_equal(f.path, "/apis/k8s.cni.cncf.io/v1/namespaces/default/"
				    "network-attachment-definitions/sriov-a");
	assert_string_equal(a->config, "{\"cniVersion\":\"1.0.0\",\"type\":\"sriov\"}");
	assert_string_equal(a->resource_name, "intel.com/sriov_netdevice");
	assert_int_equal(kube_nad_get(&cfg, "default", "bare", &b, &err), 0);
	assert_null(b->config);
	assert_null(b->resource_name);
	assert_null(b->annotations);
	assert_int_equal(kube_nad_get(&cfg, "default", "empty", &c, &err), 0);
	assert_null(c->config);
	struct kube_nad *d = NULL;
	assert_int_equal(kube_nad_get(&cfg, "default", "bad", &d, &err), -EINVAL);
	assert_int_equal(err.code, 6);
	assert_string_equal(err.msg, "get network-attachment-definitions/default/bad: spec.config: "
				     "must be a string");
}

static void test_http_patch_network_status(void **state)
{
	(void)state;
	SCRIPT(f, { 200, POD, -1, 0, 0 });
	struct kube_config cfg;
	cfg_init(&cfg, &f);
	struct cni_err err = { 0 };
	const char *status = "[ {\"name\": \"default/net-a\", \"interface\": \"net1\",\n"
			     "   \"ips\": [\"10.1.0.5\"], \"default\": false} ]";
	assert_int_equal(kube_pod_status_patch_network_status(&cfg, "default", "web", status, &err),
			 0);
	assert_string_equal(f.method, "PATCH");
	assert_string_equal(f.path, "/api/v1/namespaces/default/pods/web/status");
	assert_string_equal(f.ctype, "application/merge-patch+json");
	_cleanup_json_ cJSON *body = NULL;
	assert_int_equal(json_parse(f.body, strlen(f.body), "patch", &body, &err), 0);
	const cJSON *ann = json_get(json_get(body, "metadata"), "annotations");
	const cJSON *v = json_get(ann, KUBE_ANN_NETWORK_STATUS);
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, "[{\"name\":\"default/net-a\",\"interface\":\"net1\","
					    "\"ips\":[\"10.1.0.5\"],\"default\":false}]");
	assert_int_equal(cJSON_GetArraySize(body), 1);

	const char *bad[] = { "{}", "nope", "", NULL };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
			kube_pod_status_patch_network_status(&cfg, "default", "web", bad[i], &err),
			-EINVAL);
		assert_int_equal(err.code, 7);
	}
	assert_int_equal(f.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_status_mapping_table),
		cmocka_unit_test(test_http_get_pod_ok),
		cmocka_unit_test(test_http_pod_decode_errors),
		cmocka_unit_test(test_http_invalid_names_make_no_request),
		cmocka_unit_test(test_http_429_retry_after_honoured),
		cmocka_unit_test(test_http_429_gives_up_with_try_again),
		cmocka_unit_test(test_http_429_wait_bounded_by_total_timeout),
		cmocka_unit_test(test_http_5xx_retried_once),
		cmocka_unit_test(test_http_transport_error_and_timeout),
		cmocka_unit_test(test_http_size_limit),
		cmocka_unit_test(test_http_token_file_reread_every_request),
		cmocka_unit_test(test_http_nad_get),
		cmocka_unit_test(test_http_patch_network_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
