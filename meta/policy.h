/* SPDX-License-Identifier: Apache-2.0 */
/* The trust boundary of the meta-plugin: the node admin's tenantPolicy and the checks it drives
 * on tenant input (NAD configs, pod annotations). docs/security.md is the model. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct cni_err;
struct dlg_list;
struct meta_conf;

/* One tenantPolicy.hostPathRoots entry: the key and the absolute roots its value may be under. */
struct meta_policy_roots {
	char *key;
	char **roots;
	size_t n;
};

/* The parsed tenantPolicy object of the node conf. Everything is owned. */
struct meta_policy {
	char **trusted; /* trustedNamespaces; default {multusNamespace} */
	size_t n_trusted;
	char **allowed; /* allowedTypes; default: the built-ins and harmless reference plugins */
	size_t n_allowed;
	char **denied; /* deniedTypes, refused in addition to the always-denied types */
	size_t n_denied;
	struct meta_policy_roots *roots; /* hostPathRoots, defaults merged per key */
	size_t n_roots;
	long max_attachments;	   /* secondary attachments per pod; default 32 */
	long max_annotation_bytes; /* per selection annotation; default 32 KiB */
};

/* Parse conf's "tenantPolicy" (absent: every default). Errors are code 7 naming the key,
 * e.g. "tenantPolicy.hostPathRoots.dataDir[0]: ...". *ret is owned (meta_policy_done). */
int meta_policy_parse(const cJSON *conf, const char *multus_ns, struct meta_policy *ret,
		      struct cni_err *err);
void meta_policy_done(struct meta_policy *p);

/* Whether NADs in ns are admin-written (tenantPolicy.trustedNamespaces). */
bool meta_policy_trusted(const struct meta_policy *p, const char *ns);

/* Check a network's parsed config before anything of it runs. Every "type" anywhere must be a
 * plain name and not denied; unless admin, every type must be allowed, and no admin-only or
 * runtime-injected key may appear anywhere, and each hostPathRoots key must point under its
 * roots. Code 7 naming the network, the JSON path and the knob. */
int meta_policy_check_network(const struct meta_policy *p, const char *network,
			      const struct dlg_list *l, bool admin, struct cni_err *err);

/* Check a selection's cni-args against its network: with the network's top-level
 * "allowCniArgs": true every key passes; otherwise "ips" and "mac" need the network to declare
 * that capability and any other key is refused (code 7). */
int meta_policy_check_cni_args(const char *network, const struct dlg_list *l, const cJSON *cni_args,
			       struct cni_err *err);

/* Bound a pod's work before any NAD is fetched: each selection annotation's size
 * (maxAnnotationBytes) and the number of secondary attachments (maxAttachments: the
 * defaultNetworks that apply to pod_ns plus the pod's selections). Code 7. */
int meta_policy_check_pod(const struct meta_conf *c, const char *pod_ns, const cJSON *annotations,
			  struct cni_err *err);

/* Namespace isolation (Multus's namespaceIsolation): a pod in pod_ns may use a network of ns
 * only if ns is its own or one of global. Code 7 (EPERM) naming both. */
int meta_policy_check_isolation(bool isolation, char *const *global, size_t n_global,
				const char *pod_ns, const char *ns, const char *name,
				struct cni_err *err);
