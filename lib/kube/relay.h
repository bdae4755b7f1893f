/* SPDX-License-Identifier: Apache-2.0 */
/* The API relay (plexus-apid, docs/kube.md): a node daemon that keeps libcurl loaded and its
 * TLS connection to the API server open, so the meta-plugin, a new process for every pod,
 * pays neither (~11 ms to load libcurl and its ~30 libraries, ~7 ms per TLS handshake, and
 * 10 MB of RSS here). One request per connection on a root-only Unix socket:
 *
 *   plugin -> daemon: {"method","path","contentType","body","timeoutMs"}, then EOF (SHUT_WR)
 *   daemon -> plugin: {"status":N,"retryAfter":S}\n<body bytes>, or {"error":{...}}\n; EOF
 *
 * The daemon forwards only what the meta-plugin asks (kube_relay_allowed) with its own
 * credentials; retries and the HTTP status mapping stay in the plugin (kube_request). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cni_err;
struct kube_response;

#define KUBE_RELAY_REQUEST_MAX (1u << 20)
#define KUBE_RELAY_HEADER_MAX 4096u

/* The relay transport: cfg->ops = &kube_relay_ops, cfg->ops_data = the socket path. When
 * nothing listens there (no socket, connection refused) it falls back to libcurl with cfg's
 * own server and credentials, so pods keep starting while the daemon restarts. */
extern const struct kube_transport_ops kube_relay_ops;

/* The requests the relay forwards: GET a pod or a NetworkAttachmentDefinition, PATCH a pod's
 * status with a JSON merge patch; names must be valid DNS-1123 names. */
bool kube_relay_allowed(const char *method, const char *path, const char *content_type);

/* Parse the daemon's answer (header line, then the body) into resp (body owned by resp).
 * An {"error"} header becomes err with the daemon's code; anything malformed is code 11,
 * EPROTO. buf need not be NUL-terminated. */
int kube_relay_parse_answer(const char *sock, const char *buf, size_t len,
			    struct kube_response *resp, struct cni_err *err);
