// SPDX-License-Identifier: Apache-2.0
/* The IPPool and OverlappingRangeIPReservation objects whereabouts stores, read and written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "whereabouts/whereabouts.h"

void wb_pool_done(struct wb_pool *p)
{
	if (p->obj)
		cJSON_Delete(p->obj);
	free(p->allocs);
	memset(p, 0, sizeof(*p));
}

static int bad(struct cni_err *err, const char *what)
{
	return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG, "IPPool: %s", what);
}

static int cmp_alloc(const void *a, const void *b)
{
	uint64_t x = ((const struct wb_alloc *)a)->offset, y = ((const struct wb_alloc *)b)->offset;
	return x < y ? -1 : x > y;
}

static const char *str_or_empty(const cJSON *o, const char *key, bool *ok)
{
	const cJSON *v = json_get(o, key);
	if (!v || cJSON_IsNull(v))
		return "";
	if (!cJSON_IsString(v)) {
		*ok = false;
		return "";
	}
	return v->valuestring;
}

int wb_pool_decode(const char *body, size_t len, const struct wb_range *r, struct wb_pool *ret,
		   struct cni_err *err)
{
	cJSON *obj = NULL;
	if (json_parse(body, len, "IPPool", &obj, err) < 0) {
		cJSON_Delete(obj);
		return bad(err, "not a JSON object");
	}
	return wb_pool_decode_obj(obj, r, ret, err);
}

int wb_pool_decode_obj(cJSON *owned, const struct wb_range *r, struct wb_pool *ret,
		       struct cni_err *err)
{
	_cleanup_json_ cJSON *obj = owned;
	if (!cJSON_IsObject(obj))
		return bad(err, "not a JSON object");
	const cJSON *spec = json_get(obj, "spec");
	const char *range = cJSON_GetStringValue(json_get(spec, "range"));
	struct ip_net n;
	if (!cJSON_IsObject(spec) || !range || parse_ipnet(range, &n) < 0)
		return bad(err, "spec.range is not a CIDR");
	ip_net_mask(&n);
	if (n.prefix != r->net.prefix || !ip_addr_equal(&n.ip, &r->net.ip)) {
		char want[IPNET_STR_LEN];
		wb_range_cidr(r, want);
		return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG,
				   "IPPool: spec.range '%s' is not the configured range %s", range,
				   want);
	}
	const char *rv =
		cJSON_GetStringValue(json_get(json_get(obj, "metadata"), "resourceVersion"));
	if (!rv || !*rv)
		return bad(err, "no metadata.resourceVersion");
	cJSON *allocs = cJSON_GetObjectItemCaseSensitive(spec, "allocations");
	if (!allocs || cJSON_IsNull(allocs)) {
		/* whereabouts omits an empty map: make one to add to. */
		cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)spec, "allocations");
		allocs = cJSON_AddObjectToObject((cJSON *)spec, "allocations");
	}
	if (!cJSON_IsObject(allocs))
		return bad(err, "spec.allocations is not an object");
	size_t cap = (size_t)cJSON_GetArraySize(allocs), n_ok = 0;
	_cleanup_free_ struct wb_alloc *a = xcalloc(cap ? cap : 1, sizeof(*a));
	const cJSON *e;
	cJSON_ArrayForEach (e, allocs) {
		uint64_t off;
		/* A key that is not an offset names no address: whereabouts skips it too. */
		if (!e->string || parse_u64(e->string, INT64_MAX, &off) < 0)
			continue;
		bool ok = cJSON_IsObject(e);
		struct wb_alloc x = { .offset = off };
		x.id = str_or_empty(e, "id", &ok);
		x.podref = str_or_empty(e, "podref", &ok);
		x.ifname = str_or_empty(e, "ifname", &ok);
		x.valid = ok && *x.id;
		a[n_ok++] = x;
	}
	qsort(a, n_ok, sizeof(*a), cmp_alloc);
	*ret = (struct wb_pool){ .allocs = TAKE_PTR(a), .n = n_ok, .resource_version = rv };
	ret->obj = TAKE_PTR(obj);
	return 0;
}

/* {apiVersion, kind, metadata {name, namespace}, spec {}}. */
static cJSON *new_object(const char *kind, const char *name, const char *ns)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", WB_API_VERSION);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON *m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "namespace", ns);
	cJSON_AddObjectToObject(o, "spec");
	return o;
}

cJSON *wb_pool_new(const char *name, const char *ns, const struct wb_range *r)
{
	char cidr[IPNET_STR_LEN];
	wb_range_cidr(r, cidr);
	cJSON *o = new_object("IPPool", name, ns);
	cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "spec");
	cJSON_AddStringToObject(s, "range", cidr);
	cJSON_AddObjectToObject(s, "allocations");
	return o;
}

int wb_pool_find(const struct wb_pool *p, const char *id, const char *podref, const char *ifname)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct wb_alloc *a = &p->allocs[i];
		if (!a->valid || strcmp(a->ifname, ifname) != 0)
			continue;
		if (id ? !strcmp(a->id, id) : !strcmp(a->podref, podref))
			return (int)i;
	}
	return -1;
}

static cJSON *allocations(struct wb_pool *p)
{
	return cJSON_GetObjectItemCaseSensitive(json_get(p->obj, "spec"), "allocations");
}

void wb_pool_set(struct wb_pool *p, uint64_t offset, const char *id, const char *podref,
		 const char *ifname)
{
	char key[24];
	(void)snprintf(key, sizeof(key), "%llu", (unsigned long long)offset);
	cJSON *a = allocations(p);
	cJSON_DeleteItemFromObjectCaseSensitive(a, key);
	cJSON *v = cJSON_AddObjectToObject(a, key);
	cJSON_AddStringToObject(v, "id", id);
	cJSON_AddStringToObject(v, "podref", podref);
	if (ifname && *ifname)
		cJSON_AddStringToObject(v, "ifname", ifname);
}

void wb_pool_unset(struct wb_pool *p, uint64_t offset)
{
	char key[24];
	(void)snprintf(key, sizeof(key), "%llu", (unsigned long long)offset);
	cJSON_DeleteItemFromObjectCaseSensitive(allocations(p), key);
}

cJSON *wb_orip_new(const char *name, const char *ns, const char *id, const char *podref,
		   const char *ifname)
{
	cJSON *o = new_object("OverlappingRangeIPReservation", name, ns);
	cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "spec");
	cJSON_AddStringToObject(s, "containerid", id);
	cJSON_AddStringToObject(s, "podref", podref);
	if (ifname && *ifname)
		cJSON_AddStringToObject(s, "ifname", ifname);
	return o;
}

int wb_orip_decode(const char *body, size_t len, cJSON **ret_obj, const char **ret_id,
		   const char **ret_podref, const char **ret_ifname, struct cni_err *err)
{
	_cleanup_json_ cJSON *obj = NULL;
	if (json_parse(body, len, "OverlappingRangeIPReservation", &obj, err) < 0 ||
	    !cJSON_IsObject(obj))
		return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG,
				   "OverlappingRangeIPReservation: not a JSON object");
	const cJSON *spec = json_get(obj, "spec");
	bool ok = cJSON_IsObject(spec);
	const char *id = str_or_empty(spec, "containerid", &ok);
	const char *podref = str_or_empty(spec, "podref", &ok);
	const char *ifname = str_or_empty(spec, "ifname", &ok);
	if (!ok)
		return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG,
				   "OverlappingRangeIPReservation: malformed spec");
	*ret_id = id;
	*ret_podref = podref;
	*ret_ifname = ifname;
	*ret_obj = TAKE_PTR(obj);
	return 0;
}
