/* SPDX-License-Identifier: Apache-2.0 */
/* The daemons' observability endpoint: a tiny HTTP/1.1 GET server on its own thread serving
 * /metrics (a registry, lib/metrics/metrics.h), /healthz and /readyz (docs/observability.md).
 * Bounded: a request head of at most METRICS_HTTP_REQUEST_MAX bytes, each connection done
 * within METRICS_HTTP_DEADLINE_MS of its accept, at most METRICS_HTTP_CONNS at once (more are
 * closed at accept), one response per connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct cni_err;
struct metrics;

#define METRICS_HTTP_REQUEST_MAX 4096u
#define METRICS_HTTP_DEADLINE_MS 2000
#define METRICS_HTTP_CONNS 16

/* A parsed request line: method and target point into the parsed buffer. */
struct metrics_http_req {
	const char *method, *target;
	size_t method_len, target_len;
};

/* Parse the request head in buf[0..len) (not NUL-terminated): a request line
 * "METHOD SP /target SP HTTP/1.x" then header lines, ended by an empty line ("\r\n" or "\n"
 * line ends). Returns the head's length when complete, 0 when more is needed (and len <
 * METRICS_HTTP_REQUEST_MAX), -EFBIG when no head fits in METRICS_HTTP_REQUEST_MAX bytes,
 * -EINVAL when malformed (also as soon as the request line is). *ret only on success. */
int metrics_http_parse(const char *buf, size_t len, struct metrics_http_req *ret);

/* "HOST:PORT" with a numeric IPv4 host or a bracketed IPv6 one ("[::1]:9453") into *ret,
 * *ret_len. err is code 7 (EINVAL) naming opt. */
int metrics_http_address(const char *opt, const char *address, struct sockaddr_storage *ret,
			 socklen_t *ret_len, struct cni_err *err);

struct metrics_http;

/* Listen on address (metrics_http_address) and serve m from a new thread. /readyz answers
 * 503 until metrics_http_set_ready(h, true). m is borrowed and must outlive *ret. */
int metrics_http_start(const char *opt, const char *address, struct metrics *m,
		       struct metrics_http **ret, struct cni_err *err);
/* Whether /readyz answers 200 ("ok") or 503; callable from any thread. */
void metrics_http_set_ready(struct metrics_http *h, bool ready);
/* Stop the thread, close every connection and the listener, free h. Accepts NULL. */
void metrics_http_stop(struct metrics_http *h);
