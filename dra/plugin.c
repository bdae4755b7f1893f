// SPDX-License-Identifier: Apache-2.0
/* kubelet's side of the driver: plugin registration (GetInfo) and the DRAPlugin service. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dra/internal.h"
#include "lib/grpc/proto/dra_v1.pb-c.h"
#include "lib/grpc/proto/pluginregistration_v1.pb-c.h"
#include "lib/grpc/server.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

#define REG_SVC "/pluginregistration.Registration/"
#define DRA_SVC "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/"
/* The service names kubelet may call, newest first (it picks the first it knows). */
#define DRA_VERSION "v1.DRAPlugin"

typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesRequest prep_req;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse prep_resp;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse__ClaimsEntry prep_entry;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourceResponse prep_one;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Device dra_device_msg;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesRequest unprep_req;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse unprep_resp;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse__ClaimsEntry
	unprep_entry;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourceResponse unprep_one;

static int get_info(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		    size_t *ret_len, struct cni_err *err)
{
	struct dra *d = ud;
	Pluginregistration__PluginInfo pi = PLUGINREGISTRATION__PLUGIN_INFO__INIT;
	char *versions[] = { (char *)DRA_VERSION };
	(void)req, (void)req_len, (void)err;
	pi.type = (char *)"DRAPlugin";
	pi.name = (char *)d->driver;
	pi.endpoint = d->dra_sock;
	pi.n_supported_versions = ARRAY_SIZE(versions);
	pi.supported_versions = versions;
	*ret_len = pluginregistration__plugin_info__get_packed_size(&pi);
	*ret_resp = xmalloc(*ret_len);
	(void)pluginregistration__plugin_info__pack(&pi, *ret_resp);
	log_debug("GetInfo: '%s' at '%s'", d->driver, d->dra_sock);
	return 0;
}

static int notify(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp, size_t *ret_len,
		  struct cni_err *err)
{
	(void)ud, (void)ret_resp;
	Pluginregistration__RegistrationStatus *st =
		pluginregistration__registration_status__unpack(NULL, req_len, req);
	if (!st)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "bad RegistrationStatus");
	if (st->plugin_registered)
		log_info("registered with kubelet");
	else
		log_error("kubelet refused the registration: %s", st->error);
	pluginregistration__registration_status__free_unpacked(st, NULL);
	*ret_len = 0;
	return 0;
}

/* The response entry of one prepared claim (strings borrowed from c, IDs owned by ids). */
static void fill_prepared(const struct dra *d, const struct dra_claim *c, prep_one *one,
			  char ***ids_out, dra_device_msg **devs_out)
{
	dra_device_msg *devs = xcalloc(c->n_devs + 1, sizeof(*devs));
	dra_device_msg **pdevs = xcalloc(c->n_devs + 1, sizeof(*pdevs));
	char **ids = xcalloc(2 * c->n_devs + 1, sizeof(*ids));
	for (size_t i = 0; i < c->n_devs; i++) {
		k8s__io__kubelet__pkg__apis__dra__v1__device__init(&devs[i]);
		ids[2 * i] = (char *)c->devs[i].request;
		ids[2 * i + 1] = dra_cdi_id(d, c->uid, &c->devs[i]);
		devs[i].n_request_names = 1;
		devs[i].request_names = &ids[2 * i];
		devs[i].pool_name = (char *)c->devs[i].pool;
		devs[i].device_name = (char *)c->devs[i].device;
		devs[i].n_cdi_device_ids = 1;
		devs[i].cdi_device_ids = &ids[2 * i + 1];
		pdevs[i] = &devs[i];
	}
	one->n_devices = c->n_devs;
	one->devices = pdevs;
	*ids_out = ids;
	*devs_out = devs;
}

static int prepare(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		   size_t *ret_len, struct cni_err *err)
{
	struct dra *d = ud;
	prep_req *pr = k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__unpack(
		NULL, req_len, req);
	if (!pr)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "bad NodePrepareResourcesRequest");
	size_t n = pr->n_claims;
	prep_entry *ents = xcalloc(n + 1, sizeof(*ents));
	prep_entry **pents = xcalloc(n + 1, sizeof(*pents));
	prep_one *ones = xcalloc(n + 1, sizeof(*ones));
	char ***ids = xcalloc(n + 1, sizeof(*ids));
	char **msgs = xcalloc(n + 1, sizeof(*msgs));
	dra_device_msg **blocks = xcalloc(n + 1, sizeof(*blocks));
	/* Every claim gets its own answer: one bad claim does not fail the others. */
	for (size_t i = 0; i < n; i++) {
		const K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim *cl = pr->claims[i];
		struct cni_err e = { 0 };
		const struct dra_claim *c = NULL;
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__claims_entry__init(
			&ents[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resource_response__init(
			&ones[i]);
		ents[i].key = cl->uid;
		ents[i].value = &ones[i];
		pents[i] = &ents[i];
		if (dra_prepare(d, cl->namespace_, cl->uid, cl->name, &c, &e) < 0) {
			msgs[i] = xasprintf("claim '%s/%s': %s", cl->namespace_, cl->name, e.msg);
			ones[i].error = msgs[i];
			log_error("prepare %s", msgs[i]);
			continue;
		}
		fill_prepared(d, c, &ones[i], &ids[i], &blocks[i]);
		log_info("prepared claim '%s/%s' (%zu device(s))", cl->namespace_, cl->name,
			 c->n_devs);
	}
	prep_resp resp =
		K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_PREPARE_RESOURCES_RESPONSE__INIT;
	resp.n_claims = n;
	resp.claims = pents;
	*ret_len =
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__get_packed_size(
			&resp);
	*ret_resp = xmalloc(*ret_len ? *ret_len : 1);
	(void)k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__pack(
		&resp, *ret_resp);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; ids[i] && k < ones[i].n_devices; k++)
			free(ids[i][2 * k + 1]);
		free(blocks[i]);
		free(ones[i].devices);
		free(ids[i]);
		free(msgs[i]);
	}
	free(blocks);
	free(msgs);
	free(ids);
	free(ones);
	free(pents);
	free(ents);
	k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__free_unpacked(pr,
											    NULL);
	return 0;
}

