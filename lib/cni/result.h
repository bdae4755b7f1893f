/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI result, kept internally in 1.1.0 form and encoded for any version. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cni/version.h"
#include "lib/util/parse.h"

struct cni_err;

struct cni_iface {
	char *name;	   /* owned; never NULL in a valid result */
	char *mac;	   /* owned or NULL */
	uint32_t mtu;	   /* 0 = unset */
	char *sandbox;	   /* owned or NULL (host interface) */
	char *socket_path; /* owned or NULL (1.1.0) */
	char *pci_id;	   /* owned or NULL (1.1.0) */
};

struct cni_ip {
	struct ip_net address;
	struct ip_addr gateway; /* family 0 = none */
	int interface;		/* index into interfaces[], -1 = none */
};

enum {
	CNI_ROUTE_HAS_MTU = 1 << 0,
	CNI_ROUTE_HAS_ADVMSS = 1 << 1,
	CNI_ROUTE_HAS_PRIORITY = 1 << 2,
	CNI_ROUTE_HAS_TABLE = 1 << 3,
	CNI_ROUTE_HAS_SCOPE = 1 << 4,
};

struct cni_route {
	struct ip_net dst; /* host bits as given */
	struct ip_addr gw; /* family 0 = none */
	unsigned has;	   /* CNI_ROUTE_HAS_* */
	uint32_t mtu, advmss, priority, table;
	uint8_t scope;
};

struct cni_dns {
	char **nameservers; /* owned arrays of owned strings */
	size_t n_nameservers;
	char *domain;
	char **search;
	size_t n_search;
	char **options;
	size_t n_options;
};

struct cni_result {
	struct cni_iface *interfaces;
	size_t n_interfaces;
	struct cni_ip *ips;
	size_t n_ips;
	struct cni_route *routes;
	size_t n_routes;
	struct cni_dns dns;
};

struct cni_result *cni_result_new(void);
void cni_result_free(struct cni_result *r);
void cni_dns_done(struct cni_dns *d);
static inline void cni_result_freep(struct cni_result **p)
{
	cni_result_free(*p);
}

/* Append helpers; they copy the strings and return the new element's index. */
size_t cni_result_add_iface(struct cni_result *r, const char *name, const char *mac,
			    const char *sandbox);
void cni_result_add_ip(struct cni_result *r, const struct cni_ip *ip);
void cni_result_add_route(struct cni_result *r, const struct cni_route *route);
/* Deep copy. */
struct cni_result *cni_result_dup(const struct cni_result *r);
/* Replace r->dns with a deep copy of src. */
void cni_dns_copy(struct cni_dns *dst, const struct cni_dns *src);
bool cni_dns_is_empty(const struct cni_dns *d);

/* Decode a result of any version into internal form. fallback is the version to assume when
 * the JSON has no cniVersion (as libcni does). A JSON null or {} decodes to an empty result.
 * Errors: code 6 (malformed), code 1 (unknown version). Ownership of *ret passes to the caller. */
int cni_result_decode(const cJSON *json, enum cni_version fallback, struct cni_result **ret,
		      struct cni_err *err);
/* Same, from text. */
int cni_result_parse(const char *text, size_t len, enum cni_version fallback,
		     struct cni_result **ret, struct cni_err *err);
/* Encode for version v with "cniVersion": v. Converting to 0.1.0/0.2.0 needs an IP
 * (code 1 "cannot convert: no valid IP addresses", as the reference). *ret is a new tree. */
int cni_result_encode(const struct cni_result *r, enum cni_version v, cJSON **ret,
		      struct cni_err *err);
/* Decode obj's "routes" list (every 1.1 route key) for a netconf, e.g. an IPAM section: errors
 * are code 7 naming path.routes[i].key. Absent is an empty list. *ret is owned (free()). */
int cni_routes_decode(const cJSON *obj, const char *path, struct cni_route **ret, size_t *ret_n,
		      struct cni_err *err);
/* Decode the "dns" object form (nameservers, domain, search, options); NULL/absent is empty. */
int cni_dns_decode(const cJSON *json, const char *field, struct cni_dns *ret, struct cni_err *err);
cJSON *cni_dns_encode(const struct cni_dns *d);
