// SPDX-License-Identifier: Apache-2.0
/* The pure half of the VXLAN peers agent: the Node annotation's encoding and validation,
 * conflicts between nodes, and the FDB/neighbour tables a VTEP should hold. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/vxpeers.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

static const uint8_t zero_mac[MAC_LEN];

/* Refusals of this round and the last one: a refusal is logged in the round it appears, not
 * in every round it persists. Used by the agent's one thread only. */
static struct {
	char **prev, **cur;
	size_t n_prev, n_cur;
	struct vxp_refusal queue[VXP_REFUSALS_MAX]; /* new ones, for Events */
	size_t n_queue, dropped;
} seen;

void vxp_log_round(void)
{
	for (size_t i = 0; i < seen.n_prev; i++)
		free(seen.prev[i]);
	free(seen.prev);
	seen.prev = seen.cur;
	seen.n_prev = seen.n_cur;
	seen.cur = NULL;
	seen.n_cur = 0;
}

void vxp_refusal_done(struct vxp_refusal *r)
{
	free(r->node);
	free(r->msg);
	*r = (struct vxp_refusal){ 0 };
}

size_t vxp_refusals_take(struct vxp_refusal *ret, size_t max, size_t *ret_dropped)
{
	size_t n = seen.n_queue < max ? seen.n_queue : max;
	memcpy(ret, seen.queue, n * sizeof(*ret));
	memmove(seen.queue, seen.queue + n, (seen.n_queue - n) * sizeof(*ret));
	seen.n_queue -= n;
	*ret_dropped = seen.dropped;
	seen.dropped = 0;
	return n;
}

static void queue_refusal(const char *node, uint32_t vni, const char *msg)
{
	if (seen.n_queue == VXP_REFUSALS_MAX) {
		seen.dropped++;
		return;
	}
	seen.queue[seen.n_queue++] =
		(struct vxp_refusal){ .node = xstrdup(node), .vni = vni, .msg = xstrdup(msg) };
}

/* Note the refusal msg (owned) for this round; true (and logged) when the last round did not
 * have it. */
static bool refusal_new(char *msg)
{
	bool old = false;
	for (size_t i = 0; i < seen.n_prev && !old; i++)
		old = !strcmp(seen.prev[i], msg);
	if (!old)
		log_warning("vxlan-peers: %s", msg);
	seen.cur = xrealloc(seen.cur, (seen.n_cur + 1) * sizeof(*seen.cur));
	seen.cur[seen.n_cur++] = msg;
	return !old;
}

/* A refusal of node's entries (vni: 0 for the whole annotation), logged and queued for an
 * Event when it is new. */
__attribute__((format(printf, 3, 4))) static void refuse(const char *node, uint32_t vni,
							 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (refusal_new(msg))
		queue_refusal(node, vni, msg);
}

void vxp_set_done(struct vxp_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].node);
		free(s->v[i].pods);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

struct vxp_vtep *vxp_set_add(struct vxp_set *s, const char *node, uint32_t vni)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	struct vxp_vtep *v = &s->v[s->n++];
	*v = (struct vxp_vtep){ .node = xstrdup(node), .vni = vni };
	return v;
}

struct vxp_pod *vxp_vtep_add_pod(struct vxp_vtep *v)
{
	v->pods = xrealloc(v->pods, (v->n_pods + 1) * sizeof(*v->pods));
	struct vxp_pod *p = &v->pods[v->n_pods++];
	memset(p, 0, sizeof(*p));
	return p;
}

bool vxp_addr_ok(const struct ip_addr *a)
{
	if (a->family == AF_INET) {
		uint8_t b0 = a->raw[0];
		return !ip_is_zero(a) && b0 != 127 && (b0 & 0xf0) != 0xe0 &&
		       a->v4.s_addr != 0xffffffffu;
	}
	if (a->family != AF_INET6)
		return false;
	static const uint8_t loop6[16] = { [15] = 1 };
	return !ip_is_zero(a) && memcmp(a->raw, loop6, 16) != 0 && a->raw[0] != 0xff &&
	       !(a->raw[0] == 0xfe && (a->raw[1] & 0xc0) == 0x80);
}

