// SPDX-License-Identifier: Apache-2.0
/* The coordination.k8s.io Lease that picks the one node running the whereabouts reconciler's
 * cluster-wide part (docs/ipam-reclaim.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apid/reclaim_lease.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/http.h"
#include "lib/kube/list.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"

/* RFC 3339 with microseconds, as a coordination.k8s.io MicroTime. */
static void micro_time(char buf[40])
{
	struct timespec ts;
	struct tm tm;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(buf + n, 40 - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static cJSON *lease_new(const struct reclaim_lease *l)
{
	char now[40];
	micro_time(now);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(o, "kind", "Lease");
	cJSON *m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", LEASE_NAME);
	cJSON_AddStringToObject(m, "namespace", l->ns);
	cJSON *s = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(s, "holderIdentity", l->node);
	cJSON_AddNumberToObject(s, "leaseDurationSeconds", (double)l->duration_s);
	cJSON_AddStringToObject(s, "acquireTime", now);
	cJSON_AddStringToObject(s, "renewTime", now);
	return o;
}

/* One path and one verb per function: tests/crds/check_manifests.py matches them to RBAC. */
static int lease_get(struct reclaim_lease *l, char **ret, size_t *ret_len, struct cni_err *err)
{
	_cleanup_free_ char *path = xasprintf(
		"/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns, LEASE_NAME);
	return kube_request_json(l->cfg, "GET", path, NULL, ret, ret_len, err);
}

static int lease_create(struct reclaim_lease *l, const cJSON *o, struct cni_err *err)
{
	_cleanup_free_ char *path =
		xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
	return kube_request_json(l->cfg, "POST", path, o, NULL, NULL, err);
}

static int lease_put(struct reclaim_lease *l, const cJSON *o, struct cni_err *err)
{
	_cleanup_free_ char *path = xasprintf(
		"/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns, LEASE_NAME);
	return kube_request_json(l->cfg, "PUT", path, o, NULL, NULL, err);
}

bool reclaim_lease_hold(struct reclaim_lease *l)
{
	struct cni_err err = { 0 };
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	int r = lease_get(l, &body, &len, &err);
	if (r == -ENOENT) {
		_cleanup_json_ cJSON *o = lease_new(l);
		r = lease_create(l, o, &err);
		if (r < 0 && r != -EBUSY)
			log_warning("reclaim: creating Lease '%s': %s", LEASE_NAME, err.msg);
		return r == 0;
	}
	_cleanup_json_ cJSON *cur = NULL;
	if (r < 0 || json_parse(body, len, "Lease", &cur, &err) < 0) {
		log_warning("reclaim: reading Lease '%s': %s", LEASE_NAME, err.msg);
		return false;
	}
	const cJSON *spec = json_get(cur, "spec");
	const char *holder = cJSON_GetStringValue(json_get(spec, "holderIdentity"));
	const char *renew = cJSON_GetStringValue(json_get(spec, "renewTime"));
	const cJSON *dur = json_get(spec, "leaseDurationSeconds");
	long dur_s = cJSON_IsNumber(dur) && dur->valuedouble >= 1 && dur->valuedouble < 86400
			     ? (long)dur->valuedouble
			     : l->duration_s;
	bool mine = holder && !strcmp(holder, l->node);
	if (!mine && holder && *holder) {
		if (!l->seen_holder || strcmp(l->seen_holder, holder) ||
		    strcmp(l->seen_renew, renew ? renew : "")) {
			free(l->seen_holder);
			free(l->seen_renew);
			l->seen_holder = xstrdup(holder);
			l->seen_renew = xstrdup(renew ? renew : "");
			l->seen_ms = clock_now_ms();
		}
		if (clock_now_ms() - l->seen_ms <= dur_s * 1000)
			return false;
		log_info("reclaim: Lease '%s' of '%s' not renewed for %ld s, taking it over",
			 LEASE_NAME, holder, dur_s);
	}
	/* Renew ours, or take an expired or released one: a PUT on the resourceVersion read, so
	 * of two nodes taking it at once one gets a conflict. */
	_cleanup_json_ cJSON *next = lease_new(l);
	cJSON *ns = cJSON_GetObjectItemCaseSensitive(next, "spec");
	if (mine && cJSON_IsString(json_get(spec, "acquireTime")))
		cJSON_ReplaceItemInObjectCaseSensitive(
			ns, "acquireTime",
			cJSON_CreateString(cJSON_GetStringValue(json_get(spec, "acquireTime"))));
	const cJSON *tr = json_get(spec, "leaseTransitions");
	double transitions = cJSON_IsNumber(tr) ? tr->valuedouble : 0;
	cJSON_AddNumberToObject(ns, "leaseTransitions", mine ? transitions : transitions + 1);
	const char *rv = kube_object_rv(cur);
	if (rv)
		cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(next, "metadata"),
					"resourceVersion", rv);
	r = lease_put(l, next, &err);
	if (r < 0 && r != -EBUSY)
		log_warning("reclaim: writing Lease '%s': %s", LEASE_NAME, err.msg);
	return r == 0;
}
