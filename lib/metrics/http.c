// SPDX-License-Identifier: Apache-2.0
/* The daemons' /metrics, /healthz and /readyz endpoint: a bounded HTTP/1.1 GET server. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/metrics/http.h"
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"

/* ---- the request parser --------------------------------------------------------------------- */

static bool is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Visible ASCII, as an origin-form target must be (RFC 9112 section 3.2). */
static bool is_vchar(char c)
{
	return c > ' ' && c < 0x7f;
}

/* The request line buf[0..n) (without its line end). */
static int parse_request_line(const char *buf, size_t n, struct metrics_http_req *ret)
{
	size_t m = 0;
	while (m < n && is_tchar(buf[m]))
		m++;
	if (m == 0 || m >= n || buf[m] != ' ')
		return -EINVAL;
	size_t t = m + 1, e = t;
	while (e < n && is_vchar(buf[e]))
		e++;
	if (e == t || buf[t] != '/' || e >= n || buf[e] != ' ')
		return -EINVAL;
	const char *v = buf + e + 1;
	size_t vn = n - e - 1;
	if (vn != 8 || (memcmp(v, "HTTP/1.1", 8) && memcmp(v, "HTTP/1.0", 8)))
		return -EINVAL;
	*ret = (struct metrics_http_req){
		.method = buf, .method_len = m, .target = buf + t, .target_len = e - t
	};
	return 0;
}

int metrics_http_parse(const char *buf, size_t len, struct metrics_http_req *ret)
{
	size_t max = len < METRICS_HTTP_REQUEST_MAX ? len : METRICS_HTTP_REQUEST_MAX;
	struct metrics_http_req req;
	bool have_line = false;
	for (size_t start = 0; start < max;) {
		const char *nl = memchr(buf + start, '\n', max - start);
		if (!nl)
			break;
		size_t end = (size_t)(nl - buf), n = end - start;
		if (n && buf[end - 1] == '\r')
			n--;
		for (size_t i = start; i < start + n; i++)
			if (buf[i] == '\r' || buf[i] == '\0')
				return -EINVAL;
		if (!have_line) {
			if (parse_request_line(buf + start, n, &req) < 0)
				return -EINVAL;
			have_line = true;
		} else if (n == 0) {
			*ret = req;
			return (int)end + 1;
		}
		start = end + 1;
	}
	/* Fail early on a request line that cannot become valid: junk is not kept waiting. */
	if (!have_line && max > 0 && !is_tchar(buf[0]))
		return -EINVAL;
	return len >= METRICS_HTTP_REQUEST_MAX ? -EFBIG : 0;
}

int metrics_http_address(const char *opt, const char *address, struct sockaddr_storage *ret,
			 socklen_t *ret_len, struct cni_err *err)
{
	const char *colon = strrchr(address, ':');
	if (!colon)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s: '%s' is not HOST:PORT",
				   opt, address);
	_cleanup_free_ char *host = strndup(address, (size_t)(colon - address));
	if (!host)
		abort();
	size_t hn = strlen(host);
	bool bracket = hn >= 2 && host[0] == '[' && host[hn - 1] == ']';
	if (bracket) {
		host[hn - 1] = '\0';
		memmove(host, host + 1, hn - 1);
	}
	struct ip_addr ip = { 0 };
	int64_t port = 0;
	if (parse_ip(host, &ip) < 0 || (ip.family == AF_INET6) != bracket)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: '%s': HOST must be an IPv4 address or a bracketed IPv6 one",
				   opt, address);
	if (parse_i64(colon + 1, 1, 65535, &port) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: '%s': PORT must be 1-65535", opt, address);
	struct sockaddr_storage ss = { 0 };
	if (ip.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		in->sin_addr = ip.v4;
		*ret_len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_addr = ip.v6;
		*ret_len = sizeof(*in6);
	}
	*ret = ss;
	return 0;
}

/* ---- the server ----------------------------------------------------------------------------- */

