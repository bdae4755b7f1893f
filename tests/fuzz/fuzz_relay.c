// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the API relay's answer parser and request filters (lib/kube/relay.h).
 * First byte 0 mod 4: the rest is a daemon answer for kube_relay_parse_answer (no NUL after it).
 * First byte 2 mod 4: the rest is a PATCH body for kube_relay_check_body and
 * kube_relay_check_claim.
 * First byte odd: the rest is "method\0path\0content-type" for kube_relay_allowed, whereabouts
 * object paths included (bit 1 of
 * the first byte drops the content type, bit 2 the method). Invariants abort. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/cni/err.h"
#include "lib/kube/http.h"
#include "lib/kube/relay.h"
#include "lib/util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches any read past the answer. */
	char *buf = xmalloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct kube_response resp = { .retry_after = -1 };
	struct cni_err err = { 0 };
	int r = kube_relay_parse_answer("/run/plexus/api.sock", buf, size, &resp, &err);
	if (r == 0) {
		size_t ack = strlen(KUBE_RELAY_ACK);
		size_t skip = size >= ack && !memcmp(buf, KUBE_RELAY_ACK, ack) ? ack : 0;
		const char *nl = memchr(buf + skip, '\n', size - skip);
		check(nl && (size_t)(nl - buf - skip) < KUBE_RELAY_HEADER_MAX);
		size_t off = (size_t)(nl - buf) + 1;
		check(err.code == 0);
		check(resp.status >= 100 && resp.status <= 599);
		check(resp.body && resp.len == size - off && resp.body[resp.len] == '\0');
		check(memcmp(resp.body, buf + off, resp.len) == 0);
	} else {
		check(r < 0 && r == -err.sys);
		check(err.code >= 1 && err.code <= 999);
		check(err.sys >= 1 && err.sys <= 4095);
		check(!resp.body);
	}
	kube_response_done(&resp);
	free(buf);
}

static void fuzz_allowed(uint8_t mode, const uint8_t *data, size_t size)
{
	/* NUL-terminated copy with a spare NUL, split at the first two NULs. */
	char *buf = xmalloc(size + 2);
	if (size)
		memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	const char *method = buf, *path = NULL, *ctype = NULL;
	char *end = buf + size, *nul = memchr(buf, '\0', size + 1);
	if (nul < end) {
		path = nul + 1;
		char *nul2 = memchr(nul + 1, '\0', (size_t)(end - nul));
		if (nul2 < end)
			ctype = nul2 + 1;
	}
	if (mode & 2)
		ctype = NULL;
	if (mode & 4)
		method = NULL;
	bool wb = path && !strncmp(path, "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/", 50);
	if (path && !strncmp(path, "/apis/resource.k8s.io/v1/", 25) &&
	    kube_relay_allowed(method, path, ctype)) {
		/* A claim by name (GET, or PATCH of its status) or this node's slices (GET). */
		static const char sel[] = "/apis/resource.k8s.io/v1/resourceslices?fieldSelector="
					  "spec.nodeName=";
		bool slices = !strncmp(path, sel, sizeof(sel) - 1);
		check(!strpbrk(path, "#%&") && !strstr(path, "//") && !strstr(path, "/../"));
		check(slices ? !strcmp(method, "GET") && !ctype &&
				       !strchr(path + sizeof(sel) - 1, '=')
			     : !strchr(path, '?') && !strncmp(path + 25, "namespaces/", 11) &&
				       strstr(path, "/resourceclaims/"));
		check(strcmp(method, "PATCH") || kube_relay_is_claim_status(method, path));
	} else if (wb && kube_relay_allowed(method, path, ctype)) {
		/* whereabouts objects: GET/DELETE without a body type, POST/PUT of JSON. */
		bool body = !strcmp(method, "POST") || !strcmp(method, "PUT");
		check(body || !strcmp(method, "GET") || !strcmp(method, "DELETE"));
		check(body ? ctype && !strcmp(ctype, "application/json") : !ctype);
		check(strlen(path) < 512 && !strpbrk(path, "?#%") && !strstr(path, "//") &&
		      path[strlen(path) - 1] != '/');
		check(strstr(path, "/ippools") || strstr(path, "/overlappingrangeipreservations"));
	} else if (kube_relay_allowed(method, path, ctype)) {
		bool get = !strcmp(method, "GET"), patch = !strcmp(method, "PATCH");
		check(get || patch);
		check(get ? !ctype : ctype && !strcmp(ctype, "application/merge-patch+json"));
		check(strlen(path) < 512 && !strpbrk(path, "?#%") && !strstr(path, "//") &&
		      !strstr(path, "/./") && !strstr(path, "/../") &&
		      path[strlen(path) - 1] != '/');
		bool core = !strncmp(path, "/api/v1/namespaces/", 19);
		check(core || !strncmp(path, "/apis/k8s.cni.cncf.io/v1/namespaces/", 36));
		size_t slashes = 0;
		for (const char *p = path; *p; p++)
			slashes += *p == '/';
		check(slashes == (core && get ? 6 : 7));
		for (const char *p = path; *p; p++)
			check((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			      *p == '.' || *p == '/');
		const char *last = strrchr(path, '/') + 1;
		check(!patch || (core && !strcmp(last, "status")));
	}
	free(buf);
}

static void fuzz_body(const uint8_t *data, size_t size)
{
	char *body = xmalloc(size + 1);
	if (size)
		memcpy(body, data, size);
	body[size] = '\0';
	struct cni_err err = { 0 };
	if (kube_relay_check_claim(body, &err) == 0) {
		cJSON *c = cJSON_Parse(body);
		check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(c, "status"), "devices")));
		cJSON_Delete(c);
	}
	int r = kube_relay_check_body("PATCH", "/api/v1/namespaces/default/pods/web-0/status", body,
				      &err);
	if (r == 0) {
		/* Exactly {"metadata":{"annotations":{"<network-status>":"<string>"}}}. */
		check(strlen(body) <= KUBE_RELAY_PATCH_MAX);
		cJSON *j = cJSON_Parse(body);
		check(cJSON_IsObject(j) && cJSON_GetArraySize(j) == 1);
		const cJSON *m = j->child;
		check(!strcmp(m->string, "metadata") && cJSON_IsObject(m) &&
		      cJSON_GetArraySize(m) == 1);
		const cJSON *a = m->child;
		check(!strcmp(a->string, "annotations") && cJSON_IsObject(a) &&
		      cJSON_GetArraySize(a) == 1);
		check(!strcmp(a->child->string, "k8s.v1.cni.cncf.io/network-status") &&
		      cJSON_IsString(a->child));
		cJSON_Delete(j);
	} else {
		check(r == -EPERM && err.code == 101);
	}
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 4 == 0)
		fuzz_answer(data + 1, size - 1);
	else if (data[0] % 4 == 2)
		fuzz_body(data + 1, size - 1);
	else
		fuzz_allowed(data[0], data + 1, size - 1);
	return 0;
}
