// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sock_unix_listen: what is at the path decides. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "lib/util/sock.h"

static char dir[64], path[96];

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	strcpy(dir, "/tmp/plexus-test-sock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	(void)snprintf(path, sizeof(path), "%s/s.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	(void)unlink(path);
	return rmdir(dir);
}

static int mode_of(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 && S_ISSOCK(st.st_mode) ? (int)(st.st_mode & 0777) : -1;
}

static bool answers(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, p);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	(void)close(fd);
	return ok;
}

static void test_new_socket_is_0600_and_listens(void **state)
{
	(void)state;
	int fd = sock_unix_listen(path, 0, true);
	assert_true(fd >= 0);
	assert_int_equal(mode_of(path), 0600);
	assert_true(answers(path));
	(void)close(fd);
}

static void test_stale_socket_is_replaced(void **state)
{
	(void)state;
	int fd = sock_unix_listen(path, 0, true);
	assert_true(fd >= 0);
	(void)close(fd); /* the file stays, nobody answers */
	assert_int_equal(mode_of(path), 0600);
	fd = sock_unix_listen(path, 0, true);
	assert_true(fd >= 0);
	assert_true(answers(path));
	(void)close(fd);
}

static void test_live_socket_refused_or_taken_over(void **state)
{
	(void)state;
	int fd = sock_unix_listen(path, 0, true);
	assert_true(fd >= 0);
	assert_int_equal(sock_unix_listen(path, 0, true), -EADDRINUSE);
	int fd2 = sock_unix_listen(path, SOCK_NONBLOCK, false);
	assert_true(fd2 >= 0);
	(void)close(fd2);
	(void)close(fd);
}

static void test_other_file_left_alone(void **state)
{
	(void)state;
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	(void)fputs("keep", f);
	(void)fclose(f);
	assert_int_equal(sock_unix_listen(path, 0, false), -EEXIST);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 4);
}

static void test_path_too_long(void **state)
{
	(void)state;
	char p[200];
	memset(p, 'x', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	assert_int_equal(sock_unix_listen(p, 0, false), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_socket_is_0600_and_listens, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_socket_refused_or_taken_over, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_other_file_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
