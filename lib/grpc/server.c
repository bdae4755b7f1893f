// SPDX-License-Identifier: Apache-2.0
/* gRPC server: poll loop over a Unix listener, one nghttp2 server session per connection. */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/grpc/internal.h"
#include "lib/grpc/server.h"
#include "lib/grpc/status.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/sock.h"

#define SHUTDOWN_FLUSH_MS 1000

struct gr_conn;

struct gr_stream {
	struct gr_conn *conn;
	int32_t id;
	struct gr_stream *next;
	/* request */
	char *method, *path, *content_type;
	uint8_t *in;
	size_t in_len, in_cap;
	bool in_too_big, dispatched;
	const struct gr_method *m;
	/* response */
	bool responded; /* HEADERS submitted with our data provider */
	bool ended;	/* status decided: trailers follow once out is drained */
	bool started;	/* accepted by a stream handler: `closed` is owed */
	int status;
	char *message;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
};

struct gr_conn {
	struct gr_server *srv;
	int fd;
	nghttp2_session *session;
	struct gr_stream *streams;
	struct gr_conn *next;
	bool dead;
};

struct gr_server {
	int lfd, wfd;
	char *path;
	const struct gr_method *methods;
	size_t n_methods;
	void *userdata;
	void (*wake)(void *userdata);
	atomic_int stop;
	struct gr_conn *conns;
};

static void stream_free(struct gr_stream *st)
{
	free(st->method);
	free(st->path);
	free(st->content_type);
	free(st->in);
	free(st->message);
	free(st->out);
	free(st);
}

/* Unlink st from its connection, tell the owner if it started it, free it. */
static void stream_gone(struct gr_stream *st)
{
	struct gr_conn *c = st->conn;

	for (struct gr_stream **p = &c->streams; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			break;
		}
	if (st->started && st->m && st->m->closed)
		st->m->closed(c->srv->userdata, st);
	stream_free(st);
}

static void append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *data, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n)
			c *= 2;
		*buf = xrealloc(*buf, c);
		*cap = c;
	}
	if (n)
		memcpy(*buf + *len, data, n);
	*len += n;
}

#define NV(n, v, vlen)                                                                      \
	{                                                                                   \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), NGHTTP2_NV_FLAG_NONE \
	}

static void submit_trailers(struct gr_stream *st)
{
	_cleanup_free_ char *msg = st->message ? gr_percent_encode(st->message) : NULL;
	char code[16];
	int k = snprintf(code, sizeof(code), "%d", st->status);
	nghttp2_nv nva[] = {
		NV("grpc-status", code, (size_t)k),
		NV("grpc-message", msg ? msg : "", msg ? strlen(msg) : 0),
	};

	(void)nghttp2_submit_trailer(st->conn->session, st->id, nva, msg && *msg ? 2 : 1);
}

static ssize_t read_out(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
			uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct gr_stream *st = source->ptr;
	size_t n = st->out_len - st->out_off;

	(void)session;
	(void)stream_id;
	(void)user_data;
	if (n > length)
		n = length;
	if (n) {
		memcpy(buf, st->out + st->out_off, n);
		st->out_off += n;
	}
	if (st->out_off < st->out_len)
		return (ssize_t)n;
	st->out_off = st->out_len = 0;
	if (!st->ended)
		return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
	/* gRPC always ends a response with trailers, so the DATA must not carry END_STREAM. */
	*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	submit_trailers(st);
	return (ssize_t)n;
}

static void submit_headers(struct gr_stream *st)
{
	nghttp2_nv nva[] = {
		NV(":status", "200", 3),
		NV("content-type", "application/grpc", 16),
	};
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_out };

	st->responded = true;
	(void)nghttp2_submit_response(st->conn->session, st->id, nva, ARRAY_SIZE(nva), &prd);
}

/* An error before any message: one HEADERS frame with END_STREAM (gRPC "Trailers-Only"). */
static void submit_trailers_only(struct gr_stream *st, int status, const char *message)
{
	_cleanup_free_ char *msg = gr_percent_encode(message ? message : "");
	char code[16];
	int k = snprintf(code, sizeof(code), "%d", status);
	nghttp2_nv nva[] = {
		NV(":status", "200", 3),
		NV("content-type", "application/grpc", 16),
		NV("grpc-status", code, (size_t)k),
		NV("grpc-message", msg, strlen(msg)),
	};

	st->responded = st->ended = true;
	st->status = status;
	(void)nghttp2_submit_response(st->conn->session, st->id, nva, *msg ? 4 : 3, NULL);
}

