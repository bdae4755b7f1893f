/* SPDX-License-Identifier: Apache-2.0 */
/* Built-in host-local IPAM: conf, range arithmetic and the reference on-disk store (docs/ipam.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/cni/cni.h"
#include "lib/util/parse.h"

#define HL_DEFAULT_DATA_DIR "/var/lib/cni/networks"

/* Remove what killed writers left in the store <data_dir>/<name> (temp files, empty or garbage
 * leases), under its lock. For stores the reference host-local writes: it creates a lease file
 * before it writes the owner into it, so a kill in between leaves an empty lease that its own
 * DEL never matches. With id, also every lease of that container, whatever its interface (for
 * a DEL that lost the attachments' names). A missing store is 0; else -errno. */
int hl_store_sweep(const char *data_dir, const char *name, const char *id);

/* One pool: subnet (network address), first and last allocatable address (inclusive), gateway. */
struct hl_range {
	struct ip_net subnet;
	struct ip_addr start, end, gateway;
};

/* One range set yields one IP; its ranges are pools of one family that never overlap. */
struct hl_rangeset {
	struct hl_range *ranges; /* owned */
	size_t n;
};

struct hl_conf {
	const char *name;	  /* network name, borrowed from the conf tree */
	const char *data_dir;	  /* borrowed or HL_DEFAULT_DATA_DIR */
	const char *resolv_conf;  /* borrowed or NULL */
	struct hl_rangeset *sets; /* owned; runtimeConfig.ipRanges, legacy keys, then ranges */
	size_t n_sets;
	struct cni_route *routes; /* owned */
	size_t n_routes;
	struct ip_addr *requested; /* owned; CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips */
	size_t n_requested;
};

/* Parse and canonicalise the host-local keys of ctx (conf tree + CNI_ARGS) with the reference
 * defaults and checks. Errors: code 7 naming the field, code 4 for CNI_ARGS. Pure. */
int hl_conf_parse(const struct cni_ctx *ctx, struct hl_conf *ret, struct cni_err *err);
void hl_conf_done(struct hl_conf *c);

/* -1, 0, 1 like memcmp; different families compare by family. */
int hl_ip_cmp(const struct ip_addr *a, const struct ip_addr *b);
/* a + 1, wrapping within the family. */
void hl_ip_next(struct ip_addr *a);
/* In the subnet and between start and end (inclusive). */
bool hl_range_contains(const struct hl_range *r, const struct ip_addr *ip);
/* Index of the range of s containing ip, or -1. */
int hl_rangeset_find(const struct hl_rangeset *s, const struct ip_addr *ip);
/* "start-end,start-end" as the reference prints a range set. */
void hl_rangeset_str(const struct hl_rangeset *s, char *buf, size_t len);

#define HL_RESOLV_MAX (64 * 1024)

/* Parse a resolv.conf (nameserver, domain, search, options) into *ret like the reference. The
 * file must be a regular file of at most HL_RESOLV_MAX bytes, not a symlink. Errors name
 * ipam.resolvConf: code 7 for those rules, 5 for I/O. */
int hl_resolv_parse(const char *path, struct cni_dns *ret, struct cni_err *err);

/* One range of a network's conf and how much of it is leased. */
struct hl_pool {
	struct ip_net subnet;
	double addresses; /* allocatable: rangeStart to rangeEnd, the gateway excluded */
	double allocated; /* leases in the store inside the range */
};
/* Entries of a store read at most by hl_pool_usage: a /16's worth of leases. */
#define HL_POOL_SCAN_MAX 65536

/* The pools of the host-local netconf named name with this ipam object (its ranges or legacy
 * subnet keys, not runtimeConfig's) and the leases of its store, read without the lock (a
 * gauge may be a lease off) and never created. *ret (owned, *ret_n entries, in conf order):
 * a missing store is all free. Errors: hl_conf_parse's, code 5 for an unreadable store or one
 * of HL_POOL_SCAN_MAX entries or more. */
int hl_pool_usage(const char *name, const cJSON *ipam, struct hl_pool **ret, size_t *ret_n,
		  struct cni_err *err);

extern const struct cni_plugin hostlocal_plugin;
