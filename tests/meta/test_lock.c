// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the meta-plugin's per-pod lock (meta/lock.c): it excludes, a hot-plug's
 * non-waiting try is code 11, the file goes only with the intent log, and a verb that waited
 * while the holder removed the file locks the file now at the path, never the unlinked one. */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "meta/internal.h"

#define CID "0123abcd"

static char dir[64];
static struct cni_ctx ctx;
static cJSON *conf;
static struct plan plan;

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/plexus-test-lock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	_cleanup_free_ char *text = xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"p\",\"type\":"
					      "\"plexus\",\"clusterNetwork\":\"c\",\"cniDir\":"
					      "\"%s/cache\"}",
					      dir);
	conf = cJSON_Parse(text);
	ctx = (struct cni_ctx){
		.container_id = CID, .netns_fd = -1, .version = CNI_V100, .conf = conf
	};
	struct cni_err err = { 0 };
	return conf && meta_plan_init(&plan, &ctx, &err) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	meta_plan_done(&plan);
	cJSON_Delete(conf);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *lock_file(void)
{
	return xasprintf("%s/cache/" CID META_LOCK_SUFFIX, dir);
}

static void test_lock_excludes_and_a_try_is_code_11(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	_cleanup_close_ int a = -1;
	int b = -1;
	assert_int_equal(meta_lock(&plan, false, &a, &err), 0);
	assert_int_equal(meta_lock(&plan, false, &b, &err), -EBUSY);
	assert_int_equal(err.code, CNI_ERR_TRY_AGAIN);
	assert_non_null(strstr(err.msg, CID META_LOCK_SUFFIX));
	assert_int_equal(b, -1);
	(void)close(TAKE_FD(a));
	assert_int_equal(meta_lock(&plan, false, &b, &err), 0);
	(void)close(b);
}

static void test_lock_file_goes_with_the_intent_log(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	_cleanup_free_ char *lock = lock_file(), *log = meta_intent_path(&plan);
	_cleanup_close_ int fd = -1;
	assert_int_equal(meta_lock(&plan, true, &fd, &err), 0);
	FILE *f = fopen(log, "w");
	assert_non_null(f);
	(void)fclose(f);
	meta_lock_remove(&plan, fd);
	assert_int_equal(access(lock, F_OK), 0);
	assert_int_equal(unlink(log), 0);
	meta_lock_remove(&plan, fd);
	assert_int_equal(access(lock, F_OK), -1);
	meta_lock_remove(&plan, -1); /* nothing held: nothing done */
}

static int waiter_fd = -1;

static void *waiter(void *arg)
{
	(void)arg;
	struct cni_err err = { 0 };
	if (meta_lock(&plan, true, &waiter_fd, &err) < 0)
		waiter_fd = -2;
	return NULL;
}

static void test_lock_waiter_takes_the_file_at_the_path(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	_cleanup_free_ char *lock = lock_file();
	int holder = -1;
	assert_int_equal(meta_lock(&plan, true, &holder, &err), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, waiter, NULL), 0);
	/* Until the waiter blocks on the lock: a "->" entry of /proc/locks with our pid. */
	_cleanup_free_ char *pid = xasprintf(" %d ", (int)getpid());
	bool blocked = false;
	for (int i = 0; i < 1000000 && !blocked; i++) {
		_cleanup_free_ char *locks = NULL;
		if (file_read_all("/proc/locks", 1u << 20, &locks, NULL) < 0)
			continue;
		for (char *l = strtok(locks, "\n"); l && !blocked; l = strtok(NULL, "\n"))
			blocked = strstr(l, "-> FLOCK") && strstr(l, pid);
		if (!blocked)
			(void)sched_yield();
	}
	assert_true(blocked);
	/* A DEL finishing: the log is gone, the file removed while held, then released. */
	meta_lock_remove(&plan, holder);
	(void)close(holder);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(waiter_fd >= 0);
	struct stat a, b;
	assert_int_equal(fstat(waiter_fd, &a), 0);
	assert_int_equal(stat(lock, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	/* And it excludes the next one. */
	int c = -1;
	assert_int_equal(meta_lock(&plan, false, &c, &err), -EBUSY);
	(void)close(waiter_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_excludes_and_a_try_is_code_11),
		cmocka_unit_test(test_lock_file_goes_with_the_intent_log),
		cmocka_unit_test(test_lock_waiter_takes_the_file_at_the_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
