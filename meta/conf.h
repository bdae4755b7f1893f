/* SPDX-License-Identifier: Apache-2.0 */
/* The meta-plugin's own netconf: Multus's keys with Multus's defaults, plus plexus's. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "meta/policy.h"

struct cni_err;

/* The most threads one ADD or DEL runs attachments on (maxParallelAttachments). */
#define META_MAX_PARALLEL 64

struct meta_conf {
	/* Strings are borrowed from the netconf tree (struct cni_ctx's conf) unless noted. */
	const char *kubeconfig;	       /* NULL: in-cluster */
	const char *conf_dir;	       /* /etc/cni/multus/net.d */
	const char *cni_dir;	       /* /var/lib/cni/multus: attachment cache (intent log) */
	const char *bin_dir;	       /* searched after CNI_PATH; NULL if unset */
	const char *cluster_network;   /* NAD name, conf name in conf_dir, or path */
	const cJSON *default_networks; /* array of strings or NULL */
	const cJSON *delegates;	       /* legacy: [0] is the cluster network conf object */
	bool namespace_isolation;
	char **global_namespaces; /* owned; default {"default"} */
	size_t n_global_namespaces;
	char **system_namespaces; /* owned; default {"kube-system"} */
	size_t n_system_namespaces;
	const char *multus_namespace; /* kube-system */
	const char *readiness_indicator_file;
	bool retry_delete_on_error;
	const char *pod_resources_socket; /* /var/lib/kubelet/pod-resources/kubelet.sock */
	const char *device_info_dir;	  /* /var/run/k8s.cni.cncf.io/devinfo (device-info spec) */
	/* plexus: types that run in-process; NULL = every built-in, empty list = none. */
	const cJSON *in_process_types;
	/* plexus: host-local and static in-process (default), or exec'd from CNI_PATH. */
	bool in_process_ipam;
	const char *api_relay;	     /* plexus-apid's socket (lib/kube/relay.h); NULL/"": direct */
	long api_timeout_ms;	     /* apiTimeoutSeconds, default 10 s */
	long api_connect_timeout_ms; /* apiConnectTimeoutSeconds, default 3 s */
	long delegate_timeout_ms;    /* delegateTimeoutSeconds, default 60 s: each exec'd plugin */
	size_t max_parallel;	     /* maxParallelAttachments, default 4; 1: one at a time */
	bool fail_on_status_error;   /* failOnStatusPatchError: a failed network-status patch fails
					ADD */
	struct meta_policy policy;   /* tenantPolicy (meta/policy.h), owned */
};

/* Parse the meta keys of conf (the plugin's netconf). Unknown keys are ignored; a key of the
 * wrong type is code 7 naming it. Neither clusterNetwork nor delegates -> code 7. */
int meta_conf_parse(const cJSON *conf, struct meta_conf *ret, struct cni_err *err);
void meta_conf_done(struct meta_conf *c);
/* Whether ns is in the list. */
bool meta_ns_in(char *const *list, size_t n, const char *ns);
