/* SPDX-License-Identifier: Apache-2.0 */
/* The plexus meta-plugin (Multus-compatible): its vtable and the pieces tests reach. */
#pragma once

#include <cjson/cJSON.h>

#include "lib/cni/cni.h"

extern const struct cni_plugin meta_plugin;

/* Build the k8s.v1.cni.cncf.io/network-status value (NPWG spec v1.3 §5) from the attachments of
 * an intent log (the "attachments" array of meta's cache). Owned tree. */
cJSON *meta_network_status(const cJSON *attachments);
