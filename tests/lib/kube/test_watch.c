// SPDX-License-Identifier: Apache-2.0
/* lib/kube LIST and the LIST+WATCH loop against the real TLS API server fixture: order,
 * resume after a cut stream, 410 -> re-LIST, out-of-band deletes, selectors, bookmarks,
 * paging, bounds, prompt stop. Each test watches its own namespace. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/list.h"
#include "lib/kube/watch.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/file.h"
#include "tests/lib/kube/fixture.h"

static const char STATE[] =
	"{\"kind\":\"List\",\"items\":["
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"w-order\"},"
	"\"spec\":{\"nodeName\":\"n1\"}},"
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\",\"namespace\":\"w-order\"},"
	"\"spec\":{\"nodeName\":\"n2\"}},"
	"{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}"
	"]}";

/* What the callback saw, in order. */
struct rec {
	enum kube_watch_event type;
	char name[64]; /* SYNC: the items' names, comma-separated */
	long rv;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rec recs[256];
	size_t n;
	int fail_at; /* the callback fails on this event (1-based); 0: never */
} ev = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int on_event(void *data, enum kube_watch_event type, const cJSON *obj, struct cni_err *err)
{
	(void)data;
	pthread_mutex_lock(&ev.mu);
	struct rec *r = &ev.recs[ev.n < ARRAY_SIZE(ev.recs) ? ev.n : ARRAY_SIZE(ev.recs) - 1];
	r->type = type;
	r->name[0] = '\0';
	r->rv = 0;
	if (type == KUBE_WATCH_SYNC) {
		const cJSON *it;
		cJSON_ArrayForEach (it, obj) {
			const cJSON *n = json_get(json_get(it, "metadata"), "name");
			size_t l = strlen(r->name);
			snprintf(r->name + l, sizeof(r->name) - l, "%s%s", l ? "," : "",
				 cJSON_IsString(n) ? n->valuestring : "?");
		}
	} else {
		const cJSON *n = json_get(json_get(obj, "metadata"), "name");
		snprintf(r->name, sizeof(r->name), "%s", cJSON_IsString(n) ? n->valuestring : "?");
		r->rv = atol(kube_object_rv(obj));
	}
	ev.n++;
	bool fail = ev.fail_at && (int)ev.n == ev.fail_at;
	pthread_cond_broadcast(&ev.cv);
	pthread_mutex_unlock(&ev.mu);
	if (fail)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOSPC, "callback refused");
	return 0;
}

/* Wait (condition variable, no sleeping) until at least n events were recorded. */
static bool wait_events(size_t n, long timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ev.mu);
	int r = 0;
	while (ev.n < n && r == 0)
		r = pthread_cond_timedwait(&ev.cv, &ev.mu, &ts);
	bool ok = ev.n >= n;
	pthread_mutex_unlock(&ev.mu);
	return ok;
}

/* "S:a,b A:c M:c D:c": the recorded events in order. */
static char *trace(void)
{
	char *s = xstrdup("");
	pthread_mutex_lock(&ev.mu);
	for (size_t i = 0; i < ev.n; i++) {
		char *t = xasprintf("%s%s%c:%s", s, i ? " " : "", "SAMD"[ev.recs[i].type],
				    ev.recs[i].name);
		free(s);
		s = t;
	}
	pthread_mutex_unlock(&ev.mu);
	return s;
}

/* A kube_watch_run on its own thread, stopped through an eventfd. */
struct runner {
	pthread_t thread;
	struct kube_config *cfg;
	struct kube_watch w;
	struct kube_watch_stats stats;
	struct cni_err err;
	int r;
};

static void *run_watch(void *arg)
{
	struct runner *x = arg;
	x->r = kube_watch_run(x->cfg, &x->w, &x->err);
	return NULL;
}

/* Set up (the caller may adjust x->w), then go. */
static void prepare(struct runner *x, const char *path, const char *field, const char *token)
{
	memset(x, 0, sizeof(*x));
	x->cfg = token_config(token ? token : TOKEN);
	x->w = (struct kube_watch){ .path = path,
				    .sel = { .field = field },
				    .on_event = on_event,
				    .stop_fd = eventfd(0, EFD_CLOEXEC),
				    .backoff_min_ms = 20,
				    .backoff_max_ms = 200,
				    .stats = &x->stats };
	assert_true(x->w.stop_fd >= 0);
}

static void go(struct runner *x)
{
	assert_int_equal(pthread_create(&x->thread, NULL, run_watch, x), 0);
}

static void start(struct runner *x, const char *path, const char *field, const char *token)
{
	prepare(x, path, field, token);
	go(x);
}

