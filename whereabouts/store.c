// SPDX-License-Identifier: Apache-2.0
/* whereabouts objects on the Kubernetes API: pools by optimistic concurrency, address claims. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/relay.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "whereabouts/internal.h"

#define WB_BASE "/apis/" WB_API_VERSION "/namespaces/"
/* Creating a pool races other nodes' creations at most this often before it is there. */
#define CREATE_TRIES 4

const struct kube_transport_ops *wb_test_ops;
void *wb_test_ops_data;

int wb_api_open(const struct wb_conf *c, struct wb_api *ret, struct cni_err *err)
{
	struct kube_config *cfg = NULL;
	int r = kube_config_load(c->kubeconfig, &cfg, err);
	if (r < 0)
		return cni_err_wrap(err, "whereabouts: kubernetes client");
	cfg->timeout_ms = c->timeout_ms;
	if (c->api_relay) {
		cfg->ops = &kube_relay_ops;
		cfg->ops_data = c->api_relay;
	}
	if (wb_test_ops) {
		cfg->ops = wb_test_ops;
		cfg->ops_data = wb_test_ops_data;
	}
	*ret = (struct wb_api){
		.cfg = cfg,
		/* whereabouts keeps its objects in its kubeconfig context's namespace, else
		 * kube-system. */
		.ns = c->kubeconfig && cfg->namespace && *cfg->namespace ? cfg->namespace
									 : WB_NAMESPACE_DEFAULT,
		.deadline_ms = clock_now_ms() + c->timeout_ms,
		.seed = (uint64_t)clock_now_us() ^ ((uint64_t)getpid() << 32),
	};
	return 0;
}

void wb_api_close(struct wb_api *a)
{
	kube_config_free(a->cfg);
	a->cfg = NULL;
}

int wb_api_left(struct wb_api *a, const char *what, struct cni_err *err)
{
	int64_t left = a->deadline_ms - clock_now_ms();
	if (left <= 0)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
				   "whereabouts: %s: no time left within apiTimeoutMs", what);
	return (int)(left > INT32_MAX ? INT32_MAX : left);
}

