// SPDX-License-Identifier: Apache-2.0
/* plexus-apid --vxlan-peers: publish this node's "peers": "kubernetes" VTEPs and pods on its
 * Node, and program the other nodes' into the VTEPs' FDB and neighbour tables (docs/vxlan.md).
 * A watch keeps the Nodes' annotations; level-driven rounds read the kernel and that cache and
 * converge, never flushing. */
#include <dirent.h>
#include <errno.h>
#include <netlink/route/link/vxlan.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apid/vxpeers.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/watch.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "vxlan/vxlan.h"

/* A pod record is a few hundred bytes. */
#define RECORD_MAX 4096
#define EVENTS_PER_ROUND 10
#define EVENTS_BUDGET_MS 1000

/* One Node's annotation as the watch last delivered it. */
struct node_ann {
	char *name;
	char *value; /* NULL: the Node has none */
};

struct agent {
	const struct kube_config *cfg;
	const char *node;
	const char *run_dir;
	long interval_ms;
	/* Written by the watch thread, read by the reconcile thread. */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct node_ann *nodes;
	size_t n_nodes;
	bool synced;	    /* a LIST has been seen: until then nothing is removed */
	unsigned gen;	    /* bumped on every event */
	char *last_written; /* what we patched and have not seen come back yet */
};

/* A local VTEP to program. */
struct local_vtep {
	uint32_t vni;
	int ifindex;
	int family;
};

/* One record file of vni's directory, validated against the links: its host veth must exist,
 * carry the record's plexus-vxlan tag and be a port of the VTEP's bridge. */
static int read_record(struct nl_cache *links, int bridge, const char *path, struct vxp_vtep *v)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, RECORD_MAX, &text, &len);
	if (r < 0)
		return r;
	struct cni_err e = { 0 };
	_cleanup_json_ cJSON *j = NULL;
	if (json_parse(text, len, path, &j, &e) < 0 || !cJSON_IsObject(j))
		return -EINVAL;
	const char *hveth = cJSON_GetStringValue(json_get(j, "hostVeth"));
	const char *tag = cJSON_GetStringValue(json_get(j, "tag"));
	const char *mac = cJSON_GetStringValue(json_get(j, "mac"));
	const cJSON *ips = json_get(j, "ips");
	if (!hveth || !tag || !mac || !cJSON_IsArray(ips) ||
	    strncmp(tag, "plexus-vxlan:", strlen("plexus-vxlan:")) != 0)
		return -EINVAL;
	struct rtnl_link *l = rtnl_link_get_by_name(links, hveth);
	const char *alias = l ? rtnl_link_get_ifalias(l) : NULL;
	bool ours = l && alias && !strcmp(alias, tag) && rtnl_link_get_master(l) == bridge;
	if (l)
		rtnl_link_put(l);
	if (!ours)
		return -ENODEV;
	struct vxp_pod pod = { 0 };
	if (parse_mac(mac, pod.mac) < 0 || !vxp_mac_ok(pod.mac) ||
	    cJSON_GetArraySize(ips) > VXP_IPS_MAX)
		return -EINVAL;
	const cJSON *ip;
	cJSON_ArrayForEach (ip, ips) {
		struct ip_addr *a = &pod.ips[pod.n_ips];
		if (!cJSON_IsString(ip) || parse_ip(ip->valuestring, a) < 0 || !vxp_addr_ok(a))
			return -EINVAL;
		pod.n_ips++;
	}
	*vxp_vtep_add_pod(v) = pod;
	return 0;
}

