/* SPDX-License-Identifier: Apache-2.0 */
/* The meta-plugin's internal API shared by its files: the plan, the intent log, the undo. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delegates/dlg.h"
#include "lib/cni/cni.h"
#include "meta/conf.h"

#define POD_ANNOTATIONS_KEY "io.kubernetes.cri.pod-annotations"
#define CACHE_MAX (4u << 20)

/* One attachment of the plan; also what the intent log records. */
struct attachment {
	char *name; /* "ns/nad", or the cluster network's name */
	char *ifname;
	bool is_default;
	struct dlg_list list;
	cJSON *cap_args;	  /* owned, or NULL */
	cJSON *default_route;	  /* owned gateways, or NULL */
	char *device_info_file;	  /* the attachment's CNI device-info file, or NULL */
	char *device_info_source; /* the device plugin's file copied to it, or NULL */
	bool attempted;		  /* its delegates may have run: DEL must undo them */
	struct cni_result *result;
	/* The verb's run of its delegates, for report.c: done, how long, CNI code (0: ok). */
	bool op_done;
	int op_code;
	int64_t op_us;
};

/* Device IDs kubelet allocated to the pod, per resource, handed out in order. */
struct resource_ids {
	char *name;
	char **ids;
	size_t n, next;
};

/* A device of the pod's ResourceClaims that carries k8s.cni.cncf.io/resourceName (claims.c). */
struct claim_dev {
	size_t claim; /* index into plan.claims */
	char *driver, *pool, *device;
	char *resource; /* its k8s.cni.cncf.io/resourceName */
	char *pci;	/* its k8s.cni.cncf.io/deviceID, a checked PCI address */
	long att;	/* index into plan.att of the attachment using it, -1: unused */
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
	bool claims_loaded; /* claims.c: the pod's claims were read (or it has none) */
	cJSON *claims;	    /* the pod's ResourceClaim objects, owned */
	cJSON *slices;	    /* this node's ResourceSliceList, owned, read on first need */
	struct claim_dev *cdev;
	size_t n_cdev;
	struct nad_fetch *fetched; /* prefetch.c */
	size_t n_fetched;
	const char *failed; /* the attachment whose ADD failed (borrowed), or NULL */
	/* Hot-plug: the intent log's plan, whose devices planning keeps and never hands out
	 * again (borrowed), or NULL. */
	const struct plan *prior;
	int64_t events_deadline; /* events.c: 0 until the first Event */
};

/* plan.c */
/* Parse the netconf into an empty plan; meta_plan_done must follow either way. */
int meta_plan_init(struct plan *p, const struct cni_ctx *ctx, struct cni_err *err);
void meta_plan_done(struct plan *p);
/* Free an attachment's members. */
void meta_att_done(struct attachment *a);
/* The readiness indicator file exists (or none is configured); else code, naming it. */
int meta_plan_ready(const struct plan *p, int code, struct cni_err *err);
/* meta_kube's result when no API is configured (no kubeconfig, no in-cluster environment):
 * plexus runs outside Kubernetes, from confDir only (docs/meta.md, "Without Kubernetes"). */
#define META_NO_API 1
/* The API client, made on first use: 0, META_NO_API (p->kube stays NULL), or < 0 when the
 * configured API cannot be loaded (a named kubeconfig that does not load is an error). */
int meta_kube(struct plan *p, struct cni_err *err);
/* The pod's annotations: from the runtime when it passes them, else GET pod. */
int meta_plan_annotations(struct plan *p, struct cni_err *err);
/* Append the cluster network (first, as CNI_IFNAME) / the secondaries to the plan. */
int meta_plan_default(struct plan *p, struct cni_err *err);
int meta_plan_secondary(struct plan *p, struct cni_err *err);
/* Append an empty attachment (strings copied); the pointer lives until the next append. */
struct attachment *meta_att_add(struct plan *p, const char *name, const char *ifname,
				bool is_default);
