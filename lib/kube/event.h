/* SPDX-License-Identifier: Apache-2.0 */
/* Pod Events (core v1 Event) the meta-plugin reports, and the relay's check of them
 * (docs/observability.md, "Events"). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct cni_err;
struct kube_config;

/* A message longer than this is cut (at a UTF-8 character boundary) with "..." appended. */
#define KUBE_EVENT_MESSAGE_MAX 1024u
#define KUBE_EVENT_COMPONENT "plexus"
#define KUBE_EVENT_CONTROLLER "plexus.io/meta"
/* The reasons plexus uses, with their type: Multus's where it has one. */
#define KUBE_EVENT_ADDED "AddedInterface"	   /* Normal: one per attachment */
#define KUBE_EVENT_NO_NETWORK "NoNetworkFound"	   /* Warning: a NAD is missing */
#define KUBE_EVENT_ADD_FAILED "AddInterfaceFailed" /* Warning: any other failed ADD */

/* The pod an Event is about, from the CNI args; uid may be "" (unknown). Borrowed strings. */
struct kube_event_pod {
	const char *ns, *name, *uid;
};

/* Whether reason is one of plexus's, with type ("Normal"/"Warning") its type. */
bool kube_event_reason_ok(const char *type, const char *reason);

/* text made fit for an Event message (owned): control characters become ' ', invalid UTF-8
 * '?', and beyond KUBE_EVENT_MESSAGE_MAX bytes it is cut and ends in "...". */
char *kube_event_message(const char *text);

/* The Event (owned tree) about pod, at the wall-clock time now_s: a new name (pod name and a
 * hex suffix), count 1, first and last timestamps now, source component KUBE_EVENT_COMPONENT
 * on host (may be NULL), reportingController KUBE_EVENT_CONTROLLER. message is used as is. */
cJSON *kube_event_new(const struct kube_event_pod *pod, const char *type, const char *reason,
		      const char *message, const char *host, int64_t now_s);

/* "YYYY-MM-DDTHH:MM:SSZ" of the wall-clock time s into buf. */
void kube_event_time(int64_t s, char buf[32]);

/* Check an Event body sent to the relay for pod: a JSON object whose involvedObject is exactly
 * that pod (kind Pod), with one of plexus's type/reason pairs and a message that
 * kube_event_message leaves unchanged. Otherwise code 101 (EPERM) naming the field. On success
 * *ret_type, *ret_reason and *ret_message are owned copies. */
int kube_event_check(const struct kube_event_pod *pod, const char *body, char **ret_type,
		     char **ret_reason, char **ret_message, struct cni_err *err);

/* The node's name for an Event's source: $NODE_NAME, else the host name ("" if neither). */
void kube_event_host(char buf[256]);

/* Send event about pod, before deadline (clock_now_ms): through the relay socket `relay` when
 * it is set and something listens there (returns once the relay acknowledged it), else with
 * one direct POST and no retries. Errors: code 11 (timeout, relay), or kube_http_status_err's. */
int kube_event_post(const struct kube_config *cfg, const char *relay,
		    const struct kube_event_pod *pod, const cJSON *event, int64_t deadline,
		    struct cni_err *err);
