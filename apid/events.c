// SPDX-License-Identifier: Apache-2.0
/* plexus-apid's pod Events: the relay's check, a spam filter and aggregation (events.h). They
 * follow client-go's event correlator: an Event identical to one already sent (same pod, type,
 * reason, message) becomes a PATCH of that Event's count and lastTimestamp, and each pod has a
 * token bucket (burst 25, one more every 5 minutes) beyond which its Events are dropped. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apid/events.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/event.h"
#include "lib/kube/http.h"
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"

/* client-go's defaults (tools/record, EventCorrelator): LRU caches of 4096 keys, a spam
 * filter of burst 25 refilled at 1/300 per second. */
#define CACHE_MAX 4096
#define BURST 25
#define REFILL_MS (300 * 1000)

/* The head of an entry of either cache. */
struct slot {
	char *key;
	int64_t used_ms;
};

struct seen {
	struct slot slot; /* key: pod, type, reason, message */
	char *name;	  /* the Event's name in the API */
	char *ns;
	long count;
};

struct bucket {
	struct slot slot; /* key: namespace/name/uid */
	double tokens;
	int64_t at_ms;
};

static struct {
	pthread_mutex_t lock;
	struct seen seen[CACHE_MAX];
	struct bucket buckets[CACHE_MAX];
	struct metrics_family *total;
} ev = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *const results[] = { "created", "aggregated", "dropped", "refused", "failed" };

void apid_events_setup(struct metrics *reg)
{
	static const char *const labels[] = { "result", NULL };
	ev.total = metrics_family(reg, METRICS_COUNTER, "plexus_apid_events_total",
				  "Pod Events relayed for the meta-plugin, by outcome", labels,
				  NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(results); i++)
		metrics_add(ev.total, 0, results[i]);
}

/* The entry of the cache at base (CACHE_MAX entries of stride bytes, each starting with a
 * struct slot) whose key is key, else an empty one, else the least recently used (the caller
 * frees what that held). */
static struct slot *lookup(void *base, size_t stride, const char *key)
{
	struct slot *best = base;
	for (size_t i = 0; i < CACHE_MAX; i++) {
		struct slot *s = (struct slot *)((char *)base + i * stride);
		if (s->key && !strcmp(s->key, key))
			return s;
		if (best->key && (!s->key || s->used_ms < best->used_ms))
			best = s;
	}
	return best;
}

static bool is(const struct slot *s, const char *key)
{
	return s->key && !strcmp(s->key, key);
}

