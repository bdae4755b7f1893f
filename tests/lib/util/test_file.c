// SPDX-License-Identifier: Apache-2.0
/* Unit tests for file helpers (atomic write, bounded read, mkdir -p, flock) and logging. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/plexus-test-file.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t count_entries(const char *path)
{
	DIR *d = opendir(path);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_file_write_atomic_replaces_content(void **state)
{
	(void)state;
	_cleanup_free_ char *sub = xasprintf("%s/atomic", dir);
	assert_int_equal(file_mkdir_p(sub, 0700), 0);
	_cleanup_free_ char *path = xasprintf("%s/f.json", sub);
	assert_int_equal(file_write_atomic(path, "first", 5, 0600), 0);
	assert_int_equal(file_write_atomic(path, "second", 6, 0600), 0);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	assert_int_equal(file_read_all(path, 100, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "second");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(sub), 1); /* no temp file left behind */
}

static void test_file_write_atomic_failure_leaves_nothing(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/missing-dir/f", dir);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600), -ENOENT);
}

static void test_file_read_all_limits_size(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/big", dir);
	char buf[10000];
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(file_write_atomic(path, buf, sizeof(buf), 0600), 0);
	char *data = NULL;
	assert_int_equal(file_read_all(path, 9999, &data, NULL), -EFBIG);
	assert_null(data);
	assert_int_equal(file_read_all(path, 10000, &data, NULL), 0);
	free(data);
	assert_int_equal(file_read_all("/nonexistent/x", 10, &data, NULL), -ENOENT);
}

static void test_file_mkdir_p_nested_and_existing(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/a/b/c", dir);
	assert_int_equal(file_mkdir_p(path, 0755), 0);
	assert_int_equal(file_mkdir_p(path, 0755), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void test_file_lock_is_exclusive(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/lock", dir);
	int fd = file_lock(path);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int other = open(path, O_RDWR | O_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(fd);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);
}

static void test_log_level_parse(void **state)
{
	(void)state;
	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARNING);
	assert_int_equal(log_level_parse("verbose", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("panic", &l), 0);
	assert_int_equal(l, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("loud", &l), -EINVAL);
}

static void test_log_file_line_format(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/log", dir);
	log_set_stderr(false);
	log_set_program("plexus-test");
	log_set_context("0123456789abcdef0123", "net1");
	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(log_set_file(path), 0);
	log_info("hello '%s'", "world");
	log_debug("not shown at info");
	assert_int_equal(log_set_file(NULL), 0);
	log_set_stderr(true);
	_cleanup_free_ char *data = NULL;
	assert_int_equal(file_read_all(path, 4096, &data, NULL), 0);
	/* time, level, program[pid], short container id (12), ifname, message; one line. */
	_cleanup_free_ char *want =
		xasprintf(" info plexus-test[%d] 0123456789ab net1 hello 'world'\n", (int)getpid());
	assert_non_null(strstr(data, want));
	assert_null(strstr(data, "not shown"));
	assert_int_equal(strchr(data, '\n') - data + 1, (long)strlen(data));
}

static void test_file_write_durable_replaces_content(void **state)
{
	(void)state;
	_cleanup_free_ char *path = xasprintf("%s/durable", dir), *text = NULL;
	assert_int_equal(file_write_durable(path, "one", 3, 0600), 0);
	assert_int_equal(file_write_durable(path, "two!", 4, 0600), 0);
	assert_int_equal(file_read_all(path, 64, &text, NULL), 0);
	assert_string_equal(text, "two!");
	assert_int_equal(file_unlink_temps(path, false), 0); /* none left behind */
	(void)unlink(path);
}

static void test_file_temp_names_and_sweep(void **state)
{
	(void)state;
	size_t l = 0;
	assert_int_equal(file_temp_pid("a.json.tmp.123", &l), 123);
	assert_int_equal(l, 6);
	assert_int_equal(file_temp_pid("a.json", NULL), -1);
	assert_int_equal(file_temp_pid("a.json.tmp.", NULL), -1);
	assert_int_equal(file_temp_pid("a.json.tmp.12x", NULL), -1);
	assert_int_equal(file_temp_pid(".tmp.12", NULL), -1);
	assert_int_equal(file_temp_pid("a.tmp.99999999999", NULL), -1);
	assert_false(file_temp_stale(getpid()));
	_cleanup_free_ char *path = xasprintf("%s/log.json", dir);
	_cleanup_free_ char *dead = xasprintf("%s.tmp.4194303", path);
	_cleanup_free_ char *live = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_free_ char *other = xasprintf("%s/log.jsonx.tmp.4194303", dir);
	assert_int_equal(file_write_atomic(dead, "x", 1, 0600), 0);
	assert_int_equal(file_write_atomic(live, "x", 1, 0600), 0);
	assert_int_equal(file_write_atomic(other, "x", 1, 0600), 0);
	assert_int_equal(file_unlink_temps(path, true), 1); /* only the dead writer's */
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(file_unlink_temps(path, false), 1);
	assert_int_equal(access(other, F_OK), 0); /* another file's */
	(void)unlink(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_write_atomic_replaces_content),
		cmocka_unit_test(test_file_write_atomic_failure_leaves_nothing),
		cmocka_unit_test(test_file_write_durable_replaces_content),
		cmocka_unit_test(test_file_temp_names_and_sweep),
		cmocka_unit_test(test_file_read_all_limits_size),
		cmocka_unit_test(test_file_mkdir_p_nested_and_existing),
		cmocka_unit_test(test_file_lock_is_exclusive),
		cmocka_unit_test(test_log_level_parse),
		cmocka_unit_test(test_log_file_line_format),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
