/* SPDX-License-Identifier: Apache-2.0 */
/* whereabouts internals: the node journal and the API store. */
#pragma once

#include <stdint.h>

#include "whereabouts/whereabouts.h"

struct kube_config;

/* One attachment's journal file: every address its ADD may have written to the API (a pool
 * allocation or an OverlappingRangeIPReservation), recorded before the write. */
struct wb_entry {
	char *container_id, *ifname, *network, *podref; /* owned */
	char *pod_uid;	     /* owned; K8S_POD_UID of the ADD, NULL when unknown */
	struct ip_addr *ips; /* owned */
	size_t n_ips;
};
void wb_entry_done(struct wb_entry *e);

/* The journal directory (PLEXUS_WHEREABOUTS_DIR, else WB_JOURNAL_DIR_DEFAULT), created and
 * opened safely. Returns the fd or -errno with err (code 5). */
int wb_journal_open(struct cni_err *err);
/* Replace the attachment's file with e (atomic: a kill leaves the old or the new one). */
int wb_journal_write(int dfd, const struct wb_entry *e, struct cni_err *err);
/* The attachment's entry: 0, -ENOENT, or -EBADMSG for a file that is not one of ours. */
int wb_journal_read(int dfd, const char *id, const char *ifname, struct wb_entry *ret);
/* Remove the attachment's file and the temp files a killed write of it left. */
void wb_journal_remove(int dfd, const char *id, const char *ifname);
/* GC: remove the temp files of every attachment not among the n valid ones. */
void wb_journal_sweep(int dfd, const struct cni_attachment *valid, size_t n);
/* Every readable entry of network (NULL: of every network); *ret owned (wb_entry_done each, then
 * free). */
int wb_journal_list(int dfd, const char *network, struct wb_entry **ret, size_t *ret_n);

/* The API side of one request: the client, the namespace of the objects and the deadline of
 * the whole operation (all retries and back-offs within it). */
struct wb_api {
	struct kube_config *cfg; /* owned */
	const char *ns;		 /* borrowed from cfg or static */
	int64_t deadline_ms;	 /* clock_now_ms() based */
	uint64_t seed;		 /* back-off jitter */
	unsigned writes;	 /* POST/PUT/DELETE sent, for the bench's API writes per pod */
	const char *slice_node;	 /* borrowed; set: the IPPools it creates are this node's slices */
};

/* Tests only: a transport every wb_api_open client uses instead (NULL: libcurl or the relay). */
extern const struct kube_transport_ops *wb_test_ops;
extern void *wb_test_ops_data;

/* Load the client of conf c (kubeconfig or in-cluster; through apiRelay when set). */
int wb_api_open(const struct wb_conf *c, struct wb_api *ret, struct cni_err *err);
void wb_api_close(struct wb_api *a);

/* GET the pool of range r named name; with create, POST it when absent (else -ENOENT). */
int wb_api_get_pool(struct wb_api *a, const struct wb_range *r, const char *name, bool create,
		    struct wb_pool *ret, struct cni_err *err);
/* PUT p back (its resourceVersion is the precondition): 0, -EBUSY on a conflict (err set). */
int wb_api_put_pool(struct wb_api *a, const char *name, const struct wb_pool *p,
		    struct cni_err *err);
/* Claim ip cluster-wide for (id, podref, ifname): 1 ours (created, or with maybe_ours already
 * ours or the same pod's ifname in an earlier sandbox, then moved to id), 0 held by another,
 * < 0 error. Without maybe_ours an existing claim is taken as another's without reading it. */
int wb_api_claim_ip(struct wb_api *a, const struct ip_addr *ip, const char *network, const char *id,
		    const char *podref, const char *ifname, bool maybe_ours, struct cni_err *err);
/* Delete the claim of ip if it is (id, ifname)'s; absent is success. */
int wb_api_release_ip(struct wb_api *a, const struct ip_addr *ip, const char *network,
		      const char *id, const char *ifname, struct cni_err *err);
/* Sleep a jittered, growing back-off for attempt n, never past the deadline. */
void wb_api_backoff(struct wb_api *a, unsigned n);
/* The time left before the deadline, or -ETIMEDOUT with err (code 11) when it has passed. */
int wb_api_left(struct wb_api *a, const char *what, struct cni_err *err);
/* One request within the deadline (writes counted); errors as kube_request_json. */
int wb_api_call(struct wb_api *a, const char *method, const char *path, const cJSON *body,
		char **ret, size_t *ret_len, struct cni_err *err);

/* ---- node slices (slice.c, docs/ipam.md "Node slices") ---- */

/* The slices of the range a node holds, in the NodeSlicePool's order. */
struct wb_slices {
	struct ip_net *nets; /* owned */
	size_t n;
};
void wb_slices_done(struct wb_slices *s);
/* Read-only: wb_slices_get without a claim. */
#define WB_SLICES_READ ((size_t)-1)

/* This node's name: $NODE_NAME, else the host name; code 4 when it is not a valid node name. */
int wb_slice_node(char buf[WB_NAME_MAX], struct cni_err *err);
/* The NodeSlicePool name of conf c on network net_name: network_name, else the network's name
 * (as whereabouts names it); code 7 when that is not a valid object name. */
int wb_slice_pool_name(const struct wb_conf *c, const char *net_name, char buf[WB_NAME_MAX],
		       struct cni_err *err);
/* The IPPool name of one node's slice, as whereabouts names it: "[network_name-]node-range". */
int wb_slice_ippool_name(const struct ip_net *slice, const char *network_name, const char *node,
			 char buf[WB_NAME_MAX]);
/* Check obj is the NodeSlicePool nsp of c's range and slice size, with distinct aligned slices
 * of it (filling in every slice, free, when it lists none), and hand out node's slices. Code 101
 * EBADMSG naming what is wrong. */
int wb_slices_decode(cJSON *obj, const struct wb_conf *c, const char *nsp, const char *node,
		     struct wb_slices *ret, struct cni_err *err);
/* node's slices of NodeSlicePool nsp for c's range. With have == WB_SLICES_READ only reads (an
 * absent pool: no slices). Else creates the pool when absent and, unless node already holds more
 * than have slices, claims the first free one (resourceVersion-checked status write, conflicts
 * retried). Errors: code 103 ENOSPC naming the range when no slice is free, 101 EBADMSG for a
 * malformed pool. */
int wb_slices_get(struct wb_api *a, const struct wb_conf *c, const char *nsp, const char *node,
		  size_t have, struct wb_slices *ret, struct cni_err *err);
