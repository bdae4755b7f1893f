// SPDX-License-Identifier: Apache-2.0
/* Kubernetes API requests: token, retry policy and the one HTTP status -> cni_err mapping. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

#define TOKEN_MAX (64u << 10)

void kube_response_done(struct kube_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

static void real_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(const struct kube_transport_ops *ops, void *data)
{
	return ops->now_ms ? ops->now_ms(data) : (long)clock_now_ms();
}

static void sleep_ms(const struct kube_transport_ops *ops, void *data, long ms)
{
	if (ops->sleep_ms)
		ops->sleep_ms(data, ms);
	else
		real_sleep_ms(ms);
}

static void token_freep(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
}

/* The bearer token for one request: the static one, or the token file read now (service
 * account tokens are rotated by the kubelet). NULL when the config has neither. */
static int get_token(const struct kube_config *cfg, char **ret, struct cni_err *err)
{
	*ret = NULL;
	if (cfg->token) {
		*ret = xstrdup(cfg->token);
	} else if (cfg->token_file) {
		size_t len = 0;
		int r = file_read_all(cfg->token_file, TOKEN_MAX, ret, &len);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_IO, r, "reading token file '%s': %s",
					   cfg->token_file, strerror(-r));
		while (len > 0 && strchr(" \t\r\n", (*ret)[len - 1]))
			(*ret)[--len] = '\0';
	} else {
		return 0;
	}
	/* Anything outside visible ASCII would corrupt (or inject) HTTP headers. */
	for (const unsigned char *s = (const unsigned char *)*ret; *s; s++)
		if (*s <= ' ' || *s >= 0x7f) {
			token_freep(ret);
			*ret = NULL;
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
					   "bearer token%s%s%s contains invalid characters",
					   cfg->token_file ? " file '" : "",
					   cfg->token_file ? cfg->token_file : "",
					   cfg->token_file ? "'" : "");
		}
	if (!**ret) {
		token_freep(ret);
		*ret = NULL;
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "bearer token%s%s%s is empty",
				   cfg->token_file ? " file '" : "",
				   cfg->token_file ? cfg->token_file : "",
				   cfg->token_file ? "'" : "");
	}
	return 0;
}

/* Copy a server-supplied string into buf without control characters. */
static void sanitize(char *buf, size_t size, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < size; s++)
		buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
	buf[n] = '\0';
}

int kube_http_status_err(long status, const char *body, size_t len, const char *what,
			 struct cni_err *err)
{
	char message[CNI_ERR_MSG_MAX] = "", reason[64] = "";
	_cleanup_json_ cJSON *json = NULL;
	/* Kubernetes explains every failure with a Status object (kind: Status, message). */
	if (body && len && json_parse(body, len, "status", &json, NULL) == 0) {
		const cJSON *kind = json_get(json, "kind");
		if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) {
			const cJSON *m = json_get(json, "message"), *rs = json_get(json, "reason");
			if (cJSON_IsString(m))
				sanitize(message, sizeof(message), m->valuestring);
			if (cJSON_IsString(rs))
				sanitize(reason, sizeof(reason), rs->valuestring);
		}
	}
	int code = CNI_ERR_KUBE_API, sys;
	const char *label;
	char other[32];
	switch (status) {
	case 400:
		sys = EINVAL, label = "bad request";
		break;
	case 401:
		sys = EACCES, label = "unauthorized";
		break;
	case 403:
		sys = EACCES, label = "forbidden";
		break;
	case 404:
		sys = ENOENT, label = "not found";
		break;
	case 409:
		sys = EBUSY, label = "conflict";
		break;
	case 410: /* a resourceVersion or continue token older than the server keeps */
		sys = ESTALE, label = "expired";
		break;
	case 415:
	case 422:
		sys = EINVAL, label = status == 415 ? "unsupported media type" : "invalid";
		break;
	case 429:
		code = CNI_ERR_TRY_AGAIN, sys = EAGAIN, label = "too many requests";
		break;
	default:
		if (status >= 500 && status <= 599) {
			code = CNI_ERR_TRY_AGAIN, sys = EAGAIN;
			(void)snprintf(other, sizeof(other), "server error %ld", status);
		} else {
			sys = EPROTO;
			(void)snprintf(other, sizeof(other), "unexpected HTTP status %ld", status);
		}
		label = other;
		break;
	}
	int r = cni_err_set(err, code, sys, "%s: %s%s%s", label, what, *message ? ": " : "",
			    message);
	cni_err_details(err, "HTTP %ld%s%s", status, *reason ? " " : "", reason);
	return r;
}

