// SPDX-License-Identifier: Apache-2.0
/* /proc/sys access; net/ keys are per netns, resolved for the calling thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"

/* Keys often embed an interface name: refuse anything that could leave /proc/sys. */
static bool key_valid(const char *key)
{
	if (!*key || *key == '/')
		return false;
	for (const char *p = key; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return key[strlen(key) - 1] != '/';
}

static int sysctl_open(const char *key, int flags, int *ret, struct cni_err *err)
{
	if (!key_valid(key))
		return cni_err_set(err, CNI_ERR_IO, EINVAL, "invalid sysctl '%s'", key);
	_cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_IO, e, "open sysctl '%s': %s", key, strerror(e));
	}
	*ret = fd;
	return 0;
}

int net_sysctl_set(const char *key, const char *value, struct cni_err *err)
{
	_cleanup_close_ int fd = -1;
	int r = sysctl_open(key, O_WRONLY, &fd, err);
	if (r < 0)
		return r;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;
		return cni_err_set(err, CNI_ERR_IO, e, "write sysctl '%s' = '%s': %s", key, value,
				   strerror(e));
	}
	return 0;
}

int net_sysctl_get(const char *key, char *buf, size_t size, struct cni_err *err)
{
	if (size < 2)
		return cni_err_set(err, CNI_ERR_IO, ERANGE, "read sysctl '%s': buffer too small",
				   key);
	_cleanup_close_ int fd = -1;
	int r = sysctl_open(key, O_RDONLY, &fd, err);
	if (r < 0)
		return r;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0) {
		int e = errno;
		return cni_err_set(err, CNI_ERR_IO, e, "read sysctl '%s': %s", key, strerror(e));
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	else if ((size_t)n == size - 1)
		return cni_err_set(err, CNI_ERR_IO, ERANGE, "read sysctl '%s': value too long",
				   key);
	return 0;
}
