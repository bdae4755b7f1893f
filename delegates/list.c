// SPDX-License-Identifier: Apache-2.0
/* Network configuration lists: parse, build each plugin's request, run in-process or exec. */
#include <errno.h>
#include <string.h>

#include "delegates/dlg.h"
#include "lib/cni/args.h"
#include "lib/cni/exec.h"
#include "lib/cni/skel.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

void dlg_list_done(struct dlg_list *l)
{
	cJSON_Delete(l->json);
	memset(l, 0, sizeof(*l));
}

bool dlg_list_declares(const struct dlg_list *l, const char *cap)
{
	const cJSON *pl;
	cJSON_ArrayForEach (pl, l->plugins) {
		if (cJSON_IsTrue(json_get(json_get(pl, "capabilities"), cap)))
			return true;
	}
	return false;
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	cJSON_AddStringToObject(obj, key, value);
}

int dlg_list_parse(const char *text, size_t len, const char *default_name,
		   const char *default_version, struct dlg_list *ret, struct cni_err *err)
{
	_cleanup_json_ cJSON *json = NULL;
	int r = json_parse(text, len, "network configuration", &json, err);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(json))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "network configuration: must be a JSON object");
	/* A single plugin config (it has "type") becomes a one-element list, as libcni's
	 * ConfListFromConf does. */
	if (!json_get(json, "plugins") && json_get(json, "type")) {
		cJSON *list = cJSON_CreateObject();
		const cJSON *v = json_get(json, "cniVersion"), *n = json_get(json, "name");
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(list, "cniVersion", v->valuestring);
		if (cJSON_IsString(n))
			cJSON_AddStringToObject(list, "name", n->valuestring);
		cJSON *plugins = cJSON_AddArrayToObject(list, "plugins");
		cJSON_AddItemToArray(plugins, TAKE_PTR(json));
		json = list;
	}
	const char *name = NULL, *version = NULL;
	r = json_get_string(json, "name", "name", &name, NULL, err);
	if (r < 0)
		return r;
	if ((!name || !*name) && default_name)
		set_string(json, "name", default_name);
	r = json_get_string(json, "cniVersion", "cniVersion", &version, NULL, err);
	if (r < 0)
		return r;
	if (!version && default_version)
		set_string(json, "cniVersion", default_version);

	struct dlg_list l = { 0 };
	l.name = cJSON_GetStringValue(json_get(json, "name"));
	r = cni_validate_network_name(l.name, err);
	if (r < 0)
		return r;
	version = cJSON_GetStringValue(json_get(json, "cniVersion"));
	if (!version)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "cniVersion: missing");
	r = cni_version_parse(version, &l.version, err);
	if (r < 0)
		return cni_err_wrap(err, "cniVersion");
	r = json_get_array(json, "plugins", "plugins", &l.plugins, err);
	if (r < 0)
		return r;
	if (!l.plugins || cJSON_GetArraySize(l.plugins) == 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "plugins: a network needs at least one plugin");
	l.n_plugins = cJSON_GetArraySize(l.plugins);
	for (int i = 0; i < l.n_plugins; i++) {
		const cJSON *p = cJSON_GetArrayItem(l.plugins, i);
		const char *type = cJSON_GetStringValue(json_get(p, "type"));
		if (!cJSON_IsObject(p) || !type || !*type || strchr(type, '/'))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "plugins[%d].type: missing or invalid plugin type", i);
	}
	r = json_get_bool(json, "disableCheck", "disableCheck", &l.disable_check, NULL, err);
	if (r < 0)
		return r;
	r = json_get_bool(json, "disableGC", "disableGC", &l.disable_gc, NULL, err);
	if (r < 0)
		return r;
	l.json = TAKE_PTR(json);
	*ret = l;
	return 0;
}

