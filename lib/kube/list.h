/* SPDX-License-Identifier: Apache-2.0 */
/* LIST of a Kubernetes collection: every item (paged) and the List's resourceVersion. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

struct cni_err;
struct kube_config;

#define KUBE_LIST_PAGE 500
#define KUBE_LIST_MAX_ITEMS_DEFAULT 100000
#define KUBE_RV_MAX 64 /* longest resourceVersion accepted from the server */

/* Label and field selectors in the API's syntax ("app=web,tier!=db", "spec.nodeName=n1");
 * NULL or "" means none. They are percent-encoded into the query here. */
struct kube_selectors {
	const char *label;
	const char *field;
};

/* v percent-encoded for a URL query (RFC 3986: all but unreserved characters). Caller frees. */
char *kube_query_escape(const char *v);

/* path?labelSelector=...&fieldSelector=...&extra: the selectors percent-encoded, extra (NULL:
 * none) appended as given. Caller frees. */
char *kube_list_path(const char *path, const struct kube_selectors *sel, const char *extra);

/* LIST the collection at path ("/api/v1/pods", "/apis/G/V/namespaces/NS/R"; no query), in
 * pages of KUBE_LIST_PAGE following continue tokens. On success *ret_items is a cJSON array of
 * every item and *ret_rv the List's metadata.resourceVersion (both owned by the caller). More
 * than max_items items (0: KUBE_LIST_MAX_ITEMS_DEFAULT) is -EFBIG; each page is bounded by
 * cfg->max_response. A continue token that expired (410) restarts the LIST, up to twice.
 * Errors as kube_request's; a response that is not a List is code 6. */
int kube_list(const struct kube_config *cfg, const char *path, const struct kube_selectors *sel,
	      size_t max_items, cJSON **ret_items, char **ret_rv, struct cni_err *err);

/* metadata.resourceVersion of obj if it is a usable one (1..KUBE_RV_MAX visible ASCII
 * characters), else NULL. Borrowed from obj. */
const char *kube_object_rv(const cJSON *obj);
