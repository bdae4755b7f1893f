// SPDX-License-Identifier: Apache-2.0
/* The API relay's client transport and its request filter (relay.h). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/internal.h"
#include "lib/kube/pod.h"
#include "lib/kube/relay.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "lib/util/sock.h"

/* Split "a/b/c" at '/' into at most max components (copied into buf); returns the count or
 * -1 when there are more, or an empty component. */
static int split(const char *path, char *buf, size_t size, char **parts, int max)
{
	if (strlen(path) >= size)
		return -1;
	strcpy(buf, path);
	int n = 0;
	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		parts[n++] = t;
	}
	/* strtok_r folds "//": refuse anything it would have folded. */
	return strstr(path, "//") || path[strlen(path) - 1] == '/' ? -1 : n;
}

/* The namespace whereabouts objects live in (PLEXUS_WHEREABOUTS_NAMESPACE, else kube-system). */
static const char *wb_namespace(void)
{
	const char *ns = secure_getenv("PLEXUS_WHEREABOUTS_NAMESPACE");
	return ns && *ns ? ns : "kube-system";
}

/* A whereabouts object request: 1 IPPool, 2 OverlappingRangeIPReservation, else 0. With name,
 * the object's name (NULL for a collection). */
static int wb_kind(const char *method, const char *path, const char *content_type,
		   const char **ret_ns, const char **ret_name, char *buf, size_t size)
{
	char *p[8];
	int n = split(path, buf, size, p, 8);
	if ((n != 6 && n != 7) || strcmp(p[0], "apis") || strcmp(p[1], "whereabouts.cni.cncf.io") ||
	    strcmp(p[2], "v1alpha1") || strcmp(p[3], "namespaces") || strcmp(p[4], wb_namespace()))
		return 0;
	int kind = !strcmp(p[5], "ippools")			     ? 1
		   : !strcmp(p[5], "overlappingrangeipreservations") ? 2
								     : 0;
	if (!kind || (n == 7 && !kube_dns1123_subdomain(p[6])))
		return 0;
	bool json = content_type && !strcmp(content_type, "application/json");
	bool ok;
	if (n == 6) /* the collection: create */
		ok = !strcmp(method, "POST") && json;
	else if (!strcmp(method, "GET") || !strcmp(method, "DELETE"))
		ok = !content_type && (kind == 2 || !strcmp(method, "GET"));
	else
		ok = !strcmp(method, "PUT") && json;
	*ret_ns = p[4];
	*ret_name = n == 7 ? p[6] : NULL;
	return ok ? kind : 0;
}

/* ---- Dynamic Resource Allocation (docs/dra.md, "The meta-plugin and claims") ---------- */
#define NODE_SELECTOR "fieldSelector=spec.nodeName="

/* GET this node's ResourceSlices (that one query: a DNS-1123 name has no '&', '%' or '#'),
 * GET a ResourceClaim, PATCH its status with a merge patch (kube_relay_check_claim). p[0..n)
 * are the components of the path up to any '?', query what follows it (or NULL). */
static bool dra_allowed(bool get, bool patch, char **p, int n, const char *query,
			const char *content_type)
{
	if (n < 4 || strcmp(p[0], "apis") || strcmp(p[1], "resource.k8s.io") || strcmp(p[2], "v1"))
		return false;
	if (n == 4 && !strcmp(p[3], "resourceslices"))
		return get && !content_type && query &&
		       !strncmp(query, NODE_SELECTOR, strlen(NODE_SELECTOR)) &&
		       kube_dns1123_subdomain(query + strlen(NODE_SELECTOR));
	if (query || n < 7 || strcmp(p[3], "namespaces") || !kube_dns1123_label(p[4]) ||
	    strcmp(p[5], "resourceclaims") || !kube_dns1123_subdomain(p[6]))
		return false;
	if (n == 7)
		return get && !content_type;
	return n == 8 && !strcmp(p[7], "status") && patch && content_type &&
	       !strcmp(content_type, "application/merge-patch+json");
}

