// SPDX-License-Identifier: Apache-2.0
/* host-local on-disk store: lease files named by address, in the reference format, crash-safe. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlocal/internal.h"
#include "lib/cni/args.h"
#include "lib/util/cleanup.h"
#include "lib/util/safedir.h"

#define LAST_IP_PREFIX "last_reserved_ip."
#define LEASE_MAX 4096

void hl_store_close(struct hl_store *s)
{
	if (s->dir_fd >= 0)
		(void)close(s->dir_fd);
	if (s->lock_fd >= 0)
		(void)close(s->lock_fd);
	s->dir_fd = s->lock_fd = -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of the store but . and .., in lexical order (filepath.Walk order). */
static int list_files(int dfd, char ***ret, size_t *ret_n)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return -errno;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	(void)closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*ret = names;
	*ret_n = n;
	return 0;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Whole small regular file, whitespace-trimmed (Go's strings.TrimSpace), in a buffer the
 * caller frees. -errno as safedir_read. */
static int read_trimmed(int dfd, const char *name, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = safedir_read(dfd, name, LEASE_MAX, &buf, &len);
	if (r < 0)
		return r;
	char *p = buf, *end = buf + len;
	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	memmove(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

/* The owner of a lease: "<id>\r\n<ifname>", or "<id>" (the format before ifnames; *ifname is
 * then NULL). -EBADMSG: garbage no DEL can ever match (see is_garbage); else -errno. */
static int lease_owner(int dfd, const char *name, char **ret_buf, const char **ret_id,
		       const char **ret_ifname)
{
	char *buf = NULL;
	int r = read_trimmed(dfd, name, &buf);
	/* A symlink, FIFO, directory or oversized file is no lease a host-local wrote. */
	if (r == -ELOOP || r == -EINVAL || r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	char *ifname = strstr(buf, "\r\n");
	if (ifname) {
		*ifname = '\0';
		ifname += 2;
	}
	/* The skel of every CNI runtime and plugin refuses ids and ifnames outside these
	 * rules (CNI SPEC.md "Parameters"), so no DEL can match such a file. */
	if (cni_validate_container_id(buf, 0, NULL) < 0 ||
	    (ifname && cni_validate_ifname(ifname, 0, NULL) < 0)) {
		free(buf);
		return -EBADMSG;
	}
	*ret_buf = buf;
	*ret_id = buf;
	*ret_ifname = ifname;
	return 0;
}

enum match {
	MATCH_NONE,
	MATCH_FULL,
	MATCH_OLD,
};

static enum match lease_matches(int dfd, const char *name, const char *id, const char *ifname)
{
	_cleanup_free_ char *buf = NULL;
	const char *lid, *lif;
	if (lease_owner(dfd, name, &buf, &lid, &lif) < 0 || strcmp(lid, id) != 0)
		return MATCH_NONE;
	if (!lif)
		return MATCH_OLD;
	return strcmp(lif, ifname) == 0 ? MATCH_FULL : MATCH_NONE;
}

static bool is_lease_name(const char *name)
{
	struct ip_addr ip;
	return parse_ip(name, &ip) == 0;
}

/* Under the store lock, a lease file no writer can still be completing. plexus links leases
 * in with their content, and every host-local (ours, the reference) writes a lease only while
 * holding the lock: an empty one is a writer killed between create and write, and a
 * non-file or a content no DEL can match is no one's. Either way the address is free. */
static void sweep(int dfd)
{
	(void)safedir_sweep_tmp(dfd);
	char **names = NULL;
	size_t n = 0;
	if (list_files(dfd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *buf = NULL;
		const char *id, *ifname;
		if (is_lease_name(names[i]) &&
		    lease_owner(dfd, names[i], &buf, &id, &ifname) == -EBADMSG)
			(void)unlinkat(dfd, names[i], 0);
	}
	names_free(names, n);
}

int hl_store_open(const struct hl_conf *c, bool sweep_store, struct hl_store *ret,
		  struct cni_err *err)
{
	size_t dl = strlen(c->data_dir);
	_cleanup_free_ char *dir =
		xasprintf("%s%s%s", c->data_dir, c->data_dir[dl - 1] == '/' ? "" : "/", c->name);
	size_t bad = 0;
	int dfd = safedir_open(dir, true, 0755, &bad);
	if (dfd < 0) {
		const char *why = dfd == -EPERM	    ? "is owned by another user or writable by "
						      "group or others"
				  : dfd == -ELOOP   ? "is a symlink"
				  : dfd == -ENOTDIR ? "is not a directory"
						    : NULL;
		if (why)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, -dfd,
					   "ipam.dataDir: '%.*s' %s", (int)bad, dir, why);
		return cni_err_set(err, CNI_ERR_IO, -dfd, "ipam.dataDir: create '%.*s': %s",
				   (int)(bad ? bad : strlen(dir)), dir, strerror(-dfd));
	}
	int lfd = safedir_lock(dfd, "lock", 0600);
	if (lfd < 0) {
		(void)close(dfd);
		return cni_err_set(err, CNI_ERR_IO, -lfd, "ipam.dataDir: lock '%s/lock': %s", dir,
				   strerror(-lfd));
	}
	ret->dir_fd = dfd;
	ret->lock_fd = lfd;
	if (sweep_store)
		sweep(dfd);
	return 0;
}

size_t hl_store_get_by_id(int dfd, const char *id, const char *ifname, struct ip_addr **ret)
{
	char **names = NULL;
	size_t n = 0, k = 0;
	*ret = NULL;
	if (list_files(dfd, &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct ip_addr ip;
		if (parse_ip(names[i], &ip) < 0 ||
		    lease_matches(dfd, names[i], id, ifname) == MATCH_NONE)
			continue;
		*ret = xrealloc(*ret, (k + 1) * sizeof(**ret));
		(*ret)[k++] = ip;
	}
	names_free(names, n);
	return k;
}

void hl_store_release(int dfd, const char *id, const char *ifname)
{
	char **names = NULL;
	size_t n = 0;
	if (list_files(dfd, &names, &n) < 0)
		return;
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (lease_matches(dfd, names[i], id, ifname) == MATCH_FULL &&
		    unlinkat(dfd, names[i], 0) == 0)
			found = true;
	for (size_t i = 0; i < n && !found; i++)
		if (lease_matches(dfd, names[i], id, ifname) == MATCH_OLD)
			(void)unlinkat(dfd, names[i], 0);
	names_free(names, n);
}

bool hl_store_find(int dfd, const char *id, const char *ifname)
{
	char **names = NULL;
	size_t n = 0;
	bool found = false;
	if (list_files(dfd, &names, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = lease_matches(dfd, names[i], id, ifname) != MATCH_NONE;
	names_free(names, n);
	return found;
}

void hl_store_gc(int dfd, const struct cni_attachment *valid, size_t n_valid)
{
	char **names = NULL;
	size_t n = 0;
	if (list_files(dfd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *buf = NULL;
		const char *id, *ifname;
		if (!is_lease_name(names[i]) || lease_owner(dfd, names[i], &buf, &id, &ifname) < 0)
			continue;
		bool keep = false;
		for (size_t j = 0; j < n_valid && !keep; j++)
			keep = strcmp(valid[j].container_id, id) == 0 &&
			       (!ifname || strcmp(valid[j].ifname, ifname) == 0);
		if (!keep)
			(void)unlinkat(dfd, names[i], 0);
	}
	names_free(names, n);
}

int hl_store_reserve(int dfd, const struct ip_addr *ip, const char *id, const char *ifname,
		     size_t set)
{
	char name[IP_STR_LEN], last[sizeof(LAST_IP_PREFIX) + 24];
	format_ip(ip, name);
	_cleanup_free_ char *data = xasprintf("%s\r\n%s", id, ifname);
	int r = safedir_link_new(dfd, name, data, strlen(data), 0644);
	if (r <= 0)
		return r;
	(void)snprintf(last, sizeof(last), LAST_IP_PREFIX "%zu", set);
	r = safedir_replace(dfd, last, name, strlen(name), 0644);
	if (r < 0) {
		(void)unlinkat(dfd, name, 0);
		return r;
	}
	return 1;
}

void hl_store_last_ip(int dfd, size_t set, struct ip_addr *ret)
{
	char name[sizeof(LAST_IP_PREFIX) + 24];
	_cleanup_free_ char *buf = NULL;
	*ret = (struct ip_addr){ 0 };
	(void)snprintf(name, sizeof(name), LAST_IP_PREFIX "%zu", set);
	if (read_trimmed(dfd, name, &buf) < 0 || parse_ip(buf, ret) < 0)
		*ret = (struct ip_addr){ 0 };
}
