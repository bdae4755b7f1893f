/* SPDX-License-Identifier: Apache-2.0 */
/* The macvlan plugin: its vtable and its netconf (reference macvlan keys + source mode). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/cni.h"
#include "lib/util/parse.h"

enum {
	MACVLAN_HAS_MTU = 1 << 0,
	MACVLAN_HAS_MAC = 1 << 1,
	MACVLAN_HAS_BCQUEUELEN = 1 << 2,
};

struct macvlan_conf {
	const char *master; /* borrowed from the conf tree; NULL = default-route interface */
	const char *mode_name;
	uint32_t mode; /* MACVLAN_MODE_* */
	unsigned has;  /* MACVLAN_HAS_* */
	uint32_t mtu;
	uint8_t mac[MAC_LEN];
	uint32_t bcqueuelen;
	bool link_in_container;
	uint8_t (*source_macs)[MAC_LEN]; /* owned; mode "source" only */
	size_t n_source_macs;
};

/* Parse and validate the macvlan keys of ctx->conf plus the MAC overrides (CNI_ARGS MAC=,
 * then runtimeConfig.mac). Pure: touches no kernel state. Errors name the field (code 7;
 * code 4 for CNI_ARGS). Free with macvlan_conf_done. */
int macvlan_conf_parse(const struct cni_ctx *ctx, struct macvlan_conf *ret, struct cni_err *err);
void macvlan_conf_done(struct macvlan_conf *c);

extern const struct cni_plugin macvlan_plugin;
