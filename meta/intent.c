// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's intent log: what ADD attempted, written before each side effect, read by DEL and CHECK. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "meta/internal.h"

char *meta_intent_path(const struct plan *p)
{
	return xasprintf("%s/%s.json", p->conf.cni_dir, p->ctx->container_id);
}

cJSON *meta_att_json(const struct attachment *a)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", a->name);
	cJSON_AddStringToObject(j, "ifname", a->ifname);
	cJSON_AddBoolToObject(j, "default", a->is_default);
	cJSON_AddItemToObject(j, "conf", cJSON_Duplicate(a->list.json, true));
	if (a->cap_args)
		cJSON_AddItemToObject(j, "capArgs", cJSON_Duplicate(a->cap_args, true));
	if (a->default_route)
		cJSON_AddItemToObject(j, "defaultRoute", cJSON_Duplicate(a->default_route, true));
	if (a->device_info_file) {
		cJSON_AddStringToObject(j, "deviceInfoFile", a->device_info_file);
		/* NAD-35: what the chain left in the file goes into network-status. */
		_cleanup_free_ char *text = NULL;
		cJSON *info = NULL;
		if (file_read_all(a->device_info_file, CACHE_MAX, &text, NULL) == 0 &&
		    (info = cJSON_Parse(text)) && cJSON_IsObject(info))
			cJSON_AddItemToObject(j, "deviceInfo", info);
		else
			cJSON_Delete(info);
	}
	cJSON *res = NULL;
	if (a->result && cni_result_encode(a->result, CNI_V110, &res, NULL) == 0)
		cJSON_AddItemToObject(j, "result", res);
	return j;
}

/* The intent log (DESIGN §2.4): written before the first delegate runs and after each one, so
 * DEL can undo exactly what was attempted without the API. */
int meta_intent_write(const struct plan *p, size_t attempted, struct cni_err *err)
{
	int r = file_mkdir_p(p->conf.cni_dir, 0700);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "cniDir '%s': %s", p->conf.cni_dir,
				   strerror(-r));
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "containerID", p->ctx->container_id);
	cJSON_AddStringToObject(j, "netns", p->ctx->netns_path ? p->ctx->netns_path : "");
	cJSON_AddStringToObject(j, "cniArgs", p->ctx->args_raw ? p->ctx->args_raw : "");
	cJSON_AddStringToObject(j, "cniVersion", cni_version_str(p->ctx->version));
	cJSON *list = cJSON_AddArrayToObject(j, "attachments");
	for (size_t i = 0; i < p->n_att; i++) {
		cJSON *a = meta_att_json(&p->att[i]);
		cJSON_AddBoolToObject(a, "attempted", i < attempted);
		cJSON_AddItemToArray(list, a);
	}
	_cleanup_free_ char *text = json_print(j);
	_cleanup_free_ char *path = meta_intent_path(p);
	r = file_write_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "intent log '%s': %s", path, strerror(-r));
	return 0;
}

/* Rebuild the plan from an intent log. */
int meta_intent_read(struct plan *p, const char *text, struct cni_err *err)
{
	_cleanup_json_ cJSON *j = NULL;
	int r = json_parse(text, strlen(text), "intent log", &j, err);
	if (r < 0)
		return r;
	const cJSON *a;
	cJSON_ArrayForEach (a, json_get(j, "attachments")) {
		if (json_get(a, "attempted") && !cJSON_IsTrue(json_get(a, "attempted")))
			continue;
		struct attachment *att = meta_att_add(p, cJSON_GetStringValue(json_get(a, "name")) ?: "",
						 cJSON_GetStringValue(json_get(a, "ifname")) ?: "",
						 cJSON_IsTrue(json_get(a, "default")));
		_cleanup_free_ char *conf = json_print(json_get(a, "conf"));
		r = dlg_list_parse(conf, strlen(conf), NULL, NULL, &att->list, err);
		if (r < 0)
			return cni_err_wrap(err, "intent log: network '%s'", att->name);
		const char *dif = cJSON_GetStringValue(json_get(a, "deviceInfoFile"));
		if (dif)
			att->device_info_file = xstrdup(dif);
		const cJSON *caps = json_get(a, "capArgs"), *res = json_get(a, "result");
		if (caps)
			att->cap_args = cJSON_Duplicate(caps, true);
		if (res && cni_result_decode(res, CNI_V110, &att->result, NULL) < 0)
			att->result = NULL;
	}
	return 0;
}

