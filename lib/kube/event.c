// SPDX-License-Identifier: Apache-2.0
/* Pod Events: building them, bounding their tenant-written text, checking them (event.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/event.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/relay.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/sock.h"

static const struct {
	const char *type, *reason;
} reasons[] = {
	{ "Normal", KUBE_EVENT_ADDED },
	{ "Warning", KUBE_EVENT_NO_NETWORK },
	{ "Warning", KUBE_EVENT_ADD_FAILED },
	{ "Warning", KUBE_EVENT_CLAIM_STATUS },
};

bool kube_event_reason_ok(const char *type, const char *reason)
{
	for (size_t i = 0; type && reason && i < ARRAY_SIZE(reasons); i++)
		if (!strcmp(type, reasons[i].type) && !strcmp(reason, reasons[i].reason))
			return true;
	return false;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80		   ? 1
		   : (s[0] & 0xe0) == 0xc0 ? 2
		   : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4
					   : 0;
	if (n == 2 && s[0] < 0xc2)
		return 0; /* overlong */
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

char *kube_event_message(const char *text)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t cap = KUBE_EVENT_MESSAGE_MAX, len = 0;
	char *out = xmalloc(cap + 1);
	while (*s) {
		size_t n = utf8_len(s);
		if (len + (n ? n : 1) > cap) {
			/* Cut, keeping room for the marker at a character boundary (out[len], the
			 * first byte dropped, must not continue a character). */
			size_t end = len;
			while (len > cap - 3 ||
			       (len > 0 && len < end && ((unsigned char)out[len] & 0xc0) == 0x80))
				len--;
			memcpy(out + len, "...", 3);
			len += 3;
			break;
		}
		if (n == 0) {
			out[len++] = '?';
			s++;
		} else if (n == 1) {
			out[len++] = *s < 0x20 || *s == 0x7f ? ' ' : (char)*s;
			s++;
		} else {
			memcpy(out + len, s, n);
			len += n;
			s += n;
		}
	}
	out[len] = '\0';
	return out;
}

