// SPDX-License-Identifier: Apache-2.0
// The sandbox ("pause") process of the local test image (tests/cri/mkimage): sleeps until
// a signal, exits on SIGTERM/SIGINT, reaps zombies as PID 1 should.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig)
{
	(void)sig;
	_exit(0);
}
static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int main(void)
{
	signal(SIGTERM, quit);
	signal(SIGINT, quit);
	signal(SIGCHLD, reap);
	for (;;)
		pause();
}
