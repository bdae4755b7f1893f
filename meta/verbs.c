// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's DEL, CHECK, STATUS and GC, and its vtable. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"
#include "meta/meta.h"

/* The plan from the API, for what the intent log does not name: its attachments whose
 * interface p lacks move into p, all counted as attempted (DEL of what never ran is success).
 * What was planned before a failure moves too; the failure is returned. */
static int plan_from_api(struct plan *p, struct cni_err *err)
{
	struct plan api;
	int r = meta_plan_init(&api, p->ctx, err);
	if (r >= 0)
		r = meta_plan_annotations(&api, err);
	if (r >= 0)
		r = meta_plan_default(&api, err);
	if (r >= 0)
		r = meta_plan_secondary(&api, err);
	for (size_t i = 0; i < api.n_att; i++) {
		bool known = !api.att[i].list.json;
		for (size_t k = 0; k < p->n_att; k++)
			known |= strcmp(p->att[k].ifname, api.att[i].ifname) == 0;
		if (known)
			continue;
		struct attachment *a = meta_att_add(p, "", "", false);
		free(a->name);
		free(a->ifname);
		*a = api.att[i];
		memset(&api.att[i], 0, sizeof(api.att[i]));
		a->attempted = true;
	}
	meta_plan_done(&api);
	return r;
}

/* The plan DEL undoes: the intent log's; when it is missing or damaged, the API's; when that
 * fails too after damage, what can be found by convention (*ret_convention). A damaged log is
 * quarantined first, so it never blocks the next DEL. */
static void plan_for_del(struct plan *p, bool *ret_convention)
{
	struct cni_err le = { 0 };
	enum meta_intent st = meta_intent_load(p, &le);
	*ret_convention = false;
	if (st == META_INTENT_OK)
		return;
	if (st == META_INTENT_DAMAGED)
		meta_intent_quarantine(p, le.msg);
	struct cni_err e = { 0 };
	if (!kube_config_configured(p->conf.kubeconfig))
		/* Without Kubernetes the intent log is the only plan: one rebuilt from confDir
		 * could name what this container never had. */
		(void)cni_err_set(&e, CNI_ERR_INVALID_CONFIG, 0, "no API is configured");
	else if (plan_from_api(p, &e) >= 0)
		return;
	if (st == META_INTENT_DAMAGED) {
		log_warning("DEL: no plan from the API either (%s): undoing what the log still "
			    "names and the pod's links",
			    e.msg);
		*ret_convention = true;
	} else {
		/* No log means nothing was attempted (ADD writes it before any side effect). */
		log_info("DEL: no intent log and no plan from the API (%s): nothing to clean up",
			 e.msg);
	}
}

/* DEL and GC wait for a hot-plug of the pod to finish, but clean up even when the lock cannot
 * be taken: DEL always cleans. */
static void lock_or_warn(const struct plan *p, int *lock)
{
	struct cni_err e = { 0 };
	if (meta_lock(p, true, lock, &e) < 0)
		log_warning("%s, continuing without it", e.msg);
}

static int meta_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	_cleanup_close_ int lock = -1;
	int r = meta_plan_init(&p, ctx, err);
	if (r >= 0) {
		bool convention = false;
		lock_or_warn(&p, &lock);
		plan_for_del(&p, &convention);
		/* Every attachment is tried, the first failure reported (NPWG network-attachment
		 * spec: DEL of each network); what is already gone is success. */
		r = meta_undo_container(&p, convention, err);
		meta_lock_remove(&p, lock);
		meta_report_send(&p, "DEL");
		meta_events_sweep(&p);
	}
	meta_plan_done(&p);
	return r;
}

static int meta_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	int r = meta_plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	struct cni_err e = { 0 };
	switch (meta_intent_load(&p, &e)) {
	case META_INTENT_NONE: {
		_cleanup_free_ char *path = meta_intent_path(&p);
		r = cni_err_set(err, CNI_ERR_UNKNOWN_CONTAINER, ENOENT,
				"no intent log '%s' for this container", path);
		goto out;
	}
	case META_INTENT_DAMAGED:
		*err = e;
		r = -EBADMSG;
		goto out;
	case META_INTENT_OK:
		break;
	}
	for (size_t i = 0; r == 0 && i < p.n_att; i++) {
		if (!p.att[i].attempted)
			continue;
		struct dlg_rt rt = meta_att_rt(&p, &p.att[i]);
		int64_t t0 = clock_now_us();
		r = dlg_list_check(&p.att[i].list, &rt, p.att[i].result, err);
		meta_report_op(&p.att[i], t0, r, err);
		if (r < 0)
			(void)cni_err_wrap(err, "network '%s' (%s)", p.att[i].name,
					   p.att[i].ifname);
	}
	meta_report_send(&p, "CHECK");
