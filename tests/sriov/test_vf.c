// SPDX-License-Identifier: Apache-2.0
/* Unit tests for VF resolution on fake sysfs trees, the fake PF backend and the saved state. */
#include <errno.h>
#include <linux/if_ether.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/cleanup.h"
#include "lib/util/sysfs.h"
#include "sriov/sriov.h"

static char root[] = "/tmp/plexus-sriov-unit.XXXXXX";
static char state[512];

/* Run tests/fixtures/mksysfs.sh (tests run from the top of the tree) on the fake root. */
static void mk(const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "tests/fixtures/mksysfs.sh %s %s", root, args);
	if (system(cmd) != 0)
		fail_msg("fixture failed: %s", cmd);
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(root))
		return -1;
	snprintf(state, sizeof(state), "%s/state", root);
	setenv("PLEXUS_SYSFS_ROOT", root, 1);
	setenv("PLEXUS_STATE_DIR", state, 1);
	mk("pf 0000:03:00.0 ens1f0");
	mk("vf 0000:03:00.0 0 0000:03:00.1 iavf ens1f0v0");
	mk("vf 0000:03:00.0 1 0000:03:00.2 vfio-pci");
	mk("vf 0000:03:00.0 2 0000:03:00.3 igb_uio");
	mk("vf 0000:03:00.0 3 0000:03:00.4 uio_pci_generic");
	mk("vf 0000:03:00.0 4 0000:03:00.5 iavf"); /* kernel driver, no netdev */
	mk("vf 0000:03:00.0 5 0000:03:00.6 -");	   /* unbound */
	mk("dev 0000:04:00.0 e1000e eno1");	   /* not a VF */
	mk("pf 0000:05:00.0 - nofake");		   /* PF without netdev, no fake file */
	mk("vf 0000:05:00.0 0 0000:05:00.1 iavf ens2v0");
	mk("vf 0000:05:00.0 1 0000:05:00.2 vfio-pci");
	/* a physfn whose PF lacks the virtfn link back */
	mk("vf 0000:03:00.0 9 0000:03:01.0 iavf x0");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm %s/sys/devices/pci0000:00/0000:03:00.0/virtfn9", root);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_vf_root_prefix(void **st)
{
	(void)st;
	assert_false(sysfs_root_is_real());
	char *p = sysfs_path("/sys/bus/pci/devices/%s", "x");
	assert_true(strncmp(p, root, strlen(root)) == 0);
	assert_string_equal(p + strlen(root), "/sys/bus/pci/devices/x");
	free(p);
}

static void test_vf_locate_kernel(void **st)
{
	(void)st;
	struct sriov_vf vf;
	struct cni_err err = { 0 };
	assert_int_equal(sriov_vf_locate("0000:03:00.1", true, &vf, &err), 0);
	assert_string_equal(vf.pf_bdf, "0000:03:00.0");
	assert_string_equal(vf.pf_ifname, "ens1f0");
	assert_int_equal(vf.index, 0);
	assert_string_equal(vf.ifname, "ens1f0v0");
	assert_string_equal(vf.driver, "iavf");
	assert_false(vf.dpdk);
	assert_string_equal(sriov_pf_ops_for(&vf)->name, "fake");
	sriov_vf_done(&vf);
	/* no fake file next to this PF: the netlink backend */
	assert_int_equal(sriov_vf_locate("0000:05:00.1", true, &vf, &err), 0);
	assert_null(vf.pf_ifname);
	assert_string_equal(sriov_pf_ops_for(&vf)->name, "netlink");
	sriov_vf_done(&vf);
}

static void test_vf_locate_dpdk(void **st)
{
	(void)st;
	static const struct {
		const char *bdf;
		uint32_t index;
	} cases[] = { { "0000:03:00.2", 1 }, { "0000:03:00.3", 2 }, { "0000:03:00.4", 3 } };
	for (size_t i = 0; i < 3; i++) {
		struct sriov_vf vf;
		struct cni_err err = { 0 };
		assert_int_equal(sriov_vf_locate(cases[i].bdf, true, &vf, &err), 0);
		assert_true(vf.dpdk);
		assert_null(vf.ifname);
		assert_int_equal(vf.index, cases[i].index);
		sriov_vf_done(&vf);
	}
}

