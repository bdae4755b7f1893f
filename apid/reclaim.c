// SPDX-License-Identifier: Apache-2.0
/* The whereabouts reconciler of plexus-apid: releases pool allocations whose pod is gone, from
 * a complete, fresh LIST and after a grace period (docs/ipam-reclaim.md). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apid/reclaim.h"
#include "apid/reclaim_lease.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/list.h"
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "whereabouts/internal.h"

/* Bounds of one round: never a cluster-wide flood. */
#define POOLS_MAX 1000
#define TRACK_MAX 10000 /* candidates whose first sighting is kept */
#define RELEASES_MAX 50 /* releases per round; the rest wait for the next one */
#define PUT_TRIES 5	/* pool writes per release before it waits for the next round */

enum why {
	WHY_NONE = -1,
	WHY_GONE,
	WHY_REPLACED
};
static const char *const why_label[] = { "pod-gone", "pod-replaced" };

/* One IPPool of this round's LIST. */
struct pool {
	char name[WB_NAME_MAX];
	char *network_name; /* owned; the prefix of the pool's name, NULL when none */
	struct wb_range r;
	struct wb_pool p;
};

/* A candidate for release: an allocation of a gone pod (pool >= 0) or a journal entry of
 * this node whose pod is gone or replaced (entry >= 0). */
struct cand {
	char *key; /* owned; the same candidate has the same key in every round */
	int64_t first_ms;
	ssize_t pool, entry;
	size_t alloc;
	enum why why;
};

/* The pods of a LIST: "ns/name" and UIDs, each sorted for bsearch. */
struct pods {
	char **refs, **uids;
	size_t n_refs, n_uids;
};

struct rc {
	struct apid_reclaim_opts o;
	struct kube_config *cfg; /* owned */
	long timeout_ms;
	char ns[WB_NAME_MAX];
	uint64_t seed;	    /* back-off jitter */
	struct cand *track; /* sorted by key: the candidates of the last round */
	size_t n_track;
	struct reclaim_lease lease;
	bool leader;
	struct metrics_family *released, *rounds;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has(char **v, size_t n, const char *s)
{
	return n && bsearch(&s, v, n, sizeof(*v), cmp_str);
}

static void pods_done(struct pods *p)
{
	for (size_t i = 0; i < p->n_refs; i++)
		free(p->refs[i]);
	for (size_t i = 0; i < p->n_uids; i++)
		free(p->uids[i]);
	free(p->refs);
	free(p->uids);
	memset(p, 0, sizeof(*p));
}

static void pools_free(struct pool *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].network_name);
		wb_range_done(&v[i].r);
		wb_pool_done(&v[i].p);
	}
	free(v);
}

static void cands_free(struct cand *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}

static void entries_free(struct wb_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wb_entry_done(&v[i]);
	free(v);
}

static int request(struct rc *rc, const char *method, const char *path, const cJSON *body,
		   char **ret, size_t *ret_len, struct cni_err *err)
{
	rc->cfg->timeout_ms = rc->timeout_ms;
	return kube_request_json(rc->cfg, method, path, body, ret, ret_len, err);
}

/* ---- what the API holds ---------------------------------------------------------------- */

