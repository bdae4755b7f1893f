// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: pod Events (lib/kube/event.h). First byte even: the rest is text for
 * kube_event_message; odd: an Event body for kube_event_check against a fixed pod. Invariants
 * abort. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/kube/event.h"
#include "lib/util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* What a message must be: within the bound, no control characters, and a fixed point. */
static void check_message(const char *m)
{
	check(strlen(m) <= KUBE_EVENT_MESSAGE_MAX);
	for (const unsigned char *p = (const unsigned char *)m; *p; p++)
		check(*p >= 0x20 && *p != 0x7f);
	char *again = kube_event_message(m);
	check(strcmp(again, m) == 0);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *text = xmalloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 0) {
		char *m = kube_event_message(text);
		check_message(m);
		free(m);
	} else {
		static const struct kube_event_pod pod = { .ns = "default",
							   .name = "web-0",
							   .uid = "0f3c6a52-2f54-4b0e" };
		char *type = NULL, *reason = NULL, *msg = NULL;
		struct cni_err err = { 0 };
		int r = kube_event_check(&pod, text, &type, &reason, &msg, &err);
		if (r == 0) {
			check(kube_event_reason_ok(type, reason));
			check_message(msg);
		} else {
			check(r < 0 && err.code == CNI_ERR_KUBE_API && !type && !reason && !msg);
		}
		free(type);
		free(reason);
		free(msg);
	}
	free(text);
	return 0;
}
