/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: one line per event to stderr and optionally a log file (docs/troubleshooting.md). */
#pragma once

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Program name and the short container id / ifname that prefix every line. Strings are copied. */
void log_set_program(const char *program);
void log_set_context(const char *container_id, const char *ifname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Also append lines to path, a regular file (created 0600), not a symlink (-ELOOP) nor anything
 * else (-EINVAL; a FIFO without a reader is -ENXIO); NULL closes it. Returns -errno. */
int log_set_file(const char *path);
/* Whether lines also go to stderr (default true). */
void log_set_stderr(bool on);
/* Parse "error|warning|info|debug" (also "verbose" = debug, "panic" = error); -EINVAL if unknown.
 */
int log_level_parse(const char *s, enum log_level *ret);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
