// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's intent log: what ADD planned and attempted, recorded before each side effect
 * so DEL, GC and CHECK can undo or verify it without the API; validated entry by entry when read
 * back (docs/meta.md, "The intent log"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/args.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "meta/internal.h"
#include "meta/networks.h"

/* Bumped when a reader of an older plexus could misread the log. */
#define INTENT_VERSION 1
#define NAME_MAX_LEN 512

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
		/* What the chain left in the file goes into network-status (device-info spec). */
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

int meta_intent_write(const struct plan *p, bool durable, struct cni_err *err)
{
	int r = file_mkdir_p(p->conf.cni_dir, 0700);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "cniDir '%s': %s", p->conf.cni_dir,
				   strerror(-r));
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "version", INTENT_VERSION);
	cJSON_AddStringToObject(j, "containerID", p->ctx->container_id);
	cJSON_AddStringToObject(j, "netns", p->ctx->netns_path ? p->ctx->netns_path : "");
	cJSON_AddStringToObject(j, "cniArgs", p->ctx->args_raw ? p->ctx->args_raw : "");
	cJSON_AddStringToObject(j, "cniVersion", cni_version_str(p->ctx->version));
	/* What the attachments were planned from: the hot-plug agent acts when the pod's differs
	 * (docs/hotplug.md). */
	const char *nets = cJSON_GetStringValue(json_get(p->annotations, META_NETWORKS_ANNOTATION));
	if (nets)
		cJSON_AddStringToObject(j, "networks", nets);
	cJSON *list = cJSON_AddArrayToObject(j, "attachments");
	for (size_t i = 0; i < p->n_att; i++) {
		cJSON *a = meta_att_json(&p->att[i]);
		cJSON_AddBoolToObject(a, "attempted", p->att[i].attempted);
		cJSON_AddItemToArray(list, a);
	}
	_cleanup_free_ char *text = json_print(j);
	_cleanup_free_ char *path = meta_intent_path(p);
	/* A log DEL would refuse to read must not be written. */
	if (strlen(text) > CACHE_MAX)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, EFBIG,
			"intent log '%s': the pod's attachments need %zu bytes, more than "
			"%u",
			path, strlen(text), CACHE_MAX);
	/* Only the write that creates the log is worth its two fsyncs (~7 ms here, docs/meta.md):
	 * later ones replace an existing log, which ext4 (data=ordered, auto_da_alloc) orders
	 * before the lease files written after it, and a log a power loss still damages is
	 * quarantined by DEL, never trusted. */
	r = durable ? file_write_durable(path, text, strlen(text), 0600)
		    : file_write_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "intent log '%s': %s", path, strerror(-r));
	return 0;
}

static bool string_ok(const cJSON *v, size_t max)
{
	return cJSON_IsString(v) && *v->valuestring && strlen(v->valuestring) <= max;
}

/* One entry of the log -> an attachment of p, or an error naming what is wrong (nothing added). */
static int read_attachment(struct plan *p, const cJSON *a, struct cni_err *err)
{
	if (!cJSON_IsObject(a))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "not an object");
	const cJSON *name = json_get(a, "name"), *ifname = json_get(a, "ifname");
	const cJSON *def = json_get(a, "default"), *att = json_get(a, "attempted");
	const cJSON *conf = json_get(a, "conf"), *caps = json_get(a, "capArgs");
	const cJSON *dif = json_get(a, "deviceInfoFile"), *res = json_get(a, "result");
	if (!string_ok(name, NAME_MAX_LEN))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "name: missing or invalid");
	if (!cJSON_IsString(ifname) || cni_validate_ifname(ifname->valuestring, 0, NULL) < 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "ifname: missing or invalid");
	for (size_t i = 0; i < p->n_att; i++)
		if (strcmp(p->att[i].ifname, ifname->valuestring) == 0)
			return cni_err_set(err, CNI_ERR_DECODE, EEXIST, "ifname: '%s' twice",
					   ifname->valuestring);
	if (!cJSON_IsBool(def) || (att && !cJSON_IsBool(att)))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "default/attempted: missing or not booleans");
	if (!cJSON_IsObject(conf))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "conf: missing or not an object");
	if (caps && !cJSON_IsObject(caps))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "capArgs: not an object");
	/* The only path DEL unlinks: it must be the one this attachment would have been given. */
	_cleanup_free_ char *want =
		meta_device_info_path(p, name->valuestring, ifname->valuestring);
	if (dif && (!cJSON_IsString(dif) || strcmp(dif->valuestring, want) != 0))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "deviceInfoFile: not this attachment's ('%s')", want);
	_cleanup_(cni_result_freep) struct cni_result *result = NULL;
	if (res && !cJSON_IsNull(res) && cni_result_decode(res, CNI_V110, &result, NULL) < 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "result: not a CNI result");
	struct dlg_list list = { 0 };
	_cleanup_free_ char *text = json_print(conf);
	int r = dlg_list_parse(text, strlen(text), NULL, NULL, &list, err);
	if (r < 0)
		return cni_err_wrap(err, "conf");
	struct attachment *at =
		meta_att_add(p, name->valuestring, ifname->valuestring, cJSON_IsTrue(def));
	at->list = list;
	/* Logs of plexus before "attempted" existed listed attempted attachments only. */
	at->attempted = !att || cJSON_IsTrue(att);
	at->device_info_file = dif ? xstrdup(dif->valuestring) : NULL;
	at->cap_args = caps ? cJSON_Duplicate(caps, true) : NULL;
	at->result = TAKE_PTR(result);
	return 0;
}

