/* SPDX-License-Identifier: Apache-2.0 */
/* The pod's network selection annotation k8s.v1.cni.cncf.io/networks (NPWG
 * network-attachment spec: the network selection annotation). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/util/parse.h"

struct cni_err;

#define META_NETWORKS_ANNOTATION "k8s.v1.cni.cncf.io/networks"
/* Multus's per-pod override of the cluster network. */
#define META_DEFAULT_NETWORK_ANNOTATION "v1.multus-cni.io/default-network"

/* One requested attachment. Strings owned; cJSON members are owned deep copies or NULL. */
struct meta_selection {
	char *name;
	char *namespace;      /* NULL = the pod's namespace */
	char *ifname;	      /* "interface" (or the @ifname short form), NULL = generated */
	char *mac;	      /* validated MAC string or NULL */
	cJSON *ips;	      /* array of IP / CIDR strings or NULL */
	cJSON *cni_args;      /* object or NULL */
	cJSON *port_mappings; /* array or NULL */
	cJSON *bandwidth;     /* object or NULL */
	bool has_default_route;
	cJSON *default_route; /* array of gateway IP strings (may be empty) */
	char *infiniband_guid;
	char *device_id;
	char *ipam_claim; /* ipam-claim-reference */
};

/* Parse the annotation value: the comma-separated short form ("a, ns/b, ns/c@net9") or the
 * JSON form (a list of objects), told apart like Multus (any of [ { " means JSON). Every
 * element is validated (names by kube_nad_check_name, ips, mac, interface, portMappings, bandwidth,
 * default-route on at most one element, ips excludes ipam-claim-reference). Errors are code 7
 * and name the element and key, e.g. "k8s.v1.cni.cncf.io/networks: [1].mac: invalid MAC 'x'".
 * An empty or blank value gives zero selections. *ret is owned (meta_selections_free). */
int meta_networks_parse(const char *value, struct meta_selection **ret, size_t *ret_n,
			struct cni_err *err);
void meta_selections_free(struct meta_selection *s, size_t n);
