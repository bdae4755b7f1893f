// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's ADD: attach in order, default route, network-status. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/netns.h"
#include "lib/json/json.h"
#include "lib/kube/pod.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "meta/internal.h"
#include "meta/meta.h"

void meta_patch_status(struct plan *p, struct cni_err *err, int *ret)
{
	if (!p->pod_name)
		return;
	_cleanup_json_ cJSON *atts = cJSON_CreateArray();
	for (size_t i = 0; i < p->n_att; i++)
		cJSON_AddItemToArray(atts, meta_att_json(&p->att[i]));
	_cleanup_json_ cJSON *status = meta_network_status(atts);
	_cleanup_free_ char *text = json_print(status);
	struct cni_err e = { 0 };
	int r = meta_kube(p, &e);
	if (r == META_NO_API)
		return; /* no pod object to write it to */
	if (r >= 0)
		r = kube_pod_status_patch_network_status(p->kube, p->pod_ns, p->pod_name, text, &e);
	if (r < 0) {
		if (p->conf.fail_on_status_error) {
			*err = e;
			*ret = r;
			return;
		}
		log_warning("network-status of pod '%s/%s' not written: %s, ignoring", p->pod_ns,
			    p->pod_name, e.msg);
	}
}

struct default_route_args {
	const char *ifname;
	const struct ip_addr *gws;
	size_t n;
};

/* Inside the pod: drop every default route of the gateways' families, then add one via each
 * gateway on ifname, in order (the first has the lowest metric). */
