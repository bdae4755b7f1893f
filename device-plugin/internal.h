/* SPDX-License-Identifier: Apache-2.0 */
/* Device plugin daemon internals shared by server.c, register.c, health.c and main.c. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "device-plugin/config.h"
#include "device-plugin/devices.h"
#include "device-plugin/devinfo.h"
#include "device-plugin/health.h"
#include "device-plugin/pools.h"
#include "lib/cni/err.h"

struct gr_server;
struct gr_stream;
struct metrics;
struct metrics_family;

#define DP_KUBELET_DIR "/var/lib/kubelet/device-plugins"
#define DP_DEVINFO_DIR "/var/run/k8s.cni.cncf.io/devinfo"
#define DP_DEFAULT_PREFIX "plexus.io"
#define DP_KUBELET_SOCK "kubelet.sock"

/* One open ListAndWatch stream (server thread only) and the generation it last got. */
struct dp_watch {
	struct gr_stream *st;
	uint64_t sent_gen;
};

/* One pool = one kubelet endpoint. devs/gen are written by the main thread under lock and
 * read by the server thread; watches belong to the server thread. */
struct dp_pool_srv {
	const struct dp_pool *pool; /* borrowed from the daemon's config */
	const char *devinfo_dir;    /* borrowed */
	char *sock_path;	    /* <kubelet-dir>/plexus-<resource, '/' -> '_'>.sock */
	char *endpoint;		    /* its file name, what Register sends */
	struct gr_server *srv;
	pthread_t thread;
	bool running;
	bool registered; /* with the kubelet now serving, since the server started */

	pthread_mutex_t lock;
	struct dp_vf *devs; /* VFs of this pool with health, sorted by BDF */
	int *selector;	    /* index of the selector each VF matched */
	size_t n_devs;
	uint64_t gen; /* bumped on every change of devs */

	struct dp_watch *watches;
	size_t n_watches;
};

/* server.c */
/* Create the pool's gRPC server on its socket and start its thread. */
int dp_pool_start(struct dp_pool_srv *ps, struct cni_err *err);
/* Stop the server (open streams end UNAVAILABLE, GOAWAY), join, remove the socket. */
void dp_pool_stop(struct dp_pool_srv *ps);
/* Replace the pool's device list (copied); wakes the server when it changed. */
void dp_pool_publish(struct dp_pool_srv *ps, const struct dp_vf *devs, const int *selector,
		     size_t n);
/* Env var name PCIDEVICE_<PREFIX>_<NAME> for a resource "prefix/name" (caller frees). */
char *dp_env_name(const char *resource);
/* Order `avail` for a request of size n honouring must_include, packing PFs, then NUMA:
 * *ret holds n pointers into avail/must (or fewer when not enough), caller frees the array. */
void dp_prefer(const struct dp_vf *known, size_t n_known, char **avail, size_t n_avail, char **must,
	       size_t n_must, size_t size, char ***ret, size_t *ret_n);

/* metrics.c: the registry and its families (docs/observability.md); thread-safe. */
struct dp_metrics {
	struct metrics *reg;
	struct metrics_family *devices, *healthy, *unhealthy, *allocated, *allocate, *registrations,
		*streams;
};
extern struct dp_metrics dp_mx;
void dp_metrics_setup(void);
/* The pool's device gauges from its published list; creates its counters at 0. */
void dp_metrics_pool(struct dp_pool_srv *ps);
/* Drop the per-pool gauges of pools being replaced (a new config). */
void dp_metrics_forget_pools(void);

/* register.c */
/* Register the pool with kubelet at <kubelet_dir>/kubelet.sock (v1beta1). */
int dp_register(const char *kubelet_dir, const struct dp_pool_srv *ps, struct cni_err *err);
