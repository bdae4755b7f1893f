// SPDX-License-Identifier: Apache-2.0
/* The libcurl transport: one verified-TLS HTTP exchange; curl errors translated here. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lib/cni/err.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/util/cleanup.h"

/* libcurl is loaded on first use, not linked: it pulls in ~30 libraries whose relocations
 * cost about 14M instructions at every start, and only ADD (and DEL without an intent log)
 * talks to the API. DEL, CHECK and VERSION never pay for it. */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	void (*easy_reset)(CURL *c);
	void (*easy_cleanup)(CURL *c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *c);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *c);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *fds, unsigned n, int timeout_ms,
				int *numfds);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURLMcode (*multi_cleanup)(CURLM *m);
} lib;
static char lib_error[256];

static bool lib_load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		(void)snprintf(lib_error, sizeof(lib_error), "%s", dlerror());
		return false;
	}
	struct {
		void **fn;
		const char *name;
	} syms[] = {
		{ (void **)&lib.global_init, "curl_global_init" },
		{ (void **)&lib.easy_init, "curl_easy_init" },
		{ (void **)&lib.easy_cleanup, "curl_easy_cleanup" },
		{ (void **)&lib.easy_setopt, "curl_easy_setopt" },
		{ (void **)&lib.easy_perform, "curl_easy_perform" },
		{ (void **)&lib.easy_getinfo, "curl_easy_getinfo" },
		{ (void **)&lib.easy_strerror, "curl_easy_strerror" },
		{ (void **)&lib.easy_reset, "curl_easy_reset" },
		{ (void **)&lib.slist_append, "curl_slist_append" },
		{ (void **)&lib.slist_free_all, "curl_slist_free_all" },
		{ (void **)&lib.multi_init, "curl_multi_init" },
		{ (void **)&lib.multi_add_handle, "curl_multi_add_handle" },
		{ (void **)&lib.multi_remove_handle, "curl_multi_remove_handle" },
		{ (void **)&lib.multi_perform, "curl_multi_perform" },
		{ (void **)&lib.multi_poll, "curl_multi_poll" },
		{ (void **)&lib.multi_info_read, "curl_multi_info_read" },
		{ (void **)&lib.multi_cleanup, "curl_multi_cleanup" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		*syms[i].fn = dlsym(h, syms[i].name);
		if (!*syms[i].fn) {
			(void)snprintf(lib_error, sizeof(lib_error), "libcurl.so.4 lacks %s",
				       syms[i].name);
			return false;
		}
	}
	return true;
}

/* curl.h defines some of these as type-checking macros: route every call through the table. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init(...) lib.global_init(__VA_ARGS__)
#define curl_easy_init(...) lib.easy_init(__VA_ARGS__)
#define curl_easy_setopt(...) lib.easy_setopt(__VA_ARGS__)
#define curl_easy_perform(...) lib.easy_perform(__VA_ARGS__)
#define curl_easy_getinfo(...) lib.easy_getinfo(__VA_ARGS__)
#define curl_easy_strerror(...) lib.easy_strerror(__VA_ARGS__)
#define curl_slist_append(...) lib.slist_append(__VA_ARGS__)

static void curl_slist_free_allp(struct curl_slist **p)
{
	if (*p)
		lib.slist_free_all(*p);
}

struct sink {
	char *buf;
	size_t len, cap, max;
	bool too_big;
	long retry_after;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;
	if (n > s->max - s->len) {
		s->too_big = true;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		s->buf = xrealloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nitems;
	static const char name[] = "retry-after:";
	/* Only the delay-seconds form (RFC 9110 §10.2.3); an HTTP-date counts as absent. */
	if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
		char v[32];
		size_t k = n - (sizeof(name) - 1);
		if (k >= sizeof(v))
			k = sizeof(v) - 1;
		memcpy(v, ptr + sizeof(name) - 1, k);
		v[k] = '\0';
		char *p = v + strspn(v, " \t"), *end;
		errno = 0;
		long secs = strtol(p, &end, 10);
		if (end != p && !errno && secs >= 0 && strspn(end, " \t\r\n") == strlen(end))
			s->retry_after = secs;
	}
	return n;
}

