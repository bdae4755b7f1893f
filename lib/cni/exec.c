// SPDX-License-Identifier: Apache-2.0
/* Exec of external CNI plugins (CNI SPEC.md "Execution protocol"): lookup, env, pipes, one
 * deadline for the whole call, errors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/cni/args.h"
#include "lib/cni/exec.h"
#include "lib/json/json.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

#define EXEC_MAX_OUTPUT (4u << 20)

extern char **environ;

int cni_exec_find(const char *type, const char *path, char **ret, struct cni_err *err)
{
	if (!type || !*type || strchr(type, '/'))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "type: invalid plugin type '%s'", type ? type : "");
	const char *p = path ? path : "";
	while (*p) {
		const char *end = strchrnul(p, ':');
		if (end > p) {
			_cleanup_free_ char *cand = xasprintf("%.*s/%s", (int)(end - p), p, type);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(cand, X_OK) == 0) {
				*ret = TAKE_PTR(cand);
				return 0;
			}
		}
		p = *end ? end + 1 : end;
	}
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENOENT,
			   "failed to find plugin '%s' in path [%s]", type, path ? path : "");
}

/* Our environment minus CNI_*, plus the request's CNI_* (libcni DelegateArgs semantics) and
 * the nesting marker. */
static char **build_env(const struct cni_exec_req *req)
{
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	char **env = xcalloc(n + 9, sizeof(char *));
	size_t i = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "CNI_", 4) != 0 &&
		    strncmp(*e, CNI_EXEC_MARKER "=", sizeof(CNI_EXEC_MARKER)) != 0)
			env[i++] = xstrdup(*e);
	if (!req->arg)
		env[i++] = xstrdup(CNI_EXEC_MARKER "=1");
	env[i++] = xasprintf("CNI_COMMAND=%s", cni_cmd_str(req->cmd));
	if (req->container_id)
		env[i++] = xasprintf("CNI_CONTAINERID=%s", req->container_id);
	if (req->netns)
		env[i++] = xasprintf("CNI_NETNS=%s", req->netns);
	if (req->ifname)
		env[i++] = xasprintf("CNI_IFNAME=%s", req->ifname);
	if (req->args)
		env[i++] = xasprintf("CNI_ARGS=%s", req->args);
	if (req->path)
		env[i++] = xasprintf("CNI_PATH=%s", req->path);
	env[i] = NULL;
	return env;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

bool cni_exec_delegated(void)
{
	const char *v = secure_getenv(CNI_EXEC_MARKER);
	return v && *v;
}

/* Feed stdin and collect stdout until EOF or the deadline (monotonic ms, 0 = none). */
static int pump(int in_fd, int out_fd, const char *data, size_t len, int64_t deadline, char **ret,
		size_t *ret_len)
{
	size_t off = 0, cap = 4096, got = 0;
	_cleanup_free_ char *buf = xmalloc(cap + 1);
	if (len == 0) {
		(void)close(in_fd);
		in_fd = -1;
	}
	while (out_fd >= 0) {
		struct pollfd fds[2] = { { .fd = out_fd, .events = POLLIN },
					 { .fd = in_fd, .events = POLLOUT } };
		int wait = -1;
		if (deadline) {
			int64_t left = deadline - clock_now_ms();
			if (left <= 0) {
				if (in_fd >= 0)
					(void)close(in_fd);
				return -ETIMEDOUT;
			}
			wait = (int)left;
		}
		int r = poll(fds, in_fd >= 0 ? 2 : 1, wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			if (in_fd >= 0)
				(void)close(in_fd);
			return r;
		}
		if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in_fd, data + off, len - off);
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				off = len; /* the plugin closed stdin: stop feeding it */
			else if (n > 0)
				off += (size_t)n;
			if (off == len) {
				(void)close(in_fd);
				in_fd = -1;
			}
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (got == cap) {
				if (cap >= EXEC_MAX_OUTPUT) {
					if (in_fd >= 0)
						(void)close(in_fd);
					return -EFBIG;
				}
				cap *= 2;
				buf = xrealloc(buf, cap + 1);
			}
			ssize_t n = read(out_fd, buf + got, cap - got);
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				r = -errno;
				if (in_fd >= 0)
					(void)close(in_fd);
				return r;
			}
			if (n == 0)
				break;
			if (n > 0)
				got += (size_t)n;
		}
	}
	if (in_fd >= 0)
		(void)close(in_fd);
	buf[got] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = got;
	return 0;
}

