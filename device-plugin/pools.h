/* SPDX-License-Identifier: Apache-2.0 */
/* The node's VFs and their pools: discovery for this netns, health, first-match assignment. */
#pragma once

#include <stddef.h>

#include "device-plugin/config.h"
#include "device-plugin/devices.h"
#include "device-plugin/health.h"

/* One pool's share of the VFs: copies (in discovery order) and the selector each matched. */
struct dp_share {
	struct dp_vf *devs;
	int *selector;
	size_t n;
};

/* dp_discover skipping the PF whose netdev carries this netns's default route; each VF is
 * logged at debug level with its libpci name. *ret (caller frees) and *ret_n. */
int dp_discover_node(struct dp_vf **ret, size_t *ret_n, struct cni_err *err);
/* Set each VF's health from h (its netdev's and its PF's carrier), then give each VF to the
 * first pool of cfg whose selectors match it, so pools never share a VF. Returns
 * cfg->n_pools shares (free with dp_shares_free). */
struct dp_share *dp_assign(const struct dp_config *cfg, const struct dp_health *h,
			   struct dp_vf *vfs, size_t n);
void dp_shares_free(struct dp_share *s, size_t n);
