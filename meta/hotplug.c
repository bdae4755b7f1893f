// SPDX-License-Identifier: Apache-2.0
/* plexus --hotplug: reconcile a running pod's secondary networks with its networks annotation,
 * with ADD's delegates, IPAM, intent log and rollback (docs/hotplug.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json/json.h"
#include "lib/kube/pod.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"
#include "meta/networks.h"

/* A pod with this annotation "false" is never hot-plugged (docs/hotplug.md). */
#define HOTPLUG_ANNOTATION "plexus.io/hotplug"

/* The agent copies CNI_NETNS, CNI_ARGS and CNI_IFNAME from the intent log: anything else means
 * the log is not the one it read (another sandbox of the pod), and nothing may be attached. */
static int check_env(const struct plan *p, const struct attachment *def, cJSON **ret_networks,
		     struct cni_err *err)
{
	_cleanup_free_ char *path = meta_intent_path(p), *text = NULL;
	_cleanup_json_ cJSON *j = NULL;
	size_t len = 0;
	int r = file_read_all(path, CACHE_MAX, &text, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "intent log '%s': %s", path, strerror(-r));
	if ((r = json_parse(text, len, "intent log", &j, err)) < 0)
		return r;
	const char *netns = cJSON_GetStringValue(json_get(j, "netns"));
	const char *args = cJSON_GetStringValue(json_get(j, "cniArgs"));
	const struct cni_ctx *c = p->ctx;
	if (!netns || !*netns || !c->netns_path || strcmp(netns, c->netns_path) != 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "CNI_NETNS: not the netns of the intent log '%s'", path);
	if (!args || strcmp(args, c->args_raw ? c->args_raw : "") != 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "CNI_ARGS: not those of the intent log '%s'", path);
	if (!c->ifname || strcmp(def->ifname, c->ifname) != 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "CNI_IFNAME: not the cluster network's interface '%s'",
				   def->ifname);
	/* The annotation the log was planned from, kept until this hot-plug succeeds. */
	*ret_networks = cJSON_CreateObject();
	const char *nets = cJSON_GetStringValue(json_get(j, "networks"));
	if (nets)
		cJSON_AddStringToObject(*ret_networks, META_NETWORKS_ANNOTATION, nets);
	return 0;
}

static bool same_json(const cJSON *a, const cJSON *b)
{
	bool ea = !a || (cJSON_IsObject(a) && !a->child),
	     eb = !b || (cJSON_IsObject(b) && !b->child);
	if (ea || eb)
		return ea && eb;
	return cJSON_Compare(a, b, true);
}

/* Identity is (network, interface); changed options (the delegate list as it would run, its
 * capability arguments, default-route) make it another attachment: re-attached. */
static bool same_attachment(const struct attachment *a, const struct attachment *b)
{
	return a->is_default == b->is_default && strcmp(a->name, b->name) == 0 &&
	       strcmp(a->ifname, b->ifname) == 0 &&
	       cJSON_Compare(a->list.json, b->list.json, true) &&
	       same_json(a->cap_args, b->cap_args) && !a->default_route == !b->default_route;
}

/* Undo p->att[idx[0..n)] (the one undo path, on a view of p holding only them). */
static int undo_some(struct plan *p, const size_t *idx, size_t n, struct cni_err *err)
{
	if (n == 0)
		return 0;
	struct plan sub = *p;
	sub.att = xcalloc(n, sizeof(*sub.att));
	for (size_t i = 0; i < n; i++)
		sub.att[i] = p->att[idx[i]];
	sub.n_att = n;
	int r = meta_undo(&sub, false, err);
	free(sub.att);
	return r;
}

/* Drop p->att[idx[0..n)] (idx ascending) from the plan. */
static void drop(struct plan *p, const size_t *idx, size_t n)
{
	size_t k = 0, j = 0;
	for (size_t i = 0; i < p->n_att; i++) {
		if (j < n && idx[j] == i) {
			meta_att_done(&p->att[i]);
			j++;
		} else {
			p->att[k++] = p->att[i];
		}
	}
	p->n_att = k;
}

