// SPDX-License-Identifier: Apache-2.0
/* Unit tests for pod Events (lib/kube/event.c): bounding tenant text, the Event's shape, and the
 * relay's check of an Event against the request's pod. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/event.h"
#include "lib/util/cleanup.h"

#define UID "0f3c6a52-2f54-4b0e-9a8e-1d2c3b4a5f60"
static const struct kube_event_pod pod = { .ns = "default", .name = "web-0", .uid = UID };

static void test_event_message_bounds(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "Add net1 [10.1.2.3/24] from default/mv",
		  "Add net1 [10.1.2.3/24] from default/mv" },
		{ "a\nb\tc\033[31m\x7f", "a b c [31m " },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "bad \xc3 utf8 \xff", "bad ? utf8 ?" },
		{ "overlong \xc0\xaf", "overlong ??" },
		{ NULL, "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *m = kube_event_message(cases[i].in);
		assert_string_equal(m, cases[i].out);
	}
	/* Too long: cut to the bound, "..." last, never inside a UTF-8 character. */
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t off = 0; off < 4; off++) {
		for (size_t i = 1000 + off; i + 1 < 1100; i += 2)
			memcpy(big + i, "\xc3\xa9", 2);
		_cleanup_free_ char *m = kube_event_message(big);
		size_t n = strlen(m);
		assert_true(n <= KUBE_EVENT_MESSAGE_MAX);
		assert_true(n >= KUBE_EVENT_MESSAGE_MAX - 3);
		assert_string_equal(m + n - 3, "...");
		_cleanup_free_ char *again = kube_event_message(m);
		assert_string_equal(again, m); /* valid UTF-8, within the bound */
		memset(big, 'x', sizeof(big) - 1);
	}
}

static void test_event_new_shape(void **state)
{
	(void)state;
	_cleanup_json_ cJSON *e = kube_event_new(&pod, "Normal", KUBE_EVENT_ADDED,
						 "Add net1 [] from a/b", "node-1", 0);
	_cleanup_free_ char *text = json_print(e);
	const char *name = cJSON_GetStringValue(json_get(json_get(e, "metadata"), "name"));
	assert_non_null(name);
	assert_true(strncmp(name, "web-0.", 6) == 0);
	_cleanup_json_ cJSON *want = cJSON_Parse(
		"{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"\","
		"\"namespace\":\"default\"},\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":"
		"\"Pod\",\"namespace\":\"default\",\"name\":\"web-0\",\"uid\":\"" UID "\"},"
		"\"type\":\"Normal\",\"reason\":\"AddedInterface\",\"message\":\"Add net1 [] from "
		"a/b\",\"source\":{\"component\":\"plexus\",\"host\":\"node-1\"},"
		"\"reportingComponent\":\"plexus.io/meta\",\"reportingInstance\":\"node-1\","
		"\"firstTimestamp\":\"1970-01-01T00:00:00Z\",\"lastTimestamp\":"
		"\"1970-01-01T00:00:00Z\",\"count\":1}");
	/* The name is time-based: take it over. */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(want, "metadata"), "name",
				  cJSON_CreateString(name));
	if (!cJSON_Compare(e, want, true)) {
		_cleanup_free_ char *w = json_print(want);
		fail_msg("got %s\nwant %s", text, w);
	}
	/* The longest pod name still gives a valid name (at most 253 characters). */
	char longname[254];
	memset(longname, 'a', 253);
	longname[253] = '\0';
	struct kube_event_pod lp = { .ns = "default", .name = longname, .uid = "" };
	_cleanup_json_ cJSON *l = kube_event_new(&lp, "Normal", KUBE_EVENT_ADDED, "m", NULL, 0);
	assert_true(strlen(cJSON_GetStringValue(json_get(json_get(l, "metadata"), "name"))) <= 253);
	assert_null(json_get(json_get(l, "involvedObject"), "uid"));
}

/* check_one: kube_event_new's Event for p2 with type/reason/message, edited by edit (a key
 * path "a.b" set to a JSON value, or NULL), checked for pod; want_field NULL = accepted. */
