// SPDX-License-Identifier: Apache-2.0
/* VF discovery for this node and the split of the VFs into pools, shared by both daemons. */
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>

#include "device-plugin/pools.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

int dp_discover_node(struct dp_vf **ret, size_t *ret_n, struct cni_err *err)
{
	char route_if[IFNAMSIZ] = "";
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	struct cni_err e2 = { 0 };
	if (net_sock_open(&sk, &e2) < 0 || net_default_route_iface(sk, route_if, &e2) < 0)
		route_if[0] = '\0';

	struct dp_vf *vfs = NULL;
	size_t n = 0;
	int r = dp_discover(route_if, &vfs, &n, err);
	if (r < 0)
		return r;
	/* Only at debug level: the name comes from libpci's ID database, which costs ~2 MiB of
	 * heap for the daemon's whole life once loaded. */
	for (size_t i = 0; log_get_level() >= LOG_LEVEL_DEBUG && i < n; i++) {
		char name[256];
		log_debug("vf '%s' ('%s') of pf '%s' ('%s'): %s, driver '%s', numa %d, iommu group "
			  "%d",
			  vfs[i].bdf, vfs[i].ifname, vfs[i].pf_bdf, vfs[i].pf_ifname,
			  dp_pci_name(&vfs[i], name, sizeof(name)), vfs[i].driver, vfs[i].numa_node,
			  vfs[i].iommu_group);
	}
	*ret = vfs;
	*ret_n = n;
	return 0;
}

struct dp_share *dp_assign(const struct dp_config *cfg, const struct dp_health *h,
			   struct dp_vf *vfs, size_t n)
{
	struct dp_share *sh = xcalloc(cfg->n_pools + 1, sizeof(*sh));
	bool *taken = xcalloc(n + 1, sizeof(*taken));
	for (size_t i = 0; i < n; i++)
		vfs[i].healthy = dp_health_link_ok(h, vfs[i].ifname) &&
				 dp_health_link_ok(h, vfs[i].pf_ifname);
	for (size_t p = 0; p < cfg->n_pools; p++) {
		sh[p].devs = xcalloc(n + 1, sizeof(*sh[p].devs));
		sh[p].selector = xcalloc(n + 1, sizeof(*sh[p].selector));
		for (size_t i = 0; i < n; i++) {
			int s = taken[i] ? -1 : dp_pool_match(&cfg->pools[p], &vfs[i]);
			if (s < 0)
				continue;
			taken[i] = true;
			sh[p].devs[sh[p].n] = vfs[i];
			sh[p].selector[sh[p].n++] = s;
		}
	}
	free(taken);
	return sh;
}

void dp_shares_free(struct dp_share *s, size_t n)
{
	for (size_t p = 0; s && p < n; p++) {
		free(s[p].devs);
		free(s[p].selector);
	}
	free(s);
}
