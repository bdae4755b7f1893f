// SPDX-License-Identifier: Apache-2.0
/* host-local pool usage for the node daemon's metrics: range sizes and lease counts, read-only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hostlocal/hostlocal.h"
#include "lib/util/cleanup.h"
#include "lib/util/safedir.h"

/* Addresses from start to end inclusive, gateway excluded, as a double (exact up to 2^53). */
static double range_size(const struct hl_range *r)
{
	size_t n = r->start.family == AF_INET ? 4 : 16;
	/* A /64 or wider does not fit 64 bits; the difference must be taken before the double. */
	unsigned __int128 a = 0, b = 0;
	for (size_t i = 0; i < n; i++) {
		a = a << 8 | r->start.raw[i];
		b = b << 8 | r->end.raw[i];
	}
	double size = (double)(b - a) + 1;
	if (r->gateway.family && hl_range_contains(r, &r->gateway))
		size -= 1;
	return size;
}

/* The pool of c that holds ip, or NULL. */
static struct hl_pool *pool_of(struct hl_pool *pools, const struct hl_conf *c,
			       const struct ip_addr *ip)
{
	for (size_t s = 0, k = 0; s < c->n_sets; s++)
		for (size_t i = 0; i < c->sets[s].n; i++, k++)
			if (hl_range_contains(&c->sets[s].ranges[i], ip))
				return &pools[k];
	return NULL;
}

int hl_pool_usage(const char *name, const cJSON *ipam, struct hl_pool **ret, size_t *ret_n,
		  struct cni_err *err)
{
	/* Only the netconf's own ranges: a pod's runtimeConfig.ipRanges is not a pool of it. */
	const struct cni_ctx ctx = { .name = name, .ipam = ipam, .version = CNI_V100 };
	_cleanup_(hl_conf_done) struct hl_conf c = { 0 };
	int r = hl_conf_parse(&ctx, &c, err);
	if (r < 0)
		return r;
	size_t n = 0;
	for (size_t s = 0; s < c.n_sets; s++)
		n += c.sets[s].n;
	_cleanup_free_ struct hl_pool *pools = xcalloc(n, sizeof(*pools));
	for (size_t s = 0, k = 0; s < c.n_sets; s++)
		for (size_t i = 0; i < c.sets[s].n; i++, k++)
			pools[k] =
				(struct hl_pool){ .subnet = c.sets[s].ranges[i].subnet,
						  .addresses = range_size(&c.sets[s].ranges[i]) };
	size_t dl = strlen(c.data_dir);
	_cleanup_free_ char *dir =
		xasprintf("%s%s%s", c.data_dir, c.data_dir[dl - 1] == '/' ? "" : "/", c.name);
	/* Never created here, and opened as the store is: no symlink hop, checked owners. */
	int dfd = safedir_open(dir, false, 0755, NULL);
	if (dfd == -ENOENT) {
		*ret = TAKE_PTR(pools);
		*ret_n = n;
		return 0;
	}
	if (dfd < 0)
		return cni_err_set(err, CNI_ERR_IO, -dfd, "ipam.dataDir: open '%s': %s", dir,
				   strerror(-dfd));
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		(void)close(dfd);
		return cni_err_set(err, CNI_ERR_IO, e, "ipam.dataDir: read '%s': %s", dir,
				   strerror(e));
	}
	/* One readdir, names only: as cheap as the store is large, never a walk of the range. */
	size_t seen = 0;
	struct dirent *de;
	while ((de = readdir(d)) && seen < HL_POOL_SCAN_MAX) {
		struct ip_addr ip;
		seen++;
		if (parse_ip(de->d_name, &ip) < 0)
			continue;
		struct hl_pool *p = pool_of(pools, &c, &ip);
		if (p)
			p->allocated++;
	}
	(void)closedir(d);
	if (seen == HL_POOL_SCAN_MAX)
		return cni_err_set(err, CNI_ERR_IO, EFBIG,
				   "ipam.dataDir: '%s' has %d entries or more", dir,
				   HL_POOL_SCAN_MAX);
	*ret = TAKE_PTR(pools);
	*ret_n = n;
	return 0;
}
