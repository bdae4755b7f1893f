// SPDX-License-Identifier: Apache-2.0
/* The device plugin's metrics (docs/observability.md), labelled by pool (its resource name). */
#include "device-plugin/internal.h"
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"

struct dp_metrics dp_mx;

static const char *const resource_label[] = { "resource", NULL };
static const char *const result_labels[] = { "resource", "result", NULL };

void dp_metrics_setup(void)
{
	dp_mx.reg = metrics_new();
	dp_mx.devices = metrics_family(dp_mx.reg, METRICS_GAUGE, "plexus_device_plugin_devices",
				       "Devices advertised in the pool", resource_label, NULL, 0);
	dp_mx.healthy =
		metrics_family(dp_mx.reg, METRICS_GAUGE, "plexus_device_plugin_devices_healthy",
			       "Devices of the pool advertised Healthy", resource_label, NULL, 0);
	dp_mx.unhealthy =
		metrics_family(dp_mx.reg, METRICS_GAUGE, "plexus_device_plugin_devices_unhealthy",
			       "Devices of the pool advertised Unhealthy", resource_label, NULL, 0);
	dp_mx.allocated = metrics_family(
		dp_mx.reg, METRICS_COUNTER, "plexus_device_plugin_allocated_devices_total",
		"Devices handed to containers by successful Allocate calls", resource_label, NULL,
		0);
	dp_mx.allocate = metrics_family(
		dp_mx.reg, METRICS_COUNTER, "plexus_device_plugin_allocate_requests_total",
		"Allocate calls from kubelet by result (ok, error)", result_labels, NULL, 0);
	dp_mx.registrations = metrics_family(
		dp_mx.reg, METRICS_COUNTER, "plexus_device_plugin_registrations_total",
		"Registrations with kubelet by result (ok, error)", result_labels, NULL, 0);
	dp_mx.streams = metrics_family(
		dp_mx.reg, METRICS_GAUGE, "plexus_device_plugin_list_and_watch_streams",
		"Open ListAndWatch streams of the pool", resource_label, NULL, 0);
}

void dp_metrics_pool(struct dp_pool_srv *ps)
{
	const char *res = ps->pool->resource;
	size_t healthy = 0;
	(void)pthread_mutex_lock(&ps->lock);
	size_t n = ps->n_devs;
	for (size_t i = 0; i < n; i++)
		healthy += ps->devs[i].healthy;
	(void)pthread_mutex_unlock(&ps->lock);
	metrics_set(dp_mx.devices, (double)n, res);
	metrics_set(dp_mx.healthy, (double)healthy, res);
	metrics_set(dp_mx.unhealthy, (double)(n - healthy), res);
	/* Present from the start, so that rate() sees the first one. */
	metrics_add(dp_mx.allocated, 0, res);
	metrics_add(dp_mx.allocate, 0, res, "ok");
	metrics_add(dp_mx.allocate, 0, res, "error");
	metrics_add(dp_mx.registrations, 0, res, "ok");
	metrics_add(dp_mx.registrations, 0, res, "error");
	metrics_add(dp_mx.streams, 0, res);
}

void dp_metrics_forget_pools(void)
{
	metrics_clear(dp_mx.devices);
	metrics_clear(dp_mx.healthy);
	metrics_clear(dp_mx.unhealthy);
	metrics_clear(dp_mx.streams);
}
