// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's DEL, CHECK, STATUS and GC, and its vtable. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json/json.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"
#include "meta/meta.h"

static int meta_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r = meta_plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	path = meta_intent_path(&p);
	r = file_read_all(path, CACHE_MAX, &text, NULL);
	if (r == 0) {
		r = meta_intent_read(&p, text, err);
	} else {
		/* No intent log: rebuild from the API; if that fails there is nothing we can
		 * name to clean up, and failing would only make the runtime retry forever. */
		struct cni_err e = { 0 };
		r = meta_plan_annotations(&p, &e);
		if (r >= 0)
			r = meta_plan_default(&p, &e);
		if (r >= 0)
			r = meta_plan_secondary(&p, &e);
		if (r < 0) {
			log_warning("DEL: no intent log '%s' and no plan from the API (%s): "
				    "nothing to clean up",
				    path, e.msg);
			r = 0;
			goto out;
		}
	}
	if (r < 0)
		goto out;
	/* NAD-22: try every attachment, report the first failure. The built-ins' links are
	 * deleted together at the end: one kernel RCU wait for the pod instead of one each. */
	int first = 0;
	net_del_batch_begin(ctx->netns_fd);
	for (size_t i = p.n_att; i-- > 0;) {
		struct attachment *a = &p.att[i];
		struct dlg_rt rt = meta_att_rt(&p, a);
		struct cni_err e = { 0 };
		int rr = dlg_list_del(&a->list, &rt, a->result, &e);
		if (a->device_info_file)
			(void)unlink(a->device_info_file);
		if (rr < 0) {
			log_warning("DEL '%s' (%s): %s", a->name, a->ifname, e.msg);
			if (!first) {
				first = rr;
				*err = e;
				(void)cni_err_wrap(err, "network '%s' (%s)", a->name, a->ifname);
			}
		}
	}
	struct cni_err e = { 0 };
	int rb = net_del_batch_end(&e);
	if (rb < 0) {
		log_warning("DEL: delete the pod's links: %s", e.msg);
		if (!first) {
			first = rb;
			*err = e;
		}
	}
	r = first;
	if (r == 0 || !p.conf.retry_delete_on_error)
		(void)unlink(path);
out:
	meta_plan_done(&p);
	return r;
}

static int meta_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r = meta_plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	path = meta_intent_path(&p);
	r = file_read_all(path, CACHE_MAX, &text, NULL);
	if (r < 0) {
		r = cni_err_set(err, CNI_ERR_UNKNOWN_CONTAINER, -r,
				"no intent log '%s' for this container", path);
		goto out;
	}
	r = meta_intent_read(&p, text, err);
	for (size_t i = 0; r == 0 && i < p.n_att; i++) {
		struct dlg_rt rt = meta_att_rt(&p, &p.att[i]);
		r = dlg_list_check(&p.att[i].list, &rt, p.att[i].result, err);
		if (r < 0)
			(void)cni_err_wrap(err, "network '%s' (%s)", p.att[i].name,
					   p.att[i].ifname);
	}
out:
	meta_plan_done(&p);
	return r;
}

/* STATUS: not ready until the readiness indicator exists (NAD-19); then the cluster network's
 * plugins must be ready too (CNI-36). */
static int meta_status(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	int r = meta_plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	const char *ready = p.conf.readiness_indicator_file;
	if (ready && access(ready, F_OK) < 0) {
		r = cni_err_set(err, CNI_ERR_NOT_AVAILABLE, ENOENT,
				"readinessindicatorfile '%s' does not exist", ready);
		goto out;
	}
	struct cni_err e = { 0 };
	r = meta_plan_default(&p, &e);
	if (r < 0) {
		r = cni_err_set(err, CNI_ERR_NOT_AVAILABLE, -r, "%s", e.msg);
		goto out;
	}
	struct dlg_rt rt = meta_global_rt(&p);
	r = dlg_list_status(&p.att[0].list, &rt, err);
out:
	meta_plan_done(&p);
	return r;
}

static bool valid_container(const struct cni_ctx *ctx, const char *id)
{
	for (size_t i = 0; i < ctx->n_valid_attachments; i++)
		if (strcmp(ctx->valid_attachments[i].container_id, id) == 0)
			return true;
	return false;
}

/* GC (CNI-41/42): every intent log of a container not in cni.dev/valid-attachments is undone
 * (its netns is assumed gone) and dropped; then the cluster network gets GC too. Keeps going
 * and reports the first failure. */
static int meta_gc(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	int r = meta_plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	int first = 0;
	struct dirent **ents = NULL;
	int n = scandir(p.conf.cni_dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *id = xstrdup(ents[i]->d_name);
		free(ents[i]);
		size_t l = strlen(id);
		if (l <= 5 || strcmp(id + l - 5, ".json") != 0)
			continue;
		id[l - 5] = '\0';
		if (valid_container(ctx, id))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s.json", p.conf.cni_dir, id);
		_cleanup_free_ char *text = NULL;
		struct plan stale;
		struct cni_ctx sctx = *ctx;
		sctx.container_id = id;
		sctx.netns_path = NULL;
		sctx.netns_fd = -1;
		struct cni_err e = { 0 };
		int rr = meta_plan_init(&stale, &sctx, &e);
		if (rr >= 0 && (rr = file_read_all(path, CACHE_MAX, &text, NULL)) >= 0)
			rr = meta_intent_read(&stale, text, &e);
		for (size_t k = stale.n_att; rr >= 0 && k-- > 0;) {
			struct attachment *a = &stale.att[k];
			struct dlg_rt rt = meta_att_rt(&stale, a);
			rr = dlg_list_del(&a->list, &rt, a->result, &e);
		}
		meta_plan_done(&stale);
		if (rr < 0) {
			log_warning("GC: container '%s': %s", id, e.msg);
			if (!first) {
				first = rr;
				*err = e;
			}
			continue;
		}
		(void)unlink(path);
		log_info("GC: removed the attachments of container '%s'", id);
	}
	free(ents);
	struct cni_err e = { 0 };
	if (meta_plan_default(&p, &e) >= 0) {
		struct dlg_rt rt = meta_global_rt(&p);
		const cJSON *valid = json_get(ctx->conf, "cni.dev/valid-attachments");
		if (!valid)
			valid = json_get(ctx->conf, "cni.dev/attachments");
		if (dlg_list_gc(&p.att[0].list, &rt, valid, &e) < 0 && !first) {
			first = -EIO;
			*err = e;
		}
	}
	r = first;
out:
	meta_plan_done(&p);
	return r;
}

static const char *const meta_aliases[] = { "multus", NULL };

const struct cni_plugin meta_plugin = {
	.name = "plexus",
	.aliases = meta_aliases,
	.versions = CNI_VERSIONS_ALL,
	.add = meta_add,
	.del = meta_del,
	.check = meta_check,
	.status = meta_status,
	.gc = meta_gc,
};
