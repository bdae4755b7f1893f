// SPDX-License-Identifier: Apache-2.0
/* End-to-end lib/kube over real TLS against tests/fixtures/apiserver (Node): auth modes, error
 * mapping, retries, merge patch and timeouts, with API calls counted from the fixture's log. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/nad.h"
#include "lib/kube/pod.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "tests/lib/kube/fixture.h"

static const char STATE[] =
	"{\"kind\":\"List\",\"items\":["
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"namespace\":"
	"\"default\",\"uid\":\"0b7c3a52-5b1e-4b7e-9f55-7d1c3c2c1a01\",\"labels\":{\"app\":\"web\"},"
	"\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"net-a,sriov-a@eth9\","
	"\"v1.multus-cni.io/default-network\":\"kube-system/flannel\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]},"
	"\"status\":{\"phase\":\"Pending\"}},"
	"{\"apiVersion\":\"k8s.cni.cncf.io/v1\",\"kind\":\"NetworkAttachmentDefinition\","
	"\"metadata\":{\"name\":\"sriov-a\",\"namespace\":\"default\",\"annotations\":"
	"{\"k8s.v1.cni.cncf.io/resourceName\":\"intel.com/sriov_netdevice\"}},"
	"\"spec\":{\"config\":\"{\\\"cniVersion\\\":\\\"1.0.0\\\",\\\"type\\\":\\\"sriov\\\","
	"\\\"name\\\":\\\"sriov-a\\\"}\"}},"
	"{\"apiVersion\":\"k8s.cni.cncf.io/v1\",\"kind\":\"NetworkAttachmentDefinition\","
	"\"metadata\":{\"name\":\"bare\",\"namespace\":\"other\"}}"
	"]}";

static int group_setup(void **state)
{
	(void)state;
	return fixture_setup(STATE);
}

/* Each test starts with an empty request log and no pending faults. */
static int test_setup(void **state)
{
	(void)state;
	if (skip_reason)
		return 0;
	_cleanup_free_ char *log = path_in("requests.log");
	(void)truncate(log, 0);
	return fixture_control("DELETE", NULL);
}

static void add_faults(const char *json)
{
	assert_int_equal(fixture_control("POST", json), 0);
}

/* The fixture's request log, and how many of its lines contain `needle`. */
static char *read_log(void)
{
	_cleanup_free_ char *log = path_in("requests.log");
	char *text = NULL;
	size_t len = 0;
	if (file_read_all(log, 1 << 20, &text, &len) < 0)
		return xstrdup("");
	return text;
}

static int log_count(const char *needle)
{
	_cleanup_free_ char *text = read_log();
	int n = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (!needle || strstr(line, needle))
			n++;
	return n;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static char *file_b64(const char *name)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	_cleanup_free_ char *p = path_in(name), *s = NULL;
	size_t n = 0, o = 0;
	assert_int_equal(file_read_all(p, 1 << 16, &s, &n), 0);
	char *out = xmalloc(n / 3 * 4 + 5);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static void test_apiserver_get_pod_and_nad(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	struct cni_err err = { 0 };
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), 0);
	assert_string_equal(pod->uid, "0b7c3a52-5b1e-4b7e-9f55-7d1c3c2c1a01");
	assert_string_equal(kube_pod_annotation(pod, KUBE_ANN_NETWORKS), "net-a,sriov-a@eth9");
	_cleanup_kube_nad_ struct kube_nad *nad = NULL, *bare = NULL;
	assert_int_equal(kube_nad_get(cfg, "default", "sriov-a", &nad, &err), 0);
	assert_string_equal(nad->config,
			    "{\"cniVersion\":\"1.0.0\",\"type\":\"sriov\",\"name\":\"sriov-a\"}");
	assert_string_equal(nad->resource_name, "intel.com/sriov_netdevice");
	assert_int_equal(kube_nad_get(cfg, "other", "bare", &bare, &err), 0);
	assert_null(bare->config);
	assert_int_equal(log_count(NULL), 3);
	assert_int_equal(log_count(" 200 token-user"), 3);
}