static void submit_http_error(struct gr_stream *st, const char *code)
{
	nghttp2_nv nva[] = { NV(":status", code, strlen(code)) };

	st->responded = st->ended = true;
	(void)nghttp2_submit_response(st->conn->session, st->id, nva, 1, NULL);
}
#undef NV

int gr_stream_send(struct gr_stream *st, const uint8_t *msg, size_t len)
{
	_cleanup_free_ uint8_t *framed = NULL;
	size_t flen;

	if (st->ended)
		return -EPIPE;
	gr_frame(msg, len, &framed, &flen);
	append(&st->out, &st->out_len, &st->out_cap, framed, flen);
	if (!st->responded)
		submit_headers(st);
	else
		(void)nghttp2_session_resume_data(st->conn->session, st->id);
	return 0;
}

static void stream_end(struct gr_stream *st, int status, const char *message)
{
	if (st->ended)
		return;
	if (!st->responded && st->out_len == 0) {
		submit_trailers_only(st, status, message);
		return;
	}
	st->ended = true;
	st->status = status;
	free(st->message);
	st->message = message && *message ? xstrdup(message) : NULL;
	if (!st->responded)
		submit_headers(st);
	else
		(void)nghttp2_session_resume_data(st->conn->session, st->id);
}

void gr_stream_end(struct gr_stream *st, const struct cni_err *err)
{
	if (!err)
		stream_end(st, GR_STATUS_OK, NULL);
	else
		stream_end(st, gr_status_from_err(err), err->msg);
}

static const struct gr_method *lookup(const struct gr_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->n_methods; i++)
		if (strcmp(srv->methods[i].path, path) == 0)
			return &srv->methods[i];
	return NULL;
}

static bool grpc_content_type(const char *ct)
{
	/* "application/grpc", optionally "+proto" or ";params" (gRPC HTTP/2 protocol). */
	return ct && strncmp(ct, "application/grpc", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == '+' || ct[16] == ';');
}

static const char *err_text(const struct cni_err *e, int r)
{
	return e->msg[0] ? e->msg : strerror(-r);
}

/* The request is complete (END_STREAM seen): validate what nghttp2 no longer checks, run the
 * handler. HTTP messaging checks are off because kubelet < 1.26 sends ":authority" = the
 * socket path, which nghttp2 rejects. */
static void dispatch(struct gr_stream *st)
{
	struct gr_server *srv = st->conn->srv;
	struct cni_err e = { 0 };
	const uint8_t *msg;
	size_t len;
	int r;

	st->dispatched = true;
	if (!st->path || !st->method || st->path[0] != '/') {
		(void)nghttp2_submit_rst_stream(st->conn->session, NGHTTP2_FLAG_NONE, st->id,
						NGHTTP2_PROTOCOL_ERROR);
		return;
	}
	if (strcmp(st->method, "POST") != 0)
		return submit_http_error(st, "405");
	if (!grpc_content_type(st->content_type))
		return submit_http_error(st, "415");
	st->m = lookup(srv, st->path);
	if (!st->m) {
		char m[CNI_ERR_MSG_MAX];
		(void)snprintf(m, sizeof(m), "unknown method '%s'", st->path);
		return submit_trailers_only(st, GR_STATUS_UNIMPLEMENTED, m);
	}
	r = gr_unframe(st->in, st->in_len, &msg, &len, &e);
	if (r < 0)
		return submit_trailers_only(st, GR_STATUS_INTERNAL, e.msg);

	if (st->m->unary) {
		_cleanup_free_ uint8_t *resp = NULL;
		size_t rlen = 0;

		r = st->m->unary(srv->userdata, msg, len, &resp, &rlen, &e);
		if (r < 0)
			return submit_trailers_only(st, gr_status_from_err(&e), err_text(&e, r));
		(void)gr_stream_send(st, resp, rlen);
		stream_end(st, GR_STATUS_OK, NULL);
		return;
	}
	st->started = true;
	r = st->m->stream(srv->userdata, st, msg, len, &e);
	if (r < 0) {
		/* A failed handler did not start the stream: it keeps no pointer to it. */
		st->started = false;
		stream_end(st, gr_status_from_err(&e), err_text(&e, r));
		return;
	}
	if (!st->responded)
		submit_headers(st);
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
		       void *user_data)
{
	struct gr_conn *c = user_data;
	ssize_t n = send(c->fd, data, length, MSG_NOSIGNAL);

	(void)session;
	(void)flags;
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return NGHTTP2_ERR_WOULDBLOCK;
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct gr_conn *c = user_data;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct gr_stream *st = xcalloc(1, sizeof(*st));
	st->conn = c;
	st->id = frame->hd.stream_id;
	st->next = c->streams;
	c->streams = st;
	return nghttp2_session_set_stream_user_data(session, st->id, st);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct gr_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	char **slot = NULL;

	(void)flags;
	(void)user_data;
	if (!st || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":method"))
		slot = &st->method;
	else if (IS(":path"))
		slot = &st->path;
	else if (IS("content-type"))
		slot = &st->content_type;
