/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-apid's hot-plug agent (docs/hotplug.md): the pods of its node, watched, reconciled
 * with their networks annotation by `plexus --hotplug`. */
#pragma once

struct cni_err;
struct kube_config;

struct apid_hotplug_opts {
	const char *node;    /* spec.nodeName of the pods to watch */
	const char *cni_dir; /* the meta-plugin's intent logs; NULL: the conf's, else its default */
	const char *conf;    /* the node's plexus conf or conflist */
};

/* Read the conf and start the agent's threads (watch, and one worker running one hot-plug at
 * a time) with cfg, which must outlive them. 0, or -errno with err naming the option. */
int apid_hotplug_start(const struct kube_config *cfg, const struct apid_hotplug_opts *o,
		       struct cni_err *err);
