// SPDX-License-Identifier: Apache-2.0
/* device-plugin/config.c: resourceList parsing with JSON-path errors, selector matching, and
 * the preferred-allocation and env-name helpers of server.c, on fake VF lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "device-plugin/config.h"
#include "device-plugin/internal.h"
#include "lib/util/cleanup.h"

static struct dp_vf mkvf(const char *bdf, const char *pf_bdf, const char *pf, int idx,
			 const char *drv, int numa)
{
	struct dp_vf v = { 0 };
	snprintf(v.bdf, sizeof(v.bdf), "%s", bdf);
	snprintf(v.pf_bdf, sizeof(v.pf_bdf), "%s", pf_bdf);
	snprintf(v.pf_ifname, sizeof(v.pf_ifname), "%s", pf);
	snprintf(v.driver, sizeof(v.driver), "%s", drv);
	strcpy(v.vendor, "8086");
	strcpy(v.device, "1889");
	strcpy(v.link_type, "ether");
	v.vf_index = idx;
	v.numa_node = numa;
	v.iommu_group = -1;
	return v;
}

/* One error case: parsing must fail with code and (when msg) exactly this message. */
static void bad_one(const char *json, int code, const char *msg)
{
	struct dp_config cfg = { 0 };
	struct cni_err err = { 0 };
	int r = dp_config_parse(json, strlen(json), "plexus.io", &cfg, &err);
	if (r >= 0 || err.code != code || (msg && strcmp(err.msg, msg)))
		fail_msg("config %s: got r=%d code %d '%s', want %d '%s'", json, r, err.code,
			 err.msg, code, msg ? msg : "");
}

static void test_config_errors_name_the_path(void **state)
{
	(void)state;
	bad_one("{", 6, NULL);
	bad_one("[]", 7, "config: must be an object");
	bad_one("{}", 7, "resourceList: missing");
	bad_one("{\"resourceList\":{}}", 7, "resourceList: must be an array");
	bad_one("{\"resourceList\":[{\"selectors\":{}}]}", 7,
		"resourceList[0].resourceName: missing (want [A-Za-z0-9_.-]+)");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a/b\",\"selectors\":{}}]}", 7,
		"resourceList[0].resourceName: bad resource name (want [A-Za-z0-9_.-]+)");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\"}]}", 7,
		"resourceList[0].selectors: missing");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":[]}]}", 7,
		"resourceList[0].selectors: must be a non-empty array of objects");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"deviceType\":\"accelerator\","
		"\"selectors\":{}}]}",
		7,
		"resourceList[0].deviceType: unsupported device type 'accelerator' (want "
		"netDevice)");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":[{},{\"pfNames\":"
		"[\"ens1f0#3-1\"]}]}]}",
		7, "resourceList[0].selectors[1].pfNames[0]: bad VF range '3-1'");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":[{\"pfNames\":"
		"[\"ens1f0#0-3,\"]}]}]}",
		7, "resourceList[0].selectors[0].pfNames[0]: bad VF range '0-3,'");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":[{\"pfNames\":"
		"[\"#1\"]}]}]}",
		7, "resourceList[0].selectors[0].pfNames[0]: bad PF name '#1'");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":[{\"rootDevices\":"
		"[\"0000:3b:00\"]}]}]}",
		7, "resourceList[0].selectors[0].rootDevices[0]: bad PCI address '0000:3b:00'");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{\"vendors\":"
		"[\"808\"]}}]}",
		7, "resourceList[0].selectors.vendors[0]: bad PCI id '808' (want 4 hex digits)");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{\"devices\":"
		"[1889]}}]}",
		7, "resourceList[0].selectors.devices[0]: must be a non-empty string");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{\"pciAddresses\":"
		"[\"3b:02.0\"]}}]}",
		7,
		"resourceList[0].selectors.pciAddresses[0]: bad PCI address '3b:02.0' (want "
		"dddd:bb:dd.f)");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{\"isRdma\":1}}]}", 7,
		"resourceList[0].selectors.isRdma: must be a boolean");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{\"needVhostNet\":\"y\"}}"
		"]}",
		7, "resourceList[0].selectors.needVhostNet: must be a boolean");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{\"vendor\":[]}}]}", 7,
		"resourceList[0].selectors.vendor: unknown selector");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"excludeTopology\":0,"
		"\"selectors\":{}}]}",
		7, "resourceList[0].excludeTopology: must be a boolean");
	bad_one("{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{}},"
		"{\"resourceName\":\"a\",\"resourcePrefix\":\"plexus.io\",\"selectors\":{}}]}",
		7, "resourceList[1].resourceName: 'plexus.io/a' already used by resourceList[0]");
}

