// SPDX-License-Identifier: Apache-2.0
/* host-local on-disk store: lease files named by address, in the reference format, crash-safe. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostlocal/internal.h"
#include "lib/cni/args.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "lib/util/safedir.h"

#define LAST_IP_PREFIX "last_reserved_ip."
#define LEASE_MAX 4096

void hl_store_close(struct hl_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->leases[i].name);
		free(s->leases[i].id);
	}
	free(s->leases);
	if (s->dir_fd >= 0)
		(void)close(s->dir_fd);
	if (s->lock_fd >= 0)
		(void)close(s->lock_fd);
	*s = (struct hl_store)HL_STORE_INIT;
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
 * then NULL, else it points into *ret_id, which the caller frees). -EBADMSG: garbage no DEL
 * can ever match (see load()); else -errno. */
static int lease_owner(int dfd, const char *name, char **ret_id, const char **ret_ifname)
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
	*ret_id = buf;
	*ret_ifname = ifname;
	return 0;
}

static bool is_lease_name(const char *name)
{
	struct ip_addr ip;
	return parse_ip(name, &ip) == 0;
}

static void add_lease(struct hl_store *s, const char *name, char *id, const char *ifname)
{
	s->leases = xrealloc(s->leases, (s->n + 1) * sizeof(*s->leases));
	s->leases[s->n++] = (struct hl_lease){
		.name = xstrdup(name), .id = id, .ifname = ifname, .is_ip = is_lease_name(name)
	};
}

/* Read every owner of the store. With sweep, first remove what no live writer can still be
 * completing, which holds only under the store lock: plexus links leases in with their
 * content and every host-local (ours, the reference) writes a lease only while holding the
 * lock, so a temp file or an empty lease is a killed writer's, and a lease that is not a
 * regular file or names an owner no DEL can match is no one's. The address is free. */
static void load(struct hl_store *s, bool sweep)
{
	if (sweep)
		(void)safedir_sweep_tmp(s->dir_fd);
	char **names = NULL;
	size_t n = 0;
	if (list_files(s->dir_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *id = NULL;
		const char *ifname;
		if (strncmp(names[i], SAFEDIR_TMP_PREFIX, sizeof(SAFEDIR_TMP_PREFIX) - 1) == 0)
			continue;
		int r = lease_owner(s->dir_fd, names[i], &id, &ifname);
		if (r == 0)
			add_lease(s, names[i], id, ifname);
		else if (r == -EBADMSG && sweep && is_lease_name(names[i]))
			(void)unlinkat(s->dir_fd, names[i], 0);
	}
	names_free(names, n);
}

int hl_store_open(const struct hl_conf *c, bool sweep, struct hl_store *ret, struct cni_err *err)
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
	*ret = (struct hl_store){ .dir_fd = dfd, .lock_fd = lfd };
	load(ret, sweep);
	return 0;
}

enum match {
	MATCH_NONE,
	MATCH_FULL,
	MATCH_OLD,
};

static enum match lease_matches(const struct hl_lease *l, const char *id, const char *ifname)
{
	if (!l->name || strcmp(l->id, id) != 0)
		return MATCH_NONE;
	if (!l->ifname)
		return MATCH_OLD;
	return strcmp(l->ifname, ifname) == 0 ? MATCH_FULL : MATCH_NONE;
}

static void lease_remove(struct hl_store *s, struct hl_lease *l)
{
	(void)unlinkat(s->dir_fd, l->name, 0);
	free(l->name);
	l->name = NULL;
}

size_t hl_store_get_by_id(const struct hl_store *s, const char *id, const char *ifname,
			  struct ip_addr **ret)
{
	size_t k = 0;
	*ret = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct ip_addr ip;
		if (!s->leases[i].is_ip || lease_matches(&s->leases[i], id, ifname) == MATCH_NONE ||
		    parse_ip(s->leases[i].name, &ip) < 0)
			continue;
		*ret = xrealloc(*ret, (k + 1) * sizeof(**ret));
		(*ret)[k++] = ip;
	}
	return k;
}

/* A lease cut short by a power loss (the lease is linked in before its data reaches the disk,
 * see docs/ipam.md): its owner is a strict prefix of "<id>\r\n<ifname>". Container IDs are
 * fixed-length in every runtime (64 hex digits), so no other container's ID is a strict prefix
 * of this one's. */
static bool lease_cut_of(const struct hl_lease *l, const char *id, const char *ifname)
{
	if (!l->name)
		return false;
	size_t il = strlen(l->id);
	if (!l->ifname)
		return il < strlen(id) && strncmp(id, l->id, il) == 0;
	size_t fl = strlen(l->ifname);
	return strcmp(l->id, id) == 0 && fl < strlen(ifname) && strncmp(ifname, l->ifname, fl) == 0;
}