bool vxp_mac_ok(const uint8_t mac[MAC_LEN])
{
	return !(mac[0] & 1) && memcmp(mac, zero_mac, MAC_LEN) != 0;
}

static int cmp_vni(const void *a, const void *b)
{
	const struct vxp_vtep *x = *(const struct vxp_vtep *const *)a;
	const struct vxp_vtep *y = *(const struct vxp_vtep *const *)b;
	return (x->vni > y->vni) - (x->vni < y->vni);
}

char *vxp_encode(const struct vxp_set *local)
{
	_cleanup_free_ const struct vxp_vtep **order = xcalloc(local->n + 1, sizeof(*order));
	for (size_t i = 0; i < local->n; i++)
		order[i] = &local->v[i];
	qsort(order, local->n, sizeof(*order), cmp_vni);
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	for (size_t i = 0; i < local->n; i++) {
		const struct vxp_vtep *v = order[i];
		char key[16], s[IP_STR_LEN], m[MAC_STR_LEN];
		(void)snprintf(key, sizeof(key), "%u", v->vni);
		cJSON *o = cJSON_AddObjectToObject(j, key);
		format_ip(&v->addr, s);
		format_mac(v->mac, m);
		cJSON_AddStringToObject(o, "vtep", s);
		cJSON_AddStringToObject(o, "mac", m);
		cJSON *pods = cJSON_AddArrayToObject(o, "pods");
		for (size_t k = 0; k < v->n_pods; k++) {
			cJSON *p = cJSON_CreateObject();
			format_mac(v->pods[k].mac, m);
			cJSON_AddStringToObject(p, "mac", m);
			cJSON *ips = cJSON_AddArrayToObject(p, "ips");
			for (size_t x = 0; x < v->pods[k].n_ips; x++) {
				format_ip(&v->pods[k].ips[x], s);
				cJSON_AddItemToArray(ips, cJSON_CreateString(s));
			}
			cJSON_AddItemToArray(pods, p);
		}
	}
	return json_print(j);
}

/* One string field that must be an address vxp_addr_ok accepts. */
static int get_addr(const cJSON *o, const char *key, const char *path, struct ip_addr *ret,
		    struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(o, key, path, &s, NULL, err);
	if (r < 0)
		return r;
	if (!s || parse_ip(s, ret) < 0 || !vxp_addr_ok(ret))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "%s: not a unicast address", path);
	return 0;
}

static int get_mac(const cJSON *o, const char *path, uint8_t ret[MAC_LEN], struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(o, "mac", path, &s, NULL, err);
	if (r < 0)
		return r;
	if (!s || parse_mac(s, ret) < 0 || !vxp_mac_ok(ret))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "%s: not a unicast MAC", path);
	return 0;
}

static int decode_pod(const cJSON *p, const char *path, struct vxp_pod *pod, struct cni_err *err)
{
	char f[96];
	(void)snprintf(f, sizeof(f), "%s.mac", path);
	int r = get_mac(p, f, pod->mac, err);
	if (r < 0)
		return r;
	const cJSON *ips = NULL;
	(void)snprintf(f, sizeof(f), "%s.ips", path);
	r = json_get_array(p, "ips", f, &ips, err);
	if (r < 0)
		return r;
	if (cJSON_GetArraySize(ips) > VXP_IPS_MAX)
		return cni_err_set(err, CNI_ERR_DECODE, E2BIG, "%s: more than %d addresses", f,
				   VXP_IPS_MAX);
	const cJSON *ip;
	cJSON_ArrayForEach (ip, ips) {
		struct ip_addr *a = &pod->ips[pod->n_ips];
		(void)snprintf(f, sizeof(f), "%s.ips[%zu]", path, pod->n_ips);
		if (!cJSON_IsString(ip) || parse_ip(ip->valuestring, a) < 0 || !vxp_addr_ok(a))
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "%s: not a unicast address",
					   f);
		pod->n_ips++;
	}
	return 0;
}

