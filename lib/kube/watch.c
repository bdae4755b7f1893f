// SPDX-License-Identifier: Apache-2.0
/* The LIST+WATCH loop: resume from the last resourceVersion, re-LIST on 410, jittered back-off. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/list.h"
#include "lib/kube/watch.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

/* How long the transfer may outlive the server's timeoutSeconds before we call it dead. */
#define WATCH_GRACE_S 30

/* One WATCH stream being read: bytes are cut into lines, each line is one event. */
struct stream {
	const struct kube_watch *w;
	char **rv; /* the resume point: moved past every event delivered */
	char *buf;
	size_t len, cap, max;
	long status;
	bool delivered, expired, failed, cb_failed; /* delivered: an event or a bookmark */
	int cb_r;
	struct cni_err err; /* why we ended the stream ourselves */
};

#define COUNT(w, field)                      \
	do {                                 \
		if ((w)->stats)              \
			(w)->stats->field++; \
	} while (0)

static void set_rv(char **rv, const char *v)
{
	free(*rv);
	*rv = xstrdup(v);
}

/* A line the stream should not carry: reconnect from the last good resourceVersion. */
static int stream_fail(struct stream *st, const char *why)
{
	st->failed = true;
	return cni_err_set(&st->err, CNI_ERR_TRY_AGAIN, EPROTO, "watch %s: %s", st->w->path, why);
}

static int handle_line(struct stream *st, const char *line, size_t len)
{
	_cleanup_json_ cJSON *ev = NULL;
	if (json_parse(line, len, "watch event", &ev, NULL) < 0)
		return stream_fail(st, "an event is not JSON");
	const cJSON *type = json_get(ev, "type"), *obj = json_get(ev, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(obj))
		return stream_fail(st, "an event without type or object");
	const char *t = type->valuestring;
	if (strcmp(t, "ERROR") == 0) {
		/* The API server reports a resourceVersion it no longer has as a Status event:
		 * code 410, reason Expired (or Gone). */
		const cJSON *code = json_get(obj, "code");
		if (cJSON_IsNumber(code) && code->valuedouble == 410) {
			st->expired = true;
			return -1;
		}
		/* The code is the server's word: only an HTTP status is taken as one. */
		long c =
			cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble <= 599
				? (long)code->valuedouble
				: 500;
		_cleanup_free_ char *status = json_print(obj);
		st->failed = true;
		(void)kube_http_status_err(c, status, strlen(status), st->w->path, &st->err);
		st->err.code = CNI_ERR_TRY_AGAIN;
		return -1;
	}
	const char *rv = kube_object_rv(obj);
	if (strcmp(t, "BOOKMARK") == 0) {
		if (rv)
			set_rv(st->rv, rv);
		st->delivered = true;
		COUNT(st->w, bookmarks);
		return 0;
	}
	enum kube_watch_event e;
	if (strcmp(t, "ADDED") == 0)
		e = KUBE_WATCH_ADDED;
	else if (strcmp(t, "MODIFIED") == 0)
		e = KUBE_WATCH_MODIFIED;
	else if (strcmp(t, "DELETED") == 0)
		e = KUBE_WATCH_DELETED;
	else
		return stream_fail(st, "an event of unknown type");
	if (!rv)
		return stream_fail(st, "an object without a usable metadata.resourceVersion");
	int r = st->w->on_event(st->w->data, e, obj, &st->err);
	if (r < 0) {
		st->cb_failed = true;
		st->cb_r = r;
		return r;
	}
	/* Only now: a resume never skips an event the caller did not take. */
	set_rv(st->rv, rv);
	st->delivered = true;
	COUNT(st->w, events);
	return 0;
}

static int on_data(void *u, long status, const char *p, size_t n)
{
	struct stream *st = u;
	st->status = status;
	/* An error body is kept whole (bounded) for its Status message. */
	size_t room = st->max - st->len;
	if (n > room) {
		if (status != 200)
			n = room;
		else {
			st->failed = true;
			(void)cni_err_set(&st->err, CNI_ERR_KUBE_API, EFBIG,
					  "watch %s: an event larger than %zu bytes", st->w->path,
					  st->max);
			return -1;
		}
	}
	if (st->len + n + 1 > st->cap) {
		st->cap = st->cap ? st->cap : 4096;
		while (st->cap < st->len + n + 1)
			st->cap *= 2;
		st->buf = xrealloc(st->buf, st->cap);
	}
	memcpy(st->buf + st->len, p, n);
	st->len += n;
	st->buf[st->len] = '\0';
	if (status != 200)
		return 0;
	char *nl;
	size_t start = 0;
	while ((nl = memchr(st->buf + start, '\n', st->len - start))) {
		size_t l = (size_t)(nl - (st->buf + start));
		if (l && handle_line(st, st->buf + start, l) < 0)
			return -1;
		start += l + 1;
	}
	memmove(st->buf, st->buf + start, st->len - start);
	st->len -= start;
	return 0;
}

/* One WATCH from *rv until the server ends it (0), or -ESTALE (410: LIST again), -EINTR
 * (stopped), on_event's error (*ret_cb_failed), or a failure (err). */
