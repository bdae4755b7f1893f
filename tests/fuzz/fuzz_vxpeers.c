// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: a Node's plexus.io/vxlan-peers annotation as the VXLAN peers agent reads
 * it (apid/vxpeers_state.c). Invariants abort: every kept entry is valid, encoding what was
 * kept and decoding it again keeps all of it, and conflicts and desired tables hold. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apid/vxpeers.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_LEVEL_ERROR);
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct vxp_set s = { 0 }, again = { 0 }, local = { 0 };
	(void)vxp_decode("node-a", text, &s);
	for (size_t i = 0; i < s.n; i++) {
		check(vxp_addr_ok(&s.v[i].addr) && vxp_mac_ok(s.v[i].mac));
		check(s.v[i].vni >= 1 && s.v[i].vni <= 16777215 && s.v[i].n_pods <= VXP_PODS_MAX);
		for (size_t k = 0; k < s.v[i].n_pods; k++) {
			check(vxp_mac_ok(s.v[i].pods[k].mac) &&
			      s.v[i].pods[k].n_ips <= VXP_IPS_MAX);
			for (size_t x = 0; x < s.v[i].pods[k].n_ips; x++)
				check(vxp_addr_ok(&s.v[i].pods[k].ips[x]));
		}
	}
	/* A JSON object cannot hold one VNI key twice in what we keep... but cJSON keeps
	 * duplicates: encode only when the VNIs are distinct. */
	bool distinct = true;
	for (size_t i = 0; i < s.n; i++)
		for (size_t j = i + 1; j < s.n; j++)
			distinct = distinct && s.v[i].vni != s.v[j].vni;
	if (distinct) {
		char *value = vxp_encode(&s);
		check(vxp_decode("node-a", value, &again) == 0 && again.n == s.n);
		free(value);
	}
	/* The same entries seen as this node's: every remote VTEP conflicts with itself. */
	if (vxp_decode("", text, &local) >= 0 && s.n) {
		size_t refused = vxp_conflicts(&s, &local);
		check(refused >= 1);
		for (size_t i = 0; i < s.n; i++)
			check(s.v[i].refused);
		struct net_fdb_entry *fdb = NULL;
		struct net_neigh_entry *nb = NULL;
		size_t nf = 0, nn = 0;
		vxp_desired(&s, s.v[0].vni, s.v[0].addr.family, &fdb, &nf, &nb, &nn);
		check(nf == 0 && nn == 0);
		free(fdb);
		free(nb);
	}
	vxp_log_round();
	vxp_set_done(&s);
	vxp_set_done(&again);
	vxp_set_done(&local);
	free(text);
	return 0;
}