/* One "<vni>": {vtep, mac, pods} entry into v (filled in place). */
static int decode_vtep(const cJSON *e, struct vxp_vtep *v, struct cni_err *err)
{
	char f[64];
	(void)snprintf(f, sizeof(f), "%u.vtep", v->vni);
	if (!cJSON_IsObject(e))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "%u: not an object", v->vni);
	int r = get_addr(e, "vtep", f, &v->addr, err);
	if (r < 0)
		return r;
	(void)snprintf(f, sizeof(f), "%u.mac", v->vni);
	r = get_mac(e, f, v->mac, err);
	if (r < 0)
		return r;
	const cJSON *pods = NULL;
	(void)snprintf(f, sizeof(f), "%u.pods", v->vni);
	r = json_get_array(e, "pods", f, &pods, err);
	if (r < 0)
		return r;
	if (cJSON_GetArraySize(pods) > VXP_PODS_MAX)
		return cni_err_set(err, CNI_ERR_DECODE, E2BIG, "%s: more than %d pods", f,
				   VXP_PODS_MAX);
	const cJSON *p;
	size_t i = 0;
	cJSON_ArrayForEach (p, pods) {
		(void)snprintf(f, sizeof(f), "%u.pods[%zu]", v->vni, i++);
		if (!cJSON_IsObject(p))
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "%s: not an object", f);
		r = decode_pod(p, f, vxp_vtep_add_pod(v), err);
		if (r < 0)
			return r;
	}
	return 0;
}

int vxp_decode(const char *node, const char *value, struct vxp_set *set)
{
	struct cni_err e = { 0 };
	_cleanup_json_ cJSON *j = NULL;
	size_t len = strlen(value);
	if (len > VXP_VALUE_MAX) {
		refuse(node, 0, "node '%s': %s is over %d bytes, refused", node, VXP_ANNOTATION,
		       VXP_VALUE_MAX);
		return 1;
	}
	if (json_parse(value, len, VXP_ANNOTATION, &j, &e) < 0 || !cJSON_IsObject(j)) {
		refuse(node, 0, "node '%s': %s: not a JSON object, refused", node, VXP_ANNOTATION);
		return 1;
	}
	int refused = 0, n = 0;
	const cJSON *entry;
	cJSON_ArrayForEach (entry, j) {
		uint64_t vni = 0;
		if (++n > VXP_VNIS_MAX) {
			refuse(node, 0, "node '%s': more than %d VNIs, the rest refused", node,
			       VXP_VNIS_MAX);
			return refused + 1;
		}
		if (parse_u64(entry->string, 16777215, &vni) < 0 || vni == 0) {
			refuse(node, 0, "node '%s': '%.16s' is not a VNI, refused", node,
			       entry->string);
			refused++;
			continue;
		}
		struct vxp_vtep *v = vxp_set_add(set, node, (uint32_t)vni);
		if (decode_vtep(entry, v, &e) < 0) {
			refuse(node, v->vni, "node '%s': %s, refused", node, e.msg);
			free(v->node);
			free(v->pods);
			set->n--;
			refused++;
		}
	}
	return refused;
}

/* Conflict detection sorts references to every claim (VTEP address, or pod MAC/IP per VNI)
 * and marks runs claimed by more than one node. */
struct claim {
	uint32_t vni;	  /* 0 for VTEP addresses: they are per node, whatever the VNI */
	uint32_t of_vni;  /* the VNI of the entry making the claim */
	uint8_t key[16];  /* address bytes or MAC */
	int family;	  /* AF_* for addresses, 0 for MACs */
	const char *node; /* NULL: this node */
	bool *refused;	  /* NULL for this node's own claims */
};

