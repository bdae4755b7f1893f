/* SPDX-License-Identifier: Apache-2.0 */
/* Cluster-wide IPAM compatible with whereabouts (docs/ipam.md): conf, range math, the IPPool and
 * OverlappingRangeIPReservation codec. Pure code, also for plexus-apid's reconciler. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cni/cni.h"
#include "lib/util/parse.h"

#define WB_API_GROUP "whereabouts.cni.cncf.io"
#define WB_API_VERSION WB_API_GROUP "/v1alpha1"
#define WB_NAMESPACE_DEFAULT "kube-system"
/* Where the node journal lives (not tenant-chosen); PLEXUS_WHEREABOUTS_DIR overrides it. */
#define WB_JOURNAL_DIR_DEFAULT "/var/lib/cni/plexus/whereabouts"
#define WB_TIMEOUT_MS_DEFAULT 10000
/* A NodeSlicePool lists every slice of its range: node_slice_size may cut it into this many. */
#define WB_SLICES_MAX 4096
/* The label of the IPPools plexus creates for a node's slice: the node's name, so readers of a
 * pool name "[network_name-]node-range" know which part is the network_name. */
#define WB_SLICE_LABEL "plexus.io/node-slice"
/* Kubernetes object names are at most 253 characters. */
#define WB_NAME_MAX 254

/* One range: the pool key (spec.range, the masked network) and what may be handed out. */
struct wb_range {
	struct ip_net net;	    /* masked; its address is offset 0 of spec.allocations */
	struct ip_addr first, last; /* inclusive bounds of what may be handed out */
	struct ip_net *exclude;	    /* owned; exclude entries (an address is a /32 or /128) */
	size_t n_exclude;
};

struct wb_conf {
	struct wb_range *ranges; /* owned; `range` first, then `ipRanges` */
	size_t n_ranges;
	struct ip_addr gateway; /* family 0: none */
	char *network_name;	/* owned or NULL */
	bool overlapping;	/* enable_overlapping_ranges (default true) */
	char *kubeconfig;	/* owned or NULL (in-cluster) */
	char *api_relay;	/* owned or NULL */
	long timeout_ms;
	struct cni_route *routes; /* owned */
	size_t n_routes;
	struct cni_dns dns;
	char *flat_file;       /* owned: the whereabouts.conf merged in, or NULL */
	unsigned slice_prefix; /* node_slice_size as a prefix length; 0: no node slices */
};

/* Parse the whereabouts keys of ctx's ipam object merged with the first flat file
 * whereabouts.conf found (configuration_path, then the fixed node paths, all under root, NULL
 * meaning "/"), the way whereabouts merges them: keys the NAD sets win. Errors: code 7 naming
 * the field. Reads only the flat file. */
int wb_conf_parse(const struct cni_ctx *ctx, const char *root, struct wb_conf *ret,
		  struct cni_err *err);
void wb_conf_done(struct wb_conf *c);

/* Parse one range entry {range, range_start, range_end, exclude} (path names it in errors). */
int wb_range_parse(const cJSON *obj, const char *path, struct wb_range *ret, struct cni_err *err);
void wb_range_done(struct wb_range *r);
/* spec.range as whereabouts stores it ("10.1.0.0/24"). */
void wb_range_cidr(const struct wb_range *r, char buf[IPNET_STR_LEN]);
/* "10.1.0.1-10.1.0.254" for error messages. */
void wb_range_str(const struct wb_range *r, char *buf, size_t len);

/* The IPPool name whereabouts gives the range ("10.1.0.0-24", "net-fd00---64"), or -EINVAL when
 * it would not be a valid object name. */
int wb_pool_name(const struct wb_range *r, const char *network_name, char buf[WB_NAME_MAX]);
/* The OverlappingRangeIPReservation name of ip ("10.1.0.5", "fd00--5", "net-10.1.0.5"). */
int wb_orip_name(const struct ip_addr *ip, const char *network_name, char buf[WB_NAME_MAX]);