#undef IS
	if (slot) {
		free(*slot);
		*slot = xstrndup((const char *)value, valuelen);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	struct gr_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);

	(void)flags;
	(void)user_data;
	if (!st || st->in_too_big || st->dispatched)
		return 0;
	if (st->in_len + len > GR_MAX_MESSAGE + GR_FRAME_HDR) {
		st->in_too_big = true;
		return nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
						 NGHTTP2_CANCEL);
	}
	append(&st->in, &st->in_len, &st->in_cap, data, len);
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	(void)user_data;
	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct gr_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (st && !st->dispatched && !st->in_too_big)
		dispatch(st);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct gr_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);

	(void)error_code;
	(void)user_data;
	if (st) {
		(void)nghttp2_session_set_stream_user_data(session, stream_id, NULL);
		stream_gone(st);
	}
	return 0;
}

static nghttp2_session_callbacks *server_callbacks(void)
{
	nghttp2_session_callbacks *cbs;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		abort();
	nghttp2_session_callbacks_set_send_callback(cbs, on_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	return cbs;
}

static void conn_free(struct gr_conn *c)
{
	nghttp2_session_del(c->session);
	/* nghttp2_session_del() reports no stream closures: do it for the owners. */
	while (c->streams)
		stream_gone(c->streams);
	if (c->fd >= 0)
		(void)close(c->fd);
	free(c);
}

static void conn_new(struct gr_server *srv, int fd)
{
	struct gr_conn *c = xcalloc(1, sizeof(*c));
	nghttp2_session_callbacks *cbs = server_callbacks();
	nghttp2_option *opt;

	c->srv = srv;
	c->fd = fd;
	if (nghttp2_option_new(&opt) != 0)
		abort();
	nghttp2_option_set_no_http_messaging(opt, 1);
	if (nghttp2_session_server_new2(&c->session, cbs, c, opt) != 0)
		abort();
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);

	const nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings,
				    ARRAY_SIZE(settings)) != 0)
		c->dead = true;
	c->next = srv->conns;
	srv->conns = c;
}

static void conn_read(struct gr_conn *c)
{
	uint8_t buf[16384];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0)
		c->dead = true;
}

static void conn_flush(struct gr_conn *c)
{
	if (c->dead)
		return;
	if (nghttp2_session_send(c->session) < 0 ||
	    (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session)))
		c->dead = true;
}

static void reap(struct gr_server *srv)
{
	for (struct gr_conn **p = &srv->conns; *p;) {
		struct gr_conn *c = *p;

		if (c->dead) {
			*p = c->next;
			conn_free(c);
		} else {
			p = &c->next;
		}
	}
}

static void accept_all(struct gr_server *srv)
{
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: poll tells us again */
		conn_new(srv, fd);
	}
}