static const char *const full_config =
	"{\"resourceList\":["
	" {\"resourceName\":\"net\",\"resourcePrefix\":\"intel.com\",\"excludeTopology\":true,"
	"  \"selectors\":[{\"vendors\":[\"0x8086\"],\"devices\":[\"1889\"],\"drivers\":[\"iavf\"],"
	"                 \"pfNames\":[\"ens1f0#0-1,5\",\"ens2f0\"],\"linkTypes\":[\"ether\"]},"
	"                {\"rootDevices\":[\"0000:5E:00.0#2\"]}]},"
	" {\"resourceName\":\"dpdk\",\"selectors\":{\"drivers\":[\"vfio-pci\"],"
	"  \"pciAddresses\":[\"0000:3b:02.7\"],\"needVhostNet\":true}},"
	" {\"resourceName\":\"rdma\",\"selectors\":{\"isRdma\":true}}"
	"]}";

static void test_config_parse_every_selector(void **state)
{
	struct dp_config cfg = { 0 };
	struct cni_err err = { 0 };
	(void)state;
	assert_int_equal(dp_config_parse(full_config, strlen(full_config), "plexus.io", &cfg, &err),
			 0);
	assert_int_equal(cfg.n_pools, 3);
	assert_string_equal(cfg.pools[0].resource, "intel.com/net");
	assert_true(cfg.pools[0].exclude_topology);
	assert_int_equal(cfg.pools[0].n_selectors, 2);
	const struct dp_selector *s = &cfg.pools[0].selectors[0];
	assert_int_equal(s->has, DP_SEL_VENDORS | DP_SEL_DEVICES | DP_SEL_DRIVERS |
					 DP_SEL_PF_NAMES | DP_SEL_LINK_TYPES);
	assert_string_equal(s->vendors[0], "8086");
	assert_null(s->vendors[1]);
	assert_int_equal(s->n_pf_names, 2);
	assert_string_equal(s->pf_names[0].name, "ens1f0");
	assert_int_equal(s->pf_names[0].n_ranges, 2);
	assert_int_equal(s->pf_names[0].ranges[0].lo, 0);
	assert_int_equal(s->pf_names[0].ranges[0].hi, 1);
	assert_int_equal(s->pf_names[0].ranges[1].lo, 5);
	assert_int_equal(s->pf_names[0].ranges[1].hi, 5);
	assert_int_equal(s->pf_names[1].n_ranges, 0);
	assert_string_equal(cfg.pools[0].selectors[1].root_devices[0].name, "0000:5E:00.0");
	assert_string_equal(cfg.pools[1].resource, "plexus.io/dpdk");
	assert_true(cfg.pools[1].selectors[0].need_vhost_net);
	assert_int_equal(cfg.pools[1].selectors[0].has, DP_SEL_DRIVERS | DP_SEL_PCI_ADDRESSES);
	assert_int_equal(cfg.pools[2].selectors[0].has, DP_SEL_IS_RDMA);
	dp_config_done(&cfg);
}