int meta_intent_parse(struct plan *p, const char *text, size_t len, struct cni_err *err)
{
	_cleanup_json_ cJSON *j = NULL;
	int r = json_parse(text, len, "intent log", &j, err);
	if (r < 0)
		return r;
	const cJSON *id = json_get(j, "containerID"), *atts = json_get(j, "attachments");
	const cJSON *ver = json_get(j, "version");
	if (!cJSON_IsObject(j))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "intent log: not an object");
	if (ver && (!cJSON_IsNumber(ver) || ver->valuedouble != INTENT_VERSION))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "intent log: version: not %d (written by another plexus)",
				   INTENT_VERSION);
	if (!cJSON_IsString(id) || strcmp(id->valuestring, p->ctx->container_id) != 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "intent log: containerID: not '%s'",
				   p->ctx->container_id);
	if (!cJSON_IsArray(atts))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "intent log: attachments: missing or not an array");
	int bad = 0, i = 0;
	const cJSON *a;
	cJSON_ArrayForEach (a, atts) {
		struct cni_err e = { 0 };
		if (read_attachment(p, a, &e) < 0) {
			log_warning("intent log: attachments[%d]: %s, skipping it", i, e.msg);
			if (!bad++)
				(void)cni_err_set(err, CNI_ERR_DECODE, EINVAL,
						  "intent log: attachments[%d]: %s", i, e.msg);
		}
		i++;
	}
	return bad;
}

enum meta_intent meta_intent_load(struct plan *p, struct cni_err *err)
{
	_cleanup_free_ char *path = meta_intent_path(p), *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, CACHE_MAX, &text, &len);
	if (r == -ENOENT)
		return META_INTENT_NONE;
	if (r < 0) {
		(void)cni_err_set(err, CNI_ERR_IO, -r, "intent log '%s': %s", path, strerror(-r));
		return META_INTENT_DAMAGED;
	}
	r = meta_intent_parse(p, text, len, err);
	return r == 0 ? META_INTENT_OK : META_INTENT_DAMAGED;
}

void meta_intent_quarantine(const struct plan *p, const char *why)
{
	_cleanup_free_ char *path = meta_intent_path(p);
	_cleanup_free_ char *to = xasprintf("%s%s", path, META_INTENT_CORRUPT);
	if (rename(path, to) < 0 && errno != ENOENT) {
		log_warning("intent log '%s' is damaged (%s) and cannot be moved aside: %s; "
			    "removing it",
			    path, why, strerror(errno));
		(void)unlink(path);
		return;
	}
	log_warning("intent log '%s' is damaged (%s): kept as '%s' for inspection", path, why, to);
}

void meta_intent_remove(const struct plan *p)
{
	_cleanup_free_ char *path = meta_intent_path(p);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("remove intent log '%s': %s, ignoring", path, strerror(errno));
	/* An ADD killed inside a write leaves its temp file; nobody else writes this
	 * container's log now (the runtime serialises a container's verbs). */
	(void)file_unlink_temps(path, false);
}