/* Decode one listed IPPool; false (logged) for one that is not a whereabouts pool we read. */
static bool pool_decode(const cJSON *item, struct pool *ret)
{
	struct cni_err err = { 0 };
	const char *name = cJSON_GetStringValue(json_get(json_get(item, "metadata"), "name"));
	const char *range = cJSON_GetStringValue(json_get(json_get(item, "spec"), "range"));
	if (!name || !range || strlen(name) >= WB_NAME_MAX)
		return false;
	*ret = (struct pool){ 0 };
	_cleanup_json_ cJSON *ro = cJSON_CreateObject();
	cJSON_AddStringToObject(ro, "range", range);
	if (wb_range_parse(ro, "spec", &ret->r, &err) < 0 ||
	    wb_pool_decode_obj(cJSON_Duplicate(item, true), &ret->r, &ret->p, &err) < 0) {
		log_debug("reclaim: IPPool '%s' skipped: %s", name, err.msg);
		wb_range_done(&ret->r);
		return false;
	}
	(void)snprintf(ret->name, sizeof(ret->name), "%s", name);
	/* The name is "<network_name>-<range>" when the NAD sets network_name; a node slice's
	 * (labelled with its node) "[<network_name>-]<node>-<range>". */
	char base[WB_NAME_MAX];
	size_t nl = strlen(name), bl;
	if (wb_pool_name(&ret->r, NULL, base) == 0 && strcmp(base, name) != 0 &&
	    nl > (bl = strlen(base)) + 1 && !strcmp(name + nl - bl, base) &&
	    name[nl - bl - 1] == '-')
		ret->network_name = xstrndup(name, nl - bl - 1);
	const char *node = cJSON_GetStringValue(
		json_get(json_get(json_get(item, "metadata"), "labels"), WB_SLICE_LABEL));
	size_t pl = ret->network_name ? strlen(ret->network_name) : 0,
	       ndl = node ? strlen(node) : 0;
	if (node && pl == ndl && !strcmp(ret->network_name, node)) {
		free(ret->network_name);
		ret->network_name = NULL;
	} else if (node && pl > ndl + 1 && !strcmp(ret->network_name + pl - ndl, node) &&
		   ret->network_name[pl - ndl - 1] == '-') {
		ret->network_name[pl - ndl - 1] = '\0';
	}
	return true;
}

static int list_pools(struct rc *rc, struct pool **ret, size_t *ret_n, struct cni_err *err)
{
	_cleanup_free_ char *path =
		xasprintf("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/%s/ippools", rc->ns);
	_cleanup_json_ cJSON *items = NULL;
	_cleanup_free_ char *rv = NULL;
	rc->cfg->timeout_ms = rc->timeout_ms;
	int r = kube_list(rc->cfg, path, NULL, POOLS_MAX, &items, &rv, err);
	if (r < 0)
		return r;
	struct pool *v = xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(*v));
	size_t n = 0;
	const cJSON *it;
	cJSON_ArrayForEach (it, items)
		if (pool_decode(it, &v[n]))
			n++;
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Every pod (or this node's: sel), complete: kube_list fails rather than return part of it. */
static int list_pods(struct rc *rc, bool all, struct pods *ret, struct cni_err *err)
{
	_cleanup_free_ char *field = xasprintf("spec.nodeName=%s", rc->o.node);
	_cleanup_json_ cJSON *items = NULL;
	_cleanup_free_ char *rv = NULL;
	rc->cfg->timeout_ms = rc->timeout_ms;
	int r = kube_list(rc->cfg, "/api/v1/pods",
			  &(struct kube_selectors){ .field = all ? NULL : field }, 0, &items, &rv,
			  err);
	if (r < 0)
		return r;
	size_t n = (size_t)cJSON_GetArraySize(items);
	*ret = (struct pods){ .refs = xcalloc(n + 1, sizeof(char *)),
			      .uids = xcalloc(n + 1, sizeof(char *)) };
	const cJSON *it;
	cJSON_ArrayForEach (it, items) {
		const cJSON *m = json_get(it, "metadata");
		const char *ns = cJSON_GetStringValue(json_get(m, "namespace"));
		const char *name = cJSON_GetStringValue(json_get(m, "name"));
		const char *uid = cJSON_GetStringValue(json_get(m, "uid"));
		/* Whatever its phase: a Succeeded or Failed pod's sandbox may still hold its
		 * address until kubelet's DEL. */
		if (ns && name)
			ret->refs[ret->n_refs++] = xasprintf("%s/%s", ns, name);
		if (uid && *uid)
			ret->uids[ret->n_uids++] = xstrdup(uid);
	}
	qsort(ret->refs, ret->n_refs, sizeof(char *), cmp_str);
	qsort(ret->uids, ret->n_uids, sizeof(char *), cmp_str);
	return 0;
}

/* ---- releasing ------------------------------------------------------------------------- */

/* Delete the reservation of ip if it is still (id, podref)'s: a DELETE on its
 * resourceVersion, so one rewritten meanwhile stays. */
static int release_orip(struct rc *rc, const struct ip_addr *ip, const char *network_name,
			const char *id, const char *podref, struct cni_err *err)
{
	char name[WB_NAME_MAX];
	if (wb_orip_name(ip, network_name, name) < 0)
		return 0;
	_cleanup_free_ char *path =
		xasprintf("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/%s/"
			  "overlappingrangeipreservations/%s",
			  rc->ns, name);
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	int r = request(rc, "GET", path, NULL, &body, &len, err);
	if (r == -ENOENT)
		return 0;
	_cleanup_json_ cJSON *o = NULL;
	const char *cid, *cref, *cif;
	if (r < 0 || (r = wb_orip_decode(body, len, &o, &cid, &cref, &cif, err)) < 0)
		return r;
	if (strcmp(cid, id) != 0 || (podref && *cref && strcmp(cref, podref) != 0))
		return 0;
	const char *rv = kube_object_rv(o);
	_cleanup_json_ cJSON *opts = cJSON_CreateObject();
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	if (rv)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"),
					"resourceVersion", rv);
	r = request(rc, "DELETE", path, opts, NULL, NULL, err);
	if (r == -ENOENT || r == -EBUSY)
		return 0; /* gone, or rewritten: not ours to delete any more */
	if (r == 0)
		log_info("reclaim: deleted OverlappingRangeIPReservation '%s' of container '%s'",
			 name, id);
	return r;
}

