// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's pod Events (docs/observability.md, "Events"): one per attachment after a
 * successful ADD, one Warning when an ADD fails. Best effort: never an ADD's error, and all of
 * one ADD's Events share EVENTS_BUDGET_MS. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/event.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"
#include "meta/internal.h"

/* What an ADD may spend on its Events: through the relay the ack comes in well under a
 * millisecond; direct, an API server that does not answer costs this, once. */
#define EVENTS_BUDGET_MS 500

static void send_event(struct plan *p, const char *type, const char *reason, const char *text)
{
	if (!p->pod_name || !*p->pod_name)
		return;
	struct cni_err e = { 0 };
	int r = meta_kube(p, &e);
	if (r == META_NO_API)
		return; /* no pod object for the Event to be about */
	if (!p->events_deadline)
		p->events_deadline = clock_now_ms() + EVENTS_BUDGET_MS;
	if (r >= 0) {
		const char *uid = cni_ctx_arg(p->ctx, "K8S_POD_UID");
		struct kube_event_pod pod = { .ns = p->pod_ns,
					      .name = p->pod_name,
					      .uid = uid ? uid : "" };
		char host[256];
		kube_event_host(host);
		_cleanup_free_ char *msg = kube_event_message(text);
		_cleanup_json_ cJSON *ev =
			kube_event_new(&pod, type, reason, msg, host, time(NULL));
		r = kube_event_post(p->kube, p->conf.api_relay, &pod, ev, p->events_deadline, &e);
	}
	if (r < 0)
		log_warning("event %s for pod '%s/%s' dropped: %s", reason, p->pod_ns, p->pod_name,
			    e.msg);
}

void meta_events_added(struct plan *p)
{
	for (size_t i = 0; i < p->n_att; i++) {
		const struct attachment *a = &p->att[i];
		_cleanup_free_ char *ips = xstrdup("");
		for (size_t k = 0; a->result && k < a->result->n_ips; k++) {
			char buf[IPNET_STR_LEN];
			format_ipnet(&a->result->ips[k].address, buf);
			char *more = xasprintf("%s%s%s", ips, k ? " " : "", buf);
			free(ips);
			ips = more;
		}
		/* Multus's message shape: "Add net1 [10.1.2.3/24] from default/macvlan". */
		_cleanup_free_ char *text =
			xasprintf("Add %s [%s] from %s", a->ifname, ips, a->name);
		send_event(p, "Normal", KUBE_EVENT_ADDED, text);
	}
}

void meta_events_failed(struct plan *p, const char *network, const struct cni_err *err)
{
	_cleanup_free_ char *text =
		network ? xasprintf("Failed to add %s: CNI error %d: %s", network, err->code,
				    err->msg)
			: xasprintf("Failed to add the pod's networks: CNI error %d: %s", err->code,
				    err->msg);
	bool no_nad = err->code == CNI_ERR_KUBE_API && err->sys == ENOENT &&
		      strstr(err->msg, "network-attachment-definitions");
	send_event(p, "Warning", no_nad ? KUBE_EVENT_NO_NETWORK : KUBE_EVENT_ADD_FAILED, text);
}