static int unprepare(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		     size_t *ret_len, struct cni_err *err)
{
	struct dra *d = ud;
	unprep_req *ur =
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__unpack(
			NULL, req_len, req);
	if (!ur)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "bad NodeUnprepareResourcesRequest");
	size_t n = ur->n_claims;
	unprep_entry *ents = xcalloc(n + 1, sizeof(*ents));
	unprep_entry **pents = xcalloc(n + 1, sizeof(*pents));
	unprep_one *ones = xcalloc(n + 1, sizeof(*ones));
	char **msgs = xcalloc(n + 1, sizeof(*msgs));
	for (size_t i = 0; i < n; i++) {
		const K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim *cl = ur->claims[i];
		struct cni_err e = { 0 };
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__claims_entry__init(
			&ents[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resource_response__init(
			&ones[i]);
		ents[i].key = cl->uid;
		ents[i].value = &ones[i];
		pents[i] = &ents[i];
		if (dra_unprepare(d, cl->uid, &e) < 0) {
			msgs[i] = xasprintf("claim '%s/%s': %s", cl->namespace_, cl->name, e.msg);
			ones[i].error = msgs[i];
			log_error("unprepare %s", msgs[i]);
		} else {
			log_info("unprepared claim '%s/%s'", cl->namespace_, cl->name);
		}
	}
	unprep_resp resp =
		K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_UNPREPARE_RESOURCES_RESPONSE__INIT;
	resp.n_claims = n;
	resp.claims = pents;
	*ret_len =
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__get_packed_size(
			&resp);
	*ret_resp = xmalloc(*ret_len ? *ret_len : 1);
	(void)k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__pack(
		&resp, *ret_resp);
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(ones);
	free(pents);
	free(ents);
	k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__free_unpacked(ur,
											      NULL);
	return 0;
}

static const struct gr_method reg_methods[] = {
	{ .path = REG_SVC "GetInfo", .unary = get_info },
	{ .path = REG_SVC "NotifyRegistrationStatus", .unary = notify },
};

static const struct gr_method dra_methods[] = {
	{ .path = DRA_SVC "NodePrepareResources", .unary = prepare },
	{ .path = DRA_SVC "NodeUnprepareResources", .unary = unprepare },
};

static void *serve(void *arg)
{
	struct gr_server *srv = arg;
	struct cni_err err = { 0 };
	if (gr_server_run(srv, &err) < 0)
		log_error("server: %s", err.msg);
	return NULL;
}

static int start_one(const char *sock, const struct gr_method *m, size_t n, struct dra *d,
		     struct gr_server **srv, pthread_t *th, bool *running, struct cni_err *err)
{
	int r = gr_server_new(sock, m, n, d, srv, err);
	if (r < 0)
		return r;
	r = pthread_create(th, NULL, serve, *srv);
	if (r) {
		gr_server_free(*srv);
		*srv = NULL;
		return cni_err_set(err, CNI_ERR_INTERNAL, r, "thread: %s", strerror(r));
	}
	*running = true;
	return 0;
}

static void stop_one(struct gr_server **srv, pthread_t th, bool *running)
{
	if (!*running)
		return;
	gr_server_stop(*srv);
	(void)pthread_join(th, NULL);
	gr_server_free(*srv);
	*srv = NULL;
	*running = false;
}

int dra_plugin_start(struct dra *d, struct cni_err *err)
{
	int r = file_mkdir_p(d->plugin_dir, 0750);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "plugin dir '%s': %s", d->plugin_dir,
				   strerror(-r));
	/* The DRA endpoint serves before kubelet can learn about it from GetInfo. */
	r = start_one(d->dra_sock, dra_methods, ARRAY_SIZE(dra_methods), d, &d->dra_srv,
		      &d->dra_thread, &d->dra_running, err);
	if (r >= 0)
		r = start_one(d->reg_sock, reg_methods, ARRAY_SIZE(reg_methods), d, &d->reg_srv,
			      &d->reg_thread, &d->reg_running, err);
	if (r < 0) {
		dra_plugin_stop(d);
		return r;
	}
	log_info("serving '%s' on '%s', registration on '%s'", d->driver, d->dra_sock, d->reg_sock);
	return 0;
}

void dra_plugin_stop(struct dra *d)
{
	/* Registration first: kubelet drops the plugin when its socket goes. */
	stop_one(&d->reg_srv, d->reg_thread, &d->reg_running);
	stop_one(&d->dra_srv, d->dra_thread, &d->dra_running);
}