static void check_one(const struct kube_event_pod *p2, const char *type, const char *reason,
		      const char *msg, const char *key, const char *value, const char *want_field)
{
	_cleanup_json_ cJSON *e = kube_event_new(p2, type, reason, msg, "n", 0);
	if (key) {
		cJSON *parent = e;
		const char *dot = strchr(key, '.');
		_cleanup_free_ char *k = dot ? strndup(key, (size_t)(dot - key)) : strdup(key);
		if (dot) {
			parent = cJSON_GetObjectItemCaseSensitive(e, k);
			free(k);
			k = strdup(dot + 1);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(parent, k);
		if (value)
			cJSON_AddItemToObject(parent, k, cJSON_Parse(value));
	}
	_cleanup_free_ char *body = json_print(e);
	_cleanup_free_ char *t = NULL, *r = NULL, *m = NULL;
	struct cni_err err = { 0 };
	int rc = kube_event_check(&pod, body, &t, &r, &m, &err);
	if (!want_field) {
		if (rc < 0)
			fail_msg("refused %s: %s", body, err.msg);
		assert_string_equal(t, type);
		assert_string_equal(r, reason);
		assert_string_equal(m, msg);
		return;
	}
	if (rc >= 0)
		fail_msg("accepted %s", body);
	assert_int_equal(err.code, CNI_ERR_KUBE_API);
	assert_non_null(strstr(err.msg, want_field));
	assert_null(t);
}

static void test_event_check(void **state)
{
	(void)state;
	const struct kube_event_pod other = { .ns = "default", .name = "web-1", .uid = UID };
	const struct kube_event_pod other_ns = { .ns = "prod", .name = "web-0", .uid = UID };
	const struct kube_event_pod other_uid = { .ns = "default", .name = "web-0", .uid = "1" };
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "Add", NULL, NULL, NULL);
	check_one(&pod, "Warning", KUBE_EVENT_NO_NETWORK, "x", NULL, NULL, NULL);
	check_one(&pod, "Warning", KUBE_EVENT_ADD_FAILED, "x", NULL, NULL, NULL);
	check_one(&other, "Normal", KUBE_EVENT_ADDED, "Add", NULL, NULL, "involvedObject");
	check_one(&other_ns, "Normal", KUBE_EVENT_ADDED, "Add", NULL, NULL, "involvedObject");
	check_one(&other_uid, "Normal", KUBE_EVENT_ADDED, "Add", NULL, NULL, "involvedObject");
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "Add", "involvedObject.kind", "\"Node\"",
		  "involvedObject");
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "Add", "involvedObject.uid", NULL,
		  "involvedObject");
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "Add", "metadata.namespace", "\"prod\"",
		  "involvedObject");
	check_one(&pod, "Warning", KUBE_EVENT_ADDED, "Add", NULL, NULL, "type/reason");
	check_one(&pod, "Normal", "Killing", "Add", NULL, NULL, "type/reason");
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "a\nb", NULL, NULL, "message");
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "Add", "message", "7", "message");
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, "Add", "kind", "\"Pod\"", "body");
	char big[KUBE_EVENT_MESSAGE_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	check_one(&pod, "Normal", KUBE_EVENT_ADDED, big, NULL, NULL, "message");
	/* The request's own pod must be a valid one. */
	struct kube_event_pod bad = { .ns = "Default", .name = "web-0", .uid = UID };
	struct cni_err err = { 0 };
	char *t = NULL, *r = NULL, *m = NULL;
	assert_true(kube_event_check(&bad, "{}", &t, &r, &m, &err) < 0);
	assert_non_null(strstr(err.msg, "pod"));
	bad = (struct kube_event_pod){ .ns = "default", .name = "web-0", .uid = NULL };
	assert_true(kube_event_check(&bad, "{}", &t, &r, &m, &err) < 0);
	assert_true(kube_event_check(&pod, "not json", &t, &r, &m, &err) < 0);
	assert_true(kube_event_check(&pod, NULL, &t, &r, &m, &err) < 0);
}