static int pool_get(struct rc *rc, const struct pool *pl, struct wb_pool *ret, struct cni_err *err)
{
	_cleanup_free_ char *path =
		xasprintf("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/%s/ippools/%s", rc->ns,
			  pl->name);
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	int r = request(rc, "GET", path, NULL, &body, &len, err);
	return r < 0 ? r : wb_pool_decode(body, len, &pl->r, ret, err);
}

/* PUT p back on the resourceVersion it was read at: -EBUSY when it changed meanwhile. */
static int pool_put(struct rc *rc, const struct pool *pl, const struct wb_pool *p,
		    struct cni_err *err)
{
	_cleanup_free_ char *path =
		xasprintf("/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/%s/ippools/%s", rc->ns,
			  pl->name);
	return request(rc, "PUT", path, p->obj, NULL, NULL, err);
}

/* A jittered pause after conflict n (xorshift64: jitter only, not a secret). */
static void backoff(struct rc *rc, unsigned n)
{
	rc->seed ^= rc->seed << 13;
	rc->seed ^= rc->seed >> 7;
	rc->seed ^= rc->seed << 17;
	long cap = 10L << n;
	long ms = cap / 2 + (long)(rc->seed % (uint64_t)cap);
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Release the allocation at offset of pool pl if it is still (id, podref, ifname)'s (podref
 * NULL: any): 1 released, 0 not there any more, < 0 error. */
static int release_alloc(struct rc *rc, const struct pool *pl, uint64_t offset, const char *id,
			 const char *podref, const char *ifname, enum why why, struct cni_err *err)
{
	struct ip_addr ip;
	char ips[IP_STR_LEN];
	if (wb_ip_add(&pl->r.net.ip, offset, &ip) < 0)
		return 0;
	format_ip(&ip, ips);
	for (unsigned attempt = 0; attempt < PUT_TRIES; attempt++) {
		_cleanup_(wb_pool_done) struct wb_pool p = { 0 };
		int r = pool_get(rc, pl, &p, err);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		const struct wb_alloc *al = NULL;
		for (size_t i = 0; i < p.n; i++)
			if (p.allocs[i].offset == offset)
				al = &p.allocs[i];
		/* Re-read: released by DEL meanwhile, or the address now someone else's. */
		if (!al || !al->valid || strcmp(al->id, id) != 0 ||
		    strcmp(al->ifname, ifname) != 0 ||
		    (podref && strcmp(al->podref, podref) != 0)) {
			log_debug("reclaim: %s in IPPool '%s' changed since the LIST, kept", ips,
				  pl->name);
			return 0;
		}
		_cleanup_free_ char *ref = xstrdup(al->podref);
		wb_pool_unset(&p, offset);
		r = pool_put(rc, pl, &p, err);
		if (r == -EBUSY) {
			backoff(rc, attempt);
			continue;
		}
		if (r < 0)
			return r;
		log_info("reclaim: released %s of IPPool '%s' (pod '%s', container '%s', ifname "
			 "'%s'): %s",
			 ips, pl->name, ref, id, ifname,
			 why == WHY_GONE ? "no such pod in the LIST for the grace period"
					 : "the pod of this sandbox was deleted or replaced");
		metrics_add(rc->released, 1, why_label[why]);
		return 1;
	}
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, EBUSY,
			   "IPPool '%s': still conflicting after %d attempts", pl->name, PUT_TRIES);
}