/* The reference releases "<id>" leases (its format before ifnames) only when no
 * "<id>\r\n<ifname>" lease matched; a lease cut to exactly "<id>" or "<id>\r\n" by a power loss
 * reads the same, and would stay for good beside its other family's intact lease. So every
 * lease of the container's that is not another interface's goes. */
void hl_store_release(struct hl_store *s, const char *id, const char *ifname)
{
	for (size_t i = 0; i < s->n; i++)
		if (lease_matches(&s->leases[i], id, ifname) != MATCH_NONE ||
		    lease_cut_of(&s->leases[i], id, ifname))
			lease_remove(s, &s->leases[i]);
}

bool hl_store_find(const struct hl_store *s, const char *id, const char *ifname)
{
	for (size_t i = 0; i < s->n; i++)
		if (lease_matches(&s->leases[i], id, ifname) != MATCH_NONE)
			return true;
	return false;
}

void hl_store_gc(struct hl_store *s, const struct cni_attachment *valid, size_t n_valid)
{
	for (size_t i = 0; i < s->n; i++) {
		struct hl_lease *l = &s->leases[i];
		if (!l->name || !l->is_ip)
			continue;
		bool keep = false;
		for (size_t j = 0; j < n_valid && !keep; j++)
			keep = strcmp(valid[j].container_id, l->id) == 0 &&
			       (!l->ifname || strcmp(valid[j].ifname, l->ifname) == 0);
		if (!keep)
			lease_remove(s, l);
	}
}

/* last_reserved_ip is a hint (hl_store_last_ip ignores what it cannot parse; leases decide), so
 * it is rewritten in place, as the reference plugin does: a temp file and a rename per ADD cost
 * ~0.25 ms of a new inode and a freed block (docs/benchmarks.md, "Where the time goes"). Only a
 * regular file with one link is written through; anything else is replaced. */
static int write_hint(int dfd, const char *name, const char *data, size_t len)
{
	_cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    pwrite(fd, data, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0)
		return 0;
	return safedir_replace(dfd, name, data, len, 0644);
}

int hl_store_reserve(struct hl_store *s, const struct ip_addr *ip, const char *id,
		     const char *ifname, size_t set)
{
	char name[IP_STR_LEN], last[sizeof(LAST_IP_PREFIX) + 24];
	format_ip(ip, name);
	size_t il = strlen(id);
	_cleanup_free_ char *data = xasprintf("%s\r\n%s", id, ifname);
	int r = safedir_link_new(s->dir_fd, name, data, strlen(data), 0644);
	if (r <= 0)
		return r;
	(void)snprintf(last, sizeof(last), LAST_IP_PREFIX "%zu", set);
	r = write_hint(s->dir_fd, last, name, strlen(name));
	if (r < 0) {
		(void)unlinkat(s->dir_fd, name, 0);
		return r;
	}
	/* The owner as load() reads it: data split at the line break. */
	data[il] = '\0';
	add_lease(s, name, TAKE_PTR(data), NULL);
	s->leases[s->n - 1].ifname = s->leases[s->n - 1].id + il + 2;
	return 1;
}

void hl_store_last_ip(const struct hl_store *s, size_t set, struct ip_addr *ret)
{
	char name[sizeof(LAST_IP_PREFIX) + 24];
	_cleanup_free_ char *buf = NULL;
	*ret = (struct ip_addr){ 0 };
	(void)snprintf(name, sizeof(name), LAST_IP_PREFIX "%zu", set);
	if (read_trimmed(s->dir_fd, name, &buf) < 0 || parse_ip(buf, ret) < 0)
		*ret = (struct ip_addr){ 0 };
}

int hl_store_sweep(const char *data_dir, const char *name, const char *id)
{
	size_t dl = strlen(data_dir);
	_cleanup_free_ char *dir =
		xasprintf("%s%s%s", data_dir, dl && data_dir[dl - 1] == '/' ? "" : "/", name);
	int dfd = safedir_open(dir, false, 0, NULL);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	int lfd = safedir_lock(dfd, "lock", 0600);
	if (lfd < 0) {
		(void)close(dfd);
		return lfd;
	}
	_cleanup_(hl_store_close) struct hl_store s = { .dir_fd = dfd, .lock_fd = lfd };
	load(&s, true);
	for (size_t i = 0; id && i < s.n; i++)
		if (s.leases[i].name && s.leases[i].is_ip && strcmp(s.leases[i].id, id) == 0) {
			log_info("released lease '%s/%s' of container '%s'", dir, s.leases[i].name,
				 id);
			lease_remove(&s, &s.leases[i]);
		}
	return 0;
}
