// SPDX-License-Identifier: Apache-2.0
/* File helpers: atomic replace, bounded reads, mkdir -p, flock. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/cleanup.h"
#include "lib/util/file.h"

int file_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The temp file of path written by pid: "<path>.tmp.<pid>", so a sweep can tell whose it is. */
static char *temp_name(const char *path, pid_t pid)
{
	return xasprintf("%s%s%d", path, FILE_TEMP_INFIX, (int)pid);
}

/* fsync the directory holding path, so a rename or a new entry in it survives a power loss. */
static int sync_dir_of(const char *path)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	_cleanup_close_ int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode, bool sync)
{
	_cleanup_free_ char *tmp = temp_name(path, getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int r = file_write_all(fd, data, len);
	/* Data before name: a rename that reaches the disk before the data is what leaves an
	 * empty file after a power loss. */
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	if (r == 0 && sync)
		r = sync_dir_of(path);
	return r;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, false);
}

int file_write_durable(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, true);
}

pid_t file_temp_pid(const char *name, size_t *ret_base_len)
{
	const char *infix = NULL;
	for (const char *s = strstr(name, FILE_TEMP_INFIX); s; s = strstr(s + 1, FILE_TEMP_INFIX))
		infix = s;
	if (!infix || infix == name)
		return -1;
	const char *digits = infix + strlen(FILE_TEMP_INFIX);
	long pid = 0;
	for (const char *c = digits; *c; c++) {
		if (*c < '0' || *c > '9' || pid > INT_MAX / 10)
			return -1;
		pid = pid * 10 + (*c - '0');
	}
	if (!*digits || pid <= 0)
		return -1;
	if (ret_base_len)
		*ret_base_len = (size_t)(infix - name);
	return (pid_t)pid;
}

bool file_temp_stale(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

int file_unlink_temps(const char *path, bool only_stale)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : path;
	if (slash)
		*slash = '\0';
	size_t blen = strlen(base);
	DIR *d = opendir(slash ? (*dir ? dir : "/") : ".");
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = 0;
		pid_t pid = file_temp_pid(e->d_name, &l);
		if (pid < 0 || l != blen || strncmp(e->d_name, base, blen) != 0 ||
		    (only_stale && !file_temp_stale(pid)))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	(void)closedir(d);
	return n;
}

int file_read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	/* Room for one byte past max tells "exactly max" from "too big". */
	size_t limit = max + 1, cap = limit < 4096 ? limit : 4096, len = 0;
	_cleanup_free_ char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= limit)
				return -EFBIG;
			cap = cap * 2 > limit ? limit : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return file_read_fd(fd, max, ret, ret_len);
}

int file_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int file_flock(int fd)
{
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int file_lock(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = file_flock(fd);
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	return fd;
}

int file_open_regular(int dfd, const char *name, int flags, mode_t mode)
{
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	return fd;
}
