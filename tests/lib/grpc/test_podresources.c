// SPDX-License-Identifier: Apache-2.0
/* lib/grpc client + PodResources against grpc-js playing kubelet (tests/fixtures/grpc). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/grpc/podresources.h"
#include "tests/lib/grpc/peer.h"

#define SERVER PEER_DIR "/podresources-server.js"

static char dir[64];
static const char *skip_reason;
static int prepare_failed;

static int group_setup(void **state)
{
	(void)state;
	skip_reason = peer_prepare(&prepare_failed);
	strcpy(dir, "/tmp/plexus-test-grpc.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *cmd = xasprintf("/bin/rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void need_peer(void)
{
	if (skip_reason && prepare_failed)
		fail_msg("%s", skip_reason);
	if (skip_reason) {
		print_message("SKIP: %s\n", skip_reason);
		skip();
	}
}

/* Start the fixture in `mode` on a fresh socket, wait for READY. */
static char *start(struct peer *p, const char *mode)
{
	static int n;
	char *sock = xasprintf("%s/kubelet-%d.sock", dir, n++);
	char line[256];

	need_peer();
	assert_int_equal(peer_start(p, SERVER, sock, mode, NULL), 0);
	assert_int_equal(peer_line(p, line, sizeof(line), 15000), 0);
	assert_string_equal(line, "READY");
	return sock;
}

static void expect_ids(const char *sock, const char *ns, const char *pod, const char *res,
		       const char *const *want, size_t n_want)
{
	struct cni_err err = { 0 };
	char **ids = NULL;
	size_t n = 99;

	int r = gr_podresources_get_devices(sock, ns, pod, res, &ids, &n, 5000, &err);
	if (r < 0)
		fail_msg("%s/%s %s: %s", ns, pod, res, err.msg);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n_want; i++)
		assert_string_equal(ids[i], want[i]);
	assert_null(ids[n]);
	gr_podresources_ids_free(ids);
}

static void test_podresources_devices_of_pod(void **state)
{
	struct peer p;
	_cleanup_free_ char *sock = start(&p, "ok");
	static const char *const web[] = { "0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2" };
	static const char *const prod[] = { "0000:3b:02.5" };
	static const char *const dpdk[] = { "0000:5e:00.3" };

	(void)state;
	/* Container order (init, app), kubelet's order within a container; other resources and
	 * the same pod name in another namespace are not mixed in. */
	expect_ids(sock, "default", "web", "intel.com/sriov", web, 3);
	expect_ids(sock, "prod", "web", "intel.com/sriov", prod, 1);
	expect_ids(sock, "default", "web", "intel.com/sriov_dpdk", dpdk, 1);
	(void)peer_stop(&p, SIGTERM);
}

static void test_podresources_unknown_pod_empty(void **state)
{
	struct peer p;
	_cleanup_free_ char *sock = start(&p, "ok");

	(void)state;
	expect_ids(sock, "default", "nope", "intel.com/sriov", NULL, 0);
	expect_ids(sock, "other", "web", "intel.com/sriov", NULL, 0);
	expect_ids(sock, "default", "web", "example.com/none", NULL, 0);
	(void)peer_stop(&p, SIGTERM);
}

static void test_podresources_error_status(void **state)
{
	struct peer p;
	_cleanup_free_ char *sock = start(&p, "error");
	struct cni_err err = { 0 };
	char **ids = NULL;
	size_t n = 0;

	(void)state;
	int r = gr_podresources_get_devices(sock, "default", "web", "intel.com/sriov", &ids, &n,
					    5000, &err);
	assert_int_equal(r, -EACCES);
	assert_null(ids);
	assert_int_equal(err.code, CNI_ERR_DEVICE);
	assert_int_equal(err.sys, EACCES);
	/* grpc-js percent-encodes '%', non-ASCII and the newline; we decode all of them. */
	assert_non_null(strstr(err.msg, "PERMISSION_DENIED: pod-resources: 100% denied, "
					"caf\xc3\xa9\nsecond line"));
	assert_string_equal(err.details, "grpc-status 7 (PERMISSION_DENIED)");
	(void)peer_stop(&p, SIGTERM);
}

static void expect_try_again_fast(const char *sock)
{
	struct cni_err err = { 0 };
	struct timespec t0;
	char **ids = NULL;
	size_t n = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = gr_podresources_get_devices(sock, "default", "web", "intel.com/sriov", &ids, &n,
					    5000, &err);
	assert_true(r < 0);
	assert_int_equal(err.code, CNI_ERR_TRY_AGAIN);
	assert_true(elapsed_ms(&t0) < 200);
}

static void test_podresources_no_server(void **state)
{
	(void)state;
	_cleanup_free_ char *missing = xasprintf("%s/absent.sock", dir);
	expect_try_again_fast(missing);

	/* A socket file nobody listens on (kubelet died): ECONNREFUSED, still "try again". */
	_cleanup_free_ char *dead = xasprintf("%s/dead.sock", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dead);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)close(fd);
	expect_try_again_fast(dead);
}

static void test_podresources_deadline(void **state)
{
	struct peer p;
	_cleanup_free_ char *sock = start(&p, "hang");
	struct cni_err err = { 0 };
	struct timespec t0;
	char **ids = NULL;
	size_t n = 0;

	(void)state;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = gr_podresources_get_devices(sock, "default", "web", "intel.com/sriov", &ids, &n,
					    300, &err);
	long ms = elapsed_ms(&t0);
	assert_int_equal(r, -ETIMEDOUT);
	assert_int_equal(err.code, CNI_ERR_TRY_AGAIN);
	assert_non_null(strstr(err.msg, "deadline exceeded"));
	assert_true(ms >= 290 && ms < 1000);
	(void)peer_stop(&p, SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_podresources_devices_of_pod),
		cmocka_unit_test(test_podresources_unknown_pod_empty),
		cmocka_unit_test(test_podresources_error_status),
		cmocka_unit_test(test_podresources_no_server),
		cmocka_unit_test(test_podresources_deadline),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
