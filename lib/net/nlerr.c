// SPDX-License-Identifier: Apache-2.0
/* The one place libnl -NLE_* errors become errno values and struct cni_err messages. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <netlink/errno.h>

#include "lib/cni/err.h"
#include "lib/net/net.h"

/* libnl folds kernel errnos into its own space (nl_syserr2nlerr); map them back as closely
 * as that lossy translation allows. */
static int nlerr_to_errno(int nlerr)
{
	switch (abs(nlerr)) {
	case NLE_INTR:
		return EINTR;
	case NLE_BAD_SOCK:
		return EBADF;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_EXIST:
		return EEXIST;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
	case NLE_AF_MISMATCH:
	case NLE_OBJ_MISMATCH:
	case NLE_PARSE_ERR:
	case NLE_IMMUTABLE:
		return EINVAL;
	case NLE_RANGE:
	case NLE_ATTRSIZE:
		return ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_OVERFLOW:
	case NLE_MSG_TRUNC:
		return EMSGSIZE;
	case NLE_OPNOTSUPP:
	case NLE_SRCRT_NOSUPPORT:
	case NLE_MSGTYPE_NOSUPPORT:
		return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
	case NLE_NOATTR:
	case NLE_NOCACHE:
	case NLE_PKTLOC_FILE:
		return ENOENT;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	case NLE_SEQ_MISMATCH:
	case NLE_MSG_TOOSHORT:
	case NLE_PROTO_MISMATCH:
		return EPROTO;
	case NLE_BUSY:
		return EBUSY;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_PERM:
		return EPERM;
	case NLE_NODEV:
		return ENODEV;
	case NLE_DUMP_INTR:
		return EAGAIN; /* retryable: the data changed during the dump */
	default:
		return EIO;
	}
}

int net_err(struct cni_err *err, int nlerr, const char *fmt, ...)
{
	char what[CNI_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cni_err_set(err, CNI_ERR_NETLINK, nlerr_to_errno(nlerr), "%s: %s", what,
			   nl_geterror(nlerr));
}
