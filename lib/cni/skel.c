// SPDX-License-Identifier: Apache-2.0
/* The plugin entry point: env + stdin -> ctx -> vtable -> stdout (the only stdout writer). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/cni/args.h"
#include "lib/cni/exec.h"
#include "lib/cni/ipam.h"
#include "lib/cni/netns.h"
#include "lib/cni/skel.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

#define STDIN_MAX (16u << 20)

const char *cni_ctx_arg(const struct cni_ctx *ctx, const char *key)
{
	return cni_kv_get(ctx->args, ctx->n_args, key);
}

int cni_ctx_prev_iface(const struct cni_ctx *ctx, size_t *ret, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	if (!prev)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "prevResult: required prevResult missing");
	for (size_t i = 0; i < prev->n_interfaces; i++)
		if (strcmp(prev->interfaces[i].name, ctx->ifname) == 0 &&
		    prev->interfaces[i].sandbox && ctx->netns_path &&
		    strcmp(prev->interfaces[i].sandbox, ctx->netns_path) == 0) {
			*ret = i;
			return 0;
		}
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENOENT,
			   "prevResult: no interface '%s' in sandbox '%s'", ctx->ifname,
			   ctx->netns_path ? ctx->netns_path : "");
}

void cni_ctx_done(struct cni_ctx *ctx)
{
	cni_kv_free((struct cni_kv *)ctx->args, ctx->n_args);
	cJSON_Delete((cJSON *)ctx->conf);
	cni_dns_done(&ctx->dns);
	cni_result_free(ctx->prev_result);
	free(ctx->valid_attachments);
	if (ctx->netns_fd >= 0)
		(void)close(ctx->netns_fd);
	memset(ctx, 0, sizeof(*ctx));
	ctx->netns_fd = -1;
}

/* cni.dev/valid-attachments (or the pre-1.1 key cni.dev/attachments; SPEC.md "GC") for GC. */
static int parse_attachments(struct cni_ctx *ctx, struct cni_err *err)
{
	const cJSON *list = json_get(ctx->conf, "cni.dev/valid-attachments");
	const char *key = "cni.dev/valid-attachments";
	if (!list) {
		list = json_get(ctx->conf, "cni.dev/attachments");
		key = "cni.dev/attachments";
	}
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: must be a list", key);
	size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
	ctx->valid_attachments = xcalloc(n, sizeof(*ctx->valid_attachments));
	const cJSON *a;
	cJSON_ArrayForEach (a, list) {
		const cJSON *id = json_get(a, "containerID"), *ifn = json_get(a, "ifname");
		if (!cJSON_IsString(id) || !cJSON_IsString(ifn))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s[%zu]: containerID and ifname must be strings", key,
					   i);
		ctx->valid_attachments[i].container_id = id->valuestring;
		ctx->valid_attachments[i].ifname = ifn->valuestring;
		i++;
	}
	ctx->n_valid_attachments = n;
	return 0;
}