/* dra_allowed for a whole path: split at the first '?' (none after it, no '#' or '%'). */
static bool dra_path_allowed(bool get, bool patch, const char *path, const char *content_type)
{
	char buf[512], *p[8];
	const char *q = strchr(path, '?');
	size_t len = q ? (size_t)(q - path) : strlen(path);
	if (len == 0 || len >= sizeof(buf) || strpbrk(path, "#%") || (q && strchr(q + 1, '?')))
		return false;
	char head[512];
	memcpy(head, path, len);
	head[len] = '\0';
	int n = split(head, buf, sizeof(buf), p, 8);
	return n > 0 && dra_allowed(get, patch, p, n, q ? q + 1 : NULL, content_type);
}

bool kube_relay_is_claim_status(const char *method, const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return method && !strcmp(method, "PATCH") && path && path[0] == '/' && n > 7 &&
	       !strcmp(path + n - 7, "/status") &&
	       dra_path_allowed(false, true, path, "application/merge-patch+json");
}

/* The members of an AllocatedDeviceStatus entry (resource.k8s.io/v1). */
static bool device_status_ok(const cJSON *d)
{
	static const char *const keys[] = { "driver",	  "pool", "device",	"shareID",
					    "conditions", "data", "networkData" };
	if (!cJSON_IsObject(d))
		return false;
	for (const cJSON *m = d->child; m; m = m->next) {
		bool known = false;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			known |= m->string && !strcmp(m->string, keys[i]);
		if (!known)
			return false;
	}
	static const char *const ids[] = { "driver", "pool", "device" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, ids[i]);
		if (!cJSON_IsString(v) || !*v->valuestring)
			return false;
	}
	return true;
}

int kube_relay_check_claim(const char *body, struct cni_err *err)
{
	if (!body || strlen(body) > KUBE_RELAY_PATCH_MAX)
		return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				   "the API relay forwards PATCH bodies of 1 to %u bytes",
				   KUBE_RELAY_PATCH_MAX);
	_cleanup_json_ cJSON *j = cJSON_Parse(body);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(st, "devices");
	bool ok = cJSON_IsObject(j) && cJSON_GetArraySize(j) == 2 && cJSON_IsObject(md) &&
		  cJSON_GetArraySize(md) == 1 && cJSON_IsString(rv) && cJSON_IsObject(st) &&
		  cJSON_GetArraySize(st) == 1 && cJSON_IsArray(devs);
	for (const cJSON *d = ok ? devs->child : NULL; d; d = d->next)
		ok &= device_status_ok(d);
	if (!ok)
		return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				   "the API relay forwards only the merge patch "
				   "{\"metadata\":{\"resourceVersion\":\"<string>\"},\"status\":"
				   "{\"devices\":[{\"driver\",\"pool\",\"device\",...}]}} to a "
				   "resource claim's status");
	return 0;
}

bool kube_relay_allowed(const char *method, const char *path, const char *content_type)
{
	char buf[512], *p[8];
	if (!method || !path || path[0] != '/')
		return false;
	bool get = strcmp(method, "GET") == 0, patch = strcmp(method, "PATCH") == 0;
	if (dra_path_allowed(get, patch, path, content_type))
		return true;
	if (strpbrk(path, "?#%"))
		return false;
	int n = split(path, buf, sizeof(buf), p, 8);
	if (kube_relay_is_event(method, path))
		return content_type && !strcmp(content_type, "application/json");
	const char *ns, *name;
	char wbuf[512];
	if (n > 0 && !strcmp(p[0], "apis") &&
	    wb_kind(method, path, content_type, &ns, &name, wbuf, sizeof(wbuf)))
		return true;
	/* /api/v1/namespaces/NS/pods/NAME[/status] */
	if (n >= 6 && !strcmp(p[0], "api") && !strcmp(p[1], "v1") && !strcmp(p[2], "namespaces") &&
	    kube_dns1123_label(p[3]) && !strcmp(p[4], "pods") && kube_dns1123_subdomain(p[5])) {
		if (n == 6)
			return get && !content_type;
		return n == 7 && !strcmp(p[6], "status") && patch && content_type &&
		       !strcmp(content_type, "application/merge-patch+json");
	}
	/* /apis/k8s.cni.cncf.io/v1/namespaces/NS/network-attachment-definitions/NAME */
	return n == 7 && get && !content_type && !strcmp(p[0], "apis") &&
	       !strcmp(p[1], "k8s.cni.cncf.io") && !strcmp(p[2], "v1") &&
	       !strcmp(p[3], "namespaces") && kube_dns1123_label(p[4]) &&
	       !strcmp(p[5], "network-attachment-definitions") && kube_dns1123_subdomain(p[6]);
}