/* The pod is being deleted, or opted out: the runtime's DEL (or nobody) owns its networks. */
static bool leave_alone(const struct kube_pod *pod)
{
	const char *opt = kube_pod_annotation(pod, HOTPLUG_ANNOTATION);
	if (opt && strcmp(opt, "false") == 0) {
		log_info("pod '%s/%s' opted out of hot-plug (%s: \"false\")", pod->ns, pod->name,
			 HOTPLUG_ANNOTATION);
		return true;
	}
	if (json_get(json_get(pod->obj, "metadata"), "deletionTimestamp")) {
		log_info("pod '%s/%s' is being deleted: left to the runtime's DEL", pod->ns,
			 pod->name);
		return true;
	}
	return false;
}

/* cur: the intent log's plan (the pod's lock held); want: the annotation's, planned with cur's
 * devices kept. Detach what want lacks, then attach what cur lacks; a failed attach undoes
 * every attachment of this hot-plug and leaves the others as they were. */
static int apply(struct plan *cur, struct plan *want, char **ret_failed, struct cni_err *err)
{
	size_t n_cur = cur->n_att;
	_cleanup_free_ size_t *gone = xcalloc(n_cur + 1, sizeof(*gone));
	_cleanup_free_ size_t *fresh = xcalloc(want->n_att + 1, sizeof(*fresh));
	size_t n_gone = 0, n_fresh = 0;
	for (size_t i = 0; i < n_cur; i++) {
		bool kept = cur->att[i].is_default;
		for (size_t k = 0; !kept && k < want->n_att; k++)
			kept = same_attachment(&cur->att[i], &want->att[k]);
		if (!kept)
			gone[n_gone++] = i;
	}
	for (size_t k = 0; k < want->n_att; k++) {
		bool have = want->att[k].is_default;
		for (size_t i = 0; !have && i < n_cur; i++)
			have = same_attachment(&cur->att[i], &want->att[k]);
		if (!have)
			fresh[n_fresh++] = k;
	}
	/* The log keeps naming what is detached until it is gone: a crash in between leaves it
	 * to the runtime's DEL. */
	int r = undo_some(cur, gone, n_gone, err);
	if (r < 0)
		return cni_err_wrap(err, "hot-plug: detach");
	for (size_t i = 0; i < n_gone; i++)
		log_info("hot-plug: detached '%s' (%s)", cur->att[gone[i]].name,
			 cur->att[gone[i]].ifname);
	drop(cur, gone, n_gone);
	if (n_fresh == 0) {
		cur->annotations = want->annotations;
		return meta_intent_write(cur, false, err);
	}
	/* Recorded, durably, before any side effect of the new attachments. */
	size_t first = cur->n_att;
	for (size_t k = 0; k < n_fresh; k++) {
		struct attachment *w = &want->att[fresh[k]];
		struct attachment *a = meta_att_add(cur, w->name, w->ifname, false);
		free(a->name);
		free(a->ifname);
		*a = *w;
		memset(w, 0, sizeof(*w));
		a->attempted = false;
		fresh[k] = first + k;
	}
	bool route = false;
	r = meta_intent_write(cur, true, err);
	for (size_t k = 0; r >= 0 && k < n_fresh; k++) {
		r = meta_device_info_copy(&cur->att[fresh[k]], err);
		route |= cur->att[fresh[k]].default_route != NULL;
	}
	if (r >= 0)
		r = meta_attach(cur, fresh, n_fresh, err);
	if (r >= 0 && route)
		r = meta_default_route(cur, err);
	if (r >= 0) {
		cur->annotations = want->annotations;
		return meta_intent_write(cur, false, err);
	}
	/* Named in the pod's Warning; its attachment goes away below. */
	*ret_failed = cur->failed ? xstrdup(cur->failed) : NULL;
	cur->failed = NULL;
	struct cni_err ue = { 0 };
	if (undo_some(cur, fresh, n_fresh, &ue) < 0) {
		log_warning(
			"hot-plug rollback: %s; the intent log keeps them for the runtime's DEL",
			ue.msg);
		return r;
	}
	drop(cur, fresh, n_fresh);
	if (meta_intent_write(cur, false, &ue) < 0)
		log_warning("hot-plug rollback: %s, ignoring", ue.msg);
	return r;
}