static int cmp_claim(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	if (x->vni != y->vni)
		return x->vni < y->vni ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->key, y->key, sizeof(x->key));
}

static bool same_key(const struct claim *x, const struct claim *y)
{
	return cmp_claim(x, y) == 0;
}

static bool same_node(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static size_t refuse_runs(struct claim *c, size_t n, const char *what)
{
	size_t refused = 0;
	/* qsort's base must not be NULL, even for no elements. */
	if (n == 0)
		return 0;
	qsort(c, n, sizeof(*c), cmp_claim);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		bool multi = false;
		while (j < n && same_key(&c[i], &c[j])) {
			multi = multi || !same_node(c[i].node, c[j].node);
			j++;
		}
		if (multi) {
			char k[IP_STR_LEN > MAC_STR_LEN ? IP_STR_LEN : MAC_STR_LEN];
			if (c[i].family) {
				struct ip_addr a = { .family = c[i].family };
				memcpy(a.raw, c[i].key, sizeof(a.raw));
				format_ip(&a, k);
			} else {
				format_mac(c[i].key, k);
			}
			for (size_t x = i; x < j; x++) {
				if (c[x].refused && !*c[x].refused) {
					*c[x].refused = true;
					refused++;
				}
			}
			char on[32] = "";
			if (c[i].vni)
				(void)snprintf(on, sizeof(on), " on VNI %u", c[i].vni);
			char *msg = NULL;
			if (asprintf(&msg, "%s '%s'%s claimed by node '%s' and node '%s', refused",
				     what, k, on, c[i].node ? c[i].node : "(this node)",
				     c[j - 1].node ? c[j - 1].node : "(this node)") < 0)
				abort();
			/* An Event about each other node refused, once per node and VNI. */
			bool fresh = refusal_new(msg);
			for (size_t x = i; fresh && x < j; x++) {
				bool dup = !c[x].node;
				for (size_t y = i; y < x && !dup; y++)
					dup = same_node(c[x].node, c[y].node) &&
					      c[x].of_vni == c[y].of_vni;
				if (!dup)
					queue_refusal(c[x].node, c[x].of_vni, msg);
			}
		}
		i = j;
	}
	return refused;
}

static void add_claim(struct claim **c, size_t *n, uint32_t vni, const void *key, int family,
		      const struct vxp_vtep *v, const char *node, bool *refused)
{
	*c = xrealloc(*c, (*n + 1) * sizeof(**c));
	struct claim *x = &(*c)[(*n)++];
	*x = (struct claim){
		.vni = vni, .of_vni = v->vni, .family = family, .node = node, .refused = refused
	};
	memcpy(x->key, key, family ? ip_family_len(family) : MAC_LEN);
}

size_t vxp_conflicts(struct vxp_set *remote, const struct vxp_set *local)
{
	_cleanup_free_ struct claim *vteps = NULL, *macs = NULL, *ips = NULL;
	size_t nv = 0, nm = 0, ni = 0;
	for (int side = 0; side < 2; side++) {
		const struct vxp_set *s = side ? local : remote;
		for (size_t i = 0; i < s->n; i++) {
			struct vxp_vtep *v = &s->v[i];
			const char *node = side ? NULL : v->node;
			add_claim(&vteps, &nv, 0, v->addr.raw, v->addr.family, v, node,
				  side ? NULL : &v->refused);
			for (size_t k = 0; k < v->n_pods; k++) {
				struct vxp_pod *p = &v->pods[k];
				bool *ref = side ? NULL : &p->refused;
				add_claim(&macs, &nm, v->vni, p->mac, 0, v, node, ref);
				for (size_t x = 0; x < p->n_ips; x++)
					add_claim(&ips, &ni, v->vni, p->ips[x].raw,
						  p->ips[x].family, v, node, ref);
			}
		}
	}
	size_t refused = refuse_runs(vteps, nv, "VTEP address");
	refused += refuse_runs(macs, nm, "pod MAC");
	refused += refuse_runs(ips, ni, "pod IP");
	return refused;
}