out:
	meta_plan_done(&p);
	return r;
}

/* What STATUS checks of cniDir: ADD cannot record intent (so must not start) when it exists
 * but is not a writable directory. Quarantined logs are only reported: they never block. */
static int cni_dir_status(const struct plan *p, struct cni_err *err)
{
	const char *dir = p->conf.cni_dir;
	struct stat st;
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0; /* ADD creates it */
		return cni_err_set(err, CNI_ERR_NOT_AVAILABLE, errno, "cniDir '%s': %s", dir,
				   strerror(errno));
	}
	if (!S_ISDIR(st.st_mode) || access(dir, R_OK | W_OK | X_OK) < 0)
		return cni_err_set(err, CNI_ERR_NOT_AVAILABLE,
				   S_ISDIR(st.st_mode) ? errno : ENOTDIR,
				   "cniDir '%s': not a writable directory: intent logs cannot be "
				   "written",
				   dir);
	size_t n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t l = strlen(e->d_name), s = strlen(META_INTENT_CORRUPT);
		n += l > s && strcmp(e->d_name + l - s, META_INTENT_CORRUPT) == 0;
	}
	if (d)
		(void)closedir(d);
	if (n)
		log_warning(
			"cniDir '%s': %zu damaged intent log(s) kept as *%s: their containers' "
			"DEL fell back to the API plan; GC removes them once the containers are "
			"gone",
			dir, n, META_INTENT_CORRUPT);
	return 0;
}

/* STATUS: not ready until the readiness indicator exists; then cniDir must take intent logs
 * and the cluster network's plugins must be ready too (CNI SPEC.md, STATUS). */
static int meta_status(const struct cni_ctx *ctx, struct cni_err *err)
{
	struct plan p;
	int r = meta_plan_init(&p, ctx, err);
	if (r < 0)
		goto out;
	if ((r = meta_plan_ready(&p, CNI_ERR_NOT_AVAILABLE, err)) < 0 ||
	    (r = cni_dir_status(&p, err)) < 0)
		goto out;
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

/* Undo one stale container from its intent log (its netns is assumed gone). */
static int gc_container(const struct cni_ctx *ctx, const char *id, struct cni_err *err)
{
	struct plan stale;
	_cleanup_close_ int lock = -1;
	struct cni_ctx sctx = *ctx;
	sctx.container_id = id;
	sctx.netns_path = NULL;
	sctx.netns_fd = -1;
	int r = meta_plan_init(&stale, &sctx, err);
	if (r >= 0) {
		struct cni_err le = { 0 };
		lock_or_warn(&stale, &lock);
		bool damaged = meta_intent_load(&stale, &le) == META_INTENT_DAMAGED;
		if (damaged)
			meta_intent_quarantine(&stale, le.msg);
		r = meta_undo_container(&stale, damaged, err);
		meta_lock_remove(&stale, lock);
		meta_report_send(&stale, "GC");
	}
	meta_plan_done(&stale);
	if (r < 0)
		log_warning("GC: container '%s': %s", id, err->msg);
	else
		log_info("GC: removed the attachments of container '%s'", id);
	return r;
}

/* GC (CNI SPEC.md, GC): every intent log of a container not in cni.dev/valid-attachments is
 * undone, every attachment tried, and dropped; so are quarantined logs of such containers and
 * temp files whose writer is gone. Then the cluster network gets GC too. Keeps going and
 * reports the first failure. */
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
		_cleanup_free_ char *name = xstrdup(ents[i]->d_name);
		free(ents[i]);
		_cleanup_free_ char *path = xasprintf("%s/%s", p.conf.cni_dir, name);
		size_t l = strlen(name), c = strlen(META_INTENT_CORRUPT);
		pid_t pid = file_temp_pid(name, NULL);
		if (pid > 0) {
			if (file_temp_stale(pid) && unlink(path) == 0)
				log_info("GC: removed '%s' (its writer is gone)", path);
			continue;
		}
		if (l > 5 + c && strcmp(name + l - c, META_INTENT_CORRUPT) == 0) {
			name[l - c - 5] = '\0';
			if (!valid_container(ctx, name) && unlink(path) == 0)
				log_info("GC: removed '%s'", path);
			continue;
		}
		if (l <= 5 || strcmp(name + l - 5, ".json") != 0)
			continue;
		name[l - 5] = '\0';
		if (valid_container(ctx, name))
			continue;
		struct cni_err e = { 0 };
		if (gc_container(ctx, name, &e) < 0 && !first) {
			first = -EIO;
			*err = e;
			(void)cni_err_wrap(err, "container '%s'", name);
		}
	}
	free(ents);
	meta_events_sweep(&p);
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
	.top_level_only = true,
	.add = meta_add,
	.del = meta_del,
	.check = meta_check,
	.status = meta_status,
	.gc = meta_gc,
};