/* Correlate message number i at time t into c; the step, with a POST "sent" as name n<i>. */
static struct kube_event_step step_at(struct kube_event_corr *c, int i, int64_t t)
{
	char msg[32], name[32];
	snprintf(msg, sizeof(msg), "message %d", i);
	struct kube_event_step st;
	kube_event_correlate(c, msg, t, &st);
	if (!st.patch) {
		snprintf(name, sizeof(name), "%s%d", st.combined ? "combined" : "n", i);
		strcpy(st.slot->name, name);
		st.slot->count = 1;
	}
	return st;
}

static void test_event_correlate(void **state)
{
	(void)state;
	struct kube_event_corr c = { 0 };
	int64_t t = 1000;
	/* Messages 1..9: Events of their own; a repeat is a PATCH of its own Event. */
	for (int i = 1; i <= 9; i++) {
		struct kube_event_step st = step_at(&c, i, t++);
		assert_false(st.patch || st.combined);
	}
	struct kube_event_step st = step_at(&c, 3, t++);
	assert_true(st.patch && !st.combined && st.slot->count == 2);
	assert_string_equal(st.slot->name, "n3");
	/* The 10th distinct message: the combined Event (POST), then the 11th PATCHes it. */
	st = step_at(&c, 10, t++);
	assert_true(st.combined && !st.patch);
	st = step_at(&c, 11, t++);
	assert_true(st.combined && st.patch && st.slot->count == 2);
	assert_string_equal(st.slot->name, "combined10");
	/* The 10th again: still the combined Event (it never joined the window's messages). */
	st = step_at(&c, 10, t++);
	assert_true(st.combined && st.patch && st.slot->count == 3);
	/* The window's messages keep their Events. */
	st = step_at(&c, 9, t);
	assert_true(!st.combined && st.patch && st.slot->count == 2);
	/* More than KUBE_EVENT_WINDOW_S without one: a new window, new messages are their own
	 * Events again; the combined Event is PATCHed again when the window fills up. */
	t += KUBE_EVENT_WINDOW_S + 1;
	st = step_at(&c, 12, t++);
	assert_true(!st.combined && !st.patch);
	for (int i = 13; i <= 20; i++)
		assert_false(step_at(&c, i, t++).combined);
	st = step_at(&c, 21, t++);
	assert_true(st.combined && st.patch && st.slot->count == 4);
	/* At most KUBE_EVENT_SIMILAR_MAX messages are kept: an old one's Event was let go. */
	size_t used = 0;
	for (size_t i = 0; i < KUBE_EVENT_SIMILAR_MAX; i++)
		used += c.sent[i].hash != 0;
	assert_int_equal(used, KUBE_EVENT_SIMILAR_MAX);
	/* A gap of exactly the interval keeps the window (client-go: "> maxInterval"). */
	struct kube_event_corr d = { 0 };
	for (int i = 1; i <= 9; i++)
		step_at(&d, i, 0);
	assert_true(step_at(&d, 10, KUBE_EVENT_WINDOW_S).combined);
	/* The combined message: prefixed, cut to the bound. */
	_cleanup_free_ char *m = kube_event_combined_message("Add net1");
	assert_string_equal(m, "(combined from similar events): Add net1");
	_cleanup_free_ char *long_msg = xmalloc(KUBE_EVENT_MESSAGE_MAX + 1);
	memset(long_msg, 'x', KUBE_EVENT_MESSAGE_MAX);
	long_msg[KUBE_EVENT_MESSAGE_MAX] = '\0';
	_cleanup_free_ char *cut = kube_event_combined_message(long_msg);
	assert_int_equal(strlen(cut), KUBE_EVENT_MESSAGE_MAX);
	_cleanup_free_ char *patch = kube_event_patch_body(7, 0, NULL);
	assert_string_equal(patch, "{\"count\":7,\"lastTimestamp\":\"1970-01-01T00:00:00Z\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_message_bounds),
		cmocka_unit_test(test_event_new_shape),
		cmocka_unit_test(test_event_check),
		cmocka_unit_test(test_event_correlate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
