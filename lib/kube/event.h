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
#define KUBE_EVENT_ADDED "AddedInterface"	    /* Normal: one per attachment */
#define KUBE_EVENT_NO_NETWORK "NoNetworkFound"	    /* Warning: a NAD is missing */
#define KUBE_EVENT_ADD_FAILED "AddInterfaceFailed"  /* Warning: any other failed ADD */
#define KUBE_EVENT_CLAIM_STATUS "ClaimStatusFailed" /* Warning: a claim's device status */
/* Warning, about a Node, from plexus-apid --vxlan-peers: its published VXLAN entries refused. */
#define KUBE_EVENT_VXLAN_PEER_REFUSED "VXLANPeerRefused"

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

/* Hand event about pod to the relay socket relay before deadline (clock_now_ms): 0 once the
 * relay acknowledged it (its answer is not awaited), -ENOENT or -ECONNREFUSED when nothing
 * listens there (err untouched), else < 0 with err (code 11, or the relay's refusal). */
int kube_event_relay(const char *relay, const struct kube_event_pod *pod, const cJSON *event,
		     int64_t deadline, struct cni_err *err);

/* One direct request about Events, no retries, never through the relay: method "POST" to
 * /api/v1/namespaces/<ns>/events with the Event as body, or "PATCH" (JSON merge patch) to
 * .../events/<name>. A non-2xx answer is kube_http_status_err's error (404: -ENOENT).
 * *ret_status (may be NULL) is the HTTP status, 0 when none came. */
int kube_event_request(const struct kube_config *cfg, const char *method, const char *path,
		       const char *body, long timeout_ms, long *ret_status, struct cni_err *err);

/* The merge patch of a repeated Event (owned): count, lastTimestamp at now_s, and message when
 * not NULL (the combined Event's, which follows the latest message). */
char *kube_event_patch_body(long count, int64_t now_s, const char *message);

/* Event correlation as client-go's EventCorrelator does it (Kubernetes tools/record), for one
 * aggregate key: a pod, a type and a reason (plexus is one source per node). An Event identical
 * to one sent (same message) is a PATCH of that Event's count; once KUBE_EVENT_SIMILAR_MAX
 * distinct messages were seen with no gap of more than KUBE_EVENT_WINDOW_S between them, each
 * further new message goes to one combined Event, message "(combined from similar events): "
 * and the latest message, POSTed once and then PATCHed (count, lastTimestamp, message). */
#define KUBE_EVENT_SIMILAR_MAX 10
#define KUBE_EVENT_WINDOW_S 600
#define KUBE_EVENT_COMBINED_PREFIX "(combined from similar events): "
#define KUBE_EVENT_NAME_MAX 253

/* One Event sent for the key (or about to be: name empty until its POST succeeded). */
struct kube_event_sent {
	uint64_t hash; /* of its message (kube_event_hash), never 0; 0: the slot is free */
	char name[KUBE_EVENT_NAME_MAX + 1];
	long count;
	bool in_window; /* its message counts among the window's distinct messages */
	int64_t used_s; /* last time its message was seen */
};

/* The correlation state of one aggregate key: at most KUBE_EVENT_SIMILAR_MAX messages (those of
 * the window, and older ones while there is room) and the combined Event. */
struct kube_event_corr {
	int64_t last_s; /* the key's last Event; the window ends KUBE_EVENT_WINDOW_S after it */
	struct kube_event_sent sent[KUBE_EVENT_SIMILAR_MAX];
	struct kube_event_sent combined; /* hash 1 once used */
};

/* What to send for one Event (kube_event_correlate). */
struct kube_event_step {
	bool patch;    /* PATCH slot's Event (name, count already counted); else POST a new one */
	bool combined; /* slot is the combined Event: message is the combined one */
	struct kube_event_sent *slot; /* in the corr: set its name and count 1 after a POST */
};

/* FNV-1a 64 of message, never 0. */
uint64_t kube_event_hash(const char *message);
/* Correlate an Event of message at now_s (wall clock, seconds) into c and say what to send. */
void kube_event_correlate(struct kube_event_corr *c, const char *message, int64_t now_s,
			  struct kube_event_step *ret);
/* The combined Event's message for message (owned, cut to KUBE_EVENT_MESSAGE_MAX). */
char *kube_event_combined_message(const char *message);
