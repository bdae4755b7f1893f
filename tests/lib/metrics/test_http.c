// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the observability endpoint's request parser and address parser
 * (lib/metrics/http.c); the server itself runs in tests/netns/metrics-*.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/metrics/http.h"
#include "lib/util/cleanup.h"

struct parse_case {
	const char *in;
	int want; /* > 0: the head's length (strlen of in when -1) */
	const char *method, *target;
};

static void one_parse(const struct parse_case *c)
{
	struct metrics_http_req req = { 0 };
	size_t len = strlen(c->in);
	int r = metrics_http_parse(c->in, len, &req);
	int want = c->want == -1 ? (int)len : c->want;
	if (r != want)
		fail_msg("'%s': got %d, want %d", c->in, r, want);
	if (r > 0) {
		assert_int_equal(req.method_len, strlen(c->method));
		assert_memory_equal(req.method, c->method, req.method_len);
		assert_int_equal(req.target_len, strlen(c->target));
		assert_memory_equal(req.target, c->target, req.target_len);
	}
}

static void test_http_parse_complete(void **state)
{
	(void)state;
	static const struct parse_case cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", -1, "GET", "/metrics" },
		{ "GET /readyz HTTP/1.0\r\n\r\n", -1, "GET", "/readyz" },
		{ "HEAD /healthz?x=1 HTTP/1.1\n\n", -1, "HEAD", "/healthz?x=1" },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 45, "POST",
		  "/metrics" },
		{ "GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n", -1, "GET", "/" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		one_parse(&cases[i]);
}

static void test_http_parse_incomplete(void **state)
{
	(void)state;
	static const struct parse_case cases[] = {
		{ "", 0 },
		{ "G", 0 },
		{ "GET /metrics HTTP/1.1", 0 },
		{ "GET /metrics HTTP/1.1\r\n", 0 },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", 0 },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		one_parse(&cases[i]);
}

static void test_http_parse_malformed(void **state)
{
	(void)state;
	static const struct parse_case cases[] = {
		{ "\r\n", -EINVAL },
		{ " GET / HTTP/1.1\r\n\r\n", -EINVAL },
		{ "\x16\x03\x01", -EINVAL }, /* a TLS ClientHello */
		{ "GET metrics HTTP/1.1\r\n\r\n", -EINVAL },
		{ "GET /metrics HTTP/2.0\r\n\r\n", -EINVAL },
		{ "GET /metrics HTTP/1.1 x\r\n\r\n", -EINVAL },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", -EINVAL },
		{ "GET /metrics\r\n\r\n", -EINVAL },
		{ "GET /me\x01trics HTTP/1.1\r\n\r\n", -EINVAL },
		{ "GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n", -EINVAL },
		{ "G(T /metrics HTTP/1.1\r\n\r\n", -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		one_parse(&cases[i]);
}

static void test_http_parse_limit(void **state)
{
	(void)state;
	size_t n = METRICS_HTTP_REQUEST_MAX + 100;
	_cleanup_free_ char *buf = xmalloc(n);
	memset(buf, 'a', n);
	memcpy(buf, "GET /", 5);
	struct metrics_http_req req;
	/* A request line still growing: more is needed until the limit, then too large. */
	assert_int_equal(metrics_http_parse(buf, METRICS_HTTP_REQUEST_MAX - 1, &req), 0);
	assert_int_equal(metrics_http_parse(buf, METRICS_HTTP_REQUEST_MAX, &req), -EFBIG);
	assert_int_equal(metrics_http_parse(buf, n, &req), -EFBIG);
	/* Headers that never end: too large too. */
	const char *line = "GET / HTTP/1.1\r\n";
	memcpy(buf, line, strlen(line));
	for (size_t i = strlen(line); i + 8 < n; i += 8)
		memcpy(buf + i, "X: yy\r\n\0", 7), buf[i + 7] = 'Z';
	assert_int_equal(metrics_http_parse(buf, n, &req), -EFBIG);
	/* A head just within the limit is complete. */
	memset(buf, 'a', n);
	memcpy(buf, "GET /", 5);
	size_t head = METRICS_HTTP_REQUEST_MAX;
	memcpy(buf + head - 13, " HTTP/1.1\n\r\n", 12);
	buf[head - 1] = 'x'; /* after the head: not looked at */
	assert_int_equal(metrics_http_parse(buf, head, &req), (int)head - 1);
}

struct addr_case {
	const char *in;
	int family; /* 0: refused */
	const char *ip;
	int port;
};

static void test_http_address(void **state)
{
	(void)state;
	static const struct addr_case cases[] = {
		{ "127.0.0.1:9453", AF_INET, "127.0.0.1", 9453 },
		{ "0.0.0.0:1", AF_INET, "0.0.0.0", 1 },
		{ "[::1]:65535", AF_INET6, "::1", 65535 },
		{ "[::]:9454", AF_INET6, "::", 9454 },
		{ "::1:9453", 0 },
		{ "[127.0.0.1]:9453", 0 },
		{ "localhost:9453", 0 },
		{ "127.0.0.1", 0 },
		{ "127.0.0.1:", 0 },
		{ "127.0.0.1:0", 0 },
		{ "127.0.0.1:65536", 0 },
		{ "127.0.0.1:+80", 0 },
		{ ":9453", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct addr_case *c = &cases[i];
		struct sockaddr_storage ss;
		socklen_t sl = 0;
		struct cni_err err = { 0 };
		int r = metrics_http_address("--metrics-address", c->in, &ss, &sl, &err);
		if (!c->family) {
			if (r != -EINVAL)
				fail_msg("'%s' accepted", c->in);
			assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
			assert_non_null(strstr(err.msg, "--metrics-address"));
			continue;
		}
		if (r < 0)
			fail_msg("'%s': %s", c->in, err.msg);
		assert_int_equal(ss.ss_family, c->family);
		char ip[64];
		const void *a = c->family == AF_INET
					? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		assert_non_null(inet_ntop(c->family, a, ip, sizeof(ip)));
		assert_string_equal(ip, c->ip);
		int port = ntohs(c->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
		assert_int_equal(port, c->port);
		assert_int_equal(sl, c->family == AF_INET ? sizeof(struct sockaddr_in)
							  : sizeof(struct sockaddr_in6));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_parse_complete),
		cmocka_unit_test(test_http_parse_incomplete),
		cmocka_unit_test(test_http_parse_malformed),
		cmocka_unit_test(test_http_parse_limit),
		cmocka_unit_test(test_http_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
