// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's attachment reports to plexus-apid (lib/metrics/report.h): after the fact,
 * fire-and-forget, so an ADD costs the same whether anyone listens or not. */
#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/json/json.h"
#include "lib/metrics/report.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "meta/internal.h"

void meta_report_op(struct attachment *a, int64_t t0_us, int r, const struct cni_err *err)
{
	a->op_done = true;
	a->op_us = clock_now_us() - t0_us;
	/* A failure without a code still counts as one. */
	a->op_code = r >= 0 ? 0 : err->code > 0 ? err->code : REPORT_CODE_MAX;
}

/* The type of the attachment's first delegate: the plugin label. */
static const char *plugin_type(const struct attachment *a)
{
	const cJSON *first = cJSON_IsArray(a->list.plugins) ? cJSON_GetArrayItem(a->list.plugins, 0)
							    : a->list.plugins;
	const char *type = cJSON_GetStringValue(json_get(first, "type"));
	return type ? type : "unknown";
}

void meta_report_send(const struct plan *p, const char *verb)
{
	const char *relay = p->conf.api_relay;
	if (!relay || !*relay)
		return;
	_cleanup_free_ char *buf = xmalloc(REPORT_DGRAM_MAX);
	report_begin(buf, verb);
	size_t n = 0;
	for (size_t i = 0; i < p->n_att; i++) {
		const struct attachment *a = &p->att[i];
		if (a->op_done && report_append(buf, a->name, plugin_type(a), a->op_us, a->op_code))
			n++;
	}
	if (n == 0)
		return;
	_cleanup_free_ char *dir = xstrdup(relay);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int w = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/metrics.sock", dirname(dir));
	if (w < 0 || (size_t)w >= sizeof(sa.sun_path))
		return;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* No socket (apid down) or a full queue: the report is lost, by design. */
	if (fd < 0 || sendto(fd, buf, strlen(buf), MSG_DONTWAIT | MSG_NOSIGNAL,
			     (struct sockaddr *)&sa, sizeof(sa)) < 0)
		log_debug("attachment report to '%s' lost: %s", sa.sun_path, strerror(errno));
}