struct conn {
	int fd;
	int64_t deadline;
	enum {
		CONN_READ,
		CONN_WRITE,
		CONN_LINGER
	} state;
	char in[METRICS_HTTP_REQUEST_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

struct metrics_http {
	struct metrics *m;
	int lfd, efd;
	pthread_t thread;
	atomic_bool ready;
	struct conn *conns[METRICS_HTTP_CONNS];
	size_t n_conns;
};

static void respond(struct conn *c, bool head, int status, const char *reason, const char *ctype,
		    const char *extra, const char *body, size_t body_len)
{
	_cleanup_free_ char *hdr = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
					     "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
					     status, reason, ctype, body_len, extra);
	size_t hl = strlen(hdr), n = head ? 0 : body_len;
	c->out = xmalloc(hl + n + 1);
	memcpy(c->out, hdr, hl);
	if (n)
		memcpy(c->out + hl, body, n);
	c->out_len = hl + n;
	c->out_off = 0;
	c->state = CONN_WRITE;
}

#define TEXT "text/plain; charset=utf-8"

static void route(struct metrics_http *h, struct conn *c, const struct metrics_http_req *req)
{
	bool get = req->method_len == 3 && !memcmp(req->method, "GET", 3);
	bool head = req->method_len == 4 && !memcmp(req->method, "HEAD", 4);
	const char *q = memchr(req->target, '?', req->target_len);
	size_t n = q ? (size_t)(q - req->target) : req->target_len;
#define IS(p) (n == strlen(p) && !memcmp(req->target, p, n))
	if (!IS("/metrics") && !IS("/healthz") && !IS("/readyz")) {
		respond(c, head, 404, "Not Found", TEXT, "", "not found\n", 10);
	} else if (!get && !head) {
		respond(c, false, 405, "Method Not Allowed", TEXT, "Allow: GET, HEAD\r\n",
			"method not allowed\n", 19);
	} else if (IS("/metrics")) {
		size_t len = 0;
		_cleanup_free_ char *text = metrics_render(h->m, &len);
		respond(c, head, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", text,
			len);
	} else if (IS("/healthz") || atomic_load(&h->ready)) {
		respond(c, head, 200, "OK", TEXT, "", "ok\n", 3);
	} else {
		respond(c, head, 503, "Service Unavailable", TEXT, "", "not ready\n", 10);
	}
#undef IS
}

static void conn_close(struct metrics_http *h, size_t i)
{
	struct conn *c = h->conns[i];
	(void)close(c->fd);
	free(c->out);
	free(c);
	h->conns[i] = h->conns[--h->n_conns];
}

/* Progress on connection i; false when it is done and closed. */
static bool conn_io(struct metrics_http *h, size_t i)
{
	struct conn *c = h->conns[i];
	if (c->state == CONN_READ) {
		ssize_t k = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (k <= 0)
			goto done;
		c->in_len += (size_t)k;
		struct metrics_http_req req;
		int r = metrics_http_parse(c->in, c->in_len, &req);
		if (r > 0)
			route(h, c, &req);
		else if (r == -EFBIG)
			respond(c, false, 431, "Request Header Fields Too Large", TEXT, "",
				"request too large\n", 18);
		else if (r < 0)
			respond(c, false, 400, "Bad Request", TEXT, "", "bad request\n", 12);
		else
			return true; /* more to come */
	}
	if (c->state == CONN_WRITE) {
		ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (k < 0)
			goto done;
		c->out_off += (size_t)k;
		if (c->out_off < c->out_len)
			return true;
		/* Half-close and read what the client still sends until it closes: closing with
		 * unread input would reset the connection and could cut our answer short. */
		(void)shutdown(c->fd, SHUT_WR);
		c->state = CONN_LINGER;
		return true;
	}
	if (c->state == CONN_LINGER) {
		char sink[512];
		ssize_t k = read(c->fd, sink, sizeof(sink));
		if (k > 0 || (k < 0 && (errno == EAGAIN || errno == EINTR)))
			return true;
	}
done:
	conn_close(h, i);
	return false;
}

static void accept_all(struct metrics_http *h)
{
	for (;;) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warning("metrics: accept: %s, ignoring", strerror(errno));
			return;
		}
		if (h->n_conns == METRICS_HTTP_CONNS) {
			log_debug("metrics: %d connections open, closing a new one",
				  METRICS_HTTP_CONNS);
			(void)close(fd);
			continue;
		}
		struct conn *c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->deadline = clock_now_ms() + METRICS_HTTP_DEADLINE_MS;
		h->conns[h->n_conns++] = c;
	}
}

static void *serve(void *arg)
{
	struct metrics_http *h = arg;
	for (;;) {
		struct pollfd pfd[2 + METRICS_HTTP_CONNS];
		pfd[0] = (struct pollfd){ .fd = h->efd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		int64_t now = clock_now_ms(), next = -1;
		for (size_t i = 0; i < h->n_conns; i++) {
			const struct conn *c = h->conns[i];
			pfd[2 + i] = (struct pollfd){ .fd = c->fd,
						      .events = c->state == CONN_WRITE ? POLLOUT
										       : POLLIN };
			if (next < 0 || c->deadline < next)
				next = c->deadline;
		}
		size_t n = h->n_conns;
		int timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
		if (poll(pfd, 2 + n, timeout) < 0 && errno != EINTR) {
			log_error("metrics: poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[0].revents)
			return NULL;
		now = clock_now_ms();
		/* Backwards: closing i moves the last connection into its slot. */
		for (size_t i = n; i-- > 0;) {
			if (pfd[2 + i].revents && !conn_io(h, i))
				continue;
			if (h->conns[i]->deadline <= now) {
				log_debug("metrics: connection not done within %d ms, closing it",
					  METRICS_HTTP_DEADLINE_MS);
				conn_close(h, i);
			}
		}
		if (pfd[1].revents)
			accept_all(h);
	}
}

int metrics_http_start(const char *opt, const char *address, struct metrics *m,
		       struct metrics_http **ret, struct cni_err *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int r = metrics_http_address(opt, address, &ss, &sl, err);
	if (r < 0)
		return r;
	_cleanup_close_ int lfd =
		socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	/* SO_REUSEPORT: in a rolling update (maxSurge) the new pod's daemon starts on the node
	 * while the old one still listens on the same host-network port; it must not fail to
	 * start then, or the new pod never becomes ready and the update stalls. Until the old
	 * one exits, the kernel spreads connections over both (docs/observability.md). */
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 64) < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "%s: '%s': %s", opt, address,
				   strerror(errno));
	_cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, errno, "eventfd: %s", strerror(errno));
	struct metrics_http *h = xcalloc(1, sizeof(*h));
	h->m = m;
	h->lfd = lfd;
	h->efd = efd;
	atomic_init(&h->ready, false);
	r = pthread_create(&h->thread, NULL, serve, h);
	if (r) {
		free(h);
		return cni_err_set(err, CNI_ERR_INTERNAL, r, "metrics thread: %s", strerror(r));
	}
	lfd = efd = -1;
	*ret = h;
	return 0;
}

void metrics_http_set_ready(struct metrics_http *h, bool ready)
{
	if (h)
		atomic_store(&h->ready, ready);
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	uint64_t one = 1;
	(void)!write(h->efd, &one, sizeof(one));
	(void)pthread_join(h->thread, NULL);
	while (h->n_conns)
		conn_close(h, h->n_conns - 1);
	(void)close(h->lfd);
	(void)close(h->efd);
	free(h);
}
