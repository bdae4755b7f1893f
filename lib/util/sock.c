// SPDX-License-Identifier: Apache-2.0
/* Unix stream sockets that daemons serve. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "lib/util/sock.h"

/* Is a live process accepting on sa? 0 yes, -ECONNREFUSED stale, other -errno. */
static int probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
	(void)close(fd);
	return r;
}

int sock_unix_listen(const char *path, int flags, bool refuse_live)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (refuse_live) {
			int r = probe(&sa);
			if (r == 0)
				return -EADDRINUSE;
			if (r != -ECONNREFUSED)
				return r;
		}
		log_info("replacing the stale socket '%s'", path);
		if (unlink(path) < 0)
			return -errno;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	/* The socket's own mode is what bind gives the file (less the umask): 0600 from the
	 * start, no window in which others may connect. chmod again for odd umasks. */
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	if (chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
		int r = -errno;
		(void)unlink(path);
		(void)close(fd);
		return r;
	}
	return fd;
}

int sock_unix_connect(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A full backlog makes a non-blocking AF_UNIX connect return EAGAIN: retry when the
	 * socket turns writable, until the deadline. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EISCONN) {
		int r = -errno;
		int64_t left = deadline_ms - clock_now_ms();
		if (r != -EAGAIN && r != -EINPROGRESS && r != -EALREADY && r != -EINTR) {
			(void)close(fd);
			return r;
		}
		if (!deadline_ms || left <= 0) {
			(void)close(fd);
			return deadline_ms ? -ETIMEDOUT : r;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			r = -errno;
			(void)close(fd);
			return r;
		}
	}
	return fd;
}
