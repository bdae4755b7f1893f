// SPDX-License-Identifier: Apache-2.0
/* lib/grpc server (unary, server-streaming, Trailers-Only errors, GOAWAY) with grpc-js as the
 * client playing kubelet against a DevicePlugin-shaped test service. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/grpc/client.h"
#include "lib/grpc/proto/deviceplugin_v1beta1.pb-c.h"
#include "lib/grpc/server.h"
#include "tests/lib/grpc/peer.h"

#define CLIENT PEER_DIR "/deviceplugin-client.js"
#define DP "/v1beta1.DevicePlugin/"

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

static char dir[64];
static const char *skip_reason;
static int prepare_failed;

/* The test "device plugin": two VFs, a ListAndWatch stream driven by wake phases. */
struct dp {
	atomic_int phase; /* 1: vf1 goes Unhealthy, 2: end the stream OK */
	atomic_int closed;
	struct gr_stream *law;
};

static uint8_t *pack_options(size_t *len)
{
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	o.get_preferred_allocation_available = 1;
	*len = v1beta1__device_plugin_options__get_packed_size(&o);
	uint8_t *buf = xmalloc(*len ? *len : 1);
	(void)v1beta1__device_plugin_options__pack(&o, buf);
	return buf;
}

static int get_options(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		       size_t *ret_len, struct cni_err *err)
{
	(void)ud;
	(void)req;
	(void)req_len;
	(void)err;
	*ret_resp = pack_options(ret_len);
	return 0;
}

static int allocate(void *ud, const uint8_t *req, size_t req_len, uint8_t **ret_resp,
		    size_t *ret_len, struct cni_err *err)
{
	V1beta1__AllocateRequest *ar = v1beta1__allocate_request__unpack(NULL, req_len, req);
	int r = 0;

	(void)ud;
	if (!ar)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "undecodable AllocateRequest");
	size_t n = ar->n_container_requests;
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;
	V1beta1__ContainerAllocateResponse *crs = xcalloc(n + 1, sizeof(*crs));
	V1beta1__ContainerAllocateResponse **pcrs = xcalloc(n + 1, sizeof(*pcrs));
	V1beta1__ContainerAllocateResponse__EnvsEntry *env = xcalloc(n + 1, sizeof(*env));
	V1beta1__ContainerAllocateResponse__EnvsEntry **penv = xcalloc(n + 1, sizeof(*penv));
	char **vals = xcalloc(n + 1, sizeof(*vals));

	for (size_t i = 0; i < n && r == 0; i++) {
		V1beta1__ContainerAllocateRequest *c = ar->container_requests[i];
		size_t len = 0;

		for (size_t k = 0; k < c->n_devices_ids; k++) {
			if (strncmp(c->devices_ids[k], "vf", 2) != 0) {
				r = cni_err_set(err, CNI_ERR_DEVICE, EINVAL,
						"unknown device '%s' (100%% sure)",
						c->devices_ids[k]);
				break;
			}
			len += strlen(c->devices_ids[k]) + 1;
		}
		if (r < 0)
			break;
		vals[i] = xcalloc(1, len + 1);
		for (size_t k = 0; k < c->n_devices_ids; k++) {
			if (k)
				strcat(vals[i], ",");
			strcat(vals[i], c->devices_ids[k]);
		}
		v1beta1__container_allocate_response__init(&crs[i]);
		v1beta1__container_allocate_response__envs_entry__init(&env[i]);
		env[i].key = (char *)"PCIDEVICE_TEST";
		env[i].value = vals[i];
		penv[i] = &env[i];
		crs[i].n_envs = 1;
		crs[i].envs = &penv[i];
		pcrs[i] = &crs[i];
	}
	if (r == 0) {
		resp.n_container_responses = n;
		resp.container_responses = pcrs;
		*ret_len = v1beta1__allocate_response__get_packed_size(&resp);
		*ret_resp = xmalloc(*ret_len + 1);
		(void)v1beta1__allocate_response__pack(&resp, *ret_resp);
	}
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	free(vals);
	free(penv);
	free(env);
	free(pcrs);
	free(crs);
	v1beta1__allocate_request__free_unpacked(ar, NULL);
	return r;
}

