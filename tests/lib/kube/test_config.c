// SPDX-License-Identifier: Apache-2.0
/* Unit tests for kubeconfig parsing (libyaml), base64 data fields and in-cluster discovery. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/kube/config.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

static char dir[64];

static const char CA_PEM[] = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
static const char KEY_PEM[] = "-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n";

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/plexus-test-kubecfg.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *b64(const char *s)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
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

static char *write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600), 0);
	return path;
}

static void test_config_current_context_token_and_ca_file(void **state)
{
	(void)state;
	_cleanup_free_ char *path = write_file("kc1", "apiVersion: v1\n"
						      "kind: Config\n"
						      "clusters:\n"
						      "- name: a\n"
						      "  cluster:\n"
						      "    server: https://a.example:6443\n"
						      "- name: b\n"
						      "  cluster:\n"
						      "    server: https://10.0.0.1:443/\n"
						      "    certificate-authority: ca.crt\n"
						      "contexts:\n"
						      "- name: ctx-a\n"
						      "  context: {cluster: a, user: ua}\n"
						      "- name: ctx-b\n"
						      "  context:\n"
						      "    cluster: b\n"
						      "    user: ub\n"
						      "    namespace: kube-system\n"
						      "current-context: ctx-b\n"
						      "users:\n"
						      "- name: ua\n"
						      "  user: {token: wrong}\n"
						      "- name: ub\n"
						      "  user:\n"
						      "    token: s3cret\n");
	struct cni_err err = { 0 };
	_cleanup_kube_config_ struct kube_config *cfg = NULL;
	assert_int_equal(kube_config_load_file(path, &cfg, &err), 0);
	assert_string_equal(cfg->server, "https://10.0.0.1:443");
	assert_string_equal(cfg->token, "s3cret");
	assert_null(cfg->token_file);
	assert_string_equal(cfg->namespace, "kube-system");
	_cleanup_free_ char *ca = xasprintf("%s/ca.crt", dir);
	assert_string_equal(cfg->ca.file, ca);
	assert_null(cfg->ca.data);
	assert_null(cfg->cert.file);
	assert_null(cfg->cert.data);
	assert_int_equal(cfg->connect_timeout_ms, KUBE_CONNECT_TIMEOUT_MS_DEFAULT);
	assert_int_equal(cfg->timeout_ms, KUBE_TIMEOUT_MS_DEFAULT);
	assert_int_equal(cfg->max_response, KUBE_MAX_RESPONSE_DEFAULT);
}

static void test_config_data_fields_decoded(void **state)
{
	(void)state;
	_cleanup_free_ char *ca = b64(CA_PEM), *cert = b64(CA_PEM), *key = b64(KEY_PEM);
	_cleanup_free_ char *text = xasprintf("clusters:\n"
					      "- name: c\n"
					      "  cluster:\n"
					      "    server: https://[fd00::1]:6443\n"
					      "    certificate-authority-data: %s\n"
					      "    insecure-skip-tls-verify: false\n"
					      "contexts:\n"
					      "- name: x\n"
					      "  context: {cluster: c, user: u}\n"
					      "current-context: x\n"
					      "users:\n"
					      "- name: u\n"
					      "  user:\n"
					      "    client-certificate-data: %s\n"
					      "    client-key-data: \"%s\"\n"
					      "    tokenFile: tok/token\n",
					      ca, cert, key);
	_cleanup_free_ char *path = write_file("kc2", text);
	struct cni_err err = { 0 };
	_cleanup_kube_config_ struct kube_config *cfg = NULL;
	assert_int_equal(kube_config_load_file(path, &cfg, &err), 0);
	assert_string_equal(cfg->server, "https://[fd00::1]:6443");
	assert_int_equal(cfg->ca.len, strlen(CA_PEM));
	assert_memory_equal(cfg->ca.data, CA_PEM, cfg->ca.len);
	assert_int_equal(cfg->cert.len, strlen(CA_PEM));
	assert_int_equal(cfg->key.len, strlen(KEY_PEM));
	assert_memory_equal(cfg->key.data, KEY_PEM, cfg->key.len);
	assert_null(cfg->token);
	_cleanup_free_ char *tf = xasprintf("%s/tok/token", dir);
	assert_string_equal(cfg->token_file, tf);
	assert_null(cfg->namespace);
}

static void test_config_anonymous_user(void **state)
{
	(void)state;
	_cleanup_free_ char *path =
		write_file("kc3", "clusters: [{name: c, cluster: {server: "
				  "'https://h:1'}}]\n"
				  "contexts: [{name: x, context: {cluster: c}}]\n"
				  "current-context: x\n");
	struct cni_err err = { 0 };
	_cleanup_kube_config_ struct kube_config *cfg = NULL;
	assert_int_equal(kube_config_load_file(path, &cfg, &err), 0);
	assert_null(cfg->token);
	assert_null(cfg->token_file);
}

struct err_case {
	const char *user;    /* YAML for users[0].user */
	const char *cluster; /* YAML for clusters[0].cluster (after server) */
	const char *current; /* current-context */
	int code;
	const char *msg;
};

