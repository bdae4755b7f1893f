/* SPDX-License-Identifier: Apache-2.0 */
/* Delegate dispatch: run a network configuration list, each plugin in-process when its type is
 * a built-in, else exec'd from CNI_PATH, with libcni's conflist semantics (CNI SPEC.md, section 3,
 * 'Execution of Network Configurations'). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "lib/cni/cni.h"

/* Runtime parameters of one attachment. Strings are borrowed. */
struct dlg_rt {
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args;      /* CNI_ARGS, or NULL */
	const char *path;      /* CNI_PATH */
	const cJSON *cap_args; /* capability arguments ({"mac": ..., "ips": [...]}), or NULL */
	bool exec_builtins;    /* exec plexus-<kind> binaries instead of running in-process */
	int timeout_ms;	       /* per exec'd plugin; 0 = none */
};

/* A parsed network configuration list. A single plugin config is wrapped into a one-element
 * list, as libcni's ConfListFromConf does. */
struct dlg_list {
	cJSON *json;	  /* owned */
	const char *name; /* borrowed from json */
	enum cni_version version;
	const cJSON *plugins; /* the "plugins" array (or the wrapped single config) */
	int n_plugins;
	bool disable_check;
	bool disable_gc;
};

/* The built-in plugin for a netconf type ("macvlan" or "plexus-macvlan"...), or NULL. */
const struct cni_plugin *dlg_builtin(const char *type);

/* Parse a config or conflist. Missing or empty "name" gets default_name, missing "cniVersion"
 * gets default_version (NPWG spec v1.3 §3.4.2 for the name; it is silent on the version); both
 * may be NULL (then they are required: code 7).
 * Every plugin needs a string "type" (code 7 naming plugins[i].type). */
int dlg_list_parse(const char *text, size_t len, const char *default_name,
		   const char *default_version, struct dlg_list *ret, struct cni_err *err);
void dlg_list_done(struct dlg_list *l);
/* Whether any plugin of l declares the capability cap true. */
bool dlg_list_declares(const struct dlg_list *l, const char *cap);

/* The request config of plugin i (CNI SPEC.md, section 'Deriving execution configuration from
 * plugin configuration'): the plugin object plus the list's cniVersion and name, "runtimeConfig"
 * with only the capability args the plugin declares true (omitted when empty), and "prevResult"
 * when prev is given (encoded in the list's version). Owned text. */
int dlg_plugin_conf(const struct dlg_list *l, int i, const struct dlg_rt *rt,
		    const struct cni_result *prev, char **ret, struct cni_err *err);

/* Run plugin i of l for cmd with prev as prevResult; ADD hands back its result. Errors keep
 * the plugin's code, message prefixed "<type> <CMD>: ". */
int dlg_plugin_run(const struct dlg_list *l, int i, enum cni_cmd cmd, const struct dlg_rt *rt,
		   const struct cni_result *prev, struct cni_result **ret, struct cni_err *err);

/* ADD every plugin in order, chaining results (CNI SPEC.md, section 'Adding an attachment');
 * stops at the first error, after which the caller must DEL (the spec's rollback is a DEL of the
 * whole list). */
int dlg_list_add(const struct dlg_list *l, const struct dlg_rt *rt, struct cni_result **ret,
		 struct cni_err *err);
/* DEL in reverse order with the cached result as prevResult (0.4.0+ only; CNI SPEC.md, section
 * 'Deleting an attachment'). Keeps going after a failure and returns the first one, so one broken
 * plugin does not leak the others. */
int dlg_list_del(const struct dlg_list *l, const struct dlg_rt *rt, const struct cni_result *prev,
		 struct cni_err *err);
/* STATUS for every plugin (1.1.0 lists only; older lists have no STATUS: success). */
int dlg_list_status(const struct dlg_list *l, const struct dlg_rt *rt, struct cni_err *err);
/* GC for every plugin with cni.dev/valid-attachments (and, as libcni does, the legacy
 * cni.dev/attachments) set to valid (CNI SPEC.md, section 'Garbage-collecting a network'); keeps
 * going and returns the first failure; skipped with disableGC or below 1.1.0. */
int dlg_list_gc(const struct dlg_list *l, const struct dlg_rt *rt, const cJSON *valid,
		struct cni_err *err);
/* CHECK in order (CNI SPEC.md, section 'Checking an attachment'); skipped (success) with
 * disableCheck; code 1 below 0.4.0. */
int dlg_list_check(const struct dlg_list *l, const struct dlg_rt *rt, const struct cni_result *prev,
		   struct cni_err *err);
