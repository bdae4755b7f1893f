// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's one undo path, shared by ADD's rollback, DEL and GC: DEL every attempted
 * attachment, remove every device-info file, and what to do when no usable plan exists. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hostlocal/hostlocal.h"
#include "lib/cni/netns.h"
#include "lib/json/json.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"

static void keep_first(int r, const struct cni_err *e, int *first, struct cni_err *err)
{
	if (r < 0 && !*first) {
		*first = r;
		*err = *e;
	}
}

static void remove_device_info(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("remove device-info '%s': %s, ignoring", path, strerror(errno));
	/* A copy killed mid-write leaves "<file>.tmp.<pid>". */
	(void)file_unlink_temps(path, false);
}

struct link_names {
	bool temp_only;
	char **names;
	size_t n;
};

/* Inside the pod: every link but loopback (or only those under a temporary name: lib/net
 * creates links under one and renames them to the attachment's ifname, so a process killed in
 * between leaves one that the delegate's DEL may not find). */
static int list_links(void *arg, struct cni_err *err)
{
	struct link_names *l = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	struct nl_cache *cache = NULL;
	r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0)
		return net_err(err, r, "list the pod's links");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *link = (struct rtnl_link *)o;
		const char *name = rtnl_link_get_name(link);
		if ((rtnl_link_get_flags(link) & IFF_LOOPBACK) || !name ||
		    (l->temp_only && !net_tmp_ifname_is(name)))
			continue;
		l->names = xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
		l->names[l->n++] = xstrdup(name);
	}
	nl_cache_free(cache);
	return 0;
}

/* Retire the pod's links (all but loopback, or the temp-named ones) into the deletion batch. */
static int retire_links(int netns_fd, bool temp_only, struct cni_err *err)
{
	struct link_names l = { .temp_only = temp_only };
	struct cni_err e = { 0 };
	int first = 0;
	int r = cni_netns_run(netns_fd, list_links, &l, &e);
	keep_first(r, &e, &first, err);
	for (size_t i = 0; i < l.n; i++) {
		r = net_link_retire_in_netns(netns_fd, l.names[i], &e);
		if (r < 0)
			log_warning("link '%s': %s", l.names[i], e.msg);
		keep_first(r, &e, &first, err);
		free(l.names[i]);
	}
	free(l.names);
	return first;
}

/* Every host-local lease of container id in the stores under data_dir (one directory per
 * network), each under its lock as host-local takes it (hl_store_sweep). */
static void release_leases(const char *data_dir, const char *id)
{
	DIR *root = opendir(data_dir);
	for (struct dirent *n; root && (n = readdir(root));)
		if (n->d_name[0] != '.' && hl_store_sweep(data_dir, n->d_name, id) < 0)
			log_debug("leases of '%s' in '%s/%s': not swept", id, data_dir, n->d_name);
	if (root)
		(void)closedir(root);
}

/* No usable plan: the pod's netns is the container's and plexus its only network, so every
 * link in it but loopback is one of its attachments'; the container's device-info files carry
 * its ID in their names, and so do its leases in host-local's default store. Leases in a
 * dataDir only the lost config named cannot be found. */
static int undo_by_convention(struct plan *p, struct cni_err *err)
{
	int first = 0;
	if (p->ctx->netns_fd >= 0)
		first = retire_links(p->ctx->netns_fd, false, err);
	release_leases(HL_DEFAULT_DATA_DIR, p->ctx->container_id);
	_cleanup_free_ char *dir = xasprintf("%s/cni", p->conf.device_info_dir);
	_cleanup_free_ char *tag = xasprintf("-%s_", p->ctx->container_id);
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		if (strstr(e->d_name, tag) && unlinkat(dirfd(d), e->d_name, 0) == 0)
			log_info("removed device-info '%s/%s'", dir, e->d_name);
	if (d)
		(void)closedir(d);
	return first;
}

/* The host-local stores an attachment's plugins name: an exec'd reference host-local killed
 * between creating a lease and writing its owner leaves an empty lease its DEL never matches
 * (hl_store_sweep). Best effort: a store that cannot be swept is the plugin's to report. */