/* Every fd CLOEXEC: we fork/exec delegates. */
static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose,
				    struct curl_sockaddr *address)
{
	(void)clientp;
	(void)purpose;
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
static bool lib_loaded;
/* Frees a thread's handle when the thread exits (the meta-plugin's NAD requests run on
 * short-lived threads); the main thread's lives until exit. */
static pthread_key_t handle_key;
static bool handle_key_ok;

static void handle_free(void *c)
{
	lib.easy_cleanup(c);
}

static void global_init(void)
{
	lib_loaded = lib_load();
	if (lib_loaded)
		global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	handle_key_ok = lib_loaded && pthread_key_create(&handle_key, handle_free) == 0;
}

static int curl_to_err(CURLcode rc, const char *errbuf, const struct sink *s, size_t max,
		       struct cni_err *err)
{
	const char *text = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_WRITE_ERROR:
		if (s->too_big)
			return cni_err_set(err, CNI_ERR_KUBE_API, EFBIG,
					   "response larger than %zu bytes", max);
		break;
	/* Certificate problems do not go away by retrying: a configuration error. */
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
		return cni_err_set(err, CNI_ERR_KUBE_API, EPROTO, "TLS: %s (curl %d)", text, rc);
	case CURLE_OPERATION_TIMEDOUT:
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT, "%s (curl %d)", text, rc);
	case CURLE_COULDNT_CONNECT:
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ECONNREFUSED, "%s (curl %d)", text, rc);
	case CURLE_COULDNT_RESOLVE_HOST:
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EHOSTUNREACH, "%s (curl %d)", text, rc);
	default:
		break;
	}
	return cni_err_set(err, CNI_ERR_TRY_AGAIN, EIO, "%s (curl %d)", text, rc);
}

static int set_pem(CURL *c, const struct kube_pem *p, CURLoption file_opt, CURLoption blob_opt)
{
	if (p->file)
		return curl_easy_setopt(c, file_opt, p->file) == CURLE_OK ? 0 : -EINVAL;
	if (p->data) {
		struct curl_blob blob = { .data = p->data, .len = p->len, .flags = CURL_BLOB_COPY };
		return curl_easy_setopt(c, blob_opt, &blob) == CURLE_OK ? 0 : -EINVAL;
	}
	return 0;
}

static void auth_freep(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
}

int kube_curl_load(struct cni_err *err)
{
	(void)pthread_once(&global_once, global_init);
	if (!lib_loaded)
		return cni_err_set(err, CNI_ERR_KUBE_API, ELIBACC, "cannot load libcurl: %s",
				   lib_error);
	if (global_rc != CURLE_OK)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "curl_global_init failed");
	return 0;
}

/* The request headers: JSON, no "Expect: 100-continue", the token and the body's type. */
static int build_headers(const struct kube_request *req, const char *token, struct curl_slist **ret,
			 struct cni_err *err)
{
	_cleanup_(auth_freep) char *auth =
		token ? xasprintf("Authorization: Bearer %s", token) : NULL;
	_cleanup_free_ char *ctype =
		req->content_type ? xasprintf("Content-Type: %s", req->content_type) : NULL;
	_cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
	const char *lines[] = { "Accept: application/json", "Expect:", auth, ctype };
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		if (!lines[i])
			continue;
		struct curl_slist *h = curl_slist_append(hdrs, lines[i]);
		if (!h)
			return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM,
					   "curl_slist_append failed");
		hdrs = h;
	}
	*ret = TAKE_PTR(hdrs);
	return 0;
}

/* What curl reads during a transfer: it must outlive curl_easy_perform. */
struct xfer {
	char *url;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
};

static void xfer_done(struct xfer *x)
{
	free(x->url);
	curl_slist_free_allp(&x->hdrs);
}

/* Every option but the body sink: verified TLS only, no redirects, no proxy, timeouts. c may be
 * NULL (a failed curl_easy_init): ENOMEM. */
static int set_options(CURL *c, const struct kube_config *cfg, const struct kube_request *req,
		       const char *token, long timeout_ms, struct xfer *x, struct cni_err *err)
{
	if (!c)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "curl_easy_init failed");
	int r = build_headers(req, token, &x->hdrs, err);
	if (r < 0)
		return r;
	x->url = xasprintf("%s%s", cfg->server, req->path);
	const char *url = x->url;
	struct curl_slist *hdrs = x->hdrs;
	char *errbuf = x->errbuf;
	bool ok = true;
	ok &= curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			       cfg->connect_timeout_ms < timeout_ms ? cfg->connect_timeout_ms
								    : timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_USERAGENT, "plexus/" PLEXUS_VERSION) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb) == CURLE_OK;
	if (strcmp(req->method, "GET") == 0) {
		ok &= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	} else {
		ok &= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				       (curl_off_t)(req->body ? req->body_len : 0)) == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") ==
		      CURLE_OK;
	}
	ok &= set_pem(c, &cfg->ca, CURLOPT_CAINFO, CURLOPT_CAINFO_BLOB) == 0;
	ok &= set_pem(c, &cfg->cert, CURLOPT_SSLCERT, CURLOPT_SSLCERT_BLOB) == 0;
	ok &= set_pem(c, &cfg->key, CURLOPT_SSLKEY, CURLOPT_SSLKEY_BLOB) == 0;
	if (!ok)
		return cni_err_set(err, CNI_ERR_INTERNAL, EINVAL,
				   "libcurl lacks a required option (needs 7.85 or later)");
	return 0;
}