static int watch_once(const struct kube_config *cfg, const struct kube_watch *w, char **rv,
		      long timeout_ms, bool *ret_delivered, bool *ret_cb_failed,
		      struct cni_err *err)
{
	long t = w->watch_timeout_s > 0 ? w->watch_timeout_s : KUBE_WATCH_TIMEOUT_S_DEFAULT;
	_cleanup_free_ char *esc = kube_query_escape(*rv);
	_cleanup_free_ char *extra = xasprintf(
		"watch=1&allowWatchBookmarks=true&timeoutSeconds=%ld&resourceVersion=%s", t, esc);
	_cleanup_free_ char *path = kube_list_path(w->path, &w->sel, extra);
	_cleanup_free_ char *what = xasprintf("watch %s", w->path);
	struct kube_request req = { .method = "GET", .path = path, .what = what };
	struct stream st = { .w = w,
			     .rv = rv,
			     .max = w->max_event ? w->max_event : cfg->max_response };
	long status = 0;
	if (timeout_ms > (t + WATCH_GRACE_S) * 1000)
		timeout_ms = (t + WATCH_GRACE_S) * 1000;
	int r = kube_stream(cfg, &req, timeout_ms, w->stop_fd, on_data, &st, &status, err);
	_cleanup_free_ char *body = st.buf;
	*ret_delivered = st.delivered;
	*ret_cb_failed = st.cb_failed;
	if (st.status == 200 || status == 200)
		COUNT(w, watches);
	if (st.cb_failed) {
		*err = st.err;
		return st.cb_r;
	}
	if (st.expired)
		return cni_err_set(err, CNI_ERR_KUBE_API, ESTALE, "%s: resourceVersion %s expired",
				   what, *rv);
	if (r == -EINTR)
		return r;
	if (st.failed) {
		*err = st.err;
		return cni_err_ret(err);
	}
	if (r < 0)
		return cni_err_wrap(err, "%s", what);
	if (status != 200)
		return kube_http_status_err(status, body, st.len, what, err);
	return 0;
}

static bool fd_readable(int fd, long ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (fd < 0) {
		if (ms > 0)
			(void)poll(NULL, 0, (int)ms);
		return false;
	}
	int r;
	while ((r = poll(&p, 1, (int)ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int kube_watch_run(const struct kube_config *cfg, const struct kube_watch *w, struct cni_err *err)
{
	long min = w->backoff_min_ms > 0 ? w->backoff_min_ms : KUBE_WATCH_BACKOFF_MIN_MS_DEFAULT;
	long max = w->backoff_max_ms > 0 ? w->backoff_max_ms : KUBE_WATCH_BACKOFF_MAX_MS_DEFAULT;
	int64_t deadline = w->run_ms > 0 ? clock_now_ms() + w->run_ms : INT64_MAX;
	uint32_t seed = (uint32_t)clock_now_us() ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
	_cleanup_free_ char *rv = NULL;
	unsigned failures = 0;
	int r;

	if (!w->path || !w->on_event)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "watch: a path and an event callback are required");
	for (;;) {
		if (fd_readable(w->stop_fd, 0) || clock_now_ms() >= deadline)
			return 0;
		bool ok = false;
		struct cni_err e = { 0 };
		if (!rv) {
			_cleanup_json_ cJSON *items = NULL;
			r = kube_list(cfg, w->path, &w->sel, w->max_items, &items, &rv, &e);
			if (r >= 0) {
				COUNT(w, lists);
				r = w->on_event(w->data, KUBE_WATCH_SYNC, items, err);
				if (r < 0)
					return r;
				ok = true;
			}
		} else {
			int64_t started = clock_now_ms();
			bool delivered = false, cb_failed = false;
			long left = deadline - started > 86400000 ? 86400000
								  : (long)(deadline - started);
			r = watch_once(cfg, w, &rv, left, &delivered, &cb_failed, &e);
			if (r == -EINTR)
				return 0;
			if (cb_failed) {
				*err = e;
				return r;
			}
			if (r < 0 && e.sys == ESTALE && e.code == CNI_ERR_KUBE_API) {
				log_debug("kube: %s", e.msg);
				COUNT(w, expired);
				free(rv);
				rv = NULL;
				continue;
			}
			/* A stream ended at once and empty is a failure too: no spinning. */
			ok = r >= 0 && (delivered || clock_now_ms() - started >= 1000);
			if (r >= 0 && !ok)
				r = cni_err_set(&e, CNI_ERR_TRY_AGAIN, EAGAIN,
						"watch %s: the server ended it at once", w->path);
		}
		if (r < 0 && e.code != CNI_ERR_TRY_AGAIN) {
			if (clock_now_ms() >= deadline && e.sys == ETIMEDOUT)
				return 0;
			*err = e; /* the API's final word */
			return r;
		}
		if (ok) {
			failures = 0;
			continue;
		}
		if (clock_now_ms() >= deadline)
			return 0;
		COUNT(w, failures);
		long base = min << (failures < 16 ? failures : 16);
		base = base > max || base <= 0 ? max : base;
		long wait = base / 2 + (long)(next_random(&seed) % (uint32_t)(base / 2 + 1));
		failures++;
		log_debug("kube: %s; retrying in %ld ms", e.msg, wait);
		if (deadline - clock_now_ms() < wait)
			wait = (long)(deadline - clock_now_ms());
		if (fd_readable(w->stop_fd, wait))
			return 0;
	}
}
