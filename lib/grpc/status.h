/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC status codes and their mapping to errno values and plexus error codes. */
#pragma once

#include "lib/cni/err.h"

enum gr_status {
	GR_STATUS_OK = 0,
	GR_STATUS_CANCELLED = 1,
	GR_STATUS_UNKNOWN = 2,
	GR_STATUS_INVALID_ARGUMENT = 3,
	GR_STATUS_DEADLINE_EXCEEDED = 4,
	GR_STATUS_NOT_FOUND = 5,
	GR_STATUS_ALREADY_EXISTS = 6,
	GR_STATUS_PERMISSION_DENIED = 7,
	GR_STATUS_RESOURCE_EXHAUSTED = 8,
	GR_STATUS_FAILED_PRECONDITION = 9,
	GR_STATUS_ABORTED = 10,
	GR_STATUS_OUT_OF_RANGE = 11,
	GR_STATUS_UNIMPLEMENTED = 12,
	GR_STATUS_INTERNAL = 13,
	GR_STATUS_UNAVAILABLE = 14,
	GR_STATUS_DATA_LOSS = 15,
	GR_STATUS_UNAUTHENTICATED = 16,
};

/* "NOT_FOUND" etc.; "UNKNOWN" for values outside 0-16. */
const char *gr_status_name(int status);
/* A received non-zero status as errno (NOT_FOUND -> ENOENT, UNAVAILABLE -> EAGAIN, ...). */
int gr_status_to_errno(int status);
/* The status a server reports for a handler's failure, from err->sys (EINVAL ->
 * INVALID_ARGUMENT, ENOENT -> NOT_FOUND, ...; anything else UNKNOWN). */
int gr_status_from_err(const struct cni_err *err);
/* Fill err for a call that ended with a non-zero grpc-status and return the negative errno:
 * UNAVAILABLE and DEADLINE_EXCEEDED are CNI_ERR_TRY_AGAIN (11), everything else
 * CNI_ERR_DEVICE (104); err->details carries "grpc-status N (NAME)". */
int gr_status_set_err(struct cni_err *err, int status, const char *message, const char *path);
