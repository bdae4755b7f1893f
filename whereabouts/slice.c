// SPDX-License-Identifier: Apache-2.0
/* Per-node slices of a whereabouts range: the NodeSlicePool object and a node's claim of a slice
 * by optimistic concurrency on its resourceVersion (docs/ipam.md "Node slices"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/event.h"
#include "lib/kube/internal.h"
#include "lib/util/cleanup.h"
#include "whereabouts/internal.h"

#define NSP_BASE "/apis/" WB_API_VERSION "/namespaces/"
/* Status writes of one claim before it gives up (each also bounded by apiTimeoutMs). */
#define CLAIM_TRIES 100

void wb_slices_done(struct wb_slices *s)
{
	free(s->nets);
	memset(s, 0, sizeof(*s));
}

int wb_slice_node(char buf[WB_NAME_MAX], struct cni_err *err)
{
	char host[256];
	kube_event_host(host);
	if (!*host || strlen(host) >= WB_NAME_MAX || !kube_dns1123_subdomain(host))
		return cni_err_set(
			err, CNI_ERR_INVALID_ENV, EINVAL,
			"whereabouts: node slices need this node's name: NODE_NAME (else "
			"the host name) '%s' is not a valid node name",
			host);
	strcpy(buf, host);
	return 0;
}

int wb_slice_pool_name(const struct wb_conf *c, const char *net_name, char buf[WB_NAME_MAX],
		       struct cni_err *err)
{
	const char *n = c->network_name ? c->network_name : net_name ? net_name : "";
	if (!*n || strlen(n) >= WB_NAME_MAX || !kube_dns1123_subdomain(n))
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EINVAL,
			"ipam.node_slice_size: the NodeSlicePool is named after "
			"ipam.network_name, else the network's name: '%s' is not a valid "
			"object name",
			n);
	strcpy(buf, n);
	return 0;
}

int wb_slice_ippool_name(const struct ip_net *slice, const char *network_name, const char *node,
			 char buf[WB_NAME_MAX])
{
	struct wb_range r = { .net = *slice };
	_cleanup_free_ char *prefix = network_name && *network_name
					      ? xasprintf("%s-%s", network_name, node)
					      : xstrdup(node);
	return wb_pool_name(&r, prefix, buf);
}

static int bad(const char *nsp, const char *what, struct cni_err *err)
{
	return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG, "NodeSlicePool '%s': %s", nsp, what);
}

static cJSON *nsp_new(const struct wb_conf *c, const char *nsp, const char *ns)
{
	char cidr[IPNET_STR_LEN], size[8];
	wb_range_cidr(&c->ranges[0], cidr);
	(void)snprintf(size, sizeof(size), "/%u", c->slice_prefix);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", WB_API_VERSION);
	cJSON_AddStringToObject(o, "kind", "NodeSlicePool");
	cJSON *m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", nsp);
	cJSON_AddStringToObject(m, "namespace", ns);
	cJSON *s = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(s, "range", cidr);
	cJSON_AddStringToObject(s, "sliceSize", size);
	return o;
}

/* Check obj is the NodeSlicePool of c's range and slice size; return its status.allocations,
 * filled with every slice (no node) when it has none yet. Each entry must be a distinct slice
 * of the range with a string nodeName. */