int cni_ctx_init(struct cni_ctx *ctx, const struct cni_env *env, const char *conf_raw,
		 size_t conf_len, const struct cni_plugin *plugin, struct cni_err *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->netns_fd = -1;
	ctx->cmd = env->cmd;
	ctx->container_id = env->container_id;
	ctx->netns_path = env->netns && *env->netns ? env->netns : NULL;
	ctx->ifname = env->ifname;
	ctx->path = env->path;
	ctx->args_raw = env->args;
	ctx->conf_raw = conf_raw;
	ctx->conf_len = conf_len;

	cJSON *conf = NULL;
	int r = json_parse(conf_raw, conf_len, "network configuration", &conf, err);
	if (r < 0)
		return r;
	ctx->conf = conf;
	if (!cJSON_IsObject(conf))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "network configuration: must be a JSON object");

	struct cni_kv *kv = NULL;
	r = cni_args_parse(env->args, &kv, &ctx->n_args, err);
	if (r < 0)
		return r;
	ctx->args = kv;

	/* libcni decodes a missing cniVersion as 0.1.0. */
	const char *version = "0.1.0";
	r = json_get_string(conf, "cniVersion", "cniVersion", &version, NULL, err);
	if (r < 0)
		return r;
	r = cni_version_parse(version, &ctx->version, err);
	if (r < 0)
		return r;
	if (plugin && !(plugin->versions & (1u << ctx->version)))
		return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, EINVAL,
				   "plugin '%s' does not support config version \"%s\"",
				   plugin->name, version);
	/* Verb gating by version (SPEC.md "CNI operations": CHECK 0.4.0, STATUS/GC 1.1.0). */
	if (ctx->cmd == CNI_CMD_CHECK && ctx->version < CNI_V040)
		return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, EINVAL,
				   "config version does not allow CHECK");
	if ((ctx->cmd == CNI_CMD_STATUS || ctx->cmd == CNI_CMD_GC) && ctx->version < CNI_V110)
		return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, EINVAL,
				   "config version does not allow %s", cni_cmd_str(ctx->cmd));

	r = json_get_string(conf, "name", "name", &ctx->name, NULL, err);
	if (r < 0)
		return r;
	r = cni_validate_network_name(ctx->name, err);
	if (r < 0)
		return r;
	r = json_get_object(conf, "ipam", "ipam", &ctx->ipam, err);
	if (r < 0)
		return r;
	if (ctx->ipam) {
		r = json_get_string(ctx->ipam, "type", "ipam.type", &ctx->ipam_type, NULL, err);
		if (r < 0)
			return r;
		if (ctx->ipam_type && !*ctx->ipam_type)
			ctx->ipam_type = NULL;
	}
	r = json_get_object(conf, "runtimeConfig", "runtimeConfig", &ctx->runtime_config, err);
	if (r < 0)
		return r;
	r = cni_dns_decode(json_get(conf, "dns"), "dns", &ctx->dns, err);
	if (r < 0)
		return r;
	const cJSON *prev = json_get(conf, "prevResult");
	if (prev && !cJSON_IsNull(prev)) {
		r = cni_result_decode(prev, ctx->version, &ctx->prev_result, err);
		if (r < 0)
			return cni_err_wrap(err, "prevResult");
	}
	if (ctx->cmd == CNI_CMD_GC)
		return parse_attachments(ctx, err);
	return 0;
}

int cni_plugin_run(const struct cni_plugin *plugin, const struct cni_ctx *ctx,
		   struct cni_result **ret, struct cni_err *err)
{
	int r;
	switch (ctx->cmd) {
	case CNI_CMD_ADD:
		return plugin->add(ctx, ret, err);
	case CNI_CMD_DEL:
		return plugin->del(ctx, err);
	case CNI_CMD_CHECK:
		return plugin->check ? plugin->check(ctx, err) : cni_ipam_check(ctx, err);
	case CNI_CMD_STATUS:
		if (plugin->status && (r = plugin->status(ctx, err)) < 0)
			return r;
		return cni_ipam_status(ctx, err);
	case CNI_CMD_GC: {
		/* SPEC.md "GC": keep going and report the first failure. */
		struct cni_err ipam_err = { 0 };
		int r1 = plugin->gc ? plugin->gc(ctx, err) : 0;
		int r2 = cni_ipam_gc(ctx, &ipam_err);
		if (r1 < 0)
			return r1;
		if (r2 < 0 && err)
			*err = ipam_err;
		return r2;
	}
	case CNI_CMD_VERSION:
		break;
	}
	return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL, "unknown CNI_COMMAND");
}

static void print_json(cJSON *json)
{
	_cleanup_free_ char *text = json_print(json);
	(void)fputs(text, stdout);
	(void)fputc('\n', stdout);
	(void)fflush(stdout);
}

static cJSON *versions_json(unsigned versions)
{
	cJSON *list = cJSON_CreateArray();
	for (int v = 0; v < CNI_VERSION_COUNT; v++)
		if (versions & (1u << v))
			cJSON_AddItemToArray(list, cJSON_CreateString(cni_version_str(v)));
	return list;
}

