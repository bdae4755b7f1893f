/* SPDX-License-Identifier: Apache-2.0 */
/* Typed cJSON getters whose errors name the field (code 7, or 6 for decode errors). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct cni_err;

/* Each getter: key absent or null -> returns 0 and leaves *ret unchanged, *ret_present false
 * (ret_present may be NULL). Present with the wrong type or out of range -> code 7 with a
 * message naming `path` (e.g. "macvlan.mtu"). Strings are borrowed from the tree. */
int json_get_string(const cJSON *obj, const char *key, const char *path, const char **ret,
		    bool *ret_present, struct cni_err *err);
int json_get_bool(const cJSON *obj, const char *key, const char *path, bool *ret, bool *ret_present,
		  struct cni_err *err);
/* Integral number in [min, max]; 1.5 is an error. */
int json_get_int(const cJSON *obj, const char *key, const char *path, int64_t min, int64_t max,
		 int64_t *ret, bool *ret_present, struct cni_err *err);
int json_get_object(const cJSON *obj, const char *key, const char *path, const cJSON **ret,
		    struct cni_err *err);
int json_get_array(const cJSON *obj, const char *key, const char *path, const cJSON **ret,
		   struct cni_err *err);
/* Parse text (need not be NUL-terminated). Bad JSON -> code 6 naming `what`. */
int json_parse(const char *text, size_t len, const char *what, cJSON **ret, struct cni_err *err);
/* Print compactly; returns an owned string (aborts on OOM). */
char *json_print(const cJSON *json);
/* Case-sensitive object lookup (cJSON_GetObjectItem is case-insensitive). */
const cJSON *json_get(const cJSON *obj, const char *key);

static inline void json_freep(cJSON **p)
{
	if (*p)
		cJSON_Delete(*p);
}
#define _cleanup_json_ __attribute__((cleanup(json_freep)))
