// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: a ResourceClaim as NodePrepareResources reads it (dra_plan). Its opaque
 * parameters and request names come from whoever wrote the claim. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dra/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dra d;
	static struct dp_vf vfs[2];
	static int sel[2];
	if (!d.pools) {
		static const char cfg[] =
			"{\"resourceList\":[{\"resourceName\":\"dpdk\",\"selectors\":"
			"[{\"drivers\":[\"iavf\",\"vfio-pci\"]}]}]}";
		struct cni_err e = { 0 };
		d.driver = "sriov.plexus.io";
		d.node = "n1";
		(void)pthread_mutex_init(&d.lock, NULL);
		if (dp_config_parse(cfg, strlen(cfg), "plexus.io", &d.cfg, &e) < 0 ||
		    dra_pools_init(&d, &e) < 0)
			abort();
		strcpy(vfs[0].bdf, "0000:5e:02.0");
		strcpy(vfs[0].driver, "iavf");
		vfs[0].iommu_group = 50;
		strcpy(vfs[1].bdf, "0000:5e:02.1");
		strcpy(vfs[1].driver, "vfio-pci");
		vfs[1].iommu_group = -1;
		d.pools[0].devs = vfs;
		d.pools[0].selector = sel;
		d.pools[0].n_devs = 2;
	}
	cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
	if (!obj)
		return 0;
	struct dra_claim c = { 0 };
	struct cni_err err = { 0 };
	strcpy(c.uid, "u-1");
	(void)dra_plan(&d, obj, &c, &err);
	dra_claim_done(&c);
	cJSON_Delete(obj);
	return 0;
}