static bool pool_holds(const struct pool *pl, const struct ip_addr *ip, uint64_t *ret)
{
	struct ip_net n = { .ip = *ip, .prefix = pl->r.net.prefix };
	ip_net_mask(&n);
	return ip->family == pl->r.net.ip.family && ip_addr_equal(&n.ip, &pl->r.net.ip) &&
	       wb_ip_offset(&pl->r.net.ip, ip, ret) == 0;
}

/* Release what journal entry e holds in the pools and reservations, then drop the entry. */
static int release_entry(struct rc *rc, int dfd, const struct wb_entry *e, struct pool *pools,
			 size_t n_pools, enum why why, struct cni_err *err)
{
	const char *ref = *e->podref ? e->podref : NULL;
	for (size_t i = 0; i < e->n_ips; i++) {
		for (size_t k = 0; k < n_pools; k++) {
			uint64_t off;
			if (!pool_holds(&pools[k], &e->ips[i], &off))
				continue;
			int r = release_alloc(rc, &pools[k], off, e->container_id, ref, e->ifname,
					      why, err);
			if (r < 0 || (r = release_orip(rc, &e->ips[i], pools[k].network_name,
						       e->container_id, ref, err)) < 0)
				return r;
		}
	}
	wb_journal_remove(dfd, e->container_id, e->ifname);
	log_info("reclaim: node journal entry of container '%s' ifname '%s' (pod '%s') done",
		 e->container_id, e->ifname, e->podref);
	return 0;
}

/* ---- one round ------------------------------------------------------------------------- */

static int cmp_cand(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->key, ((const struct cand *)b)->key);
}

/* Add candidate key (owned) to v, its first sighting carried over from the last round. */
static void cand_add(struct rc *rc, struct cand **v, size_t *n, char *key, struct cand c)
{
	if (*n >= TRACK_MAX) {
		free(key);
		return;
	}
	struct cand probe = { .key = key };
	const struct cand *old =
		rc->n_track ? bsearch(&probe, rc->track, rc->n_track, sizeof(*rc->track), cmp_cand)
			    : NULL;
	c.key = key;
	c.first_ms = old ? old->first_ms : clock_now_ms();
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = c;
}

