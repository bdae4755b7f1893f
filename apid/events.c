// SPDX-License-Identifier: Apache-2.0
/* plexus-apid's pod Events: the relay's check, a spam filter and aggregation (events.h). They
 * follow client-go's event correlator: identical Events become PATCHes of one Event's count,
 * similar ones (other messages) one combined Event after 10 (kube_event_correlate), and each
 * pod has a token bucket (burst 25, one more every 5 minutes) beyond which its Events are
 * dropped. */
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
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"

/* client-go's defaults (tools/record, EventCorrelator): LRU caches of 4096 keys, a spam
 * filter of burst 25 refilled at 1/300 per second. */
#define CACHE_MAX 4096
#define BURST 25
#define REFILL_MS (300 * 1000)

/* The head of a spam-filter bucket. */
struct slot {
	char *key;
	int64_t used_ms;
};

/* The correlation of one aggregate key: pod, type, reason. */
struct record {
	struct slot slot; /* key: namespace/name/uid, type, reason */
	char *ns;
	struct kube_event_corr corr;
};

struct bucket {
	struct slot slot; /* key: namespace/name/uid */
	double tokens;
	int64_t at_ms;
};

static struct {
	pthread_mutex_t lock;
	struct record *records[CACHE_MAX]; /* owned, NULL: free */
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

static bool is(const struct slot *s, const char *key)
{
	return s->key && !strcmp(s->key, key);
}

/* The bucket whose key is key, else an empty one, else the least recently used (the caller
 * frees what that held). */
static struct bucket *bucket_lookup(const char *key)
{
	struct bucket *best = ev.buckets;
	for (size_t i = 0; i < CACHE_MAX; i++) {
		struct bucket *b = &ev.buckets[i];
		if (is(&b->slot, key))
			return b;
		if (best->slot.key && (!b->slot.key || b->slot.used_ms < best->slot.used_ms))
			best = b;
	}
	return best;
}

/* Take a token from pod's bucket; false when it is empty. Under ev.lock. */
static bool take_token(const char *pod, int64_t now)
{
	struct bucket *b = bucket_lookup(pod);
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

/* The record of key, or NULL. Under ev.lock. */
static struct record *record_find(const char *key)
{
	for (size_t i = 0; i < CACHE_MAX; i++)
		if (ev.records[i] && is(&ev.records[i]->slot, key))
			return ev.records[i];
	return NULL;
}

/* The record of key, made (in a free place, else in place of the least recently used) when
 * there is none. Under ev.lock. */
static struct record *record_get(const char *key, const char *ns)
{
	struct record *r = record_find(key);
	if (r)
		return r;
	struct record **best = &ev.records[0];
	for (size_t i = 0; i < CACHE_MAX && *best; i++)
		if (!ev.records[i] || ev.records[i]->slot.used_ms < (*best)->slot.used_ms)
			best = &ev.records[i];
	if (*best) {
		free((*best)->slot.key);
		free((*best)->ns);
		free(*best);
	}
	*best = xcalloc(1, sizeof(**best));
	(*best)->slot.key = xstrdup(key);
	(*best)->ns = xstrdup(ns);
	return *best;
}

/* The slot of the record of key that the step was about (index i, -1: combined) if it still
 * holds the same message, else NULL. Under ev.lock. */
static struct kube_event_sent *sent_find(const char *key, int i, uint64_t hash)
{
	struct record *r = record_find(key);
	struct kube_event_sent *s = !r ? NULL : i < 0 ? &r->corr.combined : &r->corr.sent[i];
	return s && s->hash == hash ? s : NULL;
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
	_cleanup_free_ char *key = xasprintf("%s\n%s\n%s", who, type, reason);
	int64_t now = clock_now_ms(), now_s = (int64_t)time(NULL);
	(void)pthread_mutex_lock(&ev.lock);
	if (!take_token(who, now)) {
		(void)pthread_mutex_unlock(&ev.lock);
		metrics_add(ev.total, 1, "dropped");
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EAGAIN,
				   "event dropped: pod '%s/%s' sent too many", pod.ns, pod.name);
	}
	struct record *rec = record_get(key, pod.ns);
	rec->slot.used_ms = now;
	struct kube_event_step step;
	kube_event_correlate(&rec->corr, msg, now_s, &step);
	/* What the step needs once the lock is released (another request may change rec). */
	int idx = step.combined ? -1 : (int)(step.slot - rec->corr.sent);
	uint64_t hash = step.slot->hash;
	long count = step.slot->count;
	char name[KUBE_EVENT_NAME_MAX + 1];
	strcpy(name, step.slot->name);
	(void)pthread_mutex_unlock(&ev.lock);
	_cleanup_free_ char *text = step.combined ? kube_event_combined_message(msg) : xstrdup(msg);
	if (step.patch) {
		_cleanup_free_ char *patch_path =
			xasprintf("/api/v1/namespaces/%s/events/%s", pod.ns, name);
		/* An identical Event keeps its message; the combined one follows the latest. */
		_cleanup_free_ char *body =
			kube_event_patch_body(count, now_s, step.combined ? text : NULL);
		*ret_method = "PATCH";
		r = kube_event_request(cfg, "PATCH", patch_path, body, timeout_ms, ret_status, err);
		if (r == 0) {
			metrics_add(ev.total, 1, "aggregated");
			return 0;
		}
		if (r != -ENOENT) {
			metrics_add(ev.total, 1, "failed");
			return r;
		}
		/* Expired in the API server (Events have a TTL): start over. */
		(void)pthread_mutex_lock(&ev.lock);
		struct kube_event_sent *s = sent_find(key, idx, hash);
		if (s && !strcmp(s->name, name))
			s->name[0] = '\0';
		(void)pthread_mutex_unlock(&ev.lock);
		*err = (struct cni_err){ 0 };
	}
	char host[256];
	kube_event_host(host);
	_cleanup_json_ cJSON *e = kube_event_new(&pod, type, reason, text, host, now_s);
	_cleanup_free_ char *body = json_print(e);
	*ret_method = "POST";
	r = kube_event_request(cfg, "POST", path, body, timeout_ms, ret_status, err);
	if (r < 0) {
		metrics_add(ev.total, 1, "failed");
		return r;
	}
	metrics_add(ev.total, 1, "created");
	(void)pthread_mutex_lock(&ev.lock);
	struct kube_event_sent *s = sent_find(key, idx, hash);
	if (s && !s->name[0]) {
		snprintf(s->name, sizeof(s->name), "%s",
			 cJSON_GetStringValue(json_get(json_get(e, "metadata"), "name")));
		s->count = 1;
	}
	(void)pthread_mutex_unlock(&ev.lock);
	return 0;
}