/* End open streams with UNAVAILABLE, send GOAWAY, give the peers SHUTDOWN_FLUSH_MS to read. */
static void shutdown_conns(struct gr_server *srv)
{
	int64_t deadline = clock_now_ms() + SHUTDOWN_FLUSH_MS;

	for (struct gr_conn *c = srv->conns; c; c = c->next) {
		for (struct gr_stream *st = c->streams; st; st = st->next)
			if (st->started)
				stream_end(st, GR_STATUS_UNAVAILABLE, "server shutting down");
		(void)nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
					    nghttp2_session_get_last_proc_stream_id(c->session),
					    NGHTTP2_NO_ERROR, NULL, 0);
	}
	for (;;) {
		struct pollfd pfd[64];
		nfds_t n = 0;

		for (struct gr_conn *c = srv->conns; c; c = c->next) {
			if (!c->dead && nghttp2_session_send(c->session) < 0)
				c->dead = true;
			if (!c->dead && nghttp2_session_want_write(c->session) &&
			    n < ARRAY_SIZE(pfd))
				pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
		}
		int64_t left = deadline - clock_now_ms();
		if (n == 0 || left <= 0 || poll(pfd, n, (int)left) <= 0)
			break;
	}
	for (struct gr_conn *c = srv->conns; c; c = c->next)
		c->dead = true;
	reap(srv);
}

int gr_server_run(struct gr_server *srv, struct cni_err *err)
{
	_cleanup_free_ struct pollfd *pfd = NULL;
	_cleanup_free_ struct gr_conn **pc = NULL;
	size_t cap = 0;

	while (!atomic_load(&srv->stop)) {
		size_t n = 2;

		for (struct gr_conn *c = srv->conns; c; c = c->next)
			conn_flush(c);
		reap(srv);
		for (struct gr_conn *c = srv->conns; c; c = c->next)
			n++;
		if (n > cap) {
			cap = n * 2;
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			pc = xrealloc(pc, cap * sizeof(*pc));
		}
		pfd[0] = (struct pollfd){ .fd = srv->lfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = srv->wfd, .events = POLLIN };
		n = 2;
		for (struct gr_conn *c = srv->conns; c; c = c->next, n++) {
			pc[n] = c;
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			if (nghttp2_session_want_write(c->session))
				pfd[n].events |= POLLOUT;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cni_err_set(err, CNI_ERR_IO, errno, "grpc server: poll: %m");
		}
		for (size_t i = 2; i < n; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(pc[i]);
		if (pfd[1].revents & POLLIN) {
			uint64_t v;
			(void)!read(srv->wfd, &v, sizeof(v));
			if (!atomic_load(&srv->stop) && srv->wake)
				srv->wake(srv->userdata);
		}
		if (pfd[0].revents & POLLIN)
			accept_all(srv);
	}
	shutdown_conns(srv);
	return 0;
}

void gr_server_stop(struct gr_server *srv)
{
	uint64_t one = 1;

	atomic_store(&srv->stop, 1);
	(void)!write(srv->wfd, &one, sizeof(one));
}

void gr_server_wake(struct gr_server *srv)
{
	uint64_t one = 1;

	(void)!write(srv->wfd, &one, sizeof(one));
}

void gr_server_set_wake(struct gr_server *srv, void (*fn)(void *userdata))
{
	srv->wake = fn;
}

int gr_server_new(const char *socket_path, const struct gr_method *methods, size_t n,
		  void *userdata, struct gr_server **ret, struct cni_err *err)
{
	_cleanup_close_ int lfd = sock_unix_listen(socket_path, SOCK_NONBLOCK, false), wfd = -1;
	if (lfd == -EEXIST)
		return cni_err_set(err, CNI_ERR_IO, EEXIST,
				   "grpc server: '%s' exists and is not a socket", socket_path);
	if (lfd < 0)
		return cni_err_set(err, lfd == -ENAMETOOLONG ? CNI_ERR_INVALID_CONFIG : CNI_ERR_IO,
				   -lfd, "grpc server: listen on '%s': %s", socket_path,
				   strerror(-lfd));
	wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wfd < 0) {
		int r = cni_err_set(err, CNI_ERR_IO, errno, "grpc server: eventfd: %m");
		(void)unlink(socket_path);
		return r;
	}

	struct gr_server *srv = xcalloc(1, sizeof(*srv));
	srv->lfd = TAKE_FD(lfd);
	srv->wfd = TAKE_FD(wfd);
	srv->path = xstrdup(socket_path);
	srv->methods = methods;
	srv->n_methods = n;
	srv->userdata = userdata;
	atomic_init(&srv->stop, 0);
	*ret = srv;
	return 0;
}

void gr_server_free(struct gr_server *srv)
{
	if (!srv)
		return;
	for (struct gr_conn *c = srv->conns; c; c = c->next)
		c->dead = true;
	reap(srv);
	(void)close(srv->lfd);
	(void)close(srv->wfd);
	(void)unlink(srv->path);
	free(srv->path);
	free(srv);
}
