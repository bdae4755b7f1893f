/* SPDX-License-Identifier: Apache-2.0 */
/* lib/grpc internals shared by client.c and server.c: framing, grpc-message, status mapping. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/cni/err.h"

/* Largest message either side accepts (grpc-go's default receive limit is 4 MiB; kubelet
 * raises it to 16 MiB for PodResources). */
#define GR_MAX_MESSAGE (16u << 20)
/* Length-prefixed message header: 1 byte compressed flag, 4 bytes big-endian length. */
#define GR_FRAME_HDR 5

/* Prefix msg with the 5-byte header into a new buffer the caller frees. */
void gr_frame(const uint8_t *msg, size_t len, uint8_t **ret_buf, size_t *ret_len);
/* Check that buf holds exactly one uncompressed message; ret_msg points into buf. */
int gr_unframe(const uint8_t *buf, size_t len, const uint8_t **ret_msg, size_t *ret_len,
	       struct cni_err *err);
/* grpc-message is percent-encoded (gRPC HTTP/2 protocol, "Responses"); these return new
 * strings the caller frees. Decoding never fails: a malformed escape is kept verbatim. */
char *gr_percent_decode(const char *s, size_t len);
char *gr_percent_encode(const char *s);