static int print_error(const char *version, const struct cni_err *err)
{
	_cleanup_json_ cJSON *json = cJSON_CreateObject();
	cJSON_AddStringToObject(json, "cniVersion", version);
	cJSON_AddNumberToObject(json, "code", err->code ? err->code : CNI_ERR_INTERNAL);
	cJSON_AddStringToObject(json, "msg", err->msg);
	if (err->details[0])
		cJSON_AddStringToObject(json, "details", err->details);
	print_json(json);
	log_error("%s%s%s", err->msg, err->details[0] ? ": " : "", err->details);
	return 1;
}

/* SPEC.md "VERSION": echo a supported request version, else answer with the latest. */
static int cmd_version(const struct cni_plugin *plugin, const char *in, size_t len)
{
	enum cni_version v = CNI_VERSION_LATEST;
	_cleanup_json_ cJSON *req = NULL;
	const char *s = NULL;
	if (json_parse(in, len, "stdin", &req, NULL) == 0 &&
	    json_get_string(req, "cniVersion", "cniVersion", &s, NULL, NULL) == 0 && s) {
		enum cni_version parsed;
		if (cni_version_parse(s, &parsed, NULL) == 0 && (plugin->versions & (1u << parsed)))
			v = parsed;
	}
	_cleanup_json_ cJSON *json = cJSON_CreateObject();
	cJSON_AddStringToObject(json, "cniVersion", cni_version_str(v));
	cJSON_AddItemToObject(json, "supportedVersions", versions_json(plugin->versions));
	print_json(json);
	return 0;
}

/* logLevel / logFile in the netconf (sriov-cni and Multus use these keys). A delegate's
 * netconf came from a NetworkAttachmentDefinition: a tenant must not pick a file root writes. */
static void setup_logging(const cJSON *conf)
{
	const char *level = NULL, *file = NULL;
	enum log_level l;
	if (json_get_string(conf, "logLevel", "logLevel", &level, NULL, NULL) == 0 && level &&
	    log_level_parse(level, &l) == 0)
		log_set_level(l);
	if (json_get_string(conf, "logFile", "logFile", &file, NULL, NULL) < 0 || !file || !*file)
		return;
	if (cni_exec_delegated()) {
		log_warning("logFile ignored: running as a delegate of plexus, whose network "
			    "configuration may come from a NetworkAttachmentDefinition");
		return;
	}
	/* ENXIO: a FIFO nobody reads (O_NONBLOCK) or a device. */
	int r = log_set_file(file);
	if (r < 0)
		log_warning("cannot open logFile '%s': %s, ignoring", file,
			    r == -ELOOP			  ? "it is a symbolic link"
			    : r == -EINVAL || r == -ENXIO ? "not a regular file"
							  : strerror(-r));
}

int cni_ctx_open_netns(struct cni_ctx *ctx, struct cni_err *err)
{
	if (!ctx->netns_path || ctx->cmd == CNI_CMD_STATUS || ctx->cmd == CNI_CMD_GC)
		return 0;
	int fd = -1;
	int r = cni_netns_open(ctx->netns_path, &fd, err);
	if (r < 0) {
		if (ctx->cmd == CNI_CMD_DEL) {
			log_info("netns '%s' is gone (%s), continuing DEL", ctx->netns_path,
				 err->msg);
			memset(err, 0, sizeof(*err));
			return 0;
		}
		return r;
	}
	ctx->netns_fd = fd;
	if (ctx->cmd == CNI_CMD_DEL)
		return 0;
	/* As the reference plugins' skel: refuse to configure our own netns before changing
	 * anything. */
	const char *override = secure_getenv("CNI_NETNS_OVERRIDE");
	if (override && (strcmp(override, "1") == 0 || strcasecmp(override, "true") == 0))
		return 0;
	bool same = false;
	r = cni_netns_is_current(fd, &same, err);
	if (r < 0)
		return r;
	if (same)
		return cni_err_set(
			err, CNI_ERR_INVALID_NETNS, EINVAL,
			"plugin's netns and netns from CNI_NETNS should not be the same");
	return 0;
}

