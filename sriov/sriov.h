/* SPDX-License-Identifier: Apache-2.0 */
/* The SR-IOV VF plugin: netconf, sysfs resolution, PF backends and saved state (see
 * docs/sriov.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/cni.h"
#include "lib/net/vf.h"
#include "lib/util/parse.h"

/* Presence of optional keys, so that "unset" and "zero" stay distinct. */
enum {
	SRIOV_HAS_VLAN = 1 << 0,
	SRIOV_HAS_MAC = 1 << 1,
	SRIOV_HAS_SPOOFCHK = 1 << 2,
	SRIOV_HAS_TRUST = 1 << 3,
	SRIOV_HAS_LINK_STATE = 1 << 4,
	SRIOV_HAS_MIN_RATE = 1 << 5,
	SRIOV_HAS_MAX_RATE = 1 << 6,
	SRIOV_HAS_MTU = 1 << 7,
};

#define SRIOV_BDF_LEN 13 /* "dddd:bb:dd.f" + NUL */

struct sriov_conf {
	char device_id[SRIOV_BDF_LEN]; /* VF PCI address, lower case */
	unsigned has;		       /* SRIOV_HAS_* */
	uint32_t vlan, vlan_qos;       /* 0 when unset: the VLAN is always applied (reference) */
	uint16_t vlan_proto;	       /* ETH_P_8021Q (default) or ETH_P_8021AD, host order */
	uint8_t mac[MAC_LEN];
	bool spoofchk, trust;
	uint32_t link_state; /* NET_VF_LINK_* */
	uint32_t min_tx_rate, max_tx_rate;
	uint32_t mtu;
	const char *device_info_file; /* runtimeConfig.CNIDeviceInfoFile, borrowed, or NULL */
};

/* Parse and validate the sriov keys of ctx->conf (plus CNI_ARGS MAC= and runtimeConfig).
 * Pure. Errors name the field: code 7 (code 4 for CNI_ARGS MAC=). */
int sriov_conf_parse(const struct cni_ctx *ctx, struct sriov_conf *ret, struct cni_err *err);
/* The VF state the conf asks for on top of cur (fields the conf leaves alone keep cur's value);
 * *ret_mask is the NET_VF_* set to apply. */
void sriov_conf_wanted(const struct sriov_conf *c, const struct net_vf_state *cur,
		       struct net_vf_state *ret, unsigned *ret_mask);

/* A VF as found in sysfs (all paths through PLEXUS_SYSFS_ROOT). Strings owned. */
struct sriov_vf {
	char bdf[SRIOV_BDF_LEN];
	char pf_bdf[SRIOV_BDF_LEN];
	char *pf_ifname; /* PF netdev (physfn/net/<name>), NULL when it has none */
	uint32_t index;	 /* N of the PF's virtfnN link pointing at the VF */
	char *ifname;	 /* VF netdev in this netns (net/<name>), NULL when none */
	char *driver;	 /* bound driver, NULL when unbound */
	bool dpdk;	 /* driver is vfio-pci, igb_uio or uio_pci_generic */
};

/* Resolve bdf: missing device, missing physfn or virtfn link -> code 7 naming deviceID; with
 * need_netdev, no netdev and a non-DPDK driver (or none) -> code 7 too (DEL passes false: the
 * netdev is in the pod). Free with sriov_vf_done. */
int sriov_vf_locate(const char *bdf, bool need_netdev, struct sriov_vf *ret, struct cni_err *err);
/* Only the netdev name (for DEL, the VF may be back under a kernel name devN). 0 with *ret
 * (caller frees), -ENOENT when net/ is empty or missing. */
int sriov_vf_netdev(const char *bdf, char **ret);
void sriov_vf_done(struct sriov_vf *vf);
bool sriov_driver_is_dpdk(const char *driver);

/* PF-side operations on one VF. The netlink backend talks to the kernel; the file backend is
 * chosen only for fake sysfs trees (root != "/") whose PF directory holds plexus-fake-pf.json
 * (a file real sysfs cannot contain) and records every change there. */
struct sriov_pf_ops {
	const char *name;
	int (*get)(const struct sriov_vf *vf, struct net_vf_state *ret, struct cni_err *err);
	int (*set)(const struct sriov_vf *vf, unsigned mask, const struct net_vf_state *s,
		   struct cni_err *err);
};
const struct sriov_pf_ops *sriov_pf_ops_for(const struct sriov_vf *vf);

/* Saved per attachment: what ADD found and what it set about to change. ADD writes it before
 * each step that changes something (intent first), so DEL can undo an ADD killed anywhere. */
