// SPDX-License-Identifier: Apache-2.0
/* Blocking unary gRPC client: one h2c connection per call over a Unix socket, poll-driven. */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/grpc/client.h"
#include "lib/grpc/internal.h"
#include "lib/grpc/status.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/sock.h"

struct call {
	int fd;
	int32_t stream_id;
	const uint8_t *req;
	size_t req_len, req_off;
	int sys; /* errno of a failed send */
	/* response */
	int http_status;
	int grpc_status; /* -1 until seen */
	char *grpc_message;
	char *content_type;
	uint8_t *data;
	size_t data_len, data_cap;
	bool too_big;
	bool closed;
	uint32_t rst_error;
};

static void call_done(struct call *c)
{
	free(c->grpc_message);
	free(c->content_type);
	free(c->data);
}

static void nghttp2_session_delp(nghttp2_session **s)
{
	if (*s)
		nghttp2_session_del(*s);
}

static void nghttp2_session_callbacks_delp(nghttp2_session_callbacks **cb)
{
	if (*cb)
		nghttp2_session_callbacks_del(*cb);
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
		       void *user_data)
{
	struct call *c = user_data;
	ssize_t n = send(c->fd, data, length, MSG_NOSIGNAL);

	(void)session;
	(void)flags;
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return NGHTTP2_ERR_WOULDBLOCK;
	c->sys = errno;
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int parse_small_int(const uint8_t *v, size_t len)
{
	int n = 0;

	if (len == 0 || len > 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct call *c = user_data;

	(void)session;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != c->stream_id)
		return 0;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":status")) {
		c->http_status = parse_small_int(value, valuelen);
	} else if (IS("content-type")) {
		free(c->content_type);
		c->content_type = xstrndup((const char *)value, valuelen);
	} else if (IS("grpc-status")) {
		/* Present in the trailers, or in the headers of a Trailers-Only response. */
		c->grpc_status = parse_small_int(value, valuelen);
		if (c->grpc_status < 0)
			c->grpc_status = GR_STATUS_UNKNOWN;
	} else if (IS("grpc-message")) {
		free(c->grpc_message);
		c->grpc_message = gr_percent_decode((const char *)value, valuelen);
	}
#undef IS
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	struct call *c = user_data;

	(void)flags;
	if (stream_id != c->stream_id || c->too_big)
		return 0;
	if (c->data_len + len > GR_MAX_MESSAGE + GR_FRAME_HDR) {
		c->too_big = true;
		return nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
						 NGHTTP2_CANCEL);
	}
	if (c->data_len + len > c->data_cap) {
		c->data_cap = c->data_cap ? c->data_cap : 4096;
		while (c->data_cap < c->data_len + len)
			c->data_cap *= 2;
		c->data = xrealloc(c->data, c->data_cap);
	}
	memcpy(c->data + c->data_len, data, len);
	c->data_len += len;
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct call *c = user_data;

	(void)session;
	if (stream_id == c->stream_id) {
		c->closed = true;
		c->rst_error = error_code;
	}
	return 0;
}

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			    void *user_data)
{
	struct call *c = user_data;
	size_t n = c->req_len - c->req_off;

	(void)session;
	(void)stream_id;
	(void)source;
	if (n > length)
		n = length;
	memcpy(buf, c->req + c->req_off, n);
	c->req_off += n;
	if (c->req_off == c->req_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int connect_unix(const char *socket_path, int64_t deadline, int *ret_fd, struct cni_err *err)
{
	int fd = sock_unix_connect(socket_path, deadline);
	if (fd == -ENAMETOOLONG)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENAMETOOLONG,
				   "grpc: socket path '%s' too long", socket_path);
	if (fd == -ETIMEDOUT)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
				   "grpc: connect '%s': deadline exceeded", socket_path);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, -fd, "grpc: connect '%s': %s",
				   socket_path, strerror(-fd));
	*ret_fd = fd;
	return 0;
}

/* Drive the session until the stream closes, the peer goes away or the deadline passes. */
static int run_session(nghttp2_session *session, struct call *c, const char *path, int64_t deadline,
		       struct cni_err *err)
{
	uint8_t buf[16384];

	while (!c->closed) {
		int r = nghttp2_session_send(session);
		if (r < 0)
			return cni_err_set(err, CNI_ERR_IO, c->sys ? c->sys : EPROTO,
					   "grpc '%s': send: %s", path,
					   c->sys ? strerror(c->sys) : nghttp2_strerror(r));
		if (c->closed)
			break;
		if (!nghttp2_session_want_read(session) && !nghttp2_session_want_write(session))
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, ECONNRESET,
					   "grpc '%s': connection closed before the response",
					   path);
		int64_t left = deadline - clock_now_ms();
		if (left <= 0)
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
					   "grpc '%s': deadline exceeded", path);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (nghttp2_session_want_write(session))
			p.events |= POLLOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return cni_err_set(err, CNI_ERR_IO, errno, "grpc: poll: %m");
		if (r <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, errno, "grpc '%s': read: %m",
					   path);
		if (n == 0)
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, ECONNRESET,
					   "grpc '%s': connection closed before the response",
					   path);
		ssize_t m = nghttp2_session_mem_recv(session, buf, (size_t)n);
		if (m < 0)
			return cni_err_set(err, CNI_ERR_IO, EPROTO, "grpc '%s': HTTP/2: %s", path,
					   nghttp2_strerror((int)m));
	}
	return 0;
}