static void read_records(struct nl_cache *links, int bridge, const char *run_dir,
			 struct vxp_vtep *v)
{
	_cleanup_free_ char *dir = xasprintf("%s/vxlan/%u", run_dir, v->vni);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && v->n_pods < VXP_PODS_MAX) {
		size_t n = strlen(de->d_name), sl = strlen(VXLAN_RECORD_SUFFIX);
		if (n <= sl || strcmp(de->d_name + n - sl, VXLAN_RECORD_SUFFIX) != 0)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
		int r = read_record(links, bridge, path, v);
		/* ENODEV: the pod's links are gone (a DEL in progress, or a killed one). */
		if (r < 0 && r != -ENODEV && r != -ENOENT)
			log_warning("vxlan-peers: pod record '%s': %s, skipped", path,
				    r == -EINVAL ? "malformed" : strerror(-r));
	}
	(void)closedir(d);
}

/* This node's VTEPs (links tagged VXLAN_PEERS_ALIAS and named vx<VNI>) with their pods. */
static int scan_local(struct nl_sock *sk, const char *run_dir, struct vxp_set *set,
		      struct local_vtep **ret, size_t *ret_n, struct cni_err *err)
{
	_cleanup_cache_ struct nl_cache *links = NULL;
	int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
	if (r < 0)
		return net_err(err, r, "dump links");
	struct local_vtep *lv = NULL;
	size_t n = 0;
	for (struct nl_object *o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *alias = rtnl_link_get_ifalias(l);
		uint32_t vni = 0;
		char name[IFNAMSIZ];
		if (!rtnl_link_is_vxlan(l) || !alias || strcmp(alias, VXLAN_PEERS_ALIAS) != 0 ||
		    rtnl_link_vxlan_get_id(l, &vni) < 0)
			continue;
		(void)snprintf(name, sizeof(name), "vx%u", vni);
		_cleanup_nl_addr_ struct nl_addr *local = NULL;
		struct nl_addr *mac = rtnl_link_get_addr(l);
		struct ip_addr a = { 0 };
		if (strcmp(rtnl_link_get_name(l), name) != 0 ||
		    rtnl_link_vxlan_get_local(l, &local) < 0 || !mac ||
		    nl_addr_get_len(mac) != MAC_LEN)
			continue;
		a.family = nl_addr_get_family(local);
		if (nl_addr_get_len(local) != ip_family_len(a.family))
			continue;
		memcpy(a.raw, nl_addr_get_binary_addr(local), nl_addr_get_len(local));
		if (!vxp_addr_ok(&a))
			continue;
		struct vxp_vtep *v = vxp_set_add(set, "", vni);
		v->addr = a;
		memcpy(v->mac, nl_addr_get_binary_addr(mac), MAC_LEN);
		read_records(links, rtnl_link_get_master(l), run_dir, v);
		lv = xrealloc(lv, (n + 1) * sizeof(*lv));
		lv[n++] = (struct local_vtep){ .vni = vni,
					       .ifindex = rtnl_link_get_ifindex(l),
					       .family = a.family };
	}
	*ret = lv;
	*ret_n = n;
	return 0;
}

/* Merge-patch our Node's annotation when the listed one (have, NULL if none) differs from
 * ours (an empty set removes it). */
static int publish(struct agent *a, const struct vxp_set *local, const char *have,
		   struct cni_err *err)
{
	_cleanup_free_ char *value = local->n ? vxp_encode(local) : NULL;
	if (!value && !have)
		return 0;
	if (value && have && !strcmp(value, have))
		return 0;
	/* Written already, and the watch has not brought it back yet. */
	(void)pthread_mutex_lock(&a->lock);
	bool pending = value && a->last_written && !strcmp(value, a->last_written);
	(void)pthread_mutex_unlock(&a->lock);
	if (pending)
		return 0;
	_cleanup_json_ cJSON *patch = cJSON_CreateObject();
	cJSON *ann =
		cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), "annotations");
	if (value)
		cJSON_AddStringToObject(ann, VXP_ANNOTATION, value);
	else
		cJSON_AddNullToObject(ann, VXP_ANNOTATION);
	_cleanup_free_ char *body = json_print(patch);
	_cleanup_free_ char *path = xasprintf("/api/v1/nodes/%s", a->node);
	_cleanup_free_ char *what = xasprintf("patch nodes/%s", a->node);
	struct kube_request req = { .method = "PATCH",
				    .path = path,
				    .content_type = "application/merge-patch+json",
				    .body = body,
				    .body_len = strlen(body),
				    .what = what };
	int r = kube_request(a->cfg, &req, NULL, NULL, err);
	if (r < 0)
		return r;
	log_info("vxlan-peers: published %zu VTEP(s) on node '%s'", local->n, a->node);
	(void)pthread_mutex_lock(&a->lock);
	free(a->last_written);
	a->last_written = value ? xstrdup(value) : NULL;
	(void)pthread_mutex_unlock(&a->lock);
	return 0;
}

