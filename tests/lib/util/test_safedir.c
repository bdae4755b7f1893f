// SPDX-License-Identifier: Apache-2.0
/* Unit tests for safedir: path rules, the checked walk, link/rename writes, reads, the sweep. */
#include <errno.h>
#include <fcntl.h>
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
#include "lib/util/file.h"
#include "lib/util/safedir.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/plexus-test-safedir.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	_cleanup_free_ char *cmd = xasprintf("chmod -R u+rwx '%s'; rm -rf '%s'", dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *at(const char *rel)
{
	return xasprintf("%s/%s", dir, rel);
}

static bool exists(const char *rel)
{
	_cleanup_free_ char *p = at(rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

static void write_file(const char *rel, const char *text)
{
	_cleanup_free_ char *p = at(rel);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0644), 0);
}

static void assert_file(const char *rel, const char *want)
{
	_cleanup_free_ char *p = at(rel), *data = NULL;
	assert_int_equal(file_read_all(p, 4096, &data, NULL), 0);
	assert_string_equal(data, want);
}

static void test_safedir_path_check(void **state)
{
	(void)state;
	const char *good[] = { "/", "/var/lib/cni/networks", "/a", "/a.b/..c/c..", "/.x" };
	const char *bad[] = { "",    "relative", "./x",	  "/a/../b", "/a/./b", "/a//b",
			      "/a/", "/..",	 "/a/..", "/.",	     "//" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (safedir_path_check(good[i]) != 0)
			fail_msg("refused '%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (safedir_path_check(bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(safedir_path_check(NULL), -EINVAL);
}

static void test_safedir_open_creates(void **state)
{
	(void)state;
	_cleanup_free_ char *p = at("a/b/c");
	assert_int_equal(safedir_open(p, false, 0755, NULL), -ENOENT);
	assert_false(exists("a"));
	int fd = safedir_open(p, true, 0755, NULL);
	assert_true(fd >= 0);
	/* The fd is the directory: a file made through it shows up at the path. */
	assert_int_equal(safedir_replace(fd, "f", "x", 1, 0644), 0);
	close(fd);
	assert_file("a/b/c/f", "x");
	fd = safedir_open(p, false, 0755, NULL);
	assert_true(fd >= 0);
	close(fd);
}

/* One failing walk: the error, the prefix it names, and nothing created below it. */
static void one_refusal(const char *rel, int want, const char *want_bad, const char *not_made)
{
	_cleanup_free_ char *p = at(rel), *bad = at(want_bad);
	size_t bad_len = 0;
	int r = safedir_open(p, true, 0755, &bad_len);
	if (r != want)
		fail_msg("%s: got %d, want %d", rel, r, want);
	assert_int_equal(bad_len, strlen(bad));
	assert_memory_equal(p, bad, bad_len);
	assert_false(exists(not_made));
}

static void test_safedir_open_refuses(void **state)
{
	(void)state;
	_cleanup_free_ char *victim = at("victim"), *ln = at("ln");
	assert_int_equal(mkdir(victim, 0755), 0);
	assert_int_equal(symlink(victim, ln), 0);
	one_refusal("ln/net", -ELOOP, "ln", "victim/net");
	one_refusal("ln", -ELOOP, "ln", "victim/x");

	_cleanup_free_ char *ww = at("ww"), *gw = at("gw"), *st = at("st");
	assert_int_equal(mkdir(ww, 0755), 0);
	assert_int_equal(chmod(ww, 0777), 0);
	one_refusal("ww/data/net", -EPERM, "ww", "ww/data");
	assert_int_equal(mkdir(gw, 0755), 0);
	assert_int_equal(chmod(gw, 0775), 0);
	one_refusal("gw/data", -EPERM, "gw", "gw/data");
	/* The last directory may not be writable by others even when sticky. */
	one_refusal("ww", -EPERM, "ww", "ww/x");

	/* Sticky and world-writable (as /tmp) is fine on the way, not as the last one. */
	assert_int_equal(mkdir(st, 0755), 0);
	assert_int_equal(chmod(st, 01777), 0);
	_cleanup_free_ char *under = at("st/data/net");
	int fd = safedir_open(under, true, 0755, NULL);
	assert_true(fd >= 0);
	close(fd);
	one_refusal("st", -EPERM, "st", "st/x");

	write_file("file", "x");
	one_refusal("file/net", -ENOTDIR, "file", "file/net");

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* Owned by another user: refused on the way and as the last one. */
	_cleanup_free_ char *other = at("other");
	assert_int_equal(mkdir(other, 0755), 0);
	assert_int_equal(chown(other, 4321, 4321), 0);
	one_refusal("other/net", -EPERM, "other", "other/net");
	one_refusal("other", -EPERM, "other", "other/x");
}

static void test_safedir_link_new(void **state)
{
	(void)state;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(safedir_link_new(fd, "lease", "id\r\neth0", 8, 0644), 1);
	assert_file("lease", "id\r\neth0");
	/* Taken: the first one wins, the existing content stays. */
	assert_int_equal(safedir_link_new(fd, "lease", "other", 5, 0644), 0);
	assert_file("lease", "id\r\neth0");
	/* A planted symlink is a taken name, never a way to the victim. */
	write_file("victim", "precious");
	_cleanup_free_ char *victim = at("victim"), *ln = at("ln");
	assert_int_equal(symlink(victim, ln), 0);
	assert_int_equal(safedir_link_new(fd, "ln", "x", 1, 0644), 0);
	assert_file("victim", "precious");
	/* No temp file is left behind either way. */
	assert_int_equal(safedir_sweep_tmp(fd), 0);
}

static void test_safedir_replace(void **state)
{
	(void)state;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	write_file("victim", "precious");
	_cleanup_free_ char *victim = at("victim"), *ln = at("last");
	assert_int_equal(symlink(victim, ln), 0);
	assert_int_equal(safedir_replace(fd, "last", "10.0.0.2", 8, 0644), 0);
	assert_file("victim", "precious");
	struct stat st;
	assert_int_equal(lstat(ln, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file("last", "10.0.0.2");
	/* A leftover temp of this very pid (a dead process of the same pid) is replaced. */
	_cleanup_free_ char *tmp = xasprintf(SAFEDIR_TMP_PREFIX "last.%d", (int)getpid());
	write_file(tmp, "stale");
	assert_int_equal(safedir_replace(fd, "last", "10.0.0.3", 8, 0644), 0);
	assert_file("last", "10.0.0.3");
	assert_false(exists(tmp));
}

static void test_safedir_read(void **state)
{
	(void)state;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	write_file("f", "hello");
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(safedir_read(fd, "f", 16, &data, &len), 0);
	assert_string_equal(data, "hello");
	assert_int_equal(len, 5);
	free(data);
	assert_int_equal(safedir_read(fd, "f", 4, &data, &len), -EFBIG);
	_cleanup_free_ char *f = at("f"), *ln = at("ln"), *fifo = at("fifo");
	assert_int_equal(symlink(f, ln), 0);
	assert_int_equal(safedir_read(fd, "ln", 16, &data, &len), -ELOOP);
	assert_int_equal(safedir_read(AT_FDCWD, ln, 16, &data, &len), -ELOOP);
	/* A FIFO neither blocks nor is read. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(safedir_read(fd, "fifo", 16, &data, &len), -EINVAL);
	assert_int_equal(safedir_read(AT_FDCWD, dir, 16, &data, &len), -EINVAL);
	assert_int_equal(safedir_read(fd, "missing", 16, &data, &len), -ENOENT);
}

static void test_safedir_lock_and_sweep(void **state)
{
	(void)state;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	int l = safedir_lock(fd, "lock", 0600);
	assert_true(l >= 0);
	close(l);
	_cleanup_free_ char *lock = at("lock"), *ln = at("ln");
	assert_int_equal(symlink(lock, ln), 0);
	assert_int_equal(safedir_lock(fd, "ln", 0600), -ELOOP);
	write_file(SAFEDIR_TMP_PREFIX "10.0.0.2.123", "id");
	write_file(SAFEDIR_TMP_PREFIX "last_reserved_ip.0.9", "");
	write_file("10.0.0.2", "id\r\neth0");
	assert_int_equal(safedir_sweep_tmp(fd), 2);
	assert_false(exists(SAFEDIR_TMP_PREFIX "10.0.0.2.123"));
	assert_true(exists("10.0.0.2"));
	assert_true(exists("lock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safedir_path_check),
		cmocka_unit_test_setup_teardown(test_safedir_open_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safedir_open_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safedir_link_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safedir_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safedir_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safedir_lock_and_sweep, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