static void test_vf_locate_errors(void **st)
{
	(void)st;
	static const struct {
		const char *bdf, *msg;
	} cases[] = {
		{ "0000:09:00.1", "no PCI device" },
		{ "0000:04:00.0", "not an SR-IOV VF" },
		{ "0000:03:01.0", "no virtfn link" },
		{ "0000:03:00.5", "no netdev and driver 'iavf'" },
		{ "0000:03:00.6", "driver '(none)'" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sriov_vf vf;
		struct cni_err err = { 0 };
		assert_true(sriov_vf_locate(cases[i].bdf, true, &vf, &err) < 0);
		if (err.code != 7 || !strstr(err.msg, "deviceID") || !strstr(err.msg, cases[i].msg))
			fail_msg("%s: code %d '%s'", cases[i].bdf, err.code, err.msg);
	}
	/* DEL's lookup tolerates a VF whose netdev is away in a pod */
	struct sriov_vf vf;
	struct cni_err err = { 0 };
	assert_int_equal(sriov_vf_locate("0000:03:00.5", false, &vf, &err), 0);
	assert_false(vf.dpdk);
	sriov_vf_done(&vf);
}

static void test_vf_fake_backend_roundtrip(void **st)
{
	(void)st;
	struct sriov_vf vf;
	struct cni_err err = { 0 };
	assert_int_equal(sriov_vf_locate("0000:03:00.2", true, &vf, &err), 0);
	const struct sriov_pf_ops *ops = sriov_pf_ops_for(&vf);
	struct net_vf_state s;
	assert_int_equal(ops->get(&vf, &s, &err), 0);
	assert_true(s.spoofchk);
	assert_int_equal(s.proto, ETH_P_8021Q);
	struct net_vf_state w = { .has = 0x3f,
				  .mac = { 2, 0, 0, 0, 0, 9 },
				  .vlan = 10,
				  .qos = 5,
				  .proto = ETH_P_8021AD,
				  .trust = true,
				  .min_rate = 1,
				  .max_rate = 9,
				  .link_state = NET_VF_LINK_DISABLE };
	assert_int_equal(ops->set(&vf, NET_VF_VLAN | NET_VF_TRUST | NET_VF_MAC, &w, &err), 0);
	assert_int_equal(ops->get(&vf, &s, &err), 0);
	assert_int_equal(s.vlan, 10);
	assert_int_equal(s.qos, 5);
	assert_int_equal(s.proto, ETH_P_8021AD);
	assert_true(s.trust);
	assert_int_equal(s.mac[5], 9);
	assert_true(s.spoofchk);	 /* not in the mask */
	assert_int_equal(s.max_rate, 0); /* not in the mask */
	sriov_vf_done(&vf);
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A minimal record of VF 0000:03:00.1 for attachment cid/ifname in netns. */
static void save_min(const char *cid, const char *ifname, const char *netns)
{
	struct cni_ctx ctx = { .container_id = cid, .ifname = ifname, .netns_path = netns };
	struct sriov_cache c = { .device_id = "0000:03:00.1" };
	struct cni_err err = { 0 };
	assert_int_equal(sriov_cache_save(&ctx, &c, &err), 0);
}

static void test_vf_alloc_and_lock(void **st)
{
	(void)st;
	struct cni_err err = { 0 };
	int fd = -1;
	assert_int_equal(sriov_lock("0000:03:00.1", &fd, &err), 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sriov_alloc_check("0000:03:00.1", &err), 0);
	/* a live netns (any existing path) holds it; a gone one does not */
	save_min("cid0", "net1", "/proc/self/ns/net");
	assert_true(sriov_alloc_check("0000:03:00.1", &err) < 0);
	assert_non_null(strstr(err.msg, "pci address 0000:03:00.1 is already allocated"));
	save_min("cid0", "net1", "/run/netns/gone-xyz");
	memset(&err, 0, sizeof(err));
	assert_int_equal(sriov_alloc_check("0000:03:00.1", &err), 0);
	/* the plain-path form older versions wrote is still read */
	char path[700];
	snprintf(path, sizeof(path), "%s/pci/0000:03:00.1", state);
	put_file(path, "/proc/self/ns/net\n");
	assert_true(sriov_alloc_check("0000:03:00.1", &err) < 0);
	assert_non_null(strstr(err.msg, "netns '/proc/self/ns/net'"));
	put_file(path, "/run/netns/gone-xyz");
	memset(&err, 0, sizeof(err));
	assert_int_equal(sriov_alloc_check("0000:03:00.1", &err), 0);
	/* a record cut by a power loss names no netns: stale */
	put_file(path, "{\"deviceID\":\"0000:03:00.1\",\"netns\":\"/proc/se");
	assert_int_equal(sriov_alloc_check("0000:03:00.1", &err), 0);
	sriov_alloc_drop("0000:03:00.1");
	sriov_alloc_drop("0000:03:00.1");
	struct cni_ctx ctx = { .container_id = "cid0", .ifname = "net1" };
	sriov_cache_remove(&ctx);
}

static void test_vf_cache_roundtrip(void **st)
{
	(void)st;
	struct cni_ctx ctx = { .container_id = "cid1",
			       .ifname = "net1",
			       .netns_fd = -1,
			       .netns_path = "/proc/self/ns/net" };
	struct sriov_cache c = { .device_id = "0000:03:00.1",
				 .host_ifname = "ens1f0v0",
				 .host_mac = { 2, 1, 2, 3, 4, 5 },
				 .host_mtu = 1500,
				 .host_kind = "veth",
				 .host_ifindex = 17,
				 .orig = { .has = 0x3f,
					   .mac = { 2, 9, 9, 9, 9, 9 },
					   .vlan = 3,
					   .qos = 1,
					   .proto = ETH_P_8021AD,
					   .spoofchk = true,
					   .min_rate = 4,
					   .max_rate = 8,
					   .link_state = 2 },
				 .applied = NET_VF_VLAN | NET_VF_MAC,
				 .moved = true,
				 .pod_ifindex = 42,
				 .device_info_file = "/run/devinfo.json" };
	struct cni_err err = { 0 };
	assert_int_equal(sriov_cache_save(&ctx, &c, &err), 0);
	struct sriov_cache l;
	assert_int_equal(sriov_cache_load(&ctx, &l, &err), 0);
	assert_string_equal(l.device_id, c.device_id);
	assert_string_equal(l.host_ifname, c.host_ifname);
	assert_memory_equal(l.host_mac, c.host_mac, MAC_LEN);
	assert_int_equal(l.host_mtu, 1500);
	assert_string_equal(l.host_kind, "veth");
	assert_int_equal(l.host_ifindex, 17);
	assert_memory_equal(&l.orig, &c.orig, sizeof(c.orig));
	assert_int_equal(l.applied, c.applied);
	assert_true(l.moved);
	assert_int_equal(l.pod_ifindex, 42);
	assert_string_equal(l.device_info_file, c.device_info_file);
	sriov_cache_done(&l);
	/* the allocation record is a second copy: it stands in for a cut or missing cache */
	char path[700], rpath[700];
	snprintf(path, sizeof(path), "%s/cid1-net1.json", state);
	snprintf(rpath, sizeof(rpath), "%s/pci/0000:03:00.1", state);
	assert_int_equal(truncate(path, 40), 0);
	assert_int_equal(sriov_cache_load(&ctx, &l, &err), 0);
	assert_int_equal(l.pod_ifindex, 42);
	assert_int_equal(l.host_ifindex, 17);
	assert_memory_equal(&l.orig, &c.orig, sizeof(c.orig));
	assert_string_equal(l.device_info_file, c.device_info_file);
	sriov_cache_done(&l);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sriov_cache_load(&ctx, &l, &err), 0);
	assert_string_equal(l.host_ifname, "ens1f0v0");
	sriov_cache_done(&l);
	/* ... but only for its own attachment */
	struct cni_ctx other = { .container_id = "cid2", .ifname = "net1" };
	struct cni_ctx other_if = { .container_id = "cid1", .ifname = "net2" };
	assert_int_equal(sriov_cache_load(&other, &l, &err), -ENOENT);
	assert_int_equal(sriov_cache_load(&other_if, &l, &err), -ENOENT);
	/* a cut record leaves the cache to stand alone */
	assert_int_equal(sriov_cache_save(&ctx, &c, &err), 0);
	assert_int_equal(truncate(rpath, 1), 0);
	assert_int_equal(sriov_cache_load(&ctx, &l, &err), 0);
	assert_int_equal(l.pod_ifindex, 42);
	sriov_cache_done(&l);
	/* both cut: a decode error naming the cache */
	assert_int_equal(truncate(path, 100), 0);
	assert_true(sriov_cache_load(&ctx, &l, &err) < 0);
	assert_int_equal(err.code, 6);
	assert_non_null(strstr(err.msg, "cid1-net1.json"));
	/* a record under another VF's name is not taken for this VF's */
	assert_int_equal(sriov_cache_save(&ctx, &c, &err), 0);
	char moved[700];
	snprintf(moved, sizeof(moved), "%s/pci/0000:03:00.2", state);
	assert_int_equal(rename(rpath, moved), 0);
	assert_int_equal(truncate(path, 100), 0);
	memset(&err, 0, sizeof(err));
	assert_true(sriov_cache_load(&ctx, &l, &err) < 0);
	assert_int_equal(err.code, 6);
	assert_int_equal(unlink(moved), 0);
	sriov_alloc_drop("0000:03:00.1");
	/* A temp file left by a killed write goes with the record. */
	char tmp[700];
	snprintf(tmp, sizeof(tmp), "%s/cid1-net1.json.tmp.4194303", state);
	FILE *t = fopen(tmp, "w");
	assert_non_null(t);
	fclose(t);
	sriov_cache_remove(&ctx);
	assert_int_equal(sriov_cache_load(&ctx, &l, &err), -ENOENT);
	assert_int_equal(access(tmp, F_OK), -1);
	/* a corrupt cache without a record is a decode error naming the file */
	put_file(path, "{\"deviceID\":\"0000:03:00.1\"}");
	assert_true(sriov_cache_load(&ctx, &l, &err) < 0);
	assert_int_equal(err.code, 6);
	assert_non_null(strstr(err.msg, "cid1-net1.json"));
	/* quarantined: out of DEL's way, kept for the operator */
	sriov_cache_quarantine(&ctx);
	assert_int_equal(sriov_cache_load(&ctx, &l, &err), -ENOENT);
	snprintf(tmp, sizeof(tmp), "%s/cid1-net1.json.corrupt", state);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(unlink(tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vf_root_prefix),
		cmocka_unit_test(test_vf_locate_kernel),
		cmocka_unit_test(test_vf_locate_dpdk),
		cmocka_unit_test(test_vf_locate_errors),
		cmocka_unit_test(test_vf_fake_backend_roundtrip),
		cmocka_unit_test(test_vf_alloc_and_lock),
		cmocka_unit_test(test_vf_cache_roundtrip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
