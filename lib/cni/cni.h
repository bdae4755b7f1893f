/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin vtable and the read-only request context the core hands to plugins. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/cni/err.h"
#include "lib/cni/result.h"
#include "lib/cni/version.h"

enum cni_cmd {
	CNI_CMD_ADD,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_STATUS,
	CNI_CMD_GC,
	CNI_CMD_VERSION,
};

struct cni_kv {
	char *key;
	char *value;
};

/* One (containerID, ifname) pair from cni.dev/valid-attachments (GC). */
struct cni_attachment {
	const char *container_id; /* borrowed from the conf tree */
	const char *ifname;
};

/* Built by the core (skel, or the meta-plugin's in-process dispatch); plugins only read it.
 * Strings and cJSON nodes are borrowed and live as long as the ctx. */
struct cni_ctx {
	enum cni_cmd cmd;
	const char *container_id; /* NULL for STATUS/GC */
	const char *netns_path;	  /* NULL or "" when absent (DEL may omit it) */
	const char *ifname;
	const char *path;	   /* CNI_PATH, ':'-separated */
	const char *args_raw;	   /* CNI_ARGS as received, NULL if unset */
	const struct cni_kv *args; /* parsed CNI_ARGS */
	size_t n_args;

	enum cni_version version; /* the request's cniVersion */
	const char *conf_raw;	  /* stdin bytes, passed unchanged to IPAM (CNI spec §4) */
	size_t conf_len;
	const cJSON *conf;		/* parsed stdin */
	const char *name;		/* network name */
	const cJSON *ipam;		/* "ipam" object or NULL */
	const char *ipam_type;		/* ipam.type, NULL when absent or empty (L2-only) */
	const cJSON *runtime_config;	/* "runtimeConfig" object or NULL */
	struct cni_dns dns;		/* conf "dns", empty if absent */
	struct cni_result *prev_result; /* decoded prevResult or NULL */
	struct cni_attachment *valid_attachments; /* GC only */
	size_t n_valid_attachments;

	int netns_fd; /* opened CNI_NETNS, -1 when absent or already gone */
};

/* Value of CNI_ARGS key (case-sensitive), or NULL. */
const char *cni_ctx_arg(const struct cni_ctx *ctx, const char *key);
/* CHECK (CNI spec, section 'CHECK'): the index in prevResult of the interface named CNI_IFNAME
 * whose sandbox is CNI_NETNS. A missing prevResult or no such interface is code 7. */
int cni_ctx_prev_iface(const struct cni_ctx *ctx, size_t *ret, struct cni_err *err);

/* One built-in plugin. Slot contracts:
 * - add: create CNI_IFNAME in the netns and hand back the result; on error, undo everything it
 *   created (links, IPAM leases) before returning.
 * - del: idempotent; a missing netns, link or IPAM lease is success.
 * - check: compare prevResult with reality; never modify state. NULL = always fine.
 * - status: NULL = always ready (the core still forwards STATUS to IPAM).
 * - gc: NULL = nothing to collect (the core still forwards GC to IPAM).
 * - validate: an IPAM's ADD checks without side effects (its netconf parsed and checked), so a
 *   plugin can refuse a bad IPAM config before it creates anything. NULL = nothing to check.
 * - top_level_only: the skel refuses every verb but VERSION when the plugin runs as a delegate
 *   of plexus (lib/cni/exec.h, CNI_EXEC_MARKER). */
struct cni_plugin {
	const char *name;	    /* the netconf "type" */
	const char *const *aliases; /* NULL-terminated other accepted types, or NULL */
	unsigned versions;	    /* bitmask of 1u << enum cni_version */
	bool top_level_only;
	int (*add)(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err);
	int (*del)(const struct cni_ctx *ctx, struct cni_err *err);
	int (*check)(const struct cni_ctx *ctx, struct cni_err *err);
	int (*status)(const struct cni_ctx *ctx, struct cni_err *err);
	int (*gc)(const struct cni_ctx *ctx, struct cni_err *err);
	int (*validate)(const struct cni_ctx *ctx, struct cni_err *err);
};