static void send_devices(struct gr_stream *st, int vf1_healthy)
{
	V1beta1__Device d0 = V1BETA1__DEVICE__INIT, d1 = V1BETA1__DEVICE__INIT;
	V1beta1__Device *devs[] = { &d0, &d1 };
	V1beta1__ListAndWatchResponse m = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	uint8_t buf[256];

	d0.id = (char *)"vf0";
	d0.health = (char *)"Healthy";
	d1.id = (char *)"vf1";
	d1.health = (char *)(vf1_healthy ? "Healthy" : "Unhealthy");
	m.n_devices = 2;
	m.devices = devs;
	size_t len = v1beta1__list_and_watch_response__pack(&m, buf);
	assert_int_equal(gr_stream_send(st, buf, len), 0);
}

static int list_and_watch(void *ud, struct gr_stream *st, const uint8_t *req, size_t req_len,
			  struct cni_err *err)
{
	struct dp *dp = ud;

	(void)req;
	(void)req_len;
	(void)err;
	dp->law = st;
	send_devices(st, 1);
	return 0;
}

static void law_closed(void *ud, struct gr_stream *st)
{
	struct dp *dp = ud;

	if (dp->law == st)
		dp->law = NULL;
	atomic_fetch_add(&dp->closed, 1);
}

static void on_wake(void *ud)
{
	struct dp *dp = ud;

	if (!dp->law)
		return;
	if (atomic_load(&dp->phase) == 1)
		send_devices(dp->law, 0);
	else if (atomic_load(&dp->phase) == 2)
		gr_stream_end(dp->law, NULL);
}

static const struct gr_method methods[] = {
	{ .path = DP "GetDevicePluginOptions", .unary = get_options },
	{ .path = DP "Allocate", .unary = allocate },
	{ .path = DP "ListAndWatch", .stream = list_and_watch, .closed = law_closed },
};

struct fixture {
	struct dp dp;
	struct gr_server *srv;
	pthread_t thread;
	char *sock;
	int run_r;
};

static void *serve(void *arg)
{
	struct fixture *f = arg;
	struct cni_err err = { 0 };

	f->run_r = gr_server_run(f->srv, &err);
	return NULL;
}

