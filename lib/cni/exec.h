/* SPDX-License-Identifier: Apache-2.0 */
/* Exec of external CNI plugins per the spec: CNI_PATH lookup, env, stdin, stdout, timeout. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/cni/cni.h"

/* Set to "1" in the environment of every plugin plexus execs: a plexus binary that sees it runs
 * as a delegate, so its netconf came from a NetworkAttachmentDefinition (tenant input). */
#define CNI_EXEC_MARKER "PLEXUS_DELEGATED"

/* Whether this process runs as a delegate of plexus (CNI_EXEC_MARKER set and non-empty). */
bool cni_exec_delegated(void);

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
	int timeout_ms; /* the whole call, from lookup to exit; 0 = no timeout */
	/* argv[1] of an entry point that is not a delegate (plexus-apid's `plexus --hotplug`):
	 * then CNI_EXEC_MARKER is not set. NULL for plugins. */
	const char *arg;
};

/* Find type in the ':'-separated path. Returns an owned path, or -ENOENT with err set
 * (code 7: a plugin the network names is not installed). A type with '/' is refused. */
int cni_exec_find(const char *type, const char *path, char **ret, struct cni_err *err);

/* Run the plugin in a process group of its own: environment = ours minus every CNI_* variable,
 * plus the request's and CNI_EXEC_MARKER=1; stdin = stdin_data; its stderr is passed through to
 * ours. On exit 0, *ret_stdout holds its stdout (owned, NUL-terminated). On failure err holds
 * the plugin's own error JSON (code/msg/details) when it printed one, else code 102 with its
 * exit status and the start of its output. Past timeout_ms (reading, or waiting for the exit
 * after stdout closed) -> code 11 naming the plugin and the timeout. On any failure the whole
 * process group is SIGKILLed and the plugin reaped. Retries "text file busy" like libcni. */
int cni_exec_run(const struct cni_exec_req *req, char **ret_stdout, size_t *ret_len,
		 struct cni_err *err);
