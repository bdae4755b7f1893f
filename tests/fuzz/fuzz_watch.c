// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: a WATCH stream as the API server (or anything in its place) sends it, cut
 * into two reads at an input-chosen point, through kube_watch_run with a canned transport: the
 * LIST answers an empty List, the first WATCH streams the input, the next one reports "stopped".
 * Invariants abort: events reach the callback as objects with a resourceVersion, SYNC as an
 * array, and the loop ends with 0 or a final error, never by spinning. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/list.h"
#include "lib/kube/watch.h"
#include "lib/util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

struct input {
	const uint8_t *data;
	size_t size;
	int streams, lists;
};

static const char LIST[] = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},"
			   "\"items\":[]}";

static int fake_exchange(void *data, const struct kube_config *cfg, const struct kube_request *req,
			 const char *token, long timeout_ms, struct kube_response *resp,
			 struct cni_err *err)
{
	struct input *in = data;
	(void)cfg, (void)req, (void)token, (void)timeout_ms, (void)err;
	in->lists++;
	resp->status = 200;
	resp->body = xstrdup(LIST);
	resp->len = strlen(LIST);
	return 0;
}

static int fake_stream(void *data, const struct kube_config *cfg, const struct kube_request *req,
		       const char *token, long timeout_ms, int stop_fd, kube_stream_fn on_data,
		       void *u, long *ret_status, struct cni_err *err)
{
	struct input *in = data;
	(void)cfg, (void)token, (void)timeout_ms, (void)stop_fd;
	check(strstr(req->path, "watch=1") && strstr(req->path, "resourceVersion="));
	if (in->streams++ > 0)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, EINTR, "stopped");
	size_t cut = in->size ? in->data[0] % (in->size + 1) : 0;
	if (on_data(u, 200, (const char *)in->data, cut) < 0 ||
	    on_data(u, 200, (const char *)in->data + cut, in->size - cut) < 0)
		return cni_err_set(err, CNI_ERR_TRY_AGAIN, ECANCELED, "ended by the reader");
	*ret_status = 200;
	return 0;
}

static const struct kube_transport_ops fake_ops = {
	.exchange = fake_exchange,
	.stream = fake_stream,
};

static int on_event(void *data, enum kube_watch_event type, const cJSON *obj, struct cni_err *err)
{
	(void)data, (void)err;
	if (type == KUBE_WATCH_SYNC)
		check(cJSON_IsArray(obj));
	else
		check(cJSON_IsObject(obj) && kube_object_rv(obj));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .data = data, .size = size };
	struct kube_config cfg = { .server = "https://fuzz",
				   .timeout_ms = 1000,
				   .max_response = 1 << 16,
				   .ops = &fake_ops,
				   .ops_data = &in };
	struct kube_watch w = { .path = "/api/v1/pods",
				.on_event = on_event,
				.stop_fd = -1,
				.max_event = 4096,
				.backoff_min_ms = 1,
				.backoff_max_ms = 1 };
	struct cni_err err = { 0 };
	int r = kube_watch_run(&cfg, &w, &err);
	/* Stopped (0) after at most one re-LIST, or a final error: too long a line. */
	check(r == 0 || (r == -EFBIG && err.code == CNI_ERR_KUBE_API));
	check(in.lists >= 1 && in.lists <= 2 && in.streams <= 2);
	return 0;
}
