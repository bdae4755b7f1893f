/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI plugin entry point: env + stdin -> ctx -> plugin vtable -> stdout, exit status. */
#pragma once

#include "lib/cni/cni.h"

/* Parse the environment and stdin, negotiate the version, dispatch to the plugin, print the
 * result or error JSON on stdout, and return the process exit status (0 or 1). The only
 * code that writes stdout. about is printed with the versions when CNI_COMMAND is empty. */
int cni_skel_main(int argc, char **argv, const struct cni_plugin *plugin, const char *about);

/* Build a ctx from already-parsed pieces (used by skel and by in-process delegation).
 * Parses conf_raw; fills name, ipam, runtimeConfig, dns, prevResult, valid-attachments.
 * The ctx borrows env strings; call cni_ctx_done to free what it owns. */
struct cni_env;
int cni_ctx_init(struct cni_ctx *ctx, const struct cni_env *env, const char *conf_raw,
		 size_t conf_len, const struct cni_plugin *plugin, struct cni_err *err);
void cni_ctx_done(struct cni_ctx *ctx);
/* Open ctx->netns_path into ctx->netns_fd. ADD/CHECK need it and refuse the caller's own netns
 * unless CNI_NETNS_OVERRIDE is 1/true (code 8); DEL tolerates a missing or stale one
 * (SPEC.md "DEL") and leaves netns_fd at -1. */
int cni_ctx_open_netns(struct cni_ctx *ctx, struct cni_err *err);
/* Run one verb of plugin with ctx (including IPAM forwarding for STATUS/GC when the slot
 * is NULL). On ADD, *ret gets the result. */
int cni_plugin_run(const struct cni_plugin *plugin, const struct cni_ctx *ctx,
		   struct cni_result **ret, struct cni_err *err);