/* <deviceInfoDir>/cni/<name with '/' as '-'>-<containerID>_<ifname>, owned. */
char *meta_device_info_path(const struct plan *p, const char *name, const char *ifname);
/* Copy a's device-plugin file to its own device-info file (nothing when it has none). */
int meta_device_info_copy(const struct attachment *a, struct cni_err *err);
/* The delegate runtime of attachment a (borrows from p and a). */
struct dlg_rt meta_att_rt(const struct plan *p, const struct attachment *a);
/* The rt of a verb that concerns no container (STATUS, GC). */
struct dlg_rt meta_global_rt(const struct plan *p);

/* intent.c */
/* The quarantine suffix of a damaged intent log: "<cniDir>/<containerID>.json.corrupt". */
#define META_INTENT_CORRUPT ".corrupt"
enum meta_intent {
	META_INTENT_NONE,    /* no log: nothing was attempted (or DEL already ran) */
	META_INTENT_OK,	     /* every entry valid */
	META_INTENT_DAMAGED, /* unreadable, undecodable, or some entries invalid */
};
/* <cniDir>/<containerID>.json, owned. */
char *meta_intent_path(const struct plan *p);
/* An attachment as the intent log and network-status record it. Owned tree. */
cJSON *meta_att_json(const struct attachment *a);
/* Write the intent log with each attachment's attempted flag, atomically; durable: also
 * fsync'ed (file and cniDir) so that a power loss cannot lose or empty it. */
int meta_intent_write(const struct plan *p, bool durable, struct cni_err *err);
/* Validate an intent log's text for p's container and append its valid entries to p. Returns
 * 0 (all valid), the number of invalid entries (skipped and logged; err names the first), or
 * < 0 when the log as a whole is unusable (code 6, nothing appended). */
int meta_intent_parse(struct plan *p, const char *text, size_t len, struct cni_err *err);
/* Read and validate p's intent log into p; err says why when DAMAGED. */
enum meta_intent meta_intent_load(struct plan *p, struct cni_err *err);
/* Move a damaged log aside (META_INTENT_CORRUPT, replacing an older one) with a warning, so
 * it never blocks a DEL again; removed when it cannot be moved. */
void meta_intent_quarantine(const struct plan *p, const char *why);
/* Remove p's intent log and its temp files. */
void meta_intent_remove(const struct plan *p);

/* lock.c: the per-pod lock, "<cniDir>/<containerID>.lock" (docs/hotplug.md) */
#define META_LOCK_SUFFIX ".lock"
/* Take p's container's lock (creating cniDir and the file), waiting for it or, without wait,
 * failing with code 11 (EBUSY) while another verb holds it. *ret_fd holds it until closed. */
int meta_lock(const struct plan *p, bool wait, int *ret_fd, struct cni_err *err);
/* Remove the lock file while fd (from meta_lock, or -1: nothing) still holds it, when the
 * container has no intent log (any more). */
void meta_lock_remove(const struct plan *p, int fd);

/* report.c */
/* Record that a's delegates ran for the verb since t0_us (clock_now_us) with result r/err. */
void meta_report_op(struct attachment *a, int64_t t0_us, int r, const struct cni_err *err);
/* Send the verb's report of every attachment with op_done to plexus-apid: one datagram to
 * metrics.sock beside apiRelay, never waited for; lost when nobody receives it. */
void meta_report_send(const struct plan *p, const char *verb);

/* undo.c */
/* Undo p's attachments, last first: DEL of the attempted ones' delegates with their cached
 * results, removal of every recorded device-info file (and its temp files); by_convention adds
 * what can be found without a plan (every non-loopback link in the pod netns, the container's
 * device-info files). Keeps going past failures and returns the first (err). */
int meta_undo(struct plan *p, bool by_convention, struct cni_err *err);
/* meta_undo, then remove the intent log unless that failed with retryDeleteOnError. */
int meta_undo_container(struct plan *p, bool by_convention, struct cni_err *err);

/* parallel.c */
/* Run fn(ctx, i) for every i < n on up to max threads, the caller's included (fewer when a
 * thread cannot be made); with stop_on_error none starts after one returned < 0. */
void meta_pool_run(size_t n, size_t max, int (*fn)(void *ctx, size_t i), void *ctx,
		   bool stop_on_error);