bool kube_relay_is_event(const char *method, const char *path)
{
	char buf[512], *p[8];
	if (!method || !path || strcmp(method, "POST") != 0 || strpbrk(path, "?#%"))
		return false;
	int n = split(path, buf, sizeof(buf), p, 8);
	return n == 5 && !strcmp(p[0], "api") && !strcmp(p[1], "v1") &&
	       !strcmp(p[2], "namespaces") && kube_dns1123_label(p[3]) && !strcmp(p[4], "events");
}

/* A whereabouts object for POST/PUT: its apiVersion and kind those of the path, its namespace
 * (if set) and name (for PUT) the path's. */
static int check_wb_body(int kind, const char *ns, const char *name, const char *body,
			 struct cni_err *err)
{
	if (strlen(body) > KUBE_RELAY_PATCH_MAX)
		return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				   "the API relay forwards whereabouts objects of at most %u bytes",
				   KUBE_RELAY_PATCH_MAX);
	_cleanup_json_ cJSON *j = cJSON_Parse(body);
	const cJSON *md = json_get(j, "metadata");
	const char *av = cJSON_GetStringValue(json_get(j, "apiVersion"));
	const char *k = cJSON_GetStringValue(json_get(j, "kind"));
	const char *mn = cJSON_GetStringValue(json_get(md, "name"));
	const cJSON *mns = json_get(md, "namespace");
	if (!av || strcmp(av, "whereabouts.cni.cncf.io/v1alpha1") != 0 || !k ||
	    strcmp(k, kind == 1 ? "IPPool" : "OverlappingRangeIPReservation") != 0 || !mn ||
	    (name && strcmp(mn, name) != 0) ||
	    (mns && (!cJSON_IsString(mns) || strcmp(mns->valuestring, ns) != 0)))
		return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				   "the API relay forwards only a whereabouts %s of the path's "
				   "namespace and name",
				   kind == 1 ? "IPPool" : "OverlappingRangeIPReservation");
	return 0;
}

int kube_relay_check_body(const char *method, const char *path, const char *body,
			  struct cni_err *err)
{
	if (kube_relay_is_claim_status(method, path))
		return kube_relay_check_claim(body, err);
	const char *ns, *name;
	char buf[512];
	int kind = method && path && body && (!strcmp(method, "POST") || !strcmp(method, "PUT"))
			   ? wb_kind(method, path, "application/json", &ns, &name, buf, sizeof(buf))
			   : 0;
	if (kind)
		return check_wb_body(kind, ns, name, body, err);
	if (!method || strcmp(method, "PATCH") != 0) {
		if (body)
			return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
					   "the API relay forwards a body only with PATCH, or POST "
					   "and PUT of whereabouts objects");
		return 0;
	}
	if (!body || strlen(body) > KUBE_RELAY_PATCH_MAX)
		return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				   "the API relay forwards PATCH bodies of 1 to %u bytes",
				   KUBE_RELAY_PATCH_MAX);
	/* Exactly one member per level, compared case-sensitively (cJSON lookups are not). */
	_cleanup_json_ cJSON *j = cJSON_Parse(body);
	const cJSON *v = j;
	static const char *const keys[] = { "metadata", "annotations", KUBE_ANN_NETWORK_STATUS };
	for (size_t i = 0; v && i < sizeof(keys) / sizeof(keys[0]); i++)
		v = cJSON_IsObject(v) && cJSON_GetArraySize(v) == 1 && v->child->string &&
				    strcmp(v->child->string, keys[i]) == 0
			    ? v->child
			    : NULL;
	if (!cJSON_IsString(v))
		return cni_err_set(err, CNI_ERR_KUBE_API, EPERM,
				   "the API relay forwards only the merge patch "
				   "{\"metadata\":{\"annotations\":{\"%s\":\"<string>\"}}}",
				   KUBE_ANN_NETWORK_STATUS);
	return 0;
}

