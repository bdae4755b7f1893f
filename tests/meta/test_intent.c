// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the meta-plugin's intent log: a real log round-trips, and damaged logs (empty,
 * truncated at every length, wrong types, missing conf, huge) are refused as a whole or entry
 * by entry, never crashing and never handing DEL a bad attachment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "meta/internal.h"

#define CID "0123abcd"

static char dir[64];
static struct cni_ctx ctx;
static cJSON *conf;

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/plexus-test-intent.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	_cleanup_free_ char *text = xasprintf(
		"{\"cniVersion\":\"1.0.0\",\"name\":\"p\",\"type\":\"plexus\",\"clusterNetwork\":"
		"\"c\",\"cniDir\":\"%s\",\"deviceInfoDir\":\"%s/devinfo\"}",
		dir, dir);
	conf = cJSON_Parse(text);
	ctx = (struct cni_ctx){ .container_id = CID,
				.ifname = "eth0",
				.netns_fd = -1,
				.version = CNI_V100,
				.conf = conf };
	return conf ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cJSON_Delete(conf);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void plan_new(struct plan *p)
{
	struct cni_err err = { 0 };
	assert_int_equal(meta_plan_init(p, &ctx, &err), 0);
}

static void add(struct plan *p, const char *name, const char *ifname, const char *list,
		bool device_info)
{
	struct cni_err err = { 0 };
	struct attachment *a = meta_att_add(p, name, ifname, p->n_att == 0);
	assert_int_equal(dlg_list_parse(list, strlen(list), "n", "1.0.0", &a->list, &err), 0);
	a->attempted = true;
	if (device_info) {
		a->device_info_file = meta_device_info_path(p, name, ifname);
		a->cap_args = cJSON_CreateObject();
		cJSON_AddStringToObject(a->cap_args, "CNIDeviceInfoFile", a->device_info_file);
	}
	_cleanup_json_ cJSON *res = cJSON_Parse(
		"{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"x\",\"sandbox\":\"/n\"}],"
		"\"ips\":[{\"address\":\"10.1.0.2/24\",\"interface\":0}]}");
	assert_int_equal(cni_result_decode(res, CNI_V110, &a->result, &err), 0);
}

/* The log plexus writes for a pod with a cluster network and one secondary with a device. */
static char *real_log(void)
{
	struct plan p;
	plan_new(&p);
	add(&p, "kube-system/cluster", "eth0",
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"cluster\",\"plugins\":[{\"type\":\"bridge\","
	    "\"ipam\":{\"type\":\"host-local\"}}]}",
	    false);
	add(&p, "default/sriov-a", "net1", "{\"cniVersion\":\"1.0.0\",\"type\":\"macvlan\"}", true);
	struct cni_err err = { 0 };
	assert_int_equal(meta_intent_write(&p, true, &err), 0);
	_cleanup_free_ char *path = meta_intent_path(&p);
	char *text = NULL;
	assert_int_equal(file_read_all(path, CACHE_MAX, &text, NULL), 0);
	meta_plan_done(&p);
	return text;
}

static int parse(const char *text, size_t len, size_t *ret_n, struct plan *p)
{
	plan_new(p);
	struct cni_err err = { 0 };
	int r = meta_intent_parse(p, text, len, &err);
	*ret_n = p->n_att;
	if (r != 0)
		assert_true(err.msg[0] != '\0'); /* says what is wrong */
	return r;
}

static void test_intent_real_log_round_trips(void **state)
{
	(void)state;
	_cleanup_free_ char *text = real_log();
	struct plan p;
	size_t n;
	assert_int_equal(parse(text, strlen(text), &n, &p), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p.att[0].name, "kube-system/cluster");
	assert_true(p.att[0].is_default && p.att[0].attempted && p.att[0].result);
	assert_string_equal(p.att[1].ifname, "net1");
	_cleanup_free_ char *want = meta_device_info_path(&p, "default/sriov-a", "net1");
	assert_string_equal(p.att[1].device_info_file, want);
	meta_plan_done(&p);
}

static void test_intent_truncated_at_every_length(void **state)
{
	(void)state;
	_cleanup_free_ char *text = real_log();
	size_t len = strlen(text);
	for (size_t l = 0; l < len; l++) {
		_cleanup_free_ char *cut =
			xstrndup(text, l); /* no terminator past l for the parser */
		struct plan p;
		size_t n;
		int r = parse(cut, l, &n, &p);
		if (r >= 0)
			fail_msg("a log truncated to %zu of %zu bytes was accepted", l, len);
		assert_int_equal(n, 0);
		meta_plan_done(&p);
	}
}

static void test_intent_whole_log_refused(void **state)
{
	(void)state;
	const char *cases[] = {
		"",
		"   \n",
		"null",
		"[]",
		"\"x\"",
		"{}",
		"{\"containerID\":\"other\",\"attachments\":[]}",
		"{\"containerID\":7,\"attachments\":[]}",
		"{\"containerID\":\"" CID "\"}",
		"{\"containerID\":\"" CID "\",\"attachments\":{}}",
		"{\"version\":2,\"containerID\":\"" CID "\",\"attachments\":[]}",
		"{\"version\":\"1\",\"containerID\":\"" CID "\",\"attachments\":[]}",
		"\x00\xff\xfe garbage",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plan p;
		size_t n;
		size_t len = i == sizeof(cases) / sizeof(cases[0]) - 1 ? 12 : strlen(cases[i]);
		if (parse(cases[i], len, &n, &p) >= 0)
			fail_msg("case %zu was accepted: %s", i, cases[i]);
		assert_int_equal(n, 0);
		meta_plan_done(&p);
	}
}