int cni_skel_main(int argc, char **argv, const struct cni_plugin *plugin, const char *about)
{
	(void)argc;
	_cleanup_free_ char *prog = xstrdup(argv && argv[0] ? argv[0] : plugin->name);
	log_set_program(basename(prog));
	log_set_level(LOG_LEVEL_WARNING);

	const char *command = secure_getenv("CNI_COMMAND");
	if (!command || !*command) {
		/* A person ran us by hand: say what we are, like the reference plugins. */
		_cleanup_json_ cJSON *v = versions_json(plugin->versions);
		_cleanup_free_ char *list = json_print(v);
		(void)fprintf(stderr, "%s\nCNI protocol versions supported: %s\n", about, list);
		return 0;
	}

	struct cni_err err = { 0 };
	_cleanup_free_ char *in = NULL;
	size_t in_len = 0;
	const char *version = cni_version_str(CNI_VERSION_LATEST);
	int r = file_read_fd(STDIN_FILENO, STDIN_MAX, &in, &in_len);
	if (r < 0) {
		cni_err_set(&err, CNI_ERR_IO, -r, "error reading from stdin: %s", strerror(-r));
		return print_error(version, &err);
	}
	struct cni_env env = { 0 };
	r = cni_env_load(&env, &err);
	if (r < 0)
		return print_error(version, &err);
	log_set_context(env.container_id, env.ifname);
	if (env.cmd == CNI_CMD_VERSION) {
		cni_env_done(&env);
		return cmd_version(plugin, in, in_len);
	}
	/* Defence in depth against a NAD whose type is this plugin: its nested copy would take
	 * binDir, kubeconfig, cniDir... from tenant JSON. */
	if (plugin->top_level_only && cni_exec_delegated()) {
		cni_env_done(&env);
		cni_err_set(&err, CNI_ERR_INVALID_CONFIG, EPERM,
			    "type '%s': plexus may not run as a delegate of plexus (%s is set)",
			    plugin->name, CNI_EXEC_MARKER);
		return print_error(version, &err);
	}

	struct cni_ctx ctx;
	struct cni_result *result = NULL;
	r = cni_ctx_init(&ctx, &env, in, in_len, plugin, &err);
	if (ctx.conf && cJSON_IsObject(ctx.conf)) {
		setup_logging(ctx.conf);
		/* Errors echo the request's version whenever it is one we know. */
		const cJSON *v = json_get(ctx.conf, "cniVersion");
		enum cni_version parsed;
		if (cJSON_IsString(v) && cni_version_parse(v->valuestring, &parsed, NULL) == 0)
			version = v->valuestring;
	}
	if (r >= 0)
		r = cni_ctx_open_netns(&ctx, &err);
	if (r >= 0) {
		log_debug("%s network '%s' netns '%s'", cni_cmd_str(env.cmd), ctx.name,
			  ctx.netns_path ? ctx.netns_path : "");
		r = cni_plugin_run(plugin, &ctx, &result, &err);
	}
	int status = 0;
	if (r < 0) {
		status = print_error(version, &err);
	} else if (env.cmd == CNI_CMD_ADD) {
		_cleanup_json_ cJSON *json = NULL;
		r = cni_result_encode(result, ctx.version, &json, &err);
		if (r < 0) {
			/* The attachment exists but cannot be expressed in this version (SPEC.md
			 * "Version considerations"): undo it so the failed ADD leaves nothing
			 * behind. */
			struct cni_err del_err = { 0 };
			ctx.cmd = CNI_CMD_DEL;
			if (plugin->del(&ctx, &del_err) < 0)
				log_warning("undo after failed result encoding: %s, ignoring",
					    del_err.msg);
			status = print_error(version, &err);
		} else {
			print_json(json);
		}
	}
	cni_result_free(result);
	cni_ctx_done(&ctx);
	cni_env_done(&env);
	return status;
}
