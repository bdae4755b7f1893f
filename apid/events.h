/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-apid's pod Events: checked, spam-filtered and aggregated before they reach the API
 * server (docs/observability.md, "Events"). */
#pragma once

#include <cjson/cJSON.h>

struct cni_err;
struct kube_config;
struct metrics;

/* Register plexus_apid_events_total{result} in reg. Call once, before apid_event. */
void apid_events_setup(struct metrics *reg);

/* One relayed Event request (req: the relay request, path: its POST .../events path) for the
 * pod named in req's "pod": refused (code 101, EPERM) unless kube_event_check accepts it;
 * dropped (code 11, EAGAIN) past the pod's token bucket; else correlated (kube_event_correlate
 * per pod, type and reason): POSTed as a new Event, or a PATCH of the Event it repeats or of
 * the combined Event (a 404 there: POSTed anew). *ret_method and *ret_status are
 * the last API request's verb and HTTP status (status 0: none answered). Thread-safe. */
int apid_event(const struct kube_config *cfg, const cJSON *req, const char *path, long timeout_ms,
	       const char **ret_method, long *ret_status, struct cni_err *err);
