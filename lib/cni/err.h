/* SPDX-License-Identifier: Apache-2.0 */
/* struct cni_err: the one way errors are reported, with CNI codes (docs/errors.md). */
#pragma once

#include <stdarg.h>

/* Codes 0-99 are the spec's; ours start at 100 and are listed in docs/errors.md. */
enum cni_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_INVALID_NETNS = 8,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_NOT_AVAILABLE_DEGRADED = 51,
	CNI_ERR_NETLINK = 100,	/* a netlink request failed */
	CNI_ERR_KUBE_API = 101, /* Kubernetes API request failed */
	CNI_ERR_DELEGATE = 102, /* an exec'd plugin failed without a CNI error of its own */
	CNI_ERR_IPAM = 103,	/* IPAM returned something unusable */
	CNI_ERR_DEVICE = 104,	/* device (master, VF) missing or unusable */
	CNI_ERR_NETNS = 105,	/* entering or opening a network namespace failed */
	CNI_ERR_INTERNAL = 999,
};

#define CNI_ERR_MSG_MAX 512
#define CNI_ERR_DETAILS_MAX 1024

/* Caller-owned, fixed size: nothing to free. code 0 = no error. */
struct cni_err {
	int code;
	int sys; /* errno, 0 if none */
	char msg[CNI_ERR_MSG_MAX];
	char details[CNI_ERR_DETAILS_MAX];
};

/* Fill err and return -sys (or -EINVAL when sys is 0), so call sites read
 * `return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "...")`. err may be NULL. */
int cni_err_set(struct cni_err *err, int code, int sys, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend "context: " to the message; returns the same negative value as the set call did. */
int cni_err_wrap(struct cni_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the details string. */
void cni_err_details(struct cni_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The negative value cni_err_set returned for this err. */
int cni_err_ret(const struct cni_err *err);
