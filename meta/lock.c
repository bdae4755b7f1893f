// SPDX-License-Identifier: Apache-2.0
/* The per-pod lock: ADD, DEL, GC of a container and a hot-plug never act on one pod at once
 * (docs/hotplug.md, "The per-pod lock"). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"

static char *lock_path(const struct plan *p)
{
	return xasprintf("%s/%s" META_LOCK_SUFFIX, p->conf.cni_dir, p->ctx->container_id);
}

int meta_lock(const struct plan *p, bool wait, int *ret_fd, struct cni_err *err)
{
	int r = file_mkdir_p(p->conf.cni_dir, 0700);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "cniDir '%s': %s", p->conf.cni_dir,
				   strerror(-r));
	_cleanup_free_ char *path = lock_path(p);
	for (;;) {
		_cleanup_close_ int fd = file_open_regular(AT_FDCWD, path, O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			return cni_err_set(err, CNI_ERR_IO, -fd, "pod lock '%s': %s", path,
					   strerror(-fd));
		while ((r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) < 0 && errno == EINTR)
			;
		if (r < 0 && errno == EWOULDBLOCK)
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, EBUSY,
					   "pod lock '%s': another verb holds it", path);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_IO, errno, "pod lock '%s': %s", path,
					   strerror(errno));
		/* The holder we waited for may have removed the file (meta_unlock): a lock on
		 * the unlinked inode would exclude nobody, so take the one now at path. */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
	}
}

void meta_lock_remove(const struct plan *p, int fd)
{
	if (fd < 0)
		return;
	_cleanup_free_ char *path = lock_path(p), *log = meta_intent_path(p);
	/* The lock file goes with the intent log: nothing of the container is left to guard. */
	if (access(log, F_OK) == 0 || errno != ENOENT)
		return;
	/* Unlinked while still held: a waiter then sees another inode (or none) and retries. */
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("remove pod lock '%s': %s, ignoring", path, strerror(errno));
}
