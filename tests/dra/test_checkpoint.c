// SPDX-License-Identifier: Apache-2.0
/* dra/checkpoint.c: save/load round trip, validation of what is read back; and the name rules
 * of dra/prepare.c (CDI) and dra/slices.c (device and pool names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dra/internal.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

static char dir[] = "/tmp/plexus-test-dra.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	(void)state;
	return system(cmd) == 0 ? 0 : -1;
}

static struct dra_claim mkclaim(const char *uid, bool vfio)
{
	struct dra_claim c = { .state = DRA_PREPARED };
	snprintf(c.uid, sizeof(c.uid), "%s", uid);
	strcpy(c.ns, "default");
	strcpy(c.name, "claim-1");
	c.devs = calloc(1, sizeof(*c.devs));
	c.n_devs = 1;
	strcpy(c.devs[0].request, "vf");
	strcpy(c.devs[0].pool, "node-1-dpdk");
	strcpy(c.devs[0].device, "0000-5e-02-1");
	strcpy(c.devs[0].bdf, "0000:5e:02.1");
	strcpy(c.devs[0].resource, "example.com/dpdk");
	strcpy(c.devs[0].orig_driver, "iavf");
	c.devs[0].vfio = vfio;
	c.devs[0].iommu_group = vfio ? 51 : -1;
	return c;
}

static void test_checkpoint_round_trip(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/rt.json", dir);
	struct dra d = { .ckpt_path = path };
	struct cni_err err = { 0 };
	struct dra_claim a = mkclaim("aaaa-1", true), b = mkclaim("bbbb-2", false);
	assert_int_equal(dra_ckpt_put(&d, &a, &err), 0);
	assert_int_equal(dra_ckpt_put(&d, &b, &err), 0);
	b.state = DRA_PREPARING;
	assert_int_equal(dra_ckpt_put(&d, &b, &err), 0); /* replaces, not appends */
	assert_int_equal(d.n_claims, 2);
	dra_ckpt_free(&d);

	assert_int_equal(dra_ckpt_load(&d, &err), 0);
	assert_int_equal(d.n_claims, 2);
	const struct dra_claim *x = dra_ckpt_find(&d, "aaaa-1");
	assert_non_null(x);
	assert_int_equal(x->state, DRA_PREPARED);
	assert_true(x->devs[0].vfio);
	assert_int_equal(x->devs[0].iommu_group, 51);
	assert_string_equal(x->devs[0].orig_driver, "iavf");
	assert_string_equal(x->devs[0].resource, "example.com/dpdk");
	assert_int_equal(dra_ckpt_find(&d, "bbbb-2")->state, DRA_PREPARING);

	assert_int_equal(dra_ckpt_drop(&d, "aaaa-1", &err), 0);
	assert_int_equal(dra_ckpt_drop(&d, "never", &err), 0);
	dra_ckpt_free(&d);
	assert_int_equal(dra_ckpt_load(&d, &err), 0);
	assert_int_equal(d.n_claims, 1);
	assert_null(dra_ckpt_find(&d, "aaaa-1"));
	dra_ckpt_free(&d);
	dra_claim_done(&a);
	dra_claim_done(&b);
}

static void test_checkpoint_missing_is_empty(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/none.json", dir);
	struct dra d = { .ckpt_path = path };
	struct cni_err err = { 0 };
	assert_int_equal(dra_ckpt_load(&d, &err), 0);
	assert_int_equal(d.n_claims, 0);
}

/* One corrupt file: load fails naming the field and leaves no claims. */
static void bad_one(const char *json, const char *field)
{
	_cleanup_free_ char *path = xasprintf("%s/bad.json", dir);
	struct dra d = { .ckpt_path = path };
	struct cni_err err = { 0 };
	assert_int_equal(file_write_atomic(path, json, strlen(json), 0600), 0);
	assert_true(dra_ckpt_load(&d, &err) < 0);
	if (!strstr(err.msg, field))
		fail_msg("'%s' does not name '%s'", err.msg, field);
	assert_int_equal(d.n_claims, 0);
	assert_null(d.claims);
}

#define DEV(bdf, drv)                                                                         \
	"{\"claims\":[{\"uid\":\"u-1\",\"namespace\":\"default\",\"name\":\"c\",\"state\":1," \
	"\"devices\":[{\"request\":\"vf\",\"pool\":\"p\",\"device\":\"d\",\"bdf\":\"" bdf     \
	"\",\"resource\":\"plexus.io/x\",\"origDriver\":\"" drv "\",\"vfio\":true,"           \
	"\"iommuGroup\":4}]}]}"

