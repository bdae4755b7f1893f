// SPDX-License-Identifier: Apache-2.0
/* LIST of a collection: paged GETs (limit + continue), every item, the resourceVersion. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/internal.h"
#include "lib/kube/list.h"
#include "lib/util/cleanup.h"

/* RFC 3986 query component: unreserved characters stay, everything else is %XX. */
static void append_escaped(char **s, size_t *len, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	*s = xrealloc(*s, *len + 3 * strlen(v) + 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			(*s)[(*len)++] = (char)*p;
		} else {
			(*s)[(*len)++] = '%';
			(*s)[(*len)++] = hex[*p >> 4];
			(*s)[(*len)++] = hex[*p & 15];
		}
	}
	(*s)[*len] = '\0';
}

static void append(char **s, size_t *len, const char *v)
{
	size_t n = strlen(v);
	*s = xrealloc(*s, *len + n + 1);
	memcpy(*s + *len, v, n + 1);
	*len += n;
}

char *kube_query_escape(const char *v)
{
	char *s = NULL;
	size_t len = 0;
	append_escaped(&s, &len, v);
	return s;
}

char *kube_list_path(const char *path, const struct kube_selectors *sel, const char *extra)
{
	char *s = xstrdup(path);
	size_t len = strlen(s);
	char sep = '?';
	const char *names[] = { "labelSelector=", "fieldSelector=" };
	const char *vals[] = { sel ? sel->label : NULL, sel ? sel->field : NULL };
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		if (!vals[i] || !*vals[i])
			continue;
		append(&s, &len, sep == '?' ? "?" : "&");
		append(&s, &len, names[i]);
		append_escaped(&s, &len, vals[i]);
		sep = '&';
	}
	if (extra && *extra) {
		append(&s, &len, sep == '?' ? "?" : "&");
		append(&s, &len, extra);
	}
	return s;
}

const char *kube_object_rv(const cJSON *obj)
{
	const cJSON *rv = json_get(json_get(obj, "metadata"), "resourceVersion");
	if (!cJSON_IsString(rv))
		return NULL;
	size_t n = strlen(rv->valuestring);
	if (n == 0 || n > KUBE_RV_MAX)
		return NULL;
	for (const char *p = rv->valuestring; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return NULL;
	return rv->valuestring;
}

/* One page: its items moved onto `all`, its resourceVersion and continue token (owned). */
static int list_page(const struct kube_config *cfg, const char *path, const char *what, cJSON *all,
		     size_t max_items, char **ret_rv, char **ret_cont, struct cni_err *err)
{
	_cleanup_json_ cJSON *list = NULL;
	int r = kube_get_object(cfg, path, what, NULL, &list, err);
	if (r < 0)
		return r;
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	const char *rv = kube_object_rv(list);
	/* The API server sends "items": null for an empty List of some kinds. */
	if (!(cJSON_IsArray(items) || cJSON_IsNull(items)) || !rv)
		return cni_err_set(err, CNI_ERR_DECODE, 0,
				   "%s: response is not a List with items and a resourceVersion",
				   what);
	cJSON *item;
	while (cJSON_IsArray(items) && (item = cJSON_DetachItemFromArray(items, 0))) {
		if (!cJSON_IsObject(item)) {
			cJSON_Delete(item);
			return cni_err_set(err, CNI_ERR_DECODE, 0, "%s: an item is not an object",
					   what);
		}
		cJSON_AddItemToArray(all, item);
		if ((size_t)cJSON_GetArraySize(all) > max_items)
			return cni_err_set(err, CNI_ERR_KUBE_API, EFBIG, "%s: more than %zu items",
					   what, max_items);
	}
	const cJSON *cont = json_get(json_get(list, "metadata"), "continue");
	*ret_cont = cJSON_IsString(cont) && *cont->valuestring ? xstrdup(cont->valuestring) : NULL;
	*ret_rv = xstrdup(rv);
	return 0;
}

int kube_list(const struct kube_config *cfg, const char *path, const struct kube_selectors *sel,
	      size_t max_items, cJSON **ret_items, char **ret_rv, struct cni_err *err)
{
	if (!path || path[0] != '/' || strpbrk(path, "?# \t\r\n"))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "list: invalid collection path '%s'", path ? path : "");
	if (!max_items)
		max_items = KUBE_LIST_MAX_ITEMS_DEFAULT;
	_cleanup_free_ char *what = xasprintf("list %s", path);
	int r = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		_cleanup_json_ cJSON *all = cJSON_CreateArray();
		_cleanup_free_ char *rv = NULL, *cont = NULL;
		if (!all)
			return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
		do {
			_cleanup_free_ char *extra = NULL, *page_rv = NULL, *next = NULL;
			if (cont) {
				_cleanup_free_ char *esc = kube_query_escape(cont);
				extra = xasprintf("limit=%d&continue=%s", KUBE_LIST_PAGE, esc);
			} else {
				extra = xasprintf("limit=%d", KUBE_LIST_PAGE);
			}
			_cleanup_free_ char *p = kube_list_path(path, sel, extra);
			r = list_page(cfg, p, what, all, max_items, &page_rv, &next, err);
			if (r < 0)
				break;
			/* The first page's resourceVersion is the LIST's (later pages continue
			 * that snapshot). */
			if (!rv)
				rv = TAKE_PTR(page_rv);
			free(cont);
			cont = TAKE_PTR(next);
		} while (cont);
		if (r == -ESTALE && cont)
			continue; /* the continue token expired: LIST again from the start */
		if (r < 0)
			return r;
		*ret_items = TAKE_PTR(all);
		*ret_rv = TAKE_PTR(rv);
		return 0;
	}
	return r;
}
