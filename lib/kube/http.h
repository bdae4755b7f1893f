/* SPDX-License-Identifier: Apache-2.0 */
/* One Kubernetes API request: auth, timeouts, size limit, retries, HTTP status -> cni_err. */
#pragma once

#include <stddef.h>

struct cni_err;
struct kube_config;

/* One request. `path` starts with '/' and is already escaped. */
struct kube_request {
	const char *method; /* "GET", "PATCH" */
	const char *path;
	const char *content_type; /* NULL when there is no body */
	const char *body;
	size_t body_len;
	const char *what; /* for errors: "get pods/NS/NAME" */
};

/* What one HTTP exchange produced. body is owned by the struct (kube_response_done). */
struct kube_response {
	long status;
	char *body;
	size_t len;
	long retry_after; /* seconds from a Retry-After header, -1 if absent or unparsable */
};

void kube_response_done(struct kube_response *resp);

/* Receives a streamed body as it arrives; status is the response's HTTP status. Returns < 0
 * to end the exchange. */
typedef int (*kube_stream_fn)(void *u, long status, const char *p, size_t n);

/* Transport seam (tests plug in canned responses). exchange performs exactly one HTTP exchange
 * against cfg->server: on any HTTP response it returns 0 and fills resp (body at most max_response
 * bytes, else -EFBIG); on a transport failure it returns -errno with err set (code 11 for
 * connect/timeout errors, 101 for TLS verification failures). token may be NULL and must never
 * be logged. sleep_ms and now_ms may be NULL (real clock); tests use them to avoid sleeping. */
struct kube_transport_ops {
	int (*exchange)(void *data, const struct kube_config *cfg, const struct kube_request *req,
			const char *token, long timeout_ms, struct kube_response *resp,
			struct cni_err *err);
	void (*sleep_ms)(void *data, long ms);
	long (*now_ms)(void *data);
	/* One GET whose body goes to on_data as it arrives (a watch). 0 with *ret_status when the
	 * body ended; code 11 -EINTR as soon as stop_fd (-1: none) is readable, -ECANCELED when
	 * on_data ended it; else as exchange. NULL: the transport cannot stream. */
	int (*stream)(void *data, const struct kube_config *cfg, const struct kube_request *req,
		      const char *token, long timeout_ms, int stop_fd, kube_stream_fn on_data,
		      void *u, long *ret_status, struct cni_err *err);
};

/* The libcurl transport (the default when cfg->ops is NULL). */
extern const struct kube_transport_ops kube_curl_ops;
/* Load and initialise libcurl now instead of at the first request (it is dlopen'ed: ~11 ms
 * here). Thread-safe, idempotent. Code 101 ELIBACC naming the loader's error when it is
 * missing. */
int kube_curl_load(struct cni_err *err);

/* Bounds on the retry policy, shared with docs/kube.md. */
#define KUBE_RETRY_429_MAX 2
#define KUBE_RETRY_AFTER_MAX_S 10
#define KUBE_RETRY_5XX_MAX 1
#define KUBE_BACKOFF_5XX_MS 200

/* Exactly one exchange with cfg's transport and credentials (the token file read now): no
 * retries, no status mapping. For the API relay daemon, which leaves both to its client. */
int kube_exchange(const struct kube_config *cfg, const struct kube_request *req, long timeout_ms,
		  struct kube_response *resp, struct cni_err *err);

/* kube_exchange's streaming twin (transport's stream op, token read now), for watches. */
int kube_stream(const struct kube_config *cfg, const struct kube_request *req, long timeout_ms,
		int stop_fd, kube_stream_fn on_data, void *u, long *ret_status,
		struct cni_err *err);

/* Perform req with retries (429: up to KUBE_RETRY_429_MAX honouring Retry-After; 5xx: once
 * after KUBE_BACKOFF_5XX_MS), all within cfg->timeout_ms. On 2xx returns 0 and hands the body
 * (NUL-terminated, caller frees) to *ret_body / *ret_len (either may be NULL). Errors, mapped
 * in kube_http_status_err: 404 -ENOENT, 401/403 -EACCES, 409 -EBUSY, 410 -ESTALE (code 101);
 * 429, 5xx, connect and timeout failures code 11. */
int kube_request(const struct kube_config *cfg, const struct kube_request *req, char **ret_body,
		 size_t *ret_len, struct cni_err *err);

/* kube_request of method on path with body (NULL: none) sent as application/json, or for PATCH
 * as a JSON merge patch (RFC 7386); errors name "METHOD path". */
struct cJSON;
int kube_request_json(const struct kube_config *cfg, const char *method, const char *path,
		      const struct cJSON *body, char **ret_body, size_t *ret_len,
		      struct cni_err *err);

/* Map a non-2xx HTTP status (and its Kubernetes Status body, if any) to err; returns -errno. */
int kube_http_status_err(long status, const char *body, size_t len, const char *what,
			 struct cni_err *err);