void wb_api_backoff(struct wb_api *a, unsigned n)
{
	/* xorshift64: jitter only, not a secret. */
	a->seed ^= a->seed << 13;
	a->seed ^= a->seed >> 7;
	a->seed ^= a->seed << 17;
	long cap = 5L << (n < 6 ? n : 6); /* 5 ms doubling to 320 ms */
	long ms = cap / 2 + (long)(a->seed % (uint64_t)cap);
	int64_t left = a->deadline_ms - clock_now_ms();
	if (ms > left)
		ms = left > 0 ? (long)left : 0;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int wb_api_call(struct wb_api *a, const char *method, const char *path, const cJSON *body,
		char **ret, size_t *ret_len, struct cni_err *err)
{
	_cleanup_free_ char *what = xasprintf("%s %s", method, path);
	int left = wb_api_left(a, what, err);
	if (left < 0)
		return left;
	a->cfg->timeout_ms = left;
	if (strcmp(method, "GET") != 0)
		a->writes++;
	return kube_request_json(a->cfg, method, path, body, ret, ret_len, err);
}

int wb_api_get_pool(struct wb_api *a, const struct wb_range *r, const char *name, bool create,
		    struct wb_pool *ret, struct cni_err *err)
{
	_cleanup_free_ char *path = xasprintf(WB_BASE "%s/ippools/%s", a->ns, name);
	_cleanup_free_ char *coll = xasprintf(WB_BASE "%s/ippools", a->ns);
	for (unsigned i = 0;; i++) {
		_cleanup_free_ char *body = NULL;
		size_t len = 0;
		int rc = wb_api_call(a, "GET", path, NULL, &body, &len, err);
		if (rc == 0)
			return wb_pool_decode(body, len, r, ret, err);
		if (rc != -ENOENT || !create || i == CREATE_TRIES)
			return rc;
		_cleanup_json_ cJSON *pool = wb_pool_new(name, a->ns, r);
		if (a->slice_node) {
			cJSON *l = cJSON_AddObjectToObject(
				cJSON_GetObjectItemCaseSensitive(pool, "metadata"), "labels");
			cJSON_AddStringToObject(l, WB_SLICE_LABEL, a->slice_node);
		}
		rc = wb_api_call(a, "POST", coll, pool, NULL, NULL, err);
		/* AlreadyExists: another node created it first; read theirs. */
		if (rc < 0 && rc != -EBUSY)
			return rc;
	}
}

int wb_api_put_pool(struct wb_api *a, const char *name, const struct wb_pool *p,
		    struct cni_err *err)
{
	_cleanup_free_ char *path = xasprintf(WB_BASE "%s/ippools/%s", a->ns, name);
	return wb_api_call(a, "PUT", path, p->obj, NULL, NULL, err);
}

static int orip_get(struct wb_api *a, const char *path, cJSON **obj, const char **id,
		    const char **podref, const char **ifname, struct cni_err *err)
{
	_cleanup_free_ char *body = NULL;
	size_t len = 0;
	int rc = wb_api_call(a, "GET", path, NULL, &body, &len, err);
	if (rc < 0)
		return rc;
	return wb_orip_decode(body, len, obj, id, podref, ifname, err);
}

/* A claim is (containerid, ifname)'s; whereabouts before ifnames wrote none. */
static bool owned(const char *cid, const char *cif, const char *id, const char *ifname)
{
	return !strcmp(cid, id) && (!*cif || !strcmp(cif, ifname));
}

int wb_api_claim_ip(struct wb_api *a, const struct ip_addr *ip, const char *network, const char *id,
		    const char *podref, const char *ifname, bool maybe_ours, struct cni_err *err)
{
	char name[WB_NAME_MAX];
	if (wb_orip_name(ip, network, name) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "ipam.network_name: no valid reservation name");
	_cleanup_free_ char *coll = xasprintf(WB_BASE "%s/overlappingrangeipreservations", a->ns);
	_cleanup_free_ char *path = xasprintf("%s/%s", coll, name);
	_cleanup_json_ cJSON *o = wb_orip_new(name, a->ns, id, podref, ifname);
	int rc = wb_api_call(a, "POST", coll, o, NULL, NULL, err);
	if (rc != -EBUSY)
		return rc < 0 ? rc : 1;
	if (!maybe_ours)
		return 0;
	_cleanup_json_ cJSON *cur = NULL;
	const char *cid, *cref, *cif;
	rc = orip_get(a, path, &cur, &cid, &cref, &cif, err);
	if (rc == -ENOENT)
		return 0; /* released meanwhile: the caller picks again */
	if (rc < 0)
		return rc;
	/* Ours already: an ADD retried, or one killed after its claim. */
	if (owned(cid, cif, id, ifname))
		return 1;
	if (strcmp(cref, podref) != 0 || strcmp(cif, ifname) != 0)
		return 0;
	/* The same pod's interface in a new sandbox: whereabouts hands it the same address,
	 * so the claim moves to the new container (a conflict: the caller tries again). */
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(cur, "spec");
	cJSON_ReplaceItemInObjectCaseSensitive(spec, "containerid", cJSON_CreateString(id));
	rc = wb_api_call(a, "PUT", path, cur, NULL, NULL, err);
	return rc < 0 ? rc : 1;
}

int wb_api_release_ip(struct wb_api *a, const struct ip_addr *ip, const char *network,
		      const char *id, const char *ifname, struct cni_err *err)
{
	char name[WB_NAME_MAX];
	if (wb_orip_name(ip, network, name) < 0)
		return 0;
	_cleanup_free_ char *path =
		xasprintf(WB_BASE "%s/overlappingrangeipreservations/%s", a->ns, name);
	_cleanup_json_ cJSON *cur = NULL;
	const char *cid, *cref, *cif;
	int rc = orip_get(a, path, &cur, &cid, &cref, &cif, err);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	/* Another pod's claim of the same address (another range, or a later ADD). */
	if (!owned(cid, cif, id, ifname))
		return 0;
	rc = wb_api_call(a, "DELETE", path, NULL, NULL, NULL, err);
	return rc == -ENOENT ? 0 : rc;
}
