// SPDX-License-Identifier: Apache-2.0
/* API requests in a short-lived child process: libcurl and its TLS libraries (~10 MiB
 * resident, docs/benchmarks.md) are loaded there and never in the long-running driver. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dra/internal.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

/* What the child sends back: this header, then len bytes of output. Plain data only. */
struct api_answer {
	int r;
	struct cni_err err;
	size_t len;
};

#define API_ANSWER_MAX (64u << 20)

int dra_api_run(dra_api_fn fn, void *arg, char **ret, size_t *ret_len, struct cni_err *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, errno, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		(void)close(p[0]);
		(void)close(p[1]);
		return cni_err_set(err, CNI_ERR_INTERNAL, e, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		/* The child: only this thread exists here, and it takes no lock of the parent's. */
		struct api_answer a = { 0 };
		char *out = NULL;
		(void)close(p[0]);
		a.r = fn(arg, &out, &a.len, &a.err);
		if (a.r < 0 || !out)
			a.len = 0;
		_exit(file_write_all(p[1], &a, sizeof(a)) < 0 ||
				      (a.len && file_write_all(p[1], out, a.len) < 0)
			      ? 1
			      : 0);
	}
	(void)close(p[1]);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = file_read_fd(p[0], API_ANSWER_MAX, &buf, &len);
	(void)close(p[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	struct api_answer a;
	if (r < 0 || len < sizeof(a) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, r < 0 ? -r : EIO,
				   "API request process failed (status %d)", status);
	memcpy(&a, buf, sizeof(a));
	if (a.len != len - sizeof(a))
		return cni_err_set(err, CNI_ERR_INTERNAL, EIO, "API request process: short answer");
	if (a.r < 0) {
		*err = a.err;
		err->msg[sizeof(err->msg) - 1] = '\0';
		err->details[sizeof(err->details) - 1] = '\0';
		return a.r;
	}
	if (ret) {
		*ret = xmalloc(a.len + 1);
		memcpy(*ret, buf + sizeof(a), a.len);
		(*ret)[a.len] = '\0';
	}
	if (ret_len)
		*ret_len = a.len;
	return a.r;
}