static int default_route_in_pod(void *arg, struct cni_err *err)
{
	struct default_route_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(a->ifname, &sk, &link, err);
	if (r < 0)
		return r;
	bool done[2] = { false, false };
	for (size_t i = 0; i < a->n; i++) {
		int v6 = a->gws[i].family == AF_INET6;
		if (!done[v6] && (r = net_route_del_default(sk, a->gws[i].family, err)) < 0)
			return r;
		done[v6] = true;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct cni_route rt = { .gw = a->gws[i],
					.has = CNI_ROUTE_HAS_PRIORITY,
					.priority = (uint32_t)i };
		rt.dst.ip.family = a->gws[i].family;
		r = net_route_add(sk, rtnl_link_get_ifindex(link), &rt, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* NPWG network-attachment spec, default-route: the attachment whose selection carries default-route
 * gets the pod's default route via its gateways (the listed ones, or its IPAM gateways when the
 * list is empty); every other attachment loses its default routes of those families, in the pod and
 * in the cached results so CHECK and DEL stay consistent. */
int meta_default_route(struct plan *p, struct cni_err *err)
{
	struct attachment *chosen = NULL;
	for (size_t i = 0; i < p->n_att; i++)
		if (p->att[i].default_route)
			chosen = &p->att[i];
	if (!chosen)
		return 0;
	_cleanup_free_ struct ip_addr *gws = NULL;
	size_t n = 0;
	const cJSON *g;
	cJSON_ArrayForEach (g, chosen->default_route) {
		gws = xrealloc(gws, (n + 1) * sizeof(*gws));
		if (parse_ip(g->valuestring, &gws[n]) == 0)
			n++;
	}
	for (size_t i = 0; n == 0 && chosen->result && i < chosen->result->n_ips; i++) {
		if (!chosen->result->ips[i].gateway.family)
			continue;
		gws = xrealloc(gws, (n + 1) * sizeof(*gws));
		gws[n++] = chosen->result->ips[i].gateway;
	}
	if (n == 0)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"network '%s': default-route without a gateway, and its IPAM gave "
			"none",
			chosen->name);
	/* network-status reports the gateways in use. */
	cJSON_Delete(chosen->default_route);
	chosen->default_route = cJSON_CreateArray();
	for (size_t j = 0; j < n; j++) {
		char buf[IP_STR_LEN];
		format_ip(&gws[j], buf);
		cJSON_AddItemToArray(chosen->default_route, cJSON_CreateString(buf));
	}
	struct default_route_args a = { .ifname = chosen->ifname, .gws = gws, .n = n };
	int r = cni_netns_run(p->ctx->netns_fd, default_route_in_pod, &a, err);
	if (r < 0)
		return cni_err_wrap(err, "network '%s': default-route", chosen->name);
	for (size_t i = 0; i < p->n_att; i++) {
		struct cni_result *res = p->att[i].result;
		for (size_t k = 0; res && k < res->n_routes;) {
			bool same_family = false;
			for (size_t j = 0; j < n; j++)
				same_family |= res->routes[k].dst.ip.family == gws[j].family;
			if (res->routes[k].dst.prefix == 0 && same_family) {
				memmove(&res->routes[k], &res->routes[k + 1],
					(res->n_routes - k - 1) * sizeof(res->routes[0]));
				res->n_routes--;
			} else {
				k++;
			}
		}
	}
	for (size_t j = 0; chosen->result && j < n; j++) {
		struct cni_route rt = { .gw = gws[j] };
		rt.dst.ip.family = gws[j].family;
		cni_result_add_route(chosen->result, &rt);
	}
	return 0;
}

static int attach_one(struct plan *p, struct attachment *a, struct cni_err *err)
{
	struct dlg_rt rt = meta_att_rt(p, a);
	int64_t t0 = clock_now_us();
	int r = dlg_list_add(&a->list, &rt, &a->result, err);
	meta_report_op(a, t0, r, err);
	if (r < 0)
		return cni_err_wrap(err, "network '%s' (%s)", a->name, a->ifname);
	log_info("attached '%s' as '%s'", a->name, a->ifname);
	return 0;
}

int meta_attach(struct plan *p, const size_t *idx, size_t n_idx, struct cni_err *err)
{
	_cleanup_free_ struct meta_batch_out *out = xcalloc(p->n_att ? p->n_att : 1, sizeof(*out));
	for (size_t i = 0; i < n_idx;) {
		size_t n = meta_batch_len(p, idx + i, n_idx - i);
		for (size_t k = i; k < i + n; k++)
			p->att[idx[k]].attempted = true;
		int r = meta_intent_write(p, false, err);
		if (r < 0)
			return r;
		meta_batch_run(p, idx + i, n, attach_one, true, out);
		for (size_t k = i; k < i + n; k++) {
			struct attachment *a = &p->att[idx[k]];
			/* Never started: nothing of it to undo. */
			a->attempted = out[idx[k]].ran;
			if (out[idx[k]].ran && out[idx[k]].r < 0 && r == 0) {
				r = out[idx[k]].r;
				*err = out[idx[k]].err;
				p->failed = a->name;
			}
		}
		if (r < 0)
			return r;
		i += n;
	}
	return 0;
}

static void rollback(struct plan *p)
{
	struct cni_err e = { 0 };
	if (meta_undo(p, false, &e) < 0) {
		log_warning("rollback: %s; the intent log stays for the runtime's DEL", e.msg);
		return;
	}
	meta_intent_remove(p);
}

int meta_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	struct plan p;
	_cleanup_close_ int lock = -1;
	_cleanup_free_ size_t *idx = NULL;
	int r = meta_plan_init(&p, ctx, err);
	/* A netconf that does not parse names no API to report to. */
	bool report = r >= 0;
	if (r < 0)
		goto out;
	if ((r = meta_plan_ready(&p, CNI_ERR_TRY_AGAIN, err)) < 0 ||
	    (r = meta_lock(&p, true, &lock, err)) < 0)
		goto out;
	/* Planning has no side effect; from the first intent-log write on, a failure undoes
	 * everything the log records. */
	if ((r = meta_plan_annotations(&p, err)) < 0 || (r = meta_plan_default(&p, err)) < 0 ||
	    (r = meta_plan_secondary(&p, err)) < 0)
		goto out;
	/* Even a failed write may have left the log (a directory fsync failing after the rename).
	 */
	if ((r = meta_intent_write(&p, true, err)) < 0)
		goto fail;
	for (size_t i = 0; i < p.n_att; i++)
		if ((r = meta_device_info_copy(&p.att[i], err)) < 0)
			goto fail;
	idx = xmalloc(p.n_att * sizeof(*idx));
	for (size_t i = 0; i < p.n_att; i++)
		idx[i] = i;
	if ((r = meta_attach(&p, idx, p.n_att, err)) < 0)
		goto fail;
	if ((r = meta_default_route(&p, err)) < 0 || (r = meta_intent_write(&p, false, err)) < 0)
		goto fail;
	meta_patch_status(&p, err, &r);
	if (r < 0)
		goto fail;
	meta_claims_status(&p);
	meta_events_added(&p);
	/* The runtime gets the cluster network's result (NPWG network-attachment spec). */
	*ret = TAKE_PTR(p.att[0].result);
	goto out;
fail:
	/* Stop and undo every attempted attachment, the failing one included (NPWG
	 * network-attachment spec). */
	rollback(&p);
out:
	/* A failed ADD that left no intent log leaves no lock file either. */
	if (r < 0)
		meta_lock_remove(&p, lock);
	if (r < 0 && report)
		meta_events_failed(&p, p.failed, err);
	if (report)
		meta_report_send(&p, "ADD");
	meta_plan_done(&p);
	return r;
}