/* Wait for fd to be ready for events until deadline (monotonic ms); 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = events };
		int r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int relay_err(struct cni_err *err, int r, const char *sock, const char *what)
{
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, -r, "API relay '%s': %s: %s", sock, what,
			   strerror(-r));
}

int kube_relay_send(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int kube_relay_recv(int fd, size_t max, int64_t line_deadline, int64_t deadline, char **ret,
		    size_t *ret_len)
{
	size_t cap = 8192, len = 0;
	bool line = false;
	_cleanup_free_ char *buf = xmalloc(cap + 1);
	int r = 0;
	for (;;) {
		if (len == cap) {
			if (cap > max)
				return -EFBIG;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				r = -errno;
				break;
			}
			int64_t until = line || line_deadline > deadline ? deadline : line_deadline;
			r = wait_fd(fd, POLLIN, until);
			if (r == -ETIMEDOUT && !line && until < deadline)
				return -ETIME;
			if (r < 0)
				return r;
			continue;
		}
		line = line || memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (r < 0 && (r != -ECONNRESET || len == 0))
		return r;
	if (len > max)
		return -EFBIG;
	buf[len] = '\0';
	*ret_len = len;
	*ret = TAKE_PTR(buf);
	return r;
}

int kube_relay_parse_answer(const char *sock, const char *buf, size_t len,
			    struct kube_response *resp, struct cni_err *err)
{
	size_t ack = strlen(KUBE_RELAY_ACK);
	if (len >= ack && memcmp(buf, KUBE_RELAY_ACK, ack) == 0) {
		buf += ack;
		len -= ack;
	}
	const char *nl =
		memchr(buf, '\n', len < KUBE_RELAY_HEADER_MAX ? len : KUBE_RELAY_HEADER_MAX);
	if (!nl)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EPROTO,
				   "API relay '%s': answer without a header line", sock);
	_cleanup_json_ cJSON *h = NULL;
	if (json_parse(buf, (size_t)(nl - buf), "relay answer", &h, NULL) < 0 || !cJSON_IsObject(h))
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EPROTO,
				   "API relay '%s': malformed header line", sock);
	const cJSON *e = json_get(h, "error");
	if (e) {
		const cJSON *code = json_get(e, "code"), *no = json_get(e, "errno"),
			    *msg = json_get(e, "msg");
		/* CNI error codes are 1-999 (0 would read as success); errnos are 1-4095. */
		int c = cJSON_IsNumber(code) && code->valueint >= 1 && code->valueint <= 999
				? code->valueint
				: CNI_ERR_TRY_AGAIN;
		int sys = cJSON_IsNumber(no) && no->valueint >= 1 && no->valueint <= 4095
				  ? no->valueint
				  : EIO;
		return cni_err_set(err, c, sys, "%s (via the API relay)",
				   cJSON_IsString(msg) ? msg->valuestring : "relay error");
	}
	const cJSON *st = json_get(h, "status"), *ra = json_get(h, "retryAfter");
	if (!cJSON_IsNumber(st) || st->valuedouble < 100 || st->valuedouble > 599)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EPROTO,
				   "API relay '%s': header without a valid status", sock);
	resp->status = (long)st->valuedouble;
	/* Anything beyond a day is as good as absent (and a double past LONG_MAX cannot be
	 * converted). */
	resp->retry_after = cJSON_IsNumber(ra) && ra->valuedouble >= 0 && ra->valuedouble <= 86400
				    ? (long)ra->valuedouble
				    : -1;
	size_t off = (size_t)(nl - buf) + 1;
	resp->len = len - off;
	resp->body = xmalloc(resp->len + 1);
	memcpy(resp->body, buf + off, resp->len);
	resp->body[resp->len] = '\0';
	return 0;
}

/* Set once a relay failed to acknowledge: the rest of this process's requests go direct. */
static bool relay_stuck;

static int direct(const char *sock, const char *why, const struct kube_config *cfg,
		  const struct kube_request *req, const char *token, long timeout_ms,
		  struct kube_response *resp, struct cni_err *err)
{
	log_debug("API relay '%s' %s: direct request", sock, why);
	return kube_curl_ops.exchange(NULL, cfg, req, token, timeout_ms, resp, err);
}

