// SPDX-License-Identifier: Apache-2.0
/* lib/grpc wire helpers: message framing, grpc-message percent-coding, status mapping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/grpc/internal.h"
#include "lib/grpc/status.h"
#include "lib/util/cleanup.h"

static void one_decode(const char *in, const char *want)
{
	_cleanup_free_ char *out = gr_percent_decode(in, strlen(in));
	assert_string_equal(out, want);
}

static void test_wire_percent_decode(void **state)
{
	(void)state;
	one_decode("plain text", "plain text");
	one_decode("100%25 sure", "100% sure");
	one_decode("caf%C3%A9%0Anext", "caf\xc3\xa9\nnext");
	one_decode("%c3%a9", "\xc3\xa9");
	/* Malformed escapes are kept verbatim (the spec says: do not fail the call). */
	one_decode("50%", "50%");
	one_decode("%4", "%4");
	one_decode("%zz%41", "%zzA");
}

static void test_wire_percent_encode(void **state)
{
	(void)state;
	_cleanup_free_ char *a = gr_percent_encode("unknown device 'x' (100% sure)");
	assert_string_equal(a, "unknown device 'x' (100%25 sure)");
	_cleanup_free_ char *b = gr_percent_encode("caf\xc3\xa9\n~");
	assert_string_equal(b, "caf%C3%A9%0A~");
	_cleanup_free_ char *c = gr_percent_decode(b, strlen(b));
	assert_string_equal(c, "caf\xc3\xa9\n~");
}

static void test_wire_frame_roundtrip(void **state)
{
	_cleanup_free_ uint8_t *buf = NULL;
	const uint8_t msg[] = { 0x0a, 0x03, 'a', 'b', 'c' };
	struct cni_err err = { 0 };
	const uint8_t *out;
	size_t len, olen;

	(void)state;
	gr_frame(msg, sizeof(msg), &buf, &len);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "\0\0\0\0\5", 5);
	assert_int_equal(gr_unframe(buf, len, &out, &olen, &err), 0);
	assert_int_equal(olen, sizeof(msg));
	assert_memory_equal(out, msg, olen);

	_cleanup_free_ uint8_t *empty = NULL;
	gr_frame(NULL, 0, &empty, &len);
	assert_int_equal(gr_unframe(empty, len, &out, &olen, &err), 0);
	assert_int_equal(olen, 0);
}

static void one_bad_frame(const uint8_t *buf, size_t len, int want)
{
	struct cni_err err = { 0 };
	const uint8_t *out;
	size_t olen;

	assert_int_equal(gr_unframe(buf, len, &out, &olen, &err), want);
	assert_int_equal(err.code, CNI_ERR_DECODE);
}

static void test_wire_frame_errors(void **state)
{
	(void)state;
	one_bad_frame((const uint8_t *)"", 0, -EPROTO);		      /* no message */
	one_bad_frame((const uint8_t *)"\0\0\0", 3, -EPROTO);	      /* short header */
	one_bad_frame((const uint8_t *)"\1\0\0\0\1x", 6, -EPROTO);    /* compressed */
	one_bad_frame((const uint8_t *)"\0\0\0\0\2x", 6, -EPROTO);    /* truncated */
	one_bad_frame((const uint8_t *)"\0\0\0\0\1xy", 7, -EPROTO);   /* two messages */
	one_bad_frame((const uint8_t *)"\0\x7f\0\0\0", 5, -EMSGSIZE); /* too big */
}

static void test_wire_status_mapping(void **state)
{
	struct cni_err err = { 0 };

	(void)state;
	assert_string_equal(gr_status_name(GR_STATUS_NOT_FOUND), "NOT_FOUND");
	assert_string_equal(gr_status_name(99), "UNKNOWN");
	assert_int_equal(gr_status_to_errno(GR_STATUS_UNIMPLEMENTED), ENOSYS);
	assert_int_equal(gr_status_to_errno(GR_STATUS_INTERNAL), EPROTO);

	assert_int_equal(gr_status_set_err(&err, GR_STATUS_UNAVAILABLE, "", "/a.B/C"), -EAGAIN);
	assert_int_equal(err.code, CNI_ERR_TRY_AGAIN);
	assert_string_equal(err.msg, "grpc '/a.B/C': UNAVAILABLE");
	assert_int_equal(gr_status_set_err(&err, GR_STATUS_NOT_FOUND, "no pod", "/a.B/C"), -ENOENT);
	assert_int_equal(err.code, CNI_ERR_DEVICE);
	assert_string_equal(err.msg, "grpc '/a.B/C': NOT_FOUND: no pod");
	assert_string_equal(err.details, "grpc-status 5 (NOT_FOUND)");

	/* Server side: a handler's errno picks the status the peer sees. */
	(void)cni_err_set(&err, CNI_ERR_DEVICE, EINVAL, "x");
	assert_int_equal(gr_status_from_err(&err), GR_STATUS_INVALID_ARGUMENT);
	(void)cni_err_set(&err, CNI_ERR_DEVICE, EIO, "x");
	assert_int_equal(gr_status_from_err(&err), GR_STATUS_UNKNOWN);
	(void)cni_err_set(&err, CNI_ERR_DEVICE, 0, "x");
	assert_int_equal(gr_status_from_err(&err), GR_STATUS_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_percent_decode),
		cmocka_unit_test(test_wire_percent_encode),
		cmocka_unit_test(test_wire_frame_roundtrip),
		cmocka_unit_test(test_wire_frame_errors),
		cmocka_unit_test(test_wire_status_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