static void node_set(struct agent *a, const cJSON *obj)
{
	const cJSON *meta = json_get(obj, "metadata");
	const char *name = cJSON_GetStringValue(json_get(meta, "name"));
	const char *value =
		cJSON_GetStringValue(json_get(json_get(meta, "annotations"), VXP_ANNOTATION));
	if (!name)
		return;
	size_t i = 0;
	while (i < a->n_nodes && strcmp(a->nodes[i].name, name) != 0)
		i++;
	if (i == a->n_nodes) {
		a->nodes = xrealloc(a->nodes, (a->n_nodes + 1) * sizeof(*a->nodes));
		a->nodes[a->n_nodes++] = (struct node_ann){ .name = xstrdup(name) };
	}
	free(a->nodes[i].value);
	a->nodes[i].value = value ? xstrdup(value) : NULL;
	/* Our own Node changed: what we wrote is in (or was overwritten, and is due again). */
	if (!strcmp(name, a->node)) {
		free(a->last_written);
		a->last_written = NULL;
	}
}

static void node_del(struct agent *a, const cJSON *obj)
{
	const char *name = cJSON_GetStringValue(json_get(json_get(obj, "metadata"), "name"));
	for (size_t i = 0; name && i < a->n_nodes; i++) {
		if (strcmp(a->nodes[i].name, name) != 0)
			continue;
		free(a->nodes[i].name);
		free(a->nodes[i].value);
		a->nodes[i] = a->nodes[--a->n_nodes];
		return;
	}
}

static void nodes_clear(struct agent *a)
{
	for (size_t i = 0; i < a->n_nodes; i++) {
		free(a->nodes[i].name);
		free(a->nodes[i].value);
	}
	a->n_nodes = 0;
	free(a->last_written);
	a->last_written = NULL;
}

/* The Nodes' annotations, kept current by the watch; every event wakes the reconcile loop. */
static int on_node_event(void *data, enum kube_watch_event type, const cJSON *obj,
			 struct cni_err *err)
{
	struct agent *a = data;
	(void)err;
	(void)pthread_mutex_lock(&a->lock);
	if (type == KUBE_WATCH_SYNC) {
		nodes_clear(a);
		const cJSON *o;
		cJSON_ArrayForEach (o, obj)
			node_set(a, o);
		a->synced = true;
	} else if (type == KUBE_WATCH_DELETED) {
		node_del(a, obj);
	} else {
		node_set(a, obj);
	}
	a->gen++;
	(void)pthread_cond_signal(&a->changed);
	(void)pthread_mutex_unlock(&a->lock);
	return 0;
}

/* LIST and WATCH the Nodes for as long as the process lives (resumed from the last
 * resourceVersion, re-listed after a 410, retried with back-off while the API is down). */
