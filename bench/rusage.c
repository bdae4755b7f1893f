// SPDX-License-Identifier: Apache-2.0
/*
 * rusage: run one command and report what it cost. Built by bench/run.sh into $BUILD/bench/.
 *
 *   rusage [-p] [-i IN] [-o OUT] -- CMD [ARG...]
 *
 * Runs CMD (PATH is searched) with this process's environment, stdin from IN (default
 * /dev/null) and stdout to OUT (default /dev/null); stderr is inherited. Prints one line:
 *
 *   <exit status> <wall ns> <maxrss KiB incl. children> <own peak RSS KiB or -1>
 *
 * wall ns: CLOCK_MONOTONIC from just before fork() to the return of wait4().
 * maxrss incl. children: ru_maxrss from wait4(), i.e. the largest of CMD and the processes it
 * waited for (an exec'd IPAM plugin).
 * own peak RSS (-p only): CMD's own VmHWM, read from /proc/<pid>/status when CMD exits; CMD is
 * traced (PTRACE_O_TRACEEXIT, main thread only) to stop it there, so do not use -p runs for
 * timing.
 * Exit status: 0, or 2 on a usage or system error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long vm_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void usage(void)
{
	fprintf(stderr, "usage: rusage [-p] [-i IN] [-o OUT] -- CMD [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *in = "/dev/null", *out = "/dev/null";
	int opt, trace = 0, status = 0;
	long own = -1;
	struct rusage ru;
	long long t0, t1;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+pi:o:")) != -1) {
		switch (opt) {
		case 'p':
			trace = 1;
			break;
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 2;
	}
	if (pid == 0) {
		int fi = open(in, O_RDONLY), fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fi < 0 || fo < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0) {
			perror("rusage: redirect");
			_exit(127);
		}
		close(fi);
		close(fo);
		if (trace && ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
			perror("rusage: PTRACE_TRACEME");
			_exit(127);
		}
		execvp(argv[optind], argv + optind);
		perror("rusage: exec");
		_exit(127);
	}
	for (;;) {
		if (wait4(pid, &status, 0, &ru) < 0) {
			if (errno == EINTR)
				continue;
			perror("rusage: wait4");
			return 2;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (WIFSTOPPED(status)) { /* traced: exec SIGTRAP, exit event, or a signal */
			int sig = WSTOPSIG(status), deliver = 0;

			if (sig == SIGTRAP && (status >> 16) == PTRACE_EVENT_EXIT)
				own = vm_hwm_kb(pid);
			else if (sig == SIGTRAP && (status >> 16) == 0)
				ptrace(PTRACE_SETOPTIONS, pid, NULL,
				       (void *)(long)PTRACE_O_TRACEEXIT);
			else if (sig != SIGTRAP)
				deliver = sig;
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)deliver);
		}
	}
	t1 = now_ns();
	printf("%d %lld %ld %ld\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), t1 - t0,
	       ru.ru_maxrss, own);
	return 0;
}
