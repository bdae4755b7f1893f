/* SPDX-License-Identifier: Apache-2.0 */
/* Exec of external CNI plugins per the spec: CNI_PATH lookup, env, stdin, stdout, timeout. */
#pragma once

#include <stddef.h>

#include "lib/cni/cni.h"

/* What to run. NULL fields leave the corresponding CNI_* variable unset. */
struct cni_exec_req {
	const char *type; /* binary name (no '/') */
	const char *path; /* CNI_PATH, searched in order */
	enum cni_cmd cmd;
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args; /* CNI_ARGS */
	const char *stdin_data;
	size_t stdin_len;
	int timeout_ms; /* 0 = no timeout */
};

/* Find type in the ':'-separated path. Returns an owned path, or -ENOENT with err set
 * (code 7: a plugin the network names is not installed). A type with '/' is refused. */
int cni_exec_find(const char *type, const char *path, char **ret, struct cni_err *err);

/* Run the plugin: environment = ours minus every CNI_* variable, plus the request's; stdin =
 * stdin_data; its stderr is passed through to ours (CNI spec §4). On exit 0, *ret_stdout holds
 * its stdout (owned, NUL-terminated). On failure err holds the plugin's own error JSON
 * (code/msg/details) when it printed one, else code 102 with its exit status and stderr tail.
 * Timeout -> code 11. Retries "text file busy" like libcni. */
int cni_exec_run(const struct cni_exec_req *req, char **ret_stdout, size_t *ret_len,
		 struct cni_err *err);
