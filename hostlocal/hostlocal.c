// SPDX-License-Identifier: Apache-2.0
/* host-local IPAM in-process: the reference allocator order over the reference on-disk store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlocal/hostlocal.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

#define LAST_IP_PREFIX "last_reserved_ip."
#define FILE_MAX 4096

/* The store: <dataDir>/<network>/ opened, with the flock on its "lock" file held until closed.
 * The lock covers a whole ADD or DEL, so the reference binary (which locks per range set)
 * never sees a half-done allocation. */
struct hl_store {
	int dir_fd;
	int lock_fd;
};

static void store_close(struct hl_store *s)
{
	if (s->dir_fd >= 0)
		(void)close(s->dir_fd);
	if (s->lock_fd >= 0)
		(void)close(s->lock_fd);
	s->dir_fd = s->lock_fd = -1;
}

static int store_open(const struct hl_conf *c, struct hl_store *ret, struct cni_err *err)
{
	_cleanup_free_ char *dir = NULL, *lock = NULL;
	if (asprintf(&dir, "%s/%s", c->data_dir, c->name) < 0 ||
	    asprintf(&lock, "%s/%s/lock", c->data_dir, c->name) < 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	int r = file_mkdir_p(dir, 0755);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "ipam.dataDir: create '%s': %s", dir,
				   strerror(-r));
	int lfd = file_lock(lock);
	if (lfd < 0)
		return cni_err_set(err, CNI_ERR_IO, -lfd, "ipam.dataDir: lock '%s': %s", lock,
				   strerror(-lfd));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;
		(void)close(lfd);
		return cni_err_set(err, CNI_ERR_IO, e, "ipam.dataDir: open '%s': %s", dir,
				   strerror(e));
	}
	ret->dir_fd = dfd;
	ret->lock_fd = lfd;
	return 0;
}