/* Stop and join; the time it took in ms. */
static long stop(struct runner *x)
{
	int64_t t0 = clock_now_ms();
	uint64_t one = 1;
	assert_int_equal(write(x->w.stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(x->thread, NULL);
	long took = (long)(clock_now_ms() - t0);
	close(x->w.stop_fd);
	kube_config_free(x->cfg);
	return took;
}

/* Out-of-band writes, as another node or a controller would make them. */
static void put(const char *json)
{
	assert_int_equal(fixture_request("PUT", "objects", json, NULL), 200);
}

static void put_pod(const char *ns, const char *name, const char *node, int gen)
{
	_cleanup_free_ char *j = xasprintf("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
					   "\"namespace\":\"%s\",\"labels\":{\"gen\":\"%d\"}},"
					   "\"spec\":{\"nodeName\":\"%s\"}}",
					   name, ns, gen, node);
	put(j);
}

static void del_pod(const char *ns, const char *name)
{
	_cleanup_free_ char *q = xasprintf("objects?kind=Pod&namespace=%s&name=%s", ns, name);
	assert_int_equal(fixture_request("DELETE", q, NULL, NULL), 200);
}

/* Wait until the fixture has n open watches (its control endpoint, polled). */
static void wait_watches(int n)
{
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *body = NULL;
		assert_int_equal(fixture_request("GET", "watches", NULL, &body), 200);
		_cleanup_json_ cJSON *j = cJSON_Parse(body);
		const cJSON *c = json_get(j, "count");
		if (cJSON_IsNumber(c) && c->valueint == n)
			return;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	fail_msg("the fixture never had %d open watches", n);
}

static int test_setup(void **state)
{
	(void)state;
	pthread_mutex_lock(&ev.mu);
	ev.n = 0;
	ev.fail_at = 0;
	pthread_mutex_unlock(&ev.mu);
	return skip_reason ? 0 : fixture_control("DELETE", NULL);
}

static void test_watch_sync_then_events_in_order(void **state)
{
	(void)state;
	NEED_SERVER();
	struct runner x;
	start(&x, "/api/v1/namespaces/w-order/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	put_pod("w-order", "c", "n1", 1);
	put_pod("w-order", "a", "n1", 2);
	del_pod("w-order", "b");
	put_pod("other-ns", "z", "n1", 1); /* not in the watched namespace */
	assert_true(wait_events(4, 5000));
	assert_true(stop(&x) < 1000);
	assert_int_equal(x.r, 0);
	_cleanup_free_ char *t = trace();
	assert_string_equal(t, "S:a,b A:c M:a D:b");
	for (size_t i = 2; i < ev.n; i++)
		assert_true(ev.recs[i].rv > ev.recs[i - 1].rv);
	assert_int_equal(x.stats.lists, 1);
	assert_int_equal(x.stats.events, 3);
}

/* A stream cut mid-watch (abruptly, as a dying apiserver or LB does) resumes from the last
 * resourceVersion: every change made while disconnected arrives exactly once, no re-LIST. */
static void test_watch_resume_after_cut(void **state)
{
	(void)state;
	NEED_SERVER();
	put_pod("w-cut", "p0", "n1", 0);
	struct runner x;
	start(&x, "/api/v1/namespaces/w-cut/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	put_pod("w-cut", "p1", "n1", 0);
	assert_true(wait_events(2, 5000));
	/* Cut, and change things before the client is back. */
	assert_int_equal(fixture_request("POST", "watches/close", NULL, NULL), 200);
	put_pod("w-cut", "p2", "n1", 0);
	put_pod("w-cut", "p1", "n1", 1);
	del_pod("w-cut", "p0");
	assert_true(wait_events(5, 5000));
	wait_watches(1);
	/* And once more, gracefully (the server's own timeout looks like this). */
	assert_int_equal(fixture_request("POST", "watches/close?graceful=1", NULL, NULL), 200);
	put_pod("w-cut", "p3", "n1", 0);
	assert_true(wait_events(6, 5000));
	wait_watches(1);
	stop(&x);
	_cleanup_free_ char *t = trace();
	assert_string_equal(t, "S:p0 A:p1 A:p2 M:p1 D:p0 A:p3");
	assert_int_equal(x.stats.lists, 1);
	assert_true(x.stats.watches >= 3);
	assert_int_equal(x.stats.expired, 0);
}

/* The server forgot the client's resourceVersion (compaction while it was away): 410, a fresh
 * LIST handed over as SYNC, then watching goes on from the new List. */
static void test_watch_410_relists(void **state)
{
	(void)state;
	NEED_SERVER();
	put_pod("w-410", "p0", "n1", 0);
	struct runner x;
	start(&x, "/api/v1/namespaces/w-410/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	/* A write the watch does not see (another kind) moves the global resourceVersion past
	 * the client's; compacting then makes the client's too old for a resume. */
	put("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n-410\"}}");
	assert_int_equal(fixture_request("POST", "compact", NULL, NULL), 200);
	assert_int_equal(fixture_request("POST", "watches/close", NULL, NULL), 200);
	assert_true(wait_events(2, 5000));
	wait_watches(1);
	put_pod("w-410", "p1", "n1", 0);
	assert_true(wait_events(3, 5000));
	stop(&x);
	_cleanup_free_ char *t = trace();
	assert_string_equal(t, "S:p0 S:p0 A:p1");
	assert_int_equal(x.stats.lists, 2);
	assert_int_equal(x.stats.expired, 1);
}

/* A field selector (spec.nodeName, as a node agent watches its own pods): pods of other nodes
 * are never seen; a pod that moves onto the node is ADDED, one that leaves is DELETED. */
static void test_watch_field_selector(void **state)
{
	(void)state;
	NEED_SERVER();
	put_pod("w-sel", "mine", "n1", 0);
	put_pod("w-sel", "theirs", "n2", 0);
	struct runner x;
	start(&x, "/api/v1/pods", "spec.nodeName=n1,metadata.namespace=w-sel", NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	put_pod("w-sel", "theirs", "n2", 1);
	put_pod("w-sel", "theirs", "n1", 2);
	put_pod("w-sel", "mine", "n2", 1);
	assert_true(wait_events(3, 5000));
	stop(&x);
	_cleanup_free_ char *t = trace();
	assert_string_equal(t, "S:mine A:theirs D:mine");
}

/* BOOKMARKs move the resume point: after one, a reconnect asks for the bookmark's version. */
static void test_watch_bookmark_moves_resume_point(void **state)
{
	(void)state;
	NEED_SERVER();
	struct runner x;
	start(&x, "/api/v1/namespaces/w-bm/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	put("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n-bm\"}}");
	_cleanup_free_ char *body = NULL;
	assert_int_equal(fixture_request("GET", "state", NULL, &body), 200);
	_cleanup_free_ char *reqs = NULL;
	assert_int_equal(fixture_request("POST", "bookmark", NULL, NULL), 200);
	/* The bookmark carries the current resourceVersion: the Node's. */
	_cleanup_json_ cJSON *st = cJSON_Parse(body);
	long node_rv = 0;
	const cJSON *it;
	cJSON_ArrayForEach (it, json_get(st, "items"))
		if (strcmp(json_get(json_get(it, "metadata"), "name")->valuestring, "n-bm") == 0)
			node_rv = atol(kube_object_rv(it));
	assert_true(node_rv > 0);
	/* A graceful end: the bookmark before it is read before the reconnect. */
	assert_int_equal(fixture_request("POST", "watches/close?graceful=1", NULL, NULL), 200);
	wait_watches(1);
	stop(&x);
	assert_int_equal(fixture_request("GET", "requests", NULL, &reqs), 200);
	_cleanup_free_ char *want = xasprintf("resourceVersion=%ld", node_rv);
	assert_non_null(strstr(reqs, want));
	assert_int_equal(x.stats.bookmarks, 1);
	assert_int_equal(x.stats.lists, 1);
}

static void test_watch_stop_is_prompt(void **state)
{
	(void)state;
	NEED_SERVER();
	struct runner x;
	start(&x, "/api/v1/namespaces/w-stop/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	long took = stop(&x);
	assert_int_equal(x.r, 0);
	assert_true(took < 500); /* the transport polls its socket for 1 s at a time */
	wait_watches(0);
}

/* Credentials the API refuses end the loop with the API's error, without retrying. */
static void test_watch_unauthorized_ends(void **state)
{
	(void)state;
	NEED_SERVER();
	struct runner x;
	start(&x, "/api/v1/namespaces/w-401/pods", NULL, "not-a-token");
	pthread_join(x.thread, NULL);
	assert_int_equal(x.r, -EACCES);
	assert_int_equal(x.err.code, 101);
	assert_non_null(strstr(x.err.msg, "unauthorized"));
	assert_int_equal(x.stats.lists, 0);
	close(x.w.stop_fd);
	kube_config_free(x.cfg);
}

/* A failing callback ends the loop with its own error. */
static void test_watch_callback_error_ends(void **state)
{
	(void)state;
	NEED_SERVER();
	ev.fail_at = 2;
	struct runner x;
	start(&x, "/api/v1/namespaces/w-cb/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	put_pod("w-cb", "p", "n1", 0);
	pthread_join(x.thread, NULL);
	assert_int_equal(x.r, -ENOSPC);
	assert_string_equal(x.err.msg, "callback refused");
	close(x.w.stop_fd);
	kube_config_free(x.cfg);
}

/* Transient failures (503 on the LIST, twice) are retried with back-off. */
static void test_watch_retries_transient(void **state)
{
	(void)state;
	NEED_SERVER();
	assert_int_equal(fixture_control("POST", "[{\"status\":503,\"method\":\"GET\","
						 "\"path\":\"/namespaces/w-503/\",\"count\":4}]"),
			 0);
	struct runner x;
	start(&x, "/api/v1/namespaces/w-503/pods", NULL, NULL);
	assert_true(wait_events(1, 5000));
	stop(&x);
	assert_int_equal(x.stats.lists, 1);
	assert_int_equal(x.stats.failures, 2); /* kube_request retries each 503 once itself */
}

/* An event line longer than max_event ends the loop: code 101, EFBIG. */
static void test_watch_event_size_bound(void **state)
{
	(void)state;
	NEED_SERVER();
	struct runner x;
	prepare(&x, "/api/v1/namespaces/w-big/pods", NULL, NULL);
	x.w.max_event = 4096;
	go(&x);
	assert_true(wait_events(1, 5000));
	wait_watches(1);
	char big[6000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	_cleanup_free_ char *j =
		xasprintf("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"big\","
			  "\"namespace\":\"w-big\",\"annotations\":{\"a\":\"%s\"}}}",
			  big);
	put(j);
	pthread_join(x.thread, NULL);
	assert_int_equal(x.r, -EFBIG);
	assert_int_equal(x.err.code, 101);
	close(x.w.stop_fd);
	kube_config_free(x.cfg);
}

static void test_watch_run_ms_returns(void **state)
{
	(void)state;
	NEED_SERVER();
	struct runner x;
	int64_t t0 = clock_now_ms();
	prepare(&x, "/api/v1/namespaces/w-time/pods", NULL, NULL);
	x.w.run_ms = 400;
	go(&x);
	pthread_join(x.thread, NULL);
	long took = (long)(clock_now_ms() - t0);
	assert_int_equal(x.r, 0);
	assert_true(took >= 400 && took < 2000);
	close(x.w.stop_fd);
	kube_config_free(x.cfg);
}

/* LIST pages through limit/continue (500 a page), keeps order, and is bounded. */
static void test_list_pages_and_bound(void **state)
{
	(void)state;
	NEED_SERVER();
	_cleanup_free_ char *items = xstrdup("");
	for (int i = 0; i < 1100; i++) {
		char *t = xasprintf("%s%s{\"kind\":\"IPPool\",\"metadata\":{\"name\":\"p%04d\","
				    "\"namespace\":\"w-list\"}}",
				    items, i ? "," : "", i);
		free(items);
		items = t;
	}
	_cleanup_free_ char *list = xasprintf("{\"kind\":\"List\",\"items\":[%s]}", items);
	put(list);
	_cleanup_kube_config_ struct kube_config *cfg = token_config(TOKEN);
	cfg->max_response = 1 << 20;
	_cleanup_json_ cJSON *got = NULL;
	_cleanup_free_ char *rv = NULL;
	struct cni_err err = { 0 };
	const char *path = "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/w-list/ippools";
	assert_int_equal(kube_list(cfg, path, NULL, 0, &got, &rv, &err), 0);
	assert_int_equal(cJSON_GetArraySize(got), 1100);
	assert_string_equal(
		json_get(json_get(cJSON_GetArrayItem(got, 1099), "metadata"), "name")->valuestring,
		"p1099");
	assert_true(atol(rv) > 0);
	_cleanup_free_ char *reqs = NULL;
	assert_int_equal(fixture_request("GET", "requests", NULL, &reqs), 200);
	int pages = 0;
	for (const char *p = reqs; (p = strstr(p, "w-list/ippools?limit=500")); p++)
		pages++;
	assert_int_equal(pages, 3);
	_cleanup_json_ cJSON *none = NULL;
	_cleanup_free_ char *rv2 = NULL;
	assert_int_equal(kube_list(cfg, path, NULL, 1000, &none, &rv2, &err), -EFBIG);
	assert_null(none);
	struct kube_selectors sel = { .label = "a b=&c" };
	_cleanup_free_ char *q = kube_list_path("/api/v1/pods", &sel, "watch=1");
	assert_string_equal(q, "/api/v1/pods?labelSelector=a%20b%3D%26c&watch=1");
	assert_int_equal(kube_list(cfg, "/api/v1/pods?x=1", NULL, 0, &none, &rv2, &err), -EINVAL);
	assert_int_equal(err.code, 7);
}

static int group_setup(void **state)
{
	(void)state;
	return fixture_setup(STATE);
}

#define T(f) cmocka_unit_test_setup(f, test_setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_watch_sync_then_events_in_order),
		T(test_watch_resume_after_cut),
		T(test_watch_410_relists),
		T(test_watch_field_selector),
		T(test_watch_bookmark_moves_resume_point),
		T(test_watch_stop_is_prompt),
		T(test_watch_unauthorized_ends),
		T(test_watch_callback_error_ends),
		T(test_watch_retries_transient),
		T(test_watch_event_size_bound),
		T(test_watch_run_ms_returns),
		T(test_list_pages_and_bound),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
