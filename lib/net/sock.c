// SPDX-License-Identifier: Apache-2.0
/* NETLINK_ROUTE sockets, always close-on-exec (we fork/exec IPAM and delegates). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"

int net_sock_open(struct nl_sock **ret, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate netlink socket");
	int r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return net_err(err, r, "connect netlink socket");
	/* libnl >= 3.2.26 passes SOCK_CLOEXEC itself; make sure with any version. */
	int fd = nl_socket_get_fd(sk);
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0 || (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_NETLINK, e,
				   "set close-on-exec on netlink socket: %s", strerror(e));
	}
	*ret = TAKE_PTR(sk);
	return 0;
}
