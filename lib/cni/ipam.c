// SPDX-License-Identifier: Apache-2.0
/* IPAM delegation for the current request: built-in IPAM in-process, else the spec's exec
 * protocol (CNI spec §4, 'Plugin Delegation'). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/args.h"
#include "lib/cni/exec.h"
#include "lib/cni/ipam.h"
#include "lib/cni/skel.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

/* IPAM calls are bounded so a hung IPAM cannot hold the pod sandbox forever. */
#define IPAM_TIMEOUT_MS 60000

static const struct cni_plugin *const *ipam_builtins;
static size_t ipam_n_builtins;

void cni_ipam_set_builtins(const struct cni_plugin *const *table, size_t n)
{
	ipam_builtins = table;
	ipam_n_builtins = table ? n : 0;
}

/* The registered plugin named ctx->ipam_type, unless operators asked for exec. */
static const struct cni_plugin *ipam_builtin(const struct cni_ctx *ctx)
{
	if (!ctx->ipam_type || !ipam_n_builtins)
		return NULL;
	const char *e = secure_getenv("PLEXUS_IPAM_EXEC");
	if (e && strcmp(e, "1") == 0)
		return NULL;
	for (size_t i = 0; i < ipam_n_builtins; i++) {
		const struct cni_plugin *p = ipam_builtins[i];
		if (strcmp(p->name, ctx->ipam_type) == 0)
			return p;
		for (const char *const *a = p->aliases; a && *a; a++)
			if (strcmp(*a, ctx->ipam_type) == 0)
				return p;
	}
	return NULL;
}

/* Run a built-in IPAM as if exec'd: same CNI_* values, same conf bytes, its own ctx. */
/* Run cmd of the in-process IPAM p with the plugin's request; with validate_only, its
 * validate slot for an ADD instead. */
static int ipam_inproc(const struct cni_plugin *p, const struct cni_ctx *ctx, enum cni_cmd cmd,
		       bool validate_only, struct cni_result **ret, struct cni_err *err)
{
	struct cni_env env = {
		.cmd = cmd,
		.container_id = (char *)ctx->container_id,
		.netns = (char *)ctx->netns_path,
		.ifname = (char *)ctx->ifname,
		.args = (char *)ctx->args_raw,
		.path = (char *)ctx->path,
	};
	struct cni_ctx ictx;
	struct cni_err e = { 0 };
	struct cni_result *res = NULL;
	int r = cni_ctx_init(&ictx, &env, ctx->conf_raw, ctx->conf_len, p, &e);
	if (r >= 0) {
		/* The IPAM's own ctx names itself as ipam.type: never forward to itself. */
		ictx.ipam_type = NULL;
		if (validate_only)
			r = p->validate ? p->validate(&ictx, &e) : 0;
		else
			r = cni_plugin_run(p, &ictx, cmd == CNI_CMD_ADD ? &res : NULL, &e);
	}
	cni_ctx_done(&ictx);
	if (r < 0) {
		cni_result_free(res);
		if (err)
			*err = e;
		return cni_err_wrap(err, "ipam '%s' %s", ctx->ipam_type, cni_cmd_str(cmd));
	}
	if (ret)
		*ret = res;
	else
		cni_result_free(res);
	return 0;
}

/* Highest version both we and the IPAM binary support, from its VERSION answer. */
static int ipam_negotiate(const struct cni_ctx *ctx, enum cni_version *ret, struct cni_err *err)
{
	struct cni_exec_req req = {
		.type = ctx->ipam_type,
		.path = ctx->path,
		.cmd = CNI_CMD_VERSION,
		.stdin_data = "{\"cniVersion\":\"1.1.0\"}",
		.stdin_len = sizeof("{\"cniVersion\":\"1.1.0\"}") - 1,
		.timeout_ms = IPAM_TIMEOUT_MS,
	};
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	int r = cni_exec_run(&req, &out, &len, err);
	if (r < 0)
		return r;
	_cleanup_json_ cJSON *json = NULL;
	r = json_parse(out, len, "ipam VERSION output", &json, err);
	if (r < 0)
		return r;
	const cJSON *list = json_get(json, "supportedVersions"), *v;
	int best = -1;
	cJSON_ArrayForEach (v, list) {
		enum cni_version ver;
		if (cJSON_IsString(v) && cni_version_parse(v->valuestring, &ver, NULL) == 0 &&
		    ver <= ctx->version && (int)ver > best)
			best = (int)ver;
	}
	if (best < 0)
		return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, EINVAL,
				   "ipam '%s' supports no CNI version up to %s", ctx->ipam_type,
				   cni_version_str(ctx->version));
	*ret = (enum cni_version)best;
	return 0;
}

static int ipam_exec_conf(const struct cni_ctx *ctx, enum cni_cmd cmd, const char *conf,
			  size_t conf_len, char **ret, size_t *ret_len, struct cni_err *err)
{
	/* Same environment and the complete netconf on stdin; only CNI_COMMAND differs. */
	struct cni_exec_req req = {
		.type = ctx->ipam_type,
		.path = ctx->path,
		.cmd = cmd,
		.container_id = ctx->container_id,
		.netns = ctx->netns_path,
		.ifname = ctx->ifname,
		.args = ctx->args_raw,
		.stdin_data = conf,
		.stdin_len = conf_len,
		.timeout_ms = IPAM_TIMEOUT_MS,
	};
	return cni_exec_run(&req, ret, ret_len, err);
}

