/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC server on a Unix socket (h2c, nghttp2): unary and server-streaming methods. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/cni/err.h"

struct gr_server;
struct gr_stream; /* one server-streaming call in progress */

/*
 * A unary handler gets the request message and returns 0 with *ret_resp (malloc'd, the
 * server frees it; NULL when the message is empty) and *ret_len, or a negative errno with
 * err filled: the client then gets grpc-status gr_status_from_err(err) (EINVAL ->
 * INVALID_ARGUMENT, ENOENT -> NOT_FOUND, ...) and err->msg as grpc-message.
 */
typedef int (*gr_unary_fn)(void *userdata, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
			   size_t *ret_len, struct cni_err *err);
/*
 * A server-streaming handler gets the request and the stream: it may gr_stream_send() now or
 * later (on the server thread, e.g. from the wake callback) and gr_stream_end() when done.
 * Returning a negative errno ends the call with that error (Trailers-Only if nothing was sent).
 */
typedef int (*gr_stream_fn)(void *userdata, struct gr_stream *st, const uint8_t *req,
			    size_t req_len, struct cni_err *err);

struct gr_method {
	const char *path;  /* "/v1beta1.DevicePlugin/ListAndWatch" */
	gr_unary_fn unary; /* exactly one of unary, stream */
	gr_stream_fn stream;
	/* Called once when a stream started by `stream` is gone (ended and flushed, cancelled by
	 * the peer, connection lost, server stopped); st is invalid afterwards. May be NULL. */
	void (*closed)(void *userdata, struct gr_stream *st);
};

/*
 * Listen on socket_path (a stale socket file is replaced; mode 0600). methods (n entries)
 * and userdata must outlive the server. *ret is freed with gr_server_free().
 */
int gr_server_new(const char *socket_path, const struct gr_method *methods, size_t n,
		  void *userdata, struct gr_server **ret, struct cni_err *err);
/* Serve until gr_server_stop(): open streams end with UNAVAILABLE, each connection gets a
 * GOAWAY and up to 1 s to flush. Returns 0, or a negative errno if polling fails. */
int gr_server_run(struct gr_server *srv, struct cni_err *err);
/* Thread-safe, async-signal-safe: make gr_server_run() shut down and return. */
void gr_server_stop(struct gr_server *srv);
/* Thread-safe: run the wake callback on the server thread soon (e.g. "devices changed"). */
void gr_server_wake(struct gr_server *srv);
/* Set the function gr_server_wake() runs on the server thread; call before gr_server_run(). */
void gr_server_set_wake(struct gr_server *srv, void (*fn)(void *userdata));
/* Close the listener, remove the socket file and free everything; NULL is fine. Must not
 * run concurrently with gr_server_run(). */
void gr_server_free(struct gr_server *srv);

/* Queue one message on a stream (server thread only). -EPIPE if the stream already ended. */
int gr_stream_send(struct gr_stream *st, const uint8_t *msg, size_t len);
/* End a stream: OK when err is NULL, else the status gr_status_from_err(err) with err->msg. */
void gr_stream_end(struct gr_stream *st, const struct cni_err *err);
