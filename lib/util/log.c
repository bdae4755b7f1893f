// SPDX-License-Identifier: Apache-2.0
/* Logging to stderr and an optional log file, one line per event (docs/troubleshooting.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/util/file.h"
#include "lib/util/log.h"

static struct {
	char program[32];
	char container[13]; /* short container id, like docker's */
	char ifname[16];
	enum log_level level;
	int fd;
	bool to_stderr;
} log_state = { .program = "plexus", .level = LOG_LEVEL_INFO, .fd = -1, .to_stderr = true };

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_set_program(const char *program)
{
	(void)snprintf(log_state.program, sizeof(log_state.program), "%s", program);
}

void log_set_context(const char *container_id, const char *ifname)
{
	(void)snprintf(log_state.container, sizeof(log_state.container), "%s",
		       container_id ? container_id : "");
	(void)snprintf(log_state.ifname, sizeof(log_state.ifname), "%s", ifname ? ifname : "");
}

void log_set_level(enum log_level level)
{
	log_state.level = level;
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

void log_set_stderr(bool on)
{
	log_state.to_stderr = on;
}

int log_set_file(const char *path)
{
	if (log_state.fd >= 0)
		(void)close(log_state.fd);
	log_state.fd = -1;
	if (!path || !*path)
		return 0;
	/* Root writes here: no symlink as the last component, no FIFO (O_NONBLOCK: opening one
	 * must not block) nor device, only a regular file. */
	int fd = file_open_regular(AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0600);
	if (fd < 0)
		return fd;
	log_state.fd = fd;
	return 0;
}

int log_level_parse(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	/* Multus's level names. */
	if (strcasecmp(s, "verbose") == 0) {
		*ret = LOG_LEVEL_DEBUG;
		return 0;
	}
	if (strcasecmp(s, "panic") == 0) {
		*ret = LOG_LEVEL_ERROR;
		return 0;
	}
	return -EINVAL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_state.level)
		return;
	int saved = errno;
	char line[2048];
	struct timeval tv;
	struct tm tm;
	(void)gettimeofday(&tv, NULL);
	(void)gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s[%d] %s %s ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long)tv.tv_usec, level_names[level], log_state.program, (int)getpid(),
			 *log_state.container ? log_state.container : "-",
			 *log_state.ifname ? log_state.ifname : "-");
	if (n < 0)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line so concurrent plugins do not interleave within a line. */
	if (log_state.to_stderr)
		(void)!write(STDERR_FILENO, line, len);
	if (log_state.fd >= 0)
		(void)!write(log_state.fd, line, len);
	errno = saved;
}
