// SPDX-License-Identifier: Apache-2.0
/* plexus-apid --vxlan-peers: a Warning Event about a Node whose published entries were refused
 * (docs/observability.md, "Events"). Posted from the agent's thread with a bounded budget;
 * repeats and similar messages are correlated per Node as client-go does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apid/vxpeers.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/event.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"

/* Nodes whose correlation state is kept; past it the least recently used is forgotten (its
 * next Event is a new POST). */
#define NODES_MAX 256
/* Cluster-scoped objects' Events go to "default", as client-go records them. */
#define EVENT_NS "default"

struct node_corr {
	char *node; /* NULL: free */
	int64_t used_s;
	struct kube_event_corr corr;
};

/* Used by the agent's one thread only. */
static struct node_corr corrs[NODES_MAX];

static struct kube_event_corr *corr_get(const char *node, int64_t now_s)
{
	struct node_corr *best = &corrs[0];
	for (size_t i = 0; i < NODES_MAX; i++) {
		struct node_corr *c = &corrs[i];
		if (c->node && !strcmp(c->node, node)) {
			c->used_s = now_s;
			return &c->corr;
		}
		if (best->node && (!c->node || c->used_s < best->used_s))
			best = c;
	}
	free(best->node);
	*best = (struct node_corr){ .node = xstrdup(node), .used_s = now_s };
	return &best->corr;
}

/* The Event about node: kubelet's node reference (kind Node, uid the node's name, which
 * `kubectl describe node` matches too), no involvedObject namespace. */
static cJSON *node_event(const char *node, const char *msg, const char *host, int64_t now_s)
{
	struct kube_event_pod obj = { .ns = EVENT_NS, .name = node, .uid = node };
	cJSON *e = kube_event_new(&obj, "Warning", KUBE_EVENT_VXLAN_PEER_REFUSED, msg, host, now_s);
	cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "involvedObject");
	cJSON_ReplaceItemInObjectCaseSensitive(o, "kind", cJSON_CreateString("Node"));
	cJSON_DeleteItemFromObjectCaseSensitive(o, "namespace");
	return e;
}

/* One refusal's Event: a POST, or a PATCH of the Event it repeats (404: POSTed anew). */
static int post_one(const struct kube_config *cfg, const char *host, const struct vxp_refusal *r,
		    long timeout_ms, struct cni_err *err)
{
	_cleanup_free_ char *raw = r->vni ? xasprintf("VNI %u: %s", r->vni, r->msg) : NULL;
	_cleanup_free_ char *msg = kube_event_message(raw ? raw : r->msg);
	int64_t now_s = (int64_t)time(NULL);
	struct kube_event_step step;
	kube_event_correlate(corr_get(r->node, now_s), msg, now_s, &step);
	_cleanup_free_ char *text = step.combined ? kube_event_combined_message(msg) : xstrdup(msg);
	if (step.patch) {
		_cleanup_free_ char *path =
			xasprintf("/api/v1/namespaces/" EVENT_NS "/events/%s", step.slot->name);
		_cleanup_free_ char *body =
			kube_event_patch_body(step.slot->count, now_s, step.combined ? text : NULL);
		int rc = kube_event_request(cfg, "PATCH", path, body, timeout_ms, NULL, err);
		if (rc != -ENOENT)
			return rc;
		*err = (struct cni_err){ 0 };
	}
	_cleanup_json_ cJSON *e = node_event(r->node, text, host, now_s);
	_cleanup_free_ char *body = json_print(e);
	int rc = kube_event_request(cfg, "POST", "/api/v1/namespaces/" EVENT_NS "/events", body,
				    timeout_ms, NULL, err);
	if (rc < 0)
		return rc;
	(void)snprintf(step.slot->name, sizeof(step.slot->name), "%s",
		       cJSON_GetStringValue(json_get(json_get(e, "metadata"), "name")));
	step.slot->count = 1;
	return 0;
}

size_t vxp_events_post(const struct kube_config *cfg, const char *host, const struct vxp_refusal *r,
		       size_t n, long budget_ms)
{
	int64_t deadline = clock_now_ms() + budget_ms;
	size_t sent = 0;
	for (; sent < n; sent++) {
		struct cni_err e = { 0 };
		if (post_one(cfg, host, &r[sent], (long)(deadline - clock_now_ms()), &e) < 0) {
			log_warning("vxlan-peers: event about node '%s': %s; %zu event(s) not sent",
				    r[sent].node, e.msg, n - sent);
			break;
		}
	}
	return sent;
}
