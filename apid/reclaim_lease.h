/* SPDX-License-Identifier: Apache-2.0 */
/* The Lease that picks the one node running the reconciler's cluster-wide part. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct kube_config;

#define LEASE_NAME "plexus-whereabouts-reclaim"

struct reclaim_lease {
	const struct kube_config *cfg; /* borrowed; its timeout_ms bounds each request */
	const char *ns, *node;	       /* borrowed: the Lease's namespace, this node's name */
	long duration_s;	       /* leaseDurationSeconds this node writes */
	/* The Lease as last seen while another node held it, and when that changed (this node's
	 * clock: expiry is never judged by comparing the holder's clock with ours). Owned. */
	char *seen_holder, *seen_renew;
	int64_t seen_ms;
};

/* Whether this node holds the Lease now: created when absent, renewed when ours, taken over
 * when its holder and renewTime did not change for its duration. Every write is conditional
 * on the resourceVersion read. Failures are logged and mean false. */
bool reclaim_lease_hold(struct reclaim_lease *l);
