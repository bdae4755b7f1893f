/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-apid --vxlan-peers: VTEPs and pod MACs of "peers": "kubernetes" VXLAN networks,
 * published on this node's Node object and programmed from the other nodes' (docs/vxlan.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/net/net.h"
#include "lib/util/parse.h"

struct cni_err;
struct kube_config;

/* The Node annotation every node writes on itself; its value is vxp_encode's JSON. */
#define VXP_ANNOTATION "plexus.io/vxlan-peers"
/* Bounds on what one Node may publish (an annotation must fit in the object's 256 KiB). */
#define VXP_VALUE_MAX (128 * 1024)
#define VXP_VNIS_MAX 64
#define VXP_PODS_MAX 1024
#define VXP_IPS_MAX 4

struct vxp_pod {
	uint8_t mac[MAC_LEN];
	struct ip_addr ips[VXP_IPS_MAX];
	size_t n_ips;
	bool refused; /* conflicts with another node's pod */
};

/* One node's VTEP for one VNI and the pods behind it. */
struct vxp_vtep {
	char *node; /* owned */
	uint32_t vni;
	struct ip_addr addr;
	uint8_t mac[MAC_LEN];
	struct vxp_pod *pods; /* owned */
	size_t n_pods;
	bool refused; /* its address is claimed by another node too */
};

struct vxp_set {
	struct vxp_vtep *v; /* owned */
	size_t n;
};

void vxp_set_done(struct vxp_set *s);
/* Append a VTEP (node copied); returns it for the caller to fill. */
struct vxp_vtep *vxp_set_add(struct vxp_set *s, const char *node, uint32_t vni);
/* Append a pod to v (zeroed); returns it. */
struct vxp_pod *vxp_vtep_add_pod(struct vxp_vtep *v);

/* A VTEP or pod address a peer may name: IPv4 or IPv6, not unspecified, loopback, multicast,
 * IPv4 broadcast or IPv6 link-local. */
bool vxp_addr_ok(const struct ip_addr *a);
/* A unicast, non-zero MAC. */
bool vxp_mac_ok(const uint8_t mac[MAC_LEN]);

/* Start a round of refusal logging: vxp_decode and vxp_conflicts log a refusal only when the
 * previous round did not have it, and then queue it for an Event (vxp_refusals_take). */
void vxp_log_round(void);

/* A new refusal of a remote node's entries: node, the VNI of the entry (0: the whole
 * annotation) and the logged message, owned. */
struct vxp_refusal {
	char *node;
	uint32_t vni;
	char *msg;
};
/* At most this many refusals wait for their Event; further ones are dropped. */
#define VXP_REFUSALS_MAX 64
void vxp_refusal_done(struct vxp_refusal *r);
/* Move up to max queued refusals, oldest first, into ret (the caller frees them with
 * vxp_refusal_done). *ret_dropped: how many were dropped (queue full) since the last call. */
size_t vxp_refusals_take(struct vxp_refusal *ret, size_t max, size_t *ret_dropped);

/* Post a Warning Event (reason KUBE_EVENT_VXLAN_PEER_REFUSED) about each of the n refusals'
 * Node, from host (this node), correlated per Node (kube_event_correlate). Gives up on the
 * rest at the first request that fails, or past budget_ms. Returns how many were sent. */
size_t vxp_events_post(const struct kube_config *cfg, const char *host, const struct vxp_refusal *r,
		       size_t n, long budget_ms);

/* This node's VTEPs as the annotation value (owned string), entries sorted by VNI. */
char *vxp_encode(const struct vxp_set *local);
/* Append node's published entries from an annotation value to set. A malformed value or VNI
 * entry is refused (a warning naming node and field) and the rest kept. Returns the
 * number of refused entries. */
int vxp_decode(const char *node, const char *value, struct vxp_set *set);
/* Mark conflicts in remote: a VTEP address claimed by two nodes, or by this node (local), is
 * refused for both; a pod MAC or IP claimed on one VNI by two nodes (or by a local pod) is
 * refused for both. Each conflict is logged once. Returns how many entries were refused. */
size_t vxp_conflicts(struct vxp_set *remote, const struct vxp_set *local);

/* What one local VTEP of vni and underlay family should hold: per remote pod MAC an FDB entry
 * to its node's VTEP, an all-zero (flood) entry per remote VTEP with pods, and per remote pod
 * IP a neighbour entry. Refused entries and VTEPs of another family are left out. Owned arrays
 * (free()). */
void vxp_desired(const struct vxp_set *remote, uint32_t vni, int family,
		 struct net_fdb_entry **ret_fdb, size_t *ret_nf, struct net_neigh_entry **ret_nb,
		 size_t *ret_nn);

/* The changes that turn `have` into `want`: entries of want missing from have (ret_add), and
 * entries of have not in want (ret_del). Indexes into the arrays, owned (free()). */
void vxp_diff_fdb(const struct net_fdb_entry *have, size_t nh, const struct net_fdb_entry *want,
		  size_t nw, size_t **ret_add, size_t *ret_nadd, size_t **ret_del,
		  size_t *ret_ndel);
void vxp_diff_neigh(const struct net_neigh_entry *have, size_t nh,
		    const struct net_neigh_entry *want, size_t nw, size_t **ret_add,
		    size_t *ret_nadd, size_t **ret_del, size_t *ret_ndel);

/* Start the agent on two threads of its own: one LISTs and WATCHes the Nodes; the other, on
 * every Node event and every interval_ms, publishes this node's VTEPs (the links tagged
 * VXLAN_PEERS_ALIAS and the pod records under run_dir) on Node `node` and converges the VTEPs'
 * FDB and neighbour tables. Before the first LIST, and while the API is down, the tables stay
 * as they are. cfg, node and run_dir are borrowed for the process's life. node must be a
 * DNS-1123 subdomain (code 7). */
int apid_vxpeers_start(const struct kube_config *cfg, const char *node, const char *run_dir,
		       long interval_ms, struct cni_err *err);
