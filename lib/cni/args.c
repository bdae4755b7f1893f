// SPDX-License-Identifier: Apache-2.0
/* CNI_* environment loading and validation, CNI_ARGS parsing (CNI spec, section 'Parameters'). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/args.h"
#include "lib/util/cleanup.h"

static const char *const cmd_names[] = {
	[CNI_CMD_ADD] = "ADD",	     [CNI_CMD_DEL] = "DEL", [CNI_CMD_CHECK] = "CHECK",
	[CNI_CMD_STATUS] = "STATUS", [CNI_CMD_GC] = "GC",   [CNI_CMD_VERSION] = "VERSION",
};

int cni_cmd_parse(const char *s, enum cni_cmd *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmd_names); i++)
		if (strcmp(s, cmd_names[i]) == 0) {
			*ret = (enum cni_cmd)i;
			return 0;
		}
	return -EINVAL;
}

const char *cni_cmd_str(enum cni_cmd cmd)
{
	return (size_t)cmd < ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : "?";
}

void cni_env_done(struct cni_env *e)
{
	free(e->command);
	free(e->container_id);
	free(e->netns);
	free(e->ifname);
	free(e->args);
	free(e->path);
	memset(e, 0, sizeof(*e));
}

/* ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$: the reference ValidateContainerID rule, also used for the
 * network name (CNI spec, section 'Configuration format': no path-illegal characters). */
static bool valid_id(const char *s)
{
	if (!s || !isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

int cni_validate_container_id(const char *id, int code, struct cni_err *err)
{
	if (!id || !*id)
		return cni_err_set(err, code, EINVAL, "CNI_CONTAINERID: empty container id");
	if (!valid_id(id))
		return cni_err_set(err, code, EINVAL,
				   "CNI_CONTAINERID: invalid characters in container id '%s'", id);
	return 0;
}

int cni_validate_ifname(const char *name, int code, struct cni_err *err)
{
	if (!name || !*name)
		return cni_err_set(err, code, EINVAL, "CNI_IFNAME: interface name is empty");
	if (strlen(name) > 15)
		return cni_err_set(err, code, EINVAL,
				   "CNI_IFNAME: interface name '%s' is longer than 15 characters",
				   name);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cni_err_set(err, code, EINVAL, "CNI_IFNAME: interface name '%s' is invalid",
				   name);
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return cni_err_set(err, code, EINVAL,
					   "CNI_IFNAME: interface name '%s' contains an invalid "
					   "character",
					   name);
	return 0;
}

int cni_validate_network_name(const char *name, struct cni_err *err)
{
	if (!name || !*name)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "name: missing network name");
	if (!valid_id(name))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "name: invalid characters in network name '%s'", name);
	return 0;
}

static char *env_dup(const char *name)
{
	const char *v = secure_getenv(name);
	return v ? xstrdup(v) : NULL;
}

int cni_env_load(struct cni_env *ret, struct cni_err *err)
{
	struct cni_env e = { 0 };
	const char *command = secure_getenv("CNI_COMMAND");
	if (!command || !*command)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "required env variables [CNI_COMMAND] missing");
	if (cni_cmd_parse(command, &e.cmd) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL, "unknown CNI_COMMAND: %s",
				   command);
	e.command = xstrdup(command);
	e.container_id = env_dup("CNI_CONTAINERID");
	e.netns = env_dup("CNI_NETNS");
	e.ifname = env_dup("CNI_IFNAME");
	e.args = env_dup("CNI_ARGS");
	e.path = env_dup("CNI_PATH");

	/* Which variables each verb requires: the reference skel's table (pkg/skel): it
	 * requires CNI_PATH where the CNI spec has it optional, as IPAM is found through it. */
	struct {
		const char *name;
		const char *value;
		bool required;
	} vars[] = {
		{ "CNI_CONTAINERID", e.container_id,
		  e.cmd == CNI_CMD_ADD || e.cmd == CNI_CMD_DEL || e.cmd == CNI_CMD_CHECK },
		{ "CNI_NETNS", e.netns, e.cmd == CNI_CMD_ADD || e.cmd == CNI_CMD_CHECK },
		{ "CNI_IFNAME", e.ifname,
		  e.cmd == CNI_CMD_ADD || e.cmd == CNI_CMD_DEL || e.cmd == CNI_CMD_CHECK },
		{ "CNI_PATH", e.path, e.cmd != CNI_CMD_VERSION },
	};
	char missing[256] = "";
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		if (vars[i].required && (!vars[i].value || !*vars[i].value)) {
			size_t n = strlen(missing);
			(void)snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? "," : "",
				       vars[i].name);
		}
	int r;
	if (*missing) {
		r = cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				"required env variables [%s] missing", missing);
		goto fail;
	}
	if (e.cmd == CNI_CMD_ADD || e.cmd == CNI_CMD_DEL || e.cmd == CNI_CMD_CHECK) {
		r = cni_validate_container_id(e.container_id, CNI_ERR_INVALID_ENV, err);
		if (r < 0)
			goto fail;
		r = cni_validate_ifname(e.ifname, CNI_ERR_INVALID_ENV, err);
		if (r < 0)
			goto fail;
	}
	*ret = e;
	return 0;
fail:
	cni_env_done(&e);
	return r;
}

void cni_kv_free(struct cni_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

const char *cni_kv_get(const struct cni_kv *kv, size_t n, const char *key)
{
	/* The last occurrence wins, as with repeated environment assignments. */
	const char *v = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			v = kv[i].value;
	return v;
}

int cni_args_parse(const char *s, struct cni_kv **ret, size_t *ret_n, struct cni_err *err)
{
	struct cni_kv *kv = NULL;
	size_t n = 0;
	const char *p = s ? s : "";
	while (*p) {
		const char *end = strchrnul(p, ';');
		if (end > p) {
			const char *eq = memchr(p, '=', (size_t)(end - p));
			if (!eq || eq == p) {
				int len = (int)(end - p);
				cni_kv_free(kv, n);
				return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
						   "CNI_ARGS: invalid pair '%.*s' (want KEY=VALUE)",
						   len, p);
			}
			kv = xrealloc(kv, (n + 1) * sizeof(*kv));
			kv[n].key = xstrndup(p, (size_t)(eq - p));
			kv[n].value = xstrndup(eq + 1, (size_t)(end - eq - 1));
			n++;
		}
		p = *end ? end + 1 : end;
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}
