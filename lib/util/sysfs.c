// SPDX-License-Identifier: Apache-2.0
/* Root-prefixed sysfs helpers (PLEXUS_SYSFS_ROOT, default "/"). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/cleanup.h"
#include "lib/util/sysfs.h"

static char *root_cache;

const char *sysfs_root(void)
{
	if (!root_cache) {
		const char *env = secure_getenv("PLEXUS_SYSFS_ROOT");
		size_t n = env ? strlen(env) : 0;
		while (n > 0 && env[n - 1] == '/')
			n--;
		root_cache = xstrndup(env ? env : "", n);
	}
	return root_cache;
}

bool sysfs_root_is_real(void)
{
	return sysfs_root()[0] == '\0';
}

char *sysfs_path(const char *fmt, ...)
{
	va_list ap;
	char *rel = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&rel, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	char *p = xasprintf("%s%s", sysfs_root(), rel);
	free(rel);
	return p;
}

int sysfs_link_basename(const char *path, char **ret)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	buf[n] = '\0';
	const char *slash = strrchr(buf, '/');
	*ret = xstrdup(slash ? slash + 1 : buf);
	return 0;
}

int sysfs_dir_single(const char *path, char **ret)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOTDIR ? -ENOENT : -errno;
	char *found = NULL;
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (found) {
			r = -ENOTUNIQ;
			break;
		}
		found = xstrdup(e->d_name);
	}
	(void)closedir(d);
	if (r == 0 && !found)
		r = -ENOENT;
	if (r < 0) {
		free(found);
		return r;
	}
	*ret = found;
	return 0;
}

bool sysfs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}
