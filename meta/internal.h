/* SPDX-License-Identifier: Apache-2.0 */
/* The meta-plugin's internal API shared by its files: the plan, the intent log, the undo. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "delegates/dlg.h"
#include "lib/cni/cni.h"
#include "meta/conf.h"

#define POD_ANNOTATIONS_KEY "io.kubernetes.cri.pod-annotations"
#define DEFAULT_NETWORK_ANNOTATION "v1.multus-cni.io/default-network"
#define CACHE_MAX (4u << 20)

/* One attachment of the plan; also what the intent log records. */
struct attachment {
	char *name; /* "ns/nad", or the cluster network's name */
	char *ifname;
	bool is_default;
	struct dlg_list list;
	cJSON *cap_args;	/* owned, or NULL */
	cJSON *default_route;	/* owned gateways, or NULL */
	char *device_info_file; /* the attachment's CNI device-info file, or NULL */
	struct cni_result *result;
};

/* Device IDs kubelet allocated to the pod, per resource, handed out in order. */
struct resource_ids {
	char *name;
	char **ids;
	size_t n, next;
};

struct plan {
	struct meta_conf conf;
	const struct cni_ctx *ctx;
	const char *pod_ns, *pod_name;
	char *path; /* CNI_PATH + binDir */
	struct kube_config *kube;
	const cJSON *annotations; /* borrowed from runtimeConfig or pod */
	struct kube_pod *pod;
	struct attachment *att;
	size_t n_att;
	struct resource_ids *res;
	size_t n_res;
};

/* plan.c */
/* Parse the netconf into an empty plan; meta_plan_done must follow either way. */
int meta_plan_init(struct plan *p, const struct cni_ctx *ctx, struct cni_err *err);
void meta_plan_done(struct plan *p);
/* The API client, made on first use. */
int meta_kube(struct plan *p, struct cni_err *err);
/* The pod's annotations: from the runtime when it passes them, else GET pod. */
int meta_plan_annotations(struct plan *p, struct cni_err *err);
/* Append the cluster network (first, as CNI_IFNAME) / the secondaries to the plan. */
int meta_plan_default(struct plan *p, struct cni_err *err);
int meta_plan_secondary(struct plan *p, struct cni_err *err);
/* Append an empty attachment (strings copied); the pointer lives until the next append. */
struct attachment *meta_att_add(struct plan *p, const char *name, const char *ifname,
				bool is_default);
/* The delegate runtime of attachment a (borrows from p and a). */
struct dlg_rt meta_att_rt(const struct plan *p, const struct attachment *a);
/* The rt of a verb that concerns no container (STATUS, GC). */
struct dlg_rt meta_global_rt(const struct plan *p);

/* intent.c */
/* <cniDir>/<containerID>.json, owned. */
char *meta_intent_path(const struct plan *p);
/* An attachment as the intent log and network-status record it. Owned tree. */
cJSON *meta_att_json(const struct attachment *a);
/* Write the intent log with the first attempted attachments marked attempted. */
int meta_intent_write(const struct plan *p, size_t attempted, struct cni_err *err);
/* Append the attempted attachments of an intent log's text to the plan. */
int meta_intent_read(struct plan *p, const char *text, struct cni_err *err);

/* undo.c */
/* Undo the first attempted attachments of the plan, last first. */
void meta_rollback(struct plan *p, size_t attempted);

/* add.c */
int meta_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err);
