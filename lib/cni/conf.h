/* SPDX-License-Identifier: Apache-2.0 */
/* Netconf fields several plugins read the same way. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/cni/cni.h"
#include "lib/util/parse.h"

/* The interface MAC to set, with the reference priority: the netconf's "mac" < CNI_ARGS MAC= <
 * runtimeConfig.mac (capability "mac"). *ret_set is false when none is given. A bad or
 * multicast value is code 7 (code 4 for CNI_ARGS) naming where it came from. */
int cni_conf_mac(const struct cni_ctx *ctx, uint8_t ret[MAC_LEN], bool *ret_set,
		 struct cni_err *err);