/* Turn what the stream delivered into a result, in the order the gRPC spec implies. */
static int finish(struct call *c, const char *path, uint8_t **ret_resp, size_t *ret_len,
		  struct cni_err *err)
{
	if (c->too_big)
		return cni_err_set(err, CNI_ERR_DECODE, EMSGSIZE,
				   "grpc '%s': response exceeds %u bytes", path, GR_MAX_MESSAGE);
	if (c->http_status != 200) {
		if (c->http_status <= 0) {
			/* REFUSED_STREAM (a GOAWAY'd or overloaded server): never processed. */
			int code = c->rst_error == NGHTTP2_REFUSED_STREAM ? CNI_ERR_TRY_AGAIN
									  : CNI_ERR_IO;
			return cni_err_set(err, code, EPROTO,
					   "grpc '%s': stream closed without a response "
					   "(HTTP/2 error %u)",
					   path, c->rst_error);
		}
		return cni_err_set(err, CNI_ERR_IO, EPROTO, "grpc '%s': HTTP status %d", path,
				   c->http_status);
	}
	if (c->grpc_status < 0)
		return cni_err_set(err, CNI_ERR_IO, EPROTO,
				   "grpc '%s': response without grpc-status (HTTP/2 error %u)",
				   path, c->rst_error);
	if (c->grpc_status != GR_STATUS_OK)
		return gr_status_set_err(err, c->grpc_status, c->grpc_message, path);
	if (!c->content_type || strncmp(c->content_type, "application/grpc", 16) != 0)
		return cni_err_set(err, CNI_ERR_IO, EPROTO, "grpc '%s': content-type '%s'", path,
				   c->content_type ? c->content_type : "");

	const uint8_t *msg;
	size_t len;
	int r = gr_unframe(c->data, c->data_len, &msg, &len, err);
	if (r < 0)
		return cni_err_wrap(err, "grpc '%s'", path);
	uint8_t *out = NULL;
	if (len) {
		out = xmalloc(len);
		memcpy(out, msg, len);
	}
	*ret_resp = out;
	*ret_len = len;
	return 0;
}

int gr_call_unary(const char *socket_path, const char *path, const uint8_t *req, size_t req_len,
		  uint8_t **ret_resp, size_t *ret_len, int timeout_ms, struct cni_err *err)
{
	_cleanup_(nghttp2_session_callbacks_delp) nghttp2_session_callbacks *cbs = NULL;
	_cleanup_(nghttp2_session_delp) nghttp2_session *session = NULL;
	_cleanup_free_ uint8_t *framed = NULL;
	_cleanup_close_ int fd = -1;
	int64_t deadline = clock_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct call c = { .fd = -1, .grpc_status = -1, .http_status = -1 };
	int r;

	r = connect_unix(socket_path, deadline, &fd, err);
	if (r < 0)
		return r;
	c.fd = fd;
	gr_frame(req, req_len, &framed, &c.req_len);
	c.req = framed;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		abort();
	nghttp2_session_callbacks_set_send_callback(cbs, on_send);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	if (nghttp2_session_client_new(&session, cbs, &c) != 0)
		abort();

	const nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	r = nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, ARRAY_SIZE(settings));
	if (r != 0)
		return cni_err_set(err, CNI_ERR_IO, EPROTO, "grpc: settings: %s",
				   nghttp2_strerror(r));

#define NV(n, v)                                                          \
	{                                                                 \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
			NGHTTP2_NV_FLAG_NO_COPY_NAME                      \
	}
	/* :authority is ours to choose on a Unix socket; grpc-go and grpc-js accept anything. */
	const nghttp2_nv hdrs[] = {
		NV(":method", "POST"),
		NV(":scheme", "http"),
		NV(":path", path),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV("user-agent", "plexus-grpc/" PLEXUS_VERSION),
	};
#undef NV
	nghttp2_data_provider prd = { .read_callback = read_request };
	c.stream_id = nghttp2_submit_request(session, NULL, hdrs, ARRAY_SIZE(hdrs), &prd, NULL);
	if (c.stream_id < 0)
		return cni_err_set(err, CNI_ERR_IO, EPROTO, "grpc: request: %s",
				   nghttp2_strerror(c.stream_id));

	r = run_session(session, &c, path, deadline, err);
	if (r >= 0)
		r = finish(&c, path, ret_resp, ret_len, err);
	call_done(&c);
	return r;
}