/* Damage attachments[0] of the real log; attachments[1] must survive alone. */
static void one_bad_entry(const char *key, cJSON *value)
{
	_cleanup_free_ char *text = real_log();
	_cleanup_json_ cJSON *j = cJSON_Parse(text);
	cJSON *atts = cJSON_GetObjectItemCaseSensitive(j, "attachments");
	if (!key) {
		cJSON_ReplaceItemInArray(atts, 0, value);
	} else {
		cJSON *a = cJSON_GetArrayItem(atts, 0);
		cJSON_DeleteItemFromObjectCaseSensitive(a, key);
		if (value)
			cJSON_AddItemToObject(a, key, value);
	}
	_cleanup_free_ char *bad = json_print(j);
	struct plan p;
	size_t n;
	int r = parse(bad, strlen(bad), &n, &p);
	if (r != 1 || n != 1)
		fail_msg("attachments[0].%s damaged: parse %d, %zu entries", key ? key : "", r, n);
	assert_string_equal(p.att[0].ifname, "net1");
	meta_plan_done(&p);
}

static void test_intent_bad_entry_skipped_others_kept(void **state)
{
	(void)state;
	_cleanup_free_ char *huge = xmalloc(100001);
	memset(huge, 'a', 100000);
	huge[100000] = '\0';
	one_bad_entry("conf", NULL);
	one_bad_entry("conf", cJSON_CreateString("{}"));
	one_bad_entry("conf", cJSON_Parse("{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}"));
	one_bad_entry("conf", cJSON_Parse("{\"name\":\"x\",\"type\":\"bridge\"}"));
	one_bad_entry("conf", cJSON_Parse("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":"
					  "[{\"type\":7}]}"));
	one_bad_entry("name", NULL);
	one_bad_entry("name", cJSON_CreateNumber(7));
	one_bad_entry("name", cJSON_CreateString(""));
	one_bad_entry("name", cJSON_CreateString(huge));
	one_bad_entry("ifname", NULL);
	one_bad_entry("ifname", cJSON_CreateString("a/b"));
	one_bad_entry("ifname", cJSON_CreateString("sixteen-chars-xx"));
	one_bad_entry("ifname", cJSON_CreateString(".."));
	one_bad_entry("ifname", cJSON_CreateString("net1")); /* twice: the second is refused */
	one_bad_entry("default", NULL);
	one_bad_entry("default", cJSON_CreateString("yes"));
	one_bad_entry("attempted", cJSON_CreateNumber(1));
	one_bad_entry("capArgs", cJSON_CreateArray());
	one_bad_entry("result", cJSON_CreateString("garbage"));
	one_bad_entry("result", cJSON_Parse("{\"ips\":[{\"address\":\"not-an-ip\"}]}"));
	one_bad_entry("deviceInfoFile", cJSON_CreateString("/etc/passwd"));
	one_bad_entry("deviceInfoFile", cJSON_CreateNumber(1));
	one_bad_entry(NULL, cJSON_CreateNumber(42));
	one_bad_entry(NULL, cJSON_CreateNull());
}

static void test_intent_load_states(void **state)
{
	(void)state;
	struct plan p;
	struct cni_err err = { 0 };
	plan_new(&p);
	_cleanup_free_ char *path = meta_intent_path(&p);
	(void)unlink(path);
	assert_int_equal(meta_intent_load(&p, &err), META_INTENT_NONE);
	/* Larger than any log plexus writes: damaged, not read into memory. */
	_cleanup_free_ char *big = xmalloc(CACHE_MAX + 2);
	memset(big, ' ', CACHE_MAX + 1);
	big[CACHE_MAX + 1] = '\0';
	assert_int_equal(file_write_atomic(path, big, CACHE_MAX + 1, 0600), 0);
	assert_int_equal(meta_intent_load(&p, &err), META_INTENT_DAMAGED);
	assert_non_null(strstr(err.msg, "intent log"));
	/* Quarantine: moved aside, so the next DEL finds no log. */
	meta_intent_quarantine(&p, "test");
	_cleanup_free_ char *corrupt = xasprintf("%s" META_INTENT_CORRUPT, path);
	assert_int_equal(access(corrupt, F_OK), 0);
	assert_int_equal(meta_intent_load(&p, &err), META_INTENT_NONE);
	meta_plan_done(&p);
}

static void test_intent_remove_sweeps_temp_files(void **state)
{
	(void)state;
	_cleanup_free_ char *text = real_log();
	struct plan p;
	plan_new(&p);
	_cleanup_free_ char *path = meta_intent_path(&p);
	_cleanup_free_ char *tmp = xasprintf("%s" FILE_TEMP_INFIX "12345", path);
	_cleanup_free_ char *other = xasprintf("%s/ffff.json" FILE_TEMP_INFIX "12345", dir);
	assert_int_equal(file_write_atomic(tmp, "{", 1, 0600), 0);
	assert_int_equal(file_write_atomic(other, "{", 1, 0600), 0);
	meta_intent_remove(&p);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(access(other, F_OK), 0); /* another container's */
	(void)unlink(other);
	meta_plan_done(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intent_real_log_round_trips),
		cmocka_unit_test(test_intent_truncated_at_every_length),
		cmocka_unit_test(test_intent_whole_log_refused),
		cmocka_unit_test(test_intent_bad_entry_skipped_others_kept),
		cmocka_unit_test(test_intent_load_states),
		cmocka_unit_test(test_intent_remove_sweeps_temp_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