static void test_config_match_selectors(void **state)
{
	struct dp_config cfg = { 0 };
	struct cni_err err = { 0 };
	const char *j =
		"{\"resourceList\":[{\"resourceName\":\"net\",\"selectors\":["
		"{\"drivers\":[\"iavf\"],\"pfNames\":[\"ens1f0#0-1,5\",\"ens2f0\"]},"
		"{\"rootDevices\":[\"0000:5e:00.0#2-3\"]},"
		"{\"vendors\":[\"15b3\"],\"linkTypes\":[\"infiniband\"],\"isRdma\":true}]}]}";
	(void)state;
	assert_int_equal(dp_config_parse(j, strlen(j), "plexus.io", &cfg, &err), 0);
	const struct dp_pool *p = &cfg.pools[0];
	struct dp_vf v;

	v = mkvf("0000:3b:02.0", "0000:3b:00.0", "ens1f0", 0, "iavf", 0);
	assert_int_equal(dp_pool_match(p, &v), 0);
	v.vf_index = 5;
	assert_int_equal(dp_pool_match(p, &v), 0);
	v.vf_index = 2; /* outside 0-1,5 */
	assert_int_equal(dp_pool_match(p, &v), -1);
	v = mkvf("0000:3b:02.0", "0000:3b:00.0", "ens1f0", 0, "vfio-pci", 0);
	assert_int_equal(dp_pool_match(p, &v), -1); /* all fields of one selector must match */
	v = mkvf("0000:3c:02.0", "0000:3c:00.0", "ens2f0", 63, "iavf", 0);
	assert_int_equal(dp_pool_match(p, &v), 0); /* no range: every VF */
	v = mkvf("0000:3c:02.0", "0000:3c:00.0", "", 0, "iavf", 0);
	assert_int_equal(dp_pool_match(p, &v), -1); /* PF without netdev: no pfNames match */
	v = mkvf("0000:5e:02.2", "0000:5e:00.0", "ens3f0", 3, "vfio-pci", 1);
	assert_int_equal(dp_pool_match(p, &v), 1);
	v.vf_index = 4;
	assert_int_equal(dp_pool_match(p, &v), -1);
	v = mkvf("0000:af:00.2", "0000:af:00.0", "ib0", 0, "mlx5_core", 1);
	strcpy(v.vendor, "15b3");
	strcpy(v.link_type, "infiniband");
	assert_int_equal(dp_pool_match(p, &v), -1); /* not RDMA capable */
	v.rdma = true;
	assert_int_equal(dp_pool_match(p, &v), 2);
	strcpy(v.link_type, "ether");
	assert_int_equal(dp_pool_match(p, &v), -1);
	dp_config_done(&cfg);

	/* Empty selector object matches everything; vendors/devices/pciAddresses compare
	 * case-insensitively after normalisation. */
	j = "{\"resourceList\":[{\"resourceName\":\"x\",\"selectors\":[{\"vendors\":[\"8086\"],"
	    "\"devices\":[\"0X1889\"],\"pciAddresses\":[\"0000:AF:00.2\"]},{}]}]}";
	assert_int_equal(dp_config_parse(j, strlen(j), "plexus.io", &cfg, &err), 0);
	v = mkvf("0000:af:00.2", "0000:af:00.0", "p", 0, "iavf", 0);
	assert_int_equal(dp_pool_match(&cfg.pools[0], &v), 0);
	strcpy(v.bdf, "0000:af:00.3");
	assert_int_equal(dp_pool_match(&cfg.pools[0], &v), 1);
	dp_config_done(&cfg);
}

static void test_config_env_name(void **state)
{
	(void)state;
	char *s = dp_env_name("intel.com/sriov_netdevice");
	assert_string_equal(s, "PCIDEVICE_INTEL_COM_SRIOV_NETDEVICE");
	free(s);
	s = dp_env_name("plexus.io/a-b.c");
	assert_string_equal(s, "PCIDEVICE_PLEXUS_IO_A_B_C");
	free(s);
}