static void test_checkpoint_validates_what_it_reads(void **state)
{
	(void)state;
	bad_one("{", "checkpoint");
	bad_one("{\"claims\":{}}", "checkpoint.claims");
	bad_one(DEV("../../../etc", "iavf"), "checkpoint.claims[0].devices[0].bdf");
	bad_one(DEV("0000:5e:02.1x", "iavf"), "checkpoint.claims[0].devices[0].bdf");
	bad_one(DEV("0000:5e:02.1", "../x"), "checkpoint.claims[0].devices[0].origDriver");
	bad_one("{\"claims\":[{\"uid\":\"u/1\",\"namespace\":\"default\",\"name\":\"c\","
		"\"state\":1,\"devices\":[]}]}",
		"checkpoint.claims[0].uid");
	bad_one("{\"claims\":[{\"uid\":\"u1\",\"namespace\":\"default\",\"name\":\"c\","
		"\"state\":7,\"devices\":[]}]}",
		"state");
}

static void test_cdi_names(void **state)
{
	(void)state;
	assert_true(dra_cdi_vendor_ok("sriov.plexus.io"));
	assert_true(dra_cdi_vendor_ok("a"));
	assert_false(dra_cdi_vendor_ok("1vendor"));
	assert_false(dra_cdi_vendor_ok("vendor."));
	assert_false(dra_cdi_vendor_ok("ven/dor"));
	assert_false(dra_cdi_vendor_ok(""));
	assert_true(dra_cdi_class_ok("vf"));
	assert_false(dra_cdi_class_ok("v.f"));
	assert_false(dra_cdi_class_ok("vf-"));
	assert_true(dra_cdi_device_ok("1111-0000-5e-02-1"));
	assert_true(dra_cdi_device_ok("a:b.c_d"));
	assert_false(dra_cdi_device_ok("-a"));
	assert_false(dra_cdi_device_ok("a b"));
	assert_false(dra_cdi_device_ok(""));
}

static void test_device_name_from_bdf(void **state)
{
	char out[DP_BDF_MAX];
	(void)state;
	dra_device_name("0000:5e:02.1", out);
	assert_string_equal(out, "0000-5e-02-1");
}

static int pools_one(const char *node, const char *json, const char *msg)
{
	struct dra d = { .node = node, .driver = "sriov.plexus.io" };
	struct cni_err err = { 0 };
	assert_int_equal(dp_config_parse(json, strlen(json), "plexus.io", &d.cfg, &err), 0);
	int r = dra_pools_init(&d, &err);
	if (msg && !strstr(err.msg, msg))
		fail_msg("'%s' does not contain '%s'", err.msg, msg);
	if (r == 0 && !msg)
		assert_string_equal(d.pools[0].name, "node-1-net-dev");
	dra_pools_free(&d);
	dp_config_done(&d.cfg);
	return r;
}

static void test_pool_names(void **state)
{
	(void)state;
	assert_int_equal(
		pools_one("node-1",
			  "{\"resourceList\":[{\"resourceName\":\"Net_Dev\",\"selectors\":{}}]}",
			  NULL),
		0);
	assert_true(pools_one("node-1",
			      "{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{}},"
			      "{\"resourceName\":\"a\",\"selectors\":{},\"resourcePrefix\":"
			      "\"example.com\"}]}",
			      "pool name 'node-1-a' also names resourceList[0]") < 0);
	assert_true(pools_one("node-1",
			      "{\"resourceList\":[{\"resourceName\":\"a.\",\"selectors\":{}}]}",
			      "resourceList[0]: pool name 'node-1-a.' is not a DNS subdomain") < 0);
	char node[241]; /* four labels of 59 characters: a valid name, too long with a suffix */
	memset(node, 'n', sizeof(node) - 1);
	node[59] = node[119] = node[179] = '.';
	node[sizeof(node) - 1] = '\0';
	assert_true(pools_one(node,
			      "{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{}}]}",
			      "make slice names longer than 253 characters") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpoint_round_trip),
		cmocka_unit_test(test_checkpoint_missing_is_empty),
		cmocka_unit_test(test_checkpoint_validates_what_it_reads),
		cmocka_unit_test(test_cdi_names),
		cmocka_unit_test(test_device_name_from_bdf),
		cmocka_unit_test(test_pool_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