void vxp_desired(const struct vxp_set *remote, uint32_t vni, int family,
		 struct net_fdb_entry **ret_fdb, size_t *ret_nf, struct net_neigh_entry **ret_nb,
		 size_t *ret_nn)
{
	struct net_fdb_entry *fdb = NULL;
	struct net_neigh_entry *nb = NULL;
	size_t nf = 0, nn = 0;
	for (size_t i = 0; i < remote->n; i++) {
		const struct vxp_vtep *v = &remote->v[i];
		if (v->vni != vni || v->refused || v->addr.family != family)
			continue;
		size_t live = 0;
		for (size_t k = 0; k < v->n_pods; k++)
			live += !v->pods[k].refused;
		/* A peer without pods on this VNI needs no broadcast from us. */
		fdb = xrealloc(fdb, (nf + live + 1) * sizeof(*fdb));
		if (live)
			fdb[nf++] = (struct net_fdb_entry){ .dst = v->addr };
		for (size_t k = 0; k < v->n_pods; k++) {
			const struct vxp_pod *p = &v->pods[k];
			if (p->refused)
				continue;
			fdb[nf] = (struct net_fdb_entry){ .dst = v->addr };
			memcpy(fdb[nf++].mac, p->mac, MAC_LEN);
			nb = xrealloc(nb, (nn + p->n_ips + 1) * sizeof(*nb));
			for (size_t x = 0; x < p->n_ips; x++) {
				nb[nn] = (struct net_neigh_entry){ .ip = p->ips[x] };
				memcpy(nb[nn++].mac, p->mac, MAC_LEN);
			}
		}
	}
	*ret_fdb = fdb;
	*ret_nf = nf;
	*ret_nb = nb;
	*ret_nn = nn;
}

static bool fdb_eq(const struct net_fdb_entry *a, const struct net_fdb_entry *b)
{
	return !memcmp(a->mac, b->mac, MAC_LEN) && ip_addr_equal(&a->dst, &b->dst);
}

static bool neigh_eq(const struct net_neigh_entry *a, const struct net_neigh_entry *b)
{
	return !memcmp(a->mac, b->mac, MAC_LEN) && ip_addr_equal(&a->ip, &b->ip);
}

/* Indexes of a[] with no equal element in b[]. Quadratic: a VTEP's tables are bounded by the
 * pods of one VNI. */
#define MISSING(a, na, b, nb, eq, ret, ret_n)                           \
	do {                                                            \
		*(ret) = xcalloc((na) + 1, sizeof(size_t));             \
		*(ret_n) = 0;                                           \
		for (size_t i_ = 0; i_ < (na); i_++) {                  \
			bool found_ = false;                            \
			for (size_t j_ = 0; j_ < (nb) && !found_; j_++) \
				found_ = eq(&(a)[i_], &(b)[j_]);        \
			if (!found_)                                    \
				(*(ret))[(*(ret_n))++] = i_;            \
		}                                                       \
	} while (0)

void vxp_diff_fdb(const struct net_fdb_entry *have, size_t nh, const struct net_fdb_entry *want,
		  size_t nw, size_t **ret_add, size_t *ret_nadd, size_t **ret_del, size_t *ret_ndel)
{
	MISSING(want, nw, have, nh, fdb_eq, ret_add, ret_nadd);
	MISSING(have, nh, want, nw, fdb_eq, ret_del, ret_ndel);
}

void vxp_diff_neigh(const struct net_neigh_entry *have, size_t nh,
		    const struct net_neigh_entry *want, size_t nw, size_t **ret_add,
		    size_t *ret_nadd, size_t **ret_del, size_t *ret_ndel)
{
	MISSING(want, nw, have, nh, neigh_eq, ret_add, ret_nadd);
	MISSING(have, nh, want, nw, neigh_eq, ret_del, ret_ndel);
}
