// SPDX-License-Identifier: Apache-2.0
/* Files in directories named by untrusted config: no symlink hop, checked owners, atomic writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/safedir.h"

int safedir_path_check(const char *path)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (!path[1])
		return 0;
	for (const char *p = path + 1;;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

/* The owner and mode rule of safedir_open for one opened directory. */
static int check_dir(int fd, bool last)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	uid_t me = geteuid();
	if (st.st_uid != me && (last || st.st_uid != 0))
		return -EPERM;
	/* A sticky directory lets others add names but not replace ours; the walk opens each
	 * name without following symlinks and checks its owner, so a planted name fails. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st.st_mode & S_ISVTX)))
		return -EPERM;
	return 0;
}

int safedir_open(const char *path, bool create, mode_t mode, size_t *ret_bad_len)
{
	if (ret_bad_len)
		*ret_bad_len = 0;
	if (safedir_path_check(path) < 0)
		return -EINVAL;
	/* O_PATH on the way down: search permission is enough; the last one is read (readdir). */
	_cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = check_dir(fd, !path[1]);
	if (r < 0)
		return r;
	if (!path[1]) {
		int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return dfd < 0 ? -errno : dfd;
	}
	_cleanup_free_ char *copy = xstrdup(path);
	for (char *p = copy + 1; p;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		bool last = !slash;
		int flags = (last ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		int next = openat(fd, p, flags);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, p, mode) < 0 && errno != EEXIST)
				r = -errno;
			else
				next = openat(fd, p, flags);
		}
		if (next < 0 && r == 0)
			r = -errno;
		struct stat st;
		/* O_PATH|O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR: tell the two apart. */
		if (r == -ENOTDIR && fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			r = -ELOOP;
		if (r == 0)
			r = check_dir(next, last);
		if (r < 0) {
			if (next >= 0)
				(void)close(next);
			if (ret_bad_len)
				*ret_bad_len = (size_t)(p - copy) + strlen(p);
			return r;
		}
		(void)close(fd);
		fd = next;
		p = slash ? slash + 1 : NULL;
	}
	return TAKE_FD(fd);
}

int safedir_lock(int dfd, const char *name, mode_t mode)
{
	int fd = file_open_regular(dfd, name, O_RDWR | O_CREAT, mode);
	if (fd < 0)
		return fd;
	int r;
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}

int safedir_read(int dfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = file_open_regular(dfd, name, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	return file_read_fd(fd, max, ret, ret_len);
}

/* A fresh temp file for name holding data: ".plexus-tmp.<name>.<pid>". A leftover of this
 * name is a dead process's (pids are unique among the living), so it is replaced. */
static int write_tmp(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		     char **ret_tmp)
{
	_cleanup_free_ char *tmp = xasprintf(SAFEDIR_TMP_PREFIX "%s.%d", name, (int)getpid());
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	_cleanup_close_ int fd = openat(dfd, tmp, flags, mode);
	if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		fd = openat(dfd, tmp, flags, mode);
	if (fd < 0)
		return -errno;
	int r = file_write_all(fd, data, len);
	if (r == 0 && close(TAKE_FD(fd)) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dfd, tmp, 0);
		return r;
	}
	*ret_tmp = TAKE_PTR(tmp);
	return 0;
}

int safedir_link_new(int dfd, const char *name, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	int r = write_tmp(dfd, name, data, len, mode, &tmp);
	if (r < 0)
		return r;
	/* link() fails with EEXIST on any existing name, symlinks included: first one wins,
	 * exactly as O_CREAT|O_EXCL, but the name only ever appears with its content. */
	r = linkat(dfd, tmp, dfd, name, 0) == 0 ? 1 : errno == EEXIST ? 0 : -errno;
	(void)unlinkat(dfd, tmp, 0);
	return r;
}

int safedir_replace(int dfd, const char *name, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	int r = write_tmp(dfd, name, data, len, mode, &tmp);
	if (r < 0)
		return r;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = -errno;
		(void)unlinkat(dfd, tmp, 0);
	}
	return r;
}

int safedir_sweep_tmp(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, SAFEDIR_TMP_PREFIX, sizeof(SAFEDIR_TMP_PREFIX) - 1) == 0 &&
		    unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	(void)closedir(d);
	return n;
}
