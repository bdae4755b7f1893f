/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: run the Node gRPC peer in tests/fixtures/grpc (grpc-js, upstream protos). */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/util/cleanup.h"

#define PEER_DIR "tests/fixtures/grpc"

struct peer {
	pid_t pid;
	int out; /* the peer's stdout */
	char buf[65536];
	size_t len;
};

/* NULL when the peer can run, else why not: the only allowed skip is a missing node. */
static inline const char *peer_prepare(int *failed)
{
	*failed = 0;
	if (system("command -v node >/dev/null 2>&1") != 0)
		return "node missing (scripts/setup.sh installs nodejs)";
	if (access(PEER_DIR "/package.json", R_OK) < 0) {
		*failed = 1;
		return "run from the repository root (tests/run.sh does)";
	}
	if (access(PEER_DIR "/node_modules/@grpc/grpc-js", R_OK) == 0)
		return NULL;
	/* node_modules is not committed: install exactly what package-lock.json pins. */
	if (system("cd " PEER_DIR " && npm ci --no-audit --no-fund >npm-ci.log 2>&1") != 0) {
		*failed = 1;
		return "npm ci failed in " PEER_DIR " (see npm-ci.log there)";
	}
	return NULL;
}

/* Start `node script args...` (NULL-terminated) with stdout on a pipe. */
static inline int peer_start(struct peer *p, const char *script, ...)
{
	const char *argv[16] = { "node" };
	int n = 1, fds[2];
	va_list ap;

	argv[n++] = script;
	va_start(ap, script);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	p->len = 0;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		(void)dup2(fds[1], STDOUT_FILENO);
		execvp("node", (char *const *)argv);
		_exit(127);
	}
	(void)close(fds[1]);
	p->out = fds[0];
	return 0;
}

/* Next line of the peer's stdout (without '\n') into line, within timeout_ms; -ETIMEDOUT or
 * -EPIPE (peer exited) otherwise. */
static inline int peer_line(struct peer *p, char *line, size_t size, int timeout_ms)
{
	struct timespec t0;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (nl) {
			size_t k = (size_t)(nl - p->buf);
			(void)snprintf(line, size, "%.*s", (int)k, p->buf);
			memmove(p->buf, nl + 1, p->len - k - 1);
			p->len -= k + 1;
			return 0;
		}
		struct timespec t;
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		long left = timeout_ms -
			    ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		ssize_t k = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (k <= 0)
			return -EPIPE;
		p->len += (size_t)k;
	}
}

/* SIGTERM (if still running) and reap; returns the exit status or -1. */
static inline int peer_stop(struct peer *p, int sig)
{
	int status = 0;

	if (p->pid <= 0)
		return -1;
	if (sig)
		(void)kill(p->pid, sig);
	(void)waitpid(p->pid, &status, 0);
	p->pid = -1;
	(void)close(p->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}