static void round_run(struct rc *rc, unsigned round)
{
	struct cni_err err = { 0 };
	rc->cfg->timeout_ms = rc->timeout_ms;
	bool leader = reclaim_lease_hold(&rc->lease);
	if (leader != rc->leader)
		log_info("reclaim: %s the cluster-wide part (Lease '%s')",
			 leader ? "running" : "no longer running", LEASE_NAME);
	rc->leader = leader;
	/* Read what holds addresses first (the journal, and the pools for the cluster-wide part),
	 * then the pods: an allocation read here was made for a pod that existed before the LIST,
	 * so the LIST has it unless it was deleted. */
	_cleanup_close_ int dfd = wb_journal_open(&err);
	struct wb_entry *ents = NULL;
	size_t n_ents = 0;
	if (dfd < 0 || wb_journal_list(dfd, NULL, &ents, &n_ents) < 0) {
		log_warning("reclaim: round %u skipped: node journal: %s", round,
			    dfd < 0 ? err.msg : "unreadable");
		metrics_add(rc->rounds, 1, "skipped");
		return;
	}
	struct pool *pools = NULL;
	size_t n_pools = 0;
	struct pods pods = { 0 };
	int r = 0;
	if (leader && (r = list_pools(rc, &pools, &n_pools, &err)) < 0)
		log_warning("reclaim: round %u skipped: IPPool LIST failed: %s", round, err.msg);
	else if ((r = list_pods(rc, leader, &pods, &err)) < 0)
		log_warning("reclaim: round %u skipped: pod LIST failed: %s", round, err.msg);
	if (r < 0) {
		/* Nothing is known about this round: the candidates keep their first sighting,
		 * none is released. */
		entries_free(ents, n_ents);
		pools_free(pools, n_pools);
		metrics_add(rc->rounds, 1, "skipped");
		return;
	}
	struct cand *next = NULL;
	size_t n_next = 0;
	for (size_t k = 0; leader && k < n_pools; k++)
		for (size_t i = 0; i < pools[k].p.n; i++) {
			const struct wb_alloc *al = &pools[k].p.allocs[i];
			if (!al->valid || !strchr(al->podref, '/') ||
			    has(pods.refs, pods.n_refs, al->podref))
				continue;
			cand_add(rc, &next, &n_next,
				 xasprintf("a\t%s\t%llu\t%s\t%s\t%s", pools[k].name,
					   (unsigned long long)al->offset, al->id, al->ifname,
					   al->podref),
				 (struct cand){ .pool = (ssize_t)k, .entry = -1, .alloc = i });
		}
	for (size_t i = 0; i < n_ents; i++) {
		const struct wb_entry *e = &ents[i];
		bool named = has(pods.refs, pods.n_refs, e->podref);
		/* By UID when the ADD recorded it; else only "no pod of that name" counts. */
		enum why why = WHY_NONE;
		if (e->pod_uid && !has(pods.uids, pods.n_uids, e->pod_uid))
			why = named ? WHY_REPLACED : WHY_GONE;
		else if (!e->pod_uid && *e->podref && !named)
			why = WHY_GONE;
		if (why == WHY_NONE)
			continue;
		cand_add(rc, &next, &n_next,
			 xasprintf("j\t%s\t%s\t%s", e->container_id, e->ifname,
				   e->pod_uid ? e->pod_uid : e->podref),
			 (struct cand){ .pool = -1, .entry = (ssize_t)i, .why = why });
	}
	if (n_next)
		qsort(next, n_next, sizeof(*next), cmp_cand);
	cands_free(rc->track, rc->n_track);
	rc->track = next;
	rc->n_track = n_next;
	unsigned released = 0, due = 0;
	int64_t now = clock_now_ms();
	/* A journal entry names addresses, not pools: off the Lease holder, the pools are read
	 * only when one is due (every node listing them every round would be a flood). The
	 * release re-reads and re-checks each pool anyway. */
	bool want = false;
	size_t n_rel = n_next;
	for (size_t i = 0; !leader && i < n_next; i++)
		want |= next[i].entry >= 0 && now - next[i].first_ms >= rc->o.grace_s * 1000;
	if (want && list_pools(rc, &pools, &n_pools, &err) < 0) {
		log_warning("reclaim: round %u: no release: IPPool LIST failed: %s", round,
			    err.msg);
		n_rel = 0;
	}
	for (size_t i = 0; i < n_rel && due < RELEASES_MAX; i++) {
		struct cand *c = &next[i];
		if (now - c->first_ms < rc->o.grace_s * 1000)
			continue;
		due++;
		if (c->pool >= 0) {
			const struct pool *pl = &pools[c->pool];
			const struct wb_alloc *al = &pl->p.allocs[c->alloc];
			struct ip_addr ip;
			r = release_alloc(rc, pl, al->offset, al->id, al->podref, al->ifname,
					  WHY_GONE, &err);
			if (r == 1 && wb_ip_add(&pl->r.net.ip, al->offset, &ip) == 0)
				r = release_orip(rc, &ip, pl->network_name, al->id, al->podref,
						 &err);
		} else {
			r = release_entry(rc, dfd, &ents[c->entry], pools, n_pools, c->why, &err);
		}
		if (r < 0)
			log_warning("reclaim: release failed, retried next round: %s", err.msg);
		else
			released++;
	}
	log_debug("reclaim: round %u: %zu IPPool(s), %zu journal entr%s, %zu pod(s), %zu "
		  "candidate(s), %u due, %u released%s",
		  round, n_pools, n_ents, n_ents == 1 ? "y" : "ies", pods.n_refs, n_next, due,
		  released, leader ? " (cluster-wide)" : " (this node)");
	metrics_add(rc->rounds, 1, "done");
	pods_done(&pods);
	pools_free(pools, n_pools);
	entries_free(ents, n_ents);
}