static int relay_exchange(void *data, const struct kube_config *cfg, const struct kube_request *req,
			  const char *token, long timeout_ms, struct kube_response *resp,
			  struct cni_err *err)
{
	const char *sock = data;
	int64_t start = clock_now_ms(), deadline = start + timeout_ms;
	if (relay_stuck)
		return direct(sock, "did not acknowledge earlier", cfg, req, token, timeout_ms,
			      resp, err);
	/* deadline 0: a full listen queue (every worker busy) is EAGAIN at once, not a wait. */
	_cleanup_close_ int fd = sock_unix_connect(sock, 0);
	int r = fd < 0 ? fd : 0;
	if (r == -ENOENT || r == -ECONNREFUSED || r == -EAGAIN) {
		/* No daemon (yet, or restarting), or one with a full queue: talk to the API server
		 * ourselves. */
		_cleanup_free_ char *why = xasprintf(
			"not %s (%s)", r == -EAGAIN ? "accepting" : "listening", strerror(-r));
		return direct(sock, why, cfg, req, token, timeout_ms, resp, err);
	}
	if (r < 0)
		return relay_err(err, r, sock, "connect");
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "method", req->method);
	cJSON_AddStringToObject(j, "path", req->path);
	if (req->content_type)
		cJSON_AddStringToObject(j, "contentType", req->content_type);
	if (req->body) {
		_cleanup_free_ char *body = xmalloc(req->body_len + 1);
		memcpy(body, req->body, req->body_len);
		body[req->body_len] = '\0';
		cJSON_AddStringToObject(j, "body", body);
	}
	/* The daemon gets a little less time than we wait, so its own error (connect, TLS,
	 * timeout) reaches us rather than our "no answer". */
	long margin = timeout_ms / 10 < 200 ? timeout_ms / 10 : 200;
	cJSON_AddNumberToObject(j, "timeoutMs", (double)(timeout_ms - margin));
	_cleanup_free_ char *text = json_print(j);
	r = kube_relay_send(fd, text, strlen(text), deadline);
	if (r == 0 && shutdown(fd, SHUT_WR) < 0)
		r = -errno;
	/* EPIPE: a busy daemon may answer and close before reading; its answer is still ours. */
	if (r < 0 && r != -EPIPE)
		return relay_err(err, r, sock, "send");
	/* A stuck daemon (accepted by the kernel, never served) costs a short wait, not the whole
	 * timeout: no first line within the ack deadline and the request goes direct. */
	long ack_ms = timeout_ms / 4 < KUBE_RELAY_ACK_MS ? timeout_ms / 4 : KUBE_RELAY_ACK_MS;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	size_t max = cfg->max_response + strlen(KUBE_RELAY_ACK) + KUBE_RELAY_HEADER_MAX;
	r = kube_relay_recv(fd, max, start + ack_ms, deadline, &buf, &len);
	if (r == -ETIME) {
		relay_stuck = true;
		/* Closed first: a daemon that wakes up finds us gone and forwards nothing. */
		(void)close(TAKE_FD(fd));
		_cleanup_free_ char *why = xasprintf("did not acknowledge within %ld ms", ack_ms);
		return direct(sock, why, cfg, req, token, deadline - clock_now_ms(), resp, err);
	}
	/* A daemon that refused the request without reading it all resets after its answer. */
	if (r == -ECONNRESET && strncmp(buf, "{\"error\"", 8) == 0)
		r = 0;
	if (r == -ETIMEDOUT)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
				   "API relay '%s': no answer within %ld ms", sock, timeout_ms);
	if (r < 0)
		return relay_err(err, r, sock, "receive");
	r = kube_relay_parse_answer(sock, buf, len, resp, err);
	if (r < 0 && err->sys == EBUSY && strstr(err->msg, "API relay busy")) {
		*err = (struct cni_err){ 0 };
		return direct(sock, "busy", cfg, req, token, deadline - clock_now_ms(), resp, err);
	}
	return r;
}

const struct kube_transport_ops kube_relay_ops = {
	.exchange = relay_exchange,
};