/* ip - base as an offset (ip >= base, same family, difference below 2^63), else -ERANGE. */
int wb_ip_offset(const struct ip_addr *base, const struct ip_addr *ip, uint64_t *ret);
/* base + off, -ERANGE past the end of the family. */
int wb_ip_add(const struct ip_addr *base, uint64_t off, struct ip_addr *ret);

/* How many slices of prefix length slice_prefix r holds (UINT64_MAX when too many to count). */
uint64_t wb_range_n_slices(const struct wb_range *r, unsigned slice_prefix);
/* The i-th slice of r of prefix length slice_prefix; -ERANGE when there is none. */
int wb_range_slice(const struct wb_range *r, unsigned slice_prefix, uint64_t i, struct ip_net *ret);
/* The range of one slice of r (a subnet of r->net): what its IPPool may hand out, r's bounds and
 * excludes applied. -ERANGE when slice is not an aligned subnet of r. *ret owned (wb_range_done).
 */
int wb_range_sub(const struct wb_range *r, const struct ip_net *slice, struct wb_range *ret);

/* One allocation of a pool as read back. */
struct wb_alloc {
	uint64_t offset;
	const char *id, *podref, *ifname; /* borrowed from the pool tree; "" when absent */
	bool valid;			  /* id and podref are strings */
};

/* A decoded IPPool: the tree (owned, PUT back whole so members we do not know survive) and
 * its allocations sorted by offset. */
struct wb_pool {
	cJSON *obj;
	struct wb_alloc *allocs; /* owned */
	size_t n;
	const char *resource_version; /* borrowed from obj */
};

/* Decode an IPPool body for range r: spec.range must be r's network, each allocation key a
 * decimal offset. A key that is not a number holds no address and is kept as is; an entry whose
 * value is malformed still holds its offset (never handed out) but belongs to nobody. Errors:
 * code 101 EBADMSG naming what is wrong. */
int wb_pool_decode(const char *body, size_t len, const struct wb_range *r, struct wb_pool *ret,
		   struct cni_err *err);
/* wb_pool_decode of an already parsed object, which it takes (freed on error). */
int wb_pool_decode_obj(cJSON *obj, const struct wb_range *r, struct wb_pool *ret,
		       struct cni_err *err);
void wb_pool_done(struct wb_pool *p);
/* A new IPPool object (no allocations): metadata {name, namespace}, spec {range, allocations}. */
cJSON *wb_pool_new(const char *name, const char *ns, const struct wb_range *r);
/* Whether offset is held. */
bool wb_pool_taken(const struct wb_pool *p, uint64_t offset);
/* Index of the allocation of (id, ifname), or of (podref, ifname) when id is NULL; -1. */
int wb_pool_find(const struct wb_pool *p, const char *id, const char *podref, const char *ifname);
/* Add {id, podref, ifname} at offset to p->obj (not to allocs). */
void wb_pool_set(struct wb_pool *p, uint64_t offset, const char *id, const char *podref,
		 const char *ifname);
/* Remove the allocation at offset from p->obj. */
void wb_pool_unset(struct wb_pool *p, uint64_t offset);

/* The first address of r that is free: not held in p (NULL: none held), not in r's excludes,
 * not one of the n_skip addresses of skip. Bounded by the allocations and excludes, never by
 * the size of the range. Returns 1 with *ret, 0 when the range is full. */
int wb_range_first_free(const struct wb_range *r, const struct wb_pool *p,
			const struct ip_addr *skip, size_t n_skip, struct ip_addr *ret);

/* An OverlappingRangeIPReservation object. */
cJSON *wb_orip_new(const char *name, const char *ns, const char *id, const char *podref,
		   const char *ifname);
/* Decode one: spec.containerid, spec.podref, spec.ifname (borrowed from *ret_obj, which the
 * caller frees). Code 101 EBADMSG when malformed. */
int wb_orip_decode(const char *body, size_t len, cJSON **ret_obj, const char **ret_id,
		   const char **ret_podref, const char **ret_ifname, struct cni_err *err);

extern const struct cni_plugin whereabouts_plugin;