static void *reclaim_thread(void *arg)
{
	struct rc *rc = arg;
	for (unsigned round = 1;; round++) {
		round_run(rc, round);
		struct timespec ts = { .tv_sec = rc->o.interval_s };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

int apid_reclaim_check(const struct apid_reclaim_opts *o)
{
	if (!o->node || !*o->node) {
		fprintf(stderr,
			"plexus-apid: --whereabouts-reclaim needs --node-name or NODE_NAME\n");
		return -EINVAL;
	}
	if (!kube_dns1123_subdomain(o->node)) {
		fprintf(stderr, "plexus-apid: --node-name: '%.64s' is not a valid node name\n",
			o->node);
		return -EINVAL;
	}
	if (o->ns && !kube_dns1123_label(o->ns)) {
		fprintf(stderr,
			"plexus-apid: --reclaim-namespace: '%.64s' is not a valid namespace\n",
			o->ns);
		return -EINVAL;
	}
	return 0;
}

int apid_reclaim_start(const struct apid_reclaim_opts *o, struct metrics *reg, struct cni_err *err)
{
	struct rc *rc = xcalloc(1, sizeof(*rc));
	rc->o = *o;
	int r = kube_config_load(o->kubeconfig, &rc->cfg, err);
	if (r < 0) {
		free(rc);
		return cni_err_wrap(err, "whereabouts reconciler: kubernetes client");
	}
	rc->timeout_ms = rc->cfg->timeout_ms;
	(void)snprintf(rc->ns, sizeof(rc->ns), "%s",
		       o->ns					   ? o->ns
		       : rc->cfg->namespace && *rc->cfg->namespace ? rc->cfg->namespace
								   : WB_NAMESPACE_DEFAULT);
	rc->lease = (struct reclaim_lease){
		.cfg = rc->cfg, .ns = rc->ns, .node = o->node, .duration_s = 2 * o->interval_s + 10
	};
	rc->seed = ((uint64_t)clock_now_us() ^ ((uint64_t)getpid() << 32)) | 1;
	static const char *const why_labels[] = { "reason", NULL };
	static const char *const round_labels[] = { "result", NULL };
	rc->released = metrics_family(
		reg, METRICS_COUNTER, "plexus_apid_whereabouts_released_total",
		"whereabouts allocations the reconciler released, by reason", why_labels, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(why_label); i++)
		metrics_add(rc->released, 0, why_label[i]);
	rc->rounds = metrics_family(
		reg, METRICS_COUNTER, "plexus_apid_whereabouts_reclaim_rounds_total",
		"Reconciler rounds: done, or skipped because a LIST failed", round_labels, NULL, 0);
	metrics_add(rc->rounds, 0, "done");
	metrics_add(rc->rounds, 0, "skipped");
	pthread_t t;
	if ((r = pthread_create(&t, NULL, reclaim_thread, rc)) != 0)
		return cni_err_set(err, CNI_ERR_IO, r, "whereabouts reconciler: thread: %s",
				   strerror(r));
	(void)pthread_detach(t);
	log_info("reclaim: whereabouts reconciler on node '%s', namespace '%s', grace %ld s, "
		 "every %ld s",
		 o->node, rc->ns, o->grace_s, o->interval_s);
	return 0;
}