static void test_config_errors_name_keys(void **state)
{
	(void)state;
	const struct err_case cases[] = {
		{ "{client-certificate-data: LS0t, client-key-data: 'not*base64'}", "", "x", 7,
		  "kubeconfig: users[0].user.client-certificate-data: not PEM data" },
		{ "{client-key-data: 'abc'}", "", "x", 7,
		  "kubeconfig: users[0].user.client-key-data: invalid base64" },
		{ "{client-key-data: 'ab=c'}", "", "x", 7,
		  "kubeconfig: users[0].user.client-key-data: invalid base64" },
		{ "{token: t}", "insecure-skip-tls-verify: true", "x", 7,
		  "kubeconfig: clusters[0].cluster.insecure-skip-tls-verify: refused" },
		{ "{token: t}", "insecure-skip-tls-verify: maybe", "x", 7,
		  "kubeconfig: clusters[0].cluster.insecure-skip-tls-verify: expected a boolean" },
		{ "{token: t}", "certificate-authority-data: '!!'", "x", 7,
		  "kubeconfig: clusters[0].cluster.certificate-authority-data: invalid base64" },
		{ "{token: t}", "certificate-authority: /a\n    certificate-authority-data: LS0t",
		  "x", 7,
		  "kubeconfig: clusters[0].cluster: both certificate-authority and "
		  "certificate-authority-data are set" },
		{ "{token: t}", "tls-server-name: foo", "x", 7,
		  "kubeconfig: clusters[0].cluster.tls-server-name: not supported" },
		{ "{token: t, tokenFile: /f}", "", "x", 7,
		  "kubeconfig: users[0].user: both token and tokenFile are set" },
		{ "{token: [a]}", "", "x", 7,
		  "kubeconfig: users[0].user.token: expected a string" },
		{ "{client-certificate: /c}", "", "x", 7,
		  "kubeconfig: users[0].user.client-key: missing (needed with "
		  "client-certificate)" },
		{ "{exec: {command: aws}}", "", "x", 7,
		  "kubeconfig: users[0].user.exec: not supported" },
		{ "{token: t}", "", "", 7, "kubeconfig: current-context: not set" },
		{ "{token: t}", "", "nope", 7,
		  "kubeconfig: current-context: no contexts named 'nope'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct err_case *c = &cases[i];
		_cleanup_free_ char *text = xasprintf("clusters:\n"
						      "- name: c\n"
						      "  cluster:\n"
						      "    server: https://h:6443\n"
						      "    %s\n"
						      "contexts:\n"
						      "- name: x\n"
						      "  context: {cluster: c, user: u}\n"
						      "current-context: '%s'\n"
						      "users:\n"
						      "- name: u\n"
						      "  user: %s\n",
						      c->cluster, c->current, c->user);
		_cleanup_free_ char *path = write_file("kce", text);
		struct cni_err err = { 0 };
		struct kube_config *cfg = NULL;
		int r = kube_config_load_file(path, &cfg, &err);
		if (r >= 0 || err.code != c->code || !strstr(err.msg, c->msg))
			fail_msg("case %zu: r=%d code=%d msg='%s', want '%s'", i, r, err.code,
				 err.msg, c->msg);
		assert_null(cfg);
	}
}

static void test_config_structure_errors(void **state)
{
	(void)state;
	const struct {
		const char *text;
		int code;
		const char *msg;
	} cases[] = {
		{ "clusters: [a, b\n", 6, "line 2" },
		{ "- a\n- b\n", 7, "kubeconfig: expected a mapping at the top level" },
		{ "current-context: x\ncontexts: {x: 1}\n", 7,
		  "kubeconfig: contexts: expected a list" },
		{ "current-context: x\ncontexts: [{name: x, context: 3}]\n", 7,
		  "kubeconfig: contexts[0].context: expected a mapping" },
		{ "current-context: x\ncontexts: [{name: x, context: {user: u}}]\n", 7,
		  "kubeconfig: contexts[0].context.cluster: missing" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n", 7,
		  "kubeconfig: contexts[0].context.cluster: no clusters named 'c'" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
		  "clusters: [{name: c, cluster: {server: 'http://h:80'}}]\n",
		  7,
		  "kubeconfig: clusters[0].cluster.server: 'http://h:80' is not an https:// URL" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
		  "clusters: [{name: c, cluster: {certificate-authority: /x}}]\n",
		  7, "kubeconfig: clusters[0].cluster.server: missing" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
		  "clusters: [{name: c, cluster: {server: 'https://h'}}]\n",
		  7, "kubeconfig: contexts[0].context.user: no users named 'u'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *path = write_file("kcs", cases[i].text);
		struct cni_err err = { 0 };
		struct kube_config *cfg = NULL;
		int r = kube_config_load_file(path, &cfg, &err);
		if (r >= 0 || err.code != cases[i].code || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: r=%d code=%d msg='%s', want '%s'", i, r, err.code,
				 err.msg, cases[i].msg);
	}
	struct cni_err err = { 0 };
	struct kube_config *cfg = NULL;
	_cleanup_free_ char *missing = xasprintf("%s/nonexistent", dir);
	assert_int_equal(kube_config_load_file(missing, &cfg, &err), -ENOENT);
	assert_int_equal(err.code, 5);
}

static void test_config_base64(void **state)
{
	(void)state;
	const struct {
		const char *in, *out;
	} ok[] = { { "", "" },
		   { "YQ==", "a" },
		   { "YWI=", "ab" },
		   { "YWJj", "abc" },
		   { "LS0tLS1CRUdJTg==", "-----BEGIN" } };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		_cleanup_free_ char *out = NULL;
		size_t len = 0;
		assert_int_equal(kube_base64_decode(ok[i].in, strlen(ok[i].in), &out, &len), 0);
		assert_int_equal(len, strlen(ok[i].out));
		assert_string_equal(out, ok[i].out);
	}
	const char *bad[] = { "YQ", "Y===", "YQ=a", "YQ==YQ==", "Y Q=", "YWJj\n", "=AAA", "YW-j" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = NULL;
		size_t len = 0;
		if (kube_base64_decode(bad[i], strlen(bad[i]), &out, &len) != -EINVAL)
			fail_msg("'%s' decoded", bad[i]);
		assert_null(out);
	}
}

static void test_config_incluster(void **state)
{
	(void)state;
	_cleanup_free_ char *sa = xasprintf("%s/sa", dir);
	assert_int_equal(file_mkdir_p(sa, 0700), 0);
	_cleanup_free_ char *tok = write_file("sa/token", "tok\n");
	_cleanup_free_ char *ca = write_file("sa/ca.crt", CA_PEM);
	_cleanup_free_ char *ns = write_file("sa/namespace", "kube-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	struct cni_err err = { 0 };
	_cleanup_kube_config_ struct kube_config *cfg = NULL;
	assert_int_equal(kube_config_load_incluster(sa, &cfg, &err), 0);
	assert_string_equal(cfg->server, "https://10.96.0.1:443");
	assert_string_equal(cfg->token_file, tok);
	assert_null(cfg->token);
	assert_string_equal(cfg->ca.file, ca);
	assert_string_equal(cfg->namespace, "kube-system");

	/* PLEXUS_SA_DIR through kube_config_load(NULL), and an IPv6 service host. */
	setenv("PLEXUS_SA_DIR", sa, 1);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	_cleanup_kube_config_ struct kube_config *cfg6 = NULL;
	assert_int_equal(kube_config_load(NULL, &cfg6, &err), 0);
	assert_string_equal(cfg6->server, "https://[fd00::1]:443");

	struct kube_config *bad = NULL;
	setenv("KUBERNETES_SERVICE_PORT", "44x", 1);
	assert_true(kube_config_load("", &bad, &err) < 0);
	assert_int_equal(err.code, 7);
	assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_PORT"));
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_true(kube_config_load_incluster(sa, &bad, &err) < 0);
	assert_int_equal(err.code, 7);
	assert_non_null(strstr(err.msg, "not set"));
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(unlink(tok), 0);
	assert_int_equal(kube_config_load_incluster(sa, &bad, &err), -ENOENT);
	assert_int_equal(err.code, 5);
	assert_non_null(strstr(err.msg, "in-cluster: token"));
	assert_null(bad);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("PLEXUS_SA_DIR");
}

/* No kubeconfig and no in-cluster variable: no API; any one of them: configured. */
static void test_config_configured(void **state)
{
	(void)state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_false(kube_config_configured(NULL));
	assert_false(kube_config_configured(""));
	assert_true(kube_config_configured("/nonexistent/kubeconfig"));
	setenv("KUBERNETES_SERVICE_HOST", "", 1);
	assert_false(kube_config_configured(NULL));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	assert_true(kube_config_configured(NULL));
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_true(kube_config_configured(NULL));
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_current_context_token_and_ca_file),
		cmocka_unit_test(test_config_data_fields_decoded),
		cmocka_unit_test(test_config_anonymous_user),
		cmocka_unit_test(test_config_errors_name_keys),
		cmocka_unit_test(test_config_structure_errors),
		cmocka_unit_test(test_config_base64),
		cmocka_unit_test(test_config_incluster),
		cmocka_unit_test(test_config_configured),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