/* Whole small file at dir/name, whitespace-trimmed (Go's strings.TrimSpace). */
static int read_trimmed(int dfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	(void)close(fd);
	if (n < 0)
		return -EIO;
	char *p = buf, *end = buf + n;
	while (p < end &&
	       (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\v' || *p == '\f'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\n' || end[-1] == '\v' || end[-1] == '\f'))
		end--;
	memmove(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of the store in lexical order (filepath.Walk order). */
static int list_files(int dfd, char ***ret, size_t *ret_n)
{
	int fd = dup(dfd);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return -errno;
	}
	rewinddir(d);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	(void)closedir(d);
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

enum match {
	MATCH_NONE,
	MATCH_FULL,
	MATCH_OLD
};

/* "<id>\r\n<ifname>", or the pre-ifname format holding only the id. */
static enum match file_matches(int dfd, const char *name, const char *id, const char *ifname)
{
	char buf[FILE_MAX];
	if (read_trimmed(dfd, name, buf, sizeof(buf)) < 0)
		return MATCH_NONE;
	size_t il = strlen(id);
	if (strncmp(buf, id, il) == 0 && buf[il] == '\r' && buf[il + 1] == '\n' &&
	    strcmp(buf + il + 2, ifname) == 0)
		return MATCH_FULL;
	return strcmp(buf, id) == 0 ? MATCH_OLD : MATCH_NONE;
}

/* Addresses held by (id, ifname) in the store (GetByID). Returns the count put in ret. */
static size_t store_get_by_id(int dfd, const char *id, const char *ifname, struct ip_addr **ret)
{
	char **names = NULL;
	size_t n = 0, k = 0;
	*ret = NULL;
	if (list_files(dfd, &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct ip_addr ip;
		if (parse_ip(names[i], &ip) < 0 ||
		    file_matches(dfd, names[i], id, ifname) == MATCH_NONE)
			continue;
		*ret = xrealloc(*ret, (k + 1) * sizeof(**ret));
		(*ret)[k++] = ip;
	}
	names_free(names, n);
	return k;
}

/* ReleaseByID: remove every file of (id, ifname); if none, the files of id alone (old
 * format). Errors are eaten so as much as possible is released, like the reference. */
static void store_release(int dfd, const char *id, const char *ifname)
{
	char **names = NULL;
	size_t n = 0;
	if (list_files(dfd, &names, &n) < 0)
		return;
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (file_matches(dfd, names[i], id, ifname) == MATCH_FULL &&
		    unlinkat(dfd, names[i], 0) == 0)
			found = true;
	for (size_t i = 0; i < n && !found; i++)
		if (file_matches(dfd, names[i], id, ifname) == MATCH_OLD)
			(void)unlinkat(dfd, names[i], 0);
	names_free(names, n);
}

static bool store_find(int dfd, const char *id, const char *ifname)
{
	char **names = NULL;
	size_t n = 0;
	bool found = false;
	if (list_files(dfd, &names, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = file_matches(dfd, names[i], id, ifname) != MATCH_NONE;
	names_free(names, n);
	return found;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create <ip> exclusively with "<id>\r\n<ifname>", then record it in last_reserved_ip.<set>.
 * Returns 1 reserved, 0 taken, or -errno. */
static int store_reserve(int dfd, const struct ip_addr *ip, const char *id, const char *ifname,
			 size_t set)
{
	char name[IP_STR_LEN], last[sizeof(LAST_IP_PREFIX) + 24];
	format_ip(ip, name);
	int fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	_cleanup_free_ char *data = NULL;
	int len = asprintf(&data, "%s\r\n%s", id, ifname);
	int r = len < 0 ? -ENOMEM : write_all(fd, data, (size_t)len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dfd, name, 0);
		return r;
	}
	(void)snprintf(last, sizeof(last), LAST_IP_PREFIX "%zu", set);
	fd = openat(dfd, last, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write_all(fd, name, strlen(name));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r < 0 ? r : 1;
}

/* The reference RangeIter: from last_reserved_ip + 1 (or rangeStart), through the ranges of
 * the set in order, wrapping, skipping each range's gateway, until back at the first. */
struct hl_iter {
	const struct hl_rangeset *set;
	size_t idx;
	struct ip_addr cur, start; /* family 0 = not yet */
};

static bool iter_next(struct hl_iter *it, struct ip_addr *ret, size_t *ret_range)
{
	for (;;) {
		const struct hl_range *r = &it->set->ranges[it->idx];
		if (!it->cur.family) {
			it->cur = it->start = r->start;
		} else {
			if (ip_addr_equal(&it->cur, &r->end)) {
				it->idx = (it->idx + 1) % it->set->n;
				r = &it->set->ranges[it->idx];
				it->cur = r->start;
			} else {
				hl_ip_next(&it->cur);
			}
			if (!it->start.family)
				it->start = it->cur;
			else if (ip_addr_equal(&it->cur, &it->start))
				return false;
		}
		if (ip_addr_equal(&it->cur, &r->gateway))
			continue;
		*ret = it->cur;
		*ret_range = it->idx;
		return true;
	}
}

static void iter_init(int dfd, const struct hl_rangeset *set, size_t set_idx, struct hl_iter *it)
{
	char name[sizeof(LAST_IP_PREFIX) + 24], buf[FILE_MAX];
	struct ip_addr last;
	*it = (struct hl_iter){ .set = set };
	(void)snprintf(name, sizeof(name), LAST_IP_PREFIX "%zu", set_idx);
	/* A stale or foreign last IP only costs the round-robin position once. */
	if (read_trimmed(dfd, name, buf, sizeof(buf)) < 0 || parse_ip(buf, &last) < 0)
		return;
	int i = hl_rangeset_find(set, &last);
	if (i < 0)
		return;
	it->idx = (size_t)i;
	it->cur = last;
}

/* Allocator.Get of the reference for one range set. */
static int alloc_get(int dfd, const struct hl_rangeset *set, size_t set_idx, const char *id,
		     const char *ifname, const struct ip_addr *req, struct cni_ip *ret,
		     struct cni_err *err)
{
	char setstr[1024], ipstr[IP_STR_LEN];
	hl_rangeset_str(set, setstr, sizeof(setstr));
	struct ip_addr ip;
	size_t ri;
	int r;
	if (req) {
		format_ip(req, ipstr);
		int i = hl_rangeset_find(set, req);
		if (i < 0)
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL, "%s not in range set %s",
					   ipstr, setstr);
		ri = (size_t)i;
		if (ip_addr_equal(req, &set->ranges[ri].gateway))
			return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
					   "requested ip %s is subnet's gateway", ipstr);
		r = store_reserve(dfd, req, id, ifname, set_idx);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_IO, -r, "reserve %s: %s", ipstr,
					   strerror(-r));
		if (r == 0)
			return cni_err_set(err, CNI_ERR_IPAM, EEXIST,
					   "requested IP address %s is not available in range "
					   "set %s",
					   ipstr, setstr);
		ip = *req;
	} else {
		/* SPEC: a second ADD of one attachment is not a new allocation. */
		_cleanup_free_ struct ip_addr *held = NULL;
		size_t n = store_get_by_id(dfd, id, ifname, &held);
		for (size_t i = 0; i < n; i++)
			if (hl_rangeset_find(set, &held[i]) >= 0) {
				format_ip(&held[i], ipstr);
				return cni_err_set(err, CNI_ERR_IPAM, EEXIST,
						   "%s has been allocated to %s, duplicate "
						   "allocation is not allowed",
						   ipstr, id);
			}
		struct hl_iter it;
		iter_init(dfd, set, set_idx, &it);
		for (;;) {
			if (!iter_next(&it, &ip, &ri))
				return cni_err_set(err, CNI_ERR_IPAM, ENOSPC,
						   "no IP addresses available in range set: %s",
						   setstr);
			r = store_reserve(dfd, &ip, id, ifname, set_idx);
			if (r < 0) {
				format_ip(&ip, ipstr);
				return cni_err_set(err, CNI_ERR_IO, -r, "reserve %s: %s", ipstr,
						   strerror(-r));
			}
			if (r == 1)
				break;
		}
	}
	*ret = (struct cni_ip){ .address = { .ip = ip, .prefix = set->ranges[ri].subnet.prefix },
				.gateway = set->ranges[ri].gateway,
				.interface = -1 };
	return 0;
}

static int hl_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	int r = hl_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	_cleanup_(cni_result_freep) struct cni_result *res = cni_result_new();
	if (c.resolv_conf && (r = hl_resolv_parse(c.resolv_conf, &res->dns, err)) < 0)
		return r;
	struct hl_store st = { -1, -1 };
	if ((r = store_open(&c, &st, err)) < 0)
		return r;
	_cleanup_free_ bool *used = xcalloc(c.n_requested + 1, sizeof(bool));
	for (size_t s = 0; s < c.n_sets; s++) {
		/* First still-unused requested address inside this set (the reference picks
		 * one in map order; ours is deterministic: CNI_ARGS, args, runtimeConfig). */
		const struct ip_addr *req = NULL;
		for (size_t i = 0; i < c.n_requested && !req; i++)
			if (!used[i] && hl_rangeset_find(&c.sets[s], &c.requested[i]) >= 0)
				req = &c.requested[i];
		for (size_t i = 0; req && i < c.n_requested; i++)
			if (ip_addr_equal(&c.requested[i], req))
				used[i] = true;
		struct cni_ip ip;
		r = alloc_get(st.dir_fd, &c.sets[s], s, ctx->container_id, ctx->ifname, req, &ip,
			      err);
		if (r < 0) {
			if (s > 0)
				store_release(st.dir_fd, ctx->container_id, ctx->ifname);
			store_close(&st);
			return cni_err_wrap(err, "failed to allocate for range %zu", s);
		}
		cni_result_add_ip(res, &ip);
	}
	char left[1024] = "";
	size_t off = 0;
	for (size_t i = 0; i < c.n_requested; i++) {
		if (used[i])
			continue;
		char s[IP_STR_LEN];
		format_ip(&c.requested[i], s);
		off += (size_t)snprintf(left + off, sizeof(left) > off ? sizeof(left) - off : 0,
					" %s", s);
		for (size_t j = i; j < c.n_requested; j++)
			if (ip_addr_equal(&c.requested[j], &c.requested[i]))
				used[j] = true;
		if (off >= sizeof(left))
			break;
	}
	if (left[0]) {
		store_release(st.dir_fd, ctx->container_id, ctx->ifname);
		store_close(&st);
		return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
				   "failed to allocate all requested IPs:%s", left);
	}
	store_close(&st);
	for (size_t i = 0; i < c.n_routes; i++)
		cni_result_add_route(res, &c.routes[i]);
	*ret = TAKE_PTR(res);
	return 0;
}

static int hl_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	int r = hl_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	struct hl_store st = { -1, -1 };
	if ((r = store_open(&c, &st, err)) < 0)
		return r;
	store_release(st.dir_fd, ctx->container_id, ctx->ifname);
	store_close(&st);
	return 0;
}

/* CHECK: some address of this attachment is reserved, whatever it is (as the reference). */
static int hl_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	int r = hl_conf_parse(ctx, &c, err);
	if (r < 0)
		return r;
	struct hl_store st = { -1, -1 };
	if ((r = store_open(&c, &st, err)) < 0)
		return r;
	bool found = store_find(st.dir_fd, ctx->container_id, ctx->ifname);
	store_close(&st);
	if (!found)
		return cni_err_set(err, CNI_ERR_IPAM, ENOENT,
				   "host-local: Failed to find address added by container %s",
				   ctx->container_id);
	return 0;
}

static const char *const hostlocal_aliases[] = { "plexus-host-local", "plexus-hostlocal", NULL };

const struct cni_plugin hostlocal_plugin = {
	.name = "host-local",
	.aliases = hostlocal_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = hl_add,
	.del = hl_del,
	.check = hl_check,
	/* No STATUS or GC, like the reference (PLG-19). */
};