int kube_exchange(const struct kube_config *cfg, const struct kube_request *req, long timeout_ms,
		  struct kube_response *resp, struct cni_err *err)
{
	const struct kube_transport_ops *ops = cfg->ops ? cfg->ops : &kube_curl_ops;
	_cleanup_(token_freep) char *token = NULL;
	int r = get_token(cfg, &token, err);
	if (r < 0)
		return r;
	return ops->exchange(cfg->ops ? cfg->ops_data : NULL, cfg, req, token, timeout_ms, resp,
			     err);
}

int kube_stream(const struct kube_config *cfg, const struct kube_request *req, long timeout_ms,
		int stop_fd, kube_stream_fn on_data, void *u, long *ret_status, struct cni_err *err)
{
	const struct kube_transport_ops *ops = cfg->ops ? cfg->ops : &kube_curl_ops;
	if (!ops->stream)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOTSUP, "%s: transport cannot stream",
				   req->what);
	_cleanup_(token_freep) char *token = NULL;
	int r = get_token(cfg, &token, err);
	if (r < 0)
		return r;
	return ops->stream(cfg->ops ? cfg->ops_data : NULL, cfg, req, token, timeout_ms, stop_fd,
			   on_data, u, ret_status, err);
}

int kube_request(const struct kube_config *cfg, const struct kube_request *req, char **ret_body,
		 size_t *ret_len, struct cni_err *err)
{
	const struct kube_transport_ops *ops = cfg->ops ? cfg->ops : &kube_curl_ops;
	void *data = cfg->ops ? cfg->ops_data : NULL;
	long deadline = now_ms(ops, data) + cfg->timeout_ms;
	int n429 = 0, n5xx = 0, r;

	for (;;) {
		long remaining = deadline - now_ms(ops, data);
		if (remaining <= 0)
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
					   "%s: timed out after %ld ms", req->what,
					   cfg->timeout_ms);
		_cleanup_(token_freep) char *token = NULL;
		r = get_token(cfg, &token, err);
		if (r < 0)
			return cni_err_wrap(err, "%s", req->what);
		struct kube_response resp = { .retry_after = -1 };
		r = ops->exchange(data, cfg, req, token, remaining, &resp, err);
		if (r < 0) {
			kube_response_done(&resp);
			return cni_err_wrap(err, "%s", req->what);
		}
		if (resp.len > cfg->max_response) {
			kube_response_done(&resp);
			return cni_err_set(err, CNI_ERR_KUBE_API, EFBIG,
					   "%s: response larger than %zu bytes", req->what,
					   cfg->max_response);
		}
		if (resp.status >= 200 && resp.status <= 299) {
			log_debug("kube: %s: HTTP %ld", req->what, resp.status);
			if (!resp.body)
				resp.body = xstrdup("");
			if (ret_len)
				*ret_len = resp.len;
			if (ret_body)
				*ret_body = TAKE_PTR(resp.body);
			kube_response_done(&resp);
			return 0;
		}
		long wait = -1;
		if (resp.status == 429 && n429 < KUBE_RETRY_429_MAX) {
			long s = resp.retry_after >= 0 ? resp.retry_after : 1;
			wait = (s > KUBE_RETRY_AFTER_MAX_S ? KUBE_RETRY_AFTER_MAX_S : s) * 1000;
			n429++;
		} else if (resp.status >= 500 && resp.status <= 599 && n5xx < KUBE_RETRY_5XX_MAX) {
			wait = KUBE_BACKOFF_5XX_MS;
			n5xx++;
		}
		/* Retry only when the wait still leaves time for the request itself. */
		if (wait >= 0 && now_ms(ops, data) + wait < deadline) {
			log_debug("kube: %s: HTTP %ld, retrying in %ld ms", req->what, resp.status,
				  wait);
			kube_response_done(&resp);
			sleep_ms(ops, data, wait);
			continue;
		}
		r = kube_http_status_err(resp.status, resp.body, resp.len, req->what, err);
		kube_response_done(&resp);
		return r;
	}
}

int kube_request_json(const struct kube_config *cfg, const char *method, const char *path,
		      const cJSON *body, char **ret_body, size_t *ret_len, struct cni_err *err)
{
	_cleanup_free_ char *text = body ? json_print(body) : NULL;
	_cleanup_free_ char *what = xasprintf("%s %s", method, path);
	struct kube_request req = {
		.method = method,
		.path = path,
		.content_type = !text			   ? NULL
				: !strcmp(method, "PATCH") ? "application/merge-patch+json"
							   : "application/json",
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.what = what,
	};
	return kube_request(cfg, &req, ret_body, ret_len, err);
}
