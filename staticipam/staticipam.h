/* SPDX-License-Identifier: Apache-2.0 */
/* Built-in static IPAM: fixed addresses, routes and dns from the conf or the runtime
 * (docs/ipam.md). */
#pragma once

#include <stddef.h>

#include "lib/cni/cni.h"
#include "lib/util/parse.h"

struct staticipam_addr {
	struct ip_net address;	/* host bits kept */
	struct ip_addr gateway; /* family 0 = none */
};

struct staticipam_conf {
	struct staticipam_addr *addrs; /* owned */
	size_t n_addrs;
	struct cni_route *routes; /* owned */
	size_t n_routes;
	struct cni_dns dns;
};

/* Parse ipam.addresses/routes/dns and the runtime inputs as the reference does: CNI_ARGS IP=
 * (comma-separated CIDRs, appended) + GATEWAY=, then args.cni.ips, then runtimeConfig.ips (each
 * replacing what came before). An address that is the network or IPv4 broadcast address of
 * its prefix is refused. Errors: code 7 naming the field, code 4 for CNI_ARGS. */
int staticipam_conf_parse(const struct cni_ctx *ctx, struct staticipam_conf *ret,
			  struct cni_err *err);
void staticipam_conf_done(struct staticipam_conf *c);

extern const struct cni_plugin staticipam_plugin;