static void sweep_host_local(const struct attachment *a)
{
	const cJSON *pl;
	cJSON_ArrayForEach (pl, a->list.plugins) {
		const cJSON *ipam = json_get(pl, "ipam");
		const char *type = cJSON_GetStringValue(json_get(ipam, "type"));
		if (!type || strcmp(type, "host-local") != 0 || !a->list.name)
			continue;
		const char *dir = cJSON_GetStringValue(json_get(ipam, "dataDir"));
		int r = hl_store_sweep(dir && *dir ? dir : HL_DEFAULT_DATA_DIR, a->list.name, NULL);
		if (r < 0)
			log_debug("sweep the host-local store of '%s': %s, ignoring", a->name,
				  strerror(-r));
	}
}

/* DEL of one attachment's delegates with its cached result, then its host-local stores swept. */
static int undo_one(struct plan *p, struct attachment *a, struct cni_err *err)
{
	struct dlg_rt rt = meta_att_rt(p, a);
	int64_t t0 = clock_now_us();
	int r = dlg_list_del(&a->list, &rt, a->result, err);
	if (r >= 0)
		sweep_host_local(a);
	/* ADD's rollback is part of the ADD's report, not a DEL. */
	if (p->ctx->cmd != CNI_CMD_ADD)
		meta_report_op(a, t0, r, err);
	return r;
}

int meta_undo(struct plan *p, bool by_convention, struct cni_err *err)
{
	int first = 0;
	/* The built-ins' links are deleted together at the end: one kernel RCU wait for the pod
	 * instead of one each (net_del_batch_begin). */
	net_del_batch_begin(p->ctx->netns_fd);
	/* Only the log's first write is durable (docs/meta.md): after a power loss an attempt
	 * mark may be lost, and DEL of what never ran is success (CNI SPEC.md, "DEL"), so DEL and
	 * GC undo every entry of a log read back. ADD's rollback knows what it attempted. */
	bool all = p->ctx->cmd != CNI_CMD_ADD;
	/* Last first, in batches as ADD runs them (meta_batch_len), each batch on threads. */
	_cleanup_free_ size_t *idx = xmalloc((p->n_att ? p->n_att : 1) * sizeof(*idx));
	_cleanup_free_ struct meta_batch_out *out = xcalloc(p->n_att ? p->n_att : 1, sizeof(*out));
	size_t m = 0;
	for (size_t i = p->n_att; i-- > 0;)
		if (p->att[i].attempted || all)
			idx[m++] = i;
	for (size_t k = 0; k < m;) {
		size_t n = meta_batch_len(p, idx + k, m - k);
		meta_batch_run(p, idx + k, n, undo_one, false, out);
		k += n;
	}
	for (size_t i = p->n_att; i-- > 0;) {
		struct attachment *a = &p->att[i];
		/* Recorded before it was copied: it may exist even if nothing ran. */
		if (a->device_info_file)
			remove_device_info(a->device_info_file);
		if (out[i].r < 0) {
			log_warning("undo '%s' (%s): %s", a->name, a->ifname, out[i].err.msg);
			(void)cni_err_wrap(&out[i].err, "network '%s' (%s)", a->name, a->ifname);
			keep_first(out[i].r, &out[i].err, &first, err);
		}
	}
	struct cni_err ce = { 0 };
	if (by_convention)
		keep_first(undo_by_convention(p, &ce), &ce, &first, err);
	else if (p->ctx->netns_fd >= 0 && p->ctx->cmd == CNI_CMD_DEL)
		keep_first(retire_links(p->ctx->netns_fd, true, &ce), &ce, &first, err);
	struct cni_err e = { 0 };
	int r = net_del_batch_end(&e);
	if (r < 0)
		log_warning("delete the pod's links: %s", e.msg);
	keep_first(r, &e, &first, err);
	return first;
}

int meta_undo_container(struct plan *p, bool by_convention, struct cni_err *err)
{
	int r = meta_undo(p, by_convention, err);
	/* retryDeleteOnError: keep the log so the runtime's next DEL (or GC) tries again. */
	if (r == 0 || !p->conf.retry_delete_on_error)
		meta_intent_remove(p);
	return r;
}
