/* SPDX-License-Identifier: Apache-2.0 */
/* SR-IOV VF discovery from (root-prefixed) sysfs: PFs with sriov_numvfs > 0 and their VFs. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/cni/err.h"

#define DP_BDF_MAX 16 /* "0000:00:00.0" + NUL, with room to spare */
#define DP_NAME_MAX 64

/* One VF as sysfs describes it. Plain data (no pointers): copied freely between threads. */
struct dp_vf {
	char bdf[DP_BDF_MAX];
	char pf_bdf[DP_BDF_MAX];
	char vendor[8]; /* "8086": lower-case hex without 0x */
	char device[8];
	char driver[DP_NAME_MAX]; /* "" when unbound */
	char ifname[IFNAMSIZ];	  /* "" when the VF has no netdev */
	char pf_ifname[IFNAMSIZ]; /* "" when the PF has no netdev */
	char link_type[16];	  /* "ether", "infiniband", other ARPHRD number, "" unknown */
	int vf_index;		  /* N of the PF's virtfnN */
	int numa_node;		  /* -1: none */
	int iommu_group;	  /* -1: none */
	bool rdma;		  /* the VF has an infiniband/ directory (RDMA capable) */
	bool healthy;		  /* filled by health tracking, not by discovery */
};

/*
 * Walk <root>/sys/bus/pci/devices and return every VF of every PF with sriov_numvfs > 0,
 * sorted by BDF, skipping PFs whose netdev is skip_pf_ifname (the default-route carrier; NULL
 * or "" skips none). *ret (caller frees; NULL when n is 0) and *ret_n. A PF with unreadable
 * entries is skipped with a debug log; only a missing devices directory fails (code 104).
 */
int dp_discover(const char *skip_pf_ifname, struct dp_vf **ret, size_t *ret_n, struct cni_err *err);
/* Human-readable "vendor device" name from libpci's ID database (no device access), for
 * logging; buf is always NUL-terminated. */
const char *dp_pci_name(const struct dp_vf *vf, char *buf, size_t size);
/* Whether the VF's driver is a userspace (DPDK) one: vfio-pci, igb_uio, uio_pci_generic. */
bool dp_driver_is_vfio(const struct dp_vf *vf);
bool dp_driver_is_uio(const struct dp_vf *vf);