static int reconcile(struct plan *cur, struct plan *want, struct cni_result **ret,
		     char **ret_failed, struct cni_err *err)
{
	_cleanup_close_ int lock = -1;
	/* Never wait behind the runtime's ADD or DEL: the agent comes back later. */
	int r = meta_lock(cur, false, &lock, err);
	if (r < 0)
		return r;
	struct cni_err le = { 0 };
	switch (meta_intent_load(cur, &le)) {
	case META_INTENT_NONE:
		/* No log: no pod here any more, or not yet; the lock file meta_lock made goes. */
		meta_lock_remove(cur, lock);
		return cni_err_set(err, CNI_ERR_UNKNOWN_CONTAINER, ENOENT,
				   "no intent log for this container: the runtime's ADD or DEL "
				   "owns it");
	case META_INTENT_DAMAGED:
		*err = le;
		return -EBADMSG;
	case META_INTENT_OK:
		break;
	}
	const struct attachment *def = NULL;
	for (size_t i = 0; i < cur->n_att && !def; i++)
		if (cur->att[i].is_default)
			def = &cur->att[i];
	if (!def)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "intent log: no cluster network attachment");
	_cleanup_json_ cJSON *planned = NULL;
	if ((r = check_env(cur, def, &planned, err)) < 0)
		return r;
	cur->annotations = planned;
	if ((r = meta_plan_init(want, cur->ctx, err)) < 0)
		return r;
	want->prior = cur;
	if (!want->pod_name)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "CNI_ARGS: no K8S_POD_NAME: a hot-plug needs the pod");
	if ((r = meta_plan_annotations(want, err)) < 0)
		return r;
	if (!want->pod)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "no API is configured: a hot-plug needs the pod's annotations");
	const char *uid = cni_ctx_arg(cur->ctx, "K8S_POD_UID");
	if (uid && *uid && want->pod->uid && strcmp(uid, want->pod->uid) != 0)
		return cni_err_set(err, CNI_ERR_UNKNOWN_CONTAINER, ESTALE,
				   "pod '%s/%s' is now uid '%s', not the container's '%s'",
				   want->pod_ns, want->pod_name, want->pod->uid, uid);
	if (!leave_alone(want->pod)) {
		/* The cluster network stays as it is; it only reserves its interface name. */
		(void)meta_att_add(want, def->name, def->ifname, true);
		r = meta_plan_secondary(want, err);
		if (r < 0)
			return r;
		r = apply(cur, want, ret_failed, err);
		/* network-status follows what is attached, also when a failed attach was rolled
		 * back after others were detached. */
		struct cni_err se = { 0 };
		int sr = 0;
		meta_patch_status(cur, &se, &sr);
		if (r >= 0 && sr < 0) {
			*err = se;
			r = sr;
		}
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cur->n_att; i++)
		if (cur->att[i].is_default && cur->att[i].result)
			*ret = cni_result_dup(cur->att[i].result);
	if (!*ret)
		*ret = cni_result_new();
	return 0;
}

/* One AddedInterface per attachment this hot-plug attached (its delegates ran, and passed). */
static void events_attached(struct plan *p)
{
	struct plan sub = *p;
	sub.att = xcalloc(p->n_att + 1, sizeof(*sub.att));
	sub.n_att = 0;
	for (size_t i = 0; i < p->n_att; i++)
		if (p->att[i].op_done && p->att[i].op_code == 0)
			sub.att[sub.n_att++] = p->att[i];
	meta_events_added(&sub);
	p->events_deadline = sub.events_deadline;
	free(sub.att);
}

/* plexus --hotplug's ADD (docs/hotplug.md); its Events are ADD's. */
static int hotplug(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct plan cur, want;
	memset(&want, 0, sizeof(want));
	int r = meta_plan_init(&cur, ctx, err);
	if (r >= 0) {
		_cleanup_free_ char *failed = NULL;
		r = reconcile(&cur, &want, ret, &failed, err);
		if (r < 0 && want.pod)
			meta_events_failed(&cur, failed ? failed : want.failed, err);
		else if (r >= 0)
			events_attached(&cur);
		meta_report_send(&cur, "ADD");
	}
	meta_plan_done(&want);
	meta_plan_done(&cur);
	return r;
}

const struct cni_plugin meta_hotplug_plugin = {
	.name = "plexus",
	.aliases = NULL,
	.versions = CNI_VERSIONS_ALL,
	.top_level_only = true,
	.add = hotplug,
};