static int nsp_decode(cJSON *obj, const struct wb_conf *c, const char *nsp, cJSON **ret,
		      struct cni_err *err)
{
	const struct wb_range *rg = &c->ranges[0];
	const cJSON *spec = json_get(obj, "spec");
	const char *range = cJSON_GetStringValue(json_get(spec, "range"));
	const char *size = cJSON_GetStringValue(json_get(spec, "sliceSize"));
	struct ip_net n;
	uint64_t sz;
	if (!range || parse_ipnet(range, &n) < 0 || !size ||
	    parse_u64(size + (*size == '/'), 128, &sz) < 0)
		return bad(nsp, "spec.range or spec.sliceSize is malformed", err);
	ip_net_mask(&n);
	if (n.prefix != rg->net.prefix || !ip_addr_equal(&n.ip, &rg->net.ip) ||
	    sz != c->slice_prefix) {
		char want[IPNET_STR_LEN];
		wb_range_cidr(rg, want);
		return cni_err_set(
			err, CNI_ERR_KUBE_API, EBADMSG,
			"NodeSlicePool '%s': spec (range '%s', sliceSize '%s') is not the "
			"configured range %s and node_slice_size /%u",
			nsp, range, size, want, c->slice_prefix);
	}
	if (!cJSON_IsString(json_get(json_get(obj, "metadata"), "resourceVersion")))
		return bad(nsp, "no metadata.resourceVersion", err);
	cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	if (!cJSON_IsObject(status)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
		status = cJSON_AddObjectToObject(obj, "status");
	}
	cJSON *al = cJSON_GetObjectItemCaseSensitive(status, "allocations");
	if (!cJSON_IsArray(al) || !cJSON_GetArraySize(al)) {
		if (al && !cJSON_IsNull(al) && !cJSON_IsArray(al))
			return bad(nsp, "status.allocations is not a list", err);
		/* Not cut yet (whereabouts' controller cuts it when it runs): every slice, free. */
		cJSON_DeleteItemFromObjectCaseSensitive(status, "allocations");
		al = cJSON_AddArrayToObject(status, "allocations");
		uint64_t total = wb_range_n_slices(rg, c->slice_prefix);
		for (uint64_t i = 0; i < total; i++) {
			struct ip_net s;
			char cidr[IPNET_STR_LEN];
			(void)wb_range_slice(rg, c->slice_prefix, i, &s);
			format_ipnet(&s, cidr);
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "nodeName", "");
			cJSON_AddStringToObject(e, "sliceRange", cidr);
			cJSON_AddItemToArray(al, e);
		}
	}
	size_t count = (size_t)cJSON_GetArraySize(al), i = 0;
	if (count > WB_SLICES_MAX)
		return bad(nsp, "status.allocations lists too many slices", err);
	_cleanup_free_ struct ip_net *seen = xcalloc(count, sizeof(*seen));
	const cJSON *e;
	cJSON_ArrayForEach (e, al) {
		const char *node = cJSON_GetStringValue(json_get(e, "nodeName"));
		const char *sr = cJSON_GetStringValue(json_get(e, "sliceRange"));
		struct ip_net s;
		_cleanup_(wb_range_done) struct wb_range sub = { 0 };
		if (!node || !sr || parse_ipnet(sr, &s) < 0 || s.prefix != c->slice_prefix ||
		    wb_range_sub(rg, &s, &sub) < 0)
			return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG,
					   "NodeSlicePool '%s': status.allocations[%zu] is not a "
					   "slice of the range",
					   nsp, i);
		for (size_t j = 0; j < i; j++)
			if (ip_addr_equal(&seen[j].ip, &s.ip))
				return cni_err_set(err, CNI_ERR_KUBE_API, EBADMSG,
						   "NodeSlicePool '%s': slice '%s' is listed twice",
						   nsp, sr);
		seen[i++] = s;
	}
	*ret = al;
	return 0;
}

/* The slices al gives node. */
static void mine(const cJSON *al, const char *node, struct wb_slices *ret)
{
	*ret = (struct wb_slices){ .nets = xcalloc((size_t)cJSON_GetArraySize(al) + 1,
						   sizeof(*ret->nets)) };
	const cJSON *e;
	cJSON_ArrayForEach (e, al)
		if (!strcmp(cJSON_GetStringValue(json_get(e, "nodeName")), node))
			(void)parse_ipnet(cJSON_GetStringValue(json_get(e, "sliceRange")),
					  &ret->nets[ret->n++]);
}

int wb_slices_decode(cJSON *obj, const struct wb_conf *c, const char *nsp, const char *node,
		     struct wb_slices *ret, struct cni_err *err)
{
	cJSON *al = NULL;
	int r = nsp_decode(obj, c, nsp, &al, err);
	if (r == 0)
		mine(al, node, ret);
	return r;
}

