/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-apid's whereabouts reconciler: releases the addresses of pods that are gone
 * (docs/ipam-reclaim.md). */
#pragma once

#include <stdbool.h>

struct cni_err;
struct metrics;

#define RECLAIM_GRACE_S_DEFAULT 300
#define RECLAIM_INTERVAL_S_DEFAULT 60

struct apid_reclaim_opts {
	const char *kubeconfig; /* "" : in-cluster */
	const char *node;	/* this node's name: its pods, its journal, the Lease holder */
	const char *ns;	 /* whereabouts' namespace; NULL: the kubeconfig's, else kube-system */
	long grace_s;	 /* a candidate is released only after this long */
	long interval_s; /* between rounds */
};

/* Check the options (node name set and a valid object name, namespace a valid label); a usage
 * error is printed to stderr and is -EINVAL. */
int apid_reclaim_check(const struct apid_reclaim_opts *o);
/* Load a client of its own and start the reconciler thread (one round per interval until the
 * process exits); its counters go to reg. Code 7 or 5 when the client cannot be loaded. */
int apid_reclaim_start(const struct apid_reclaim_opts *o, struct metrics *reg, struct cni_err *err);