static void test_apiserver_client_certificate(void **state)
{
	(void)state;
	NEED_SERVER();
	/* Blobs (CAINFO_BLOB, SSLCERT_BLOB, SSLKEY_BLOB) and files, no token. */
	_cleanup_free_ char *ca = file_b64("pki/ca.crt"), *crt = file_b64("pki/client.crt");
	_cleanup_free_ char *key = file_b64("pki/client.key");
	_cleanup_free_ char *cl = xasprintf("certificate-authority-data: %s", ca);
	_cleanup_free_ char *us =
		xasprintf("{client-certificate-data: %s, client-key-data: %s}", crt, key);
	struct cni_err err = { 0 };
	_cleanup_kube_config_ struct kube_config *cfg = load_kubeconfig(cl, us);
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), 0);
	_cleanup_kube_config_ struct kube_config *cfg2 =
		load_kubeconfig("certificate-authority: pki/ca.crt",
				"{client-certificate: pki/client.crt, client-key: pki/client.key}");
	assert_int_equal(kube_pod_status_patch_network_status(cfg2, "default", "web", "[]", &err),
			 0);
	assert_int_equal(log_count(" 200 system:node:plexus-test"), 2);
	/* No credentials at all: anonymous, forbidden by the server. */
	_cleanup_kube_config_ struct kube_config *anon =
		load_kubeconfig("certificate-authority: pki/ca.crt", "{}");
	struct kube_pod *none = NULL;
	assert_int_equal(kube_pod_get(anon, "default", "web", &none, &err), -EACCES);
	assert_int_equal(err.code, 101);
	assert_non_null(strstr(err.msg, "forbidden: get pods/default/web: pods \"web\" is "
					"forbidden: User \"system:anonymous\""));
}

static void test_apiserver_wrong_token_unauthorized(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config("not-the-token");
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), -EACCES);
	assert_int_equal(err.code, 101);
	assert_string_equal(err.msg, "unauthorized: get pods/default/web: Unauthorized");
	assert_string_equal(err.details, "HTTP 401 Unauthorized");
	assert_int_equal(log_count(" 401 "), 1);
	assert_int_equal(log_count(NULL), 1);
}

static void test_apiserver_readonly_token_patch_forbidden(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(RO_TOKEN);
	struct cni_err err = { 0 };
	assert_int_equal(kube_pod_status_patch_network_status(cfg, "default", "web", "[]", &err),
			 -EACCES);
	assert_int_equal(err.code, 101);
	assert_non_null(strstr(err.msg, "forbidden: patch pods/default/web/status: pods \"web\" is "
					"forbidden: User \"readonly-user\" cannot patch resource "
					"\"pods/status\""));
}

static void test_apiserver_wrong_ca_is_tls_error(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg =
		load_kubeconfig("certificate-authority: pki/other-ca.crt", "{token: " TOKEN "}");
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), -EPROTO);
	assert_int_equal(err.code, 101);
	assert_non_null(strstr(err.msg, "get pods/default/web: TLS: "));
	assert_int_equal(log_count(NULL), 0); /* the token never reached the server */
}

static void test_apiserver_not_found(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "gone", &pod, &err), -ENOENT);
	assert_int_equal(err.code, 101);
	assert_string_equal(err.msg, "not found: get pods/default/gone: pods \"gone\" not found");
	struct kube_nad *nad = NULL;
	assert_int_equal(kube_nad_get(cfg, "default", "net-x", &nad, &err), -ENOENT);
	assert_string_equal(err.msg, "not found: get network-attachment-definitions/default/net-x: "
				     "network-attachment-definitions.k8s.cni.cncf.io \"net-x\" not "
				     "found");
	assert_string_equal(err.details, "HTTP 404 NotFound");
	assert_int_equal(log_count(" 404 "), 2);
}

static void test_apiserver_5xx_retried_once(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	struct cni_err err = { 0 };
	add_faults("[{\"status\":503,\"count\":1}]");
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), 0);
	assert_int_equal(log_count(" 503 "), 1);
	assert_int_equal(log_count(" 200 "), 1);

	add_faults("[{\"status\":500,\"count\":2}]");
	struct kube_pod *none = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &none, &err), -EAGAIN);
	assert_int_equal(err.code, 11);
	assert_string_equal(err.msg, "server error 500: get pods/default/web: Internal error "
				     "occurred: injected fault");
	assert_int_equal(log_count(" 500 "), 2);
	assert_int_equal(log_count(NULL), 4);
}

static void test_apiserver_429_retry_after_honoured(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	struct cni_err err = { 0 };
	add_faults("[{\"status\":429,\"retryAfter\":1,\"count\":1}]");
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	long t0 = now_ms();
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), 0);
	long took = now_ms() - t0;
	assert_true(took >= 1000);
	assert_true(took < 5000);
	assert_int_equal(log_count(" 429 "), 1);
	assert_int_equal(log_count(NULL), 2);
}

static void test_apiserver_conflict(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	struct cni_err err = { 0 };
	add_faults("[{\"status\":409,\"method\":\"PATCH\"}]");
	assert_int_equal(kube_pod_status_patch_network_status(cfg, "default", "web", "[]", &err),
			 -EBUSY);
	assert_int_equal(err.code, 101);
	assert_non_null(strstr(err.msg, "conflict: patch pods/default/web/status: Operation cannot "
					"be fulfilled on pods \"web\""));
	assert_int_equal(log_count(NULL), 1);
}

