/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking unary gRPC client over a Unix socket (h2c with prior knowledge, nghttp2). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/cni/err.h"

/*
 * Call the unary method `path` ("/package.Service/Method") on the server listening on the
 * Unix socket `socket_path`, sending the serialised request req/req_len. The whole call
 * (connect, request, response) is bounded by timeout_ms. On success *ret_resp (malloc'd,
 * caller frees; may be NULL when the message is empty) and *ret_len hold the serialised
 * response message. Errors: connect failure or deadline -> CNI_ERR_TRY_AGAIN (11);
 * non-zero grpc-status -> see gr_status_set_err() (message percent-decoded);
 * HTTP/2 or framing violations -> CNI_ERR_IO (5) / CNI_ERR_DECODE (6).
 */
int gr_call_unary(const char *socket_path, const char *path, const uint8_t *req, size_t req_len,
		  uint8_t **ret_resp, size_t *ret_len, int timeout_ms, struct cni_err *err);
