/* SPDX-License-Identifier: Apache-2.0 */
/* CNI_* environment: reading, validation (CNI spec, section 'Parameters') and CNI_ARGS
 * parsing. */
#pragma once

#include <stddef.h>

#include "lib/cni/cni.h"

struct cni_env {
	enum cni_cmd cmd;
	char *command;					   /* raw CNI_COMMAND */
	char *container_id, *netns, *ifname, *args, *path; /* owned copies or NULL */
};

void cni_env_done(struct cni_env *e);
/* Read the CNI_* variables from the process environment and validate them for the command:
 * missing required -> code 4 naming them; unknown command -> code 4; bad container ID or
 * ifname -> code 4. VERSION validates nothing but the command. */
int cni_env_load(struct cni_env *ret, struct cni_err *err);
/* Parse "CNI_COMMAND" value. -EINVAL for unknown. */
int cni_cmd_parse(const char *s, enum cni_cmd *ret);
const char *cni_cmd_str(enum cni_cmd cmd);

/* Validators with the reference pkg/utils rules; each returns 0 or sets err with the given code. */
int cni_validate_container_id(const char *id, int code, struct cni_err *err);
int cni_validate_ifname(const char *name, int code, struct cni_err *err);
int cni_validate_network_name(const char *name, struct cni_err *err);

/* Parse CNI_ARGS "K1=V1;K2=V2" (split on the first '='; empty pairs skipped).
 * A pair without '=' -> code 4 naming it. Returns an owned array (free with cni_kv_free). */
int cni_args_parse(const char *s, struct cni_kv **ret, size_t *ret_n, struct cni_err *err);
void cni_kv_free(struct cni_kv *kv, size_t n);
const char *cni_kv_get(const struct cni_kv *kv, size_t n, const char *key);