static void test_apiserver_patch_merges_annotation(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	struct cni_err err = { 0 };
	const char *status = "[{\"name\":\"kube-system/flannel\",\"interface\":\"eth0\","
			     "\"ips\":[\"10.244.1.7\"],\"mac\":\"0a:58:0a:f4:01:07\","
			     "\"default\":true,\"dns\":{}},{\"name\":\"default/sriov-a\","
			     "\"interface\":\"eth9\",\"device-info\":{\"type\":\"pci\",\"version\":"
			     "\"1.1.0\",\"pci\":{\"pci-address\":\"0000:18:02.5\"}}}]";
	assert_int_equal(kube_pod_status_patch_network_status(cfg, "default", "web", status, &err),
			 0);
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), 0);
	assert_string_equal(kube_pod_annotation(pod, KUBE_ANN_NETWORK_STATUS), status);
	/* A merge patch: the other annotations, labels and spec are untouched. */
	assert_string_equal(kube_pod_annotation(pod, KUBE_ANN_NETWORKS), "net-a,sriov-a@eth9");
	const cJSON *labels = json_get(json_get(pod->obj, "metadata"), "labels");
	assert_string_equal(json_get(labels, "app")->valuestring, "web");
	assert_non_null(json_get(json_get(pod->obj, "spec"), "containers"));
	assert_int_equal(log_count("PATCH /api/v1/namespaces/default/pods/web/status 200"), 1);
	assert_int_equal(log_count(NULL), 2);
}

static void test_apiserver_connect_refused_is_try_again(void **state)
{
	(void)state;
	NEED_SERVER();
	/* A port nobody listens on: bind one, then close it. */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	free(cfg->server);
	cfg->server = xasprintf("https://127.0.0.1:%d", ntohs(a.sin_port));
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	long t0 = now_ms();
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), -ECONNREFUSED);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(err.code, 11);
	assert_non_null(strstr(err.msg, "get pods/default/web: "));
	assert_non_null(strstr(err.msg, "(curl 7)"));
}

static void test_apiserver_hang_times_out(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	cfg->timeout_ms = 800;
	add_faults("[{\"hang\":true}]");
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	long t0 = now_ms();
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), -ETIMEDOUT);
	long took = now_ms() - t0;
	assert_true(took >= 700 && took < 3000);
	assert_int_equal(err.code, 11);
	assert_non_null(strstr(err.msg, "(curl 28)"));
}

static void test_apiserver_size_limit(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	cfg->max_response = 100;
	struct cni_err err = { 0 };
	struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), -EFBIG);
	assert_int_equal(err.code, 101);
	assert_string_equal(err.msg, "get pods/default/web: response larger than 100 bytes");
}

static void test_apiserver_incluster_token_rotation(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_free_ char *sa = path_in("sa"), *tok = path_in("sa/token");
	_cleanup_free_ char *cmd =
		xasprintf("mkdir -p '%s' && cp '%s/pki/ca.crt' '%s/ca.crt'", sa, dir, sa);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(file_write_atomic(tok, TOKEN "\n", strlen(TOKEN) + 1, 0600), 0);
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", portstr, 1);
	setenv("PLEXUS_SA_DIR", sa, 1);
	struct cni_err err = { 0 };
	_cleanup_kube_config_ struct kube_config *cfg = NULL;
	assert_int_equal(kube_config_load(NULL, &cfg, &err), 0);
	_cleanup_kube_pod_ struct kube_pod *pod = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &pod, &err), 0);
	/* The kubelet rotates the token: the next request must use the new file content. */
	assert_int_equal(file_write_atomic(tok, "rotated-away", 12, 0600), 0);
	struct kube_pod *none = NULL;
	assert_int_equal(kube_pod_get(cfg, "default", "web", &none, &err), -EACCES);
	assert_int_equal(err.code, 101);
	assert_int_equal(log_count(" 200 "), 1);
	assert_int_equal(log_count(" 401 "), 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("PLEXUS_SA_DIR");
}

#define T(f) cmocka_unit_test_setup(f, test_setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_apiserver_get_pod_and_nad),
		T(test_apiserver_client_certificate),
		T(test_apiserver_wrong_token_unauthorized),
		T(test_apiserver_readonly_token_patch_forbidden),
		T(test_apiserver_wrong_ca_is_tls_error),
		T(test_apiserver_not_found),
		T(test_apiserver_5xx_retried_once),
		T(test_apiserver_429_retry_after_honoured),
		T(test_apiserver_conflict),
		T(test_apiserver_patch_merges_annotation),
		T(test_apiserver_connect_refused_is_try_again),
		T(test_apiserver_hang_times_out),
		T(test_apiserver_size_limit),
		T(test_apiserver_incluster_token_rotation),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