static int curl_exchange(void *data, const struct kube_config *cfg, const struct kube_request *req,
			 const char *token, long timeout_ms, struct kube_response *resp,
			 struct cni_err *err)
{
	(void)data;
	int r = kube_curl_load(err);
	if (r < 0)
		return r;
	/* One handle per thread, reset between requests: its connection and TLS session cache
	 * survive, so the GETs and the PATCH of one ADD share one TLS handshake, and each of
	 * plexus-apid's workers keeps its connection warm. The handle lives until exit. */
	static __thread CURL *shared;
	if (!shared) {
		shared = curl_easy_init();
		if (shared && handle_key_ok)
			(void)pthread_setspecific(handle_key, shared);
	} else
		lib.easy_reset(shared);
	CURL *c = shared;
	_cleanup_(xfer_done) struct xfer x = { 0 };
	r = set_options(c, cfg, req, token, timeout_ms, &x, err);
	if (r < 0)
		return r;
	struct sink s = { .max = cfg->max_response, .retry_after = -1 };
	bool ok = true;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HEADERDATA, &s) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_response) ==
	      CURLE_OK;
	if (!ok)
		return cni_err_set(err, CNI_ERR_INTERNAL, EINVAL, "curl_easy_setopt failed");
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_FILESIZE_EXCEEDED) {
		s.too_big = true;
		rc = CURLE_WRITE_ERROR;
	}
	if (rc != CURLE_OK) {
		free(s.buf);
		return curl_to_err(rc, x.errbuf, &s, cfg->max_response, err);
	}
	long status = 0;
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	resp->body = s.buf;
	resp->len = s.len;
	resp->retry_after = s.retry_after;
	return 0;
}

struct stream_sink {
	CURL *c;
	long status;
	kube_stream_fn fn;
	void *u;
	bool aborted;
};

static size_t stream_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct stream_sink *s = userdata;
	size_t n = size * nmemb;
	if (!s->status)
		(void)curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->fn(s->u, s->status, ptr, n) < 0) {
		s->aborted = true;
		return 0;
	}
	return n;
}

static void easy_cleanupp(CURL **c)
{
	if (*c)
		lib.easy_cleanup(*c);
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* A long-lived GET (a watch) on its own handle, driven by curl's multi interface so that
 * poll also wakes on stop_fd: a daemon stops at once, not at the next byte or timeout. */
static int curl_stream(void *data, const struct kube_config *cfg, const struct kube_request *req,
		       const char *token, long timeout_ms, int stop_fd, kube_stream_fn on_data,
		       void *u, long *ret_status, struct cni_err *err)
{
	(void)data;
	int r = kube_curl_load(err);
	if (r < 0)
		return r;
	if (fd_readable(stop_fd))
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EINTR, "stopped");
	_cleanup_(easy_cleanupp) CURL *c = curl_easy_init();
	_cleanup_(xfer_done) struct xfer x = { 0 };
	r = set_options(c, cfg, req, token, timeout_ms, &x, err);
	if (r < 0)
		return r;
	struct stream_sink s = { .c = c, .fn = on_data, .u = u };
	bool ok = true;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_cb) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) == CURLE_OK;
	/* A peer that vanished without a FIN is noticed by keepalive, not by the long timeout. */
	ok &= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L) == CURLE_OK;
	if (!ok)
		return cni_err_set(err, CNI_ERR_INTERNAL, EINVAL, "curl_easy_setopt failed");
	CURLM *m = lib.multi_init();
	if (!m)
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "curl_multi_init failed");
	CURLcode rc = CURLE_OK;
	bool stopped = false;
	if (lib.multi_add_handle(m, c) != CURLM_OK) {
		(void)lib.multi_cleanup(m);
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM, "curl_multi_add_handle failed");
	}
	for (int running = 1; running;) {
		if (lib.multi_perform(m, &running) != CURLM_OK) {
			rc = CURLE_RECV_ERROR;
			break;
		}
		if (!running)
			break;
		struct curl_waitfd w = { .fd = stop_fd, .events = CURL_WAIT_POLLIN };
		if (lib.multi_poll(m, stop_fd >= 0 ? &w : NULL, stop_fd >= 0, 1000, NULL) !=
		    CURLM_OK) {
			rc = CURLE_RECV_ERROR;
			break;
		}
		if (w.revents & CURL_WAIT_POLLIN) {
			stopped = true;
			break;
		}
	}
	CURLMsg *msg;
	int left;
	while ((msg = lib.multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	(void)lib.multi_remove_handle(m, c);
	(void)lib.multi_cleanup(m);
	if (stopped)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EINTR, "stopped");
	if (s.aborted)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ECANCELED, "ended by the reader");
	if (rc != CURLE_OK) {
		struct sink none = { 0 };
		return curl_to_err(rc, x.errbuf, &none, cfg->max_response, err);
	}
	if (!s.status)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s.status);
	*ret_status = s.status;
	return 0;
}

const struct kube_transport_ops kube_curl_ops = {
	.exchange = curl_exchange,
	.stream = curl_stream,
};
