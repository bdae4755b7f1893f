/* SPDX-License-Identifier: Apache-2.0 */
/* The TLS API server fixture (tests/fixtures/apiserver, Node) for cmocka tests: start it on a
 * state, talk to its /_fixture/ control endpoints with plain libcurl (not the code under
 * test), stop it, load a kubeconfig for it. Include once per test program, after cmocka.h. */
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/kube/config.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

#define FIXTURE "tests/fixtures/apiserver/apiserver.js"
#define MKCERTS "tests/fixtures/apiserver/mkcerts.sh"
#define TOKEN "e2e-token-0123456789"
#define RO_TOKEN "e2e-readonly-token"

static char dir[64];
static pid_t server_pid = -1;
static int port;
static const char *skip_reason;

static inline char *path_in(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static inline int run(const char *cmd)
{
	int r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* Start the fixture and read the port it prints. */
static inline int start_server(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	_cleanup_free_ char *cert = path_in("pki/server.crt"), *key = path_in("pki/server.key");
	_cleanup_free_ char *ca = path_in("pki/ca.crt"), *state = path_in("state.json");
	_cleanup_free_ char *log = path_in("requests.log");
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		(void)dup2(fds[1], STDOUT_FILENO);
		execlp("node", "node", FIXTURE, "--cert", cert, "--key", key, "--client-ca", ca,
		       "--state", state, "--token", TOKEN, "--token-ro", RO_TOKEN, "--log", log,
		       "--max-lifetime", "300", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[32] = "";
	size_t n = 0;
	struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
	while (n < sizeof(buf) - 1 && !memchr(buf, '\n', n) && poll(&pfd, 1, 10000) > 0) {
		ssize_t k = read(fds[0], buf + n, sizeof(buf) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
	}
	close(fds[0]);
	port = atoi(buf);
	return port > 0 ? 0 : -1;
}

/* Certificates, state (a JSON object or List) and the server; a missing tool or the wrong
 * working directory sets skip_reason instead of failing. */
static inline int fixture_setup(const char *state)
{
	if (run("command -v node >/dev/null && command -v openssl >/dev/null") < 0) {
		skip_reason = "node or openssl missing (scripts/setup.sh installs them)";
		return 0;
	}
	if (access(FIXTURE, R_OK) < 0) {
		skip_reason = "run from the repository root (tests/run.sh does)";
		return 0;
	}
	strcpy(dir, "/tmp/plexus-test-kubeapi.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	_cleanup_free_ char *cmd = xasprintf("%s '%s/pki'", MKCERTS, dir);
	_cleanup_free_ char *st = path_in("state.json");
	if (run(cmd) < 0 || file_write_atomic(st, state, strlen(state), 0600) < 0)
		return -1;
	return start_server();
}

static inline int group_teardown(void **state)
{
	(void)state;
	if (server_pid > 0) {
		(void)kill(server_pid, SIGTERM);
		(void)waitpid(server_pid, NULL, 0);
	}
	if (!dir[0])
		return 0;
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	return run(cmd);
}

#define NEED_SERVER()                                             \
	do {                                                      \
		if (skip_reason) {                                \
			print_message("SKIP: %s\n", skip_reason); \
			skip();                                   \
		}                                                 \
	} while (0)

static inline size_t fixture_sink(char *p, size_t s, size_t n, void *u)
{
	char **body = u;
	size_t len = *body ? strlen(*body) : 0;
	*body = xrealloc(*body, len + s * n + 1);
	memcpy(*body + len, p, s * n);
	(*body)[len + s * n] = '\0';
	return s * n;
}

/* METHOD /_fixture/WHAT with an optional JSON body; the HTTP status (-1 on a transport
 * failure), the response body in *ret_body when it is not NULL (caller frees). */
static inline long fixture_request(const char *method, const char *what, const char *json,
				   char **ret_body)
{
	CURL *c = curl_easy_init();
	if (!c)
		return -1;
	_cleanup_free_ char *url = xasprintf("https://127.0.0.1:%d/_fixture/%s", port, what);
	_cleanup_free_ char *ca = path_in("pki/ca.crt");
	_cleanup_free_ char *body = NULL;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fixture_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	long status = 0;
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (ret_body)
		*ret_body = body ? TAKE_PTR(body) : xstrdup("");
	return rc == CURLE_OK ? status : -1;
}

/* POST/DELETE /_fixture/faults: 0 on HTTP 200. */
static inline int fixture_control(const char *method, const char *json)
{
	return fixture_request(method, "faults", json, NULL) == 200 ? 0 : -1;
}

/* A kubeconfig for the fixture with the given cluster and user fields (YAML flow maps). */
static inline struct kube_config *load_kubeconfig(const char *cluster_extra, const char *user)
{
	_cleanup_free_ char *text = xasprintf("apiVersion: v1\nkind: Config\n"
					      "clusters:\n- name: fixture\n  cluster:\n"
					      "    server: https://127.0.0.1:%d\n    %s\n"
					      "contexts:\n- name: e2e\n"
					      "  context: {cluster: fixture, user: u}\n"
					      "current-context: e2e\n"
					      "users:\n- name: u\n  user: %s\n",
					      port, cluster_extra, user);
	_cleanup_free_ char *kc = path_in("kubeconfig");
	assert_int_equal(file_write_atomic(kc, text, strlen(text), 0600), 0);
	struct cni_err err = { 0 };
	struct kube_config *cfg = NULL;
	if (kube_config_load_file(kc, &cfg, &err) < 0)
		fail_msg("kubeconfig: %s", err.msg);
	return cfg;
}

/* The fixture with its CA and a bearer token. */
static inline struct kube_config *token_config(const char *token)
{
	_cleanup_free_ char *user = xasprintf("{token: %s}", token);
	return load_kubeconfig("certificate-authority: pki/ca.crt", user);
}