void kube_event_time(int64_t s, char buf[32])
{
	time_t t = (time_t)s;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

cJSON *kube_event_new(const struct kube_event_pod *pod, const char *type, const char *reason,
		      const char *message, const char *host, int64_t now_s)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	/* Unique like client-go's names: the object's name and a time-based suffix; a pod name
	 * is at most 253 characters, the Event's too. */
	char name[254];
	snprintf(name, sizeof(name), "%.*s.%llx", 253 - 17, pod->name,
		 (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
	char now[32];
	kube_event_time(now_s, now);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "apiVersion", "v1");
	cJSON_AddStringToObject(e, "kind", "Event");
	cJSON *m = cJSON_AddObjectToObject(e, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "namespace", pod->ns);
	cJSON *o = cJSON_AddObjectToObject(e, "involvedObject");
	cJSON_AddStringToObject(o, "apiVersion", "v1");
	cJSON_AddStringToObject(o, "kind", "Pod");
	cJSON_AddStringToObject(o, "namespace", pod->ns);
	cJSON_AddStringToObject(o, "name", pod->name);
	if (pod->uid && *pod->uid)
		cJSON_AddStringToObject(o, "uid", pod->uid);
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddStringToObject(e, "message", message);
	cJSON *src = cJSON_AddObjectToObject(e, "source");
	cJSON_AddStringToObject(src, "component", KUBE_EVENT_COMPONENT);
	if (host && *host)
		cJSON_AddStringToObject(src, "host", host);
	cJSON_AddStringToObject(e, "reportingComponent", KUBE_EVENT_CONTROLLER);
	cJSON_AddStringToObject(e, "reportingInstance",
				host && *host ? host : KUBE_EVENT_COMPONENT);
	cJSON_AddStringToObject(e, "firstTimestamp", now);
	cJSON_AddStringToObject(e, "lastTimestamp", now);
	cJSON_AddNumberToObject(e, "count", 1);
	return e;
}

static int refuse(struct cni_err *err, const char *field, const char *why)
{
	return cni_err_set(err, CNI_ERR_KUBE_API, EPERM, "the API relay refused the event: %s %s",
			   field, why);
}

/* obj's string member key equals want ("" and absent are the same). */
static bool same(const cJSON *obj, const char *key, const char *want)
{
	const cJSON *v = json_get(obj, key);
	const char *s = cJSON_IsString(v) ? v->valuestring : v ? NULL : "";
	return s && !strcmp(s, want ? want : "");
}

int kube_event_check(const struct kube_event_pod *pod, const char *body, char **ret_type,
		     char **ret_reason, char **ret_message, struct cni_err *err)
{
	size_t uid_len = pod->uid ? strspn(pod->uid, "0123456789abcdef-") : 0;
	if (!pod->ns || !kube_dns1123_label(pod->ns) || !pod->name ||
	    !kube_dns1123_subdomain(pod->name) || !pod->uid || pod->uid[uid_len] || uid_len > 64)
		return refuse(err, "pod", "is not a valid namespace, name and uid");
	_cleanup_json_ cJSON *j = body ? cJSON_Parse(body) : NULL;
	if (!cJSON_IsObject(j) || !same(j, "kind", "Event"))
		return refuse(err, "body", "is not an Event object");
	const cJSON *o = json_get(j, "involvedObject");
	if (!cJSON_IsObject(o) || !same(o, "kind", "Pod") || !same(o, "namespace", pod->ns) ||
	    !same(o, "name", pod->name) || !same(o, "uid", pod->uid) ||
	    !same(json_get(j, "metadata"), "namespace", pod->ns))
		return refuse(err, "involvedObject",
			      "is not the pod of the request (namespace, name, uid)");
	const char *type = cJSON_GetStringValue(json_get(j, "type"));
	const char *reason = cJSON_GetStringValue(json_get(j, "reason"));
	if (!kube_event_reason_ok(type, reason))
		return refuse(err, "type/reason", "is not one plexus reports");
	const char *msg = cJSON_GetStringValue(json_get(j, "message"));
	_cleanup_free_ char *fit = kube_event_message(msg);
	if (!msg || strcmp(fit, msg) != 0)
		return refuse(err, "message",
			      "is missing, too long or holds control characters or invalid UTF-8");
	*ret_type = xstrdup(type);
	*ret_reason = xstrdup(reason);
	*ret_message = TAKE_PTR(fit);
	return 0;
}

void kube_event_host(char buf[256])
{
	const char *node = secure_getenv("NODE_NAME");
	if (node && *node && strlen(node) < 256) {
		strcpy(buf, node);
		return;
	}
	if (gethostname(buf, 256) < 0)
		buf[0] = '\0';
	buf[255] = '\0';
}

int kube_event_relay(const char *sock, const struct kube_event_pod *pod, const cJSON *event,
		     int64_t deadline, struct cni_err *err)
{
	_cleanup_free_ char *body = json_print(event);
	_cleanup_free_ char *path = xasprintf("/api/v1/namespaces/%s/events", pod->ns);
	_cleanup_close_ int fd = sock_unix_connect(sock, 0);
	if (fd == -ENOENT || fd == -ECONNREFUSED)
		return fd;
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, -fd, "API relay '%s': connect: %s", sock,
				   strerror(-fd));
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "method", "POST");
	cJSON_AddStringToObject(j, "path", path);
	cJSON_AddStringToObject(j, "contentType", "application/json");
	cJSON_AddStringToObject(j, "body", body);
	cJSON *p = cJSON_AddObjectToObject(j, "pod");
	cJSON_AddStringToObject(p, "namespace", pod->ns);
	cJSON_AddStringToObject(p, "name", pod->name);
	cJSON_AddStringToObject(p, "uid", pod->uid ? pod->uid : "");
	_cleanup_free_ char *text = json_print(j);
	int r = kube_relay_send(fd, text, strlen(text), deadline);
	if (r == 0 && shutdown(fd, SHUT_WR) < 0)
		r = -errno;
	/* The first line is all we wait for: the ack, or a refusal such as "busy". */
	char line[KUBE_RELAY_HEADER_MAX];
	size_t len = 0;
	while (r == 0 && !memchr(line, '\n', len) && len < sizeof(line)) {
		int64_t left = deadline - clock_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (n == 0)
			r = -ETIMEDOUT;
		else if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0) {
			ssize_t got = recv(fd, line + len, sizeof(line) - len, MSG_DONTWAIT);
			if (got == 0)
				r = -ECONNRESET;
			else if (got < 0 && errno != EINTR && errno != EAGAIN)
				r = -errno;
			else if (got > 0)
				len += (size_t)got;
		}
	}
	if (r < 0)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, -r,
				   "API relay '%s': no acknowledgement of the event: %s", sock,
				   strerror(-r));
	size_t ack = strlen(KUBE_RELAY_ACK);
	if (len >= ack && !memcmp(line, KUBE_RELAY_ACK, ack))
		return 0;
	struct kube_response resp = { .retry_after = -1 };
	r = kube_relay_parse_answer(sock, line, len, &resp, err);
	kube_response_done(&resp);
	return r < 0 ? r
		     : cni_err_set(err, CNI_ERR_TRY_AGAIN, EPROTO,
				   "API relay '%s': answered without acknowledging", sock);
}