/* Take a token from pod's bucket; false when it is empty. Under ev.lock. */
static bool take_token(const char *pod, int64_t now)
{
	struct bucket *b = (struct bucket *)lookup(ev.buckets, sizeof(*b), pod);
	if (!is(&b->slot, pod)) {
		free(b->slot.key);
		*b = (struct bucket){ .slot.key = xstrdup(pod), .tokens = BURST, .at_ms = now };
	}
	b->tokens += (double)(now - b->at_ms) / REFILL_MS;
	if (b->tokens > BURST)
		b->tokens = BURST;
	b->at_ms = now;
	b->slot.used_ms = now;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

/* One exchange of req; a non-2xx status is an error (kube_http_status_err). */
static int exchange(const struct kube_config *cfg, struct kube_request *req, long timeout_ms,
		    long *ret_status, struct cni_err *err)
{
	_cleanup_free_ char *what = xasprintf("%s %s", req->method, req->path);
	req->body_len = strlen(req->body);
	req->what = what;
	struct kube_response resp = { .retry_after = -1 };
	int r = kube_exchange(cfg, req, timeout_ms, &resp, err);
	if (r == 0) {
		*ret_status = resp.status;
		if (resp.status < 200 || resp.status > 299)
			r = kube_http_status_err(resp.status, resp.body, resp.len, what, err);
	}
	kube_response_done(&resp);
	return r;
}

static void seen_done(struct seen *s)
{
	free(s->slot.key);
	free(s->name);
	free(s->ns);
	*s = (struct seen){ 0 };
}

/* Forget the Event named name: the API server no longer has it. */
static void forget(const char *key, const char *name)
{
	(void)pthread_mutex_lock(&ev.lock);
	struct seen *s = (struct seen *)lookup(ev.seen, sizeof(*s), key);
	if (is(&s->slot, key) && !strcmp(s->name, name))
		seen_done(s);
	(void)pthread_mutex_unlock(&ev.lock);
}

int apid_event(const struct kube_config *cfg, const cJSON *req, const char *path, long timeout_ms,
	       const char **ret_method, long *ret_status, struct cni_err *err)
{
	const cJSON *pj = json_get(req, "pod");
	struct kube_event_pod pod = {
		.ns = cJSON_GetStringValue(json_get(pj, "namespace")),
		.name = cJSON_GetStringValue(json_get(pj, "name")),
		.uid = cJSON_GetStringValue(json_get(pj, "uid")),
	};
	_cleanup_free_ char *type = NULL, *reason = NULL, *msg = NULL;
	_cleanup_free_ char *want = xasprintf("/api/v1/namespaces/%s/events", pod.ns ? pod.ns : "");
	int r = strcmp(path, want) != 0
			? cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				      "the API relay refused the event: its path is not the "
				      "namespace of the request's pod")
			: kube_event_check(&pod, cJSON_GetStringValue(json_get(req, "body")), &type,
					   &reason, &msg, err);
	if (r < 0) {
		metrics_add(ev.total, 1, "refused");
		return r;
	}
	_cleanup_free_ char *who = xasprintf("%s/%s/%s", pod.ns, pod.name, pod.uid);
	_cleanup_free_ char *key = xasprintf("%s\n%s\n%s\n%s", who, type, reason, msg);
	int64_t now = clock_now_ms();
	char ts[32];
	kube_event_time((int64_t)time(NULL), ts);
	(void)pthread_mutex_lock(&ev.lock);
	if (!take_token(who, now)) {
		(void)pthread_mutex_unlock(&ev.lock);
		metrics_add(ev.total, 1, "dropped");
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EAGAIN,
				   "event dropped: pod '%s/%s' sent too many", pod.ns, pod.name);
	}
	struct seen *s = (struct seen *)lookup(ev.seen, sizeof(*s), key);
	_cleanup_free_ char *name = NULL, *patch_path = NULL, *body = NULL;
	long count = 0;
	if (is(&s->slot, key)) {
		count = ++s->count;
		s->slot.used_ms = now;
		name = xstrdup(s->name);
		patch_path = xasprintf("/api/v1/namespaces/%s/events/%s", s->ns, s->name);
	}
	(void)pthread_mutex_unlock(&ev.lock);
	if (patch_path) {
		body = xasprintf("{\"count\":%ld,\"lastTimestamp\":\"%s\"}", count, ts);
		struct kube_request patch = { .method = "PATCH",
					      .path = patch_path,
					      .content_type = "application/merge-patch+json",
					      .body = body };
		*ret_method = patch.method;
		r = exchange(cfg, &patch, timeout_ms, ret_status, err);
		if (r == 0) {
			metrics_add(ev.total, 1, "aggregated");
			return 0;
		}
		if (r != -ENOENT) {
			metrics_add(ev.total, 1, "failed");
			return r;
		}
		/* Expired in the API server (Events have a TTL): start over. */
		forget(key, name);
		*err = (struct cni_err){ 0 };
		free(body);
	}
	char host[256];
	kube_event_host(host);
	_cleanup_json_ cJSON *e =
		kube_event_new(&pod, type, reason, msg, host, (int64_t)time(NULL));
	body = json_print(e);
	struct kube_request post = {
		.method = "POST", .path = path, .content_type = "application/json", .body = body
	};
	*ret_method = post.method;
	r = exchange(cfg, &post, timeout_ms, ret_status, err);
	if (r < 0) {
		metrics_add(ev.total, 1, "failed");
		return r;
	}
	metrics_add(ev.total, 1, "created");
	(void)pthread_mutex_lock(&ev.lock);
	s = (struct seen *)lookup(ev.seen, sizeof(*s), key);
	seen_done(s);
	*s = (struct seen){ .slot = { .key = xstrdup(key), .used_ms = now },
			    .name = xstrdup(cJSON_GetStringValue(
				    json_get(json_get(e, "metadata"), "name"))),
			    .ns = xstrdup(pod.ns),
			    .count = 1 };
	(void)pthread_mutex_unlock(&ev.lock);
	return 0;
}
