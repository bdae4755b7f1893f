// SPDX-License-Identifier: Apache-2.0
/* device-plugin/devices.c: VF discovery on a fake sysfs tree built by tests/fixtures/mksysfs.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "device-plugin/devices.h"

static char root[64];

static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* PF 0000:3b:00.0 'ens1f0' (ether, numvfs 3): VF0 iavf 'ens1f0v0' numa 0, VF1 vfio-pci in
 * iommu group 17 (no netdev, NUMA -1), VF2 unbound. PF 0000:5e:00.0 'ib0' (infiniband) with
 * one RDMA VF. PF 0000:7f:00.0 'uplink' (numvfs 1). PF 0000:80:00.0 with numvfs 0. */
static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/plexus-dp-devices.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	const char *mk = "tests/fixtures/mksysfs.sh";
	const char *d = "sys/devices/pci0000:00";
	int r = sh("set -e; M=%s R=%s D=%s/%s;"
		   "$M $R pf 0000:3b:00.0 ens1f0 nofake; echo 3 >$D/0000:3b:00.0/sriov_numvfs;"
		   "mkdir -p $D/0000:3b:00.0/net/ens1f0; echo 1 >$D/0000:3b:00.0/net/ens1f0/type;"
		   "$M $R vf 0000:3b:00.0 0 0000:3b:02.0 iavf ens1f0v0;"
		   "echo 1 >$D/0000:3b:02.0/net/ens1f0v0/type;"
		   "$M $R vf 0000:3b:00.0 1 0000:3b:02.1 vfio-pci;"
		   "$M $R vf 0000:3b:00.0 2 0000:3b:02.2 -;"
		   "for f in 0 1 2; do echo 0x8086 >$D/0000:3b:02.$f/vendor;"
		   " echo 0x1889 >$D/0000:3b:02.$f/device; done;"
		   "echo 0 >$D/0000:3b:02.0/numa_node; echo -1 >$D/0000:3b:02.1/numa_node;"
		   "mkdir -p $R/sys/kernel/iommu_groups/17;"
		   "ln -s ../../../kernel/iommu_groups/17 $D/0000:3b:02.1/iommu_group;"
		   "$M $R pf 0000:5e:00.0 ib0 nofake; echo 1 >$D/0000:5e:00.0/sriov_numvfs;"
		   "echo 32 >$D/0000:5e:00.0/net/ib0/type;"
		   "$M $R vf 0000:5e:00.0 0 0000:5e:00.2 mlx5_core;"
		   "echo 0x15b3 >$D/0000:5e:00.2/vendor; echo 0x101e >$D/0000:5e:00.2/device;"
		   "echo 1 >$D/0000:5e:00.2/numa_node; mkdir -p $D/0000:5e:00.2/infiniband/mlx5_1;"
		   "$M $R pf 0000:7f:00.0 uplink nofake; echo 1 >$D/0000:7f:00.0/sriov_numvfs;"
		   "$M $R vf 0000:7f:00.0 0 0000:7f:02.0 iavf;"
		   "$M $R pf 0000:80:00.0 - nofake; echo 0 >$D/0000:80:00.0/sriov_numvfs;"
		   "$M $R vf 0000:80:00.0 0 0000:80:02.0 iavf;"
		   "$M $R dev 0000:00:1f.0 ahci",
		   mk, root, root, d);
	setenv("PLEXUS_SYSFS_ROOT", root, 1);
	return r == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return sh("rm -rf %s", root);
}

static void test_devices_discover_fake_tree(void **state)
{
	struct dp_vf *vfs = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	(void)state;
	assert_int_equal(dp_discover(NULL, &vfs, &n, &err), 0);
	assert_int_equal(n, 5); /* 3 + 1 + 1; the numvfs 0 PF and the plain device are not there */
	const struct dp_vf *v = &vfs[0];
	assert_string_equal(v->bdf, "0000:3b:02.0");
	assert_string_equal(v->pf_bdf, "0000:3b:00.0");
	assert_string_equal(v->pf_ifname, "ens1f0");
	assert_string_equal(v->ifname, "ens1f0v0");
	assert_string_equal(v->driver, "iavf");
	assert_string_equal(v->vendor, "8086");
	assert_string_equal(v->device, "1889");
	assert_string_equal(v->link_type, "ether");
	assert_int_equal(v->vf_index, 0);
	assert_int_equal(v->numa_node, 0);
	assert_int_equal(v->iommu_group, -1);
	assert_false(v->rdma);
	v = &vfs[1];
	assert_string_equal(v->bdf, "0000:3b:02.1");
	assert_string_equal(v->driver, "vfio-pci");
	assert_true(dp_driver_is_vfio(v));
	assert_string_equal(v->ifname, "");
	assert_string_equal(v->link_type, "ether"); /* the PF's */
	assert_int_equal(v->iommu_group, 17);
	assert_int_equal(v->numa_node, -1);
	assert_int_equal(v->vf_index, 1);
	v = &vfs[2];
	assert_string_equal(v->driver, "");
	assert_int_equal(v->vf_index, 2);
	v = &vfs[3];
	assert_string_equal(v->bdf, "0000:5e:00.2");
	assert_string_equal(v->link_type, "infiniband");
	assert_string_equal(v->vendor, "15b3");
	assert_true(v->rdma);
	assert_int_equal(v->numa_node, 1);
	assert_string_equal(vfs[4].bdf, "0000:7f:02.0");
	assert_string_equal(vfs[4].vendor, ""); /* no vendor file: empty, still listed */
	char name[256];
	assert_non_null(strstr(dp_pci_name(&vfs[0], name, sizeof(name)), "Intel"));
	free(vfs);
}

static void test_devices_skip_default_route_pf(void **state)
{
	struct dp_vf *vfs = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	(void)state;
	assert_int_equal(dp_discover("uplink", &vfs, &n, &err), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(vfs[i].pf_ifname, "uplink");
	free(vfs);
}

static void test_devices_vf_added(void **state)
{
	struct dp_vf *vfs = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	(void)state;
	assert_int_equal(
		sh("tests/fixtures/mksysfs.sh %s vf 0000:7f:00.0 1 0000:7f:02.1 iavf", root), 0);
	assert_int_equal(dp_discover(NULL, &vfs, &n, &err), 0);
	assert_int_equal(n, 6);
	assert_string_equal(vfs[5].bdf, "0000:7f:02.1");
	assert_int_equal(vfs[5].vf_index, 1);
	free(vfs);
}

static void test_devices_no_sysfs(void **state)
{
	struct dp_vf *vfs = NULL;
	size_t n = 0;
	struct cni_err err = { 0 };
	(void)state;
	assert_int_equal(sh("mv %s/sys %s/sys.off", root, root), 0);
	assert_true(dp_discover(NULL, &vfs, &n, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_DEVICE);
	assert_int_equal(sh("mv %s/sys.off %s/sys", root, root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devices_discover_fake_tree),
		cmocka_unit_test(test_devices_skip_default_route_pf),
		cmocka_unit_test(test_devices_vf_added),
		cmocka_unit_test(test_devices_no_sysfs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