int kube_event_request(const struct kube_config *cfg, const char *method, const char *path,
		       const char *body, long timeout_ms, long *ret_status, struct cni_err *err)
{
	if (ret_status)
		*ret_status = 0;
	if (timeout_ms < 1)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT, "no time left to send it");
	struct kube_config direct = *cfg;
	if (direct.ops == &kube_relay_ops)
		direct.ops = NULL;
	_cleanup_free_ char *what = xasprintf("%s %s", method, path);
	struct kube_request req = {
		.method = method,
		.path = path,
		.content_type = strcmp(method, "PATCH") ? "application/json"
							: "application/merge-patch+json",
		.body = body,
		.body_len = strlen(body),
		.what = what,
	};
	struct kube_response resp = { .retry_after = -1 };
	int r = kube_exchange(&direct, &req, timeout_ms, &resp, err);
	if (r == 0) {
		if (ret_status)
			*ret_status = resp.status;
		if (resp.status < 200 || resp.status > 299)
			r = kube_http_status_err(resp.status, resp.body, resp.len, what, err);
	}
	kube_response_done(&resp);
	return r;
}

char *kube_event_patch_body(long count, int64_t now_s, const char *message)
{
	char ts[32];
	kube_event_time(now_s, ts);
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "count", (double)count);
	cJSON_AddStringToObject(j, "lastTimestamp", ts);
	if (message)
		cJSON_AddStringToObject(j, "message", message);
	return json_print(j);
}

uint64_t kube_event_hash(const char *message)
{
	uint64_t h = 14695981039346656037ull;
	for (const char *p = message; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h ? h : 1;
}

char *kube_event_combined_message(const char *message)
{
	_cleanup_free_ char *text = xasprintf("%s%s", KUBE_EVENT_COMBINED_PREFIX, message);
	return kube_event_message(text);
}

/* A slot for a new message: a free one, else the least recently used outside the window (there
 * is one: at most KUBE_EVENT_SIMILAR_MAX - 1 messages are in the window). */
static struct kube_event_sent *new_slot(struct kube_event_corr *c)
{
	struct kube_event_sent *best = NULL;
	for (size_t i = 0; i < KUBE_EVENT_SIMILAR_MAX; i++) {
		struct kube_event_sent *s = &c->sent[i];
		if (!s->hash)
			return s;
		if (!s->in_window && (!best || s->used_s < best->used_s))
			best = s;
	}
	return best;
}

void kube_event_correlate(struct kube_event_corr *c, const char *message, int64_t now_s,
			  struct kube_event_step *ret)
{
	uint64_t h = kube_event_hash(message);
	/* client-go's aggregator starts a new record after a gap longer than the interval. */
	if (now_s - c->last_s > KUBE_EVENT_WINDOW_S)
		for (size_t i = 0; i < KUBE_EVENT_SIMILAR_MAX; i++)
			c->sent[i].in_window = false;
	c->last_s = now_s;
	struct kube_event_sent *s = NULL;
	size_t n_in = 0;
	for (size_t i = 0; i < KUBE_EVENT_SIMILAR_MAX; i++) {
		n_in += c->sent[i].in_window;
		if (c->sent[i].hash == h)
			s = &c->sent[i];
	}
	if ((s && s->in_window) || n_in + 1 < KUBE_EVENT_SIMILAR_MAX) {
		if (!s) {
			s = new_slot(c);
			*s = (struct kube_event_sent){ .hash = h };
		}
		s->in_window = true;
		s->used_s = now_s;
		*ret = (struct kube_event_step){ .patch = s->name[0] != '\0', .slot = s };
		if (ret->patch)
			s->count++;
		return;
	}
	/* The KUBE_EVENT_SIMILAR_MAX-th distinct message: client-go drops one message of the set
	 * to keep it below the threshold; dropping this one keeps the other messages' own Events
	 * (deterministic, where client-go drops any). */
	if (s)
		s->in_window = false;
	c->combined.hash = 1;
	c->combined.used_s = now_s;
	*ret = (struct kube_event_step){ .patch = c->combined.name[0] != '\0',
					 .combined = true,
					 .slot = &c->combined };
	if (ret->patch)
		c->combined.count++;
}
