/* SPDX-License-Identifier: Apache-2.0 */
/* Pool configuration: sriov-network-device-plugin's resourceList JSON, and VF matching. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "device-plugin/devices.h"
#include "lib/cni/err.h"

/* Selector fields present in a selector object (a given field must match; absent ones don't). */
enum {
	DP_SEL_VENDORS = 1 << 0,
	DP_SEL_DEVICES = 1 << 1,
	DP_SEL_DRIVERS = 1 << 2,
	DP_SEL_PCI_ADDRESSES = 1 << 3,
	DP_SEL_PF_NAMES = 1 << 4,
	DP_SEL_ROOT_DEVICES = 1 << 5,
	DP_SEL_LINK_TYPES = 1 << 6,
	DP_SEL_IS_RDMA = 1 << 7,
};

struct dp_range {
	int lo, hi; /* inclusive VF indexes */
};

/* "ens1f0" or "ens1f0#0-3,7" (pfNames), "0000:03:00.0#0-1" (rootDevices). */
struct dp_pf_ref {
	char *name;
	struct dp_range *ranges; /* NULL (n_ranges 0): every VF */
	size_t n_ranges;
};

struct dp_selector {
	unsigned int has;
	char **vendors, **devices, **drivers, **pci_addresses, **link_types; /* NULL-terminated */
	struct dp_pf_ref *pf_names, *root_devices;
	size_t n_pf_names, n_root_devices;
	bool is_rdma;
	bool need_vhost_net; /* not a filter: Allocate adds /dev/vhost-net and /dev/net/tun */
};

struct dp_pool {
	char *name;		       /* resourceName */
	char *prefix;		       /* resourcePrefix, or the default */
	char *resource;		       /* "prefix/name", what kubelet sees */
	bool exclude_topology;	       /* no NUMA topology in ListAndWatch */
	struct dp_selector *selectors; /* ordered: a VF matches if any selector matches */
	size_t n_selectors;
};

struct dp_config {
	struct dp_pool *pools;
	size_t n_pools;
};

/*
 * Parse the resourceList JSON (text need not be NUL-terminated). Pools without
 * resourcePrefix get default_prefix. Errors: code 6 for bad JSON, code 7 naming the path
 * ("resourceList[0].selectors[1].pfNames[0]: bad VF range '3-1'"). *ret is filled only on
 * success; free it with dp_config_done().
 */
int dp_config_parse(const char *text, size_t len, const char *default_prefix, struct dp_config *ret,
		    struct cni_err *err);
/* Read and parse the file at path (errors are prefixed with the path). */
int dp_config_load(const char *path, const char *default_prefix, struct dp_config *ret,
		   struct cni_err *err);
void dp_config_done(struct dp_config *cfg);

/* Whether vf matches the selector (every given field matches). */
bool dp_selector_match(const struct dp_selector *sel, const struct dp_vf *vf);
/* Index of the first selector of pool matching vf, or -1. */
int dp_pool_match(const struct dp_pool *pool, const struct dp_vf *vf);