static void fixture_start(struct fixture *f)
{
	static int n;
	struct cni_err err = { 0 };

	memset(f, 0, sizeof(*f));
	f->sock = xasprintf("%s/dp-%d.sock", dir, n++);
	if (gr_server_new(f->sock, methods, ARRAY_SIZE(methods), &f->dp, &f->srv, &err) < 0)
		fail_msg("%s", err.msg);
	gr_server_set_wake(f->srv, on_wake);
	assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fixture_stop(struct fixture *f)
{
	gr_server_stop(f->srv);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	assert_int_equal(f->run_r, 0);
	gr_server_free(f->srv);
	assert_int_equal(access(f->sock, F_OK), -1); /* socket file removed */
	free(f->sock);
}

static void expect_line(struct peer *p, const char *want)
{
	char line[1024];

	if (peer_line(p, line, sizeof(line), 10000) < 0)
		fail_msg("no line from the grpc-js client, wanted %s", want);
	assert_string_equal(line, want);
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

/* The unary calls every run of the client makes first, then the first ListAndWatch update. */
static void expect_unary_and_first_update(struct peer *p)
{
	expect_line(p, "{\"event\":\"options\",\"pre_start_required\":false,"
		       "\"get_preferred_allocation_available\":true}");
	expect_line(p, "{\"event\":\"allocate\",\"envs\":[{\"PCIDEVICE_TEST\":\"vf0,vf1\"},"
		       "{\"PCIDEVICE_TEST\":\"vf2\"}]}");
	/* Handler error before any message: Trailers-Only, status from errno, message
	 * percent-encoded by us and decoded by grpc-js. */
	expect_line(p, "{\"event\":\"allocate_error\",\"code\":3,"
		       "\"details\":\"unknown device 'bogus' (100% sure)\"}");
	expect_line(p, "{\"event\":\"unknown_error\",\"code\":12,"
		       "\"details\":\"unknown method '/v1beta1.DevicePlugin/Nope'\"}");
	expect_line(p, "{\"event\":\"law\",\"devices\":[\"vf0=Healthy\",\"vf1=Healthy\"]}");
}

static void test_server_unary_and_stream(void **state)
{
	struct fixture f;
	struct peer p;

	(void)state;
	need_peer();
	fixture_start(&f);
	assert_int_equal(peer_start(&p, CLIENT, f.sock, NULL), 0);
	expect_unary_and_first_update(&p);
	/* Deferred data: the update is queued from the wake callback and resumes the stream. */
	atomic_store(&f.dp.phase, 1);
	gr_server_wake(f.srv);
	expect_line(&p, "{\"event\":\"law\",\"devices\":[\"vf0=Healthy\",\"vf1=Unhealthy\"]}");
	atomic_store(&f.dp.phase, 2);
	gr_server_wake(f.srv);
	expect_line(&p, "{\"event\":\"law_end\",\"code\":0,\"details\":\"\"}");
	assert_int_equal(peer_stop(&p, 0), 0);
	fixture_stop(&f);
	assert_int_equal(atomic_load(&f.dp.closed), 1);
}

static void test_server_stop_ends_streams(void **state)
{
	struct fixture f;
	struct peer p;

	(void)state;
	need_peer();
	fixture_start(&f);
	assert_int_equal(peer_start(&p, CLIENT, f.sock, NULL), 0);
	expect_unary_and_first_update(&p);
	/* Shutdown: open streams end with UNAVAILABLE, then GOAWAY; the client exits cleanly. */
	gr_server_stop(f.srv);
	expect_line(&p, "{\"event\":\"law_end\",\"code\":14,\"details\":\"server shutting down\"}");
	assert_int_equal(peer_stop(&p, 0), 0);
	fixture_stop(&f);
	assert_int_equal(atomic_load(&f.dp.closed), 1);
}

/* Our client against our server: Trailers-Only on the client side, and round trips. */
static void test_server_own_client(void **state)
{
	struct fixture f;
	struct cni_err err = { 0 };
	_cleanup_free_ uint8_t *resp = NULL;
	size_t len = 0, want_len;

	(void)state;
	fixture_start(&f);
	int r = gr_call_unary(f.sock, DP "GetDevicePluginOptions", NULL, 0, &resp, &len, 2000,
			      &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	_cleanup_free_ uint8_t *want = pack_options(&want_len);
	assert_int_equal(len, want_len);
	assert_memory_equal(resp, want, len);

	r = gr_call_unary(f.sock, DP "Nope", NULL, 0, &resp, &len, 2000, &err);
	assert_int_equal(r, -ENOSYS);
	assert_int_equal(err.code, CNI_ERR_DEVICE);
	assert_string_equal(err.details, "grpc-status 12 (UNIMPLEMENTED)");
	assert_non_null(strstr(err.msg, "unknown method '/v1beta1.DevicePlugin/Nope'"));
	fixture_stop(&f);
}

static int count_fds(void)
{
	int n = 0;
	_cleanup_(closedirp) DIR *d = opendir("/proc/self/fd");

	assert_non_null(d);
	while (readdir(d))
		n++;
	return n;
}

/* Many calls, each on its own connection: neither side keeps an fd or a stream. */
static void test_server_no_leaks(void **state)
{
	struct fixture f;
	int before = count_fds();

	(void)state;
	fixture_start(&f);
	for (int i = 0; i < 200; i++) {
		struct cni_err err = { 0 };
		_cleanup_free_ uint8_t *resp = NULL;
		size_t len = 0;

		if (gr_call_unary(f.sock, DP "GetDevicePluginOptions", NULL, 0, &resp, &len, 2000,
				  &err) < 0)
			fail_msg("call %d: %s", i, err.msg);
	}
	fixture_stop(&f);
	assert_int_equal(count_fds(), before);
}

static int group_setup(void **state)
{
	(void)state;
	skip_reason = peer_prepare(&prepare_failed);
	strcpy(dir, "/tmp/plexus-test-grpcsrv.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *cmd = xasprintf("/bin/rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_unary_and_stream),
		cmocka_unit_test(test_server_stop_ends_streams),
		cmocka_unit_test(test_server_own_client),
		cmocka_unit_test(test_server_no_leaks),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
