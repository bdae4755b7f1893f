/* SPDX-License-Identifier: Apache-2.0 */
/* Network namespace helpers: open a CNI_NETNS path, run a function inside, always come back. */
#pragma once

#include <stdbool.h>

struct cni_err;

/* Open path (O_RDONLY|O_CLOEXEC) and check it is a network namespace (nsfs or procfs).
 * Missing path -> -ENOENT (code 105); not a netns -> -EINVAL (code 8). */
int cni_netns_open(const char *path, int *ret_fd, struct cni_err *err);
/* Whether fd refers to the netns this thread is in now: the reference skel refuses
 * a CNI_NETNS that is the plugin's own netns (code 8). */
int cni_netns_is_current(int fd, bool *ret, struct cni_err *err);
/* Enter the netns fd on this thread, call fn(arg, err), return to the original netns.
 * Returns fn's value. Aborts if the original netns cannot be restored: continuing in
 * the wrong netns would act on the wrong network. */
int cni_netns_run(int fd, int (*fn)(void *arg, struct cni_err *err), void *arg,
		  struct cni_err *err);
