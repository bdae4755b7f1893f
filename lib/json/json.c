// SPDX-License-Identifier: Apache-2.0
/* Typed cJSON getters that name the offending field, and strict parsing. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"

const cJSON *json_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj) || !key)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Absent and null are the same thing for optional fields. */
static const cJSON *get_present(const cJSON *obj, const char *key)
{
	const cJSON *v = json_get(obj, key);
	return cJSON_IsNull(v) ? NULL : v;
}

int json_get_string(const cJSON *obj, const char *key, const char *path, const char **ret,
		    bool *ret_present, struct cni_err *err)
{
	const cJSON *v = get_present(obj, key);
	if (v && !cJSON_IsString(v))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be a string", path);
	if (v)
		*ret = v->valuestring;
	if (ret_present)
		*ret_present = v != NULL;
	return 0;
}

int json_get_bool(const cJSON *obj, const char *key, const char *path, bool *ret, bool *ret_present,
		  struct cni_err *err)
{
	const cJSON *v = get_present(obj, key);
	if (v && !cJSON_IsBool(v))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be a boolean", path);
	if (v)
		*ret = cJSON_IsTrue(v);
	if (ret_present)
		*ret_present = v != NULL;
	return 0;
}

int json_get_int(const cJSON *obj, const char *key, const char *path, int64_t min, int64_t max,
		 int64_t *ret, bool *ret_present, struct cni_err *err)
{
	const cJSON *v = get_present(obj, key);
	if (v) {
		double d = v->valuedouble;
		if (!cJSON_IsNumber(v) || !isfinite(d))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be an integer",
					   path);
		/* Range-check the double before casting: an out-of-range cast is UB. */
		if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ERANGE,
					   "%s: must be between %lld and %lld", path,
					   (long long)min, (long long)max);
		int64_t n = (int64_t)d;
		if ((double)n != d)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be an integer",
					   path);
		if (n < min || n > max)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ERANGE,
					   "%s: must be between %lld and %lld", path,
					   (long long)min, (long long)max);
		*ret = n;
	}
	if (ret_present)
		*ret_present = v != NULL;
	return 0;
}

int json_get_object(const cJSON *obj, const char *key, const char *path, const cJSON **ret,
		    struct cni_err *err)
{
	const cJSON *v = get_present(obj, key);
	if (v && !cJSON_IsObject(v))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be an object", path);
	if (v)
		*ret = v;
	return 0;
}

int json_get_array(const cJSON *obj, const char *key, const char *path, const cJSON **ret,
		   struct cni_err *err)
{
	const cJSON *v = get_present(obj, key);
	if (v && !cJSON_IsArray(v))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: must be an array", path);
	if (v)
		*ret = v;
	return 0;
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int json_parse(const char *text, size_t len, const char *what, cJSON **ret, struct cni_err *err)
{
	if (!text)
		len = 0;
	size_t start = 0;
	while (start < len && is_json_space(text[start]))
		start++;
	if (start == len)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: empty input", what);
	/* RFC 8259 allows no raw control characters, in strings or between tokens; cJSON skips
	 * any byte <= 32 as whitespace and would truncate strings at a NUL. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 && !is_json_space(text[i]))
			return cni_err_set(err, CNI_ERR_DECODE, 0,
					   "%s: invalid JSON: control character at offset %zu",
					   what, i);
	/* A private NUL-terminated copy: the input may lack the NUL, and cJSON must not read
	 * past it whatever the length handling of this cJSON version. */
	_cleanup_free_ char *buf = xmalloc(len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(buf, len + 1, &end, false);
	if (!json) {
		/* cJSON sets end to the error too; its global error pointer is shared by threads.
		 */
		const char *at = end ? end : cJSON_GetErrorPtr();
		size_t off = at && at >= buf && at <= buf + len ? (size_t)(at - buf) : 0;
		return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: invalid JSON at offset %zu", what,
				   off);
	}
	size_t pos = end ? (size_t)(end - buf) : len;
	while (pos < len && is_json_space(buf[pos]))
		pos++;
	if (pos < len) {
		cJSON_Delete(json);
		return cni_err_set(err, CNI_ERR_DECODE, 0,
				   "%s: invalid JSON: trailing data at offset %zu", what, pos);
	}
	*ret = json;
	return 0;
}

char *json_print(const cJSON *json)
{
	char *s = cJSON_PrintUnformatted(json);
	if (!s)
		abort(); /* cJSON fails only on OOM here */
	return s;
}