/* Whether slice sr (validated) holds an address range_start/range_end allow: a slice outside
 * them is never claimed. */
static bool usable(const struct wb_conf *c, const char *sr)
{
	struct ip_net n;
	_cleanup_(wb_range_done) struct wb_range sub = { 0 };
	/* raw is in network order: bytewise order is address order. */
	return parse_ipnet(sr, &n) == 0 && wb_range_sub(&c->ranges[0], &n, &sub) == 0 &&
	       memcmp(sub.first.raw, sub.last.raw, ip_family_len(n.ip.family)) <= 0;
}

/* GET the NodeSlicePool; with create, POST it first when absent. */
static int nsp_get(struct wb_api *a, const struct wb_conf *c, const char *nsp, bool create,
		   cJSON **ret, struct cni_err *err)
{
	_cleanup_free_ char *coll = xasprintf(NSP_BASE "%s/nodeslicepools", a->ns);
	_cleanup_free_ char *path = xasprintf("%s/%s", coll, nsp);
	for (unsigned i = 0;; i++) {
		_cleanup_free_ char *body = NULL;
		size_t len = 0;
		int r = wb_api_call(a, "GET", path, NULL, &body, &len, err);
		if (r == 0)
			return json_parse(body, len, "NodeSlicePool", ret, err) < 0 ||
					       !cJSON_IsObject(*ret)
				       ? bad(nsp, "not a JSON object", err)
				       : 0;
		if (r != -ENOENT || !create || i == 2)
			return r;
		_cleanup_json_ cJSON *o = nsp_new(c, nsp, a->ns);
		r = wb_api_call(a, "POST", coll, o, NULL, NULL, err);
		/* AlreadyExists: another node created it first. */
		if (r < 0 && r != -EBUSY)
			return r;
	}
}

int wb_slices_get(struct wb_api *a, const struct wb_conf *c, const char *nsp, const char *node,
		  size_t have, struct wb_slices *ret, struct cni_err *err)
{
	bool read = have == WB_SLICES_READ;
	_cleanup_free_ char *status = xasprintf(NSP_BASE "%s/nodeslicepools/%s/status", a->ns, nsp);
	for (unsigned attempt = 0; attempt < CLAIM_TRIES; attempt++) {
		_cleanup_json_ cJSON *obj = NULL;
		cJSON *al = NULL;
		int r = nsp_get(a, c, nsp, !read, &obj, err);
		if (r == -ENOENT && read) {
			*ret = (struct wb_slices){ 0 };
			return 0;
		}
		if (r < 0 || (r = nsp_decode(obj, c, nsp, &al, err)) < 0)
			return r;
		struct wb_slices s;
		mine(al, node, &s);
		if (read || s.n > have) {
			*ret = s;
			return 0;
		}
		wb_slices_done(&s);
		cJSON *e, *free_e = NULL;
		cJSON_ArrayForEach (e, al)
			if (!free_e && !*cJSON_GetStringValue(json_get(e, "nodeName")) &&
			    usable(c, cJSON_GetStringValue(json_get(e, "sliceRange"))))
				free_e = e;
		if (!free_e) {
			char rs[160];
			wb_range_str(&c->ranges[0], rs, sizeof(rs));
			return cni_err_set(err, CNI_ERR_IPAM, ENOSPC,
					   "whereabouts: no free address in range %s and no free "
					   "node slice of size /%u left (NodeSlicePool '%s')",
					   rs, c->slice_prefix, nsp);
		}
		cJSON_ReplaceItemInObjectCaseSensitive(free_e, "nodeName",
						       cJSON_CreateString(node));
		r = wb_api_call(a, "PUT", status, obj, NULL, NULL, err);
		if (r == -EBUSY) {
			wb_api_backoff(a, attempt);
			continue;
		}
		if (r < 0)
			return r;
		mine(al, node, ret);
		return 0;
	}
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, EBUSY,
			   "whereabouts: NodeSlicePool '%s': still conflicting after %d attempts",
			   nsp, CLAIM_TRIES);
}