static void *watch_main(void *arg)
{
	struct agent *a = arg;
	for (;;) {
		struct cni_err e = { 0 };
		struct kube_watch w = {
			.path = "/api/v1/nodes",
			.on_event = on_node_event,
			.data = a,
			.stop_fd = -1,
		};
		/* Only a lasting refusal (403, TLS) returns: say so, and try again later. */
		if (kube_watch_run(a->cfg, &w, &e) < 0)
			log_warning("vxlan-peers: watch nodes: %s, retrying in 10 s", e.msg);
		struct timespec t = { .tv_sec = 10 };
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

/* Under a->lock: every other Node's entries into remote, and a copy of our own Node's. Returns
 * whether our Node exists. */
static bool snapshot(struct agent *a, struct vxp_set *remote, char **ret_self)
{
	bool self = false;
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct node_ann *n = &a->nodes[i];
		if (!strcmp(n->name, a->node)) {
			*ret_self = n->value ? xstrdup(n->value) : NULL;
			self = true;
		} else if (n->value) {
			(void)vxp_decode(n->name, n->value, remote);
		}
	}
	return self;
}

/* Make one VTEP's tables what the API says: additions first, so nothing working is ever
 * removed before its replacement is in. */
static int converge(struct nl_sock *sk, const struct local_vtep *lv, const struct vxp_set *remote,
		    struct cni_err *err)
{
	_cleanup_free_ struct net_fdb_entry *want_f = NULL, *have_f = NULL;
	_cleanup_free_ struct net_neigh_entry *want_n = NULL, *have_n = NULL;
	size_t nwf = 0, nwn = 0, nhf = 0, nhn = 0;
	vxp_desired(remote, lv->vni, lv->family, &want_f, &nwf, &want_n, &nwn);
	int r = net_fdb_list(sk, lv->ifindex, &have_f, &nhf, err);
	if (r >= 0)
		r = net_neigh_list(sk, lv->ifindex, &have_n, &nhn, err);
	if (r < 0)
		return r;
	_cleanup_free_ size_t *fa = NULL, *fd = NULL, *na = NULL, *nd = NULL;
	size_t nfa = 0, nfd = 0, nna = 0, nnd = 0;
	vxp_diff_fdb(have_f, nhf, want_f, nwf, &fa, &nfa, &fd, &nfd);
	vxp_diff_neigh(have_n, nhn, want_n, nwn, &na, &nna, &nd, &nnd);
	static const uint8_t zero[MAC_LEN];
	for (size_t i = 0; i < nfa && r >= 0; i++) {
		const struct net_fdb_entry *e = &want_f[fa[i]];
		r = memcmp(e->mac, zero, MAC_LEN)
			    ? net_fdb_set(sk, lv->ifindex, e->mac, &e->dst, err)
			    : net_fdb_flood_append(sk, lv->ifindex, &e->dst, err);
	}
	for (size_t i = 0; i < nna && r >= 0; i++)
		r = net_neigh_set(sk, lv->ifindex, &want_n[na[i]].ip, want_n[na[i]].mac, err);
	for (size_t i = 0; i < nnd && r >= 0; i++)
		r = net_neigh_del(sk, lv->ifindex, &have_n[nd[i]].ip, err);
	for (size_t i = 0; i < nfd && r >= 0; i++) {
		const struct net_fdb_entry *e = &have_f[fd[i]];
		r = memcmp(e->mac, zero, MAC_LEN)
			    ? net_fdb_del(sk, lv->ifindex, e->mac, &e->dst, err)
			    : net_fdb_flood_del(sk, lv->ifindex, &e->dst, err);
	}
	if (nfa + nfd + nna + nnd)
		log_info("vxlan-peers: vx%u: %zu FDB and %zu neighbour entries added or changed, "
			 "%zu and %zu removed",
			 lv->vni, nfa, nna, nfd, nnd);
	return r < 0 ? cni_err_wrap(err, "vx%u", lv->vni) : 0;
}

/* Events for the refusals new in this round: at most EVENTS_PER_ROUND in EVENTS_BUDGET_MS, the
 * rest wait for the next rounds (a queue of VXP_REFUSALS_MAX), so a hung API server or 100
 * bad Nodes delay a round by that much at most. */
static void post_events(struct agent *a)
{
	struct vxp_refusal r[EVENTS_PER_ROUND];
	size_t dropped = 0, n = vxp_refusals_take(r, EVENTS_PER_ROUND, &dropped);
	if (dropped)
		log_warning("vxlan-peers: %zu refusal event(s) dropped, too many waiting", dropped);
	(void)vxp_events_post(a->cfg, a->node, r, n, EVENTS_BUDGET_MS);
	for (size_t i = 0; i < n; i++)
		vxp_refusal_done(&r[i]);
}

static void round_once(struct agent *a)
{
	struct cni_err e = { 0 };
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	struct vxp_set local = { 0 }, remote = { 0 };
	_cleanup_free_ struct local_vtep *lv = NULL;
	_cleanup_free_ char *self = NULL;
	size_t nlv = 0;
	if (net_sock_open(&sk, &e) < 0 || scan_local(sk, a->run_dir, &local, &lv, &nlv, &e) < 0) {
		log_warning("vxlan-peers: %s", e.msg);
		goto out;
	}
	(void)pthread_mutex_lock(&a->lock);
	bool synced = a->synced, exists = synced && snapshot(a, &remote, &self);
	(void)pthread_mutex_unlock(&a->lock);
	/* Before the first LIST nothing is known: the tables stay as they are. After it, the
	 * API down only stops the events: the tables keep what was last known. */
	if (!synced)
		goto out;
	/* Compared with what the Node has, not with what we last wrote: an edit by anyone
	 * else is undone in the next round. No Node (not registered yet, or deleted): nothing to
	 * write to until the watch brings it. */
	if (!exists)
		log_debug("vxlan-peers: node '%s' not found, not publishing", a->node);
	else if (publish(a, &local, self, &e) < 0)
		log_warning("vxlan-peers: publish on node '%s': %s, retrying", a->node, e.msg);
	(void)vxp_conflicts(&remote, &local);
	vxp_log_round();
	post_events(a);
	for (size_t i = 0; i < nlv; i++) {
		memset(&e, 0, sizeof(e));
		if (converge(sk, &lv[i], &remote, &e) < 0)
			log_warning("vxlan-peers: %s", e.msg);
	}
out:
	vxp_set_done(&local);
	vxp_set_done(&remote);
}

/* A round on every Node event, and every interval for the local pods. */
static void *agent_main(void *arg)
{
	struct agent *a = arg;
	unsigned seen = 0;
	for (;;) {
		(void)pthread_mutex_lock(&a->lock);
		seen = a->gen;
		(void)pthread_mutex_unlock(&a->lock);
		round_once(a);
		struct timespec until;
		(void)clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += a->interval_ms / 1000;
		until.tv_nsec += (a->interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		(void)pthread_mutex_lock(&a->lock);
		while (a->gen == seen && pthread_cond_timedwait(&a->changed, &a->lock, &until) == 0)
			;
		(void)pthread_mutex_unlock(&a->lock);
	}
	return NULL;
}

int apid_vxpeers_start(const struct kube_config *cfg, const char *node, const char *run_dir,
		       long interval_ms, struct cni_err *err)
{
	if (!kube_dns1123_subdomain(node))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "--node-name: '%.253s' is not a Node name (DNS-1123 subdomain)",
				   node ? node : "");
	struct agent *a = xcalloc(1, sizeof(*a));
	*a = (struct agent){
		.cfg = cfg, .node = node, .run_dir = run_dir, .interval_ms = interval_ms
	};
	pthread_condattr_t ca;
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&a->changed, &ca);
	(void)pthread_condattr_destroy(&ca);
	(void)pthread_mutex_init(&a->lock, NULL);
	pthread_t t;
	int r = pthread_create(&t, NULL, watch_main, a);
	if (r != 0)
		free(a);
	if (r == 0) {
		(void)pthread_detach(t);
		/* From here the watch thread uses a, for the process's life. */
		r = pthread_create(&t, NULL, agent_main, a);
	}
	if (r != 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, r, "vxlan-peers: start thread: %s",
				   strerror(r));
	(void)pthread_detach(t);
	log_info("vxlan-peers: node '%s', records under '%s/vxlan', every %ld ms", node, run_dir,
		 interval_ms);
	return 0;
}