/* A failed plugin's stdout should hold error JSON (SPEC.md "Error"); use its code/msg/details. */
static int plugin_error(const char *type, int status, const char *out, size_t len,
			struct cni_err *err)
{
	_cleanup_json_ cJSON *json = NULL;
	if (len > 0 && json_parse(out, len, "plugin output", &json, NULL) == 0 &&
	    cJSON_IsObject(json)) {
		const cJSON *code = json_get(json, "code");
		const cJSON *msg = json_get(json, "msg");
		const cJSON *details = json_get(json, "details");
		if (cJSON_IsNumber(code)) {
			cni_err_set(err, (int)code->valuedouble, 0, "%s",
				    cJSON_IsString(msg) ? msg->valuestring : "");
			if (cJSON_IsString(details))
				cni_err_details(err, "%s", details->valuestring);
			return cni_err_ret(err);
		}
	}
	if (WIFSIGNALED(status))
		return cni_err_set(err, CNI_ERR_DELEGATE, 0, "plugin '%s' killed by signal %d",
				   type, WTERMSIG(status));
	return cni_err_set(err, CNI_ERR_DELEGATE, 0, "plugin '%s' failed with exit status %d%s%.*s",
			   type, WEXITSTATUS(status), len ? ": " : "", len > 200 ? 200 : (int)len,
			   out);
}

/* Wait until pid has exited, without reaping it: while it is a zombie its process group id
 * cannot be reused, so killing the group stays safe. 0, -ETIMEDOUT or -errno. */
static int wait_exit(pid_t pid, int64_t deadline, siginfo_t *si)
{
	for (long ms = 1;; ms = ms < 20 ? ms * 2 : 20) {
		memset(si, 0, sizeof(*si));
		if (waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (si->si_pid == pid)
			return 0;
		if (deadline && clock_now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec pause = { .tv_nsec = ms * 1000000 };
		(void)nanosleep(&pause, NULL);
	}
}

/* Kill the plugin's whole process group (it leads it), then reap the plugin. */
static int reap(pid_t pid, bool kill_group)
{
	if (kill_group)
		(void)kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

int cni_exec_run(const struct cni_exec_req *req, char **ret_stdout, size_t *ret_len,
		 struct cni_err *err)
{
	int64_t deadline = req->timeout_ms > 0 ? clock_now_ms() + req->timeout_ms : 0;
	_cleanup_free_ char *bin = NULL;
	int r = cni_exec_find(req->type, req->path, &bin, err);
	if (r < 0)
		return r;

	int in_pipe[2], out_pipe[2];
	if (pipe2(in_pipe, O_CLOEXEC) < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "pipe: %m");
	if (pipe2(out_pipe, O_CLOEXEC) < 0) {
		r = cni_err_set(err, CNI_ERR_IO, errno, "pipe: %m");
		(void)close(in_pipe[0]);
		(void)close(in_pipe[1]);
		return r;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], STDOUT_FILENO);
	/* Its own process group, so that a timeout or an error kills whatever it forked too. */
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	char **env = build_env(req);
	char *argv[] = { bin, (char *)req->arg, NULL };
	pid_t pid = -1;
	/* libcni retries "text file busy": a plugin binary being replaced right now. */
	for (int attempt = 0; attempt < 5; attempt++) {
		r = posix_spawn(&pid, bin, &fa, &attr, argv, env);
		if (r != ETXTBSY)
			break;
		(void)usleep(100000 * (attempt + 1));
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	strv_free(env);
	(void)close(in_pipe[0]);
	(void)close(out_pipe[1]);
	if (r != 0) {
		(void)close(in_pipe[1]);
		(void)close(out_pipe[0]);
		return cni_err_set(err, CNI_ERR_DELEGATE, r, "exec '%s': %s", bin, strerror(r));
	}
	/* A plugin that exits without reading stdin must not kill us with SIGPIPE. Blocked in
	 * this thread only (other threads may run plugins: a process-wide SIG_IGN saved and
	 * restored by each would race), and the one our write raised is taken off before. */
	sigset_t pipe_set, old_mask;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	r = pump(in_pipe[1], out_pipe[0], req->stdin_data, req->stdin_len, deadline, &out, &len);
	if (!sigismember(&old_mask, SIGPIPE)) {
		const struct timespec now = { 0 };
		while (sigtimedwait(&pipe_set, NULL, &now) == SIGPIPE)
			;
		(void)pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	}
	(void)close(out_pipe[0]);
	/* Closing stdout is not exiting: the deadline holds until the plugin is gone. */
	siginfo_t si = { 0 };
	if (r == 0)
		r = wait_exit(pid, deadline, &si);
	bool ok = r == 0 && si.si_code == CLD_EXITED && si.si_status == 0;
	int status = reap(pid, !ok);
	if (r == -ETIMEDOUT)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
				   "plugin '%s' %s timed out after %d ms (killed)", req->type,
				   cni_cmd_str(req->cmd), req->timeout_ms);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "reading output of plugin '%s': %s",
				   req->type, strerror(-r));
	if (!ok)
		return plugin_error(req->type, status, out, len, err);
	log_debug("plugin '%s' %s ok", req->type, cni_cmd_str(req->cmd));
	*ret_stdout = TAKE_PTR(out);
	if (ret_len)
		*ret_len = len;
	return 0;
}
