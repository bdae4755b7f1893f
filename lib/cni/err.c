// SPDX-License-Identifier: Apache-2.0
/* struct cni_err helpers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/cni/err.h"

int cni_err_ret(const struct cni_err *err)
{
	return err && err->sys > 0 ? -err->sys : -EINVAL;
}

int cni_err_set(struct cni_err *err, int code, int sys, const char *fmt, ...)
{
	if (sys < 0)
		sys = -sys;
	if (!err)
		return sys ? -sys : -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	err->code = code;
	err->sys = sys;
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->details[0] = '\0';
	return sys ? -sys : -EINVAL;
}

int cni_err_wrap(struct cni_err *err, const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	char prefix[CNI_ERR_MSG_MAX];
	char old[CNI_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is acceptable: the start of the message says the most. */
	size_t n = strnlen(prefix, sizeof(err->msg) - 1);
	memcpy(err->msg, prefix, n);
	size_t room = sizeof(err->msg) - 1 - n;
	size_t m = room >= 2 ? 2 : room;
	memcpy(err->msg + n, ": ", m);
	n += m;
	room -= m;
	size_t k = strnlen(old, room);
	memcpy(err->msg + n, old, k);
	err->msg[n + k] = '\0';
	return cni_err_ret(err);
}

void cni_err_details(struct cni_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(err->details, sizeof(err->details), fmt, ap);
	va_end(ap);
}
