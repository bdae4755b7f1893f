/* SPDX-License-Identifier: Apache-2.0 */
/* The API relay (plexus-apid, docs/kube.md): a node daemon that keeps libcurl loaded and its
 * TLS connection to the API server open, so the meta-plugin, a new process for every pod,
 * pays neither (~11 ms to load libcurl and its ~30 libraries, ~7 ms per TLS handshake, and
 * 10 MB of RSS here). One request per connection on a root-only Unix socket:
 *
 *   plugin -> daemon: {"method","path","contentType","body","timeoutMs"}, then EOF (SHUT_WR)
 *   daemon -> plugin: KUBE_RELAY_ACK once it has read the request, then
 *                     {"status":N,"retryAfter":S}\n<body bytes>, or {"error":{...}}\n; EOF
 *
 * The daemon forwards only what the meta-plugin asks (kube_relay_allowed, kube_relay_check_body)
 * with its own credentials; retries and the HTTP status mapping stay in the plugin
 * (kube_request). A daemon with all its client slots taken answers at once with an error of
 * errno EBUSY; a daemon that sends no first line within KUBE_RELAY_ACK_MS is taken as stuck.
 * Either way the plugin makes the request itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cni_err;
struct kube_response;

#include <stdint.h>

/* A request: the PATCH body below, JSON-escaped (quotes and backslashes doubled), and the rest. */
#define KUBE_RELAY_REQUEST_MAX (2 * KUBE_RELAY_PATCH_MAX + 4096u)
/* A PATCH body: Kubernetes caps a pod's annotations at 256 KiB in total. */
#define KUBE_RELAY_PATCH_MAX (256u << 10)
#define KUBE_RELAY_HEADER_MAX 4096u
/* The daemon's first line, sent once it has read the request. */
#define KUBE_RELAY_ACK "{\"accepted\":true}\n"
/* How long the plugin waits for the daemon's first line (at most a quarter of the request's
 * timeout), and how long the daemon waits for a whole request. */
#define KUBE_RELAY_ACK_MS 1000

/* The relay transport: cfg->ops = &kube_relay_ops, cfg->ops_data = the socket path. When
 * nothing listens there (no socket, connection refused) it falls back to libcurl with cfg's
 * own server and credentials, so pods keep starting while the daemon restarts. */
extern const struct kube_transport_ops kube_relay_ops;

/* The requests the relay forwards: GET a pod or a NetworkAttachmentDefinition, PATCH a pod's
 * status with a JSON merge patch, POST an Event (application/json; checked further by
 * kube_event_check); and for the whereabouts IPAM, in the namespace
 * PLEXUS_WHEREABOUTS_NAMESPACE (default kube-system): GET, POST (to the collection) and PUT
 * (application/json) of ippools, and the same plus DELETE of overlappingrangeipreservations.
 * Names must be valid DNS-1123 names. */
bool kube_relay_allowed(const char *method, const char *path, const char *content_type);
/* Whether this is the relay's Event request: POST /api/v1/namespaces/NS/events. Its body and
 * "pod" member ({"namespace","name","uid"} from the plugin's CNI args) go to
 * kube_event_check, never to kube_relay_check_body. */
bool kube_relay_is_event(const char *method, const char *path);

/* Dynamic Resource Allocation: kube_relay_allowed also forwards GET
 * /apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=NODE (that query only),
 * GET .../namespaces/NS/resourceclaims/NAME and PATCH .../resourceclaims/NAME/status
 * (application/merge-patch+json). Whether this is that PATCH, whose body goes to
 * kube_relay_check_claim instead of kube_relay_check_body: */
bool kube_relay_is_claim_status(const char *method, const char *path);
/* Whether body is {"metadata":{"resourceVersion":"<string>"},"status":{"devices":[...]}} with
 * each entry an AllocatedDeviceStatus (driver, pool, device; shareID, conditions, data,
 * networkData), at most KUBE_RELAY_PATCH_MAX bytes. Else code 101 (EPERM). */
int kube_relay_check_claim(const char *body, struct cni_err *err);

/* Whether body suits method and path (a request kube_relay_allowed admits): none for GET and
 * DELETE; for PATCH exactly the network-status merge patch
 * {"metadata":{"annotations":{"k8s.v1.cni.cncf.io/network-status":"<string>"}}}; for POST and
 * PUT of a whereabouts object, an object of that apiVersion and kind whose metadata.namespace
 * (if set) and, for PUT, metadata.name are the path's; for a resource claim's status PATCH
 * (kube_relay_is_claim_status), kube_relay_check_claim; at most KUBE_RELAY_PATCH_MAX bytes.
 * Otherwise err is code 101 (EPERM) saying what is wrong. */
int kube_relay_check_body(const char *method, const char *path, const char *body,
			  struct cni_err *err);

/* Read from the non-blocking fd until EOF, at most max bytes (-EFBIG beyond), until deadline
 * (clock_now_ms); -ETIME when no '\n' came before line_deadline (pass deadline to not care).
 * On success *ret (owned, NUL-terminated) and *ret_len. On -ECONNRESET after some data (a peer
 * that answered and closed without reading everything), they hold that data too. */
int kube_relay_recv(int fd, size_t max, int64_t line_deadline, int64_t deadline, char **ret,
		    size_t *ret_len);
/* Write all of data to the non-blocking fd before deadline; 0, -ETIMEDOUT or -errno. */
int kube_relay_send(int fd, const char *data, size_t len, int64_t deadline);

/* Parse the daemon's answer (KUBE_RELAY_ACK if present, header line, then the body) into resp
 * (body owned by resp).
 * An {"error"} header becomes err with the daemon's code; anything malformed is code 11,
 * EPROTO. buf need not be NUL-terminated. */
int kube_relay_parse_answer(const char *sock, const char *buf, size_t len,
			    struct kube_response *resp, struct cni_err *err);