/* What one attachment's run in a batch gave: whether it ran, its value and error. */
struct meta_batch_out {
	bool ran;
	int r;
	struct cni_err err;
};
typedef int (*meta_att_fn)(struct plan *p, struct attachment *a, struct cni_err *err);
/* How many of the attachments idx[0..n) (indices into p->att, in the order they are to run)
 * may run together from the first on: up to the first one that shares an address pool with an
 * earlier one (same network name or IPAM configuration: its address then depends on the
 * order), and one when maxParallelAttachments is 1. */
size_t meta_batch_len(const struct plan *p, const size_t *idx, size_t n);
/* Run fn for each attachment idx[0..n) on up to maxParallelAttachments threads (the caller's
 * included), results in out[] indexed like p->att. fn may touch only its attachment. With
 * stop_on_error, none is started after one failed. Returns when all started ones are done. */
void meta_batch_run(struct plan *p, const size_t *idx, size_t n, meta_att_fn fn, bool stop_on_error,
		    struct meta_batch_out *out);

/* events.c: pod Events, best effort (failures are logged, never returned) */
/* One Normal AddedInterface per attachment of p, Multus's message shape. */
void meta_events_added(struct plan *p);
/* One Warning for the failed ADD: the network (may be NULL), err's code and message. */
void meta_events_failed(struct plan *p, const char *network, const struct cni_err *err);
/* One Warning with reason (one kube_event_reason_ok accepts) and text. */
void meta_events_warning(struct plan *p, const char *reason, const char *text);
/* Remove the direct-mode Event state files idle for an hour (<cniDir>/events). */
void meta_events_sweep(const struct plan *p);

/* prefetch.c */
struct meta_selection;
struct kube_nad;
/* GET the NADs of *sel[0..n) (the first n_node are defaultNetworks: no namespace isolation) on
 * up to maxParallelAttachments threads, each once, keeping each answer for meta_nad_fetched.
 * Nothing when there is no API client yet, one NAD, or maxParallelAttachments is 1. */
void meta_nads_prefetch(struct plan *p, struct meta_selection *const *sel, size_t n, size_t n_node);
/* The prefetched answer for ns/name, or NULL (then planning asks the API itself). */
struct nad_fetch *meta_nad_fetched(const struct plan *p, const char *ns, const char *name);
/* Its NAD (borrowed from p) or its error, as kube_nad_get gave them. */
int meta_nad_fetched_get(struct nad_fetch *f, const struct kube_nad **ret, struct cni_err *err);
void meta_nads_fetched_free(struct plan *p);

/* claims.c (docs/dra.md, "The meta-plugin and claims") */
/* meta_claims_device's answer when the pod's claims hold no device for the resource. */
#define META_CLAIMS_NONE 1
/* The next unused device of resource among the pod's allocated claims (their ResourceSlice
 * devices' k8s.cni.cncf.io/resourceName), now used by attachment att: 0 with *ret (its PCI
 * address, borrowed from p), META_CLAIMS_NONE (then PodResources decides), or < 0 when a
 * claim of the pod is unusable (not reserved for it, a device not on this node's slices). */
int meta_claims_device(struct plan *p, size_t att, const char *resource, const char **ret,
		       struct cni_err *err);
/* Write status.devices (networkData, a Ready condition) of every claim device an attachment
 * used. Best effort: failures are logged, never returned. */
void meta_claims_status(struct plan *p);
void meta_claims_done(struct plan *p);

/* add.c */
int meta_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err);
/* Attach p->att[idx[0..n)] in batches, each marked attempted in one intent-log write before it
 * runs; none starts after one failed (its error, p->failed naming it). The caller undoes. */
int meta_attach(struct plan *p, const size_t *idx, size_t n, struct cni_err *err);
/* The selection's default-route (NPWG network-attachment spec), in the pod and the results. */
int meta_default_route(struct plan *p, struct cni_err *err);
/* PATCH network-status from p's attachments; a failure is *ret and err only with
 * failOnStatusPatchError, else a warning. */
void meta_patch_status(struct plan *p, struct cni_err *err, int *ret);

/* hotplug.c */
/* The hot-plug entry point (plexus --hotplug, docs/hotplug.md): its ADD reconciles a running
 * pod's secondary networks with its annotation. */
extern const struct cni_plugin meta_hotplug_plugin;
