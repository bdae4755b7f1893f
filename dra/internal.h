/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-dra internals shared by main.c, plugin.c, slices.c, prepare.c and checkpoint.c. */
#pragma once

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "device-plugin/config.h"
#include "device-plugin/devices.h"
#include "lib/cni/err.h"

struct kube_config;
struct gr_server;

#define DRA_DEFAULT_DRIVER "sriov.plexus.io"
#define DRA_REGISTRY_DIR "/var/lib/kubelet/plugins_registry"
#define DRA_PLUGINS_DIR "/var/lib/kubelet/plugins"
#define DRA_CDI_DIR "/var/run/cdi"
#define DRA_DEVINFO_DIR "/var/run/k8s.cni.cncf.io/devinfo"
#define DRA_DEFAULT_PREFIX "plexus.io"
/* A ResourceSlice holds at most this many devices (resource.k8s.io/v1 validation). */
#define DRA_SLICE_MAX_DEVICES 128
#define DRA_POOL_NAME_MAX 253

/* One configured pool: its VFs (healthy or not) as last discovered. */
struct dra_pool {
	const struct dp_pool *cfg;	  /* borrowed from dra.cfg */
	char name[DRA_POOL_NAME_MAX + 1]; /* the DRA pool name: "<node>-<resourceName>" lower */
	struct dp_vf *devs;		  /* sorted by BDF */
	int *selector;			  /* index of the selector each VF matched */
	size_t n_devs;
	/* slices.c: what was last published (BDFs of healthy devices, joined), its generation. */
	char *published;
	int64_t generation;
	bool dirty; /* publish again (changed, or the last attempt failed) */
};

/* One device of a claim, as prepare decided it (and the checkpoint keeps it). */
struct dra_dev {
	char request[64]; /* the allocation result's request name */
	char pool[DRA_POOL_NAME_MAX + 1];
	char device[DP_BDF_MAX]; /* "0000-5e-02-1" */
	char bdf[DP_BDF_MAX];
	char resource[DP_NAME_MAX * 2]; /* the pool's "prefix/name", for its device-info file */
	char orig_driver[DP_NAME_MAX];	/* driver before a vfio-pci bind; "" when none was done */
	bool vfio;			/* the claim's config asked for vfio-pci */
	int iommu_group;
};

enum dra_claim_state {
	DRA_PREPARING = 0, /* intent recorded; side effects may be partly done */
	DRA_PREPARED = 1,
};

struct dra_claim {
	char uid[64];
	char ns[64];
	char name[254];
	enum dra_claim_state state;
	struct dra_dev *devs;
	size_t n_devs;
};

struct dra {
	const char *driver, *node, *kubeconfig, *registry_dir, *plugin_dir, *cdi_dir, *devinfo_dir,
		*config_path;
	struct dp_config cfg;
	struct kube_config *kube; /* NULL: no API (tests of the gRPC side only) */

	pthread_mutex_t lock; /* pools[].devs/selector/n_devs: main thread writes, plugin reads */
	struct dra_pool *pools;
	size_t n_pools;
	bool pruned; /* slices.c: stale pools' slices deleted once */

	/* plugin.c: the two gRPC servers and their threads */
	char *reg_sock, *dra_sock;
	struct gr_server *reg_srv, *dra_srv;
	pthread_t reg_thread, dra_thread;
	bool reg_running, dra_running;

	/* checkpoint.c: prepared claims (plugin thread only) */
	char *ckpt_path;
	struct dra_claim *claims;
	size_t n_claims;
};

/* "0000:5e:02.1" -> "0000-5e-02-1" (DNS-label safe); out has DP_BDF_MAX bytes. */
void dra_device_name(const char *bdf, char *out);
/* Pool names from the config and node name; code 7 when one is not a DNS subdomain or two
 * collide. Allocates d->pools. */
int dra_pools_init(struct dra *d, struct cni_err *err);
void dra_pools_free(struct dra *d);

/* api.c: run fn in a short-lived child process, so libcurl is never loaded in the driver
 * itself. fn's output (*ret, malloc'd) comes back as *ret (owned, NUL-terminated; either
 * out-parameter may be NULL) and its error as err. fn must take no lock (it runs in a fork of
 * a threaded process). */
typedef int (*dra_api_fn)(void *arg, char **ret, size_t *ret_len, struct cni_err *err);
int dra_api_run(dra_api_fn fn, void *arg, char **ret, size_t *ret_len, struct cni_err *err);

/* plugin.c: registration socket <registry>/<driver>-reg.sock, DRA socket <plugin>/dra.sock. */
int dra_plugin_start(struct dra *d, struct cni_err *err);
void dra_plugin_stop(struct dra *d);

/* slices.c: publish every dirty pool's ResourceSlices (resource.k8s.io/v1). -errno with err
 * set on the first failure (the pool stays dirty for a retry). */
int dra_slices_publish(struct dra *d, struct cni_err *err);

/* prepare.c: one claim each; err->msg is the per-claim error kubelet gets. Idempotent. */
int dra_prepare(struct dra *d, const char *ns, const char *uid, const char *name,
		const struct dra_claim **ret, struct cni_err *err);
int dra_unprepare(struct dra *d, const char *uid, struct cni_err *err);
/* The claim object's allocation as this driver's devices into c->devs (c->uid set): results
 * of this driver in this node's pools and VFs, opaque config applied and checked. Changes
 * nothing; on error c may hold some devices (dra_claim_done). */
int dra_plan(struct dra *d, const cJSON *claim, struct dra_claim *c, struct cni_err *err);
/* The CDI device ID of a prepared device: "<driver>/vf=<uid>-<device>" (caller frees). */
char *dra_cdi_id(const struct dra *d, const char *uid, const struct dra_dev *dev);
/* CDI's rules for a kind's vendor and class and for device names (as container runtimes
 * check them). */
bool dra_cdi_vendor_ok(const char *s);
bool dra_cdi_class_ok(const char *s);
bool dra_cdi_device_ok(const char *s);

/* checkpoint.c: <plugin-dir>/checkpoint.json, written durably; entries validated on load. */
int dra_ckpt_load(struct dra *d, struct cni_err *err);
/* The checkpoint's text (len bytes, NUL-terminated) into d->claims; on error none are kept. */
int dra_ckpt_parse(struct dra *d, const char *text, size_t len, struct cni_err *err);
int dra_ckpt_save(struct dra *d, struct cni_err *err);
struct dra_claim *dra_ckpt_find(struct dra *d, const char *uid);
/* Add (or replace) the claim (copied) and save; on a failed save the memory state is undone. */
int dra_ckpt_put(struct dra *d, const struct dra_claim *c, struct cni_err *err);
int dra_ckpt_drop(struct dra *d, const char *uid, struct cni_err *err);
void dra_claim_done(struct dra_claim *c);
void dra_ckpt_free(struct dra *d);