/* One preferred-allocation case over a fixed pool: PF A (3 VFs, numa 0), PF B (2, numa 1),
 * PF C (4, numa 0). */
static void prefer_one(char **avail, size_t n_avail, char **must, size_t n_must, size_t size,
		       const char *want)
{
	struct dp_vf known[] = {
		mkvf("0000:0a:00.1", "0000:0a:00.0", "a", 0, "iavf", 0),
		mkvf("0000:0a:00.2", "0000:0a:00.0", "a", 1, "iavf", 0),
		mkvf("0000:0a:00.3", "0000:0a:00.0", "a", 2, "iavf", 0),
		mkvf("0000:0b:00.1", "0000:0b:00.0", "b", 0, "iavf", 1),
		mkvf("0000:0b:00.2", "0000:0b:00.0", "b", 1, "iavf", 1),
		mkvf("0000:0c:00.1", "0000:0c:00.0", "c", 0, "iavf", 0),
		mkvf("0000:0c:00.2", "0000:0c:00.0", "c", 1, "iavf", 0),
		mkvf("0000:0c:00.3", "0000:0c:00.0", "c", 2, "iavf", 0),
		mkvf("0000:0c:00.4", "0000:0c:00.0", "c", 3, "iavf", 0),
	};
	char **out = NULL, got[512] = "";
	size_t n = 0;
	dp_prefer(known, ARRAY_SIZE(known), avail, n_avail, must, n_must, size, &out, &n);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 out[i] + 5);
	free(out);
	if (strcmp(got, want))
		fail_msg("size %zu: got '%s', want '%s'", size, got, want);
}

static void test_config_preferred_allocation(void **state)
{
	char *all[] = { "0000:0a:00.1", "0000:0a:00.2", "0000:0a:00.3",
			"0000:0b:00.1", "0000:0b:00.2", "0000:0c:00.1",
			"0000:0c:00.2", "0000:0c:00.3", "0000:0c:00.4" };
	char *must_b[] = { "0000:0b:00.2" };
	char *must_a[] = { "0000:0a:00.3" };
	char *some[] = { "0000:0a:00.1", "0000:0b:00.1", "0000:0c:00.4" };
	(void)state;
	prefer_one(all, 9, NULL, 0, 2, "0b:00.1 0b:00.2");	   /* best fit: exactly PF B */
	prefer_one(all, 9, NULL, 0, 3, "0a:00.1 0a:00.2 0a:00.3"); /* exactly PF A */
	prefer_one(all, 9, NULL, 0, 4, "0c:00.1 0c:00.2 0c:00.3 0c:00.4");
	/* More than any PF: the biggest first, then the same NUMA node (A before B). */
	prefer_one(all, 9, NULL, 0, 5, "0c:00.1 0c:00.2 0c:00.3 0c:00.4 0a:00.1");
	/* must_include first, then its own PF, then best fit (nothing else on NUMA 1). */
	prefer_one(all, 9, must_b, 1, 3, "0b:00.2 0b:00.1 0a:00.1");
	/* must_include first, then its own PF, then its NUMA node (C on 0 before B on 1). */
	prefer_one(all, 9, must_a, 1, 5, "0a:00.3 0a:00.1 0a:00.2 0c:00.1 0c:00.2");
	prefer_one(all, 9, must_a, 1, 2, "0a:00.3 0a:00.1");
	prefer_one(all, 9, must_a, 1, 1, "0a:00.3");
	/* Not enough available: as many as there are. */
	prefer_one(some, 3, NULL, 0, 5, "0a:00.1 0c:00.4 0b:00.1");
	prefer_one(all, 9, NULL, 0, 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors_name_the_path),
		cmocka_unit_test(test_config_parse_every_selector),
		cmocka_unit_test(test_config_match_selectors),
		cmocka_unit_test(test_config_env_name),
		cmocka_unit_test(test_config_preferred_allocation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
