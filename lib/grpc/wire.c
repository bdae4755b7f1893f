// SPDX-License-Identifier: Apache-2.0
/* gRPC wire details: message framing, grpc-message percent-encoding, status mapping. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/grpc/internal.h"
#include "lib/grpc/status.h"
#include "lib/util/cleanup.h"

void gr_frame(const uint8_t *msg, size_t len, uint8_t **ret_buf, size_t *ret_len)
{
	uint8_t *buf = xmalloc(GR_FRAME_HDR + len);

	buf[0] = 0;
	buf[1] = (uint8_t)(len >> 24);
	buf[2] = (uint8_t)(len >> 16);
	buf[3] = (uint8_t)(len >> 8);
	buf[4] = (uint8_t)len;
	if (len)
		memcpy(buf + GR_FRAME_HDR, msg, len);
	*ret_buf = buf;
	*ret_len = GR_FRAME_HDR + len;
}

int gr_unframe(const uint8_t *buf, size_t len, const uint8_t **ret_msg, size_t *ret_len,
	       struct cni_err *err)
{
	if (len < GR_FRAME_HDR)
		return cni_err_set(err, CNI_ERR_DECODE, EPROTO,
				   "grpc: %s message (%zu bytes of body)", len ? "truncated" : "no",
				   len);
	/* We never send grpc-accept-encoding, so a peer must not compress (gRPC compression spec).
	 */
	if (buf[0] != 0)
		return cni_err_set(err, CNI_ERR_DECODE, EPROTO,
				   "grpc: compressed message (flag %u) not negotiated", buf[0]);
	size_t n = (size_t)buf[1] << 24 | (size_t)buf[2] << 16 | (size_t)buf[3] << 8 | buf[4];
	if (n > GR_MAX_MESSAGE)
		return cni_err_set(err, CNI_ERR_DECODE, EMSGSIZE,
				   "grpc: message of %zu bytes exceeds the %u byte limit", n,
				   GR_MAX_MESSAGE);
	if (len - GR_FRAME_HDR != n)
		return cni_err_set(
			err, CNI_ERR_DECODE, EPROTO,
			"grpc: body has %zu bytes after a %zu byte message (want exactly one "
			"message)",
			len - GR_FRAME_HDR, n);
	*ret_msg = buf + GR_FRAME_HDR;
	*ret_len = n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *gr_percent_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

char *gr_percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s);
	char *out = xmalloc(3 * len + 1);
	size_t o = 0;

	/* Spec: unreserved are printable ASCII 0x20-0x7E except '%'. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c <= 0x7e && c != '%') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static const char *const status_names[] = {
	[GR_STATUS_OK] = "OK",
	[GR_STATUS_CANCELLED] = "CANCELLED",
	[GR_STATUS_UNKNOWN] = "UNKNOWN",
	[GR_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[GR_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[GR_STATUS_NOT_FOUND] = "NOT_FOUND",
	[GR_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[GR_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[GR_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[GR_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[GR_STATUS_ABORTED] = "ABORTED",
	[GR_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[GR_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[GR_STATUS_INTERNAL] = "INTERNAL",
	[GR_STATUS_UNAVAILABLE] = "UNAVAILABLE",
	[GR_STATUS_DATA_LOSS] = "DATA_LOSS",
	[GR_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *gr_status_name(int status)
{
	if (status < 0 || (size_t)status >= ARRAY_SIZE(status_names))
		return "UNKNOWN";
	return status_names[status];
}

static const struct {
	int status;
	int sys;
} status_errno[] = {
	{ GR_STATUS_CANCELLED, ECANCELED },	    { GR_STATUS_INVALID_ARGUMENT, EINVAL },
	{ GR_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT }, { GR_STATUS_NOT_FOUND, ENOENT },
	{ GR_STATUS_ALREADY_EXISTS, EEXIST },	    { GR_STATUS_PERMISSION_DENIED, EACCES },
	{ GR_STATUS_RESOURCE_EXHAUSTED, ENOSPC },   { GR_STATUS_FAILED_PRECONDITION, EBUSY },
	{ GR_STATUS_ABORTED, ECONNABORTED },	    { GR_STATUS_OUT_OF_RANGE, ERANGE },
	{ GR_STATUS_UNIMPLEMENTED, ENOSYS },	    { GR_STATUS_UNAVAILABLE, EAGAIN },
	{ GR_STATUS_UNAUTHENTICATED, EPERM },
};

int gr_status_to_errno(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_errno); i++)
		if (status_errno[i].status == status)
			return status_errno[i].sys;
	return EPROTO; /* UNKNOWN, INTERNAL, DATA_LOSS, out of range */
}

int gr_status_from_err(const struct cni_err *err)
{
	if (!err || err->sys == 0)
		return GR_STATUS_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(status_errno); i++)
		if (status_errno[i].sys == err->sys)
			return status_errno[i].status;
	return GR_STATUS_UNKNOWN;
}

int gr_status_set_err(struct cni_err *err, int status, const char *message, const char *path)
{
	int code = status == GR_STATUS_UNAVAILABLE || status == GR_STATUS_DEADLINE_EXCEEDED
			   ? CNI_ERR_TRY_AGAIN
			   : CNI_ERR_DEVICE;
	int r;

	if (message && *message)
		r = cni_err_set(err, code, gr_status_to_errno(status), "grpc '%s': %s: %s", path,
				gr_status_name(status), message);
	else
		r = cni_err_set(err, code, gr_status_to_errno(status), "grpc '%s': %s", path,
				gr_status_name(status));
	cni_err_details(err, "grpc-status %d (%s)", status, gr_status_name(status));
	return r;
}