int dlg_plugin_conf(const struct dlg_list *l, int i, const struct dlg_rt *rt,
		    const struct cni_result *prev, char **ret, struct cni_err *err)
{
	const cJSON *plugin = cJSON_GetArrayItem(l->plugins, i);
	_cleanup_json_ cJSON *conf = cJSON_Duplicate(plugin, true);
	set_string(conf, "cniVersion", cni_version_str(l->version));
	set_string(conf, "name", l->name);
	/* Only the capabilities the plugin declares true reach it (CNI SPEC.md, section
	 * 'Deriving runtimeConfig'). */
	cJSON_DeleteItemFromObjectCaseSensitive(conf, "runtimeConfig");
	const cJSON *caps = json_get(plugin, "capabilities"), *cap;
	cJSON *rc = NULL;
	cJSON_ArrayForEach (cap, caps) {
		const cJSON *arg = json_get(rt->cap_args, cap->string);
		if (!cJSON_IsTrue(cap) || !arg)
			continue;
		if (!rc)
			rc = cJSON_AddObjectToObject(conf, "runtimeConfig");
		cJSON_AddItemToObject(rc, cap->string, cJSON_Duplicate(arg, true));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(conf, "prevResult");
	if (prev) {
		cJSON *enc = NULL;
		int r = cni_result_encode(prev, l->version, &enc, err);
		if (r < 0)
			return cni_err_wrap(err, "prevResult for plugins[%d]", i);
		cJSON_AddItemToObject(conf, "prevResult", enc);
	}
	*ret = json_print(conf);
	return 0;
}

/* In-process: the same ctx the standalone binary would build, without fork/exec. */
static int run_builtin(const struct cni_plugin *plugin, enum cni_cmd cmd, const char *conf,
		       const struct dlg_rt *rt, struct cni_result **ret, struct cni_err *err)
{
	struct cni_env env = {
		.cmd = cmd,
		.container_id = (char *)rt->container_id,
		.netns = (char *)rt->netns,
		.ifname = (char *)rt->ifname,
		.args = (char *)rt->args,
		.path = (char *)rt->path,
	};
	struct cni_ctx ctx;
	int r = cni_ctx_init(&ctx, &env, conf, strlen(conf), plugin, err);
	if (r >= 0)
		r = cni_ctx_open_netns(&ctx, err);
	if (r >= 0)
		r = cni_plugin_run(plugin, &ctx, ret, err);
	cni_ctx_done(&ctx);
	return r;
}

static int run_exec(const char *type, enum cni_cmd cmd, const char *conf, enum cni_version v,
		    const struct dlg_rt *rt, struct cni_result **ret, struct cni_err *err)
{
	struct cni_exec_req req = {
		.type = type,
		.path = rt->path,
		.cmd = cmd,
		.container_id = rt->container_id,
		.netns = rt->netns,
		.ifname = rt->ifname,
		.args = rt->args,
		.stdin_data = conf,
		.stdin_len = strlen(conf),
		.timeout_ms = rt->timeout_ms,
	};
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	int r = cni_exec_run(&req, &out, &len, err);
	if (r < 0 || cmd != CNI_CMD_ADD)
		return r;
	/* As libcni does: empty output is an empty result; a missing cniVersion is the
	 * request's. */
	const char *p = out;
	while (p < out + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	if (p == out + len) {
		*ret = cni_result_new();
		return 0;
	}
	return cni_result_parse(out, len, v, ret, err);
}

int dlg_plugin_run(const struct dlg_list *l, int i, enum cni_cmd cmd, const struct dlg_rt *rt,
		   const struct cni_result *prev, struct cni_result **ret, struct cni_err *err)
{
	const char *type =
		cJSON_GetStringValue(json_get(cJSON_GetArrayItem(l->plugins, i), "type"));
	_cleanup_free_ char *conf = NULL;
	int r = dlg_plugin_conf(l, i, rt, prev, &conf, err);
	if (r < 0)
		return r;
	const struct cni_plugin *builtin = rt->exec_builtins ? NULL : dlg_builtin(type);
	log_debug("delegate '%s' %s %s ifname '%s'", type, cni_cmd_str(cmd),
		  builtin ? "in-process" : "exec", rt->ifname);
	struct cni_result *res = NULL;
	r = builtin ? run_builtin(builtin, cmd, conf, rt, &res, err)
		    : run_exec(type, cmd, conf, l->version, rt, &res, err);
	if (r < 0) {
		cni_result_free(res);
		return cni_err_wrap(err, "%s %s", type, cni_cmd_str(cmd));
	}
	if (ret)
		*ret = res;
	else
		cni_result_free(res);
	return 0;
}

int dlg_list_add(const struct dlg_list *l, const struct dlg_rt *rt, struct cni_result **ret,
		 struct cni_err *err)
{
	struct cni_result *prev = NULL;
	for (int i = 0; i < l->n_plugins; i++) {
		struct cni_result *res = NULL;
		int r = dlg_plugin_run(l, i, CNI_CMD_ADD, rt, prev, &res, err);
		cni_result_free(prev);
		if (r < 0)
			return r;
		prev = res;
	}
	*ret = prev;
	return 0;
}

int dlg_list_del(const struct dlg_list *l, const struct dlg_rt *rt, const struct cni_result *prev,
		 struct cni_err *err)
{
	/* prevResult on DEL exists from CNI spec 0.4.0 on. */
	const struct cni_result *p = l->version >= CNI_V040 ? prev : NULL;
	int first = 0;
	for (int i = l->n_plugins - 1; i >= 0; i--) {
		struct cni_err e = { 0 };
		int r = dlg_plugin_run(l, i, CNI_CMD_DEL, rt, p, NULL, &e);
		if (r < 0) {
			log_warning("%s", e.msg);
			if (!first) {
				first = r;
				if (err)
					*err = e;
			}
		}
	}
	return first;
}

int dlg_list_check(const struct dlg_list *l, const struct dlg_rt *rt, const struct cni_result *prev,
		   struct cni_err *err)
{
	if (l->disable_check)
		return 0;
	if (l->version < CNI_V040)
		return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, EINVAL,
				   "network '%s': config version does not allow CHECK", l->name);
	for (int i = 0; i < l->n_plugins; i++) {
		int r = dlg_plugin_run(l, i, CNI_CMD_CHECK, rt, prev, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int dlg_list_status(const struct dlg_list *l, const struct dlg_rt *rt, struct cni_err *err)
{
	if (l->version < CNI_V110)
		return 0;
	for (int i = 0; i < l->n_plugins; i++) {
		int r = dlg_plugin_run(l, i, CNI_CMD_STATUS, rt, NULL, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int dlg_list_gc(const struct dlg_list *l, const struct dlg_rt *rt, const cJSON *valid,
		struct cni_err *err)
{
	if (l->disable_gc || l->version < CNI_V110)
		return 0;
	/* The same list with the attachment keys in every plugin object. */
	struct dlg_list copy = *l;
	_cleanup_json_ cJSON *json = cJSON_Duplicate(l->json, true);
	copy.json = json;
	copy.plugins = json_get(json, "plugins");
	cJSON *pl;
	cJSON_ArrayForEach (pl, (cJSON *)copy.plugins) {
		const char *keys[] = { "cni.dev/valid-attachments", "cni.dev/attachments" };
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			cJSON_DeleteItemFromObjectCaseSensitive(pl, keys[k]);
			cJSON_AddItemToObject(pl, keys[k],
					      valid ? cJSON_Duplicate(valid, true)
						    : cJSON_CreateArray());
		}
	}
	int first = 0;
	for (int i = 0; i < copy.n_plugins; i++) {
		struct cni_err e = { 0 };
		int r = dlg_plugin_run(&copy, i, CNI_CMD_GC, rt, NULL, NULL, &e);
		if (r < 0 && !first) {
			first = r;
			if (err)
				*err = e;
		}
	}
	return first;
}
