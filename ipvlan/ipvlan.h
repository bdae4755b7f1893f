/* SPDX-License-Identifier: Apache-2.0 */
/* The ipvlan plugin: its vtable and its netconf (reference ipvlan keys + "flag"). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/cni.h"

enum {
	IPVLAN_HAS_MTU = 1 << 0,
	IPVLAN_HAS_FLAG = 1 << 1,
};

struct ipvlan_conf {
	/* Borrowed from the conf tree (or, chained, from ctx->prev_result); NULL = the
	 * default-route interface. */
	const char *master;
	const char *mode_name;
	uint16_t mode; /* IPVLAN_MODE_* */
	const char *flag_name;
	uint16_t flag; /* 0 (bridge), IPVLAN_F_PRIVATE or IPVLAN_F_VEPA */
	unsigned has;  /* IPVLAN_HAS_* */
	uint32_t mtu;
	bool link_in_container;
	/* ADD in chained mode without an IPAM type: apply prevResult's IPs (borrowed ctx). */
	const struct cni_result *preset;
};

/* Parse and validate the ipvlan keys of ctx->conf. On ADD also resolve the chained-mode
 * rules: no master + prevResult -> the single named interface of prevResult; no ipam type ->
 * prevResult must carry IPs. Pure: touches no kernel state. Errors name the field (code 7).
 * Nothing to free: every pointer is borrowed from ctx. */
int ipvlan_conf_parse(const struct cni_ctx *ctx, struct ipvlan_conf *ret, struct cni_err *err);

extern const struct cni_plugin ipvlan_plugin;