static int ipam_exec(const struct cni_ctx *ctx, enum cni_cmd cmd, char **ret, size_t *ret_len,
		     struct cni_err *err)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	struct cni_err e = { 0 };
	int r = ipam_exec_conf(ctx, cmd, ctx->conf_raw, ctx->conf_len, &out, &len, &e);
	if (r < 0 && e.code == CNI_ERR_INCOMPATIBLE_VERSION && cmd != CNI_CMD_STATUS &&
	    cmd != CNI_CMD_GC) {
		/* An IPAM binary older than our request's version (Debian's host-local stops
		 * at 1.0.0): ask it for its VERSION and retry with the common version. The
		 * result is up-converted by the caller. */
		enum cni_version v = ctx->version;
		if (ipam_negotiate(ctx, &v, NULL) == 0 && v != ctx->version) {
			_cleanup_json_ cJSON *conf = cJSON_Duplicate(ctx->conf, true);
			cJSON_DeleteItemFromObjectCaseSensitive(conf, "cniVersion");
			cJSON_AddStringToObject(conf, "cniVersion", cni_version_str(v));
			_cleanup_free_ char *text = json_print(conf);
			memset(&e, 0, sizeof(e));
			r = ipam_exec_conf(ctx, cmd, text, strlen(text), &out, &len, &e);
		}
	}
	if (r < 0) {
		if (err)
			*err = e;
		return cni_err_wrap(err, "ipam '%s' %s", ctx->ipam_type, cni_cmd_str(cmd));
	}
	if (ret) {
		*ret = TAKE_PTR(out);
		*ret_len = len;
	}
	return 0;
}

int cni_ipam_resolve(const struct cni_ctx *ctx, struct cni_err *err)
{
	const struct cni_plugin *builtin = ipam_builtin(ctx);
	if (!ctx->ipam_type)
		return 0;
	if (builtin)
		return ipam_inproc(builtin, ctx, CNI_CMD_ADD, true, NULL, err);
	_cleanup_free_ char *path = NULL;
	int r = cni_exec_find(ctx->ipam_type, ctx->path, &path, err);
	return r < 0 ? cni_err_wrap(err, "ipam.type") : 0;
}

int cni_ipam_add(const struct cni_ctx *ctx, struct cni_result **ret, struct cni_err *err)
{
	const struct cni_plugin *builtin = ipam_builtin(ctx);
	struct cni_result *res = NULL;
	int r;
	if (builtin) {
		r = ipam_inproc(builtin, ctx, CNI_CMD_ADD, false, &res, err);
		if (r < 0)
			return r;
		if (!res)
			res = cni_result_new();
	} else {
		_cleanup_free_ char *out = NULL;
		size_t len = 0;
		r = ipam_exec(ctx, CNI_CMD_ADD, &out, &len, err);
		if (r < 0)
			return r;
		r = cni_result_parse(out, len, ctx->version, &res, err);
		if (r < 0) {
			(void)cni_ipam_del(ctx, NULL);
			return cni_err_wrap(err, "ipam '%s' result", ctx->ipam_type);
		}
	}
	if (res->n_ips == 0) {
		cni_result_free(res);
		(void)cni_ipam_del(ctx, NULL);
		return cni_err_set(err, CNI_ERR_IPAM, EINVAL,
				   "ipam '%s': IPAM plugin returned missing IP config",
				   ctx->ipam_type);
	}
	*ret = res;
	return 0;
}

int cni_ipam_del(const struct cni_ctx *ctx, struct cni_err *err)
{
	if (!ctx->ipam_type)
		return 0;
	const struct cni_plugin *builtin = ipam_builtin(ctx);
	if (builtin)
		return ipam_inproc(builtin, ctx, CNI_CMD_DEL, false, NULL, err);
	return ipam_exec(ctx, CNI_CMD_DEL, NULL, NULL, err);
}

int cni_ipam_check(const struct cni_ctx *ctx, struct cni_err *err)
{
	if (!ctx->ipam_type)
		return 0;
	const struct cni_plugin *builtin = ipam_builtin(ctx);
	if (builtin)
		return ipam_inproc(builtin, ctx, CNI_CMD_CHECK, false, NULL, err);
	return ipam_exec(ctx, CNI_CMD_CHECK, NULL, NULL, err);
}

/* STATUS and GC exist from CNI spec 1.1.0 on. An IPAM binary that stops below that answers them
 * with code 1, 3 or 4 depending on its skel, so ask its versions first: one that does not
 * support 1.1.0 has nothing to report or collect. */
static int forward_optional(const struct cni_ctx *ctx, enum cni_cmd cmd, struct cni_err *err)
{
	if (!ctx->ipam_type)
		return 0;
	const struct cni_plugin *builtin = ipam_builtin(ctx);
	if (builtin)
		return ipam_inproc(builtin, ctx, cmd, false, NULL, err);
	enum cni_version v;
	int r = ipam_negotiate(ctx, &v, err);
	if (r < 0)
		return cni_err_wrap(err, "ipam '%s' VERSION", ctx->ipam_type);
	if (v < CNI_V110) {
		log_debug("ipam '%s' predates %s, not forwarding it", ctx->ipam_type,
			  cni_cmd_str(cmd));
		return 0;
	}
	return ipam_exec(ctx, cmd, NULL, NULL, err);
}

int cni_ipam_status(const struct cni_ctx *ctx, struct cni_err *err)
{
	return forward_optional(ctx, CNI_CMD_STATUS, err);
}

int cni_ipam_gc(const struct cni_ctx *ctx, struct cni_err *err)
{
	return forward_optional(ctx, CNI_CMD_GC, err);
}
