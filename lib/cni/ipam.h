/* SPDX-License-Identifier: Apache-2.0 */
/* IPAM invocation for the current request (CNI spec §4, 'Plugin Delegation'). */
#pragma once

#include <stddef.h>

#include "lib/cni/cni.h"

/* Register IPAM plugins that run in-process instead of being exec'd (docs/ipam.md): when
 * ctx->ipam_type is the name or an alias of one of them and PLEXUS_IPAM_EXEC is not "1",
 * cni_ipam_* build a ctx from the same CNI_* values and conf bytes and call its vtable.
 * table is borrowed for the life of the process; n 0 turns the built-ins off. */
void cni_ipam_set_builtins(const struct cni_plugin *const *table, size_t n);

/* Whether ctx->ipam_type can run: none, a built-in whose config passes its validate slot, or a
 * binary found in CNI_PATH. Not found -> code 7 naming ipam.type; a bad built-in config -> its
 * error. For plugins that must know before they create anything. */
int cni_ipam_resolve(const struct cni_ctx *ctx, struct cni_err *err);

/* Run ctx->ipam_type with ADD and the complete netconf on stdin; decode the result (any
 * version, up-converted) into *ret. No IPs in the result -> code 103. */
int cni_ipam_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err);
/* DEL/CHECK/STATUS/GC forwarded as the same verb. A missing ipam type is a no-op success.
 * STATUS/GC: an IPAM that does not know the verb (code 4, or code 1 for the version) counts as
 * success: it has nothing to report or collect. */
int cni_ipam_del(const struct cni_ctx *ctx, struct cni_err *err);
int cni_ipam_check(const struct cni_ctx *ctx, struct cni_err *err);
int cni_ipam_status(const struct cni_ctx *ctx, struct cni_err *err);
int cni_ipam_gc(const struct cni_ctx *ctx, struct cni_err *err);
