// SPDX-License-Identifier: Apache-2.0
/* Network namespace helpers: open and validate CNI_NETNS, run code inside, always return. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/cni/netns.h"
#include "lib/util/cleanup.h"

/* setns works per thread, so "current" is this thread's netns, not the process's. */
#define SELF_NETNS "/proc/thread-self/ns/net"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int cni_netns_open(const char *path, int *ret_fd, struct cni_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return cni_err_set(err, CNI_ERR_NETNS, ENOENT, "netns '%s' does not exist",
					   path);
		return cni_err_set(err, CNI_ERR_NETNS, e, "open netns '%s': %s", path, strerror(e));
	}
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_NETNS, e, "statfs netns '%s': %s", path,
				   strerror(e));
	}
	/* Like the reference: a bind-mounted nsfs file or a /proc/<pid>/ns/net link. */
	if (sfs.f_type != (typeof(sfs.f_type))NSFS_MAGIC &&
	    sfs.f_type != (typeof(sfs.f_type))PROC_SUPER_MAGIC)
		return cni_err_set(err, CNI_ERR_INVALID_NETNS, EINVAL,
				   "'%s' is not a network namespace", path);
	/* nsfs also holds mount, pid, ... namespaces; ask when the kernel can tell. */
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type >= 0 && type != CLONE_NEWNET)
		return cni_err_set(err, CNI_ERR_INVALID_NETNS, EINVAL,
				   "'%s' is not a network namespace", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int cni_netns_is_current(int fd, bool *ret, struct cni_err *err)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_NETNS, e, "stat netns fd: %s", strerror(e));
	}
	if (stat(SELF_NETNS, &b) < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_NETNS, e, "stat '%s': %s", SELF_NETNS, strerror(e));
	}
	*ret = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return 0;
}

int cni_netns_run(int fd, int (*fn)(void *arg, struct cni_err *err), void *arg, struct cni_err *err)
{
	_cleanup_close_ int orig = open(SELF_NETNS, O_RDONLY | O_CLOEXEC);
	if (orig < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_NETNS, e, "open '%s': %s", SELF_NETNS, strerror(e));
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_NETNS, e, "enter netns: %s", strerror(e));
	}
	int r = fn(arg, err);
	/* Abort on purpose: going on in the container's netns would act on the wrong network. */
	if (setns(orig, CLONE_NEWNET) < 0) {
		int e = errno;
		fprintf(stderr, "plexus: cannot return to the original netns: %s\n", strerror(e));
		abort();
	}
	return r;
}
