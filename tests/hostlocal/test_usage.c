// SPDX-License-Identifier: Apache-2.0
/* Unit tests for host-local pool usage (hostlocal/usage.c): range sizes without the gateway,
 * leases counted per range from the store's names, a missing store, a store too large, bad
 * conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostlocal/hostlocal.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"

/* tmpfs: the too-large store is 64 Ki files. */
static char root[] = "/dev/shm/plexus-usage.XXXXXX";

static void touch(const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/net/%s", root, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("cid\r\neth0", f);
	fclose(f);
}

/* hl_pool_usage of network "net" with ipam ranges (JSON text, %s = dataDir). */
static int usage(const char *ranges, struct hl_pool **ret, size_t *ret_n, struct cni_err *err)
{
	_cleanup_free_ char *text = xasprintf(
		"{\"type\":\"host-local\",\"dataDir\":\"%s\",\"ranges\":%s}", root, ranges);
	_cleanup_json_ cJSON *ipam = cJSON_Parse(text);
	assert_non_null(ipam);
	return hl_pool_usage("net", ipam, ret, ret_n, err);
}

static void test_usage_counts(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(root));
	struct hl_pool *p = NULL;
	size_t n = 0;
	struct cni_err e = { 0 };
	const char *ranges = "[[{\"subnet\":\"10.1.0.0/24\"},"
			     "{\"subnet\":\"10.2.0.0/24\",\"rangeStart\":\"10.2.0.10\","
			     "\"rangeEnd\":\"10.2.0.19\",\"gateway\":\"10.2.0.1\"}],"
			     "[{\"subnet\":\"fd00::/64\"}]]";
	/* No store yet: every address free, nothing created. */
	assert_int_equal(usage(ranges, &p, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_true(p[0].addresses == 253 && p[0].allocated == 0);
	_cleanup_free_ char *dir = xasprintf("%s/net", root);
	assert_int_equal(access(dir, F_OK), -1);
	free(p);

	assert_int_equal(mkdir(dir, 0755), 0);
	touch("10.1.0.2");
	touch("10.1.0.3");
	touch("10.2.0.11");
	touch("10.2.0.30"); /* outside every range: a stale lease of an older conf */
	touch("fd00::2");
	touch("lock");
	touch("last_reserved_ip.0");
	assert_int_equal(usage(ranges, &p, &n, &e), 0);
	assert_int_equal(n, 3);
	char s[IPNET_STR_LEN];
	format_ipnet(&p[0].subnet, s);
	assert_string_equal(s, "10.1.0.0/24");
	/* .1 (the gateway) to .254. */
	assert_true(p[0].addresses == 253 && p[0].allocated == 2);
	/* .10 to .19; the gateway is outside the range. */
	assert_true(p[1].addresses == 10 && p[1].allocated == 1);
	format_ipnet(&p[2].subnet, s);
	assert_string_equal(s, "fd00::/64");
	/* ::1 (the gateway) to ff..fe: 2^64 - 3, beyond a double's integers (2^53). */
	assert_true(p[2].addresses > 1.8446744e19 && p[2].addresses < 1.8446745e19);
	assert_true(p[2].allocated == 1);
	free(p);

	/* A store too large to count (HL_POOL_SCAN_MAX entries with . and ..) is an error, not a
	 * longer walk. */
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	for (int i = 0; i < HL_POOL_SCAN_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "x%d", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_true(usage(ranges, &p, &n, &e) < 0);
	assert_int_equal(e.code, CNI_ERR_IO);
	assert_non_null(strstr(e.msg, "entries or more"));
	/* A bad conf is the conf's error, naming the field. */
	assert_true(usage("[[{\"subnet\":\"nope\"}]]", &p, &n, &e) < 0);
	assert_int_equal(e.code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(e.msg, "ipam"));
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