struct sriov_cache {
	char device_id[SRIOV_BDF_LEN];
	bool dpdk;
	char *host_ifname;	   /* original VF netdev name, NULL in DPDK mode */
	uint8_t host_mac[MAC_LEN]; /* original effective (netdev) MAC */
	uint32_t host_mtu;
	char *host_kind;	  /* IFLA_INFO_KIND of the netdev (NULL for a real VF: none) */
	int host_ifindex;	  /* the netdev's ifindex in the host before ADD */
	struct net_vf_state orig; /* PF view before ADD */
	unsigned applied;	  /* NET_VF_* that ADD set or was about to set */
	bool moved;		  /* ADD started moving the netdev into the pod */
	int pod_ifindex;	  /* the netdev's ifindex in the pod netns, 0 until known */
	char *device_info_file;	  /* written (or about to be) by ADD, or NULL */
};
void sriov_cache_done(struct sriov_cache *c);
/* <state>/<containerID>-<ifname>.json and its copy in the allocation record <state>/pci/<bdf>
 * (plus the key "netns": ctx->netns_path), each replaced crash-safe (fsync'd temp file, rename,
 * fsync'd directory). Load: the cache, else (absent or not decoding) the allocation record that
 * names ctx's container and ifname; -ENOENT when neither exists, a decode error (code 6) when
 * the cache is corrupt and no record stands in. */
int sriov_cache_save(const struct cni_ctx *ctx, const struct sriov_cache *c, struct cni_err *err);
int sriov_cache_load(const struct cni_ctx *ctx, struct sriov_cache *ret, struct cni_err *err);
void sriov_cache_remove(const struct cni_ctx *ctx);
/* Rename a cache that does not decode to <...>.json.corrupt: kept for the operator, out of the
 * way of the next DEL. */
void sriov_cache_quarantine(const struct cni_ctx *ctx);
/* Per-VF flock on <state>/<bdf>.lock: returns the fd holding it (close to release). */
int sriov_lock(const char *bdf, int *ret_fd, struct cni_err *err);
/* Allocation record <state>/pci/<bdf> (written by sriov_cache_save). Check: a record whose netns
 * ("netns", or the whole file in the plain-path form of older versions) still exists -> code
 * 104 "pci address X is already allocated"; a stale or unreadable one is ignored. */
int sriov_alloc_check(const char *bdf, struct cni_err *err);
void sriov_alloc_drop(const char *bdf);
/* Remove a record file and any temp file a killed write left next to it (writers hold the VF
 * lock). */
void sriov_record_remove(const char *path);
/* The stale allocation of bdf (sriov_alloc_check: its pod's netns is gone) by another
 * attachment than ctx's, when its record decodes: 1 with that attachment's record (owned) and
 * its cache's path (owned); else 0. Its pod's changes are still on the VF, so its original
 * state is the VF's real original: a new ADD takes it over, and that cache goes. */
int sriov_alloc_stale(const char *bdf, const struct cni_ctx *ctx, struct sriov_cache *ret,
		      char **ret_cache_path);
/* Whether bdf's allocation record names another attachment than ctx's: the VF went to another
 * pod after this one's netns was gone (sriov_alloc_check), so this DEL must not touch it. An
 * absent, old-form or unreadable record is not proof of that: false. */
bool sriov_alloc_taken_over(const char *bdf, const struct cni_ctx *ctx);

/* Netdev moves (sriov/move.c). In the pod netns: CNI_IFNAME is free, else code 104. */
int sriov_pod_name_free(const struct cni_ctx *ctx, struct cni_err *err);
/* Move c->host_ifname into the pod under the attachment's temporary name (net_tmp_ifname_for),
 * saving c with moved set before and with pod_ifindex once known, then rename it to
 * CNI_IFNAME and set the conf's MAC and MTU. *ret_mac / *ret_mtu: what the pod link has. On
 * failure the netdev is where c says, for the undo or DEL to find. */
int sriov_move_into_pod(const struct cni_ctx *ctx, const struct sriov_conf *conf,
			struct sriov_cache *c, char ret_mac[MAC_STR_LEN], uint32_t *ret_mtu,
			struct cni_err *err);
/* Return the VF from the pod netns netns_fd to the host with its original name, MAC and MTU.
 * It is found by c->pod_ifindex (or by the temporary name when ADD died before recording it),
 * never by CNI_IFNAME, and only if its kind is c->host_kind (a real VF has none; every link a
 * pod can create has one). *ret_found false when it is not in the pod (or never moved). */
int sriov_return_from_pod(const struct cni_ctx *ctx, int netns_fd, const struct sriov_cache *c,
			  bool *ret_found, struct cni_err *err);
/* In the host: the VF netdev now called name gets its original name, MAC and MTU back; the
 * original name taken -> code 104 "name taken". */
int sriov_host_restore(const char *name, const struct sriov_cache *c, struct cni_err *err);
/* In the host: the VF netdev under a name sysfs does not give (an ADD killed after renaming it
 * to the temporary name, before the move), found by c->host_ifindex, else by the temporary
 * name, only if its kind is c->host_kind; restored as sriov_host_restore. *ret_found false
 * when neither is the VF. */
int sriov_host_find_restore(const struct cni_ctx *ctx, const struct sriov_cache *c, bool *ret_found,
			    struct cni_err *err);

extern const struct cni_plugin sriov_plugin;
